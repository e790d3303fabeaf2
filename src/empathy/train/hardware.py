"""Accelerators the planner sizes runs for and the trainer measures MFU against.

Each entry is a spec-sheet figure: dense bf16 tensor-core peak (no 2:4
sparsity) and memory in GB (10^9 bytes). A device reports a few percent more
memory than its spec sheet (an H100 80GB shows about 79 GiB, 85 GB), so plans
made with these figures err on the safe side.

    from empathy.train.hardware import ACCELERATORS, accelerator_for
    ACCELERATORS["H100-80GB"].peak_bf16_flops           # 989.4e12
    accelerator_for(torch.cuda.get_device_name(0))      # None on an unknown device
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Accelerator:
    name: str
    peak_bf16_flops: float
    memory_bytes: int


ACCELERATORS: dict[str, Accelerator] = {a.name: a for a in (
    Accelerator("H100-80GB", 989.4e12, 80 * 10**9),    # SXM5
    Accelerator("H100-PCIe", 756.0e12, 80 * 10**9),
    Accelerator("H200", 989.4e12, 141 * 10**9),        # SXM; the NVL card is slower and not listed
    Accelerator("A100-80GB", 312.0e12, 80 * 10**9),
    Accelerator("A100-40GB", 312.0e12, 40 * 10**9),
    Accelerator("L40S", 362.05e12, 48 * 10**9),
    Accelerator("L4", 121.0e12, 24 * 10**9),
)}

# (words the device name must contain, words it must not, table entry), first match wins. Whole words, so that
# "L4" does not match "L40S" and a variant with other figures (H100 NVL, H200 NVL, L40) matches nothing.
_NAME_RULES: tuple[tuple[frozenset[str], frozenset[str], str], ...] = (
    (frozenset({"H200"}), frozenset({"NVL"}), "H200"),
    (frozenset({"H100", "PCIE"}), frozenset(), "H100-PCIe"),
    (frozenset({"H100"}), frozenset({"NVL"}), "H100-80GB"),
    (frozenset({"A100", "80GB"}), frozenset(), "A100-80GB"),
    (frozenset({"A100", "40GB"}), frozenset(), "A100-40GB"),
    (frozenset({"L40S"}), frozenset(), "L40S"),
    (frozenset({"L4"}), frozenset(), "L4"),
)


def accelerator_for(device_name: str) -> Accelerator | None:
    """The entry for a torch device name ("NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB"); None if unknown or CPU."""
    words = set(device_name.upper().replace("-", " ").replace("_", " ").split())
    for required, excluded, key in _NAME_RULES:
        if required <= words and not excluded & words:
            return ACCELERATORS[key]
    return None
