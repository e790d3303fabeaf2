"""The public counselling data sets of ../shared/data, read as they are: where they live and their raw rows.

The risk detector uses them as real text nobody on this project wrote: counsel-chat questions and the client
turns of AnnoMI and ESConv are weak benign negatives for training (their train parts) and a benign check on real
conversation (their test parts). The data loaders read the same files through the same functions.

    from empathy.data.shared_sets import find_shared_file, conversational_turns
    path = find_shared_file("annomi_full.csv")      # $EMPATHY_SHARED_DATA, then ../shared/data; None if absent

The files are never copied into the project (../shared/data/README.md gives their sources and terms).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from empathy.errors import UserError

SHARED_DATA_ENV = "EMPATHY_SHARED_DATA"
COUNSEL_CHAT = "counsel_chat.csv"
ANNOMI = "annomi_full.csv"
ESCONV = "esconv_sample.json"
# conversation-level split of the real client turns: by a hash of the conversation, so every turn of one
# conversation lands in the same part and the parts never change when the files are re-read
TURN_SPLITS = (("train", 6), ("val", 2), ("test", 2))
MIN_TURN_WORDS = 4          # "Yeah." and "Mm-hmm." say nothing about risk and would flatter a benign rate
ESCONV_CLIENT_SPEAKERS = ("seeker", "speaker", "usr")   # ESConv releases name the help-seeker differently


def find_shared_file(name: str, explicit: str | Path | None = None) -> Path | None:
    """`explicit`, else $EMPATHY_SHARED_DATA/name, else ../shared/data/name beside the checkout or the cwd.

    A path the caller named that is not a file is an error (UserError), not a reason to fall back to another copy.
    """
    if explicit:
        if not Path(explicit).is_file():
            raise UserError(f"{name}: {explicit} is not a file")
        return Path(explicit)
    candidates = []
    if os.environ.get(SHARED_DATA_ENV):
        candidates.append(Path(os.environ[SHARED_DATA_ENV]) / name)
    candidates += [Path.cwd().parent / "shared" / "data" / name,
                   Path(__file__).resolve().parents[4] / "shared" / "data" / name]
    for c in candidates:
        if c.is_file():
            return c
    return None


def _split_of(key: str) -> str:
    bucket = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % sum(n for _, n in TURN_SPLITS)
    for name, n in TURN_SPLITS:
        if bucket < n:
            return name
        bucket -= n
    raise AssertionError("unreachable")


def counsel_chat_questions(path: str | Path, risk_topics: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """One row per counsel-chat question: id, text (title + body), topic, split, benign (topic not in risk_topics)."""
    seen: dict[str, dict[str, Any]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            qid = r.get("questionID") or r.get("questionTitle")
            if qid in seen:
                continue
            text = " ".join(x.strip() for x in (r.get("questionTitle") or "", r.get("questionText") or "") if x.strip())
            topic = (r.get("topic") or "").strip()
            seen[qid] = {"id": f"cc-{qid}", "text": text, "topic": topic, "split": (r.get("split") or "").strip(),
                         "benign": topic not in risk_topics}
    return [q for q in seen.values() if q["text"]]


def annomi_utterances(path: str | Path) -> list[dict[str, Any]]:
    """Every AnnoMI row as a dict (columns as in the CSV), checked for the columns a reader needs."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"transcript_id", "utterance_id", "interlocutor", "utterance_text", "topic"} - set(reader.fieldnames or [])
        if missing:
            raise UserError(f"AnnoMI file {path}: missing columns {sorted(missing)}")
        return list(reader)


def esconv_conversations(path: str | Path) -> list[dict[str, Any]]:
    """The ESConv conversations, checked to be a list of objects with a dialog list."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"ESConv file {path}: {exc}") from None
    if not isinstance(data, list):
        raise UserError(f"ESConv file {path}: expected a JSON list of conversations")
    for i, conv in enumerate(data):
        if not isinstance(conv, dict) or not isinstance(conv.get("dialog"), list):
            raise UserError(f"ESConv file {path}, conversation {i}: needs a 'dialog' list")
    return data


def conversational_turns(annomi: str | Path | None = None, esconv: str | Path | None = None) -> list[dict[str, Any]]:
    """Client turns of AnnoMI and help-seeker turns of ESConv with at least MIN_TURN_WORDS words.

    Rows: id, text, source, topic, conversation, split (train/val/test by conversation). Sets that are not
    found are left out; an empty list means neither was found.
    """
    rows: list[dict[str, Any]] = []
    a = find_shared_file(ANNOMI, annomi)
    if a:
        for r in annomi_utterances(a):
            text = (r["utterance_text"] or "").strip()
            if r["interlocutor"] == "client" and len(text.split()) >= MIN_TURN_WORDS:
                conv = f"annomi:{r['transcript_id']}"
                rows.append({"id": f"{conv}:{r['utterance_id']}", "text": text, "source": "annomi",
                             "topic": r["topic"].strip(), "conversation": conv, "split": _split_of(conv)})
    e = find_shared_file(ESCONV, esconv)
    if e:
        for i, conv_row in enumerate(esconv_conversations(e)):
            conv = f"esconv:{i}"
            for j, turn in enumerate(conv_row["dialog"]):
                text = str(turn.get("content") or "").strip()
                if turn.get("speaker") in ESCONV_CLIENT_SPEAKERS and len(text.split()) >= MIN_TURN_WORDS:
                    rows.append({"id": f"{conv}:{j}", "text": text, "source": "esconv",
                                 "topic": str(conv_row.get("problem_type", "")).strip(), "conversation": conv,
                                 "split": _split_of(conv)})
    return rows
