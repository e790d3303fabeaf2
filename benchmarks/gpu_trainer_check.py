"""The trainer's own GPU path on one GPU, in about a minute: what bench_gpu.py (which times a step) does not run.

`LoRAFinetuneRecipe` on the tiny MoE preset with `batch_size: auto` (the recipe's largest_batch_size search on the
GPU), bf16 autocast, gradient checkpointing, packing and a checkpoint, then the live metrics it hands MLflow
(through the same callback the train stage logs with; no MLflow here): loss, val loss, tokens/s, MFU, GPU memory and
utilisation from NVML, CPU and RAM. Prints JSON: the batch size chosen, every metrics row, which GPU metrics were
present, and the checkpoints written. Needs no download: the model is built from the preset's config and the
tokenizer trained on the synthetic conversations.

    python3 benchmarks/gpu_trainer_check.py [--steps 40] [--out runs/bench/gpu-trainer-check.json]

Without a CUDA device it says so and exits with status 2. docs/benchmarks.md records what it printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

TOPICS = ("sleep", "worry", "grief", "work stress", "loneliness", "anger", "exams", "a breakup")


def conversations(n: int) -> list[dict]:
    return [{"messages": [
        {"role": "system", "content": "You are a counselling assistant."},
        {"role": "user", "content": f"How do I cope with {TOPICS[i % len(TOPICS)]} lately? It has gone on for "
                                    f"{i % 9 + 2} weeks and I am tired of it."},
        {"role": "assistant", "content": f"Coping with {TOPICS[i % len(TOPICS)]} often starts with noticing when it "
                                         "is worst and one small step you can take then. What helps a little?"},
    ]} for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--out", default="runs/bench/gpu-trainer-check.json")
    # for checking the script on a machine without a GPU (fixed batch size); no meaningful figure comes out of it
    p.add_argument("--cpu", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    import torch

    if not args.cpu and not torch.cuda.is_available():
        print("gpu_trainer_check: no CUDA device here; on CPU the test suite covers the trainer", file=sys.stderr)
        return 2
    from empathy.config import load_train_config
    from empathy.train.recipe import LoRAFinetuneRecipe

    with tempfile.TemporaryDirectory(prefix="gpu-trainer-check-") as tmp:
        cfg = load_train_config(REPO / "configs/train/tiny-moe-cpu.yaml").model_copy(update={
            "batch_size": 8 if args.cpu else "auto", "precision": "auto", "gradient_checkpointing": True, "packing": True,
            "max_steps": args.steps, "eval_every": 10, "log_every": 5, "checkpoint_every": 20,
            "checkpoint_dir": str(Path(tmp) / "checkpoints"), "early_stopping_patience": 0})
        rows: list[dict] = []
        recipe = LoRAFinetuneRecipe(cfg)
        started = time.perf_counter()
        recipe.setup(conversations(4000), conversations(64))
        result = recipe.train(on_metrics=lambda metrics, step: rows.append({"step": step, **metrics}),
                              progress=False)
        seconds = time.perf_counter() - started
        checkpoints = sorted(p.name for p in (Path(tmp) / "checkpoints").iterdir())
    gpu_keys = sorted({k for r in rows for k in r if k.startswith("gpu_")})
    out = {"date": time.strftime("%Y-%m-%d"), "device": "cpu" if args.cpu else torch.cuda.get_device_name(0),
           "torch": torch.__version__,
           "batch_size_chosen": recipe.batch_size, "autocast_bf16": recipe.autocast, "steps": args.steps,
           "seconds": round(seconds, 1), "gpu_metrics_logged": gpu_keys, "metrics_rows": len(rows),
           "metrics": rows, "checkpoints": checkpoints,
           "result": {k: v for k, v in vars(result).items() if isinstance(v, (int, float, str, bool, type(None)))}}
    text = json.dumps(out, indent=2, default=str)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
