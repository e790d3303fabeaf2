"""Every training preset in configs/train/ loads and describes a model that exists: the H100 presets' shape
fields rebuild (on the meta device, no download) a model with the published parameter count, every LoRA target is
found in it, the context fits, and the GPUs asked for can hold the weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from empathy.config import configs_dir, load_train_config
from empathy.train.hardware import ACCELERATORS
from empathy.train.model import architecture_config, apply_lora

PRESETS = sorted((configs_dir() / "train").glob("*.yaml"))
# parameter counts published with each checkpoint (model cards), in billions
PUBLISHED_BILLIONS = {
    "Qwen/Qwen3-30B-A3B": 30.5,
    "mistralai/Mixtral-8x7B-Instruct-v0.1": 46.7,
    "allenai/OLMoE-1B-7B-0924-Instruct": 6.9,
}


def test_the_issue_presets_exist():
    names = {p.name for p in PRESETS}
    assert {"tiny-moe-cpu.yaml", "qwen3-30b-a3b-lora-h100.yaml", "mixtral-8x7b-lora-h100.yaml",
            "olmoe-1b-7b-lora-h100.yaml"} <= names


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_loads_and_is_named_model_method_device(path: Path):
    cfg = load_train_config(path)
    model, method, device = path.stem.rsplit("-", 2)
    assert method in ("lora", "moe") and device in ("cpu", "h100")
    assert cfg.max_seq_len <= cfg.model.context_length
    if device == "cpu":
        assert cfg.model.source == "config" and cfg.distributed.world_size == 1
    else:
        assert cfg.model.source == "pretrained" and cfg.precision == "bf16"
        assert cfg.distributed.gpu_type in ACCELERATORS and cfg.checkpoint_dir and cfg.max_wall_hours <= 12


@pytest.mark.parametrize("path", [p for p in PRESETS if p.stem.endswith("h100")], ids=lambda p: p.stem)
def test_h100_preset_rebuilds_the_published_model_with_every_lora_target(path: Path):
    cfg = load_train_config(path)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(architecture_config(cfg.model))
        total = sum(p.numel() for p in model.parameters())
        assert total / 1e9 == pytest.approx(PUBLISHED_BILLIONS[cfg.model.name_or_path], rel=0.01)
        peft_model = apply_lora(model, cfg.lora)  # raises if a target is missing
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert any(".experts." in n for n in trainable), "LoRA does not reach the experts"
    assert any("self_attn" in n for n in trainable)
    # the bf16 weights must fit the GPUs: whole on each with DDP, sharded with FSDP
    gpu = ACCELERATORS[cfg.distributed.gpu_type]
    shards = cfg.distributed.world_size if cfg.distributed.strategy == "fsdp" else 1
    assert 2 * total / shards < 0.8 * gpu.memory_bytes
