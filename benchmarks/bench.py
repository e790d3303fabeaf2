"""Benchmarks of the tiny demo model on this machine: training throughput, trainer overhead, packing, serving latency.

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
3. Serving: the trained model behind `empathy serve` as deployed (kserve
   ModelServer on 127.0.0.1 with API-key auth, the guard, the audit log and
   the stores), 40 sequential chat requests of up to 64 new tokens through
   the OpenAI route after 5 warm-up requests: p50/p95/p99 round-trip latency;
   generation alone and the guard alone on the same prompts, and what is left
   (the server's own overhead); then a load run of 2,000 requests at
   concurrency 16: errors, throughput, latency.
4. Trainer overhead: the recipe's own `train()` against a bare PyTorch loop
   (forward, token-mean cross-entropy plus the router loss, backward, clip,
   AdamW, scheduler, zero_grad) over the identical batches of the tiny preset
   on the demo train split, each on a freshly set-up recipe with the same seed,
   after a warm-up, interleaved over several repeats: non-pad tokens per
   second and their ratio (target >= 0.85).
5. Packing: counsel-chat (../shared/data) made into chat examples as the pairs
   and split stages make them, tokenized with a tokenizer trained as the recipe
   trains the tiny preset's: real tokens over all positions of packed rows at
   the tiny preset's max_seq_len and at 4096, beside length-bucketed batches
   (target >= 0.95 packed).

Run only some sections with `--only training-overhead,packing` (names:
data-processing, training, serving, training-overhead, packing); their results
then go to <out>/bench-<names>.json, so that a partial run never overwrites a
full one.

Results are written to <out>/bench.json and printed; docs/benchmarks.md
records them with the date and the machine. Numbers, not tests: nothing here
asserts a speed. The GPU counterpart is benchmarks/bench_gpu.py.
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


def _bare_loop(recipe, steps: int) -> tuple[int, float]:
    """The loop a user would write by hand, on the recipe's model, optimizer, schedule and batches: (tokens, s)."""
    import torch
    import torch.nn.functional as F

    from empathy.train.tokenizer import IGNORE_INDEX

    cfg = recipe.config
    model, params = recipe.model, list(recipe.trainable.values())
    optimizer, scheduler = recipe.optimizer, recipe.scheduler
    model.train()
    torch.manual_seed(cfg.seed)
    tokens, done, epoch = 0, 0, 0
    start = time.perf_counter()
    while done < steps:
        # built inside the timed region, as train() builds each epoch's batches inside its own
        for batch in recipe.epoch_batches(epoch):
            out = model(input_ids=batch["input_ids"].to(recipe.device),
                        attention_mask=batch["attention_mask"].to(recipe.device), use_cache=False)
            logits = out.logits[:, :-1].float()
            labels = batch["labels"][:, 1:].reshape(-1).to(recipe.device)
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), labels, ignore_index=IGNORE_INDEX)
            # the same objective as the recipe's: the tiny preset trains with the router's load-balancing loss
            if getattr(out, "aux_loss", None) is not None and cfg.model.router_aux_loss_coef:
                loss = loss + cfg.model.router_aux_loss_coef * out.aux_loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.optim.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            tokens += int(batch["attention_mask"].sum())
            done += 1
            if done == steps:
                break
        epoch += 1
    return tokens, time.perf_counter() - start


def bench_trainer_overhead(data: Path, steps: int, warmup: int, repeats: int) -> dict:
    """The recipe's `train()` against a bare loop over the same batches: what the trainer's bookkeeping costs."""
    from empathy.config import load_train_config
    from empathy.io import read_jsonl
    from empathy.train.recipe import LoRAFinetuneRecipe

    base = load_train_config(REPO / "configs/train/tiny-moe-cpu.yaml")
    if base.gradient_accumulation_steps != 1:
        raise SystemExit("bench_trainer_overhead: the bare loop steps once per batch; the tiny preset must not "
                         "accumulate gradients")
    train = read_jsonl(data / "train.jsonl")

    def fresh(max_steps: int) -> LoRAFinetuneRecipe:
        # no validation split: both sides time training steps only (train() still logs every log_every steps)
        recipe = LoRAFinetuneRecipe(base.model_copy(update={"max_steps": max_steps}))
        recipe.setup(train, [])
        return recipe

    def trainer(max_steps: int) -> tuple[int, float, float]:
        recipe = fresh(max_steps)
        start = time.perf_counter()
        result = recipe.train(progress=False)
        return result.train_tokens, time.perf_counter() - start, result.summary()["tokens_per_second"]

    def bare(max_steps: int) -> tuple[int, float]:
        return _bare_loop(fresh(max_steps), max_steps)

    # the first steps in a process pay for thread pools, allocator growth and lazy imports
    trainer(warmup)
    bare(warmup)
    rows = []
    for r in range(repeats):
        # alternate which side goes first, so a slow spell on the shared cores does not always hit the same one
        if r % 2 == 0:
            t_tokens, t_seconds, t_own = trainer(steps)
            b_tokens, b_seconds = bare(steps)
        else:
            b_tokens, b_seconds = bare(steps)
            t_tokens, t_seconds, t_own = trainer(steps)
        if t_tokens != b_tokens:
            raise SystemExit(f"bench_trainer_overhead: trainer saw {t_tokens} tokens, the bare loop {b_tokens}")
        rows.append({"trainer_tokens_per_second": t_tokens / t_seconds, "bare_tokens_per_second": b_tokens / b_seconds,
                     "trainer_reported_tokens_per_second": t_own})
    trainer_tps = [r["trainer_tokens_per_second"] for r in rows]
    bare_tps = [r["bare_tokens_per_second"] for r in rows]
    paired = [t / b for t, b in zip(trainer_tps, bare_tps)]
    ratio = statistics.median(trainer_tps) / statistics.median(bare_tps)
    return {
        "preset": "tiny-moe-cpu", "steps": steps, "warmup_steps": warmup, "repeats": repeats,
        "batch_size": base.batch_size, "tokens_per_run": t_tokens,
        "trainer_tokens_per_second_median": round(statistics.median(trainer_tps), 1),
        "trainer_tokens_per_second_min": round(min(trainer_tps), 1),
        "trainer_tokens_per_second_max": round(max(trainer_tps), 1),
        "trainer_reported_tokens_per_second_median": round(
            statistics.median(r["trainer_reported_tokens_per_second"] for r in rows), 1),
        "bare_tokens_per_second_median": round(statistics.median(bare_tps), 1),
        "bare_tokens_per_second_min": round(min(bare_tps), 1),
        "bare_tokens_per_second_max": round(max(bare_tps), 1),
        "ratio_of_medians": round(ratio, 3),
        "paired_ratio_median": round(statistics.median(paired), 3),
        "paired_ratio_min": round(min(paired), 3), "paired_ratio_max": round(max(paired), 3),
        "target_ratio": 0.85, "meets_target": ratio >= 0.85,
        "per_repeat": [{k: round(v, 1) for k, v in r.items()} for r in rows],
        "timing": "wall clock around recipe.train() and around the bare loop; non-pad tokens (attention_mask sum)",
        "threads": base.threads or os.cpu_count(),
    }


def counsel_chat_examples() -> tuple[list[dict], Path] | None:
    """Counsel-chat as chat examples, the way the pipeline makes them (ingest, pairs, split's `to_chat`)."""
    from empathy.config import load_pipeline_config
    from empathy.data.pairs import make_pairs
    from empathy.data.shared_sets import COUNSEL_CHAT, find_shared_file
    from empathy.data.sources import ingest_specs, source_from_arg
    from empathy.data.split import to_chat

    path = find_shared_file(COUNSEL_CHAT)
    if path is None:
        return None
    cfg = load_pipeline_config(REPO / "configs/pipeline/demo.yaml")
    records = ingest_specs([source_from_arg(f"counsel_chat:{path}")]).records
    pairs = make_pairs(records, cfg.pairs).pairs
    return [to_chat(p, cfg.split.system_prompt) for p in pairs], path


def bench_packing(long_seq_len: int = 4096) -> dict:
    """Real tokens over all positions on counsel-chat: packed rows against length-bucketed batches."""
    from empathy.config import load_train_config
    from empathy.train.dataset import (
        make_batches, make_packed_batches, pack_examples, packing_efficiency, tokenize_examples,
    )
    from empathy.train.tokenizer import chat_texts, encode_chat, train_tokenizer

    found = counsel_chat_examples()
    if found is None:
        return {"skipped": "counsel_chat.csv not found ($EMPATHY_SHARED_DATA, then ../shared/data): no packing numbers"}
    examples, path = found
    tiny = load_train_config(REPO / "configs/train/tiny-moe-cpu.yaml")
    tokenizer = train_tokenizer(chat_texts(examples), tiny.tokenizer.vocab_size, tiny.tokenizer.min_frequency)
    pad = tokenizer.pad_token_id
    lengths = [len(encode_chat(tokenizer, ex["messages"])[0]) for ex in examples]
    out = {
        "source": str(path), "conversations": len(examples),
        "tokenizer": f"byte-level BPE, vocab {tiny.tokenizer.vocab_size}, trained on these conversations "
                     "(as the recipe trains the tiny preset's)",
        "tokens_per_conversation_mean": round(statistics.mean(lengths), 1),
        "tokens_per_conversation_median": statistics.median(lengths),
        "batch_size": tiny.batch_size, "target": 0.95, "by_max_seq_len": {},
    }
    for max_len in (tiny.max_seq_len, long_seq_len):
        tokenized = tokenize_examples(examples, tokenizer, max_len)
        rows = pack_examples(tokenized, max_len)
        packed = make_packed_batches(rows, tiny.batch_size, pad, tiny.seed)
        bucketed = make_batches(tokenized, tiny.batch_size, pad, tiny.seed)
        real = sum(len(ids) for ids, _ in tokenized)
        packed_eff, bucketed_eff = packing_efficiency(packed), packing_efficiency(bucketed)
        out["by_max_seq_len"][str(max_len)] = {
            "examples": len(tokenized),
            # at a short max_seq_len the system prompt and question can fill the row: no reply left to train on
            "dropped_no_reply_left": len(examples) - len(tokenized),
            "truncated_share": round(sum(n > max_len for n in lengths) / len(lengths), 3),
            "real_tokens": real, "packed_rows": len(rows),
            "packed_row_fill": round(real / (len(rows) * max_len), 4),
            "packed_efficiency": round(packed_eff, 4),
            "bucketed_efficiency": round(bucketed_eff, 4),
            "bucketed_padding_share": round(1 - bucketed_eff, 4),
            "packed_meets_target": packed_eff >= 0.95,
        }
    return out


def _chat_request(client, base: str, key: str, text: str, max_new_tokens: int) -> tuple[float, dict, dict]:
    """Client-side latency, the response body and the server's own timings (its Server-Timing header)."""
    started = time.perf_counter()
    response = client.post(f"{base}/openai/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                           json={"model": "empathy-chat", "messages": [{"role": "user", "content": text}],
                                 "max_tokens": max_new_tokens, "temperature": 0})
    elapsed_ms = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    timings = {}
    for part in response.headers.get("server-timing", "").split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            timings[name] = float(dur)
    return elapsed_ms, response.json(), timings


def _latency_summary(latencies: list[float]) -> dict:
    return {"latency_ms_p50": percentile(latencies, 0.50), "latency_ms_p95": percentile(latencies, 0.95),
            "latency_ms_p99": percentile(latencies, 0.99), "latency_ms_max": max(latencies)}


def bench_serving(model_dir: Path, work: Path, requests: int, warmup: int, max_new_tokens: int,
                  load_requests: int, concurrency: int) -> dict:
    """Through `empathy serve` as deployed (auth, guard, audit, stores on SQLite, metrics): sequential latency on
    the OpenAI route; the same prompts through ChatGenerator.reply in this process (generation alone) and through
    Guard.respond with generation stubbed (the guard alone); then a load run at `concurrency`. Every request text
    is unique (a request number is appended), so the response cache never answers."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from empathy.deploy import free_port, stop_process
    from empathy.generate import ChatGenerator
    from empathy.io import read_jsonl
    from empathy.serve.auth import KeyStore
    from empathy.serve.guard import Guard

    urls = {"EMPATHY_AUTH_URL": f"sqlite:///{work / 'auth.db'}", "EMPATHY_AUDIT_URL": f"sqlite:///{work / 'audit.db'}",
            "EMPATHY_CONVERSATION_URL": f"sqlite:///{work / 'conversations.db'}",
            "EMPATHY_INFERENCE_LOG_URL": f"sqlite:///{work / 'inference.db'}"}
    with KeyStore(urls["EMPATHY_AUTH_URL"]) as keys:
        key = keys.create("client", subject="bench")
    prompts = [row["text"] for row in read_jsonl(REPO / "data/demo/inference_inputs.jsonl")]
    texts = [f"{prompts[i % len(prompts)]} ({i})" for i in range(warmup + requests + load_requests)]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (work / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "empathy.cli", "serve", "--model", str(model_dir), "--port",
                             str(port), "--rate-limit", str(10 * (requests + load_requests)),
                             "--max-new-tokens", str(max_new_tokens)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **urls})
    try:
        with httpx.Client(timeout=120) as client:
            deadline = time.monotonic() + 300
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start; see {work / 'serve.log'}")
                try:
                    if client.get(f"{base}/v2/health/ready").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            for text in texts[:warmup]:
                _chat_request(client, base, key, text, max_new_tokens)
            sequential, tokens, server_generate, server_guard = [], [], [], []
            for text in texts[warmup:warmup + requests]:
                ms, body, timings = _chat_request(client, base, key, text, max_new_tokens)
                sequential.append(ms)
                tokens.append(body["usage"]["completion_tokens"])
                server_generate.append(timings["generate"])
                server_guard.append(timings["guard"])

        def one(text: str) -> float | None:
            try:
                return _chat_request(load_client, base, key, text, max_new_tokens)[0]
            except httpx.HTTPError:
                return None

        load_texts = texts[warmup + requests:]
        with httpx.Client(timeout=300, limits=httpx.Limits(max_connections=concurrency)) as load_client, \
                ThreadPoolExecutor(concurrency) as pool:
            started = time.perf_counter()
            under_load = list(pool.map(one, load_texts))
            load_seconds = time.perf_counter() - started
    finally:
        stop_process(proc)
        log.close()

    generator = ChatGenerator.from_dir(model_dir)
    generate_ms = []
    for text in texts[warmup:warmup + requests]:
        started = time.perf_counter()
        generator.reply([{"role": "user", "content": text}], max_new_tokens)
        generate_ms.append((time.perf_counter() - started) * 1000)
    guard = Guard()
    guard.respond([{"role": "user", "content": texts[0]}], lambda m: "That sounds hard. What helps a little?")
    guard_ms = []
    for text in texts[warmup:warmup + requests]:
        started = time.perf_counter()
        guard.respond([{"role": "user", "content": text}], lambda m: "That sounds hard. What helps a little?")
        guard_ms.append((time.perf_counter() - started) * 1000)
    ok = [ms for ms in under_load if ms is not None]
    # paired, per request: the client's latency less the generation and guard time the server measured for that
    # same request (Server-Timing), i.e. HTTP, auth, audit, stores, metrics and serialisation
    overhead = [total - gen - grd for total, gen, grd in zip(sequential, server_generate, server_guard)]
    return {
        "route": "POST /openai/v1/chat/completions (API key, guard, audit, stores on SQLite)",
        "requests": requests, "max_new_tokens": max_new_tokens, "mean_completion_tokens": statistics.mean(tokens),
        **_latency_summary(sequential),
        "generate_only_ms_p50": percentile(generate_ms, 0.50),
        "guard_only_ms_p50": percentile(guard_ms, 0.50), "guard_only_ms_p95": percentile(guard_ms, 0.95),
        "server_overhead_ms_p50": percentile(overhead, 0.50), "server_overhead_ms_p95": percentile(overhead, 0.95),
        "in_server_generate_ms_p50": percentile(server_generate, 0.50),
        "in_server_guard_ms_p50": percentile(server_guard, 0.50),
        "overhead_over_generate_ms_p50": percentile([total - gen for total, gen in
                                                     zip(sequential, server_generate)], 0.50),
        "load": {"requests": len(load_texts), "concurrency": concurrency, "errors": len(under_load) - len(ok),
                 "seconds": load_seconds, "requests_per_second": len(ok) / load_seconds,
                 **(_latency_summary(ok) if ok else {})},
    }


SECTIONS = ("data-processing", "training", "serving", "training-overhead", "packing")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/bench")
    parser.add_argument("--only", help=f"comma-separated sections to run (default: all): {', '.join(SECTIONS)}; "
                                       "serving needs training and runs it too")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--load-requests", type=int, default=2000, help="serving load run: requests in all")
    parser.add_argument("--concurrency", type=int, default=16, help="serving load run: requests in flight")
    parser.add_argument("--overhead-steps", type=int, default=96,
                        help="optimizer steps per timed run (several epochs of the demo split)")
    parser.add_argument("--overhead-warmup", type=int, default=8, help="steps of each side before timing")
    parser.add_argument("--overhead-repeats", type=int, default=5)
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    unknown = only - set(SECTIONS)
    if unknown:
        parser.error(f"--only: unknown sections {', '.join(sorted(unknown))} (known: {', '.join(SECTIONS)})")
    if "serving" in only:
        only.add("training")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "python": platform.python_version()}
    with tempfile.TemporaryDirectory(prefix="empathy-bench-") as tmp:
        work = Path(tmp)
        data = prepare_data(work) if only & {"training", "training-overhead"} else None
        if "data-processing" in only:
            result["data_processing"] = bench_data_processing(work)
        if "training" in only:
            result["training"], model_dir = bench_training(data, work, args.repeats)
        if "serving" in only:
            result["serving"] = bench_serving(model_dir, work, args.requests, args.warmup, args.max_new_tokens,
                                              args.load_requests, args.concurrency)
        if "training-overhead" in only:
            result["training_overhead"] = bench_trainer_overhead(data, args.overhead_steps, args.overhead_warmup,
                                                                 args.overhead_repeats)
        if "packing" in only:
            result["packing"] = bench_packing()
    partial = only != set(SECTIONS)
    names = [s for s in SECTIONS if s in only]
    result["command"] = f"benchmarks/bench.py --only {','.join(names)}" if partial else "make bench"
    path = out / (f"bench-{'+'.join(names)}.json" if partial else "bench.json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
