"""Compile, dedupe, claim and measure one program's candidates into the records database.

Measurements and the budget
    Every measurement is a record in the records database. The job key of a
    measurement is (program, target, metric, repeat, runner, LLVM, binary hash),
    so an identical binary is measured once, however many trials, workers or
    earlier ``collect`` runs produce it: a worker claims the key before running
    it, another worker that reaches the same binary waits for that record, and
    an earlier record of the binary is reused (``lookup_binary``). The budget is
    the number of real measurements this study spent: records labelled
    ``search:<study>`` that reuse nothing (:meth:`Evaluator.spent`); workers
    sharing a study claim one budget slot per trial (:func:`budget_slot`).
"""

from __future__ import annotations

import random
import socket
import time

from costtune.errors import MeasurementError
from costtune.search.config import SearchConfig

__all__ = ["Evaluator", "budget_slot"]

HOLD_WAIT_S = 0.5  #: poll interval while another worker measures the same binary
HOLD_TIMEOUT_S = 1800.0


class Evaluator:
    """Compile, dedupe and measure candidates of one program into the records DB."""

    def __init__(self, config: SearchConfig, bench, store, toolchain, runner, runner_name: str, label: str):
        self.config, self.bench, self.store, self.tc = config, bench, store, toolchain
        self.runner, self.runner_name, self.label = runner, runner_name, label
        self.repeat = bench.repeat if config.repeat is None else config.repeat
        self.host = socket.gethostname()
        self._known: set[str] = set()
        self.source_hash = bench.source_hash()
        self.observers: list = []  #: called with the artifact of every candidate that ran correctly
        self.surrogate = None  #: artifact -> predicted value that needs no measurement, or None
        self.last_failure = ""  #: why the last candidate that failed did (the compiler's or the run's first error)

    def key(self, binary_hash: str, pipeline: str = "") -> str:
        from costtune.records import job_key

        return job_key(kind="search", benchmark=self.bench.id, target=self.config.target,
                       metric=self.config.metric, repeat=self.repeat, runner=self.runner_name,
                       llvm=self.tc.llvm, binary_hash=binary_hash, pipeline=pipeline if not binary_hash else "")

    def known(self, artifact) -> bool:
        """True when this binary has a reusable measurement already (no new information)."""
        h = artifact.binary_hash
        if h in self._known:
            return True
        if self.store.lookup_binary(h, target=self.config.target, metric=self.config.metric, repeat=self.repeat,
                                    runner=self.runner_name, host=self._host_filter()) is not None:
            self._known.add(h)
            return True
        return False

    def _host_filter(self):
        return self.host if self.config.metric == "wall" else None

    def _record(self, key, pipeline, label, pass_seq=None):
        from costtune.benchmarks import program_dir_of
        from costtune.records import Record, utcnow

        where = program_dir_of(self.bench)  # a directory suite: dataset and eval find it from anywhere
        return Record(job_key=key, benchmark=self.bench.id, suite=self.bench.suite, target=self.config.target,
                      label=label, pipeline=pipeline, pass_seq=pass_seq, metric=self.config.metric,
                      status="compile_error", toolchain=dict(self.tc.versions),
                      toolchain_fingerprint=self.tc.fingerprint, source_hash=self.source_hash,
                      runner=self.runner_name, host=self.host, repeat=self.repeat, seed=self.config.seed,
                      started_at=utcnow(), detail={"program_dir": where} if where else {})

    def evaluate(self, spec: str, label: str) -> tuple[str, float | None, bool, str]:
        """(status, value, new measurement?, pipeline text) of candidate ``spec``.

        Status ``predicted``: a new binary that :attr:`surrogate` predicts well enough
        not to measure (no record is written; the value goes to the sampler only).
        """
        from costtune.compile import compile_benchmark, first_error
        from costtune.measure import measure
        from costtune.records import CLAIMED, DONE, utcnow

        cr = compile_benchmark(self.bench, spec, self.config.target, self.tc)
        if not cr.ok:
            rec = self._record(self.key("", cr.pipeline), cr.pipeline, label)
            rec.stderr_tail, rec.finished_at = cr.stderr_tail[-2000:], utcnow()
            rec.detail.update(step=cr.step, compile_status=cr.status)
            self.store.add(rec)
            self.last_failure = first_error(cr.stderr_tail)
            return "compile_error", None, False, cr.pipeline
        art = cr.artifact
        key = self.key(art.binary_hash)
        deadline = time.monotonic() + HOLD_TIMEOUT_S
        while True:
            prev = self.store.lookup_binary(art.binary_hash, target=self.config.target, metric=self.config.metric,
                                            repeat=self.repeat, runner=self.runner_name, host=self._host_filter())
            if prev is not None:
                if prev.job_key != key and self.store.get(key) is None:
                    rec = self._fill(self._record(key, art.pipeline, label), art)
                    rec.status, rec.value, rec.values, rec.n = prev.status, prev.value, list(prev.values), prev.n
                    rec.stdout_hash, rec.reused_from, rec.finished_at = prev.stdout_hash, prev.id, utcnow()
                    self.store.add(rec)
                self._known.add(art.binary_hash)
                self._observe(art, prev.status)
                self.last_failure = "" if prev.status == "ok" else (
                    prev.detail.get("measure_detail") or first_error(prev.stderr_tail or ""))
                return prev.status, prev.value, False, art.pipeline
            guess = self.surrogate(art) if self.surrogate is not None else None
            if guess is not None:
                return "predicted", guess, False, art.pipeline
            state = self.store.claim(key)
            if state == DONE:
                rec = self.store.get(key)
                if rec is not None:
                    self._known.add(art.binary_hash)
                    return rec.status, rec.value, False, art.pipeline
            elif state == CLAIMED:
                break
            if time.monotonic() > deadline:
                raise MeasurementError(f"{self.bench.id}: another worker has held {key} for {HOLD_TIMEOUT_S:.0f}s")
            time.sleep(HOLD_WAIT_S)  # another worker is measuring this very binary
        try:
            m = measure(art, self.bench, metric=self.config.metric, runner=self.runner, repeat=self.repeat,
                        toolchain=self.tc)
            if m.status == "error":
                raise MeasurementError(f"{self.bench.id}: cannot measure {spec[:60]}: {m.detail}")
            rec = self._fill(self._record(key, art.pipeline, label), art)
            rec.status, rec.value, rec.values, rec.n = m.status, m.value, list(m.values), m.n
            rec.ci_halfwidth, rec.stdout_hash, rec.stderr_tail = m.ci_halfwidth, m.stdout_hash, m.stderr_tail
            rec.host, rec.finished_at = m.host or self.host, utcnow()
            rec.detail.update(measure_seconds=m.seconds, measure_detail=m.detail, spec=spec[:200])
            self.store.complete(rec)
        except BaseException:
            self.store.release(key)
            raise
        self._known.add(art.binary_hash)
        self._observe(art, m.status)
        self.last_failure = "" if m.status == "ok" else (m.detail or first_error(m.stderr_tail or ""))
        return m.status, m.value, True, art.pipeline

    def _observe(self, art, status: str) -> None:
        if status == "ok":
            for fn in self.observers:
                fn(art)

    @staticmethod
    def _fill(rec, art):
        rec.ir_hash, rec.text_hash, rec.binary_hash = art.ir_hash, art.text_hash, art.binary_hash
        return rec

    def spent(self) -> int:
        """Real measurements recorded under this study's label."""
        return sum(1 for r in self.store.records(benchmark=self.bench.id, metric=self.config.metric)
                   if r.label.startswith(self.label) and r.reused_from is None and r.status != "compile_error")


def budget_slot(store, ev: Evaluator, budget: int) -> str | None:
    """Claim one of the study's budget slots before a trial (None: none free now; waits a little
    first). A slot is a claim in the records database, held while the trial runs; a claim counts
    only while the slots held by live workers plus the measurements recorded stay within the
    budget, so workers sharing a study never measure more than the budget together. A dead
    worker's slot goes stale: it no longer counts and is taken over like any claim."""
    from costtune.records import CLAIMED

    prefix = f"budget:{ev.label}:"
    for i in range(ev.spent(), budget):
        slot = f"{prefix}{i}"
        if store.claim(slot) == CLAIMED:
            # the slots are counted before the records: a worker records its measurement before it
            # lets its slot go, so every measurement in flight or done is counted at least once
            if store.held(prefix) + ev.spent() <= budget:
                return slot
            store.release(slot)
            break
    time.sleep(HOLD_WAIT_S * (0.5 + random.random()))  # two workers that met at the last slot part
    return None
