"""Curate the screened pairs, split them into train/val/test chat JSONL, and account for every item.

Curation (empathy.data.curate) removes duplicates and selects to the source mix and the extracted share.
Pairs are then split by the record they came from (a session never straddles two splits), within each pair
type, in an order fixed by a seeded hash, so the split is deterministic and test data never leaks into
training. The report recounts every input item from the stage files: each ends in exactly one split, in
held_for_review.jsonl, or in rejected.jsonl with a reason code, and the split fails loudly if the counts do
not close. report.html shows it (empathy.data.report).

    from empathy.data.split import split_and_export
    result = split_and_export(records, pairs, accepted, screened, held, rejections, SplitConfig(), "out/")
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from empathy.config import SplitConfig
from empathy.data.schema import QAPair, Record, Rejection
from empathy.io import sha256_file, stable_hash, write_json, write_jsonl

SPLITS = ("train", "val", "test")
ROLE_OF = {"asker": "user", "responder": "assistant", "narrator": "user"}


@dataclass
class SplitResult:
    splits: dict[str, list[dict[str, Any]]]
    rejected: list[Rejection]
    report: dict[str, Any]


def to_chat(pair: QAPair, system_prompt: str) -> dict[str, Any]:
    """One chat example: system, optional context turns, the question, the answer, and the pair's metadata."""
    from empathy.data.curate import source_group

    turns = [(ROLE_OF[t.role], t.text) for t in pair.context] + [("user", pair.question), ("assistant", pair.answer)]
    while turns and turns[0][0] != "user":
        turns.pop(0)
    merged: list[dict[str, str]] = []
    for role, text in turns:
        if merged and merged[-1]["role"] == role:
            merged[-1]["content"] += "\n" + text
        else:
            merged.append({"role": role, "content": text})
    return {
        "id": pair.id,
        "messages": [{"role": "system", "content": system_prompt}, *merged],
        "pair_type": pair.pair_type,
        "question_origin": pair.question_origin,
        "content_type": pair.content_type,
        "source_group": source_group(pair),
        "score": pair.score,
        "risk": pair.risk,
        "deidentified": pair.deid,
        "topic": pair.topic,
        "category": pair.meta.get("category"),
        "difficulty": pair.meta.get("difficulty"),
        "source": pair.source.model_dump(mode="json"),
    }


def assign_splits(pairs: list[QAPair], config: SplitConfig) -> dict[str, list[QAPair]]:
    """Whole records to test, then val, until each reaches its fraction; the rest to train.

    Stratified by pair type (a record yields one type), so extracted and
    contextual pairs are both represented in every split. Each split with a
    non-zero fraction gets at least one record and overshoots by at most one.
    """
    out: dict[str, list[QAPair]] = {name: [] for name in SPLITS}
    for pair_type in sorted({p.pair_type for p in pairs}):
        groups: dict[str, list[QAPair]] = defaultdict(list)
        for pair in pairs:
            if pair.pair_type == pair_type:
                groups[pair.record_id].append(pair)
        total = sum(len(g) for g in groups.values())
        targets = {"test": config.test_fraction * total, "val": config.val_fraction * total}
        filled = {"test": 0, "val": 0}
        for rid in sorted(groups, key=lambda rid: stable_hash(str(config.seed), rid)):
            name = next((n for n in ("test", "val") if filled[n] < targets[n]), "train")
            if name != "train":
                filled[name] += len(groups[rid])
            out[name].extend(groups[rid])
    return out


def account(
    records: list[Record], ingest_rejected: list[Rejection], pairs: list[QAPair], accepted: list[QAPair],
    screened: list[QAPair], held: list[QAPair], rejected: list[Rejection], splits: dict[str, list[QAPair]],
) -> dict[str, Any]:
    """Recount every item from the stage outputs; raise if anything is lost or counted twice.

    records -> a pair or a pairs-stage rejection; pair -> accepted or a validate rejection; accepted -> passed
    the screen, held for review, or a screen rejection; passed -> exactly one split or a curate rejection.
    """
    by_stage: dict[str, set[str]] = defaultdict(set)
    for r in rejected:
        by_stage[r.stage].add(r.id)
    with_pairs = {p.record_id for p in pairs}
    accepted_ids = {p.id for p in accepted}
    screened_ids = {p.id for p in screened}
    held_ids = {p.id for p in held}
    split_ids = Counter(p.id for name in SPLITS for p in splits[name])
    problems = {
        "records": [r.id for r in records if r.id not in with_pairs and r.id not in by_stage["pairs"]],
        "pairs": [p.id for p in pairs if p.id not in accepted_ids and p.id not in by_stage["validate"]],
        "accepted": [p.id for p in accepted if p.id not in screened_ids | held_ids | by_stage["screen"]],
        "screened": [p.id for p in screened if split_ids[p.id] != 1 and p.id not in by_stage["curate"]],
        "exported_without_passing_the_screen": sorted(set(split_ids) - screened_ids),
        "records_both_paired_and_rejected": sorted(with_pairs & by_stage["pairs"]),
        "pairs_both_accepted_and_rejected": sorted(accepted_ids & by_stage["validate"]),
        "pairs_in_two_places": sorted((screened_ids & held_ids) | (screened_ids & by_stage["screen"])
                                      | ({i for i in split_ids} & by_stage["curate"])),
    }
    if any(problems.values()):
        raise RuntimeError(f"accounting failed, items not in exactly one place: { {k: v for k, v in problems.items() if v} }")
    by_reason = Counter(f"{r.stage}:{r.reason}" for r in rejected)
    exported = [p for name in SPLITS for p in splits[name]]
    items_from_records = sum(r.items for r in records)
    return {
        "items_in": items_from_records + len(ingest_rejected),
        "items_loaded": items_from_records,
        "items_rejected_at_ingest": len(ingest_rejected),
        "processed_share": round(items_from_records / (items_from_records + len(ingest_rejected)), 6)
        if records or ingest_rejected else None,
        "records": len(records),
        "records_by_dataset": dict(sorted(Counter(r.source.dataset for r in records).items())),
        "records_with_pairs": len(with_pairs),
        "pairs": len(pairs),
        "pairs_by_type": dict(Counter(p.pair_type for p in pairs)),
        "accepted": len(accepted),
        "accepted_by_type": dict(Counter(p.pair_type for p in accepted)),
        "held_for_review": len(held),
        "held_by_dataset": dict(sorted(Counter(p.source.dataset for p in held).items())),
        "exported": len(exported),
        "exported_by_type": dict(Counter(p.pair_type for p in exported)),
        "extracted_share": round(sum(p.pair_type == "extracted" for p in exported) / len(exported), 4) if exported else None,
        "questions_by_origin": dict(sorted(Counter(p.question_origin for p in exported).items())),
        "splits": {name: len(splits[name]) for name in SPLITS},
        "split_by_type": {name: dict(Counter(p.pair_type for p in splits[name])) for name in SPLITS},
        "rejected": len(rejected),
        "rejected_by_reason": dict(sorted(by_reason.items())),
        "exported_by_content_type": dict(Counter(p.content_type for p in exported)),
        "exported_by_dataset": dict(sorted(Counter(p.source.dataset for p in exported).items())),
        "accepted_by_content_type": dict(Counter(p.content_type for p in accepted)),
        "accepted_by_dataset": dict(Counter(p.source.dataset for p in accepted)),
        "accounted": True,
    }


def split_and_export(
    records: list[Record], pairs: list[QAPair], accepted: list[QAPair], screened: list[QAPair], held: list[QAPair],
    rejected: list[Rejection], config: SplitConfig, out_dir: str | Path | None = None,
    edge_cases: dict[str, Any] | None = None, progress: bool = False,
) -> SplitResult:
    """Curate the screened pairs (dedup, mix, extracted share), split by conversation, export, account.

    `edge_cases`: the edge-case section of the data report (`edge_cases.data_report_section`), when generated.
    """
    from empathy.data.curate import curate

    kept, curate_rejected, curation = curate(screened, config, progress)
    rejected = [*rejected, *curate_rejected]
    assigned = assign_splits(kept, config)
    ingest_rejected = [r for r in rejected if r.stage == "ingest"]
    report = account(records, ingest_rejected, pairs, accepted, screened, held, rejected, assigned)
    report["curation"] = curation
    report["identifiers_replaced"] = dict(sorted(sum((Counter(p.deid) for p in [*screened, *held] if p.deid),
                                                     Counter()).items()))
    report["identifiers_replaced_in_export"] = dict(sorted(sum((Counter(p.deid) for name in SPLITS
                                                                for p in assigned[name]), Counter()).items()))
    report["risk_levels_exported"] = dict(sorted(Counter((p.risk or {}).get("level", "unscreened")
                                                         for name in SPLITS for p in assigned[name]).items()))
    if edge_cases is not None:
        report["edge_cases"] = edge_cases
    splits = {name: [to_chat(p, config.system_prompt) for p in assigned[name]] for name in SPLITS}
    result = SplitResult(splits=splits, rejected=rejected, report=report)
    if out_dir is not None:
        out = Path(out_dir)
        for name in SPLITS:
            write_jsonl(out / f"{name}.jsonl", splits[name])
        write_jsonl(out / "rejected.jsonl", (r.model_dump(mode="json") for r in rejected))
        write_jsonl(out / "held_for_review.jsonl", (p.model_dump(mode="json") for p in held))
        report["train_sha256"] = sha256_file(out / "train.jsonl")  # the data set's identity in the registry
        write_json(out / "report.json", report)
        from empathy.data.report import write_html_report

        write_html_report(report, splits, out / "report.html")
    return result
