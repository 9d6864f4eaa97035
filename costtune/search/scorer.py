"""Cost-model scorers for the search: a model in this process, or a gRPC server.

A :class:`Scorer` turns candidates (``{function: normalised text}`` mappings)
into costs, lower = predicted faster. Contract: ``score`` is safe to call from
one thread while :meth:`LocalScorer.swap` runs in another (the swap is atomic);
``close`` releases resources. :func:`pipeline_scorer` adapts a scorer to the
``list of param dicts -> costs`` callable that
:class:`~costtune.integrations.optuna.CostModelSampler` takes: it compiles each
proposal (cheap, cached by content), reads its functions and scores them; a
proposal that fails to compile costs ``inf``.
"""

from __future__ import annotations

import abc
import math
import threading
from pathlib import Path
from typing import Callable, Mapping, Sequence

from costtune.errors import CostTuneError, ModelLoadError, ServerError
from costtune.logging import get_logger

log = get_logger(__name__)

__all__ = ["Scorer", "LocalScorer", "ServerScorer", "RemoteVariantModel", "StaticScorer", "ProfileScorer", "make_scorer",
           "pipeline_scorer"]


class Scorer(abc.ABC):
    repr: str = "asm"

    @abc.abstractmethod
    def score(self, candidates: Sequence[Mapping[str, str]]) -> list[float]:
        """Predicted cost of each candidate (comparable within one program)."""

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return type(self).__name__


class LocalScorer(Scorer):
    """A :class:`~costtune.model.CostModel` loaded in this process; :meth:`swap` replaces it."""

    def __init__(self, model_dir: str, threads: int | None = 1):
        from costtune.model import CostModel

        self.threads = threads
        self.model = CostModel.from_pretrained(model_dir, threads=threads)
        self.model_dir = self.model.directory  # "default", "llm" and retrain's OUT resolved to the model's own
        self.repr = self.model.config.repr
        self.version = 0
        self._lock = threading.Lock()

    def score(self, candidates):
        with self._lock:
            model = self.model
        return model.score(list(candidates))

    def swap(self, model_dir: str) -> None:
        """Load ``model_dir`` and make it the scorer's model (the old one keeps serving until then)."""
        from costtune.model import CostModel

        new = CostModel.from_pretrained(model_dir, threads=self.threads)
        with self._lock:
            self.model, self.model_dir = new, new.directory
            self.version += 1
        log.info("scorer now uses %s (version %d)", model_dir, self.version)

    def describe(self) -> str:
        return f"model {self.model_dir}"


class ServerScorer(Scorer):
    """A costtune gRPC scoring server (``costtune serve``)."""

    def __init__(self, address: str, timeout: float = 120.0, ready_timeout: float = 10.0):
        from costtune.serve import Client

        self.address = address
        self.client = Client(address, timeout=timeout, retries=1)
        try:
            self.client.wait_ready(ready_timeout)
            self.info = self.client.model_info()  #: the served model's ModelInfo, read once
            self.repr = self.info.repr or "asm"
        except CostTuneError:
            self.client.close()
            raise

    def score(self, candidates):
        return self.client.score(functions=[dict(c) for c in candidates])

    @property
    def model_dir(self) -> str:
        """The served model's directory on the server's host (what ``--retrain-every`` retrains from)."""
        return self.client.model_info().path

    def swap(self, model_dir: str) -> None:
        """Make the server serve ``model_dir`` (``costtune serve --allow-load``; a path it can read)."""
        path = str(Path(model_dir).resolve())  # the server resolves paths in its own working directory
        self.info = self.client.load_model(path)
        log.info("scorer now uses %s (on the server %s)", path, self.address)

    def close(self) -> None:
        self.client.close()

    def describe(self) -> str:
        return f"server {self.address}"


class RemoteVariantModel:
    """A function-variant model served by ``costtune serve --model variant``: what the profile
    estimate asks of a variant model (:meth:`predict`), answered by the server.

    :meth:`adapted` fine-tunes it on one program for ``--retrain-every``: the served weights are
    read from the model's directory on this host, tuned in this process, saved under the search's
    OUT and loaded by the server (``costtune serve --allow-load``). Each instance predicts with its
    own directory: a search that moves on to the next program gets the unadapted model back."""

    def __init__(self, server: ServerScorer, batch: int = 256, path: str | None = None, threads: int | None = 1,
                 adapt_dir: Path | None = None):
        self.server, self.batch, self.threads = server, batch, threads
        self.base = server.info.variant_base or "reference"
        self.path = path or server.info.path  #: the model directory on the server's host these predictions come from
        self.adapt_dir = adapt_dir  #: where adapted copies go (set by :meth:`prepare_adapt`)

    def prepare_adapt(self, adapt_dir: Path) -> None:
        """Check that the search can fine-tune the served model (its directory readable here, the
        server loading models on request); ``adapt_dir`` receives the adapted models."""
        from costtune.errors import ConfigError
        from costtune.model.variant_model import is_variant_model

        if Path(self.path).parent.name == "adapted":  # a search that retrained through it was killed
            log.warning("the server %s serves %s, a model adapted by an earlier search; this search fine-tunes "
                        "from it (restart the server for the model it started with)", self.server.address, self.path)
        if not is_variant_model(self.path):
            raise ConfigError(f"--retrain-every with --server {self.server.address}: the served model's directory "
                              f"{self.path} is not readable here (run the search on the server's host)")
        try:
            self.server.swap(self.path)
        except CostTuneError as e:
            raise ConfigError(f"--retrain-every with --server {self.server.address}: {e}") from None
        self.path, self.adapt_dir = self.server.info.path, Path(adapt_dir)

    def adapted(self, examples: list[dict], *, epochs: int, lr: float, seed: int = 0) -> "RemoteVariantModel":
        """A copy fine-tuned on ``examples`` (as :func:`costtune.model.variant_model.adapted`), served."""
        import tempfile

        from costtune.model.variant_model import adapted, load

        self.adapt_dir.mkdir(parents=True, exist_ok=True)
        out = Path(tempfile.mkdtemp(prefix="adapted-", dir=self.adapt_dir)).resolve()
        tuned = adapted(load(self.path, threads=self.threads), examples, epochs=epochs, lr=lr, seed=seed)
        tuned.save(out, half=False)  # fp32: the next round goes on from these weights, not rounded ones
        return RemoteVariantModel(self.server, self.batch, path=str(out), threads=self.threads,
                                  adapt_dir=self.adapt_dir)

    def predict(self, pairs, batch: int | None = None) -> list[float]:
        if self.server.info.path != self.path:  # another program's adapted model is served: this one back
            self.server.swap(self.path)
            self.path = self.server.info.path  # as the server spells it
        out: list[float] = []
        for i in range(0, len(pairs), self.batch):
            out += self.server.client.predict_variants(pairs[i:i + self.batch])
        return out

    def close(self) -> None:
        try:
            if self.adapt_dir is not None and self.server.info.path != self.path:  # the server serves it as before
                self.server.swap(self.path)
        except CostTuneError as e:
            log.warning("the server %s still serves an adapted model: %s", self.server.address, e)
        finally:
            self.server.close()

    def describe(self) -> str:
        return self.server.describe()


class StaticScorer(Scorer):
    """The static instruction count of the program's own functions: the proxy without a model.

    ``--model static``. The baseline every learned cost model has to beat inside the search
    (it is the ``static_insns`` row of ``costtune eval``).
    """

    def score(self, candidates):
        from costtune.model.baselines import StaticCount

        return [float(sum(StaticCount.count(t) for t in c.values())) for c in candidates]

    def describe(self) -> str:
        return "static instruction count"


class ProfileScorer(StaticScorer):
    """The dynamic instruction count estimated from the block profiles of the program's measured
    candidates (:meth:`~costtune.search.variants.VariantTable.estimate`): ``--model profile``.

    The search gives it the program's table (``table``); without one, or before the first
    profile, it falls back to the static count. With a ``function_model``
    (:class:`costtune.model.variant_model.VariantModel`, ``--model DIR`` of such a model, or
    :class:`RemoteVariantModel`, ``--server`` of a server serving one) the table predicts function
    variants of new shape with it."""

    def __init__(self, table=None, function_model=None):
        self.table = table
        self.function_model = function_model

    def score(self, candidates):
        est = (self.table.estimate_many([dict(c) for c in candidates]) if self.table is not None
               else [None] * len(candidates))
        if any(e is None for e in est):
            return super().score(candidates)
        return [float(e) for e in est]

    def close(self) -> None:
        if isinstance(self.function_model, RemoteVariantModel):
            self.function_model.close()

    def describe(self) -> str:
        if isinstance(self.function_model, RemoteVariantModel):
            return ("profile-estimated instruction count, new function variants by the variant model on "
                    + self.function_model.describe())
        if self.function_model is not None:
            return "profile-estimated instruction count, new function variants by the variant model"
        return "profile-estimated instruction count"


STATIC = "static"  #: the --model value that selects StaticScorer
PROFILE = "profile"  #: the --model value that selects ProfileScorer
VARIANT = "variant"  #: the --model value of the shipped variant model (ProfileScorer with it)
DEFAULT = "default"  #: the best shipped model for the caller: VARIANT in a search that can profile, else LLM
LLM = "llm"  #: the --model value of the shipped LLM cost model (whole candidates, no measurement needed)


def is_variant_model(model: str | None) -> bool:
    """Whether ``model`` names a function-variant model directory (it screens as the profile
    estimate does, with the model predicting variants of new shape)."""
    from costtune.model.variant_model import is_variant_model as is_model_dir

    return model == VARIANT or (bool(model) and model not in (STATIC, PROFILE, DEFAULT, LLM) and is_model_dir(model))


def make_scorer(model: str | None, server: str | None, threads: int | None = 1) -> Scorer:
    if model and server:
        raise ServerError("give --model or --server, not both")
    if server:
        scorer = ServerScorer(server)
        if scorer.info.head == "variant":  # the profile estimate, new function variants predicted on the server
            return ProfileScorer(function_model=RemoteVariantModel(scorer, threads=threads))
        return scorer
    if model == STATIC:
        return StaticScorer()
    if model == PROFILE:
        return ProfileScorer()
    if is_variant_model(model):
        from costtune import resources
        from costtune.model.variant_model import load

        return ProfileScorer(function_model=load(resources.variant_model_dir() if model == VARIANT else model,
                                                 threads=threads))
    from costtune.model import DEFAULT_MODEL_DIR

    path = model or DEFAULT_MODEL_DIR  # "default" and "llm" resolve in CostModel.from_pretrained
    try:
        return LocalScorer(path, threads)
    except ModelLoadError:
        raise
    except (OSError, ValueError, RuntimeError) as e:  # transformers/torch errors on a broken directory
        raise ModelLoadError(f"cannot load model {path}: {type(e).__name__}: {str(e).splitlines()[0][:200]}") from None


def pipeline_scorer(bench, to_pipeline: Callable[[dict], str], scorer: Scorer, target: str = "aarch64",
                    toolchain=None, known: Callable[[object], bool] | None = None,
                    variants=None) -> Callable[[Sequence[dict]], list[float]]:
    """``proposals -> costs`` for CostModelSampler: compile, read functions, score.

    ``bench`` is a Benchmark or ``suite/name``. ``known(artifact)`` True marks a
    candidate whose binary was measured already: it is ranked after every new
    one (it would teach the search nothing), but before failures. ``variants``, a
    :class:`~costtune.search.variants.VariantTable`, predicts candidates made of
    measured function variants: one predicted to beat the best measured count goes
    before every other (lowest prediction first), one predicted not to goes after
    every unpredicted one. After each call ``score.predicted`` maps the index of
    each proposal predicted not to beat the best to its predicted count.
    """
    from costtune.asm import program_functions
    from costtune.benchmarks import get_benchmark
    from costtune.compile import compile_benchmark

    b = get_benchmark(bench) if isinstance(bench, str) else bench

    def score(proposals: Sequence[dict]) -> list[float]:
        arts, fns, idx = [], [], []
        for i, p in enumerate(proposals):
            cr = compile_benchmark(b, to_pipeline(p), target, toolchain)
            if cr.ok:
                arts.append(cr.artifact)
                fns.append(program_functions(cr.artifact, scorer.repr))
                idx.append(i)
        costs = [math.inf] * len(proposals)
        score.predicted = {}
        if not fns:
            return costs
        # identical binaries get one score (and the model's cache makes shared functions free)
        pred = scorer.score(fns)
        step = abs((max(pred) - min(pred)) if len(pred) > 1 else 1.0) + 1.0
        counts = [variants.predict(f) if variants is not None else None for f in fns]
        better = sorted((c, j) for j, c in enumerate(counts) if c is not None and c < variants.best)
        ahead = {j: r for r, (_, j) in enumerate(better)}
        for j, (i, a, c) in enumerate(zip(idx, arts, pred)):
            if known and known(a):
                costs[i] = c + step * 1e6
            elif j in ahead:
                costs[i] = min(pred) - step * (len(better) - ahead[j])
            elif counts[j] is not None:
                costs[i] = c + step * 1e3
                score.predicted[i] = counts[j]
            else:
                costs[i] = c
        return costs

    score.predicted = {}
    return score
