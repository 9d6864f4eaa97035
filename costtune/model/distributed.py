"""Data-parallel LoRA training on several devices (``costtune train --devices N``).

How the work is split, so that N processes compute exactly what one process does:

* Every rank reads the same data, seeds the same generators and so draws the same
  sequence of steps (the same program group, the same candidates, the same pairs).
* ``rank`` head: the expensive part of a step is the LM forward over the distinct
  function chunks of the group. Those chunks are dealt out to the ranks (sorted by
  length, round robin: a deterministic sampler, balanced in tokens). Each rank scores
  its share through :class:`~torch.nn.parallel.DistributedDataParallel`, the chunk
  scores are all-gathered, and every rank computes the (cheap) group loss on the whole
  vector. Only the rank's own scores carry a graph, so its backward yields its share of
  the gradient; the loss is multiplied by N because DDP averages: the averaged
  gradient is the single-process gradient of the whole group.
* ``pairwise-sft`` head: the rows of the batch are dealt out the same way; each rank
  returns the summed token cross-entropy of its rows divided by the token count of the
  whole batch (as one process's mean), times N.
* A rank whose share is empty (fewer chunks than ranks) scores a dummy chunk with weight
  zero, so every rank runs the same collectives.
* Only rank 0 writes the model directory; the format is the one-device format.

Launch: ``train(..., devices=N)`` spawns N workers (``torch.multiprocessing``), or,
when the process already runs under ``torchrun`` / ``accelerate launch`` (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` in the environment), joins that process group. NCCL on
CUDA (one GPU per rank, ``cuda:LOCAL_RANK``), gloo on CPU.

A base that does not fit on one GPU (a 7B model in bf16 plus activations on a small
card) needs its weights sharded, not replicated: FSDP (``torch.distributed.fsdp.
fully_shard`` per decoder layer, with the frozen base and the LoRA parameters in
separate groups) or ZeRO-3. ``--strategy fsdp`` is reserved for that and refused
today; DDP replicates the base on every GPU (7B bf16 = 13.5 GB per GPU, fine on
40 GB+ cards).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import torch
from torch import nn

from costtune.errors import ConfigError, CostTuneError
from costtune.logging import get_logger

log = get_logger(__name__)

__all__ = ["DistContext", "STRATEGIES", "launch_mode", "spawn", "setup", "deal", "is_main_process",
           "env_world_size", "LocalScorer", "RowLoss"]

STRATEGIES = ("ddp", "fsdp")
#: a collective that waits longer than this is a hung peer
TIMEOUT = timedelta(minutes=15)


def env_world_size() -> int:
    """WORLD_SIZE set by torchrun / accelerate launch / our own spawn (1 when absent)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise ConfigError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number") from None


def is_main_process() -> bool:
    """True unless this process is a non-zero rank of a launched job."""
    return os.environ.get("RANK", "0") == "0"


def launch_mode(devices: int | None, strategy: str = "ddp") -> str:
    """``single`` (one process, as before), ``spawn`` (start ``devices`` workers) or ``worker``.

    ``worker``: this process is one rank of a job that torchrun, accelerate or
    :func:`spawn` started (``WORLD_SIZE`` > 1 in the environment).
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
    if strategy == "fsdp":
        raise ConfigError("--strategy fsdp (sharded weights for a base that does not fit one GPU) is not "
                          "implemented yet; use --strategy ddp, which replicates the base on every device")
    if devices is not None and devices < 1:
        raise ConfigError(f"--devices must be >= 1, not {devices}")
    world = env_world_size()
    if world > 1:
        if devices not in (None, world):
            raise ConfigError(f"--devices {devices} contradicts WORLD_SIZE={world} set by the launcher")
        return "worker"
    return "spawn" if devices and devices > 1 else "single"


@dataclass
class DistContext:
    """This rank's place in the job; helpers for the collectives the trainers need."""

    rank: int
    world: int
    local_rank: int
    device: str
    backend: str
    owns_group: bool  #: we initialised the process group (and so destroy it)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, module):
        """``module`` in DistributedDataParallel (every trainable parameter is used in every step)."""
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.local_rank] if self.device.startswith("cuda") else None
        # find_unused_parameters stays off: LoRA A/B, the head and modules_to_save are all
        # on the path of every forward, and empty shards score a dummy chunk (see deal()).
        return DDP(module, device_ids=ids, find_unused_parameters=False)

    def gather(self, local, shares: list[list[int]], n: int):
        """The full vector of ``n`` values from every rank's ``local`` values at ``shares[rank]``.

        Only this rank's entries keep their graph (see module docstring). ``local`` of a rank
        with an empty share holds one dummy value that enters with weight zero.
        """
        import torch.distributed as dist

        m = max(1, max(len(s) for s in shares))
        buf = torch.zeros(m, device=local.device, dtype=local.dtype)
        buf[:len(local)] = local.detach()
        bufs = [torch.empty_like(buf) for _ in range(self.world)]
        dist.all_gather(bufs, buf)
        full = torch.zeros(n, device=local.device, dtype=local.dtype)
        for r, s in enumerate(shares):
            if s:
                full[torch.tensor(s, device=local.device)] = bufs[r][:len(s)]
        mine = shares[self.rank]
        if not mine:
            return full + local.sum() * 0.0
        return full.index_copy(0, torch.tensor(mine, device=local.device), local)

    def all_sum(self, x: float) -> float:
        import torch.distributed as dist

        t = torch.tensor([x], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item())

    def all_gather_objects(self, obj) -> list:
        import torch.distributed as dist

        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        import torch.distributed as dist

        if self.device.startswith("cuda"):
            dist.barrier(device_ids=[self.local_rank])
        else:
            dist.barrier()

    def close(self) -> None:
        import torch.distributed as dist

        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def deal(lengths: list[int], world: int) -> list[list[int]]:
    """Indices ``0..len(lengths)-1`` dealt to ``world`` ranks: longest first, round robin.

    Deterministic (ties keep index order), balanced in count and roughly in tokens;
    each share is sorted ascending.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [sorted(order[r::world]) for r in range(world)]


def setup(device: str = "auto") -> DistContext:
    """Join (or initialise) the process group of this rank; pick its device and backend."""
    import torch.distributed as dist

    world = env_world_size()
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda asked for, but torch sees no CUDA device")
        if local >= torch.cuda.device_count():
            raise ConfigError(f"rank {rank} wants cuda:{local} but only {torch.cuda.device_count()} GPU(s) are visible")
        torch.cuda.set_device(local)
        dev, backend = f"cuda:{local}", "nccl"
    else:
        dev, backend = "cpu", "gloo"
    owns = False
    if not dist.is_initialized():
        init = os.environ.get("COSTTUNE_DIST_INIT", "env://")
        kw = {"device_id": torch.device(dev)} if use_cuda else {}
        dist.init_process_group(backend, init_method=init, rank=rank, world_size=world, timeout=TIMEOUT, **kw)
        owns = True
    elif dist.get_world_size() != world:
        raise ConfigError(f"the process group has {dist.get_world_size()} ranks, WORLD_SIZE says {world}")
    log.info("rank %d/%d on %s (%s)", rank, world, dev, backend)
    return DistContext(rank, world, local, dev, backend, owns)


class LocalScorer(nn.Module):
    """What DDP wraps for the rank head: one forward scores all of this rank's chunks."""

    def __init__(self, net, pad_id: int, device: str):
        super().__init__()
        self.net = net
        self.pad_id = pad_id
        self.device = device

    def forward(self, chunks: list[list[int]]) -> torch.Tensor:
        return self.net.score_chunks(chunks, self.pad_id, self.device)


class RowLoss(nn.Module):
    """What DDP wraps for pairwise-sft: summed next-token cross-entropy of some rows."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, x: torch.Tensor, m: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = self.lm(input_ids=x, attention_mask=m).logits.float()
        return nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), y[:, 1:].reshape(-1),
                                           ignore_index=-100, reduction="sum")


# ----------------------------------------------------------------------------- spawning

def _worker(rank: int, world: int, tmp: str, fn, args: tuple, kwargs: dict) -> None:
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
                       "LOCAL_WORLD_SIZE": str(world),
                       "COSTTUNE_DIST_INIT": f"file://{tmp}/store"})
    _die_with_parent()
    try:
        res = fn(*args, **kwargs)
    except BaseException as e:  # report to the parent, then fail this process (spawn stops the others)
        (Path(tmp) / f"error-{rank}.json").write_text(json.dumps(
            {"type": type(e).__name__, "module": type(e).__module__, "message": str(e).splitlines()[0] if str(e) else ""}))
        raise
    if rank == 0:
        (Path(tmp) / "result.json").write_text(json.dumps(res.to_dict() if hasattr(res, "to_dict") else res))


def _die_with_parent() -> None:
    """Linux: this worker gets SIGKILL when the launching process dies (no orphaned ranks)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn(world: int, fn, args: tuple = (), kwargs: dict | None = None) -> dict:
    """Run ``fn(*args, **kwargs)`` in ``world`` fresh processes (ranks 0..world-1); rank 0's result.

    ``fn`` must be importable (a module-level function) and return an object with
    ``to_dict()`` or a JSON-able value; the dict comes back. A worker's
    :class:`CostTuneError` is raised again here with its class and message.
    """
    import torch.multiprocessing as mp

    import costtune.errors as errors

    with tempfile.TemporaryDirectory(prefix="costtune-ddp-") as tmp:
        log.info("spawning %d training processes", world)
        try:
            mp.spawn(_worker, args=(world, tmp, fn, args, kwargs or {}), nprocs=world, join=True)
        except Exception as e:  # noqa: BLE001 - ProcessRaisedException / ProcessExitedException
            for f in sorted(Path(tmp).glob("error-*.json")):
                info = json.loads(f.read_text())
                cls = getattr(errors, info["type"], None)
                if info["module"] == errors.__name__ and isinstance(cls, type) and issubclass(cls, CostTuneError):
                    raise cls(info["message"]) from None
                raise CostTuneError(f"training rank {f.stem.split('-')[1]} failed: {info['type']}: "
                                    f"{info['message']}") from None
            raise CostTuneError(f"a training process died: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        return json.loads((Path(tmp) / "result.json").read_text())
