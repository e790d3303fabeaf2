"""The LoRA fine-tuning recipe for MoE causal LMs: one readable class.

    recipe = LoRAFinetuneRecipe(TrainConfig(...))
    recipe.setup(train_examples, val_examples, resume=False)
    result = recipe.train(on_metrics=lambda metrics, step: ...)
    recipe.save("out/model")

or `empathy train --config configs/train/tiny-moe-cpu.yaml --data runs/x/data --out runs/x/model [--resume]`.

A bare PyTorch loop (on CPU the fastest of the options measured: docs/training.md):
warmup then cosine or linear decay, AdamW with weight decay on the trainable
weights, gradient accumulation and clipping, the router's load-balancing loss
with its configured coefficient, bf16 autocast and gradient checkpointing on
GPU, an automatic batch size, and one process per GPU under torchrun (DDP;
FSDP shards the weights of models too large for one GPU). Every `eval_every`
steps it validates and applies early stopping; checkpoints go to
`checkpoint_dir` every `checkpoint_every` steps and `checkpoint_every_minutes`
minutes, atomically, with everything a resumed run needs to continue as if it
had never stopped (weights, optimizer, schedule, RNG, data position, history);
`max_wall_hours` and SIGTERM end training gracefully with a checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import signal
import tempfile
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions, get_model_state_dict, get_state_dict, set_model_state_dict, set_state_dict,
)
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup

from empathy.config import TrainConfig, flatten_settings
from empathy.errors import UserError
from empathy.evaluate.metrics import lm_metrics, token_loss_sums
from empathy.train.dataset import (
    make_batches, make_packed_batches, pack_examples, packing_efficiency, tokenize_examples,
)
from empathy.train.distributed import DistEnv
from empathy.train.model import apply_lora, build_base_model, save_finetuned
from empathy.train.telemetry import SystemSampler, device_peak_flops
from empathy.train.tokenizer import IGNORE_INDEX, chat_texts, train_tokenizer

MetricsCallback = Callable[[dict[str, float], int], None]

# settings a resumed run may change; any other difference would make it a different run
RESUMABLE_CHANGES = {"max_wall_hours", "checkpoint_every", "checkpoint_every_minutes", "keep_checkpoints",
                     "checkpoint_dir", "threads", "log_every"}


@dataclass
class TrainResult:
    steps: int
    epochs_completed: float
    train_tokens: int
    seconds: float
    final_train_loss: float
    val: dict[str, float]
    trainable_parameters: int
    total_parameters: int
    expert_lora_parameters: int
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_reason: str = "completed"
    best_step: int | None = None
    best_val_loss: float | None = None
    restored_best: bool = False
    resumed_from_step: int | None = None
    packing_efficiency: float = 0.0
    batch_size: int = 0

    def summary(self) -> dict[str, Any]:
        out = {
            "steps": self.steps,
            "epochs_completed": round(self.epochs_completed, 3),
            "train_tokens": self.train_tokens,
            "seconds": round(self.seconds, 2),
            "tokens_per_second": round(self.train_tokens / self.seconds, 1) if self.seconds else 0.0,
            "final_train_loss": self.final_train_loss,
            "trainable_parameters": self.trainable_parameters,
            "total_parameters": self.total_parameters,
            "expert_lora_parameters": self.expert_lora_parameters,
            "stopped_reason": self.stopped_reason,
            "restored_best": self.restored_best,
            "packing_efficiency": round(self.packing_efficiency, 4),
            "batch_size": self.batch_size,
            **{f"val_{k}": v for k, v in self.val.items()},
        }
        for key in ("best_step", "best_val_loss", "resumed_from_step"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass
class TrainState:
    """Where training is: saved in every checkpoint, so a resumed run continues exactly here."""

    step: int = 0
    epoch: int = 0
    group_in_epoch: int = 0
    seen_tokens: int = 0
    elapsed: float = 0.0
    window_loss_sum: float = 0.0
    window_tokens: int = 0
    last_train_loss: float = float("nan")
    val: dict[str, float] = field(default_factory=dict)
    last_val_loss: float | None = None
    rises: int = 0
    best_val_loss: float | None = None
    best_step: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def largest_batch_size(fits: Callable[[int], bool], limit: int = 1024) -> int:
    """The largest batch size for which `fits` is true, doubling then bisecting; 0 when even 1 does not fit."""
    good, size = 0, 1
    while size <= limit and fits(size):
        good, size = size, size * 2
    if good and size <= limit:  # `size` is the first that did not fit: the answer lies between
        lo, hi = good, size
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if fits(mid) else (lo, mid)
        good = lo
    return good


def model_inputs(batch: dict[str, torch.Tensor], device: str) -> dict[str, Any]:
    """The forward pass's arguments for a training batch, packed or padded."""
    inputs: dict[str, Any] = {"input_ids": batch["input_ids"].to(device), "use_cache": False}
    if "position_ids" in batch:
        # no attention mask: transformers reads the sequence boundaries from the restarting positions
        inputs["position_ids"] = batch["position_ids"].to(device)
    else:
        inputs["attention_mask"] = batch["attention_mask"].to(device)
    return inputs


def examples_sha256(examples: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(examples, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def latest_checkpoint(root: str | Path) -> Path | None:
    """The newest complete step checkpoint (a crash mid-save leaves only a .tmp folder, never a half one)."""
    done = sorted(p for p in Path(root).glob("step-*") if (p / "state.json").is_file())
    return done[-1] if done else None


class LoRAFinetuneRecipe:
    def __init__(self, config: TrainConfig):
        self.config = config
        self.dist = DistEnv.from_environment()
        self.device = self.dist.device()
        if self.device == "cpu":
            torch.set_num_threads(config.threads or os.cpu_count() or 1)
        self.autocast = self.device.startswith("cuda") and config.precision != "fp32"

    # ------------------------------------------------------------------ setup

    def setup(self, train_examples: list[dict[str, Any]], val_examples: list[dict[str, Any]],
              resume: bool = False) -> None:
        cfg = self.config
        if not train_examples:
            raise UserError("training split is empty: nothing to train on")
        self.root = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else None
        if resume and self.root is None:
            raise UserError("--resume needs checkpoint_dir in the training config")
        if self.dist.active and self.dist.world_size != cfg.distributed.world_size:
            raise UserError(f"torchrun started {self.dist.world_size} processes but the training config asks for "
                            f"distributed.nodes x gpus_per_node = {cfg.distributed.world_size}")
        self.data_sha256 = examples_sha256(train_examples)
        resume_from = latest_checkpoint(self.root) if resume and self.root.is_dir() else None
        if resume_from:
            self._check_same_run()
        self._build_tokenizer(train_examples, resume_from is not None)
        base = self._build_base(resume_from is not None)
        if cfg.gradient_checkpointing:
            base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        base.config.use_cache = False
        torch.manual_seed(cfg.seed)
        self.model = apply_lora(base, cfg.lora).to(self.device)
        self._wrap_distributed()
        # after wrapping: FSDP replaces the parameters with sharded ones
        self.trainable = {n: p for n, p in self.model.named_parameters() if p.requires_grad}

        examples = tokenize_examples(train_examples, self.tokenizer, cfg.max_seq_len)
        if not examples:
            raise UserError("no training example has an assistant reply left after truncation to max_seq_len")
        self.train_rows = pack_examples(examples, cfg.max_seq_len) if cfg.packing else examples
        self.batch_size = self._resolve_batch_size()
        self.val_batches = make_batches(tokenize_examples(val_examples, self.tokenizer, cfg.max_seq_len),
                                        self.batch_size, self.tokenizer.pad_token_id)
        first = self.epoch_batches(0)
        self.packing_efficiency = packing_efficiency(first)
        group = cfg.gradient_accumulation_steps * self.dist.world_size
        # one process keeps a short last group; ranks must all step together, so several drop it
        self.steps_per_epoch = math.ceil(len(first) / group) if not self.dist.active else len(first) // group
        if self.steps_per_epoch == 0:
            raise UserError(f"{len(first)} batches cannot feed {self.dist.world_size} processes x "
                            f"{cfg.gradient_accumulation_steps} accumulation steps: lower batch_size")
        self.total_steps = cfg.max_steps or self.steps_per_epoch * cfg.epochs
        self.optimizer = torch.optim.AdamW(list(self.trainable.values()), lr=cfg.optim.learning_rate,
                                           weight_decay=cfg.optim.weight_decay)
        warmup = int(cfg.optim.warmup_ratio * self.total_steps)
        schedule = get_cosine_schedule_with_warmup if cfg.optim.scheduler == "cosine" else get_linear_schedule_with_warmup
        self.scheduler = schedule(self.optimizer, warmup, self.total_steps)
        self.state = TrainState()
        self.resumed_from_step = None
        self.best_weights: dict[str, torch.Tensor] | None = None
        if resume_from:
            self._restore(resume_from)
        elif self.root and self.dist.is_main:
            self._write_run_files()
        self.dist.barrier()

    def _run_identity(self) -> dict[str, Any]:
        config = self.config.model_dump(mode="json")
        for key in RESUMABLE_CHANGES:
            config.pop(key, None)
        return {"config": config, "train_sha256": self.data_sha256, "world_size": self.dist.world_size}

    def _check_same_run(self) -> None:
        saved = json.loads((self.root / "run.json").read_text())
        ours = self._run_identity()
        if saved["train_sha256"] != ours["train_sha256"]:
            raise UserError(f"cannot resume from {self.root}: the training data changed since its checkpoints")
        flat_saved, flat_ours = flatten_settings(saved["config"]), flatten_settings(ours["config"])
        changed = sorted(k for k in flat_saved.keys() | flat_ours.keys() if flat_saved.get(k) != flat_ours.get(k))
        if changed or saved["world_size"] != ours["world_size"]:
            what = [f"{k}: {flat_saved.get(k)!r} -> {flat_ours.get(k)!r}" for k in changed]
            if saved["world_size"] != ours["world_size"]:
                what.append(f"processes: {saved['world_size']} -> {ours['world_size']}")
            raise UserError(f"cannot resume from {self.root}: the run's settings changed ({'; '.join(what)}); "
                            f"only {', '.join(sorted(RESUMABLE_CHANGES))} may change on resume")

    def _build_tokenizer(self, train_examples: list[dict[str, Any]], resuming: bool) -> None:
        cfg = self.config
        saved = self.root / "tokenizer" if self.root else None
        if cfg.model.source == "config":
            if resuming:
                from transformers import PreTrainedTokenizerFast

                self.tokenizer = PreTrainedTokenizerFast.from_pretrained(saved)
            else:
                self.tokenizer = train_tokenizer(chat_texts(train_examples), cfg.tokenizer.vocab_size,
                                                 cfg.tokenizer.min_frequency)
            return
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(cfg.model.name_or_path)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def _build_base(self, resuming: bool) -> torch.nn.Module:
        cfg = self.config
        self.base_snapshot = None
        if cfg.model.source != "config":
            return build_base_model(cfg.model, self.tokenizer, cfg.seed)
        if resuming:
            from transformers import AutoModelForCausalLM

            self.base_snapshot = self.root / "base"
            return AutoModelForCausalLM.from_pretrained(self.base_snapshot)
        base = build_base_model(cfg.model, self.tokenizer, cfg.seed)
        # LoRA injection renames the base weights; keep a clean copy to ship with the adapter
        self._base_tmp = tempfile.TemporaryDirectory(prefix="empathy-base-")
        self.base_snapshot = Path(self._base_tmp.name)
        base.save_pretrained(self.base_snapshot)
        return base

    def _write_run_files(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "run.json").write_text(json.dumps(self._run_identity(), indent=2) + "\n")
        if self.config.model.source == "config":
            self.tokenizer.save_pretrained(self.root / "tokenizer")
            shutil.copytree(self.base_snapshot, self.root / "base", dirs_exist_ok=True)

    def _wrap_distributed(self) -> None:
        self.engine = self.model
        if not self.dist.active:
            return
        if self.config.distributed.strategy == "fsdp":
            from torch.distributed.fsdp import fully_shard

            for layer in self.model.base_model.model.model.layers:
                fully_shard(layer)
            fully_shard(self.model)
            return
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.dist.local_rank] if self.device.startswith("cuda") else None
        self.engine = DistributedDataParallel(self.model, device_ids=ids)

    def _resolve_batch_size(self) -> int:
        cfg = self.config
        if cfg.batch_size != "auto":
            return cfg.batch_size
        if not self.device.startswith("cuda"):
            raise UserError("batch_size: auto measures GPU memory and needs a GPU; set a number for a CPU run")
        total = torch.cuda.get_device_properties(self.device).total_memory
        budget = (1.0 - cfg.memory_headroom) * total
        ids = torch.randint(0, len(self.tokenizer), (1, cfg.max_seq_len))

        def fits(size: int) -> bool:
            batch = {"input_ids": ids.repeat(size, 1), "labels": ids.repeat(size, 1),
                     "attention_mask": torch.ones(size, cfg.max_seq_len, dtype=torch.long)}
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            try:
                loss_sum, _ = self._forward(batch)
                (loss_sum / (cfg.max_seq_len * size)).backward()
                ok = torch.cuda.max_memory_allocated(self.device) <= budget
            except torch.OutOfMemoryError:
                ok = False
            self.model.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
            return ok

        size = -self.dist.max(-largest_batch_size(fits))  # the smallest over ranks
        if size == 0:
            raise UserError(f"not even one sequence of max_seq_len {cfg.max_seq_len} fits in GPU memory with "
                            f"{cfg.memory_headroom:.0%} headroom: lower max_seq_len or turn on gradient_checkpointing")
        return size

    # ------------------------------------------------------------------ the loop

    def epoch_batches(self, epoch: int) -> list[dict[str, torch.Tensor]]:
        pad = self.tokenizer.pad_token_id
        if self.config.packing:
            return make_packed_batches(self.train_rows, self.batch_size, pad, self.config.seed + epoch)
        return make_batches(self.train_rows, self.batch_size, pad, self.config.seed + epoch)

    def _forward(self, batch: dict[str, torch.Tensor],
                 engine: torch.nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Summed loss over the batch's labelled tokens, and the router's load-balancing loss when it counts."""
        inputs = model_inputs(batch, self.device)
        with torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.autocast):
            out = (engine or self.model)(**inputs)
        loss_sum, _, _ = token_loss_sums(out.logits, batch["labels"].to(self.device))
        aux = getattr(out, "aux_loss", None)
        return loss_sum, aux if aux is not None and self.config.model.router_aux_loss_coef else None

    def _step(self, micro: list[dict[str, torch.Tensor]]) -> tuple[float, int, int, float]:
        """One optimizer step over this rank's micro-batches: loss normalised by the group's labelled tokens on all
        ranks, so N processes step exactly as one process accumulating N times as many micro-batches."""
        cfg = self.config
        local = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in micro)
        group_tokens = max(self.dist.sum([float(local)])[0], 1.0)
        loss_total = 0.0
        for i, batch in enumerate(micro):
            last = i == len(micro) - 1
            sync = last or not hasattr(self.engine, "no_sync")
            ctx = self.engine.no_sync() if not sync else nullcontext()
            with ctx:
                loss_sum, aux = self._forward(batch, self.engine)
                loss = loss_sum * self.dist.world_size / group_tokens
                if aux is not None:
                    loss = loss + cfg.model.router_aux_loss_coef * aux / len(micro)
                loss.backward()
            loss_total += float(loss_sum.detach())
        grad_norm = torch.nn.utils.clip_grad_norm_(list(self.trainable.values()), cfg.optim.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        loss_total, seen = self.dist.sum([loss_total, float(sum(int(b["attention_mask"].sum()) for b in micro))])
        return loss_total, int(group_tokens), int(seen), float(grad_norm)

    def _groups(self, batches: list[dict[str, torch.Tensor]]) -> list[list[dict[str, torch.Tensor]]]:
        a, w, r = self.config.gradient_accumulation_steps, self.dist.world_size, self.dist.rank
        size = a * w
        return [batches[k * size + r * a: k * size + (r + 1) * a] for k in range(self.steps_per_epoch)]

    def validate(self) -> dict[str, float]:
        if not self.val_batches:
            return {}
        mine = self.val_batches[self.dist.rank::self.dist.world_size]
        m = lm_metrics(self.model, mine, self.device) if mine else {"tokens": 0}
        tokens = m["tokens"]
        loss_sum, correct, tokens = self.dist.sum([m["loss"] * tokens if tokens else 0.0,
                                                   m["token_accuracy"] * tokens if tokens else 0.0, float(tokens)])
        if not tokens:
            return {}
        loss = loss_sum / tokens
        return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "token_accuracy": correct / tokens,
                "tokens": int(tokens)}

    def train(self, on_metrics: MetricsCallback | None = None, progress: bool = True) -> TrainResult:
        cfg, st = self.config, self.state
        main = self.dist.is_main
        emit = (on_metrics or (lambda metrics, step: None)) if main else (lambda metrics, step: None)
        self.model.train()
        if not self.resumed_from_step:
            # per rank, so dropout masks differ between processes; a resumed run restores each rank's own state
            torch.manual_seed(cfg.seed + self.dist.rank)
        sampler = SystemSampler(self.device)
        flops_token = self._flops_per_token()
        peak = device_peak_flops(self.device)
        stop = _StopOnSignal()
        start = time.perf_counter()
        started_elapsed = st.elapsed
        window_start, last_checkpoint, window_seen = start, start, 0
        budget = cfg.max_wall_hours * 3600
        stopped = "completed"
        bar = tqdm(total=self.total_steps, initial=st.step, desc="train", disable=not (progress and main), unit="step")
        try:
            while st.step < self.total_steps and stopped == "completed":
                epoch, groups = st.epoch, self._groups(self.epoch_batches(st.epoch))
                # the epoch rolls over inside the loop (the state always names the next group), which ends it
                while st.epoch == epoch and st.step < self.total_steps:
                    loss_sum, tokens, seen, grad_norm = self._step(groups[st.group_in_epoch])
                    st.step += 1
                    st.group_in_epoch += 1
                    if st.group_in_epoch == len(groups):
                        st.epoch, st.group_in_epoch = st.epoch + 1, 0
                    st.seen_tokens += seen
                    st.window_loss_sum += loss_sum
                    st.window_tokens += tokens
                    window_seen += seen
                    bar.update(1)
                    if st.step % cfg.log_every == 0 or st.step == self.total_steps:
                        now = time.perf_counter()
                        st.last_train_loss = st.window_loss_sum / max(st.window_tokens, 1)
                        rate = window_seen / max(now - window_start, 1e-9)
                        row = {"train_loss": st.last_train_loss, "learning_rate": self.scheduler.get_last_lr()[0],
                               "grad_norm": grad_norm, "tokens_per_second": rate, "epoch": st.step / self.steps_per_epoch}
                        if flops_token and peak and rate:
                            row["mfu"] = rate * flops_token / (peak * self.dist.world_size)
                        row.update(sampler.sample())
                        st.history.append({"step": st.step, **row})
                        emit(row, st.step)
                        bar.set_postfix(loss=f"{st.last_train_loss:.3f}")
                        st.window_loss_sum, st.window_tokens = 0.0, 0
                        window_start, window_seen = now, 0
                    if st.step % cfg.eval_every == 0 or st.step == self.total_steps:
                        if self._evaluate(emit):
                            stopped = "early_stopping"
                    st.elapsed = started_elapsed + time.perf_counter() - start
                    if st.elapsed >= budget:
                        stopped = "time_budget"
                    if stop.received:
                        stopped = "signal"
                    stopped = _STOP_REASONS[self.dist.max(_STOP_REASONS.index(stopped))]
                    due = (cfg.checkpoint_every and st.step % cfg.checkpoint_every == 0) or (
                        cfg.checkpoint_every_minutes and time.perf_counter() - last_checkpoint >= 60 * cfg.checkpoint_every_minutes)
                    if self.root and due and stopped == "completed" and st.step < self.total_steps:
                        self.checkpoint()
                        last_checkpoint = time.perf_counter()
                    if stopped != "completed":
                        break
        finally:
            bar.close()
            stop.restore()
        if self.root:
            self.checkpoint()
        restored = False
        if cfg.early_stopping_patience and self.best_weights is not None and st.best_step != st.step:
            self._load_weights(self.best_weights)
            restored = True
        trainable = sum(p.numel() for p in self.trainable.values())
        total = sum(p.numel() for p in self.model.parameters())
        experts = sum(p.numel() for n, p in self.trainable.items() if ".experts." in n)
        self.result = TrainResult(
            steps=st.step, epochs_completed=st.step / self.steps_per_epoch, train_tokens=st.seen_tokens,
            seconds=st.elapsed, final_train_loss=st.last_train_loss,
            val={k: v for k, v in st.val.items() if k != "tokens"}, trainable_parameters=trainable,
            total_parameters=total, expert_lora_parameters=experts, history=st.history, stopped_reason=stopped,
            best_step=st.best_step, best_val_loss=st.best_val_loss, restored_best=restored,
            resumed_from_step=self.resumed_from_step, packing_efficiency=self.packing_efficiency,
            batch_size=self.batch_size,
        )
        return self.result

    def _evaluate(self, emit: MetricsCallback) -> bool:
        """Validate, keep the best weights, and say whether early stopping ends the run."""
        cfg, st = self.config, self.state
        val = self.validate()
        if not val:
            return False
        st.val = val
        row = {f"val_{k}": v for k, v in val.items() if k != "tokens"}
        st.history.append({"step": st.step, **row})
        emit(row, st.step)
        loss = val["loss"]
        if st.best_val_loss is None or loss < st.best_val_loss - cfg.early_stopping_min_delta:
            st.best_val_loss, st.best_step = loss, st.step
            # on every rank, and a copy: on CPU the gathered tensors are the parameters themselves
            self.best_weights = {k: v.detach().to("cpu", copy=True)
                                 for k, v in get_model_state_dict(self.model, options=_GATHER_ALL).items()}
            if self.root and self.dist.is_main:
                self._write_checkpoint(self.root / "best", self.best_weights, None, with_adapter=True)
        st.rises = st.rises + 1 if st.last_val_loss is not None and loss > st.last_val_loss + cfg.early_stopping_min_delta else 0
        st.last_val_loss = loss
        return bool(cfg.early_stopping_patience) and st.rises >= cfg.early_stopping_patience

    def _flops_per_token(self) -> float:
        from empathy.train.plan import flops_per_token

        model = self.config.model.model_copy(update={"vocab_size": len(self.tokenizer)})
        return flops_per_token(model, self.config.lora, self.config.max_seq_len, self.config.gradient_checkpointing)

    # ------------------------------------------------------------------ checkpoints

    def checkpoint(self) -> Path | None:
        """Everything needed to continue at this step; the last `keep_checkpoints` are kept (and `best/`).

        Every rank takes part in gathering the weights and optimizer state (sharded under FSDP); rank 0 writes."""
        path = self.root / f"step-{self.state.step:07d}"
        weights, optim = get_state_dict(self.model, self.optimizer, options=_GATHER)
        if self.dist.is_main:
            self._write_checkpoint(path, weights, optim)
            for old in sorted(self.root.glob("step-*"))[:-self.config.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
        torch.save(_rng_state(), self.root / f"rng-rank{self.dist.rank}-step-{self.state.step:07d}.pt")
        for old in sorted(self.root.glob(f"rng-rank{self.dist.rank}-step-*"))[:-self.config.keep_checkpoints]:
            old.unlink(missing_ok=True)
        self.dist.barrier()
        return path

    def _write_checkpoint(self, path: Path, weights: dict[str, torch.Tensor], optim: dict | None,
                          with_adapter: bool = False) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        torch.save(weights, tmp / "trainable.pt")
        if optim is not None:
            torch.save({"optimizer": optim, "scheduler": self.scheduler.state_dict(), "best_weights": self.best_weights},
                       tmp / "trainer_state.pt")
        if with_adapter:
            self.model.save_pretrained(tmp / "adapter", state_dict=weights)
        (tmp / "state.json").write_text(json.dumps(asdict(self.state), indent=1) + "\n")
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)

    def _load_weights(self, weights: dict[str, torch.Tensor], optim: dict | None = None) -> None:
        """Full (gathered) state, which every rank holds, into this rank's model; FSDP takes each rank's shard."""
        options = StateDictOptions(full_state_dict=True, strict=False)
        if optim is None:
            set_model_state_dict(self.model, weights, options=options)
        else:
            set_state_dict(self.model, self.optimizer, model_state_dict=weights, optim_state_dict=optim, options=options)

    def _restore(self, path: Path) -> None:
        weights = torch.load(path / "trainable.pt", map_location="cpu")
        if set(weights) != set(self.trainable):
            raise UserError(f"checkpoint {path} holds other trainable weights than this model "
                            f"(missing {sorted(set(self.trainable) - set(weights))[:3]})")
        trainer = torch.load(path / "trainer_state.pt", map_location="cpu", weights_only=False)
        self._load_weights(weights, trainer["optimizer"])
        self.scheduler.load_state_dict(trainer["scheduler"])
        self.best_weights = trainer["best_weights"]
        rng = self.root / f"rng-rank{self.dist.rank}-{path.name}.pt"
        if not rng.is_file():
            raise UserError(f"checkpoint {path}: {rng.name} is missing (written by each process beside the checkpoint)")
        _set_rng_state(torch.load(rng, weights_only=False))
        self.state = TrainState(**json.loads((path / "state.json").read_text()))
        self.resumed_from_step = self.state.step

    def save(self, out_dir: str | Path) -> Path:
        """The fine-tuned model directory. Every rank calls it (the weights are gathered); rank 0 writes."""
        weights = get_model_state_dict(self.model, options=_GATHER) if self.dist.active else None
        out = Path(out_dir)
        if not self.dist.is_main:
            return out
        out = save_finetuned(self.model, self.tokenizer, self.config.model, out, self.base_snapshot, weights)
        (out / "train_config.json").write_text(self.config.model_dump_json(indent=2) + "\n")
        if hasattr(self, "result"):
            (out / "train_result.json").write_text(json.dumps(self.result.summary(), indent=2) + "\n")
            with (out / "history.jsonl").open("w") as fh:
                for row in self.result.history:
                    fh.write(json.dumps(row) + "\n")
        return out


_STOP_REASONS = ["completed", "early_stopping", "time_budget", "signal"]
# trainable weights and optimizer state gathered whole on rank 0 (on CPU): LoRA-sized, whatever the sharding
_GATHER = StateDictOptions(full_state_dict=True, cpu_offload=True, ignore_frozen_params=True)
_GATHER_ALL = StateDictOptions(full_state_dict=True, ignore_frozen_params=True)


class _StopOnSignal:
    """SIGTERM (a preempted or deleted pod) asks the loop to checkpoint and stop at the next step."""

    def __init__(self):
        self.received = False
        try:
            self.previous = signal.signal(signal.SIGTERM, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self.previous = None

    def _handle(self, signum, frame) -> None:
        self.received = True

    def restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
