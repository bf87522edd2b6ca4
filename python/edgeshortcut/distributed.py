"""The process group: who this rank is, and collective agreement on errors so that bad input stops
every rank with the same message instead of leaving the healthy ones waiting in a collective.

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE and the rendezvous variables; a plain
`python3 train.py` is one process with no process group at all. Backend: nccl when CUDA is
available (one GPU per local rank), gloo on CPU.
"""
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import UsageError


@dataclass(frozen=True)
class Dist:
    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    device: torch.device
    backend: str

    @property
    def is_main(self):
        return self.rank == 0

    @property
    def active(self):
        return self.world_size > 1


def init():
    """Joins the process group torchrun describes (if it has more than one process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    cuda = torch.cuda.is_available()
    backend = "nccl" if cuda else "gloo"
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group(backend=backend)
    return Dist(rank, world, local_rank, local_world, device, backend)


def shutdown(d):
    if d.active and dist.is_initialized():
        dist.destroy_process_group()


def agree(d, action):
    """Runs action() on every rank; if it raised on any rank, raises on every rank: the rank's own
    error where it had one, else a UsageError naming the failed rank and its message. Returns
    action()'s result when all ranks succeeded."""
    try:
        result, error = action(), None
    except Exception as e:   # noqa: BLE001 - every failure must reach the other ranks
        result, error = None, e
    if not d.active:
        if error is not None:
            raise error
        return result
    report = None if error is None else (type(error).__name__, str(error), isinstance(error, UsageError))
    reports = [None] * d.world_size
    dist.all_gather_object(reports, report)
    if error is not None:
        raise error
    failed = [(r, rep) for r, rep in enumerate(reports) if rep is not None]
    if failed:
        r, (kind, message, usage) = failed[0]
        text = f"stopped because rank {r} failed: {message}"
        raise UsageError(text) if usage else RuntimeError(f"{text} ({kind})")
    return result


def sum_all(d, values):
    """Element-wise sum over ranks of a list of floats (float64), returned as a list."""
    t = torch.tensor(values, dtype=torch.float64, device=d.device if d.backend == "nccl" else "cpu")
    if d.active:
        dist.all_reduce(t)
    return t.tolist()
