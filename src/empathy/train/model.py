"""Base models and LoRA: build a MoE from a config or load one, attach adapters.

A fine-tuned model directory holds everything needed to generate:

    base/             the base weights when they were built from a config
    base_model.json   where the base comes from (config-built or a hub id/path)
    adapter/          the PEFT LoRA adapter
    tokenizer/        the tokenizer with its chat template

Transformers 5 stores MoE experts as fused 3-D parameters, which LoRA reaches
only through PEFT `target_parameters`; `apply_lora` checks that every
requested target exists so an adapter can never silently skip the experts.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

from empathy.config import LoraSettings, ModelConfig
from empathy.errors import UserError


def architecture_config(cfg: ModelConfig, vocab_size: int | None = None, pad_id: int | None = None,
                        eos_id: int | None = None):
    """The transformers config for `cfg`'s shape: what a config-built base is made from, and what a pretrained
    preset's shape fields describe (the preset test builds it on the meta device to count parameters)."""
    common = dict(
        vocab_size=vocab_size or cfg.vocab_size,
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_key_value_heads,
        head_dim=cfg.attention_head_dim,
        max_position_embeddings=cfg.max_position_embeddings,
        num_experts_per_tok=cfg.experts_per_token,
        router_aux_loss_coef=cfg.router_aux_loss_coef,
        output_router_logits=True,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    if cfg.rope_scaling:
        common["rope_scaling"] = dict(cfg.rope_scaling)
    if cfg.architecture == "mixtral":
        from transformers import MixtralConfig

        return MixtralConfig(intermediate_size=cfg.intermediate_size, num_local_experts=cfg.num_experts, **common)
    if cfg.architecture == "qwen2_moe":
        from transformers import Qwen2MoeConfig

        return Qwen2MoeConfig(
            intermediate_size=cfg.dense_intermediate_size or cfg.intermediate_size,
            moe_intermediate_size=cfg.intermediate_size,
            shared_expert_intermediate_size=cfg.shared_expert_intermediate_size, num_experts=cfg.num_experts,
            decoder_sparse_step=1, **common,
        )
    if cfg.architecture == "qwen3_moe":
        from transformers import Qwen3MoeConfig

        return Qwen3MoeConfig(
            intermediate_size=cfg.dense_intermediate_size or cfg.intermediate_size,
            moe_intermediate_size=cfg.intermediate_size, num_experts=cfg.num_experts, decoder_sparse_step=1,
            **common,
        )
    from transformers import OlmoeConfig

    return OlmoeConfig(intermediate_size=cfg.intermediate_size, num_experts=cfg.num_experts, **common)


# where each shape field lives in a checkpoint's config.json, per family
_SHAPE_KEYS = {"hidden_size": "hidden_size", "num_layers": "num_hidden_layers",
               "num_attention_heads": "num_attention_heads", "num_key_value_heads": "num_key_value_heads",
               "experts_per_token": "num_experts_per_tok", "vocab_size": "vocab_size"}


def check_pretrained_shape(cfg: ModelConfig, hf_config) -> None:
    """The preset's shape fields must describe the checkpoint: the planner sized memory and time from them."""
    keys = dict(_SHAPE_KEYS, num_experts="num_local_experts" if cfg.architecture == "mixtral" else "num_experts")
    wrong = []
    for field, key in keys.items():
        ours, theirs = getattr(cfg, field), getattr(hf_config, key, None)
        if ours is not None and theirs is not None and ours != theirs:
            wrong.append(f"model.{field} is {ours}, the checkpoint's {key} is {theirs}")
    if wrong:
        raise UserError(f"training preset does not describe {cfg.name_or_path}: " + "; ".join(wrong))


def build_base_model(cfg: ModelConfig, tokenizer: PreTrainedTokenizerFast, seed: int,
                     dtype: torch.dtype | None = None) -> torch.nn.Module:
    """A randomly initialised MoE from the config, or pretrained weights."""
    if cfg.source == "pretrained":
        from transformers import AutoConfig

        hf_config = AutoConfig.from_pretrained(cfg.name_or_path)
        check_pretrained_shape(cfg, hf_config)
        extra = {"output_router_logits": True, "router_aux_loss_coef": cfg.router_aux_loss_coef}
        if cfg.rope_scaling:
            extra["rope_scaling"] = dict(cfg.rope_scaling)
        if cfg.attn_implementation:
            extra["attn_implementation"] = cfg.attn_implementation
        dtype = dtype or (torch.bfloat16 if torch.cuda.is_available() else torch.float32)
        return AutoModelForCausalLM.from_pretrained(cfg.name_or_path, dtype=dtype, **extra)
    torch.manual_seed(seed)
    config = architecture_config(cfg, len(tokenizer), tokenizer.pad_token_id, tokenizer.eos_token_id)
    if cfg.attn_implementation:
        config._attn_implementation = cfg.attn_implementation
    return AutoModelForCausalLM.from_config(config)


ROUTER_PARAMETER = "mlp.gate.weight"
SHARED_EXPERT_MODULES = ["shared_expert.gate_proj", "shared_expert.up_proj", "shared_expert.down_proj"]


def lora_targets(lora: LoraSettings) -> tuple[list[str], list[str]]:
    """(target_modules, target_parameters) with the router and shared experts added when asked for."""
    modules = [*lora.target_modules, *(SHARED_EXPERT_MODULES if lora.shared_experts else [])]
    parameters = [*lora.target_parameters, *([ROUTER_PARAMETER] if lora.router else [])]
    return modules, parameters


def apply_lora(model: torch.nn.Module, lora: LoraSettings) -> PeftModel:
    """Wrap with PEFT after checking every target exists, so an adapter can never silently skip the experts.

    PEFT's ParamWrapper (expert and router parameters) rejects dropout, so the adapter is built without it and
    `lora.dropout` is then set on the Linear (attention, shared expert) adapters only.
    """
    target_modules, target_parameters = lora_targets(lora)
    names = [n for n, _ in model.named_parameters()]
    for target in target_parameters:
        if not any(n.endswith(target) for n in names):
            raise UserError(f"LoRA target parameter {target!r} not found in the model (its experts may be named differently)")
    modules = [n for n, _ in model.named_modules()]
    for target in [*target_modules, *lora.modules_to_save]:
        if not any(n == target or n.endswith("." + target) for n in modules):
            raise UserError(f"LoRA target module {target!r} not found in the model")
    peft_config = LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=0.0,
        target_modules=target_modules or None,
        target_parameters=target_parameters or None,
        modules_to_save=lora.modules_to_save or None,
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, peft_config)
    if lora.dropout:
        from peft.tuners.lora.layer import Linear as LoraLinear

        for module in peft_model.modules():
            if isinstance(module, LoraLinear):
                for adapter in module.lora_dropout:
                    module.lora_dropout[adapter] = torch.nn.Dropout(lora.dropout)
    return peft_model


def save_finetuned(
    model: PeftModel, tokenizer: PreTrainedTokenizerFast, cfg: ModelConfig, out_dir: str | Path,
    base_snapshot: Path | None = None, state_dict: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write adapter, tokenizer and base reference; config-built bases are copied from their snapshot.

    `state_dict` is the model's gathered weights when they are sharded (FSDP)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out / "adapter", state_dict=state_dict)
    tokenizer.save_pretrained(out / "tokenizer")
    if cfg.source == "config":
        if base_snapshot is None:
            raise ValueError("a config-built base model needs its pre-LoRA snapshot to be saved")
        shutil.copytree(base_snapshot, out / "base", dirs_exist_ok=True)
        base = {"source": "config", "path": "base"}
    else:
        base = {"source": "pretrained", "name_or_path": cfg.name_or_path}
    (out / "base_model.json").write_text(json.dumps(base, indent=2) + "\n")
    return out


def read_base_meta(model_dir: str | Path) -> dict:
    """base_model.json of a fine-tuned model directory; a UserError if it is not one."""
    meta_path = Path(model_dir) / "base_model.json"
    if not meta_path.is_file():
        raise UserError(f"model directory {model_dir}: base_model.json not found (not a fine-tuned model directory)")
    return json.loads(meta_path.read_text())


def load_finetuned(model_dir: str | Path, device: str | None = None,
                   merge: bool = True) -> tuple[torch.nn.Module, PreTrainedTokenizerFast]:
    """The base model with its adapter and the tokenizer, ready for inference.

    By default the adapter is merged into the base weights: the same outputs
    (to float rounding) at half the per-token cost on CPU, since unmerged
    expert LoRA recomputes its weight delta on every forward pass.
    """
    root = Path(model_dir)
    meta = read_base_meta(root)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    base_path = root / meta["path"] if meta["source"] == "config" else meta["name_or_path"]
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype)
    model = PeftModel.from_pretrained(base, root / "adapter")
    if merge:
        model = model.merge_and_unload()
    # router logits only feed the training-time load-balancing loss
    model.config.output_router_logits = False
    tokenizer = PreTrainedTokenizerFast.from_pretrained(root / "tokenizer")
    model.to(device).eval()
    return model, tokenizer
