""":class:`CostModel`: a trained model directory, loaded once, scoring candidates.

A model directory holds::

    costtune_model.json   CostModelConfig (head, repr, vocabulary size, version stamp)
    adapter/              the peft LoRA adapter (and saved embeddings if the vocab grew)
    head.safetensors      the ranking head (rank models)
    tokenizer/            the tokenizer the model was trained with
    base/                 the base model itself when it is small (the pretrained Llama)

Thread-safety: one CostModel serves one thread at a time (the serve module batches).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from costtune.errors import ModelLoadError
from costtune.logging import get_logger
from costtune.model.base import BaseSpec, load_causal_lm, load_tokenizer, pick_device, resolve_base
from costtune.model.config import CONFIG_NAME, CostModelConfig
from costtune.model.data import text_hash
from costtune.prompts import FASTER as SFT_FASTER, SLOWER as SFT_SLOWER, prompt_text as sft_prompt

log = get_logger(__name__)

__all__ = ["CostModel", "build_network", "save_model", "sft_prompt", "SFT_FASTER", "SFT_SLOWER"]

#: a base directory smaller than this is copied into the model directory
EMBED_BASE_BYTES = 64 * 2**20


def _dir_bytes(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


@contextlib.contextmanager
def _quiet_peft():
    """peft reads transformers' deprecated ``is_gradient_checkpointing``: hide that FutureWarning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def _dtype_for(device: str):
    import torch

    return torch.bfloat16 if device.startswith("cuda") else torch.float32


def build_network(spec: BaseSpec, tok, *, head: str, lora_r: int, lora_alpha: int, lora_dropout: float,
                  lora_targets: list, length_feature: bool, device: str):
    """A fresh trainable network: base LM (+ resized vocab) + LoRA (+ ranking head).

    Returns ``(network, vocab_extended)``; ``network`` is a :class:`ChunkScorer` for the
    rank head, the peft causal LM for pairwise-sft.
    """
    from peft import LoraConfig, get_peft_model

    from costtune.model.ranker import ChunkScorer

    lm = load_causal_lm(spec, device=device, dtype=_dtype_for(device))
    n_emb = lm.get_input_embeddings().num_embeddings
    extended = len(tok) > n_emb
    if extended:
        lm.resize_token_embeddings(len(tok), mean_resizing=True)
    present = {name.rsplit(".", 1)[-1] for name, _ in lm.named_modules()}
    targets = [t for t in lora_targets if t in present]
    if not targets:
        raise ModelLoadError(f"none of the LoRA target modules {lora_targets} exist in the base model")
    save = None
    if extended:
        save = ["embed_tokens"] if head == "rank" else ["embed_tokens", "lm_head"]
    pcfg = LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout, target_modules=targets,
                      modules_to_save=save, bias="none")
    with _quiet_peft():
        plm = get_peft_model(lm, pcfg)
    if head == "rank":
        net = ChunkScorer(plm, lm.config.hidden_size, length_feature).to(device)
        return net, extended
    return plm, extended


def save_model(out: Path, net, tok, cfg: CostModelConfig, spec: BaseSpec, tokenizer_src) -> None:
    """Write a model directory (see module docstring)."""
    from safetensors.torch import save_file

    from costtune.model.pretrain import save_tokenizer

    out.mkdir(parents=True, exist_ok=True)
    if cfg.head == "rank":
        net.lm.save_pretrained(out / "adapter")
        save_file({k: v.detach().float().cpu().contiguous() for k, v in net.head.state_dict().items()},
                  str(out / "head.safetensors"))
    else:
        net.save_pretrained(out / "adapter")
    tdir = out / "tokenizer"
    tdir.mkdir(exist_ok=True)
    save_tokenizer(tok, tokenizer_src, tdir)
    if spec.kind == "hf" and _dir_bytes(Path(spec.path)) < EMBED_BASE_BYTES and Path(spec.path).resolve() != (out / "base").resolve():
        if (out / "base").exists():
            shutil.rmtree(out / "base")
        shutil.copytree(spec.path, out / "base")
        cfg.base_kind = "dir-in-model"
    cfg.save(out)


class CostModel:
    """Score candidate programs: lower cost = predicted faster.

    A candidate is a normalised listing (functions introduced by ``<name>:`` lines) or a
    ``{function name: normalised text}`` mapping. Function scores are cached by content
    hash, so candidates that share functions cost model time only for what differs.
    """

    def __init__(self, directory, net, tok, cfg: CostModelConfig, device: str):
        self.directory = str(directory)
        self.net = net
        self.tok = tok
        self.config = cfg
        self.device = device
        self._cache: dict[str, float] = {}
        self.cache_hits = 0
        self.cache_misses = 0

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, directory, device: str = "cpu", threads: int | None = None) -> "CostModel":
        import torch

        d = resolve_model_dir(directory)
        if not d.is_dir():
            raise ModelLoadError(f"model directory {d} does not exist")
        cfg = CostModelConfig.load(d)
        if threads:
            torch.set_num_threads(threads)
        device = pick_device(device)
        tok = load_tokenizer(d / "tokenizer")
        if len(tok) != cfg.vocab_size:
            raise ModelLoadError(f"tokenizer in {d / 'tokenizer'} has {len(tok)} tokens, the model was trained "
                                 f"with {cfg.vocab_size}: tokenizer and model do not match")
        spec = BaseSpec("hf", str(d / "base"), "", "base") if cfg.base_kind == "dir-in-model" else resolve_base(cfg.base)
        lm = load_causal_lm(spec, device=device, dtype=_dtype_for(device))
        if cfg.vocab_extended or lm.get_input_embeddings().num_embeddings < cfg.vocab_size:
            lm.resize_token_embeddings(cfg.vocab_size, mean_resizing=False)
        try:
            from peft import PeftModel

            with _quiet_peft():
                plm = PeftModel.from_pretrained(lm, d / "adapter")
        except Exception as e:  # noqa: BLE001 - peft/safetensors raise many kinds for a bad adapter
            raise ModelLoadError(f"corrupt adapter in {d / 'adapter'}: {type(e).__name__}: "
                                 f"{(str(e).splitlines() or [''])[0][:200]}") from None
        plm.eval()
        if cfg.head == "rank":
            from safetensors import SafetensorError
            from safetensors.torch import load_file

            from costtune.model.ranker import ChunkScorer

            net = ChunkScorer(plm, cfg.hidden_size, cfg.length_feature)
            try:
                net.head.load_state_dict(load_file(str(d / "head.safetensors")))
            except (OSError, SafetensorError, RuntimeError, KeyError) as e:
                raise ModelLoadError(f"corrupt ranking head {d / 'head.safetensors'}: "
                                     f"{(str(e).splitlines() or [''])[0][:200]}") from None
            net.to(device).eval()
        else:
            net = plm
        return cls(d, net, tok, cfg, device)

    # ------------------------------------------------------------------ scoring
    @staticmethod
    def _functions(candidate) -> dict[str, str]:
        if isinstance(candidate, Mapping):
            return {str(k): str(v) for k, v in candidate.items()}
        if isinstance(candidate, str):
            from costtune.asm import split_functions

            return split_functions(candidate) or {"<program>": candidate}
        raise TypeError(f"a candidate is a listing (str) or a {{function: text}} mapping, not {type(candidate).__name__}")

    def function_scores(self, texts: Sequence[str]) -> list[float]:
        """Scores of function texts (rank head), through the content-hash cache."""
        import torch

        from costtune.model.ranker import function_chunks

        keys = [text_hash(t) for t in texts]
        todo = {k: t for k, t in zip(keys, texts) if k not in self._cache}
        self.cache_hits += len(keys) - len(todo)
        self.cache_misses += len(todo)
        if todo:
            chunks, owner, mults = [], [], []
            for k, t in todo.items():
                for ids, m in function_chunks(self.tok, t, self.config.max_len, self.config.max_chunks):
                    chunks.append(ids)
                    owner.append(k)
                    mults.append(math.log(m))
            with torch.no_grad():
                s = self.net.score_chunks(chunks, self.tok.pad_token_id, self.device).float().cpu().tolist()
            acc: dict[str, list[float]] = {}
            for k, v, lm in zip(owner, s, mults):
                acc.setdefault(k, []).append(v + lm)
            for k, vals in acc.items():
                mx = max(vals)
                self._cache[k] = mx + math.log(sum(math.exp(v - mx) for v in vals))
        return [self._cache[k] for k in keys]

    def score(self, candidates: Sequence, weights=None) -> list[float]:
        """Predicted cost of each candidate (log scale, comparable within one program).

        ``weights``: None (uniform), a :class:`~costtune.model.profile.ReferenceProfile`
        of the program (what a ``weights: profile`` model was trained with; see
        :func:`costtune.model.profile.reference_profile`), one ``{function: weight}``
        mapping for all candidates, or a list of such mappings, one per candidate.
        """
        if self.config.head != "rank":
            return self._sft_scores(candidates)
        from costtune.model.profile import ReferenceProfile, candidate_weights

        fns = [self._functions(c) for c in candidates]
        if isinstance(weights, ReferenceProfile):
            per = [candidate_weights(f, weights) for f in fns]
        elif isinstance(weights, Mapping) or weights is None:
            per = [weights] * len(fns)
        else:
            per = list(weights)
        flat = [t for f in fns for t in f.values()]
        scores = iter(self.function_scores(flat))
        out = []
        for f, w in zip(fns, per):
            vals = []
            floor = min(w.values()) if w else 1.0
            for name in f:
                s = next(scores)
                if w:
                    s += math.log(max(w.get(name, floor), 1e-9))
                vals.append(s)
            if not vals:
                out.append(float("-inf"))
                continue
            mx = max(vals)
            out.append(mx + math.log(sum(math.exp(v - mx) for v in vals)))
        return out

    def rank(self, candidates: Sequence, weights=None) -> list[int]:
        """Indices of ``candidates``, predicted fastest first."""
        s = self.score(candidates, weights)
        return sorted(range(len(s)), key=lambda i: (s[i], i))

    def clear_cache(self) -> None:
        self._cache.clear()

    # ------------------------------------------------------------------ pairwise-sft
    def sft_faster_prob(self, a: Mapping[str, str], b: Mapping[str, str]) -> float:
        """P(code1 = a is faster than code2 = b) from the generative pairwise head."""
        import torch

        from costtune.model.sft import diff_text, response_logprobs

        c1, c2 = diff_text(a, b, self.tok, self.config.train.get("sft_max_len", 1024))
        lp = response_logprobs(self.net, self.tok, sft_prompt(c1, c2, self.config.repr), [SFT_FASTER, SFT_SLOWER],
                               self.device)
        return float(torch.sigmoid(torch.tensor(lp[0] - lp[1])))

    def _sft_scores(self, candidates: Sequence) -> list[float]:
        fns = [self._functions(c) for c in candidates]
        n = len(fns)
        cost = [0.0] * n
        for i in range(n):
            for j in range(i + 1, n):
                p = 0.5 * (self.sft_faster_prob(fns[i], fns[j]) + 1 - self.sft_faster_prob(fns[j], fns[i]))
                cost[i] += 1 - p
                cost[j] += p
        return cost

    def merged(self):
        """The LoRA adapter merged into the base (``merge_and_unload``), as a new CostModel."""
        import copy

        net = copy.deepcopy(self.net)
        if self.config.head == "rank":
            net.lm = net.lm.merge_and_unload()
        else:
            net = net.merge_and_unload()
        return CostModel(self.directory, net, self.tok, self.config, self.device)

    def __repr__(self) -> str:
        return f"CostModel({self.directory!r}, head={self.config.head}, repr={self.config.repr})"


def resolve_model_dir(model) -> Path:
    """Where a ``--model`` value points: ``default``, ``llm`` (or "") is the shipped LLM cost model; the OUT
    folder of ``costtune retrain``, which holds its model in OUT/model, is that model; anything else is itself."""
    if str(model) in ("", "default", "llm"):
        return Path(default_model_dir())
    d = Path(model)
    if not (d / CONFIG_NAME).is_file() and (d / "model" / CONFIG_NAME).is_file():
        return d / "model"
    return d


def default_model_dir() -> str:
    from costtune import resources

    return os.fspath(resources.default_model_dir())
