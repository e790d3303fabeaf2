"""The training planner: will a preset fit the GPUs, and will it finish inside its wall-clock window?

A multi-GPU MoE run that runs out of memory at step 1, or is cut off by
`max_wall_hours` half way through an epoch, wastes a cluster slot. This sizes
the run before it is submitted, from the preset's shape fields alone (no
download, no GPU, no torch): tokens, parameters, training FLOPs, memory per GPU
and hours at a stated MFU, with a plain verdict on both limits.

    empathy train plan --config configs/train/qwen3-30b-a3b-lora-h100.yaml --conversations 8000 [--gpus 8]
                       [--tokens-per-conversation 400 | --data train.jsonl] [--mfu 0.3] [--json]

The trainer logs MFU with `flops_per_token`. Every figure and assumption is
explained in docs/training.md ("Planning a run").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from empathy.config import LoraSettings, ModelConfig, TrainConfig
from empathy.errors import UserError
from empathy.io import iter_jsonl_numbered
from empathy.train.hardware import ACCELERATORS, Accelerator

# An assumption, not a measurement: MoE training spends time that dense training does not (routing, small
# per-expert matmuls, FSDP communication). A preset's measured_mfu (benchmarks/bench_gpu.py) replaces it, --mfu
# replaces both.
DEFAULT_MFU = 0.30
DEFAULT_CHARS_PER_TOKEN = 4.0
# ChatML framing the tokenizer adds to each message: <|im_start|>, the role, a newline; <|im_end|>, a newline.
TEMPLATE_TOKENS_PER_MESSAGE = 5
# Counsel-chat (../shared/data/counsel_chat.csv, 2,129 answers) as the pairs stage makes them: question (title and
# text) 323 characters, answer 971, plus the default system prompt's 214: three messages of 1,508 characters.
COUNSEL_CHAT_CHARACTERS = 1508
COUNSEL_CHAT_MESSAGES = 3
# Length-bucketed batches measured 84.6% real tokens (docs/training.md): 1 / 0.846 - 1 positions of padding each.
UNPACKED_PADDING = 0.18
# CUDA context and kernels (~1 GB), NCCL buffers, allocator fragmentation.
OVERHEAD_BYTES = 3 * 10**9
# Per vocabulary entry and token at the loss: bf16 logits, their fp32 copy, the fp32 log-softmax kept for backward.
LOGITS_BYTES = 2 + 4 + 4
# AdamW keeps two fp32 moments per trainable parameter; PEFT keeps adapters (and their gradients) in fp32.
OPTIMIZER_BYTES = 2 * 4
ADAPTER_BYTES = 4 + 4
# The trainer's automatic batch size searches up to this (recipe.largest_batch_size).
AUTO_BATCH_LIMIT = 1024
FEW_STEPS = 100


@dataclass(frozen=True)
class _Weight:
    """One parameter tensor of each decoder layer (count = layers) or of the whole model (count = 1)."""

    name: str            # as the model names it, below model.layers.N for a layer's weights
    module: str          # the leaf module name that PEFT's target_modules and modules_to_save match
    part: str            # attention, experts, router, shared_expert, embeddings, norms
    count: int
    shape: tuple[int, ...]
    lora_module: bool = False   # a Linear or Embedding weight, which target_modules can adapt
    matmul: int = 0             # weight elements one token multiplies by (half its forward FLOPs)

    @property
    def params(self) -> int:
        return self.count * math.prod(self.shape)


def _linear(name: str, part: str, layers: int, in_features: int, out_features: int,
            bias: bool = False) -> list[_Weight]:
    module = name.rsplit(".", 1)[-1]
    weight = _Weight(f"{name}.weight", module, part, layers, (out_features, in_features), lora_module=True,
                     matmul=in_features * out_features)
    return [weight, _Weight(f"{name}.bias", module, part, layers, (out_features,))] if bias else [weight]


def _weights(m: ModelConfig, vocab: int) -> list[_Weight]:
    """Every parameter tensor of the transformers model `architecture_config(m)` builds (counts equal its own)."""
    h, layers, experts, width = m.hidden_size, m.num_layers, m.num_experts, m.intermediate_size
    hd = m.attention_head_dim
    q, kv = m.num_attention_heads * hd, m.num_key_value_heads * hd
    qkv_bias = m.architecture == "qwen2_moe"
    routed = m.experts_per_token / experts
    weights = [
        _Weight("model.embed_tokens.weight", "embed_tokens", "embeddings", 1, (vocab, h), lora_module=True),
        *_linear("lm_head", "embeddings", 1, h, vocab),
        _Weight("model.norm.weight", "norm", "norms", 1, (h,)),
        *_linear("self_attn.q_proj", "attention", layers, h, q, qkv_bias),
        *_linear("self_attn.k_proj", "attention", layers, h, kv, qkv_bias),
        *_linear("self_attn.v_proj", "attention", layers, h, kv, qkv_bias),
        *_linear("self_attn.o_proj", "attention", layers, q, h),
        _Weight("input_layernorm.weight", "input_layernorm", "norms", layers, (h,)),
        _Weight("post_attention_layernorm.weight", "post_attention_layernorm", "norms", layers, (h,)),
        _Weight("mlp.gate.weight", "gate", "router", layers, (experts, h), matmul=experts * h),
        _Weight("mlp.experts.gate_up_proj", "experts", "experts", layers, (experts, 2 * width, h),
                matmul=round(routed * experts * 2 * width * h)),
        _Weight("mlp.experts.down_proj", "experts", "experts", layers, (experts, h, width),
                matmul=round(routed * experts * h * width)),
    ]
    if m.architecture in ("qwen3_moe", "olmoe"):
        # Qwen3 normalises each head's q and k; OLMoE the whole q and k projections.
        q_norm, k_norm = (hd, hd) if m.architecture == "qwen3_moe" else (q, kv)
        weights += [_Weight("self_attn.q_norm.weight", "q_norm", "norms", layers, (q_norm,)),
                    _Weight("self_attn.k_norm.weight", "k_norm", "norms", layers, (k_norm,))]
    if m.architecture == "qwen2_moe":
        shared = m.shared_expert_intermediate_size
        weights += [*_linear("mlp.shared_expert.gate_proj", "shared_expert", layers, h, shared),
                    *_linear("mlp.shared_expert.up_proj", "shared_expert", layers, h, shared),
                    *_linear("mlp.shared_expert.down_proj", "shared_expert", layers, shared, h),
                    *_linear("mlp.shared_expert_gate", "shared_expert", layers, h, 1)]
    return weights


def _lora_factors(w: _Weight, r: int) -> int:
    """Parameters of a rank-r adapter on `w`: PEFT's ParamWrapper gives a 3-D [E, a, b] parameter one adapter per
    expert (lora_A Linear(a, r*E), lora_B Linear(r*E, b)); a Linear or Embedding [out, in] gets r * (in + out)."""
    experts = w.shape[0] if len(w.shape) == 3 else 1
    return w.count * r * experts * sum(w.shape[-2:])


@dataclass(frozen=True)
class _Targets:
    """Which weights LoRA adapts, and how, resolved against the model's real names as PEFT matches them."""

    adapted_modules: list[_Weight]   # unmerged adapters beside a Linear/Embedding: x W + x A B
    folded: list[_Weight]            # target_parameters: W + B A folded into the weight on every forward
    saved: list[_Weight]             # modules_to_save: trained in full beside a frozen original


def _adapter_flops(w: _Weight, r: int) -> int:
    """Forward FLOPs per token of x A B: a Linear [out, in] costs 2 r (in + out); an Embedding's A is a lookup."""
    rows, columns = w.shape
    return 2 * w.count * r * (columns + (0 if w.module == "embed_tokens" else rows))


def _targets(weights: list[_Weight], lora: LoraSettings, architecture: str) -> _Targets:
    # the shared expert's projections; its scalar gate (shared_expert_gate) stays as it is
    modules = set(lora.target_modules) | ({"gate_proj", "up_proj", "down_proj"} if lora.shared_experts else set())
    parameters = set(lora.target_parameters) | ({"mlp.gate.weight"} if lora.router else set())
    known_modules = {w.module for w in weights}
    for name in sorted(modules | set(lora.modules_to_save)):
        if name not in known_modules:
            raise UserError(f"lora: no module {name!r} in a {architecture} model "
                            f"(modules: {', '.join(sorted(known_modules))})")
    for name in sorted(modules):
        if not any(w.module == name and w.lora_module for w in weights):
            raise UserError(f"lora.target_modules: {name!r} is not a Linear or Embedding, which LoRA modules adapt "
                            "(reach expert and router weights through lora.target_parameters)")
    for name in sorted(parameters):
        if not any(w.name.endswith(name) and len(w.shape) > 1 for w in weights):
            raise UserError(f"lora.target_parameters: no weight {name!r} in a {architecture} model (weights: "
                            f"{', '.join(w.name for w in weights if len(w.shape) > 1 and not w.lora_module)})")
    return _Targets(
        adapted_modules=[w for w in weights if w.lora_module and w.module in modules],
        folded=[w for w in weights if len(w.shape) > 1 and any(w.name.endswith(p) for p in parameters)],
        saved=[w for w in weights if w.module in lora.modules_to_save],
    )


@dataclass(frozen=True)
class Parameters:
    total: int                    # the base model
    active_per_token: int         # everything but the experts a token is not routed to
    lora: dict[str, int]          # adapter parameters by part of the model
    modules_to_save: int          # trained in full beside the adapters
    trainable: int
    peft_model: int               # what the PEFT model holds: the base (saved modules' originals too) + trainable


def count_parameters(model: ModelConfig, lora: LoraSettings, vocab_size: int | None = None) -> Parameters:
    weights = _weights(model, _vocab(model, vocab_size))
    targets = _targets(weights, lora, model.architecture)
    total = sum(w.params for w in weights)
    experts = sum(w.params for w in weights if w.part == "experts")
    lora_by_part: dict[str, int] = {}
    for w in targets.adapted_modules + targets.folded:
        lora_by_part[w.part] = lora_by_part.get(w.part, 0) + _lora_factors(w, lora.r)
    saved = sum(w.params for w in targets.saved)
    trainable = sum(lora_by_part.values()) + saved
    active = total - experts + round(experts * model.experts_per_token / model.num_experts)
    return Parameters(total, active, lora_by_part, saved, trainable, total + trainable)


@dataclass(frozen=True)
class FlopsPerToken:
    """Forward FLOPs per token, split by what backward does with them, and the training total.

    Backward computes the input gradient of every matmul (1 x forward) and, for a weight that is trained, its weight
    gradient too (1 x more). LoRA on target_modules leaves the base weight frozen; LoRA on target_parameters folds
    the factors into the weight (W + B A) before the matmul, so that weight's gradient is computed in full.
    """

    frozen: float        # weight matmuls with no weight gradient
    trained: float       # weight matmuls whose weight gradient is computed
    adapters: float      # the unmerged adapters x A B
    attention: float     # attention scores, Q K^T and P V: no weights, both input gradients
    recompute: float     # gradient checkpointing runs every decoder layer's forward again in backward
    forward: float = field(init=False)
    training: float = field(init=False)

    def __post_init__(self) -> None:
        forward = self.frozen + self.trained + self.adapters + self.attention
        training = 2 * self.frozen + 3 * (self.trained + self.adapters + self.attention) + self.recompute
        object.__setattr__(self, "forward", forward)
        object.__setattr__(self, "training", training)


def attention_keys(model: ModelConfig, seq_len: int) -> float:
    """Keys each query is scored against: flash_attention_2 skips the causally masked half; sdpa and eager score
    the whole row whenever training batches carry a mask (padding, or packing's block-diagonal one)."""
    return seq_len / 2 if model.attn_implementation == "flash_attention_2" else float(seq_len)


def flops_breakdown(model: ModelConfig, lora: LoraSettings | None, seq_len: int,
                    gradient_checkpointing: bool) -> FlopsPerToken:
    """Training FLOPs per token; `lora` None is full fine-tuning. `seq_len` is the length a token attends within."""
    weights = _weights(model, _vocab(model))
    if lora:
        targets = _targets(weights, lora, model.architecture)
        trained_names = {w.name for w in targets.folded + targets.saved}
        adapter_flops = [(w.count, _adapter_flops(w, lora.r)) for w in targets.adapted_modules]
    else:
        trained_names, adapter_flops = {w.name for w in weights}, []
    trained = sum(2 * w.count * w.matmul for w in weights if w.name in trained_names)
    frozen = sum(2 * w.count * w.matmul for w in weights if w.name not in trained_names)
    adapters = sum(flops for _, flops in adapter_flops)
    heads = model.num_attention_heads * model.attention_head_dim
    attention = 2 * 2 * model.num_layers * heads * attention_keys(model, seq_len)
    # checkpoints wrap the decoder layers; the head (and the embedding lookup) run once
    recompute = 0.0
    if gradient_checkpointing:
        in_layers = sum(2 * w.count * w.matmul for w in weights if w.count == model.num_layers)
        recompute = in_layers + attention + sum(flops for count, flops in adapter_flops if count == model.num_layers)
    return FlopsPerToken(frozen, trained, adapters, attention, recompute)


def flops_per_token(model_cfg: ModelConfig, lora_cfg: LoraSettings | None, seq_len: int,
                    gradient_checkpointing: bool) -> float:
    """Training FLOPs per token as the GPU executes them (recompute included): the numerator of MFU."""
    return flops_breakdown(model_cfg, lora_cfg, seq_len, gradient_checkpointing).training


def _vocab(model: ModelConfig, vocab_size: int | None = None) -> int:
    vocab = vocab_size or model.vocab_size
    if not vocab:
        raise UserError("model.vocab_size is not set: a pretrained preset must give its checkpoint's vocabulary")
    return vocab


@dataclass(frozen=True)
class Tokens:
    conversations: int
    per_conversation: float       # mean tokens, each conversation cut at max_seq_len as the trainer cuts it
    source: str                   # where per_conversation comes from
    epochs: int
    trained: int                  # real tokens, all epochs
    processed: int                # positions the GPUs compute, padding included
    packed: bool
    rows_per_epoch: int           # packed rows, or conversations without packing
    row_length: int               # the longest micro-batch row, which sets peak memory


def conversation_tokens(path: str, chars_per_token: float, max_seq_len: int) -> tuple[float, str]:
    """Mean tokens per conversation of a chat JSONL ({"messages": [{"role", "content"}, ...]} lines)."""
    lengths, characters = [], 0
    for lineno, row in iter_jsonl_numbered(path, "chat examples"):
        messages = row.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) and isinstance(m.get("content"), str)
                                                     for m in messages):
            raise UserError(f"chat examples {path}, line {lineno}: expected \"messages\": a list of "
                            "{\"role\", \"content\"} objects")
        chars = sum(len(m["content"]) for m in messages)
        characters += chars
        lengths.append(min(chars / chars_per_token + TEMPLATE_TOKENS_PER_MESSAGE * len(messages), max_seq_len))
    if not lengths:
        raise UserError(f"chat examples {path}: no conversations in the file")
    return sum(lengths) / len(lengths), (f"measured: {path}, {len(lengths):,} conversations of "
                                         f"{characters / len(lengths):,.0f} characters on average")


def _tokens(cfg: TrainConfig, conversations: int, per_conversation: float | None, data: str | None,
            chars_per_token: float) -> Tokens:
    framing = (f" at {chars_per_token:g} characters per token + {TEMPLATE_TOKENS_PER_MESSAGE} template tokens "
               "per message")
    if per_conversation is not None:
        mean, source = min(per_conversation, cfg.max_seq_len), "given (--tokens-per-conversation)"
    elif data:
        mean, source = conversation_tokens(data, chars_per_token, cfg.max_seq_len)
        source += framing
    else:
        mean = min(COUNSEL_CHAT_CHARACTERS / chars_per_token + TEMPLATE_TOKENS_PER_MESSAGE * COUNSEL_CHAT_MESSAGES,
                   cfg.max_seq_len)
        source = (f"default: counsel-chat's mean conversation, {COUNSEL_CHAT_MESSAGES} messages of "
                  f"{COUNSEL_CHAT_CHARACTERS:,} characters{framing}")
    if mean == cfg.max_seq_len:
        source += f"; cut at max_seq_len {cfg.max_seq_len:,}"
    per_epoch = round(conversations * mean)
    if cfg.packing:
        # best-fit packing of conversations much shorter than a row leaves almost no gap
        rows, processed = math.ceil(per_epoch / cfg.max_seq_len), per_epoch
    else:
        rows, processed = conversations, round(per_epoch * (1 + UNPACKED_PADDING))
    return Tokens(conversations, mean, source, cfg.epochs, per_epoch * cfg.epochs, processed * cfg.epochs,
                  cfg.packing, rows, cfg.max_seq_len)


@dataclass(frozen=True)
class Memory:
    """Bytes per GPU at the plan's micro-batch."""

    weights: int
    adapters: int
    optimizer: int
    activations: int
    layer_working_set: int
    overhead: int
    total: int
    capacity: int
    notes: dict[str, str]


def _activation_elements(m: ModelConfig) -> float:
    """Activation elements per token one decoder layer keeps for backward (RMSNorm inputs kept in fp32 count twice)."""
    h, hd, k, width = m.hidden_size, m.attention_head_dim, m.experts_per_token, m.intermediate_size
    q, kv = m.num_attention_heads * hd, m.num_key_value_heads * hd
    # norm input, normed input, q k v, the attention output that o_proj reads
    attention = 2 * h + h + q + 2 * kv + q
    if m.architecture in ("qwen3_moe", "olmoe"):
        attention += 2 * (q + kv)
    # norm input, normed input, fp32 router logits; per routed copy: its input, gate_up output, activation, product,
    # expert output
    moe = 2 * h + h + 2 * m.num_experts + k * (h + 2 * width + width + width + h)
    shared = 2 * h + 4 * m.shared_expert_intermediate_size if m.shared_expert_intermediate_size else 0
    return attention + moe + shared


def _memory(cfg: TrainConfig, params: Parameters, world: int, accelerator: Accelerator, micro_batch: int,
            vocab: int) -> Memory:
    m = cfg.model
    sharded = cfg.distributed.strategy == "fsdp"
    shard = world if sharded else 1
    # build_base_model loads a pretrained base in bf16 on CUDA; from_config builds fp32 weights (autocast computes bf16)
    weight_bytes = 4 if cfg.precision == "fp32" or m.source == "config" else 2
    activation_bytes = 4 if cfg.precision == "fp32" else 2
    weights = _weights(m, vocab)
    targets = _targets(weights, cfg.lora, m.architecture)
    layer_params = sum(math.prod(w.shape) for w in weights if w.count == m.num_layers)
    root_params = sum(w.params for w in weights if w.count == 1)
    folded_per_layer = sum(math.prod(w.shape) for w in targets.folded)
    notes = {
        "weights": f"{'fp32' if weight_bytes == 4 else 'bf16'}, " + (f"sharded over {world}" if sharded and world > 1
                                                                      else "a full copy per GPU"),
        "adapters": "fp32 weights and gradients" + (f", sharded over {world}" if sharded and world > 1 else ""),
        "optimizer": "AdamW, 2 fp32 moments" + (f", sharded over {world}" if sharded and world > 1 else ""),
    }
    working, working_parts = 0, []
    if sharded and world > 1:
        # FSDP gathers the layer it runs and prefetches the next; the root unit (embeddings, head) stays gathered
        working += (2 * layer_params + root_params) * weight_bytes
        working_parts.append("FSDP: 2 gathered layers and the embeddings")
    if folded_per_layer:
        # autograd keeps each layer's folded W + B A for its input gradient until that layer's backward: one layer
        # with checkpointing, every one without; the backward makes its gradient, of the same size
        held = 1 if cfg.gradient_checkpointing else m.num_layers
        working += (held + 1) * folded_per_layer * weight_bytes
        working_parts.append(f"target_parameters: folded W + BA of {held} layer{'s' if held > 1 else ''} "
                             "and its gradient")
    if working_parts:
        notes["layer_working_set"] = "; ".join(working_parts)
    tokens = micro_batch * cfg.max_seq_len
    per_layer = _activation_elements(m) * activation_bytes
    if cfg.gradient_checkpointing:
        kept = m.num_layers * m.hidden_size * activation_bytes + per_layer
        notes["activations"] = f"checkpointed: each layer's input + one layer's working set, logits; {tokens:,} tokens"
    else:
        kept = m.num_layers * per_layer
        notes["activations"] = f"every layer's, logits; {tokens:,} tokens"
    activations = round(tokens * (kept + vocab * LOGITS_BYTES))
    parts = dict(weights=round(params.total * weight_bytes / shard),
                 adapters=round(params.trainable * ADAPTER_BYTES / shard),
                 optimizer=round(params.trainable * OPTIMIZER_BYTES / shard),
                 activations=activations, layer_working_set=round(working), overhead=OVERHEAD_BYTES)
    notes["overhead"] = "CUDA context, NCCL buffers, allocator fragmentation"
    return Memory(**parts, total=sum(parts.values()), capacity=accelerator.memory_bytes, notes=notes)


@dataclass(frozen=True)
class Plan:
    config: str
    accelerator: Accelerator
    gpus: int
    strategy: str
    tokens: Tokens
    parameters: Parameters
    attention_length: int             # the length a token attends within, for the attention FLOPs
    flops_per_token: dict[str, FlopsPerToken]   # full, lora_frozen_base, lora_as_run
    total_flops: float
    micro_batch: int
    micro_batch_source: str
    steps: int
    steps_per_epoch: int
    memory: Memory
    mfu: float
    mfu_source: str
    hours: float
    max_wall_hours: float
    fits_memory: bool
    finishes: bool
    gpus_to_fit: int | None           # with FSDP, where the run does not fit as planned
    gpus_to_finish: int | None        # where it will not finish in max_wall_hours
    conversations_to_finish: int | None
    verdict: list[str]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def accelerator_named(name: str, where: str) -> Accelerator:
    for key, accelerator in ACCELERATORS.items():
        if key.lower() == name.lower():
            return accelerator
    raise UserError(f"{where}: distributed.gpu_type {name!r} is not a known accelerator "
                    f"(known: {', '.join(ACCELERATORS)}; add it to empathy/train/hardware.py)")


def _vocab_of(cfg: TrainConfig) -> int:
    # a config-built base takes its vocabulary from the tokenizer trained on the data
    return cfg.tokenizer.vocab_size if cfg.model.source == "config" else _vocab(cfg.model)


def _micro_batch(cfg: TrainConfig, params: Parameters, world: int, accelerator: Accelerator, vocab: int,
                 rows_per_epoch: int) -> tuple[int, str]:
    if cfg.batch_size != "auto":
        return cfg.batch_size, "batch_size in the config"
    budget = (1 - cfg.memory_headroom) * accelerator.memory_bytes
    # activations grow linearly with the rows of a micro-batch, everything else stays
    one = _memory(cfg, params, world, accelerator, 1, vocab)
    largest = int((budget - (one.total - one.activations)) // one.activations)
    # more rows than one optimizer step's share would leave the trainer no step at all
    feedable = max(1, rows_per_epoch // (world * cfg.gradient_accumulation_steps))
    size = max(1, min(largest, AUTO_BATCH_LIMIT, feedable))
    why = f"auto: the largest under {1 - cfg.memory_headroom:.0%} of {accelerator.memory_bytes / 1e9:.0f} GB"
    if largest < 1:
        why = f"auto: even 1 row exceeds {1 - cfg.memory_headroom:.0%} of {accelerator.memory_bytes / 1e9:.0f} GB"
    elif size == feedable < largest:
        why += f", capped at {feedable} so that every optimizer step has data"
    return size, why


def plan_run(cfg: TrainConfig, conversations: int, gpus: int | None = None,
             tokens_per_conversation: float | None = None, data: str | None = None,
             chars_per_token: float = DEFAULT_CHARS_PER_TOKEN, mfu: float | None = None,
             source: str = "training config") -> Plan:
    """Size a run of `cfg` on `conversations` chat examples over `gpus` GPUs (default: the config's world size)."""
    if conversations < 1:
        raise UserError(f"--conversations must be at least 1, got {conversations}")
    if gpus is not None and gpus < 1:
        raise UserError(f"--gpus must be at least 1, got {gpus}")
    if mfu is not None and not 0 < mfu <= 1:
        raise UserError(f"--mfu must be in (0, 1], got {mfu}")
    if chars_per_token <= 0 or (tokens_per_conversation is not None and tokens_per_conversation <= 0):
        raise UserError("--chars-per-token and --tokens-per-conversation must be positive")
    accelerator = accelerator_named(cfg.distributed.gpu_type, source)
    world = gpus or cfg.distributed.world_size
    vocab = _vocab_of(cfg)
    model = cfg.model.model_copy(update={"vocab_size": vocab})
    tokens = _tokens(cfg, conversations, tokens_per_conversation, data, chars_per_token)
    params = count_parameters(model, cfg.lora)
    packed_flash = cfg.packing and model.attn_implementation == "flash_attention_2"
    # flash_attention_2 runs packed conversations one by one; other kernels score the whole (padded) row
    attention_length = round(tokens.per_conversation if packed_flash else
                             cfg.max_seq_len if cfg.packing else
                             min(cfg.max_seq_len, tokens.per_conversation * (1 + UNPACKED_PADDING)))
    run = flops_breakdown(model, cfg.lora, attention_length, cfg.gradient_checkpointing)
    # the textbook LoRA figure, every base weight frozen, beside what PEFT's target_parameters actually cost
    frozen_base = FlopsPerToken(run.frozen + run.trained, 0.0, run.adapters, run.attention, run.recompute)
    flops = {"full": flops_breakdown(model, None, attention_length, cfg.gradient_checkpointing),
             "lora_frozen_base": frozen_base, "lora_as_run": run}
    micro_batch, batch_source = _micro_batch(cfg, params, world, accelerator, vocab, tokens.rows_per_epoch)
    memory = _memory(cfg, params, world, accelerator, micro_batch, vocab)
    rows_per_step = micro_batch * world * cfg.gradient_accumulation_steps
    steps_per_epoch = math.ceil(tokens.rows_per_epoch / rows_per_step)
    steps = steps_per_epoch * cfg.epochs
    processed = tokens.processed
    if cfg.max_steps and cfg.max_steps < steps:
        processed = round(processed * cfg.max_steps / steps)
        steps = cfg.max_steps
    total_flops = flops["lora_as_run"].training * processed
    mfu_value = mfu or cfg.measured_mfu or DEFAULT_MFU
    mfu_source = ("given (--mfu)" if mfu else
                  "measured: the preset's measured_mfu, one GPU, benchmarks/bench_gpu.py" if cfg.measured_mfu else
                  "assumed, not measured")
    hours = total_flops / (world * accelerator.peak_bf16_flops * mfu_value) / 3600
    fits, finishes = memory.total <= memory.capacity, hours <= cfg.max_wall_hours
    plan = Plan(
        config=source, accelerator=accelerator, gpus=world, strategy=cfg.distributed.strategy, tokens=tokens,
        parameters=params, attention_length=attention_length, flops_per_token=flops, total_flops=total_flops,
        micro_batch=micro_batch, micro_batch_source=batch_source, steps=steps, steps_per_epoch=steps_per_epoch,
        memory=memory, mfu=mfu_value, mfu_source=mfu_source,
        hours=hours, max_wall_hours=cfg.max_wall_hours, fits_memory=fits, finishes=finishes,
        gpus_to_fit=None if fits else _gpus_to_fit(cfg, params, accelerator, vocab, world),
        # at a fixed MFU the hours fall as 1 / GPUs, and grow with the conversations
        gpus_to_finish=None if finishes else math.ceil(world * hours / cfg.max_wall_hours),
        conversations_to_finish=None if finishes else math.floor(conversations * cfg.max_wall_hours / hours),
        verdict=[], notes=[],
    )
    plan.verdict.extend(_verdict(plan, cfg))
    plan.notes.extend(_notes(plan, cfg, rows_per_step))
    return plan


def _duration(hours: float) -> str:
    return f"{hours * 60:.0f} minutes" if hours < 1 else f"{hours:,.1f} h"


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB"


def _gpus_to_fit(cfg: TrainConfig, params: Parameters, accelerator: Accelerator, vocab: int, world: int) -> int | None:
    """The fewest GPUs over which FSDP fits a one-row micro-batch: DDP's own count, else doubling; None past 1,024."""
    fsdp = cfg.model_copy(update={"distributed": cfg.distributed.model_copy(update={"strategy": "fsdp"})})
    gpus = world if cfg.distributed.strategy == "ddp" and world > 1 else 2 * world
    while gpus <= 1024:
        if _memory(fsdp, params, gpus, accelerator, 1, vocab).total <= accelerator.memory_bytes:
            return gpus
        gpus *= 2
    return None


def _verdict(plan: Plan, cfg: TrainConfig) -> list[str]:
    mem, name = plan.memory, plan.accelerator.name
    lines = []
    if plan.fits_memory:
        lines.append(f"fits in memory: {_gb(mem.total)} of {_gb(mem.capacity)} per {name} at micro-batch "
                     f"{plan.micro_batch}")
    else:
        biggest = max(("weights", "adapters", "optimizer", "activations", "layer_working_set"),
                      key=lambda part: getattr(mem, part))
        lines.append(f"does not fit: {_gb(mem.total)} per GPU needed at micro-batch {plan.micro_batch}, the {name} has "
                     f"{_gb(mem.capacity)} (largest part: {biggest.replace('_', ' ')} {_gb(getattr(mem, biggest))})")
        if plan.gpus_to_fit:
            lines.append(f"  it would fit over {plan.gpus_to_fit} GPUs with strategy fsdp")
        else:
            lines.append("  one row does not fit even sharded over 1,024 GPUs: lower max_seq_len")
        if not cfg.gradient_checkpointing:
            lines.append("  gradient_checkpointing: true keeps one layer's activations instead of every layer's")
    if plan.finishes:
        lines.append(f"finishes in the window: {_duration(plan.hours)} of max_wall_hours {plan.max_wall_hours:g} "
                     f"at MFU {plan.mfu:.2f}")
    else:
        lines.append(f"will not finish in {plan.max_wall_hours:g} h: {_duration(plan.hours)} on {plan.gpus} x {name} "
                     f"at MFU {plan.mfu:.2f}; training stops at the limit with a checkpoint (`--resume` continues)")
        lines.append(f"  it would finish with {plan.gpus_to_finish} GPUs, or with {plan.conversations_to_finish:,} "
                     "conversations" + (f" ({plan.tokens.epochs} epochs)" if plan.tokens.epochs > 1 else ""))
        epochs = math.floor(plan.tokens.epochs * plan.max_wall_hours / plan.hours)
        if plan.tokens.epochs > 1 and epochs >= 1:
            lines.append(f"  or with epochs: {epochs}")
    return lines


def _notes(plan: Plan, cfg: TrainConfig, rows_per_step: int) -> list[str]:
    notes = []
    run = plan.flops_per_token["lora_as_run"]
    attention_share = (3 * run.attention + (run.attention if run.recompute else 0)) / run.training
    if attention_share > 0.2 and cfg.model.attn_implementation != "flash_attention_2":
        kernel = cfg.model.attn_implementation or "sdpa"
        notes.append(f"attention scores are {attention_share:.0%} of the FLOPs: {kernel} scores the whole "
                     f"{plan.attention_length:,}-token row under the "
                     f"{'packing' if cfg.packing else 'padding'} mask; attn_implementation: flash_attention_2 "
                     + ("scores each conversation alone" if cfg.packing else "skips the masked half"))
    if cfg.max_steps and plan.steps == cfg.max_steps < plan.steps_per_epoch * cfg.epochs:
        notes.append(f"max_steps {cfg.max_steps} stops the run before its {cfg.epochs} epochs "
                     f"({plan.steps_per_epoch * cfg.epochs:,} steps) end; tokens and hours are for "
                     f"{cfg.max_steps} steps")
    if plan.tokens.rows_per_epoch < rows_per_step:
        notes.append(f"an epoch has {plan.tokens.rows_per_epoch:,} rows, fewer than one optimizer step takes "
                     f"({rows_per_step:,}): the trainer stops with an error; lower batch_size or "
                     "gradient_accumulation_steps")
    elif plan.steps < FEW_STEPS:
        notes.append(f"only {plan.steps} optimizer steps ({rows_per_step:,} rows each): warmup and the schedule have "
                     "little room; a smaller batch_size or gradient_accumulation_steps gives more updates")
    return notes


def _count(n: float) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{n:,.0f}"


def _flops(n: float) -> str:
    for size, unit in ((1e18, "EFLOP"), (1e15, "PFLOP"), (1e12, "TFLOP"), (1e9, "GFLOP"), (1e6, "MFLOP")):
        if n >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{n:,.0f} FLOP"


def format_plan(plan: Plan) -> str:
    """The plan as a readable table."""
    t, p, mem = plan.tokens, plan.parameters, plan.memory
    full, frozen, run = (plan.flops_per_token[k] for k in ("full", "lora_frozen_base", "lora_as_run"))
    recompute = " + the decoder layers' forward again" if run.recompute else ""
    lora = ", ".join(f"{part.replace('_', ' ')} {_count(n)}" for part, n in p.lora.items())
    rows = [
        f"Plan for {plan.config}: {plan.gpus} x {plan.accelerator.name} ({plan.accelerator.peak_bf16_flops / 1e12:g} "
        f"TFLOP/s bf16, {_gb(plan.accelerator.memory_bytes)} each), {plan.strategy}",
        "",
        "Tokens",
        ("conversations", f"{t.conversations:,} x {t.epochs} epoch{'s' if t.epochs > 1 else ''}"),
        ("per conversation", f"{t.per_conversation:,.0f} ({t.source})"),
        ("trained", f"{t.trained:,}" + (f", packed into {t.rows_per_epoch:,} rows of {t.row_length:,} per epoch"
                                        if t.packed else f"; {t.processed:,} positions with {UNPACKED_PADDING:.0%} "
                                                         "padding (no packing)")),
        "Parameters",
        ("total", _count(p.total)),
        ("active per token", _count(p.active_per_token)),
        ("trainable", f"{_count(p.trainable)} (LoRA: {lora}; modules_to_save {_count(p.modules_to_save)})"),
        f"FLOPs per token (attention over {plan.attention_length:,} tokens)",
        ("forward", _flops(run.forward)),
        ("full fine-tuning", f"{_flops(full.training)} (3 x forward{recompute})"),
        ("LoRA, base frozen", f"{_flops(frozen.training)} ({frozen.training / full.training:.2f} of full: no base "
                              "weight gradients)"),
        ("LoRA as PEFT runs", f"{_flops(run.training)} ({run.training / full.training:.2f} of full: "
                              "target_parameters weights get their gradient) <- used"),
        ("total", f"{plan.total_flops:.3g} FLOP"),
        f"Memory per GPU (micro-batch {plan.micro_batch} x {t.row_length:,} tokens; {plan.micro_batch_source})",
        *((part.replace("_", " "), _gb(getattr(mem, part)) + (f" ({mem.notes[part]})" if part in mem.notes else ""))
          for part in ("weights", "adapters", "optimizer", "activations", "layer_working_set", "overhead")),
        ("total", f"{_gb(mem.total)} of {_gb(mem.capacity)}"),
        f"Time (MFU {plan.mfu:.2f}, {plan.mfu_source})",
        ("optimizer steps", f"{plan.steps:,} ({plan.steps_per_epoch:,} per epoch)"),
        ("hours", f"{plan.hours:,.2f} ({_duration(plan.hours)}) of max_wall_hours {plan.max_wall_hours:g}"),
        "Verdict",
        *(f"  {line}" for line in plan.verdict),
        *(["Notes", *(f"  - {note}" for note in plan.notes)] if plan.notes else []),
    ]
    return "\n".join(row if isinstance(row, str) else f"  {row[0]:<20} {row[1]}" for row in rows)
