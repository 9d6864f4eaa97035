"""``costtune demo``: the whole loop on the builtin suite with the default model.

1. check the toolchain; 2. collect a little (O0-O3 references and a few random safe
pipelines of a few programs, exact AArch64 instruction counts) into a records
database; 3. proxy-guided search of each program: the default cost model screens k
compiled candidates per trial and only the best is measured; 4. a table of the best
pipeline found against O3. Everything lands in ``out`` and is resumable: running the
demo again continues where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from costtune.logging import get_logger

log = get_logger(__name__)

#: quick programs (a few hundred ms per run under qemu) so the demo fits in minutes
DEMO_PROGRAMS = ("bitcount", "checksum", "fixdsp")


@dataclass
class DemoConfig:
    out: str = "demo_out"
    programs: tuple = DEMO_PROGRAMS
    samples: int = 4  #: random pipelines collected per program
    budget: int = 8  #: real measurements per program in the search
    k: int = 8  #: candidates the cost model screens per trial
    jobs: int = 2
    model: str = ""  #: "" = the shipped default model
    seed: int = 0
    progress: bool = True


@dataclass
class DemoResult:
    collect: object
    search: object
    steps: list = field(default_factory=list)


def run_demo(config: DemoConfig, say=lambda msg: None) -> DemoResult:
    from costtune import toolchain
    from costtune.collect import CollectConfig, collect
    from costtune.model import DEFAULT_MODEL_DIR, CostModel
    from costtune.search import SearchConfig, run_search

    out = Path(config.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    db = str(out / "records.db")

    tc = toolchain.find()
    say(f"[1/4] toolchain: LLVM {tc.llvm}, qemu-aarch64 {tc.versions['qemu-aarch64']}")

    model_dir = config.model or DEFAULT_MODEL_DIR
    CostModel.from_pretrained(model_dir)  # fail early, in one line, if the model cannot load
    say(f"[2/4] collect: {', '.join(config.programs)} x (O0-O3 + {config.samples} random pipelines) -> {db}")
    csum = collect(CollectConfig(suite="builtin", benchmarks=list(config.programs), samples=config.samples,
                                 db=db, seed=config.seed, jobs=config.jobs, progress=config.progress))

    say(f"[3/4] search: proxy-guided (cost model screens {config.k} candidates per trial), "
        f"budget {config.budget} real measurements per program")
    scfg = SearchConfig(suite="builtin", benchmarks=list(config.programs), budget=config.budget,
                        sampler="proxy", k=config.k, model=model_dir, out=str(out / "search"), db=db,
                        seed=config.seed, progress=config.progress, startup_trials=min(4, config.budget))
    sres = run_search(scfg)
    say("[4/4] results")
    return DemoResult(csum, sres)
