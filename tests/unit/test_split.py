"""empathy.data.split: record-grouped deterministic splits, chat export and accounting.

Covers assign_splits (deterministic per seed, changes with the seed, a
record's pairs never straddle two splits, fractions roughly respected), to_chat
(system + alternating user/assistant, starting with user, ending with
assistant), account (the report closes; RuntimeError when an item is lost)
and split_and_export (train/val/test/rejected.jsonl and report.json written).
All inputs are synthetic QAPair / Record / Rejection objects.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from empathy.config import SplitConfig
from empathy.data.schema import Attribution, QAPair, Record, Rejection, Turn
from empathy.data.split import SPLITS, account, assign_splits, split_and_export, to_chat
from empathy.io import read_json, read_jsonl

SRC = Attribution(dataset="synthetic", source_id="s", kind="transcript", licence="CC0-1.0")
SYSTEM = "You are kind."
# the mechanics of splitting and accounting, without the curation (tested in test_curate.py)
PLAIN = {"balance": False, "near_duplicate": 1.0}


def _account(records, pairs, accepted, rejected, splits, held=(), screened=None):
    ingest = [r for r in rejected if r.stage == "ingest"]
    return account(records, ingest, pairs, accepted, accepted if screened is None else screened, list(held), rejected,
                   splits)


def _pair(record_id: str, n: int, pair_type: str = "extracted", context: list[Turn] | None = None,
          content_type: str = "dialogue") -> QAPair:
    return QAPair(
        id=f"{record_id}#t{n}", record_id=record_id, pair_type=pair_type, question=f"Question {n} of {record_id}?",
        answer=f"Answer {n} for {record_id}.", context=context or [], content_type=content_type, source=SRC,
    )


def _record(record_id: str) -> Record:
    return Record(id=record_id, content_type="dialogue", source=SRC,
                  turns=[Turn(speaker="A", role="asker", text="q?"), Turn(speaker="B", role="responder", text="a")])


def _corpus(n_records: int = 100, seed: int = 0) -> tuple[list[Record], list[QAPair]]:
    """~2 pairs per record (1 to 3), about 200 pairs from 100 records."""
    rng = random.Random(seed)
    records = [_record(f"rec-{i:03d}") for i in range(n_records)]
    pairs = [_pair(r.id, k) for r in records for k in range(rng.randint(1, 3))]
    return records, pairs


def _ids(assigned: dict[str, list[QAPair]]) -> dict[str, list[str]]:
    return {name: [p.id for p in assigned[name]] for name in SPLITS}


# --- assign_splits --------------------------------------------------------------------------


def test_split_is_deterministic_for_a_seed() -> None:
    _, pairs = _corpus()
    config = SplitConfig(seed=13)
    first = _ids(assign_splits(pairs, config))
    assert first == _ids(assign_splits(list(pairs), config))
    # input order does not matter: the order comes from the seeded hash
    shuffled = list(pairs)
    random.Random(1).shuffle(shuffled)
    assert {k: sorted(v) for k, v in _ids(assign_splits(shuffled, config)).items()} == {
        k: sorted(v) for k, v in first.items()}


def test_split_changes_with_the_seed() -> None:
    _, pairs = _corpus()
    a = _ids(assign_splits(pairs, SplitConfig(seed=13)))
    b = _ids(assign_splits(pairs, SplitConfig(seed=14)))
    assert set(a["test"]) != set(b["test"])
    assert set(a["val"]) != set(b["val"])


def test_every_pair_in_exactly_one_split() -> None:
    _, pairs = _corpus()
    assigned = _ids(assign_splits(pairs, SplitConfig()))
    placed = [pid for name in SPLITS for pid in assigned[name]]
    assert sorted(placed) == sorted(p.id for p in pairs)


@pytest.mark.parametrize("seed", [0, 13, 99])
def test_records_never_straddle_splits(seed: int) -> None:
    _, pairs = _corpus(seed=seed)
    assigned = assign_splits(pairs, SplitConfig(seed=seed))
    split_of: dict[str, str] = {}
    for name in SPLITS:
        for pair in assigned[name]:
            assert split_of.setdefault(pair.record_id, name) == name, pair.record_id


@pytest.mark.parametrize("val, test", [(0.1, 0.1), (0.2, 0.1), (0.05, 0.15), (0.0, 0.2)])
def test_fractions_roughly_respected(val: float, test: float) -> None:
    _, pairs = _corpus()
    total = len(pairs)
    assert 150 <= total <= 250
    assigned = assign_splits(pairs, SplitConfig(val_fraction=val, test_fraction=test))
    for name, fraction in (("val", val), ("test", test)):
        share = len(assigned[name]) / total
        assert abs(share - fraction) <= 0.03, (name, share, fraction)
    assert len(assigned["train"]) / total >= 1 - val - test - 0.05


def test_zero_val_fraction_leaves_val_empty() -> None:
    _, pairs = _corpus(20)
    assigned = assign_splits(pairs, SplitConfig(val_fraction=0.0, test_fraction=0.1))
    assert assigned["val"] == [] and assigned["test"]
    assert len(assigned["train"]) + len(assigned["test"]) == len(pairs)


def test_zero_test_fraction_is_rejected() -> None:
    # the evaluate stage needs a test split
    with pytest.raises(ValueError, match="test_fraction"):
        SplitConfig(val_fraction=0.1, test_fraction=0.0)


# --- to_chat --------------------------------------------------------------------------------


def _assert_chat_shape(messages: list[dict]) -> None:
    assert messages[0] == {"role": "system", "content": SYSTEM}
    rest = [m["role"] for m in messages[1:]]
    assert rest and rest[0] == "user" and rest[-1] == "assistant"
    for a, b in zip(rest, rest[1:]):
        assert a != b, rest
    assert set(rest) <= {"user", "assistant"}


def test_to_chat_without_context() -> None:
    pair = _pair("r", 0)
    chat = to_chat(pair, SYSTEM)
    assert chat["messages"] == [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": pair.question},
        {"role": "assistant", "content": pair.answer},
    ]
    assert chat["id"] == pair.id and chat["pair_type"] == "extracted" and chat["content_type"] == "dialogue"
    assert chat["source"] == SRC.model_dump(mode="json")
    json.dumps(chat)


@pytest.mark.parametrize("roles", [
    ["asker", "responder"],
    ["responder"],                       # leading assistant turn is dropped
    ["responder", "asker"],              # ... and the asker merges with the question
    ["asker"],
    ["asker", "asker", "responder"],
    ["responder", "responder", "asker", "responder"],
    ["narrator", "responder"],
])
def test_to_chat_alternates_and_starts_with_user(roles: list[str]) -> None:
    context = [Turn(speaker=r, role=r, text=f"turn {i} by {r}") for i, r in enumerate(roles)]
    pair = _pair("r", 0, context=context)
    messages = to_chat(pair, SYSTEM)["messages"]
    _assert_chat_shape(messages)
    assert messages[-1]["content"] == pair.answer
    assert messages[-2]["content"].endswith(pair.question)
    # no text is lost except leading assistant turns
    everything = "\n".join(m["content"] for m in messages)
    first_user = next((i for i, r in enumerate(roles) if r in ("asker", "narrator")), len(roles))
    for turn in context[first_user:]:
        assert turn.text in everything


def test_to_chat_merges_consecutive_same_role() -> None:
    context = [Turn(speaker="C", role="asker", text="I feel low.")]
    messages = to_chat(_pair("r", 0, context=context), SYSTEM)["messages"]
    assert messages[1] == {"role": "user", "content": "I feel low.\nQuestion 0 of r?"}
    assert len(messages) == 3


# --- account --------------------------------------------------------------------------------


def _pipeline_state(n_records: int = 30):
    records, pairs = _corpus(n_records, seed=3)
    rejected: list[Rejection] = [
        Rejection(id=f"ingest-bad-{i}", stage="ingest", reason="unknown_speaker", source=SRC) for i in range(2)
    ]
    # the last record yields no pair
    no_pair = records[-1].id
    pairs = [p for p in pairs if p.record_id != no_pair]
    rejected.append(Rejection(id=no_pair, stage="pairs", reason="no_usable_pair", source=SRC))
    # every 4th pair fails validation
    accepted = []
    for i, pair in enumerate(pairs):
        if i % 4 == 0:
            rejected.append(Rejection(id=pair.id, stage="validate", reason="low_score", source=SRC))
        else:
            accepted.append(pair)
    return records, pairs, accepted, rejected


def test_report_closes() -> None:
    records, pairs, accepted, rejected = _pipeline_state()
    splits = assign_splits(accepted, SplitConfig())
    report = _account(records, pairs, accepted, rejected, splits)
    assert report["accounted"] is True
    assert report["items_in"] == len(records) + 2
    assert report["records"] == len(records)
    assert report["records_with_pairs"] == len(records) - 1
    assert report["pairs"] == len(pairs)
    assert report["accepted"] == len(accepted)
    assert sum(report["splits"].values()) == report["accepted"]
    assert report["rejected"] == len(rejected) == sum(report["rejected_by_reason"].values())
    n_validate = sum(r.stage == "validate" for r in rejected)
    assert report["rejected_by_reason"] == {
        "ingest:unknown_speaker": 2, "pairs:no_usable_pair": 1, "validate:low_score": n_validate,
    }
    # every pair is accepted or rejected; every record has pairs or was rejected
    assert report["accepted"] + report["rejected_by_reason"]["validate:low_score"] == report["pairs"]
    assert report["records_with_pairs"] + report["rejected_by_reason"]["pairs:no_usable_pair"] == report["records"]
    # items_in = records + ingest rejections
    assert report["items_in"] == report["records"] + report["rejected_by_reason"]["ingest:unknown_speaker"]
    assert report["pairs_by_type"] == {"extracted": len(pairs)}
    assert sum(sum(v.values()) for v in report["split_by_type"].values()) == len(accepted)
    json.dumps(report)


def test_account_raises_when_a_pair_is_neither_accepted_nor_rejected() -> None:
    records, pairs, accepted, rejected = _pipeline_state()
    lost = accepted.pop(0)
    splits = assign_splits(accepted, SplitConfig())
    with pytest.raises(RuntimeError, match="accounting failed") as info:
        _account(records, pairs, accepted, rejected, splits)
    assert lost.id in str(info.value)


def test_account_raises_when_a_record_has_no_pair_and_no_rejection() -> None:
    records, pairs, accepted, rejected = _pipeline_state()
    rejected = [r for r in rejected if r.stage != "pairs"]
    splits = assign_splits(accepted, SplitConfig())
    with pytest.raises(RuntimeError, match=records[-1].id):
        _account(records, pairs, accepted, rejected, splits)


def test_account_raises_when_an_accepted_pair_is_in_no_split_or_two() -> None:
    records, pairs, accepted, rejected = _pipeline_state()
    splits = assign_splits(accepted, SplitConfig())
    dropped = {**splits, "train": splits["train"][1:]}
    with pytest.raises(RuntimeError, match=splits["train"][0].id):
        _account(records, pairs, accepted, rejected, dropped)
    doubled = {**splits, "test": splits["test"] + splits["train"][:1]}
    with pytest.raises(RuntimeError, match=splits["train"][0].id):
        _account(records, pairs, accepted, rejected, doubled)


def test_account_raises_when_a_pair_is_both_accepted_and_rejected() -> None:
    records, pairs, accepted, rejected = _pipeline_state()
    also_rejected = accepted[0]
    rejected = rejected + [Rejection(id=also_rejected.id, stage="validate", reason="low_score", source=SRC)]
    splits = assign_splits(accepted, SplitConfig())
    with pytest.raises(RuntimeError):
        _account(records, pairs, accepted, rejected, splits)


# --- split_and_export -----------------------------------------------------------------------


def test_split_and_export_writes_files(tmp_path: Path) -> None:
    records, pairs, accepted, rejected = _pipeline_state(60)
    config = SplitConfig(system_prompt=SYSTEM, seed=7, **PLAIN)
    result = split_and_export(records, pairs, accepted, accepted, [], rejected, config, tmp_path / "out")
    out = tmp_path / "out"
    for name in SPLITS:
        rows = read_jsonl(out / f"{name}.jsonl", allow_empty=True)
        assert rows == result.splits[name]
        assert len(rows) == result.report["splits"][name]
        for row in rows:
            _assert_chat_shape(row["messages"])
    assert result.report["splits"]["val"] > 0 and result.report["splits"]["test"] > 0
    back = [Rejection.model_validate(r) for r in read_jsonl(out / "rejected.jsonl")]
    assert back == rejected
    report = read_json(out / "report.json")
    assert report == result.report
    assert report["items_in"] == len(records) + 2  # ingest rejections counted from the stage field
    exported = sorted(row["id"] for name in SPLITS for row in result.splits[name])
    assert exported == sorted(p.id for p in accepted)


def test_split_and_export_without_out_dir_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    records, pairs, accepted, rejected = _pipeline_state(10)
    result = split_and_export(records, pairs, accepted, accepted, [], rejected, SplitConfig(**PLAIN))
    assert sum(len(v) for v in result.splits.values()) == len(accepted)
    assert list(tmp_path.iterdir()) == []


def test_split_and_export_same_seed_same_files(tmp_path: Path) -> None:
    records, pairs, accepted, rejected = _pipeline_state(60)
    split_and_export(records, pairs, accepted, accepted, [], rejected, SplitConfig(seed=5, **PLAIN), tmp_path / "a")
    split_and_export(records, pairs, accepted, accepted, [], rejected, SplitConfig(seed=5, **PLAIN), tmp_path / "b")
    for name in (*SPLITS, "rejected"):
        assert (tmp_path / "a" / f"{name}.jsonl").read_bytes() == (tmp_path / "b" / f"{name}.jsonl").read_bytes()


def test_held_and_screen_rejected_pairs_are_accounted_for_and_not_exported(tmp_path: Path) -> None:
    records, pairs, accepted, rejected = _pipeline_state(40)
    held, refused, passed = accepted[:3], accepted[3:5], accepted[5:]
    rejected = rejected + [Rejection(id=p.id, stage="screen", reason="review_rejected", source=SRC) for p in refused]
    result = split_and_export(records, pairs, accepted, passed, held, rejected, SplitConfig(system_prompt=SYSTEM, **PLAIN),
                              tmp_path / "out")
    exported = {row["id"] for rows in result.splits.values() for row in rows}
    assert exported == {p.id for p in passed}
    assert result.report["held_for_review"] == 3 and result.report["rejected_by_reason"]["screen:review_rejected"] == 2
    assert [r["id"] for r in read_jsonl(tmp_path / "out" / "held_for_review.jsonl")] == [p.id for p in held]
    assert (tmp_path / "out" / "report.html").read_text().count("<table>") >= 5
    # a held pair that is also exported is counted twice: the accounting refuses it
    with pytest.raises(RuntimeError, match="accounting failed"):
        _account(records, pairs, accepted, rejected, assign_splits(passed + held[:1], SplitConfig()), held, passed)


def test_export_rows_carry_the_metadata() -> None:
    pair = _pair("r", 0).model_copy(update={"score": 0.8, "risk": {"level": "none", "categories": [], "review": "not_required"},
                                             "deid": {"NAME": 1}, "meta": {"category": "grief", "difficulty": "high"},
                                             "question_origin": "content"})
    row = to_chat(pair, SYSTEM)
    assert {k: row[k] for k in ("pair_type", "question_origin", "content_type", "source_group", "score", "category",
                                "difficulty")} == {"pair_type": "extracted", "question_origin": "content",
                                                   "content_type": "dialogue", "source_group": "standard_therapy",
                                                   "score": 0.8, "category": "grief", "difficulty": "high"}
    assert row["risk"]["level"] == "none" and row["deidentified"] == {"NAME": 1} and row["source"]["licence"]
