"""SearchConfig: one ``costtune search`` run, loaded from ``tuner_configs/search_*.yaml``.

Flags on the command line override single fields (``override``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path


from costtune.config import YamlConfig
from costtune.errors import ConfigError
from costtune.search.scorer import DEFAULT, LLM, PROFILE, STATIC, VARIANT, is_variant_model

__all__ = ["SearchConfig", "SAMPLERS", "OBJECTIVES", "WARM_MODES", "NEIGHBOUR_MOVES"]

SAMPLERS = ("proxy", "tpe", "random")
WARM_MODES = ("enqueue", "screen")
NEIGHBOUR_MOVES = ("redraw", "repeat", "edits")
OBJECTIVES = ("ratio", "insns")


@dataclass
class SearchConfig(YamlConfig):
    suite: str = "builtin"
    benchmarks: list = field(default_factory=list)  # program names in the suite (required, but for a folder suite: all)
    budget: int = 50  # real measurements per program (the O3 baseline counts as one)
    sampler: str = "proxy"  # proxy: TPE + cost-model screening | tpe | random
    k: int = 16  # proposals the cost model screens per trial (proxy only)
    space: str = "o3-edits"  # o3-edits | flat (see costtune.search.space)
    slots: int = 8  # edit slots of the o3-edits space
    length: int = 30  # slots of the flat space
    model: str = ""  # cost-model directory ("" or "default": the best shipped model the search can use - "variant"
    #                  for the proxy sampler on insns, else "llm"; "llm" = the shipped LLM cost model; "static" =
    #                  instruction count; "profile" = the count estimated from measured candidates' block profiles,
    #                  turns on variants; "variant" = that estimate with the shipped function-variant model)
    server: str = ""  # HOST:PORT of a costtune scoring server (instead of --model)
    storage: str = ""  # Optuna RDB URL ("" = sqlite:///OUT/search.db); postgresql://... for many workers
    db: str = ""  # records database ("" = OUT/records.db)
    out: str = "search_out"  # tables, best pipelines, plot
    study_prefix: str = "costtune"  # study name = PREFIX:suite/name:space
    seed: int = 0
    target: str = "aarch64"
    metric: str = "insns"  # insns | wall | cycles[:CORE] (estimated cycles on CORE; kept as cycles:CORE)
    cpu: str | None = None  # cycles: the core (default cortex-a57)
    objective: str = "ratio"  # ratio: value / O3 value (lower is better) | insns: the raw count
    repeat: int | None = None  # the program's repeat knob (None: the program's default)
    runner: str | None = None  # qemu | local | ssh://... (None: the default for target and metric)
    fail_value: float = 2.0  # ratio told for a candidate that fails (crash, wrong output, compile error)
    max_trials_factor: float = 10.0  # stop after budget x this many trials even if dedupe hits keep coming (they are free)
    retrain_every: int = 0  # retrain the model after this many new measurements (0: never)
    retrain_epochs: float = 2.0  # epochs of each background retraining
    threads: int = 1  # torch threads for scoring (and retraining)
    variants: bool = False  # profile measured candidates; predict combinations of known function variants (proxy)
    tell_predicted: bool = False  # --variants: tell the sampler every screened proposal predicted not to gain
    neighbours: int = 0  # proxy: the screen also gets this many copies of the best trial with 1-2 parameters redrawn
    neighbour_moves: str = "redraw"  # redraw: 1-2 parameters uniformly | repeat | edits (o3-edits: local_move)
    crossovers: int = 0  # proxy: the screen also gets this many two-point crossovers of two of the 8 best trials
    warm_start: list = field(default_factory=list)  # Optuna storage URLs of earlier searches (see search/warm.py)
    warm_start_n: int = 32  # most warm-start pipelines per program
    warm_start_mode: str = "enqueue"  # enqueue: all measured first | screen: they join the proxy's screen
    startup_trials: int = 10  # TPE's random start-up trials
    heartbeat: int = 10  # seconds between trial heartbeats (a dead worker's trial fails after 3x)
    cache_max_gb: float = 20.0  # compile cache cap, checked every few minutes (0: no cap)
    llvm: int | None = None
    cbench_root: str | None = None
    testsuite_root: str | None = None
    progress: bool = True

    def __post_init__(self):
        if self.budget < 1:
            raise ConfigError("--budget must be >= 1 (real measurements per program)")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"--sampler must be one of {', '.join(SAMPLERS)}")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}")
        if self.k < 1:
            raise ConfigError("--k must be >= 1")
        if self.retrain_every < 0:
            raise ConfigError("--retrain-every must be >= 0")
        if self.repeat is not None and self.repeat < 1:
            raise ConfigError("--repeat must be >= 1")
        if self.model and self.server:
            raise ConfigError("give --model or --server, not both")
        if self.retrain_every and self.model in (STATIC, PROFILE):
            raise ConfigError(f"--retrain-every needs a cost model; --model {self.model} has nothing to retrain")
        from costtune.measure.cycles import metric_name

        self.metric = metric_name(self.metric, self.cpu)
        if (self.model == PROFILE or is_variant_model(self.model)) and self.sampler == "proxy":
            self.variants = True  # its estimates come from the variant table's block profiles
        if self.heartbeat < 1:
            raise ConfigError("heartbeat must be >= 1 second")
        if self.startup_trials < 0:
            raise ConfigError("startup_trials must be >= 0")
        if not math.isfinite(self.fail_value) or self.fail_value <= 1:
            raise ConfigError("fail_value must be a finite number > 1 (a failed candidate's ratio to O3: worse)")
        if not self.max_trials_factor >= 1:
            raise ConfigError("max_trials_factor must be >= 1 (the search stops after budget x this many trials)")
        if self.variants and (self.sampler != "proxy" or self.target != "aarch64" or self.metric != "insns"):
            raise ConfigError("--variants needs the proxy sampler and insns on aarch64 (block profiles under qemu)")
        if self.cache_max_gb < 0:
            raise ConfigError("--cache-max-gb must be >= 0 (0: no cap)")
        if self.warm_start_n < 0:
            raise ConfigError("--warm-start-n must be >= 0")
        for name in ("neighbours", "crossovers"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name} must be >= 0")
            if getattr(self, name) and self.sampler != "proxy":
                raise ConfigError(f"--{name} needs the proxy sampler (it is the screen that looks at them)")
        if self.neighbour_moves not in NEIGHBOUR_MOVES:
            raise ConfigError(f"--neighbour-moves must be one of {', '.join(NEIGHBOUR_MOVES)}")
        if self.neighbour_moves != "redraw" and (not self.neighbours or self.space != "o3-edits"):
            raise ConfigError(f"--neighbour-moves {self.neighbour_moves} needs --neighbours N and the o3-edits space")
        if self.tell_predicted and not self.variants and not (self.uses_model and is_variant_model(self.screen_model)):
            raise ConfigError("--tell-predicted needs --variants (it tells the sampler their predictions)")
        if self.warm_start_mode not in WARM_MODES:
            raise ConfigError(f"--warm-start-mode must be one of {', '.join(WARM_MODES)}")
        if self.warm_start_mode == "screen" and self.sampler != "proxy":
            raise ConfigError("--warm-start-mode screen needs the proxy sampler (it is the screen that picks them)")
        if isinstance(self.warm_start, str):
            self.warm_start = [self.warm_start]
        self.benchmarks = list(self.benchmarks)

    @property
    def uses_model(self) -> bool:
        return self.sampler == "proxy"

    @property
    def screen_model(self) -> str:
        """The ``--model`` the screen loads. "" and "default" are the best shipped model the search can use:
        the variant model where block profiles are measured (insns on aarch64), which ranks unseen programs'
        candidates above the LLM; elsewhere the LLM, which needs no profile. A server says what it serves."""
        if self.server or self.model not in ("", DEFAULT):
            return self.model
        return VARIANT if self.metric == "insns" and self.target == "aarch64" else LLM

    @property
    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{Path(self.out).resolve() / 'search.db'}"

    @property
    def db_url(self) -> str:
        return self.db or str(Path(self.out).resolve() / "records.db")

