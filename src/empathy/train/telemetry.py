"""System metrics logged beside the loss while training runs: MFU, GPU memory and utilisation, CPU and RAM.

MFU is achieved training FLOP/s over the accelerators' peak bf16 FLOP/s
(`empathy.train.hardware`), with the planner's FLOPs per token; it is left out
on CPU and on devices the table does not know. GPU utilisation comes from NVML
(`nvidia-ml-py`, in the GPU image) where it is importable.
"""

from __future__ import annotations

import os

import psutil
import torch


class SystemSampler:
    def __init__(self, device: str):
        self.device = device
        self.process = psutil.Process(os.getpid())
        self.process.cpu_percent(None)  # the first call only starts the measurement
        self.nvml = None
        if device.startswith("cuda"):
            try:
                import pynvml

                pynvml.nvmlInit()
                index = torch.device(device).index or 0
                self.nvml = (pynvml, pynvml.nvmlDeviceGetHandleByIndex(index))
            except Exception:  # NVML missing or no driver access: memory from torch still works
                self.nvml = None

    def sample(self) -> dict[str, float]:
        out = {
            "system_cpu_percent": self.process.cpu_percent(None),
            "system_ram_gb": self.process.memory_info().rss / 2**30,
            "system_ram_percent": psutil.virtual_memory().percent,
        }
        if self.device.startswith("cuda"):
            out["gpu_memory_allocated_gb"] = torch.cuda.memory_allocated(self.device) / 2**30
            out["gpu_memory_reserved_gb"] = torch.cuda.memory_reserved(self.device) / 2**30
            out["gpu_memory_peak_gb"] = torch.cuda.max_memory_allocated(self.device) / 2**30
            if self.nvml:
                pynvml, handle = self.nvml
                out["gpu_utilization_percent"] = float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        return out


def device_peak_flops(device: str) -> float | None:
    """Peak bf16 FLOP/s of one accelerator of this process, or None (CPU, unknown device)."""
    if not device.startswith("cuda"):
        return None
    from empathy.train.hardware import accelerator_for

    accelerator = accelerator_for(torch.cuda.get_device_name(device))
    return accelerator.peak_bf16_flops if accelerator else None
