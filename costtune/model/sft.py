"""The generative pairwise format ("code1 is faster than code2"), for compatibility.

Prompt: ``instruction: ...\\ncode1: ...\\ncode2: ...\\noutput: ``; response: one of two
fixed sentences. Only the response tokens carry loss (prompt labels are -100).
Whole programs do not fit a prompt, so each code shows only the functions in which the
two candidates differ (shared functions cannot decide the comparison), each side cut
to half of the token budget.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

__all__ = ["diff_text", "sft_example", "response_logprobs"]


def diff_text(a: Mapping[str, str], b: Mapping[str, str], tok, max_len: int) -> tuple[str, str]:
    """The differing functions of ``a`` and ``b``, each cut to about ``max_len/2 - 32`` tokens."""
    da = "\n".join(t for n, t in a.items() if b.get(n) != t)
    db = "\n".join(t for n, t in b.items() if a.get(n) != t)
    budget = max(16, max_len // 2 - 32)

    def cut(s: str) -> str:
        ids = tok(s, add_special_tokens=False)["input_ids"]
        return s if len(ids) <= budget else tok.decode(ids[:budget])

    return cut(da), cut(db)


def sft_example(tok, prompt: str, response: str) -> tuple[list[int], list[int]]:
    """(input_ids, labels) with the prompt masked out (-100) and eos after the response."""
    p = tok(prompt, add_special_tokens=False)["input_ids"]
    r = tok(response, add_special_tokens=False)["input_ids"]
    bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
    eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
    ids = bos + p + r + eos
    labels = [-100] * (len(bos) + len(p)) + r + eos
    return ids, labels


def response_logprobs(lm, tok, prompt: str, responses: list[str], device) -> list[float]:
    """Sum of token log-probabilities of each response after ``prompt``."""
    out = []
    with torch.no_grad():
        for resp in responses:
            ids, labels = sft_example(tok, prompt, resp)
            x = torch.tensor([ids], device=device)
            logits = lm(input_ids=x).logits[0, :-1].float()
            y = torch.tensor(labels[1:], device=device)
            lp = torch.log_softmax(logits, -1)
            m = y != -100
            out.append(float(lp[m].gather(-1, y[m].unsqueeze(-1)).sum()))
    return out
