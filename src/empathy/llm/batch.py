"""Run many chat requests through a provider: bounded concurrency, retries, resumable state.

    result = run_batch(provider, requests, Path("runs/edge_cases/llm"), BatchConfig(concurrency=8))
    for rid, record in result.completions.items(): ...     # record.text, record.input_tokens, ...
    result.failed                                           # id -> error message, retried on the next run

Paid APIs rate-limit and fail transiently, and a batch of a few thousand
dialogues takes long enough to be interrupted, so:

- at most `batch.concurrency` requests are in flight (a thread pool: the SDK
  clients are synchronous);
- a retryable `ProviderError` (rate limit, 5xx, timeout, dropped connection)
  is retried up to `batch.max_retries` times after `batch.backoff_s`,
  doubling each time, capped at `batch.max_backoff_s`, with jitter so that
  the threads that hit one rate limit together do not come back together;
  a non-retryable one (bad request, bad key, unknown model) fails at once;
- each finished item is appended to `state_dir/completions.jsonl` and flushed
  before the next is written, so killing the process loses only the requests
  in flight; a rerun with the same `state_dir` skips ids already there (a
  torn last line, from a kill mid-write, is dropped);
- items that still failed are listed in `state_dir/failed.jsonl`, rewritten
  at the end of each run, and are requested again by the next run.

A completion is reused only for the same id *and* the same messages: the
line stores a hash of the messages, so editing a prompt and rerunning redoes
the edited items rather than returning stale text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from empathy.config import BatchConfig
from empathy.errors import UserError
from empathy.llm.types import ChatRequest, Completion, Provider, ProviderError

log = logging.getLogger(__name__)

COMPLETIONS_FILE = "completions.jsonl"
FAILED_FILE = "failed.jsonl"


@dataclass(frozen=True, kw_only=True)
class CompletionRecord(Completion):
    """A completion with its request id and how it was obtained; `resumed` when read back from a previous run."""

    id: str
    attempts: int
    seconds: float
    resumed: bool = False


@dataclass
class BatchTotals(Mapping[str, float]):
    """Counts for the whole batch: `completed` includes `resumed`; tokens cover every completion returned;
    `retries` and `seconds` cover this run only. Read as attributes, or as a mapping (`dict(totals)`)
    for reports and metrics."""

    requests: int = 0
    completed: int = 0
    resumed: int = 0
    failed: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __getitem__(self, key: str) -> float:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dataclass_fields__)

    def __len__(self) -> int:
        return len(self.__dataclass_fields__)


@dataclass
class BatchResult:
    completions: dict[str, CompletionRecord] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    totals: BatchTotals = field(default_factory=BatchTotals)


def messages_sha256(request: ChatRequest) -> str:
    payload = json.dumps(request.messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def backoff_delay(retry: int, batch: BatchConfig, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `retry` (1-based): exponential, capped, half of it jittered."""
    base = min(batch.max_backoff_s, batch.backoff_s * 2 ** (retry - 1))
    return base / 2 + (rng or random).uniform(0, base / 2)


def load_completions(path: Path) -> dict[str, dict[str, Any]]:
    """The records in a completions file, last line per id winning.

    An unparsable last line (a kill mid-write) is cut off the file so that
    the next append starts on a fresh line; an unparsable line elsewhere is
    corruption and a UserError.
    """
    if not path.exists():
        return {}
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    records: dict[str, dict[str, Any]] = {}
    offset = 0
    for number, line in enumerate(lines, start=1):
        is_last = number == len(lines) or (number == len(lines) - 1 and lines[-1] == b"")
        if line.strip():
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or "id" not in record or "text" not in record:
                    raise ValueError("not a completion record")
            except ValueError as exc:
                if not is_last:
                    raise UserError(f"{path}: line {number} is not a completion record ({exc}); "
                                    "fix or remove the line, or use a new state_dir") from None
                log.warning("%s: dropping a torn last line (%d bytes) left by an interrupted run", path, len(line))
                with open(path, "r+b") as fh:
                    fh.truncate(offset)
                break
            records[str(record["id"])] = record
        offset += len(line) + 1
    else:
        if raw and not raw.endswith(b"\n"):
            with open(path, "ab") as fh:
                fh.write(b"\n")
    return records


def _load_failed(path: Path) -> dict[str, dict[str, Any]]:
    failed: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
                failed[str(record["id"])] = record
            except (ValueError, KeyError, TypeError):
                continue  # informational only: completions.jsonl decides what is redone
    return failed


def _write_failed(path: Path, failed: dict[str, dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for record in failed.values():
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _record_from_json(data: dict[str, Any]) -> CompletionRecord:
    return CompletionRecord(
        text=data["text"],
        input_tokens=int(data.get("input_tokens", 0)),
        output_tokens=int(data.get("output_tokens", 0)),
        provider=data.get("provider", ""),
        model=data.get("model", ""),
        finish_reason=data.get("finish_reason"),
        id=str(data["id"]),
        attempts=int(data.get("attempts", 1)),
        seconds=float(data.get("seconds", 0.0)),
        resumed=True,
    )


class _Outcome:
    __slots__ = ("record", "error", "retryable", "attempts")

    def __init__(self, attempts: int, record: CompletionRecord | None = None, error: str | None = None,
                 retryable: bool = False):
        self.record, self.error, self.retryable, self.attempts = record, error, retryable, attempts


def run_batch(provider: Provider, requests: list[ChatRequest], state_dir: Path, batch: BatchConfig,
              progress: bool = True) -> BatchResult:
    """Complete every request not already completed in `state_dir`; see the module docstring."""
    duplicates = sorted(rid for rid, n in Counter(r.id for r in requests).items() if n > 1)
    if duplicates:
        shown = ", ".join(duplicates[:5]) + (f" and {len(duplicates) - 5} more" if len(duplicates) > 5 else "")
        raise UserError(f"LLM batch: request ids must be unique; repeated: {shown}")

    start = time.monotonic()
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    completions_path, failed_path = state_dir / COMPLETIONS_FILE, state_dir / FAILED_FILE

    result = BatchResult()
    totals = result.totals
    totals.requests = len(requests)
    stored = load_completions(completions_path)
    pending: list[ChatRequest] = []
    stale = 0
    for request in requests:
        record = stored.get(request.id)
        if record is None:
            pending.append(request)
        elif record.get("messages_sha256") in (None, messages_sha256(request)):
            result.completions[request.id] = _record_from_json(record)
        else:
            stale += 1
            pending.append(request)
    totals.resumed = len(result.completions)
    if stale:
        log.info("%s: %d stored completions were made for different messages and are redone", completions_path, stale)
    if totals.resumed:
        log.info("%s: resuming, %d of %d requests already completed", completions_path, totals.resumed, len(requests))

    previous_failed = _load_failed(failed_path)
    write_lock = threading.Lock()
    retries_lock = threading.Lock()
    failed_records: dict[str, dict[str, Any]] = {}
    rng = random.Random()
    # Set when the run is aborted (Ctrl-C, a UserError): threads waiting to retry give up instead of sleeping on.
    stop = threading.Event()

    def attempt(request: ChatRequest, fh) -> _Outcome:
        began = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            try:
                completion = provider.complete(request)
            except ProviderError as exc:
                if exc.retryable and attempts <= batch.max_retries:
                    delay = backoff_delay(attempts, batch, rng)
                    log.debug("request %s: %s; retry %d in %.2f s", request.id, exc, attempts, delay)
                    with retries_lock:
                        totals.retries += 1
                    if stop.wait(delay):
                        return _Outcome(attempts, error="cancelled", retryable=True)
                    continue
                return _Outcome(attempts, error=str(exc), retryable=exc.retryable)
            except UserError:
                raise
            except Exception as exc:  # a provider bug or an unexpected reply: fail this item, keep the batch going
                log.exception("request %s: unexpected error from provider %s", request.id, provider.name)
                return _Outcome(attempts, error=f"{type(exc).__name__}: {exc}", retryable=False)
            record = CompletionRecord(
                text=completion.text, input_tokens=completion.input_tokens, output_tokens=completion.output_tokens,
                provider=completion.provider, model=completion.model, finish_reason=completion.finish_reason,
                id=request.id, attempts=attempts, seconds=round(time.monotonic() - began, 4),
            )
            line = {"id": record.id, "text": record.text, "input_tokens": record.input_tokens,
                    "output_tokens": record.output_tokens, "provider": record.provider, "model": record.model,
                    "finish_reason": record.finish_reason, "attempts": record.attempts, "seconds": record.seconds,
                    "messages_sha256": messages_sha256(request)}
            with write_lock:
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
                fh.flush()
            return _Outcome(attempts, record=record)

    finished = False
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(requests), initial=totals.resumed, desc=f"{provider.name} {provider.model}",
                   unit="req", dynamic_ncols=True)
    try:
        with open(completions_path, "a", encoding="utf-8") as fh, \
                ThreadPoolExecutor(max_workers=batch.concurrency, thread_name_prefix="llm") as pool:
            futures: dict[Future, ChatRequest] = {pool.submit(attempt, r, fh): r for r in pending}
            remaining = set(futures)
            try:
                while remaining:
                    done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                    for future in done:
                        request = futures[future]
                        outcome = future.result()
                        if outcome.record is not None:
                            result.completions[request.id] = outcome.record
                        else:
                            result.failed[request.id] = outcome.error or "unknown error"
                            failed_records[request.id] = {"id": request.id, "error": outcome.error,
                                                          "retryable": outcome.retryable,
                                                          "attempts": outcome.attempts}
                            log.warning("request %s failed after %d attempt(s): %s", request.id, outcome.attempts,
                                        outcome.error)
                        if bar is not None:
                            bar.update(1)
                            bar.set_postfix(failed=len(result.failed), retries=totals.retries, refresh=False)
            except BaseException:
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        finished = True
    finally:
        if bar is not None:
            bar.close()
        if finished:
            _write_failed(failed_path, failed_records)
        else:
            # An aborted run did not retry every earlier failure: keep those not completed since.
            kept = {k: v for k, v in previous_failed.items() if k not in result.completions}
            _write_failed(failed_path, {**kept, **failed_records})

    # Keep the caller's order, which the threads' finishing order is not.
    order = {r.id: i for i, r in enumerate(requests)}
    result.completions = dict(sorted(result.completions.items(), key=lambda item: order[item[0]]))
    result.failed = dict(sorted(result.failed.items(), key=lambda item: order[item[0]]))
    totals.completed = len(result.completions)
    totals.failed = len(result.failed)
    totals.input_tokens = sum(r.input_tokens for r in result.completions.values())
    totals.output_tokens = sum(r.output_tokens for r in result.completions.values())
    totals.seconds = round(time.monotonic() - start, 3)
    log.info("LLM batch %s %s: %d/%d completed (%d resumed), %d failed, %d retries, %d+%d tokens, %.1f s",
             provider.name, provider.model, totals.completed, totals.requests, totals.resumed, totals.failed,
             totals.retries, totals.input_tokens, totals.output_tokens, totals.seconds)
    return result
