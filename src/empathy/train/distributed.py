"""The process group a training run belongs to, read from what torchrun sets.

Kubeflow Trainer's torch runtime starts `torchrun` on every node, which sets
RANK, LOCAL_RANK and WORLD_SIZE; one process per GPU. On CPU the same code
runs under `torchrun --nproc_per_node 2` with gloo, which is how the tests
prove the distributed path. A single process (no WORLD_SIZE) needs no group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_environment(cls) -> "DistEnv":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        env = cls(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), world)
        if not dist.is_initialized():
            if torch.cuda.is_available():
                torch.cuda.set_device(env.local_rank)
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return env

    def device(self) -> str:
        return f"cuda:{self.local_rank}" if torch.cuda.is_available() else "cpu"

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over all ranks (identity in one process)."""
        if not self.active:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device())
        dist.all_reduce(t)
        return t.tolist()

    def max(self, value: int) -> int:
        if not self.active:
            return value
        t = torch.tensor([value], dtype=torch.long, device=self.device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return int(t.item())

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()
