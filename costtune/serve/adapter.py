"""What the server needs from a model, on top of :class:`costtune.model.CostModel`.

:class:`ServedModel` wraps a loaded CostModel and gives the server

* ``score(items)`` - the CostModel's own ``score`` (same floats), under a lock: a
  CostModel serves one thread at a time;
* ``batchable`` - whether candidates of different requests may share one model call.
  True for the rank head (each candidate's cost is its own); False for pairwise-sft,
  whose ``score`` ranks the candidates of one call against each other;
* ``info()`` - name, head, repr, base, version, parameters, device (from the config);
* ``compare(code1, code2, prompt=None) -> (prediction, p_code1_faster)`` - the research
  notes' call shape: a prompt (instruction + code1 + code2, as ``costtune dataset``
  writes them to ``llm_training_record.json``) in, "code1 is faster than code2" /
  "code1 is slower than code2" out. The pairwise-sft head answers it with its own
  generative probability; a rank head answers with sigmoid(cost2 - cost1);
* ``clear_cache()`` and the per-function cache counters.

:class:`ServedVariantModel` serves a function-variant model the same way: its items are
(reference tokens, new variant tokens) pairs and its ``score`` is the model's predicted log
ratio of their counts (the ``PredictVariants`` call); it has no ``compare``.
"""

from __future__ import annotations

import json
import math
import re
import threading
from pathlib import Path

from costtune.errors import ModelLoadError
from costtune.prompts import F_CODE1, F_CODE2, F_INSTRUCTION, FASTER, SLOWER, repr_of_instruction
from costtune.serve.errors import InvalidRequest

__all__ = ["ServedModel", "ServedVariantModel", "load_served", "parse_prompt", "resolve_model_dir", "FASTER",
           "SLOWER"]

_LOAD_LOCK = threading.Lock()
_PROMPT = re.compile(r"^\s*instruction:[ \t]*(?P<instruction>.*?)\ncode1:[ \t]?(?P<code1>.*?)\ncode2:[ \t]?"
                     r"(?P<code2>.*?)(?:\noutput:[ \t]*)?\s*$", re.S)


def resolve_model_dir(model: str) -> Path:
    """:func:`costtune.model.resolve_model_dir` (``variant``: the shipped function-variant model),
    checked before the server starts."""
    from costtune import resources
    from costtune.model import resolve_model_dir as resolve
    from costtune.model.config import CostModelConfig
    from costtune.model.variant_model import is_variant_model

    d = resources.variant_model_dir() if str(model) == "variant" else resolve(model)
    if not is_variant_model(d):
        CostModelConfig.load(d)  # a missing or foreign directory fails here, before the server starts
    return Path(d).resolve()  # ModelInfo.path names one directory whatever a client's working directory


def load_served(directory, device: str = "cpu", threads: int | None = None):
    """The served form of the model in ``directory``: a cost model or a function-variant model."""
    from costtune.model.variant_model import is_variant_model

    cls = ServedVariantModel if is_variant_model(directory) else ServedModel
    return cls.load(directory, device=device, threads=threads)


def parse_prompt(prompt: str) -> tuple[str, str, str]:
    """``(instruction, code1, code2)`` of a research-format prompt.

    Accepts the text form ``instruction: ...\\ncode1: ...\\ncode2: ...[\\noutput: ]`` and a
    JSON record of ``llm_training_record.json`` (keys ``instruction:``, ``code1:``,
    ``code2:``; ``output`` is ignored).
    """
    s = prompt.strip()
    if s.startswith("{"):
        try:
            rec = json.loads(s)
        except ValueError as e:
            raise InvalidRequest(f"prompt looks like JSON but does not parse: {str(e)[:100]}") from None
        except RecursionError:
            raise InvalidRequest("prompt is JSON nested too deep") from None
        if not isinstance(rec, dict):
            raise InvalidRequest("a JSON prompt must be one record object")
        get = lambda k: rec.get(k, rec.get(k.rstrip(":")))  # noqa: E731
        ins, c1, c2 = get(F_INSTRUCTION), get(F_CODE1), get(F_CODE2)
        if not all(isinstance(x, str) for x in (ins, c1, c2)):
            raise InvalidRequest("a JSON prompt needs string fields 'instruction:', 'code1:', 'code2:'")
        return ins, c1, c2
    m = _PROMPT.match(prompt)
    if not m:
        raise InvalidRequest("prompt is not 'instruction: ...\\ncode1: ...\\ncode2: ...' "
                             "(the llm_training_record.json format)")
    return m["instruction"].strip(), m["code1"], m["code2"]


def _functions(code: str) -> dict[str, str]:
    from costtune.asm import split_functions

    return split_functions(code) or {"<program>": code}


class ServedModel:
    """A CostModel as the server uses it (see module docstring)."""

    def __init__(self, model, name: str = ""):
        self.model = model
        self.name = name or Path(model.directory).name
        self.lock = threading.Lock()

    @classmethod
    def load(cls, directory, device: str = "cpu", threads: int | None = None, name: str = "") -> "ServedModel":
        from costtune.errors import CostTuneError
        from costtune.model import CostModel

        try:
            with _LOAD_LOCK:  # two loads at once corrupt each other (transformers' meta-device init is global)
                model = CostModel.from_pretrained(directory, device=device, threads=threads)
        except CostTuneError:
            raise
        except Exception as e:  # noqa: BLE001 - torch/transformers raise anything for a broken directory
            raise ModelLoadError(f"cannot load model {directory}: {type(e).__name__}: "
                                 f"{(str(e).splitlines() or [''])[0][:200]}") from None
        return cls(model, name)

    # -------------------------------------------------------------- properties
    @property
    def head(self) -> str:
        return self.model.config.head

    @property
    def repr(self) -> str:
        return self.model.config.repr

    @property
    def batchable(self) -> bool:
        return self.head == "rank"

    def info(self) -> dict:
        cfg = self.model.config
        try:
            params = sum(p.numel() for p in self.model.net.parameters())
        except AttributeError:
            params = 0
        return {"name": self.name, "head": cfg.head, "repr": cfg.repr, "base": str(cfg.base),
                "version": f"{cfg.costtune_version or '?'} (format {cfg.format_version})",
                "parameters": int(params), "device": str(self.model.device), "path": str(self.model.directory)}

    # -------------------------------------------------------------- scoring
    def score(self, items: list) -> list[float]:
        with self.lock:
            return [float(x) for x in self.model.score(items)]

    def clear_cache(self) -> None:
        with self.lock:
            self.model.clear_cache()

    @property
    def cache_hits(self) -> int:
        return int(getattr(self.model, "cache_hits", 0))

    @property
    def cache_misses(self) -> int:
        return int(getattr(self.model, "cache_misses", 0))

    def compare(self, code1: str = "", code2: str = "", prompt: str | None = None) -> tuple[str, float]:
        if prompt:
            instruction, code1, code2 = parse_prompt(prompt)
            other = repr_of_instruction(instruction)
            if other is not None and other != self.repr:
                raise InvalidRequest(f"the prompt compares {other} code; model '{self.name}' reads {self.repr}")
        if not code1.strip() or not code2.strip():
            raise InvalidRequest("code1 and code2 must both be non-empty")
        a, b = _functions(code1), _functions(code2)
        with self.lock:
            if self.head == "pairwise-sft":
                p = self.model.sft_faster_prob(a, b)
            else:
                c1, c2 = self.model.score([a, b])
                p = 1.0 / (1.0 + math.exp(min(700.0, max(-700.0, c1 - c2))))
        return (FASTER if p >= 0.5 else SLOWER), float(p)


class ServedVariantModel:
    """A function-variant model (or an ensemble of them) as the server uses it: ``score`` takes
    (reference tokens, new variant tokens) pairs and answers the predicted log count ratios."""

    batchable = True  # each pair's prediction is its own
    head, repr = "variant", "asm"
    cache_hits = cache_misses = 0

    def __init__(self, model, directory, device: str):
        self.model, self.directory, self.device = model, Path(directory), device
        self.name = self.directory.name
        self.lock = threading.Lock()

    @classmethod
    def load(cls, directory, device: str = "cpu", threads: int | None = None) -> "ServedVariantModel":
        from costtune.model.base import pick_device
        from costtune.model.variant_model import load

        device = pick_device(device)
        return cls(load(directory, device=device, threads=threads), directory, device)

    def info(self) -> dict:
        from costtune import __version__

        members = getattr(self.model, "members", [self.model])
        params = sum(p.numel() for m in members for p in m.net.parameters())
        return {"name": self.name, "head": self.head, "repr": self.repr, "base": "none (trained from scratch)",
                "version": __version__, "parameters": int(params), "device": self.device,
                "path": str(self.directory), "variant_base": self.model.base}

    def score(self, items: list) -> list[float]:
        with self.lock:
            return [float(x) for x in self.model.predict(items)]

    def clear_cache(self) -> None:
        pass
