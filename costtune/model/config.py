"""Configurations of the cost model: dataclasses that save and load themselves.

* :class:`PretrainConfig` - the small Llama trained from scratch (``costtune pretrain``),
* :class:`TrainConfig` - LoRA training of a head on a base model (``costtune train``),
* :class:`CostModelConfig` - what a trained model directory is (written by ``train``,
  read by :meth:`costtune.model.CostModel.from_pretrained`), with a version stamp.

YAML files in ``tuner_configs/model_*.yaml`` set the first two; command-line flags
override single fields.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


from costtune.config import YamlConfig
from costtune.errors import ModelLoadError

__all__ = ["PretrainConfig", "TrainConfig", "CostModelConfig", "FORMAT_VERSION", "CONFIG_NAME",
           "HEADS", "REPRS"]

#: bump when the layout of a model directory changes incompatibly
FORMAT_VERSION = 1
#: file names inside a trained model directory
CONFIG_NAME = "costtune_model.json"
HEADS = ("rank", "pairwise-sft")
REPRS = ("asm", "ir")


@dataclass
class PretrainConfig(YamlConfig):
    """A small Llama trained from scratch on normalised assembly (causal LM)."""

    hidden_size: int = 128  # width; 128 keeps a step well under a second on one CPU core
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 344  # ~2.7x hidden, as in Llama
    max_len: int = 256  # tokens per training window (the corpus is cut into windows)
    steps: int = 300  # optimiser steps
    batch_size: int = 16
    lr: float = 3e-3
    warmup: int = 20  # linear warm-up steps, then cosine decay to lr/10
    weight_decay: float = 0.01
    seed: int = 0
    threads: int = 1  # torch CPU threads; the build machines are small and shared
    device: str = "auto"  # auto | cpu | cuda
    max_corpus_chars: int = 20_000_000  # read at most this much of the corpus

    def __post_init__(self):
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be a multiple of num_heads")
        if self.steps < 1 or self.batch_size < 1 or self.max_len < 8:
            raise ValueError("steps, batch_size must be >= 1 and max_len >= 8")


@dataclass
class TrainConfig(YamlConfig):
    """LoRA training of a ranking head (or the generative pairwise format) on a base LM."""

    head: str = "rank"  # rank: scalar cost per candidate | pairwise-sft: "code1 is faster than code2"
    repr: str = "asm"  # asm | ir: which text of a candidate the model reads
    epochs: float = 3.0  # passes over the training programs' candidate groups
    group_size: int = 8  # candidates of one program per step; every pair with a gap is used
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup: int = 10
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    # module names LoRA adapts; those absent from a base are skipped
    lora_targets: list = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj",
                                                         "gate_proj", "up_proj", "down_proj"])
    max_len: int = 256  # tokens per chunk; longer functions are cut into chunks, none is dropped
    max_chunks: int = 64  # chunks per function at most (the tail of a huge function is summarised)
    eps: float = 0.02  # a pair counts when its relative gap (slow - fast) / slow > eps
    mse_weight: float = 1.0  # weight of the squared error on log-latency differences (beside RankNet)
    length_feature: bool = True  # give the head log(tokens) of each chunk: cost grows with code size
    # recompute activations in backward: a step keeps every chunk of a candidate group alive,
    # which for a 135M+ base does not fit even 80 GB without it
    gradient_checkpointing: bool = False
    # none: program cost = logsumexp of function scores; profile: + log(weight of the function in a
    # block profile of the reference build, carried through inlining) - see costtune.model.profile
    weights: str = "none"
    profile_pipeline: str = "O0"  # the reference build that is profiled
    sft_max_len: int = 1024  # pairwise-sft: tokens of a whole prompt (each code gets half)
    val_fraction: float = 0.0  # programs of the training split held back for early stopping
    seed: int = 0
    threads: int = 1
    device: str = "auto"  # auto | cpu | cuda (cuda uses bf16)
    max_steps: int = 0  # 0: no cap beyond epochs

    def __post_init__(self):
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, not {self.head!r}")
        if self.repr not in REPRS:
            raise ValueError(f"repr must be one of {REPRS}, not {self.repr!r}")
        if self.group_size < 2:
            raise ValueError("group_size must be >= 2")
        if self.max_len < 8:
            raise ValueError("max_len must be >= 8")
        if self.weights not in ("none", "profile"):
            raise ValueError(f"weights must be none or profile, not {self.weights!r}")


@dataclass
class CostModelConfig:
    """The description of a trained model directory (``costtune_model.json``)."""

    head: str
    repr: str
    base: str  #: the base model directory or file it was trained from (informational)
    base_kind: str  #: hf | gguf | dir-in-model (the base is stored inside the model dir)
    vocab_size: int  #: tokenizer length at training time; a mismatch on load is an error
    max_len: int
    max_chunks: int
    length_feature: bool
    hidden_size: int
    vocab_extended: bool = False
    gguf_file: str = ""
    weights: str = "none"  #: none | profile (score() then wants a ReferenceProfile)
    profile_pipeline: str = "O0"
    train: dict = field(default_factory=dict)  #: the TrainConfig used
    metrics: dict = field(default_factory=dict)  #: training summary
    format_version: int = FORMAT_VERSION
    costtune_version: str = ""

    def save(self, directory) -> None:
        from costtune import __version__

        self.costtune_version = self.costtune_version or __version__
        (Path(directory) / CONFIG_NAME).write_text(json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def load(cls, directory) -> "CostModelConfig":
        p = Path(directory) / CONFIG_NAME
        if not p.is_file():
            raise ModelLoadError(f"{directory} is not a costtune model directory (no {CONFIG_NAME})")
        try:
            data = json.loads(p.read_text())
        except (ValueError, RecursionError) as e:  # a deeply nested file overflows the decoder
            raise ModelLoadError(f"corrupt {p}: not JSON ({type(e).__name__}: {str(e)[:100]})") from None
        if not isinstance(data, dict):
            raise ModelLoadError(f"corrupt {p}: a JSON object expected, not {type(data).__name__}")
        try:
            known = {f.name for f in fields(cls)}
            cfg = cls(**{k: v for k, v in data.items() if k in known})
        except (ValueError, TypeError) as e:
            raise ModelLoadError(f"corrupt {p}: {str(e)[:200]}") from None
        if cfg.head not in HEADS or cfg.repr not in REPRS:
            raise ModelLoadError(f"corrupt {p}: head {str(cfg.head)[:40]!r} / repr {str(cfg.repr)[:40]!r} "
                                 f"(known heads: {', '.join(HEADS)}; reprs: {', '.join(REPRS)})")
        if cfg.format_version > FORMAT_VERSION:
            raise ModelLoadError(f"{directory} was written by a newer costtune (format {cfg.format_version} "
                                 f"> {FORMAT_VERSION})")
        return cfg
