"""The training planner (`empathy train plan`) against the models it sizes.

Parameter counts must equal the real models': a PEFT model built by the
project's own code for the tiny preset and for small models of every
architecture (LoRA on attention, experts, router and shared expert), and the
meta-device model of each H100 preset. Training FLOPs per token must equal
what torch's FLOP counter measures on a real forward and backward. The plan
must say plainly when a run does not fit the GPUs or the 12-hour window, and
the CLI must print it as a table and as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from empathy.config import LoraSettings, ModelConfig, TrainConfig, load_train_config
from empathy.errors import UserError
from empathy.train.hardware import ACCELERATORS, accelerator_for
from empathy.train.plan import (
    count_parameters,
    flops_breakdown,
    flops_per_token,
    format_plan,
    plan_run,
)

REPO = Path(__file__).resolve().parents[2]
PRESETS = REPO / "configs" / "train"
H100_PRESETS = ["qwen3-30b-a3b-lora-h100", "mixtral-8x7b-lora-h100", "olmoe-1b-7b-lora-h100"]
ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
EXPERTS = ["mlp.experts.gate_up_proj", "mlp.experts.down_proj"]


def preset(name: str):
    return load_train_config(PRESETS / f"{name}.yaml")


def small_model(architecture: str, **shape) -> ModelConfig:
    extra = {"qwen2_moe": {"shared_expert_intermediate_size": 48}, "qwen3_moe": {"head_dim": 24}}.get(architecture, {})
    fields = dict(hidden_size=64, intermediate_size=32, num_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  num_experts=4, experts_per_token=2, vocab_size=1000)
    return ModelConfig(architecture=architecture, **{**fields, **extra, **shape})


def peft_counts(model_cfg: ModelConfig, lora: LoraSettings, vocab_size: int | None = None) -> tuple[int, int]:
    from transformers import AutoModelForCausalLM

    from empathy.train.model import apply_lora, architecture_config

    model = apply_lora(AutoModelForCausalLM.from_config(architecture_config(model_cfg, vocab_size=vocab_size)), lora)
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def test_tiny_preset_counts_equal_its_peft_model():
    cfg = preset("tiny-moe-cpu")
    vocab = cfg.tokenizer.vocab_size
    counts = count_parameters(cfg.model, cfg.lora, vocab)
    total, trainable = peft_counts(cfg.model, cfg.lora, vocab)
    assert (counts.peft_model, counts.trainable) == (total, trainable)
    # the figures docs/training.md gives for the demo run
    assert (counts.peft_model, counts.trainable) == (1_990_272, 591_872)
    assert counts.lora == {"attention": 14_336, "experts": 65_536} and counts.modules_to_save == 512_000


@pytest.mark.parametrize("architecture", ["mixtral", "qwen2_moe", "qwen3_moe", "olmoe"])
def test_router_and_shared_expert_adapters_equal_peft(architecture):
    # apply_lora reaches the router through target_parameters and the shared expert through target_modules; the
    # planner's lora.router / lora.shared_experts flags must count the same adapters
    model_cfg = small_model(architecture)
    shared = architecture == "qwen2_moe"
    planned = LoraSettings(r=4, target_parameters=EXPERTS, router=True, shared_experts=shared)
    built = LoraSettings(r=4, target_modules=ATTENTION + (["gate_proj", "up_proj", "down_proj"] if shared else []),
                         target_parameters=[*EXPERTS, "mlp.gate.weight"])
    counts = count_parameters(model_cfg, planned)
    assert (counts.peft_model, counts.trainable) == peft_counts(model_cfg, built)
    assert counts.lora["router"] == 2 * 4 * (64 + 4)


@pytest.mark.parametrize("name", H100_PRESETS)
def test_h100_preset_totals_equal_the_meta_device_model(name):
    import torch
    from transformers import AutoModelForCausalLM

    from empathy.train.model import architecture_config

    cfg = preset(name)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(architecture_config(cfg.model))
    assert count_parameters(cfg.model, cfg.lora).total == sum(p.numel() for p in model.parameters())


def test_active_parameters_leave_out_the_unrouted_experts():
    counts = count_parameters(preset("mixtral-8x7b-lora-h100").model, preset("mixtral-8x7b-lora-h100").lora)
    # Mixtral's own figures: 46.7 B in all, 12.9 B active per token (2 of 8 experts)
    assert round(counts.total / 1e9, 1) == 46.7 and round(counts.active_per_token / 1e9, 1) == 12.9


def measured_flops_per_token(model_cfg: ModelConfig, lora: LoraSettings | None, checkpointing: bool,
                             batch: int = 4, seq_len: int = 128) -> float:
    """torch's FLOP counter over one forward and backward; eager kernels, which it can see into."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import AutoModelForCausalLM

    from empathy.train.model import apply_lora, architecture_config

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(architecture_config(model_cfg), attn_implementation="eager",
                                             experts_implementation="eager")
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if lora:
        model = apply_lora(model, lora)
    model.train()
    ids = torch.randint(0, model_cfg.vocab_size, (batch, seq_len))
    with FlopCounterMode(display=False) as counter:
        model(input_ids=ids, labels=ids).loss.backward()
    return counter.get_total_flops() / (batch * seq_len)


# modules_to_save embed_tokens makes the embeddings' output need a gradient, so that backward reaches every layer's
# input as in a real run (where that is true from layer 1 on) instead of skipping layer 0's
@pytest.mark.parametrize("case, lora, checkpointing, tolerance", [
    ("full fine-tuning", None, False, 0.0),
    ("full fine-tuning, checkpointed", None, True, 0.0),
    ("LoRA on attention", LoraSettings(r=8, target_parameters=[], modules_to_save=["embed_tokens"]), False, 0.0),
    # PEFT folds W + B A once per forward, a cost per micro-batch the per-token figure leaves out (~1% here)
    ("LoRA on experts", LoraSettings(r=8, target_modules=[], modules_to_save=["embed_tokens"]), False, 0.02),
])
def test_flops_per_token_equal_the_flop_counter(case, lora, checkpointing, tolerance):
    model_cfg = small_model("mixtral", num_layers=3)
    planned = flops_per_token(model_cfg, lora, 128, checkpointing)
    assert planned == pytest.approx(measured_flops_per_token(model_cfg, lora, checkpointing), rel=tolerance, abs=1)


def test_lora_on_a_frozen_base_is_two_thirds_of_full_fine_tuning():
    cfg = preset("qwen3-30b-a3b-lora-h100")
    attention_only = cfg.lora.model_copy(update={"target_parameters": []})
    full = flops_breakdown(cfg.model, None, 4096, False)
    lora = flops_breakdown(cfg.model, attention_only, 4096, False)
    # weight matmuls: forward + input gradient, against forward + input gradient + weight gradient
    assert lora.training - 3 * (lora.adapters + lora.attention) == pytest.approx(
        2 / 3 * (full.training - 3 * full.attention))
    short = flops_breakdown(cfg.model, attention_only, 16, False).training / flops_breakdown(
        cfg.model, None, 16, False).training
    assert short == pytest.approx(2 / 3, rel=0.01)
    # PEFT's target_parameters fold the adapter into the expert weights, whose gradient is then computed in full
    as_run = flops_breakdown(cfg.model, cfg.lora, 4096, False)
    assert as_run.trained == pytest.approx(2 * 48 * 8 * 3 * 2048 * 768)
    assert as_run.training > lora.training


def test_the_planner_reports_what_the_table_prints():
    plan = plan_run(preset("olmoe-1b-7b-lora-h100"), 8000, source="olmoe")
    assert plan.tokens.trained == round(8000 * plan.tokens.per_conversation) * 2
    assert plan.total_flops == pytest.approx(plan.flops_per_token["lora_as_run"].training * plan.tokens.processed)
    # the preset's measured MFU (one H200, benchmarks/bench_gpu.py), not the 0.30 assumption
    assert plan.mfu == 0.24 and plan.mfu_source.startswith("measured")
    expected_hours = plan.total_flops / (1 * 989.4e12 * 0.24) / 3600
    assert plan.hours == pytest.approx(expected_hours)
    mem = plan.memory
    assert mem.total == mem.weights + mem.adapters + mem.optimizer + mem.activations + mem.layer_working_set + \
        mem.overhead
    assert mem.weights == plan.parameters.total * 2
    assert mem.total <= 0.85 * mem.capacity     # auto batch keeps memory_headroom free
    text = format_plan(plan)
    assert "fits in memory" in text and "finishes in the window" in text and f"{plan.micro_batch}" in text


def test_mfu_comes_from_the_flag_then_the_preset_then_the_assumption():
    qwen = preset("qwen3-30b-a3b-lora-h100")
    assert (plan_run(qwen, 8000).mfu, plan_run(qwen, 8000, mfu=0.5).mfu) == (0.20, 0.5)
    assert plan_run(qwen, 8000, mfu=0.5).mfu_source == "given (--mfu)"
    mixtral = plan_run(preset("mixtral-8x7b-lora-h100"), 8000)   # several GPUs: not measured here
    assert (mixtral.mfu, mixtral.mfu_source) == (0.30, "assumed, not measured")
    assert "MFU 0.20, measured" in format_plan(plan_run(qwen, 8000))
    with pytest.raises(ValidationError, match="measured_mfu"):
        TrainConfig.model_validate({"measured_mfu": 1.5})


def test_mixtral_on_one_gpu_with_ddp_does_not_fit():
    cfg = preset("mixtral-8x7b-lora-h100")
    ddp = cfg.model_copy(update={"distributed": cfg.distributed.model_copy(update={"strategy": "ddp"})})
    plan = plan_run(ddp, 8000, gpus=1)
    assert not plan.fits_memory and plan.memory.total > plan.memory.capacity
    assert plan.memory.weights == plan.parameters.total * 2   # a full bf16 copy: 93 GB on an 80 GB GPU
    assert plan.verdict[0].startswith("does not fit: ") and "80.0 GB" in plan.verdict[0]
    assert any("fsdp" in line for line in plan.verdict)
    # more GPUs do not help DDP, which keeps a full copy on each; FSDP over the same 16 would fit
    sixteen = plan_run(ddp, 8000, gpus=16)
    assert not sixteen.fits_memory and sixteen.gpus_to_fit == 16
    assert plan_run(cfg, 8000).fits_memory      # the preset as written: FSDP over 16


def test_fsdp_shards_weights_and_optimizer_state():
    cfg = preset("qwen3-30b-a3b-lora-h100").model_copy(update={"batch_size": "auto"})
    one, eight = plan_run(cfg, 8000, gpus=1), plan_run(cfg, 8000, gpus=8)
    assert one.memory.weights == pytest.approx(8 * eight.memory.weights, abs=8)
    assert one.memory.optimizer == pytest.approx(8 * eight.memory.optimizer, abs=8)
    assert one.micro_batch == 1 and not one.fits_memory


def test_a_run_that_cannot_finish_in_12_hours_says_so_and_what_would():
    cfg = preset("olmoe-1b-7b-lora-h100")
    plan = plan_run(cfg, 5_000_000, gpus=1)
    assert not plan.finishes and plan.hours > 12
    assert any(line.startswith("will not finish in 12 h") for line in plan.verdict)
    suggestion = f"with {plan.gpus_to_finish} GPUs, or with {plan.conversations_to_finish:,} conversations"
    assert suggestion in format_plan(plan)
    assert plan_run(cfg, 5_000_000, gpus=plan.gpus_to_finish).finishes
    assert not plan_run(cfg, 5_000_000, gpus=plan.gpus_to_finish - 1).finishes
    assert plan_run(cfg, plan.conversations_to_finish, gpus=1).finishes


def test_conversation_length_is_measured_from_chat_data(tmp_path):
    cfg = preset("olmoe-1b-7b-lora-h100")
    data = tmp_path / "train.jsonl"
    rows = [{"messages": [{"role": "user", "content": "x" * 400}, {"role": "assistant", "content": "y" * 800}]},
            {"messages": [{"role": "user", "content": "x" * 40}, {"role": "assistant", "content": "y" * 40}]}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plan = plan_run(cfg, 100, data=str(data))
    assert plan.tokens.per_conversation == pytest.approx(((1200 / 4 + 10) + (80 / 4 + 10)) / 2)
    assert str(data) in plan.tokens.source
    given = plan_run(cfg, 100, tokens_per_conversation=1000)
    assert given.tokens.trained == 100 * 1000 * cfg.epochs
    data.write_text(json.dumps(rows[0]) + "\n" + json.dumps({"text": "no messages"}) + "\n")
    with pytest.raises(UserError, match=r"train\.jsonl, line 2"):
        plan_run(cfg, 100, data=str(data))


def test_unpacked_runs_pay_for_padding():
    cfg = preset("olmoe-1b-7b-lora-h100")
    unpacked = plan_run(cfg.model_copy(update={"packing": False}), 8000, tokens_per_conversation=400)
    packed = plan_run(cfg, 8000, tokens_per_conversation=400)
    assert unpacked.tokens.trained == packed.tokens.trained
    assert unpacked.tokens.processed == pytest.approx(1.18 * packed.tokens.processed, rel=1e-6)


def test_bad_input_is_a_user_error_naming_it():
    cfg = preset("olmoe-1b-7b-lora-h100")
    unknown = cfg.model_copy(update={"distributed": cfg.distributed.model_copy(update={"gpu_type": "TPU-v5"})})
    with pytest.raises(UserError, match=r"olmoe\.yaml: distributed\.gpu_type 'TPU-v5' .*H100-80GB, H100-PCIe"):
        plan_run(unknown, 8000, source="olmoe.yaml")
    with pytest.raises(UserError, match="--conversations"):
        plan_run(cfg, 0)
    with pytest.raises(UserError, match="--mfu"):
        plan_run(cfg, 10, mfu=1.5)
    with pytest.raises(UserError, match="'gate' is not a Linear"):
        plan_run(cfg.model_copy(update={"lora": cfg.lora.model_copy(update={"target_modules": ["gate"]})}), 10)
    with pytest.raises(UserError, match="model.vocab_size"):
        flops_per_token(cfg.model.model_copy(update={"vocab_size": None}), cfg.lora, 4096, True)


@pytest.mark.parametrize("device_name, entry", [
    ("NVIDIA H100 80GB HBM3", "H100-80GB"), ("NVIDIA H100 PCIe", "H100-PCIe"), ("NVIDIA H200", "H200"),
    ("NVIDIA A100-SXM4-80GB", "A100-80GB"), ("NVIDIA A100-PCIE-40GB", "A100-40GB"), ("NVIDIA L40S", "L40S"),
    ("NVIDIA L4", "L4"), ("NVIDIA H100 NVL", None), ("NVIDIA L40", None), ("cpu", None), ("", None),
])
def test_accelerator_for_device_names(device_name, entry):
    found = accelerator_for(device_name)
    assert (found.name if found else None) == entry
    if entry:
        assert found is ACCELERATORS[entry]


def test_accelerator_table_figures():
    assert ACCELERATORS["H100-80GB"].peak_bf16_flops == 989.4e12 and ACCELERATORS["H200"].memory_bytes == 141e9
    assert ACCELERATORS["L4"].peak_bf16_flops == 121e12 and ACCELERATORS["A100-40GB"].memory_bytes == 40e9


def empathy(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("empathy")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "empathy.cli"]
    return subprocess.run([*command, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_cli_prints_the_plan_and_its_json():
    args = ["train", "plan", "--config", "configs/train/olmoe-1b-7b-lora-h100.yaml", "--conversations", "8000",
            "--gpus", "1"]
    table, as_json = empathy(*args), empathy(*args, "--json")
    assert table.returncode == 0, table.stderr
    assert "Verdict" in table.stdout and "fits in memory" in table.stdout and "1 x H100-80GB" in table.stdout
    assert as_json.returncode == 0, as_json.stderr
    plan = json.loads(as_json.stdout)
    assert plan["gpus"] == 1 and plan["fits_memory"] is True and plan["parameters"]["total"] == 6_919_161_856


def test_cli_train_still_trains_and_names_what_is_missing(tmp_path):
    missing = empathy("train", "--out", str(tmp_path / "model"))
    assert missing.returncode == 2 and "--data" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    no_data = empathy("train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "model"))
    assert no_data.returncode == 2 and "not found" in no_data.stderr
