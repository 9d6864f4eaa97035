"""Retraining a cost model on measured records: ``costtune retrain`` and the search's ``retrain_every``.

:func:`retrain_model` rebuilds a ranking set from every measured record of the
given programs and retrains the model (LoRA, :func:`costtune.model.train`, from
the model's own base, tokenizer and training settings). :class:`Retrainer` does
that in a background thread after every ``every`` new measurements and swaps the
new model into a scorer (``scorer.model_dir``, ``scorer.swap(path)``); the caller
does not wait. With a gRPC scorer the server is told to load the retrained model
(``LoadModel``; ``costtune serve --allow-load``, on a host that can read OUT and
whose model directory this host can read - loopback, or shared storage).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from costtune.errors import CostTuneError, DatasetError, ModelLoadError
from costtune.logging import get_logger
from costtune.model.config import CostModelConfig, TrainConfig
from costtune.model.costmodel import resolve_model_dir
from costtune.model.data import load_from_db

log = get_logger(__name__)

__all__ = ["retrain_model", "Retrainer"]


class Retrainer:
    """Retrain ``scorer``'s model on the records of ``benchmarks`` in ``db`` after every ``every`` new
    measurements (:meth:`note`), in a background thread, then swap it into ``scorer``."""

    def __init__(self, scorer, db: str, benchmarks: list[str], out: Path, every: int, *,
                 epochs: float | None = None, threads: int | None = None, target: str = "aarch64",
                 metric: str = "insns"):
        self.scorer, self.db, self.benchmarks, self.out, self.every = scorer, db, benchmarks, Path(out), every
        self.settings = dict(epochs=epochs, threads=threads, target=target, metric=metric)
        self.rounds = 0
        self.since = 0
        self.thread: threading.Thread | None = None
        self.errors: list[str] = []

    def note(self, new_measurements: int) -> None:
        self.since += new_measurements
        if self.every and self.since >= self.every and not self.busy:
            self.since = 0
            self.rounds += 1
            self.thread = threading.Thread(target=self._run, args=(self.rounds,), name=f"retrain-{self.rounds}",
                                           daemon=True)
            self.thread.start()

    @property
    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self, round_no: int) -> None:
        try:
            path = retrain_model(self.db, self.scorer.model_dir, self.out / f"retrain-{round_no}", self.benchmarks,
                                 **self.settings)
            self.scorer.swap(str(path))
        except CostTuneError as e:  # the search goes on with the old model
            self.errors.append(str(e))
            log.warning("retraining round %d failed: %s", round_no, e)


def retrain_model(db: str, model_dir: str, out, benchmarks: list[str] | None = None, *, devices: int | None = None,
                  epochs: float | None = None,
                  threads: int | None = None, target: str = "aarch64", metric: str = "insns"):
    """Retrain ``model_dir``'s head with LoRA on the records of ``benchmarks`` (all when None); the new dir.

    The base, tokenizer and training settings come from the model directory. All
    measured programs train; a copy of the smallest program's candidates stands
    in as the held-out split the trainer insists on (retraining has no test set).
    """
    from costtune.records import RecordStore  # sqlalchemy: not on every CLI start
    from costtune.model.train import train  # the package attribute `train` is shadowed once the submodule is imported

    md = resolve_model_dir(model_dir)
    mcfg = CostModelConfig.load(md)
    if mcfg.base_kind == "dir-in-model":
        base = md / "base"
    else:
        base = mcfg.base
    tcfg_data = {k: v for k, v in (mcfg.train or {}).items() if k in TrainConfig.__dataclass_fields__}
    if epochs is not None:
        tcfg_data["epochs"] = epochs
    if threads is not None:
        tcfg_data["threads"] = threads
    tcfg = TrainConfig.from_dict(tcfg_data, source=str(md))
    if benchmarks is None:
        with RecordStore(db, create=False) as store:
            benchmarks = store.benchmarks()
    cands = load_from_db(db, list(benchmarks), repr=mcfg.repr, metric=metric, target=target)
    progs: dict[str, list] = {}
    for c in cands:
        progs.setdefault(c.program, []).append(c)
    progs = {p: g for p, g in progs.items() if len(g) >= 2}
    if not progs:
        raise DatasetError("retraining needs a program with at least two measured candidates")
    out = Path(out)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    rows = [{"program": c.program, "latency": c.latency, "functions": c.functions, "pipeline": c.pipeline,
             "candidate": c.candidate, "split": "train"} for g in progs.values() for c in g]
    held = min(progs, key=lambda p: len(progs[p]))
    rows += [{"program": f"holdout:{c.program}", "latency": c.latency, "functions": c.functions,
              "pipeline": c.pipeline, "candidate": c.candidate, "split": "test"} for c in progs[held]]
    (data / "ranking.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    model_out = out / "model"
    try:
        train(data, base, model_out, tcfg, tokenizer=md / "tokenizer", devices=devices)
    except (OSError, RuntimeError, ValueError) as e:
        raise ModelLoadError(f"retraining from {md} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
    log.info("retrained %s on %d candidates of %d programs -> %s", md, len(cands), len(progs), model_out)
    return model_out
