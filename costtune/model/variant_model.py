"""A transformer that reads a function's measured variant and a new variant of it, and predicts
how many instructions the new one executes.

The profile estimate (:class:`costtune.search.variants.VariantTable`) is exact for every
function of a candidate except those of a control-flow shape it has never measured: it then
scales the count of the measured variant nearest in static length by the ratio of the two
lengths - blind to an unrolled, vectorised, inlined or outlined loop. On the corpus's
validation programs all of the estimate's ordering errors come from those functions (with
their true counts put in, it orders every pair right). This model takes their place.

Input, one token sequence: the reference variant of the function (a measured build: O3, or
O0 where O3 inlined it away) annotated with its block profile - before each basic block how
often it ran, at each call the callee's measured count, and the function's total - then the
new variant's text. Counts are tokens of half powers of two (``@x23`` = 2^11.5). Output: the
log of (new count + 1) / (base + 1), where the base (``base`` in ``variant_model.json``) is the
reference's count (``reference``) or that count scaled by the ratio of the two variants' static
lengths (``scaled``: the model learns the residual of the profile estimate's length scaling, and
a prediction of 0 is that scaling). Trained on the corpus's training families, on every
(reference, new variant) pair the cold setting meets.

The network is a small transformer encoder trained from scratch on that text (no
pretrained base: the vocabulary is AArch64 assembly, a few thousand tokens), mean-pooled into
one regression output; a model directory holds ``variant_model.json`` (vocabulary and sizes)
and ``weights.safetensors`` (float16).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from costtune.errors import ModelLoadError

__all__ = ["annotate", "tokenize", "VariantModel", "Ensemble", "load", "is_variant_model", "train", "targets",
           "count_token", "MAX_SIDE", "BASES"]

_TOKEN = re.compile(r"[A-Za-z_.$][\w.$]*|#-?\d+|-?\d+|[^\s,]")
_CALL = re.compile(r"^\s*bl\s+([A-Za-z_.$][\w.$]*)\s*$")
#: tokens kept of each side (reference, new variant)
MAX_SIDE = 1024
SPECIAL = ("<pad>", "<unk>", "<sep>", "<ref>", "<new>")
#: what a prediction's log ratio is relative to: the reference's count, or it scaled by length
BASES = ("reference", "scaled")


def count_token(n: float) -> str:
    """``@x<k>``: ``n`` rounded to half powers of two."""
    return f"@x{round(2 * math.log2(max(n, 0) + 1))}"


def _imm(tok: str) -> str:
    """Immediates beyond +-64 become their order of magnitude (the vocabulary stays small)."""
    body = tok[1:] if tok.startswith("#") else tok
    try:
        v = int(body)
    except ValueError:
        return tok
    if -64 <= v <= 64:
        return tok
    return ("#" if tok.startswith("#") else "") + ("-" if v < 0 else "") + f"e{int(math.log2(abs(v)))}"


def tokenize(text: str) -> list[str]:
    """Tokens of one normalised function (its first line, the name, is dropped)."""
    out = []
    for line in text.splitlines()[1:]:
        line = line.strip()
        if not line:
            continue
        out.extend(_imm(t) for t in _TOKEN.findall(line))
        out.append("\n")
    return out


def annotate(text: str, block_counts: list[int] | None, total: float, callee_counts: dict[str, float]) -> list[str]:
    """Tokens of a measured variant with its profile: the total first, then before each basic
    block (:func:`costtune.search.variants.block_shape`'s blocks) how often it ran, and after
    each call to one of the program's functions that function's measured count. A block that
    never ran is one ``@x0`` token, its instructions left out."""
    from costtune.search.variants import block_shape

    lengths = block_shape(text)[0]
    starts: dict[int, int] = {}
    i = 0
    for b, n in enumerate(lengths):
        starts[i] = b
        i += n
    out = [count_token(total)]
    k = 0  # instruction index
    cold = False
    for line in text.splitlines()[1:]:
        s = line.strip()
        if not s:
            continue
        if not s.endswith(":") and block_counts is not None and k in starts and starts[k] < len(block_counts):
            execs = block_counts[starts[k]]
            out.append(count_token(execs))
            cold = execs == 0
        if cold and not s.endswith(":"):
            k += 1
            continue
        out.extend(_imm(t) for t in _TOKEN.findall(s))
        if not s.endswith(":"):
            k += 1
            m = _CALL.match(s)
            if m and m.group(1) in callee_counts:
                out.append(count_token(callee_counts[m.group(1)]))
        out.append("\n")
    return out


def _net(vocab_size: int, dim: int, layers: int, heads: int):
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(vocab_size, dim, padding_idx=0)
            self.pos = nn.Embedding(2 * MAX_SIDE + 4, dim)
            self.side = nn.Embedding(2, dim)
            layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.1, batch_first=True,
                                               norm_first=True, activation="gelu")
            self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, 1)

        def forward(self, ids, side):
            mask = ids == 0
            pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
            h = self.emb(ids) + self.pos(pos) + self.side(side)
            h = self.enc(h, src_key_padding_mask=mask)
            h = self.norm(h).masked_fill(mask.unsqueeze(-1), 0.0)
            pooled = h.sum(1) / (~mask).sum(1, keepdim=True).clamp(min=1)
            return self.head(pooled).squeeze(-1)

    return Net()


class VariantModel:
    """Predicts ``log((new count + 1) / (reference count + 1))`` for (reference tokens, new tokens)."""

    def __init__(self, vocab: list[str], dim: int = 256, layers: int = 4, heads: int = 8, net=None,
                 device: str = "cpu", base: str = "reference"):
        if base not in BASES:
            raise ModelLoadError(f"variant model: base must be one of {', '.join(BASES)}, not {base!r}")
        self.vocab, self.base = vocab, base
        self.index = {t: i for i, t in enumerate(vocab)}
        self.dim, self.layers, self.heads = dim, layers, heads
        self.net = net if net is not None else _net(len(vocab), dim, layers, heads)
        self.device = device

    def encode(self, ref: list[str], new: list[str]) -> tuple[list[int], list[int]]:
        unk = self.index["<unk>"]
        a = [self.index["<ref>"]] + [self.index.get(t, unk) for t in ref[:MAX_SIDE]]
        b = [self.index["<new>"]] + [self.index.get(t, unk) for t in new[:MAX_SIDE]]
        return a + b, [0] * len(a) + [1] * len(b)

    def predict(self, pairs: list[tuple[list[str], list[str]]], batch: int = 64) -> list[float]:
        import torch

        self.net.eval()
        encoded = [self.encode(r, n) for r, n in pairs]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))  # little padding per batch
        out = [0.0] * len(encoded)
        # the encoder's inference fast path computes attention with a masked softmax that is 3-4x
        # slower on a CPU than scaled_dot_product_attention at these lengths (same results)
        fast = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        try:
            with torch.inference_mode():
                for i in range(0, len(order), batch):
                    part = order[i:i + batch]
                    ids, side = _batch([encoded[j] for j in part], self.device)
                    for j, v in zip(part, self.net(ids, side).float().cpu().tolist()):
                        out[j] = v
        finally:
            torch.backends.mha.set_fastpath_enabled(fast)
        return out

    def save(self, out: Path, half: bool = True) -> None:
        """Weights in fp16 (the shipped form) or, ``half=False``, as trained (a copy fine-tuned again later)."""
        from safetensors.torch import save_file

        out.mkdir(parents=True, exist_ok=True)
        (out / "variant_model.json").write_text(json.dumps(
            {"kind": "variant", "dim": self.dim, "layers": self.layers, "heads": self.heads,
             "max_side": MAX_SIDE, "base": self.base, "vocab": self.vocab}))
        save_file({k: (v.detach().cpu().half() if half else v.detach().cpu()).contiguous()
                   for k, v in self.net.state_dict().items()}, str(out / "weights.safetensors"))

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", threads: int | None = None) -> "VariantModel":
        import torch
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = Path(path)
        try:
            meta = json.loads((path / "variant_model.json").read_text())
            vocab, sizes, base = meta["vocab"], (meta["dim"], meta["layers"], meta["heads"]), meta.get("base", "reference")
            state = load_file(str(path / "weights.safetensors"))
        except (OSError, ValueError, KeyError, TypeError, SafetensorError) as e:
            raise ModelLoadError(f"variant model {path}: {type(e).__name__}: {e}") from None
        if not isinstance(vocab, list) or not set(SPECIAL) <= set(vocab):
            raise ModelLoadError(f"variant model {path}: its vocabulary lacks the special tokens {SPECIAL}")
        if threads:
            torch.set_num_threads(threads)
        try:
            m = cls(vocab, *sizes, device=device, base=base)
            m.net.load_state_dict(state)
        except (RuntimeError, ValueError, TypeError, AssertionError) as e:
            raise ModelLoadError(f"variant model {path}: weights do not match: {str(e).splitlines()[0]}") from None
        m.net.to(device)
        return m


class Ensemble:
    """Several variant models (e.g. training seeds) whose predictions are averaged: a directory
    with ``ensemble.json`` (``{"members": [subdirectory, ...]}``)."""

    def __init__(self, members: list[VariantModel]):
        if len({m.base for m in members}) > 1:
            raise ModelLoadError("variant model ensemble: its members predict against different bases")
        self.members = members
        self.base = members[0].base

    def predict(self, pairs, batch: int = 64) -> list[float]:
        preds = [m.predict(pairs, batch) for m in self.members]
        return [sum(p) / len(p) for p in zip(*preds)]

    def save(self, out: Path, half: bool = True) -> None:
        out.mkdir(parents=True, exist_ok=True)
        names = []
        for i, m in enumerate(self.members):
            m.save(out / f"m{i}", half)
            names.append(f"m{i}")
        (out / "ensemble.json").write_text(json.dumps({"members": names}))


def load(path: str | Path, device: str = "cpu", threads: int | None = None) -> VariantModel | Ensemble:
    """A variant model or an ensemble of them, from its directory."""
    path = Path(path)
    if (path / "ensemble.json").is_file():
        try:
            names = json.loads((path / "ensemble.json").read_text())["members"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelLoadError(f"variant model ensemble {path}: {type(e).__name__}: {e}") from None
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ModelLoadError(f"variant model ensemble {path}: 'members' must be a non-empty list of "
                                 "member directories")
        return Ensemble([VariantModel.load(path / n, device, threads) for n in names])
    return VariantModel.load(path, device, threads)


def adapted(model: VariantModel | Ensemble, examples: list[dict], *, epochs: int = 2, lr: float = 1e-4,
            seed: int = 0) -> VariantModel | Ensemble:
    """A copy of ``model`` (each member of an ensemble) fine-tuned on ``examples`` (see :func:`train`);
    ``model`` itself is unchanged (a search adapts it to one program at a time)."""
    import copy

    members = model.members if isinstance(model, Ensemble) else [model]
    out = []
    for m in members:
        m = copy.deepcopy(m)
        fit(m, examples, epochs=epochs, lr=lr, batch=16, seed=seed, log=lambda msg: None)
        out.append(m)
    return Ensemble(out) if isinstance(model, Ensemble) else out[0]


def is_variant_model(path: str | Path) -> bool:
    p = Path(path)
    return (p / "variant_model.json").is_file() or (p / "ensemble.json").is_file()


def _batch(encoded: list[tuple[list[int], list[int]]], device: str):
    import torch

    n = max(len(ids) for ids, _ in encoded)
    ids = torch.zeros((len(encoded), n), dtype=torch.long)
    side = torch.zeros((len(encoded), n), dtype=torch.long)
    for i, (a, s) in enumerate(encoded):
        ids[i, :len(a)] = torch.tensor(a)
        side[i, :len(s)] = torch.tensor(s)
    return ids.to(device), side.to(device)


def train(examples: list[dict], out: Path, *, validation: list[dict] | None = None, epochs: int = 20,
          lr: float = 3e-4, batch: int = 64, dim: int = 256, layers: int = 4, heads: int = 8,
          min_count: int = 2, seed: int = 0, device: str = "cpu", base: str = "reference", log=print) -> VariantModel:
    """Fit on ``examples`` (dicts with ``ref`` and ``new`` token lists, ``target`` and optional
    ``weight``: the function's share of its program's count matters, a function that never
    runs little); keeps the epoch with the lowest weighted validation error when ``validation``
    is given. ``base="scaled"``: the targets are the log ratios to the length-scaled reference
    count (:func:`targets`), and the output starts at 0 - the length scaling itself."""
    from collections import Counter

    import torch

    torch.manual_seed(seed)
    freq = Counter(t for e in examples for side in ("ref", "new") for t in e[side][:MAX_SIDE])
    vocab = list(SPECIAL) + sorted(t for t, c in freq.items() if c >= min_count and t not in SPECIAL)
    model = VariantModel(vocab, dim, layers, heads, device=device, base=base)
    if base == "scaled":
        with torch.no_grad():
            model.net.head.weight.zero_()
            model.net.head.bias.zero_()
    model.net.to(device)
    fit(model, examples, validation=validation, epochs=epochs, lr=lr, batch=batch, seed=seed, reseed=False, log=log)
    model.save(out)
    return model


def targets(examples: list[dict], base: str) -> list[dict]:
    """``examples`` (written by ``benchmarks/variant_examples.py``: ``true``, ``ref_count`` and
    ``scaled`` counts) with the ``target`` of ``base``: log((true + 1) / (base count + 1))."""
    key = {"reference": "ref_count", "scaled": "scaled"}[base]
    return [{**e, "target": math.log((e["true"] + 1) / (e[key] + 1))} for e in examples]


def fit(model: VariantModel, examples: list[dict], *, validation: list[dict] | None = None, epochs: int = 20,
        lr: float = 3e-4, batch: int = 64, seed: int = 0, reseed: bool = True, log=print) -> None:
    """Train ``model`` in place on ``examples`` (see :func:`train`): a new model, or one adapted to
    the variants a search measured (``reseed``: torch's generator starts from ``seed``)."""
    import random

    import torch

    if reseed:
        torch.manual_seed(seed)
    rng = random.Random(seed)
    device = model.device
    opt = torch.optim.AdamW(model.net.parameters(), lr=lr, weight_decay=0.01)
    enc = [(model.encode(e["ref"], e["new"]), e["target"], e.get("weight", 1.0)) for e in examples]
    steps = max(epochs * math.ceil(len(enc) / batch), 1)
    # OneCycleLR divides by zero when its warm-up ends on the first step (0.1 x 10 steps: an adapt on 65-80 variants)
    warm = 0.15 if steps == 10 else 0.1
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=warm)
    best, best_state = math.inf, None

    def loss_on(items) -> float:
        preds = model.predict([(e["ref"], e["new"]) for e in items], batch=64)
        w = [e.get("weight", 1.0) for e in items]
        return sum(abs(p - e["target"]) * x for p, e, x in zip(preds, items, w)) / max(sum(w), 1e-9)

    for epoch in range(epochs):
        model.net.train()
        rng.shuffle(enc)
        total = 0.0
        for i in range(0, len(enc), batch):
            part = enc[i:i + batch]
            ids, side = _batch([p for p, _, _ in part], device)
            y = torch.tensor([t for _, t, _ in part], device=device)
            w = torch.tensor([x for _, _, x in part], device=device)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                pred = model.net(ids, side)
            loss = (torch.nn.functional.smooth_l1_loss(pred.float(), y, beta=0.1, reduction="none") * w).sum() / w.sum()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.net.parameters(), 1.0)
            opt.step()
            sched.step()
            total += loss.item() * len(part)
        msg = f"epoch {epoch + 1}/{epochs}: train loss {total / max(len(enc), 1):.4f}"
        if validation:
            v = loss_on(validation)
            msg += f", validation weighted mean |error| {v:.4f}"
            if v < best:
                best = v
                best_state = {k: t.detach().clone() for k, t in model.net.state_dict().items()}
        log(msg)
    if best_state is not None:
        model.net.load_state_dict(best_state)
    model.net.eval()
