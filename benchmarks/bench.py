"""Benchmarks of the tiny demo model on this machine: training throughput and serving latency.

    make bench            # or: .venv/bin/python benchmarks/bench.py --out runs/bench

1. Data: the demo corpus through ingest, pairs, validate, screen and split (the same
   stage functions the pipeline runs). With ../shared/data present, also `empathy data process` on its three
   data sets (counsel-chat, AnnoMI, ESConv) in a child process with a cold embedding cache: items per second
   end to end, peak RSS, seconds per stage, and the raw encoder throughput on exactly the texts the run
   embedded (the limit this stage cannot beat; the ratio is the share of that limit reached), plus the
   extrapolated time for 8,000 conversations.
2. Training: the tiny MoE preset (configs/train/tiny-moe-cpu.yaml) on the
   demo train split, three repeats with different seeds; tokens per second
   (non-pad tokens) and peak RSS.
3. Serving: the trained model behind `empathy serve` (kserve ModelServer on
   127.0.0.1), 40 sequential chat requests of up to 64 new tokens through the
   v1 route after 5 warm-up requests; p50/p95/p99 round-trip latency.

Results are written to <out>/bench.json and printed; docs/benchmarks.md
records them with the date and the machine. Numbers, not tests: nothing here
asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def prepare_data(work: Path) -> Path:
    from empathy import stages
    from empathy.config import load_pipeline_config

    cfg = load_pipeline_config(REPO / "configs/pipeline/demo.yaml")
    stages.ingest(str(REPO / cfg.corpus_dir), cfg.ingest, str(work / "records.jsonl"), str(work / "r1.jsonl"))
    stages.pairs(str(work / "records.jsonl"), cfg.pairs, str(work / "pairs.jsonl"), str(work / "r2.jsonl"))
    stages.validate(str(work / "pairs.jsonl"), cfg.validate_, str(work / "accepted.jsonl"), str(work / "r3.jsonl"))
    stages.screen(str(work / "accepted.jsonl"), cfg.screen, str(work / "passed.jsonl"), str(work / "held.jsonl"),
                  str(work / "r4.jsonl"), review_url=f"sqlite:///{work / 'review.db'}")
    stages.split(str(work / "records.jsonl"), str(work / "pairs.jsonl"), str(work / "accepted.jsonl"),
                 str(work / "passed.jsonl"), str(work / "held.jsonl"), [str(work / f"r{i}.jsonl") for i in (1, 2, 3, 4)],
                 cfg.split, str(work / "data"))
    return work / "data"


SHARED_SOURCES = ("counsel_chat:counsel_chat.csv", "annomi:annomi_full.csv", "esconv:esconv_sample.json")


def bench_data_processing(work: Path) -> dict:
    """`empathy data process` on ../shared/data in a child process: end to end against the raw encoder."""
    shared = REPO.parent / "shared" / "data"
    if not shared.is_dir():
        return {"skipped": f"{shared} not found"}
    out = work / "data-process"
    code = f"""
import json, resource, sys, time
sys.path.insert(0, {str(REPO)!r})
from empathy import embeddings
from empathy.config import load_pipeline_config
from empathy.data.process import process_sources

seen = []
encode = embeddings._encode
def recording(texts, batch_size, progress):
    seen.extend(texts)
    return encode(texts, batch_size, progress)
embeddings._encode = recording
cfg = load_pipeline_config({str(REPO / "configs/pipeline/demo.yaml")!r})
t0 = time.perf_counter()
report = process_sources({[f"{k}:{shared / f}" for k, f in (s.split(":") for s in SHARED_SOURCES)]!r}, cfg,
                         {str(out)!r}, review_url="sqlite:///{work / 'bench-review.db'}", progress=False)
seconds = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
embeddings._encode = encode
t1 = time.perf_counter()
encode(seen, 32, False)
raw = time.perf_counter() - t1
# a second, stricter limit: every question and answer of the pairs encoded once, nothing else
from empathy.io import read_jsonl
pairs = read_jsonl({str(out / "stages" / "pairs.jsonl")!r})
plain = sorted({{t for p in pairs for t in (p["question"], p["answer"])}})
t2 = time.perf_counter()
encode(plain, 32, False)
raw_pairs = time.perf_counter() - t2
print(json.dumps({{"seconds": seconds, "peak_rss_mb": rss, "raw_encode_seconds": raw, "texts_encoded": len(seen),
                  "raw_pairs_seconds": raw_pairs, "pair_texts": len(plain),
                  "report": {{k: report[k] for k in ("items_in", "records", "pairs", "accepted", "held_for_review",
                                                     "exported", "extracted_share", "seconds", "processed_share")}}}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    items, conversations = m["report"]["items_in"], m["report"]["records"]
    return {
        "sources": list(SHARED_SOURCES), "items_in": items, "records": conversations,
        "seconds": round(m["seconds"], 1), "items_per_second": round(items / m["seconds"], 1),
        "seconds_per_stage": m["report"]["seconds"], "peak_rss_mb": round(m["peak_rss_mb"]),
        "texts_encoded": m["texts_encoded"], "raw_encode_seconds": round(m["raw_encode_seconds"], 1),
        "share_of_encoder_limit": round(m["raw_encode_seconds"] / m["seconds"], 3),
        "pair_texts": m["pair_texts"], "raw_encode_seconds_pair_texts_once": round(m["raw_pairs_seconds"], 1),
        "share_of_pair_text_limit": round(m["raw_pairs_seconds"] / m["seconds"], 3),
        "extrapolated_minutes_for_8000_conversations": round(m["seconds"] / conversations * 8000 / 60, 1),
        "pairs": m["report"]["pairs"], "exported": m["report"]["exported"],
        "processed_share": m["report"]["processed_share"],
    }


def bench_training(data: Path, work: Path, repeats: int) -> tuple[dict, Path]:
    from empathy.config import load_train_config
    from empathy.io import read_jsonl
    from empathy.train.recipe import LoRAFinetuneRecipe

    base = load_train_config(REPO / "configs/train/tiny-moe-cpu.yaml")
    runs = []
    model_dir = work / "model"
    for seed in range(repeats):
        recipe = LoRAFinetuneRecipe(base.model_copy(update={"seed": 13 + seed}))
        recipe.setup(read_jsonl(data / "train.jsonl"), read_jsonl(data / "val.jsonl", allow_empty=True))
        result = recipe.train(progress=False)
        runs.append(result.summary())
        if seed == 0:
            recipe.save(model_dir)
    tps = [r["tokens_per_second"] for r in runs]
    return {
        "preset": "tiny-moe-cpu", "repeats": repeats, "steps": runs[0]["steps"], "train_tokens": runs[0]["train_tokens"],
        "tokens_per_second_median": statistics.median(tps), "tokens_per_second_min": min(tps),
        "tokens_per_second_max": max(tps), "seconds_median": statistics.median(r["seconds"] for r in runs),
        "final_val_loss_median": statistics.median(r["val_loss"] for r in runs),
        "trainable_parameters": runs[0]["trainable_parameters"], "total_parameters": runs[0]["total_parameters"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": base.threads or os.cpu_count(),
    }, model_dir


def bench_serving(model_dir: Path, work: Path, requests: int, warmup: int, max_new_tokens: int) -> dict:
    from empathy.deploy import free_port, stop_process
    from empathy.io import read_jsonl
    from empathy.serve.client import ChatClient

    port = free_port()
    log = (work / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "empathy.cli", "serve", "--model", str(model_dir), "--port",
                             str(port)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    client = ChatClient(f"http://127.0.0.1:{port}", "empathy-chat")
    try:
        deadline = time.monotonic() + 180
        while not client.ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start; see {work / 'serve.log'}")
            time.sleep(0.2)
        prompts = [row["text"] for row in read_jsonl(REPO / "data/demo/inference_inputs.jsonl")]
        for i in range(warmup):
            client.chat([{"role": "user", "content": prompts[i % len(prompts)]}], max_new_tokens)
        latencies, tokens = [], []
        for i in range(requests):
            reply = client.chat([{"role": "user", "content": prompts[i % len(prompts)]}], max_new_tokens)
            latencies.append(reply["latency_ms"])
            tokens.append(reply["completion_tokens"])
    finally:
        client.close()
        stop_process(proc)
        log.close()
    return {
        "requests": requests, "max_new_tokens": max_new_tokens, "mean_completion_tokens": statistics.mean(tokens),
        "latency_ms_p50": percentile(latencies, 0.50), "latency_ms_p95": percentile(latencies, 0.95),
        "latency_ms_p99": percentile(latencies, 0.99), "latency_ms_max": max(latencies),
        "route": "POST /v1/models/empathy-chat:predict (sequential, one client)",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/bench")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="empathy-bench-") as tmp:
        work = Path(tmp)
        data = prepare_data(work)
        data_processing = bench_data_processing(work)
        training, model_dir = bench_training(data, work, args.repeats)
        serving = bench_serving(model_dir, work, args.requests, args.warmup, args.max_new_tokens)
    result = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(), "data_processing": data_processing, "training": training,
        "serving": serving,
        "command": "make bench",
    }
    (out / "bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
