"""The ranking network: chunk scores -> function scores -> program cost.

A candidate is a set of functions. Each function's token ids are cut into chunks of
at most ``max_len`` tokens (nothing is dropped below ``max_chunks`` chunks per
function; beyond that, evenly spaced chunks stand for the rest with a count
correction). The LM body (LoRA-adapted) reads a chunk; its mean-pooled hidden state
(and, optionally, log of the chunk's token count) goes through a linear head to a
scalar ``s``: the predicted log dynamic cost contributed by that chunk. Then

    function score  f = logsumexp over its chunks (s_c + log multiplicity_c)
    program cost    C = logsumexp over its functions (f + log w_f)

with optional per-function weights ``w`` (e.g. a profile of the reference build;
uniform when none). ``C`` estimates log(latency) up to a per-program constant, so the
model is trained on differences of ``C`` within one program (RankNet + squared error
on log-latency differences). Identical functions of two candidates give identical
scores - they are computed once and, at scoring time, cached by content hash.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from costtune.model.base import decoder_of

__all__ = ["ChunkScorer", "function_chunks", "aggregate"]


def function_chunks(tok, text: str, max_len: int, max_chunks: int) -> list[tuple[list[int], float]]:
    """Token-id chunks of one function and how many chunks each stands for."""
    ids = tok(text, add_special_tokens=False)["input_ids"]
    bos = tok.bos_token_id
    win = max_len - (1 if bos is not None else 0)
    pieces = [ids[i:i + win] for i in range(0, max(1, len(ids)), win)] or [[]]
    mult = 1.0
    if len(pieces) > max_chunks:
        idx = [round(i * (len(pieces) - 1) / (max_chunks - 1)) for i in range(max_chunks)] if max_chunks > 1 else [0]
        mult = len(pieces) / len(idx)
        pieces = [pieces[i] for i in idx]
    if bos is not None:
        pieces = [[bos] + p for p in pieces]
    pieces = [p if p else [tok.pad_token_id] for p in pieces]
    return [(p, mult) for p in pieces]


class ChunkScorer(nn.Module):
    """LM body + pooled linear head: a batch of chunks -> one scalar each."""

    def __init__(self, lm, hidden_size: int, length_feature: bool = True):
        super().__init__()
        self.lm = lm
        self.length_feature = length_feature
        self.head = nn.Linear(hidden_size + (1 if length_feature else 0), 1)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        if length_feature:  # start from "cost grows with size": a useful prior, learned further
            with torch.no_grad():
                self.head.weight[0, -1] = 1.0

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        h = decoder_of(self.lm)(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        pooled = ((h * m).sum(1) / m.sum(1).clamp(min=1)).float()
        feats = [pooled]
        if self.length_feature:
            feats.append(torch.log(attention_mask.sum(1).float().clamp(min=1)).unsqueeze(-1))
        return self.head(torch.cat(feats, -1)).squeeze(-1)

    def score_chunks(self, chunks: list[list[int]], pad_id: int, device, batch: int = 32) -> torch.Tensor:
        """Scores of many chunks (in micro-batches sorted by length; keeps the graph)."""
        order = sorted(range(len(chunks)), key=lambda i: len(chunks[i]))
        out = torch.empty(len(chunks), device=device)
        parts = []
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            L = max(len(chunks[i]) for i in idx)
            ids = torch.full((len(idx), L), pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), L), dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, :len(chunks[i])] = torch.tensor(chunks[i])
                mask[r, :len(chunks[i])] = 1
            parts.append((idx, self(ids.to(device), mask.to(device))))
        if not parts:
            return out
        all_idx = torch.tensor([i for idx, _ in parts for i in idx], device=device)
        vals = torch.cat([v for _, v in parts])
        return out.index_copy(0, all_idx, vals) if not vals.requires_grad else \
            torch.zeros(len(chunks), device=device, dtype=vals.dtype).index_add(0, all_idx, vals)


def aggregate(scores: list[torch.Tensor] | torch.Tensor, log_weights: list[float] | None = None) -> torch.Tensor:
    """logsumexp of scores (+ log weights): chunks -> function, or functions -> program."""
    s = torch.stack(list(scores)) if not isinstance(scores, torch.Tensor) else scores
    if log_weights is not None:
        s = s + torch.tensor(log_weights, dtype=s.dtype, device=s.device)
    return torch.logsumexp(s, 0)


def log_mult(m: float) -> float:
    return math.log(m) if m > 0 else 0.0
