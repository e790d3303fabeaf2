"""GPU training benchmark: tokens per second per GPU and MFU of a preset's LoRA training step on one GPU.

The planner (`empathy train plan`) sizes cluster runs at an assumed MFU; this measures the real figure for a
preset's shape, so the plan can use it (`--mfu`). It needs no download: the model is built from the preset's shape
fields with random bf16 weights directly on the GPU (`--weights PATH` loads a real checkpoint instead), gets the
preset's LoRA, gradient checkpointing and bf16 autocast, and trains on conversations packed into max_seq_len rows,
as the recipe's step does (token-mean loss over assistant tokens plus the router loss, clipping, AdamW,
the schedule). After warm-up steps it times `--steps` optimizer steps and prints JSON: non-pad tokens per second
per GPU, MFU (the planner's FLOPs per token x tokens/s over the accelerator's peak bf16 FLOP/s from
empathy.train.hardware; the trainer logs MFU the same way), step time and peak GPU memory.

    .venv/bin/python benchmarks/bench_gpu.py                 # the quick list: OLMoE-1B-7B, then Qwen3-30B-A3B
    .venv/bin/python benchmarks/bench_gpu.py --config configs/train/olmoe-1b-7b-lora-h100.yaml --steps 20
    .venv/bin/python benchmarks/bench_gpu.py --config configs/train/qwen3-30b-a3b-lora-h100.yaml --layers 12
    .venv/bin/python benchmarks/bench_gpu.py --config ... --weights /models/OLMoE-1B-7B-0924-Instruct
    .venv/bin/python benchmarks/bench_gpu.py --config ... --data runs/x/data/train.jsonl   # real conversations

The quick list runs OLMoE-1B-7B whole (6.9 B parameters, 14 GB of bf16 weights: one GPU holds it) and
Qwen3-30B-A3B with as many of its 48 layers as leave half of the GPU's memory free (its bf16 weights alone are
61 GB: on an 80 GB H100 that is 33 layers, on an H200 all of them). `--layers N` builds only the
first N decoder layers: tokens/s and MFU are then those of the N-layer model (MFU with the N-layer FLOPs), and the
JSON adds the full model's estimated tokens/s at the same MFU, marked as per-layer scaled. `--batch-size` defaults
to the largest micro-batch that fits with the preset's memory_headroom left, found with the recipe's own
`largest_batch_size` search. Synthetic data is counsel-chat shaped (mean conversation as the planner assumes it, the
system prompt and question unlabelled); with random weights the router spreads tokens roughly evenly over the
experts, which real weights may not. Results also go to --out (default runs/bench/bench-gpu.json); docs/benchmarks.md
records them. Without a CUDA device the script says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

QUICK_LIST = (("configs/train/olmoe-1b-7b-lora-h100.yaml", None),
              ("configs/train/qwen3-30b-a3b-lora-h100.yaml", "fit"))
# the share of GPU memory the bf16 weights may take when --layers is "fit"; the rest is activations, adapters,
# their gradients and AdamW state, the logits, and the allocator's slack
FIT_WEIGHT_SHARE = 0.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", help="training preset (repeat for several); default: the quick list")
    p.add_argument("--steps", type=int, default=10, help="timed optimizer steps")
    p.add_argument("--warmup", type=int, default=3, help="optimizer steps before timing")
    p.add_argument("--batch-size", default="auto", help="sequences per micro-batch, or auto (the largest that fits)")
    p.add_argument("--accumulation", type=int, help="micro-batches per optimizer step (default: the preset's)")
    p.add_argument("--max-seq-len", type=int, help="row length (default: the preset's)")
    p.add_argument("--layers", help="build only the first N decoder layers (or 'fit'); figures are then per-layer "
                                    "scaled")
    p.add_argument("--weights", help="a local checkpoint directory to load instead of random weights")
    p.add_argument("--data", help="chat JSONL to pack instead of synthetic conversations")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a model shape field, e.g. hidden_size=512 (a smaller model of the same family)")
    p.add_argument("--out", default="runs/bench/bench-gpu.json")
    # for checking the build and the step on a machine without a GPU; no meaningful figure comes out of it
    p.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def shape(model_cfg, overrides: list[str], layers: int | None):
    """The preset's ModelConfig with --set overrides and the layer count, validated again."""
    from empathy.config import ModelConfig

    fields = model_cfg.model_dump()
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in fields:
            raise SystemExit(f"bench_gpu: --set {item!r}: expected FIELD=VALUE with a model field "
                             f"({', '.join(sorted(fields))})")
        try:
            fields[key] = json.loads(value)
        except json.JSONDecodeError:
            fields[key] = value
    if layers is not None:
        fields["num_layers"] = layers
    return ModelConfig.model_validate(fields)


def fit_layers(model_cfg, lora, memory_bytes: int) -> int:
    """The most decoder layers whose bf16 weights take at most FIT_WEIGHT_SHARE of the GPU."""
    from empathy.train.plan import count_parameters

    for n in range(model_cfg.num_layers, 0, -1):
        weights = 2 * count_parameters(model_cfg.model_copy(update={"num_layers": n}), lora).total
        if weights <= FIT_WEIGHT_SHARE * memory_bytes:
            return n
    return 1


def build_model(cfg, model_cfg, weights: str | None, device: str, dtype):
    """The base (random weights from the shape, or a checkpoint cut to model_cfg.num_layers) with the preset's LoRA."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from empathy.train.model import apply_lora, architecture_config, check_pretrained_shape

    torch.manual_seed(cfg.seed)
    attn = model_cfg.attn_implementation or "sdpa"
    if weights:
        hf_config = AutoConfig.from_pretrained(weights)
        hf_config.num_hidden_layers = model_cfg.num_layers
        check_pretrained_shape(model_cfg, hf_config)
        hf_config.output_router_logits = True
        hf_config.router_aux_loss_coef = model_cfg.router_aux_loss_coef
        base = AutoModelForCausalLM.from_pretrained(weights, config=hf_config, dtype=dtype, device_map=device,
                                                    attn_implementation=attn)
    else:
        hf_config = architecture_config(model_cfg, vocab_size=model_cfg.vocab_size)
        hf_config._attn_implementation = attn
        # allocated and initialised on the device: a 30 B parameter model never passes through host memory
        with torch.device(device):
            base = AutoModelForCausalLM.from_config(hf_config, dtype=dtype)
    if cfg.gradient_checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    base.config.use_cache = False
    model = apply_lora(base, cfg.lora).to(device)
    model.train()
    return model


def synthetic_examples(model_cfg, max_seq_len: int, tokens_needed: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """Counsel-chat shaped conversations of random ids: the planner's mean length, the prompt part unlabelled."""
    from empathy.train.plan import (
        COUNSEL_CHAT_CHARACTERS, COUNSEL_CHAT_MESSAGES, DEFAULT_CHARS_PER_TOKEN, TEMPLATE_TOKENS_PER_MESSAGE,
    )
    from empathy.train.tokenizer import IGNORE_INDEX

    mean = COUNSEL_CHAT_CHARACTERS / DEFAULT_CHARS_PER_TOKEN + TEMPLATE_TOKENS_PER_MESSAGE * COUNSEL_CHAT_MESSAGES
    # system prompt and question are about a third of a counsel-chat conversation's characters
    prompt_share = 0.36
    sigma = 0.5
    rng = random.Random(seed)
    vocab = model_cfg.vocab_size
    out, total = [], 0
    while total < tokens_needed:
        n = int(min(max(rng.lognormvariate(math.log(mean) - sigma**2 / 2, sigma), 32), max_seq_len))
        ids = [rng.randrange(1, vocab) for _ in range(n)]
        cut = int(n * prompt_share)
        out.append((ids, [IGNORE_INDEX] * cut + ids[cut:]))
        total += n
    return out


def given_examples(path: str, weights: str | None, vocab: int, max_seq_len: int):
    """A chat JSONL tokenized with the checkpoint's tokenizer, or one trained on it as the recipe trains its own."""
    from empathy.io import read_jsonl
    from empathy.train.dataset import tokenize_examples
    from empathy.train.tokenizer import chat_texts, train_tokenizer

    rows = read_jsonl(path, "chat examples")
    if weights:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(weights)
    else:
        tokenizer = train_tokenizer(chat_texts(rows), min(32_000, vocab), 2)
    examples = tokenize_examples(rows, tokenizer, max_seq_len)
    if not examples:
        raise SystemExit(f"bench_gpu: {path}: no conversation has an assistant reply left at max_seq_len {max_seq_len}")
    return examples


def batches_for(cfg, examples, batch_size: int, max_seq_len: int, needed: int) -> list[dict[str, Any]]:
    """`needed` micro-batches as the recipe makes them (packed rows when the preset packs), epoch after epoch."""
    from empathy.train.dataset import make_batches, make_packed_batches, pack_examples

    rows = pack_examples(examples, max_seq_len) if cfg.packing else examples
    out, epoch = [], 0
    while len(out) < needed:
        if cfg.packing:
            out += make_packed_batches(rows, batch_size, 0, cfg.seed + epoch)
        else:
            out += make_batches(rows, batch_size, 0, cfg.seed + epoch)
        epoch += 1
    return out[:needed]


class Stepper:
    """The recipe's optimizer step (LoRAFinetuneRecipe._step) for one process, on a model built here."""

    def __init__(self, cfg, model, device: str, autocast: bool, total_steps: int):
        import torch
        from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup

        self.cfg, self.model, self.device, self.autocast = cfg, model, device, autocast
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.optim.learning_rate, weight_decay=cfg.optim.weight_decay)
        schedule = (get_cosine_schedule_with_warmup if cfg.optim.scheduler == "cosine"
                    else get_linear_schedule_with_warmup)
        self.scheduler = schedule(self.optimizer, int(cfg.optim.warmup_ratio * total_steps), total_steps)

    def forward_backward(self, micro: list[dict[str, Any]]) -> int:
        import torch

        from empathy.evaluate.metrics import token_loss_sums
        from empathy.train.recipe import model_inputs
        from empathy.train.tokenizer import IGNORE_INDEX

        labelled = max(sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in micro), 1)
        coef = self.cfg.model.router_aux_loss_coef
        for batch in micro:
            inputs = model_inputs(batch, self.device)
            with torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.autocast):
                out = self.model(**inputs)
            loss_sum, _, _ = token_loss_sums(out.logits, batch["labels"].to(self.device))
            loss = loss_sum / labelled
            aux = getattr(out, "aux_loss", None)
            if aux is not None and coef:
                loss = loss + coef * aux / len(micro)
            loss.backward()
            del out, loss, loss_sum
        return sum(int(b["attention_mask"].sum()) for b in micro)

    def step(self, micro: list[dict[str, Any]]) -> int:
        import torch

        tokens = self.forward_backward(micro)
        torch.nn.utils.clip_grad_norm_(self.params, self.cfg.optim.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return tokens


def auto_batch_size(cfg, stepper: Stepper, model_cfg, max_seq_len: int, device: str) -> int:
    """The largest micro-batch of full rows whose forward and backward fit with memory_headroom left, after room
    for AdamW's two fp32 moments (which the probe does not allocate): the recipe's search, on packed rows."""
    import torch

    from empathy.train.recipe import largest_batch_size

    total = torch.cuda.get_device_properties(device).total_memory
    moments = sum(2 * p.numel() * 4 for p in stepper.params)
    budget = (1.0 - cfg.memory_headroom) * total - moments

    def fits(size: int) -> bool:
        # enough conversations for `size` full rows, so the probe is as wide and as long as a real micro-batch
        probe = synthetic_examples(model_cfg, max_seq_len, int(1.1 * size * max_seq_len), cfg.seed + 1)
        batch = batches_for(cfg, probe, size, max_seq_len, 1)[0]
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        try:
            stepper.forward_backward([batch])
            ok = torch.cuda.max_memory_allocated(device) <= budget
        except torch.OutOfMemoryError:
            ok = False
        stepper.model.zero_grad(set_to_none=True)
        gc.collect()
        torch.cuda.empty_cache()
        return ok

    # far below the recipe's limit of 1024: past a few hundred rows of a MoE no GPU of the table has room
    return largest_batch_size(fits, limit=256)


def bench_preset(config: str, args: argparse.Namespace, layers_arg: str | None) -> dict[str, Any]:
    import torch

    from empathy.config import load_train_config
    from empathy.train.dataset import packing_efficiency
    from empathy.train.hardware import accelerator_for
    from empathy.train.plan import count_parameters, flops_per_token

    cfg = load_train_config(REPO / config if not Path(config).is_absolute() else config)
    device = args.device if args.device != "cuda" else "cuda:0"
    on_gpu = device.startswith("cuda")
    full = shape(cfg.model, args.set, None)
    if not full.vocab_size:
        raise SystemExit(f"bench_gpu: {config}: model.vocab_size is not set (a preset for a pretrained base gives it)")
    memory = torch.cuda.get_device_properties(device).total_memory if on_gpu else 0
    if layers_arg == "fit":
        layers = fit_layers(full, cfg.lora, memory) if on_gpu else 1
    elif layers_arg and not layers_arg.isdigit():
        raise SystemExit(f"bench_gpu: --layers {layers_arg!r}: a number of layers or fit")
    else:
        layers = int(layers_arg) if layers_arg else full.num_layers
    if not 1 <= layers <= full.num_layers:
        raise SystemExit(f"bench_gpu: --layers {layers}: the preset has {full.num_layers} layers")
    model_cfg = shape(cfg.model, args.set, layers)
    max_seq_len = args.max_seq_len or cfg.max_seq_len
    if max_seq_len > model_cfg.context_length:
        raise SystemExit(f"bench_gpu: --max-seq-len {max_seq_len} exceeds the model's context "
                         f"{model_cfg.context_length}")
    accumulation = args.accumulation or cfg.gradient_accumulation_steps
    autocast = on_gpu and cfg.precision != "fp32"
    dtype = torch.bfloat16 if autocast else torch.float32
    print(f"bench_gpu: {config}: building {layers} of {full.num_layers} layers on {device} "
          f"({'weights ' + args.weights if args.weights else 'random weights'})", file=sys.stderr, flush=True)

    if on_gpu:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    model = build_model(cfg, model_cfg, args.weights, device, dtype)
    stepper = Stepper(cfg, model, device, autocast, args.warmup + args.steps)
    if args.batch_size == "auto":
        batch_size = auto_batch_size(cfg, stepper, model_cfg, max_seq_len, device) if on_gpu else 1
        if batch_size == 0:
            raise SystemExit(f"bench_gpu: {config}: not one row of {max_seq_len} tokens fits with {layers} layers: "
                             "lower --layers or --max-seq-len")
        batch_source = "auto: recipe.largest_batch_size" if on_gpu else "1 (auto needs a GPU)"
    else:
        batch_size, batch_source = int(args.batch_size), "given"
    print(f"bench_gpu: micro-batch {batch_size} x {max_seq_len} tokens, {accumulation} per step", file=sys.stderr,
          flush=True)

    needed = (args.warmup + args.steps) * accumulation
    if args.data:
        examples = given_examples(args.data, args.weights, model_cfg.vocab_size, max_seq_len)
        data = args.data
    else:
        tokens_needed = int(1.05 * needed * batch_size * max_seq_len) + 1
        examples = synthetic_examples(model_cfg, max_seq_len, tokens_needed, cfg.seed)
        data = "synthetic, counsel-chat shaped (random ids)"
    batches = batches_for(cfg, examples, batch_size, max_seq_len, needed)
    groups = [batches[i * accumulation:(i + 1) * accumulation] for i in range(args.warmup + args.steps)]

    def sync() -> None:
        if on_gpu:
            torch.cuda.synchronize(device)

    for micro in groups[:args.warmup]:
        stepper.step(micro)
    sync()
    if on_gpu:
        torch.cuda.reset_peak_memory_stats(device)
    times, tokens = [], 0
    for micro in groups[args.warmup:]:
        start = time.perf_counter()
        tokens += stepper.step(micro)
        sync()
        times.append(time.perf_counter() - start)
    seconds = sum(times)
    timed = [b for g in groups[args.warmup:] for b in g]
    tps = tokens / seconds
    positions = sum(b["input_ids"].numel() for b in timed) / seconds
    fpt = flops_per_token(model_cfg, cfg.lora, max_seq_len, cfg.gradient_checkpointing)
    fpt_full = flops_per_token(full, cfg.lora, max_seq_len, cfg.gradient_checkpointing)
    accelerator = accelerator_for(torch.cuda.get_device_name(device)) if on_gpu else None
    mfu = tps * fpt / accelerator.peak_bf16_flops if accelerator else None
    params = count_parameters(model_cfg, cfg.lora)
    scaled = layers < full.num_layers
    result = {
        "config": config, "device": torch.cuda.get_device_name(device) if on_gpu else device,
        "accelerator": accelerator.name if accelerator else None,
        "peak_bf16_flops": accelerator.peak_bf16_flops if accelerator else None,
        "weights": args.weights or f"random {str(dtype).removeprefix('torch.')}",
        "shape_overrides": args.set, "layers_built": layers, "layers_in_preset": full.num_layers,
        "per_layer_scaled": scaled,
        "parameters_built": params.total, "trainable_parameters": sum(p.numel() for p in stepper.params),
        "max_seq_len": max_seq_len, "micro_batch": batch_size, "micro_batch_source": batch_source,
        "gradient_accumulation_steps": accumulation, "gradient_checkpointing": cfg.gradient_checkpointing,
        "precision": "bf16 autocast" if autocast else "fp32",
        "attn_implementation": model_cfg.attn_implementation or "sdpa",
        "packing": cfg.packing, "data": data, "packing_efficiency": round(packing_efficiency(timed), 4),
        "warmup_steps": args.warmup, "steps": args.steps,
        "step_seconds_median": round(statistics.median(times), 4), "step_seconds_min": round(min(times), 4),
        "step_seconds_max": round(max(times), 4),
        "tokens_per_second_per_gpu": round(tps, 1), "positions_per_second": round(positions, 1),
        "flops_per_token": fpt, "mfu": round(mfu, 4) if mfu is not None else None,
        "peak_gpu_memory_gb": round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if on_gpu else None,
        "peak_gpu_memory_reserved_gb": round(torch.cuda.max_memory_reserved(device) / 2**30, 2) if on_gpu else None,
        "gpu_memory_gb": round(memory / 2**30, 1) if on_gpu else None,
    }
    if scaled:
        # the same MFU on the whole model: its tokens/s shrink by the ratio of FLOPs per token
        result["full_model_flops_per_token"] = fpt_full
        result["full_model_tokens_per_second_estimate"] = round(tps * fpt / fpt_full, 1)
        result["note"] = (f"per-layer scaled: {layers} of {full.num_layers} layers built; tokens/s and MFU are the "
                          f"{layers}-layer model's, the full model's tokens/s is estimated at the same MFU")
    del stepper, model, batches, groups, timed
    gc.collect()
    if on_gpu:
        torch.cuda.empty_cache()
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("bench_gpu: no CUDA device here; this benchmark measures GPU training (one H100 or H200). "
              "On CPU, `make bench` measures the tiny model.", file=sys.stderr)
        return 2
    if args.batch_size != "auto" and not (args.batch_size.isdigit() and int(args.batch_size) > 0):
        print(f"bench_gpu: --batch-size {args.batch_size!r}: a positive number or auto", file=sys.stderr)
        return 2
    runs = [(c, args.layers) for c in args.config] if args.config else [(c, args.layers or layers)
                                                                         for c, layers in QUICK_LIST]
    from empathy.errors import UserError

    results = []
    for config, layers in runs:
        try:
            results.append(bench_preset(config, args, layers))
        except UserError as exc:
            print(f"bench_gpu: {config}: {exc}", file=sys.stderr)
            return 2
        except torch.OutOfMemoryError as exc:
            # one preset too large for this GPU should not cost the others their numbers
            results.append({"config": config, "error": f"out of GPU memory: {str(exc).splitlines()[0]}; lower "
                                                        "--layers, --batch-size or --max-seq-len"})
            gc.collect()
            torch.cuda.empty_cache()
    out = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
           "torch": torch.__version__, "command": " ".join(["benchmarks/bench_gpu.py", *(argv or sys.argv[1:])]),
           "runs": results}
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
