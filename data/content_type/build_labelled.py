"""Build data/content_type/labelled.jsonl, the labelled set of content-type detection.

Sources of the items (see README.md in this folder):

- handwritten/*.txt: excerpts written for this project (CC-BY-4.0), one block per item:

      ### <name> case=<case> [as=text|srt|vtt] [style=upper|voice|dash|none]
      Host: Welcome to ...          (a labelled transcript: every line starts with "Label: ")
      ...                           (or running text: paragraphs separated by blank lines)

  A labelled block becomes `turns`, running text becomes `text`. `as=text` keeps a labelled block as raw
  transcript text (the detector must find the labels itself). `as=srt` / `as=vtt` turns the block into a
  subtitle file: cues of at most about ten words with timings from the word count, speakers marked by
  `style` (upper: "HOST:" on a turn's first cue; voice: "<v Host>" on every cue; dash: "- " at a change of
  speaker, no names; none: no marks), plus the markup real files carry (italics, positioning tags, NOTE
  blocks, cue identifiers and settings), varied by a hash of the name so that the same input always gives
  the same file.
- references to the demo corpus (data/demo, this project's own text) and to the public sets in
  ../shared/data (AnnoMI and ESConv conversations are dialogue, counsel-chat questions with their answer are
  qa). Real text is never copied here: an item holds `ref` (and `window`, `labels`) and the evaluation
  resolves it with empathy.data.shared_sets at run time.

Splits: the items of each content type are ordered by (case, format, hash of the id) and dealt out
train, train, val, train, test in turn, so every case and format reaches every split in proportion and the
assignment of an item never changes when other items are added.

Run from the repository root; it rewrites labelled.jsonl and prints the counts README.md lists:

    PYTHONPATH=src .venv/bin/python data/content_type/build_labelled.py
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "labelled.jsonl"
TYPES = ("dialogue", "interview", "podcast", "monologue", "speech", "qa")
LICENCE = "CC-BY-4.0"
LABEL_RE = re.compile(r"^(\[[0-9:]+\] )?([A-Z][A-Za-z0-9.'_-]*(?: [A-Za-z0-9][A-Za-z0-9.'_-]*){0,3}):\s+(.*)$")
SPLIT_CYCLE = ("train", "train", "val", "train", "test")

# References: (content_type, ref, extra fields). AnnoMI windows count turns after consecutive utterances of one
# speaker are merged; `labels`: original (as the set names the speakers), anonymous ("Speaker 1", "Speaker 2"
# in order of appearance) or none (plain text: question paragraph, then the answer).
REFS: list[tuple[str, str, dict]] = [
    *[("dialogue", f"annomi:{t}", {"window": w, "labels": lab}) for t, w, lab in (
        ("34", [0, 24], "original"), ("20", [10, 34], "original"), ("92", [0, 13], "original"),
        ("124", [20, 44], "anonymous"), ("131", [0, 24], "original"), ("111", [30, 54], "anonymous"),
        ("107", [0, 18], "original"), ("93", [0, 25], "anonymous"), ("55", [20, 44], "original"),
        ("110", [40, 64], "anonymous"))],
    *[("dialogue", f"esconv:{i}", {"window": [0, 24], "labels": lab}) for i, lab in (
        (24, "original"), (86, "anonymous"), (77, "original"), (129, "original"), (134, "anonymous"),
        (171, "original"), (166, "anonymous"), (190, "original"), (193, "original"), (101, "anonymous"))],
    *[("qa", f"counsel-chat:{q}", {"labels": lab}) for q, lab in (
        ("522", "original"), ("833", "none"), ("711", "original"), ("245", "anonymous"), ("426", "original"),
        ("224", "none"), ("788", "original"), ("320", "anonymous"), ("341", "original"), ("686", "none"),
        ("367", "original"), ("700", "anonymous"), ("781", "none"), ("415", "original"), ("213", "anonymous"),
        ("806", "none"), ("3", "original"), ("824", "anonymous"))],
    *[("dialogue", f"demo:{s}", {}) for s in ("session-anxiety-01", "session-grief-01", "session-burnout-01")],
    *[("interview", f"demo:{s}", {}) for s in ("interview-sleep-psychologist", "interview-loneliness-counsellor",
                                              "interview-parenting-stress-counsellor")],
    *[("podcast", f"demo:{s}", {}) for s in ("podcast-self-compassion", "podcast-procrastination", "podcast-anger")],
    *[("monologue", f"demo:{s}", {}) for s in ("monologue-sleep-and-worry", "monologue-understanding-panic",
                                              "monologue-gentle-boundaries", "monologue-starting-over")],
    *[("speech", f"demo:{s}", {}) for s in ("speech-community-wellbeing-day", "speech-graduation-resilience",
                                           "speech-workplace-wellbeing")],
    *[("qa", f"demo:qa-counselling:{q}", {}) for q in ("qa-004", "qa-013", "qa-022", "qa-031")],
]


def _hash(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16)


def parse_blocks(path: Path) -> list[dict]:
    """The blocks of one handwritten file: name, options and the lines of the body."""
    blocks: list[dict] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            name, *opts = line[4:].split()
            blocks.append({"name": name, "opts": dict(o.split("=", 1) for o in opts), "lines": []})
        elif blocks:
            blocks[-1]["lines"].append(line)
        elif line.strip() and not line.startswith("#"):
            raise ValueError(f"{path}: text before the first block: {line[:40]!r}")
    for b in blocks:
        while b["lines"] and not b["lines"][-1].strip():
            b["lines"].pop()
    return blocks


def _turns(lines: list[str]) -> list[dict] | None:
    """Speaker turns if every non-blank line starts with a label, else None (running text)."""
    body = [ln for ln in lines if ln.strip()]
    matches = [LABEL_RE.match(ln) for ln in body]
    if not body or not all(matches):
        return None
    return [{"speaker": m.group(2), "text": m.group(3).strip()} for m in matches]


def _chunks(text: str, limit: int = 10) -> list[str]:
    """Cue-sized pieces: sentences, long ones cut at a comma or after `limit` words."""
    out: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        words = sentence.split()
        while len(words) > limit + 3:
            cut = next((i + 1 for i in range(limit - 1, 3, -1) if words[i].endswith(",")), limit)
            out.append(" ".join(words[:cut]))
            words = words[cut:]
        if words:
            out.append(" ".join(words))
    return out


def _wrap(text: str) -> str:
    words = text.split()
    if len(words) <= 7:
        return text
    half = len(words) // 2
    return " ".join(words[:half]) + "\n" + " ".join(words[half:])


def _stamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def to_subtitles(name: str, units: list[tuple[str | None, str]], fmt: str, style: str) -> str:
    """An .srt or .vtt file of the units (speaker or None, text), as described in the module docstring."""
    h = _hash(name)
    t = 0.5 + h % 600          # excerpts start somewhere in a recording, not always at zero
    sep = "," if fmt == "srt" else "."
    cues: list[str] = []
    for speaker, text in units:
        t += 0.6
        for k, chunk in enumerate(_chunks(text)):
            dur = max(1.0, len(chunk.split()) / 2.8)
            body = _wrap(chunk)
            body = re.sub(r"\[(\w+)\]", r"<i>[\1]</i>", body) if fmt == "srt" else body
            if style == "upper" and speaker and k == 0:
                body = f"{speaker.upper()}: {body}"
            elif style == "voice" and speaker:
                body = f"<v {speaker}>{body}"
            elif style == "dash" and k == 0 and speaker:
                body = f"- {body}"
            n = len(cues) + 1
            timing = f"{_stamp(t, sep)} --> {_stamp(t + dur, sep)}"
            if fmt == "srt":
                lead = "{\\an8}" if n == 1 and h % 2 == 0 else ""
                cues.append(f"{n}\n{timing}\n{lead}{body}")
            else:
                ident = f"c{n}\n" if h % 2 == 0 else ""
                settings = " line:85% align:center" if h % 4 == 1 else ""
                cues.append(f"{ident}{timing}{settings}\n{body}")
            t += dur + 0.15
    if fmt == "srt":
        return "\n\n".join(cues) + "\n"
    head = "WEBVTT\nKind: captions\nLanguage: en\n\n" if h % 3 else "WEBVTT\n\nNOTE generated by the captioning tool\n\n"
    return head + "\n\n".join(cues) + "\n"


def handwritten_items() -> list[dict]:
    items: list[dict] = []
    for ctype in TYPES:
        for b in parse_blocks(HERE / "handwritten" / f"{ctype}.txt"):
            opts = b["opts"]
            fmt = opts.get("as")
            item = {"id": f"ct-{b['name']}", "content_type": ctype, "split": None, "source": "handwritten",
                    "case": opts["case"], "licence": LICENCE}
            turns = _turns(b["lines"])
            text = "\n".join(b["lines"]).strip()
            if fmt in ("srt", "vtt"):
                units = ([(t["speaker"], t["text"]) for t in turns] if turns else
                         [(None, ln.strip()) for ln in b["lines"] if ln.strip()])
                item.update(format=fmt, text=to_subtitles(b["name"], units, fmt, opts.get("style", "none")))
            elif fmt == "text" or turns is None:
                item.update(format="text", text=text)
            else:
                item.update(format="turns", turns=turns)
            items.append(item)
    return items


def reference_items() -> list[dict]:
    items = []
    for ctype, ref, extra in REFS:
        source = ref.split(":")[0]
        labels = extra.get("labels", "original")
        items.append({"id": "ct-" + ref.replace(":", "-"), "content_type": ctype, "split": None, "source": source,
                      "case": f"real-{source}-{labels}" if source != "demo" else "demo",
                      "format": "text" if labels == "none" or ctype in ("monologue", "speech") else "turns",
                      "ref": ref, **extra})
    return items


def assign_splits(items: list[dict]) -> None:
    for ctype in TYPES:
        group = sorted((i for i in items if i["content_type"] == ctype),
                       key=lambda i: (i["case"], i["format"], _hash(i["id"])))
        offset = _hash(ctype) % len(SPLIT_CYCLE)
        for k, item in enumerate(group):
            item["split"] = SPLIT_CYCLE[(k + offset) % len(SPLIT_CYCLE)]


def main() -> None:
    items = handwritten_items() + reference_items()
    ids = Counter(i["id"] for i in items)
    dup = [k for k, v in ids.items() if v > 1]
    if dup:
        raise SystemExit(f"duplicate ids: {dup}")
    assign_splits(items)
    items.sort(key=lambda i: (TYPES.index(i["content_type"]), i["id"]))
    OUT.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    print(f"{len(items)} items -> {OUT}")
    print("type        " + "  ".join(f"{s:>5}" for s in ("train", "val", "test", "all")) + "  handwritten  ref")
    for ctype in TYPES:
        rows = [i for i in items if i["content_type"] == ctype]
        c = Counter(i["split"] for i in rows)
        print(f"{ctype:<11} " + "  ".join(f"{c[s]:>5}" for s in ("train", "val", "test")) + f"  {len(rows):>5}"
              f"  {sum(i['source'] == 'handwritten' for i in rows):>11}  {sum('ref' in i for i in rows):>3}")
    print("formats:", dict(Counter(i["format"] for i in items)))
    print("sources:", dict(Counter(i["source"] for i in items)))


if __name__ == "__main__":
    main()
