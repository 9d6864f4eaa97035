"""Pretrain a small Llama from scratch on an assembly corpus (causal-LM objective).

The result is an ordinary Hugging Face model directory (``config.json``, weights and the
tokenizer beside them) that :mod:`costtune.model.train` takes as a base.
"""

from __future__ import annotations

import math
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from costtune.errors import DatasetError
from costtune.logging import get_logger
from costtune.model.base import load_tokenizer, pick_device
from costtune.model.config import PretrainConfig

log = get_logger(__name__)

__all__ = ["pretrain", "PretrainResult"]


@dataclass
class PretrainResult:
    out: str
    steps: int
    params: int
    tokens: int  #: corpus tokens
    first_loss: float  #: mean loss of the first 10% of steps
    last_loss: float  #: mean loss of the last 10% of steps
    seconds: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _seed(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def save_tokenizer(tok, src_dir, out: Path) -> None:
    """``save_pretrained`` plus the sentencepiece ``tokenizer.model`` it does not write."""
    tok.save_pretrained(out)
    src = Path(src_dir) if src_dir else None
    if src is None or not src.is_dir():
        return
    for name in ("tokenizer.model", "spm.model"):  # the project loader reads either
        if (src / name).is_file() and not (out / "tokenizer.model").exists():
            shutil.copy2(src / name, out / "tokenizer.model")


def pretrain(corpus, tokenizer_dir, out, config: PretrainConfig | None = None, progress: bool = False) -> PretrainResult:
    """Train a fresh ``LlamaForCausalLM`` on ``corpus`` (a text file) and save it to ``out``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = config or PretrainConfig()
    corpus = Path(corpus)
    if not corpus.is_file():
        raise DatasetError(f"corpus {corpus} does not exist")
    text = corpus.read_text(errors="replace")[: cfg.max_corpus_chars]
    if not text.strip():
        raise DatasetError(f"corpus {corpus} is empty")
    torch.set_num_threads(cfg.threads)
    _seed(cfg.seed)
    device = pick_device(cfg.device)
    tok = load_tokenizer(tokenizer_dir)

    # tokenise line blocks (fast and bounded memory), one stream, cut into windows
    lines = text.splitlines()
    ids: list[int] = []
    step = 2000
    for i in range(0, len(lines), step):
        ids.extend(tok("\n".join(lines[i:i + step]) + "\n", add_special_tokens=False)["input_ids"])
    win = cfg.max_len - 1
    if len(ids) < win + 1:
        raise DatasetError(f"corpus {corpus} has {len(ids)} tokens, fewer than one window of {cfg.max_len}")
    starts = list(range(0, len(ids) - win, win))
    data = torch.tensor(ids, dtype=torch.long)
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id

    mcfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads, max_position_embeddings=max(cfg.max_len, 2048),
        bos_token_id=bos, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(mcfg).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def lr_at(s: int) -> float:
        if s < cfg.warmup:
            return cfg.lr * (s + 1) / cfg.warmup
        t = (s - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))

    rng = random.Random(cfg.seed)
    losses: list[float] = []
    t0 = time.time()
    model.train()
    from tqdm import tqdm

    for s in tqdm(range(cfg.steps), disable=not progress, desc="pretrain"):
        batch = []
        for _ in range(cfg.batch_size):
            st = rng.choice(starts)
            batch.append(torch.cat([torch.tensor([bos]), data[st:st + win]]))
        x = torch.stack(batch).to(device)
        for g in opt.param_groups:
            g["lr"] = lr_at(s)
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        if s % 50 == 0:
            log.info("pretrain step %d loss %.3f", s, losses[-1])

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    save_tokenizer(tok, tokenizer_dir, out)
    cfg.save(out / "pretrain_config.yaml")
    k = max(1, cfg.steps // 10)
    res = PretrainResult(str(out), cfg.steps, n_params, len(ids), sum(losses[:k]) / k, sum(losses[-k:]) / k,
                         round(time.time() - t0, 1))
    log.info("pretrained %d params, loss %.3f -> %.3f", n_params, res.first_loss, res.last_loss)
    return res
