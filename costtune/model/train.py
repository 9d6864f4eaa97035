"""LoRA training of the cost model on measured candidates (``costtune train``).

``rank`` head: each step takes ``group_size`` candidates of one training program, scores
all their distinct functions once (shared functions are scored once and so cancel),
and applies RankNet (logistic) loss to every pair whose latency gap exceeds ``eps``,
plus ``mse_weight`` x squared error between predicted and measured log-latency
differences. ``pairwise-sft`` head: the generative format of :mod:`costtune.model.sft`.

``devices=N`` (or a ``torchrun`` / ``accelerate launch`` environment) trains
data-parallel with the same result as one process: see :mod:`costtune.model.distributed`.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from costtune.dataset import Candidate, gap_pairs, group_by_program, load_ranking, split_programs
from costtune.errors import DatasetError
from costtune.logging import get_logger
from costtune.model.base import load_tokenizer, pick_device, resolve_base
from costtune.model.config import CostModelConfig, TrainConfig
from costtune.model.data import text_hash

log = get_logger(__name__)

__all__ = ["train", "TrainResult"]


@dataclass
class TrainResult:
    out: str
    head: str
    steps: int
    seconds: float
    steps_per_s: float
    train_programs: list[str]
    test_programs: list[str]
    first_loss: float
    last_loss: float
    trainable_params: int
    peak_gpu_mb: float = 0.0
    history: list = field(default_factory=list)
    devices: int = 1  #: data-parallel processes (ranks) that trained
    peak_gpu_mb_per_device: list = field(default_factory=list)  #: max allocated, per rank (CUDA only)

    def to_dict(self) -> dict:
        return asdict(self)


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _lr_at(s: int, total: int, cfg: TrainConfig) -> float:
    if s < cfg.warmup:
        return cfg.lr * (s + 1) / cfg.warmup
    t = (s - cfg.warmup) / max(1, total - cfg.warmup)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


def train(data, base, out, config: TrainConfig | None = None, *, tokenizer=None,
          test_programs: list[str] | None = None, progress: bool = False,
          devices: int | None = None, strategy: str = "ddp") -> TrainResult:
    """Train a head with LoRA on ``base`` from the dataset ``data``; write the model to ``out``.

    ``devices``: data-parallel processes (None/1: this process alone). With N > 1, N
    workers are spawned (one GPU each on CUDA, gloo on CPU) unless this process already
    is a rank of a launched job (``torchrun``/``accelerate``). Only rank 0 writes ``out``.
    """
    from costtune.model import distributed as ddp

    mode = ddp.launch_mode(devices, strategy)
    cfg = config or TrainConfig()
    if mode == "spawn":
        d = ddp.spawn(devices, train, (data, base, str(out), cfg),
                      dict(tokenizer=tokenizer, test_programs=test_programs, progress=progress,
                           devices=devices, strategy=strategy))
        return TrainResult(**d)
    ctx = ddp.setup(cfg.device) if mode == "worker" else None
    try:
        return _train(data, base, out, cfg, tokenizer, test_programs, progress, ctx)
    finally:
        if ctx is not None:
            ctx.close()


def _train(data, base, out, cfg: TrainConfig, tokenizer, test_programs, progress, ctx) -> TrainResult:
    import torch

    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    device = ctx.device if ctx else pick_device(cfg.device)
    progress = progress and (ctx is None or ctx.is_main)
    cands = load_ranking(data, cfg.repr)
    train_c, test_c = split_programs(cands, seed=cfg.seed, test_programs=test_programs)
    groups = {p: g for p, g in group_by_program(train_c).items()
              if len(g) >= 2 and gap_pairs([c.latency for c in g], cfg.eps)}
    if not groups:
        raise DatasetError(f"no training program has two candidates whose latency differs by more than eps={cfg.eps}")

    if cfg.weights == "profile":
        attach_log_weights(train_c, cfg.profile_pipeline)
    spec = resolve_base(base)
    tok_src = tokenizer or (spec.path if spec.kind == "hf" else None)
    tok = load_tokenizer(tok_src) if tok_src else load_tokenizer(spec.path, gguf_file=spec.gguf_file)
    from costtune.model.costmodel import build_network, save_model

    net, extended = build_network(spec, tok, head=cfg.head, lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                                  lora_dropout=cfg.lora_dropout, lora_targets=list(cfg.lora_targets),
                                  length_feature=cfg.length_feature, device=device)
    if cfg.gradient_checkpointing:
        net.lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    params = [p for p in net.parameters() if p.requires_grad]
    n_train = sum(p.numel() for p in params)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    if cfg.head == "rank":
        steps, losses, history = _train_rank(net, tok, groups, cfg, opt, device, progress, ctx)
    else:
        steps, losses, history = _train_sft(net, tok, groups, cfg, opt, device, progress, ctx)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    secs = time.time() - t0
    hidden = net.lm.get_base_model().config.hidden_size if cfg.head == "rank" else net.get_base_model().config.hidden_size
    mcfg = CostModelConfig(head=cfg.head, repr=cfg.repr, base=spec.name or spec.path, base_kind=spec.kind,
                           vocab_size=len(tok), max_len=cfg.max_len, max_chunks=cfg.max_chunks,
                           length_feature=cfg.length_feature, hidden_size=hidden, vocab_extended=extended,
                           gguf_file=spec.gguf_file, train=asdict(cfg), weights=cfg.weights,
                           profile_pipeline=cfg.profile_pipeline)
    k = max(1, len(losses) // 10)
    res = TrainResult(str(out), cfg.head, steps, round(secs, 1), round(steps / max(secs, 1e-9), 3),
                      sorted(groups), sorted({c.program for c in test_c}),
                      sum(losses[:k]) / k, sum(losses[-k:]) / k, n_train,
                      torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else 0.0, history)
    if ctx is not None:
        res.devices = ctx.world
        res.peak_gpu_mb_per_device = ctx.all_gather_objects(res.peak_gpu_mb) if device.startswith("cuda") else []
    mcfg.metrics = {k2: v for k2, v in res.to_dict().items() if k2 != "history"}
    net.eval()
    if ctx is None or ctx.is_main:
        save_model(Path(out), net, tok, mcfg, spec, tok_src or spec.path)
    if ctx is not None:
        ctx.barrier()  # the model directory is complete before any rank returns
    log.info("trained %s head: %d steps in %.0f s, loss %.3f -> %.3f", cfg.head, steps, secs, res.first_loss, res.last_loss)
    return res


def profiles_for(cands: list[Candidate], pipeline: str = "O0") -> dict:
    """Reference profiles of the candidates' programs, cached under the costtune cache (a
    directory suite's program is found where its candidates say it lives)."""
    from costtune.benchmarks import get_benchmark
    from costtune.cache import cache_dir
    from costtune.model.profile import reference_profile

    where = {c.program: c.program_dir or None for c in cands}
    return {p: reference_profile(get_benchmark(p, where[p]), pipeline, cache_dir("profiles")) for p in sorted(where)}


def attach_log_weights(cands: list[Candidate], pipeline: str = "O0") -> None:
    """Set ``extra["logw"]`` (function -> log weight) on every candidate from its program's profile."""
    from costtune.model.profile import candidate_weights

    refs = profiles_for(cands, pipeline)
    for c in cands:
        w = candidate_weights(c.functions, refs[c.program])
        c.extra["logw"] = {f: math.log(v) for f, v in w.items()}


def _epoch_plan(groups: dict[str, list[Candidate]], cfg: TrainConfig, rng: random.Random) -> list[str]:
    plan = []
    for p, g in sorted(groups.items()):
        plan += [p] * math.ceil(len(g) / cfg.group_size)
    rng.shuffle(plan)
    return plan


def _train_rank(net, tok, groups, cfg: TrainConfig, opt, device, progress, ctx=None):
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from costtune.model.ranker import function_chunks

    chunk_cache: dict[str, list[tuple[list[int], float]]] = {}

    def chunks_of(text: str):
        h = text_hash(text)
        if h not in chunk_cache:
            chunk_cache[h] = function_chunks(tok, text, cfg.max_len, cfg.max_chunks)
        return h, chunk_cache[h]

    rng = random.Random(cfg.seed)
    per_epoch = sum(math.ceil(len(g) / cfg.group_size) for g in groups.values())
    total = max(1, round(per_epoch * cfg.epochs))
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    plan: list[str] = []
    losses, history, accs, norms = [], [], [], []
    net.train()
    if ctx is not None:
        from costtune.model.distributed import LocalScorer, deal

        scorer = ctx.wrap(LocalScorer(net, tok.pad_token_id, device))
    for s in tqdm(range(total), disable=not progress, desc="train"):
        if not plan:
            plan = _epoch_plan(groups, cfg, rng)
        g = groups[plan.pop()]
        pick = rng.sample(range(len(g)), min(cfg.group_size, len(g)))
        cands = [g[i] for i in pick]
        lat = [c.latency for c in cands]
        pairs = gap_pairs(lat, cfg.eps)
        if not pairs:
            continue
        # distinct functions of the group, their chunks
        fidx: dict[str, int] = {}
        chunks, chunk_fn, chunk_lm = [], [], []
        cand_fns, cand_lw = [], []
        for c in cands:
            lw = c.extra.get("logw", {})
            cand_lw.append([lw.get(name, 0.0) for name in c.functions])
            ids = []
            for t in c.functions.values():
                h, ch = chunks_of(t)
                if h not in fidx:
                    fidx[h] = len(fidx)
                    for ids_, m in ch:
                        chunks.append(ids_)
                        chunk_fn.append(fidx[h])
                        chunk_lm.append(math.log(m))
                ids.append(fidx[h])
            cand_fns.append(ids)
        if ctx is None:
            cs = net.score_chunks(chunks, tok.pad_token_id, device)
        else:  # this rank scores its share of the chunks; the others' scores come without graph
            shares = deal([len(c) for c in chunks], ctx.world)
            mine = [chunks[k] for k in shares[ctx.rank]] or [chunks[0]]  # empty share: dummy, weight 0
            cs = ctx.gather(scorer(mine), shares, len(chunks))
        cs = cs + torch.tensor(chunk_lm, device=device)
        fn_idx = torch.tensor(chunk_fn, device=device)
        # logsumexp of chunk scores per function (scatter via a masked matrix: groups are small)
        M = torch.full((len(fidx), len(chunks)), float("-inf"), device=device)
        M[fn_idx, torch.arange(len(chunks), device=device)] = 0.0
        fscore = torch.logsumexp(M + cs.unsqueeze(0), 1)
        cost = torch.stack([torch.logsumexp(fscore[torch.tensor(ids, device=device)]
                                            + torch.tensor(lw, device=device), 0)
                            for ids, lw in zip(cand_fns, cand_lw)])
        i = torch.tensor([a for a, _ in pairs], device=device)
        j = torch.tensor([b for _, b in pairs], device=device)
        d = cost[i] - cost[j]
        target = torch.log(torch.tensor(lat, device=device, dtype=torch.float64))
        td = (target[i] - target[j]).float()
        loss = F.softplus(-d).mean() + cfg.mse_weight * ((d - td) ** 2).mean()
        for grp in opt.param_groups:
            grp["lr"] = _lr_at(s, total, cfg)
        opt.zero_grad(set_to_none=True)
        if ctx is None:
            loss.backward()
        else:  # DDP averages over ranks; each rank holds only its chunks' part of the gradient
            (loss * ctx.world).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad], 1.0)))
        opt.step()
        losses.append(float(loss.detach()))
        accs.append(float((d > 0).float().mean()))
        if (s + 1) % max(1, total // 10) == 0 or s + 1 == total:
            k = max(1, total // 10)
            history.append({"step": s + 1, "loss": sum(losses[-k:]) / len(losses[-k:]),
                            "train_pair_acc": sum(accs[-k:]) / len(accs[-k:]),
                            "grad_norm": sum(norms[-k:]) / len(norms[-k:])})
            log.info("step %d/%d loss %.4f pair-acc %.3f", s + 1, total, history[-1]["loss"], history[-1]["train_pair_acc"])
    return total, losses, history


def _train_sft(lm, tok, groups, cfg: TrainConfig, opt, device, progress, ctx=None):
    import torch
    from tqdm import tqdm

    from costtune.model.sft import diff_text, sft_example
    from costtune.prompts import FASTER, SLOWER, prompt_text

    rng = random.Random(cfg.seed)
    examples = []
    for p, g in sorted(groups.items()):
        pairs = gap_pairs([c.latency for c in g], cfg.eps)
        rng.shuffle(pairs)
        for slow, fast in pairs[: 16 * len(g)]:
            a, b = (g[fast], g[slow]) if rng.random() < 0.5 else (g[slow], g[fast])
            c1, c2 = diff_text(a.functions, b.functions, tok, cfg.sft_max_len)
            resp = FASTER if a is g[fast] else SLOWER
            examples.append(sft_example(tok, prompt_text(c1, c2, cfg.repr), resp))
    if not examples:
        raise DatasetError("no pairs for pairwise-sft training")
    bs = cfg.group_size
    total = max(1, round(len(examples) * cfg.epochs / bs))
    if cfg.max_steps:
        total = min(total, cfg.max_steps)
    losses, history, norms = [], [], []
    lm.train()
    if ctx is not None:
        from costtune.model.distributed import RowLoss

        row_loss = ctx.wrap(RowLoss(lm))
    order: list[int] = []
    for s in tqdm(range(total), disable=not progress, desc="train-sft"):
        if len(order) < bs:
            order += rng.sample(range(len(examples)), len(examples))
        batch = [examples[order.pop()] for _ in range(min(bs, len(order)))]
        if ctx is not None:
            loss = _sft_step_ddp(row_loss, batch, tok.pad_token_id, device, ctx)
        else:
            loss = _sft_loss(lm, batch, tok.pad_token_id, device)
        for grp in opt.param_groups:
            grp["lr"] = _lr_at(s, total, cfg)
        opt.zero_grad(set_to_none=True)
        if ctx is None:
            loss.backward()
        else:  # DDP averages over ranks; each rank's loss is its rows' share of the batch mean
            (loss * ctx.world).backward()
            loss = torch.tensor(ctx.all_sum(float(loss.detach())))
        norms.append(float(torch.nn.utils.clip_grad_norm_([p for p in lm.parameters() if p.requires_grad], 1.0)))
        opt.step()
        losses.append(float(loss.detach()))
        if (s + 1) % max(1, total // 10) == 0 or s + 1 == total:
            k = max(1, total // 10)
            history.append({"step": s + 1, "loss": sum(losses[-k:]) / len(losses[-k:]),
                            "grad_norm": sum(norms[-k:]) / len(norms[-k:])})
    return total, losses, history


def _pad_batch(batch, pad_id: int):
    import torch

    L = max(len(ids) for ids, _ in batch)
    x = torch.full((len(batch), L), pad_id, dtype=torch.long)
    y = torch.full((len(batch), L), -100, dtype=torch.long)
    m = torch.zeros((len(batch), L), dtype=torch.long)
    for r, (ids, lab) in enumerate(batch):
        x[r, :len(ids)] = torch.tensor(ids)
        y[r, :len(lab)] = torch.tensor(lab)
        m[r, :len(ids)] = 1
    return x, y, m


def _sft_loss(lm, batch, pad_id: int, device):
    x, y, m = _pad_batch(batch, pad_id)
    return lm(input_ids=x.to(device), attention_mask=m.to(device), labels=y.to(device)).loss


# ----------------------------------------------------------------------------- data parallel

def _sft_step_ddp(row_loss, batch, pad_id: int, device, ctx):
    """This rank's share of the batch's mean token loss (labels counted over the whole batch)."""
    from costtune.model.distributed import deal

    n_tokens = sum(sum(1 for t in lab[1:] if t != -100) for _, lab in batch)
    shares = deal([len(ids) for ids, _ in batch], ctx.world)
    mine = [batch[k] for k in shares[ctx.rank]]
    if not mine:  # empty share: a dummy row with no labels (zero loss, every parameter on the graph)
        mine = [(batch[0][0], [-100] * len(batch[0][1]))]
    x, y, m = _pad_batch(mine, pad_id)
    return row_loss(x.to(device), m.to(device), y.to(device)) / max(1, n_tokens)
