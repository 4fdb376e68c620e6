"""Process-group plumbing for torchrun (PyTorch DDP); a single process when WORLD_SIZE is unset or 1."""

from __future__ import annotations

import os

import torch
import torch.distributed as torch_distributed


class Distributed:
    """This process's rank and device, and the few collective operations the trainer needs."""

    def __init__(self, requested_device: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device(requested_device)
        if self.world > 1:
            if device.type == "cuda":
                device = torch.device("cuda", local)
                torch.cuda.set_device(device)
            torch_distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        self.device = device

    @property
    def main(self) -> bool:
        """Rank 0: the one process that logs, validates, keeps the EMA and writes checkpoints."""
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module to run forward passes through: DDP (gradients averaged over ranks) when there are several."""
        if self.world == 1:
            return model
        return torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def any(self, flag: bool) -> bool:
        """True on every rank when the flag is true on any rank (so all ranks skip or stop together)."""
        if self.world == 1:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        torch_distributed.all_reduce(value, op=torch_distributed.ReduceOp.MAX)
        return bool(value.item())

    def check_in_sync(self, model: torch.nn.Module) -> None:
        """Every rank must end with the same weights; a divergence is a bug worth stopping for."""
        if self.world == 1:
            return
        local = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1).to(self.device)
        gathered = [torch.zeros_like(local) for _ in range(self.world)]
        torch_distributed.all_gather(gathered, local)
        if any(float(g) != float(local) for g in gathered):
            raise SystemExit(f"ranks diverged: parameter checksums {[float(g) for g in gathered]}")

    def close(self) -> None:
        if self.world > 1:
            torch_distributed.barrier()
            torch_distributed.destroy_process_group()
