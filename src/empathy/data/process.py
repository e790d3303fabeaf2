"""`empathy data process`: every data stage in one command, on sources named on the command line.

    empathy data process --source counsel_chat:../shared/data/counsel_chat.csv \
                         --source annomi:../shared/data/annomi_full.csv \
                         --source esconv:../shared/data/esconv_sample.json --out runs/data [--config FILE]

It runs the same stage functions as the Kubeflow components (`empathy.stages`: ingest, pairs, validate, screen,
split), in one process, with their files under DIR/stages/, and writes DIR/{train,val,test}.jsonl,
DIR/rejected.jsonl, DIR/held_for_review.jsonl, DIR/report.json and DIR/report.html. Embeddings are cached on
disk by text hash (DIR/cache/embeddings.sqlite unless --embedding-cache or $EMPATHY_EMBEDDING_CACHE names
another file), so a rerun skips the encoder. The report adds the seconds each stage took.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from empathy.config import PipelineConfig


def process_sources(sources: list[str], config: PipelineConfig, out_dir: str | Path, review_url: str | None = None,
                    embedding_cache: str | Path | None = None, progress: bool = True) -> dict[str, Any]:
    from empathy import stages
    from empathy.embeddings import use_cache
    from empathy.errors import UserError
    from empathy.io import read_json, write_json

    if not sources:
        raise UserError("empathy data process: name at least one --source KIND:PATH")
    out = Path(out_dir)
    st = out / "stages"
    st.mkdir(parents=True, exist_ok=True)
    cache = use_cache(embedding_cache or out / "cache" / "embeddings.sqlite")
    seconds: dict[str, float] = {}

    def timed(name: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds[name] = round(time.perf_counter() - t0, 2)
        if progress:
            print(f"[data] {name}: {seconds[name]:.1f} s", flush=True)
        return result

    try:
        timed("ingest", stages.ingest_sources, sources, str(st / "records.jsonl"), str(st / "ingest_rejected.jsonl"))
        timed("pairs", stages.pairs, str(st / "records.jsonl"), config.pairs, str(st / "pairs.jsonl"),
              str(st / "pairs_rejected.jsonl"))
        timed("validate", stages.validate, str(st / "pairs.jsonl"), config.validate_, str(st / "accepted.jsonl"),
              str(st / "validate_rejected.jsonl"))
        timed("screen", stages.screen, str(st / "accepted.jsonl"), config.screen, str(st / "passed.jsonl"),
              str(st / "held.jsonl"), str(st / "screen_rejected.jsonl"), review_url=review_url, progress=progress)
        timed("split", stages.split, str(st / "records.jsonl"), str(st / "pairs.jsonl"), str(st / "accepted.jsonl"),
              str(st / "passed.jsonl"), str(st / "held.jsonl"),
              [str(st / f"{name}_rejected.jsonl") for name in ("ingest", "pairs", "validate", "screen")],
              config.split, str(out), progress=progress)
    finally:
        use_cache(None)
    report = read_json(out / "report.json", "data report")
    report["seconds"] = {**seconds, "total": round(sum(seconds.values()), 2)}
    report["embedding_cache"] = {"path": str(cache.path), "hits": cache.hits, "misses": cache.misses} if cache else None
    report["sources"] = sources
    write_json(out / "report.json", report)
    return report
