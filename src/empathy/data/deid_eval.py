"""How well empathy.data.deid removes identifiers: precision and recall per type on the labelled set, counts on real data.

The labelled set (data/deid/labelled.jsonl, described in data/deid/README.md) has counselling-style texts with
every identifier marked as a character span and a type. `dev` and `test` rows were in view while the rules were
written; each holdout round was written after the rules of its time and scored once before it was used to fix
them. The report scores each split, the holdout rounds pooled (`holdouts`) and every row (`all`). Real data
sets (../shared/data) have no labels: what they give is how much is replaced, how fast, and samples to read.

    empathy data evaluate-deid [--data data/deid/labelled.jsonl] [--out-dir runs/data/deid] [--no-real-data]

Scoring, per identifier type:
- removed recall: gold spans whose every non-space character lies inside some replaced span, of any type. This is
  the privacy number: a name replaced as [LOCATION] is still gone.
- typed recall: the same, counting only replaced spans of the gold span's type.
- precision: replaced spans of the type that overlap a gold span of that type. A replaced span that overlaps no
  gold span at all is a false positive (text lost for nothing); those are listed with the misses.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path
from typing import Any

from empathy.data.deid import TYPES, DeidResult, deidentify, deidentify_many, total_counts
from empathy.errors import UserError

DEFAULT_DATA = "data/deid/labelled.jsonl"
_MARK = re.compile(r"\[\[([A-Z_]+)\|([^\]|]+)\]\]")
SPLITS = ("dev", "test", "holdout", "holdout2", "holdout3", "holdout4", "holdout5")
# rounds written after the rules and scored before they were changed for them: pooled, the least optimistic number
HOLDOUTS = ("holdout", "holdout2", "holdout3", "holdout4", "holdout5")
KINDS = ("identifiers", "none", "hard_negative")


def spans_from_marked(marked: str) -> tuple[str, list[dict[str, Any]]]:
    """`[[TYPE|text]]` markup to (plain text, [{start, end, type}]): how the labelled rows were written."""
    parts: list[str] = []
    spans: list[dict[str, Any]] = []
    last = pos = 0
    for m in _MARK.finditer(marked):
        parts.append(marked[last:m.start()])
        pos += m.start() - last
        spans.append({"start": pos, "end": pos + len(m.group(2)), "type": m.group(1)})
        parts.append(m.group(2))
        pos += len(m.group(2))
        last = m.end()
    parts.append(marked[last:])
    return "".join(parts), spans


def load_labelled(path: str | Path = DEFAULT_DATA) -> list[dict[str, Any]]:
    """The labelled rows, checked: known split, kind and types, spans inside the text and agreeing with `marked`."""
    from empathy.io import iter_jsonl_numbered

    p = Path(path)
    rows = []
    for lineno, r in iter_jsonl_numbered(p, "labelled set"):
        problems = []
        if r.get("split") not in SPLITS:
            problems.append(f"split {r.get('split')!r} not in {SPLITS}")
        if r.get("kind") not in KINDS:
            problems.append(f"kind {r.get('kind')!r} not in {KINDS}")
        for sp in r.get("spans", []):
            if sp.get("type") not in TYPES or not 0 <= sp.get("start", -1) < sp.get("end", -1) <= len(r["text"]):
                problems.append(f"bad span {sp}")
        if "marked" in r and spans_from_marked(r["marked"]) != (r["text"], r.get("spans", [])):
            problems.append("text/spans do not match `marked`")
        if problems:
            raise UserError(f"labelled set {p}, line {lineno}: " + "; ".join(problems))
        rows.append(r)
    if not rows:
        raise UserError(f"labelled set {p}: no rows")
    return rows


def _covered(start: int, end: int, text: str, spans: list[tuple[int, int]]) -> bool:
    return all(any(s <= i < e for s, e in spans) for i in range(start, end) if not text[i].isspace())


def score(rows: list[dict[str, Any]], results: list[DeidResult]) -> dict[str, Any]:
    """Per-type and overall removed recall, typed recall and precision, with the misses and false positives."""
    per = {t: {"gold": 0, "removed": 0, "typed": 0, "predicted": 0, "correct": 0} for t in TYPES}
    misses: list[dict[str, Any]] = []
    false_pos: list[dict[str, Any]] = []
    wrong_type: list[dict[str, Any]] = []
    for row, res in zip(rows, results):
        text = row["text"]
        pred = [(sp.start, sp.end, sp.type) for sp in res.spans]
        for g in row["spans"]:
            t = g["type"]
            per[t]["gold"] += 1
            if _covered(g["start"], g["end"], text, [(s, e) for s, e, _ in pred]):
                per[t]["removed"] += 1
                if _covered(g["start"], g["end"], text, [(s, e) for s, e, pt in pred if pt == t]):
                    per[t]["typed"] += 1
                else:
                    wrong_type.append({"id": row["id"], "type": t, "span": text[g["start"]:g["end"]],
                                       "got": sorted({pt for s, e, pt in pred if s < g["end"] and e > g["start"]})})
            else:
                misses.append({"id": row["id"], "type": t, "span": text[g["start"]:g["end"]], "text": text})
        for s, e, pt in pred:
            per[pt]["predicted"] += 1
            overlapping = [g for g in row["spans"] if s < g["end"] and e > g["start"]]
            if any(g["type"] == pt for g in overlapping):
                per[pt]["correct"] += 1
            if not overlapping:
                false_pos.append({"id": row["id"], "type": pt, "span": text[s:e], "text": text, "kind": row["kind"]})

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 3) if b else None

    per_type = {t: {"gold": v["gold"], "predicted": v["predicted"], "removed_recall": ratio(v["removed"], v["gold"]),
                    "typed_recall": ratio(v["typed"], v["gold"]), "precision": ratio(v["correct"], v["predicted"])}
                for t, v in per.items() if v["gold"] or v["predicted"]}
    gold = sum(v["gold"] for v in per.values())
    predicted = sum(v["predicted"] for v in per.values())
    negatives = [r for r in rows if not r["spans"]]
    neg_ids = {r["id"] for r in negatives}
    return {
        "rows": len(rows), "gold_spans": gold, "predicted_spans": predicted,
        "removed_recall": ratio(sum(v["removed"] for v in per.values()), gold),
        "typed_recall": ratio(sum(v["typed"] for v in per.values()), gold),
        "precision": ratio(predicted - len(false_pos), predicted),
        "typed_precision": ratio(sum(v["correct"] for v in per.values()), predicted),
        "rows_without_identifiers": len(negatives),
        "rows_without_identifiers_changed": len({f["id"] for f in false_pos if f["id"] in neg_ids}),
        "per_type": per_type, "misses": misses, "false_positives": false_pos, "wrong_type": wrong_type,
    }


def _real_data(sample_per_type: int = 8) -> dict[str, Any]:
    """Counts per type, speed and samples of replacements on the shared real data sets, where present."""
    from empathy.data.shared_sets import (ANNOMI, COUNSEL_CHAT, ESCONV, annomi_utterances, esconv_conversations,
                                          find_shared_file)

    sources: dict[str, list[str]] = {}
    a = find_shared_file(ANNOMI)
    if a:
        sources["annomi_utterances"] = [r["utterance_text"] or "" for r in annomi_utterances(a)]
    e = find_shared_file(ESCONV)
    if e:
        sources["esconv_turns"] = [str(t.get("content") or "") for c in esconv_conversations(e) for t in c["dialog"]]
    c = find_shared_file(COUNSEL_CHAT)
    if c:
        import csv

        with open(c, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        seen: dict[str, str] = {}
        for r in rows:
            seen.setdefault(r.get("questionID") or r.get("questionTitle") or "",
                            " ".join(x.strip() for x in (r.get("questionTitle") or "", r.get("questionText") or "")))
        sources["counsel_chat_questions"] = list(seen.values())
        sources["counsel_chat_answers"] = [r.get("answerText") or "" for r in rows]
    if not sources:
        return {"skipped": "no shared data sets found (../shared/data or $EMPATHY_SHARED_DATA)"}
    out: dict[str, Any] = {}
    for name, texts in sources.items():
        t0 = time.perf_counter()
        results = deidentify_many(texts)
        secs = time.perf_counter() - t0
        samples: dict[str, list[dict[str, str]]] = {}
        for text, res in zip(texts, results):
            for sp in res.spans:
                bucket = samples.setdefault(sp.type, [])
                if len(bucket) < sample_per_type:
                    lo, hi = max(0, sp.start - 40), min(len(text), sp.end + 40)
                    bucket.append({"rule": sp.rule, "found": text[sp.start:sp.end],
                                   "context": text[lo:sp.start] + "⟦" + text[sp.start:sp.end] + "⟧" + text[sp.end:hi]})
        out[name] = {"texts": len(texts), "chars": sum(map(len, texts)), "seconds": round(secs, 3),
                     "texts_per_second": round(len(texts) / secs) if secs else None,
                     "texts_changed": sum(1 for r in results if r.spans), "counts": total_counts(results),
                     "rules": _rule_counts(results), "samples": samples}
    return out


def _rule_counts(results: list[DeidResult]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in results:
        for sp in r.spans:
            counts[f"{sp.type}/{sp.rule}"] = counts.get(f"{sp.type}/{sp.rule}", 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def evaluate_deid(data: str | Path = DEFAULT_DATA, out_dir: str | Path = "runs/data/deid",
                  real_data: bool = True) -> dict[str, Any]:
    """Score the labelled set per split (and all rows), run the real data sets; write report.json and report.html."""
    from empathy.io import sha256_file

    rows = load_labelled(data)
    t0 = time.perf_counter()
    results = deidentify_many([r["text"] for r in rows])
    secs = time.perf_counter() - t0
    report: dict[str, Any] = {
        "data": {"path": str(data), "sha256": sha256_file(data), "rows": len(rows),
                 "by_split": {s: sum(r["split"] == s for r in rows) for s in SPLITS}},
        "splits": {}, "labelled_texts_per_second": round(len(rows) / secs) if secs else None,
    }
    groups = {s: (s,) for s in SPLITS} | {"holdouts": HOLDOUTS}
    for name, members in groups.items():
        idx = [i for i, r in enumerate(rows) if r["split"] in members]
        report["splits"][name] = score([rows[i] for i in idx], [results[i] for i in idx])
    report["splits"]["all"] = score(rows, results)
    report["real_data"] = _real_data() if real_data else {"skipped": "--no-real-data"}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "report.html").write_text(_html(report), encoding="utf-8")
    report["paths"] = {"json": str(out / "report.json"), "html": str(out / "report.html")}
    return report


def _plot(report: dict[str, Any]) -> str:
    from empathy.plots import plt, png_base64

    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2))
    titles = {"holdouts": "holdout rounds, pooled", "all": "all labelled rows"}
    for ax, split in zip(axes[:2], titles):
        per = report["splits"][split]["per_type"]
        names = [t for t in TYPES if t in per and per[t]["gold"]]
        y = list(range(len(names)))
        for k, (metric, colour) in enumerate((("removed_recall", "#3b6ea8"), ("typed_recall", "#8fb3dd"),
                                              ("precision", "#c0504d"))):
            ax.barh([v + (k - 1) * 0.27 for v in y], [per[t][metric] or 0 for t in names], 0.27,
                    label=metric.replace("_", " "), color=colour)
        ax.set_yticks(y, [f"{t} (n={per[t]['gold']})" for t in names])
        ax.axvline(0.95, ls="--", color="grey", lw=0.8)
        ax.set_xlim(0, 1.05)
        ax.invert_yaxis()
        ax.set_title(titles[split])
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3)
    ax = axes[2]
    real = report["real_data"]
    if "skipped" in real:
        ax.text(0.5, 0.5, real["skipped"], ha="center", va="center", wrap=True)
        ax.set_axis_off()
    else:
        srcs = list(real)
        bottom = [0.0] * len(srcs)
        for t in TYPES:
            vals = [1000 * real[s]["counts"].get(t, 0) / max(real[s]["texts"], 1) for s in srcs]
            if any(vals):
                ax.barh(srcs, vals, left=bottom, label=t)
                bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_xlabel("replacements per 1,000 texts")
        ax.set_title("real data sets")
        ax.legend(fontsize=7)
    return png_base64(fig)


def _html(report: dict[str, Any]) -> str:
    h = html.escape

    def type_table(split: str) -> str:
        s = report["splits"][split]
        rows = "".join(f"<tr><td>{t}</td><td>{v['gold']}</td><td>{v['predicted']}</td><td>{v['removed_recall']}</td>"
                       f"<td>{v['typed_recall']}</td><td>{v['precision']}</td></tr>" for t, v in s["per_type"].items())
        return (f"<h2>{split}: {s['rows']} rows, {s['gold_spans']} identifiers</h2>"
                f"<p>overall removed recall <b>{s['removed_recall']}</b>, typed recall {s['typed_recall']}, "
                f"precision <b>{s['precision']}</b> (typed {s['typed_precision']}); rows without identifiers changed: "
                f"{s['rows_without_identifiers_changed']} of {s['rows_without_identifiers']}</p>"
                "<table><tr><th>type</th><th>gold</th><th>replaced</th><th>removed recall</th><th>typed recall</th>"
                f"<th>precision</th></tr>{rows}</table>")

    def errors(split: str) -> str:
        s = report["splits"][split]
        miss = "".join(f"<tr><td>miss</td><td>{e['type']}</td><td>{h(e['span'])}</td><td>{h(e['text'])}</td></tr>"
                       for e in s["misses"])
        fp = "".join(f"<tr><td>false positive</td><td>{e['type']}</td><td>{h(e['span'])}</td><td>{h(e['text'])}</td></tr>"
                     for e in s["false_positives"])
        return (f"<h3>{split}: misses and false positives</h3><table><tr><th></th><th>type</th><th>span</th>"
                f"<th>text</th></tr>{miss}{fp}</table>")

    real = report["real_data"]
    if "skipped" in real:
        real_html = f"<p>{h(real['skipped'])}</p>"
    else:
        head = "".join(f"<th>{t}</th>" for t in TYPES)
        body = "".join(f"<tr><td>{s}</td><td>{v['texts']}</td><td>{v['texts_changed']}</td><td>{v['texts_per_second']}</td>"
                       + "".join(f"<td>{v['counts'].get(t, 0)}</td>" for t in TYPES) + "</tr>" for s, v in real.items())
        samples = "".join(f"<tr><td>{s}</td><td>{t}</td><td>{x['rule']}</td><td>{h(x['context'])}</td></tr>"
                          for s, v in real.items() for t, xs in v["samples"].items() for x in xs)
        real_html = (f"<table><tr><th>source</th><th>texts</th><th>changed</th><th>texts/s</th>{head}</tr>{body}</table>"
                     "<h3>Samples (the replaced text in ⟦ ⟧): read them</h3><table><tr><th>source</th><th>type</th>"
                     f"<th>rule</th><th>context</th></tr>{samples}</table>")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>De-identification report</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}</style></head><body>
<h1>De-identification: labelled set and real data</h1>
<p>Labelled set {h(report['data']['path'])} (sha256 {report['data']['sha256'][:12]}), {report['data']['rows']} rows;
{report['labelled_texts_per_second']} texts/s.</p>
<img src="data:image/png;base64,{_plot(report)}" style="max-width:100%">
{''.join(type_table(s) for s in ('holdouts', 'all') + SPLITS)}
{''.join(errors(s) for s in SPLITS)}
<h2>Real data sets</h2>{real_html}
</body></html>"""
