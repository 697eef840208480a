"""Data-parallel training over several processes (PyTorch DistributedDataParallel).

Launch with ``torchrun --nproc_per_node N --no-python mattebox train CONFIG`` (or any
launcher that sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT). Each process trains on its
own share of every global batch; DDP averages the gradients so all processes take the same
step. The backend is NCCL on CUDA devices and gloo on the CPU. Without those variables (or
with WORLD_SIZE=1) training runs in one process and nothing here does anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Process:
    """Where this process sits in the run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(spec: str, local_rank: int = 0) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (CUDA when available); ``cuda`` picks the local rank's GPU."""
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            from ..errors import InputError

            raise InputError("device 'cuda' asked for but no CUDA GPU is available; use --device cpu")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def setup(device_spec: str = "cpu") -> Process:
    """Join the process group when launched by torchrun; return this process's place."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    device = resolve_device(device_spec, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return Process(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def wrap(model: torch.nn.Module, process: Process, find_unused_parameters: bool = False) -> torch.nn.Module:
    """``model`` wrapped in DDP when the run has several processes, else ``model`` itself."""
    if not process.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [process.device.index] if process.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids,
                                   find_unused_parameters=find_unused_parameters)


def barrier(process: Process) -> None:
    if process.distributed:
        dist.barrier()


def mean_over_processes(value: float, process: Process) -> float:
    """The mean of ``value`` over all processes (``value`` itself in a single process)."""
    if not process.distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=process.device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / process.world_size


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
