"""Training and evaluation of content-type detection on the labelled set data/content_type/labelled.jsonl.

Why it exists: the detector (empathy.data.content_type) is a classifier whose numbers must be reproducible
and honest: fitted on the train split, its regularisation chosen on the validation split, and measured on
the test split, which training never reads.

    empathy data train-content-type        # rewrites src/empathy/data/content_type_model.json (deterministic)
    empathy data evaluate-content-type     # runs/data/content_type/report.json + report.html

Real items of the set are references, not text ({"ref": "annomi:34", "window": [0, 24]}): they are read from
../shared/data (or $EMPATHY_SHARED_DATA) through empathy.data.shared_sets when training or evaluating, and
left out, with the reason recorded in the report, where that folder is absent. Demo-corpus references
("demo:podcast-anger") are read through the corpus loaders from data/demo.

Training: C of an L2-regularised multinomial logistic regression is chosen from C_GRID by accuracy on val
(ties: the lower validation log-loss), after fitting on train; the packaged model is then refitted on
train + val with that C. The model file records the sha256 of the labelled set, the references that were
resolved and the validation accuracy of each C.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from empathy.data.content_type import (
    CONTENT_TYPES,
    FEATURES,
    MODEL_FILE,
    ContentTypeModel,
    Doc,
    feature_vector,
    signals,
    to_doc,
)
from empathy.errors import UserError

DEFAULT_DATA = Path("data/content_type/labelled.jsonl")
DEFAULT_OUT_DIR = Path("runs/data/content_type")
SPLITS = ("train", "val", "test")
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
FORMAT_VERSION = 1


class Unresolved(Exception):
    """A reference whose data set is not available here."""


# ---------------------------------------------------------------------------------------------------------------
# The labelled set and its references

def read_labelled(path: str | Path = DEFAULT_DATA) -> list[dict[str, Any]]:
    """The rows of the labelled set, checked for the fields every row needs."""
    from empathy.io import read_jsonl

    rows = read_jsonl(path, "labelled content-type set")
    for n, r in enumerate(rows, start=1):
        where = f"labelled content-type set {path}, line {n}"
        missing = [k for k in ("id", "content_type", "split", "source") if not r.get(k)]
        if missing:
            raise UserError(f"{where}: missing {', '.join(missing)}")
        if r["content_type"] not in CONTENT_TYPES:
            raise UserError(f"{where}: content_type {r['content_type']!r} is not one of {', '.join(CONTENT_TYPES)}")
        if r["split"] not in SPLITS:
            raise UserError(f"{where}: split {r['split']!r} is not one of {', '.join(SPLITS)}")
        if sum(k in r for k in ("turns", "text", "ref")) != 1:
            raise UserError(f"{where}: needs exactly one of turns, text or ref")
    return rows


def _shared(name: str) -> Path:
    from empathy.data.shared_sets import find_shared_file

    path = find_shared_file(name)
    if path is None:
        raise Unresolved(f"{name} not found in ../shared/data or $EMPATHY_SHARED_DATA")
    return path


@lru_cache(maxsize=2)
def _annomi(path: str) -> dict[str, list[tuple[str, str]]]:
    from empathy.data.shared_sets import annomi_utterances

    by: dict[str, dict[int, dict]] = defaultdict(dict)
    for r in annomi_utterances(path):
        # AnnoMI repeats a transcript's rows once per annotator: one row per utterance is the transcript
        by[r["transcript_id"]].setdefault(int(r["utterance_id"]), r)
    return {t: _merged([(rows[k]["interlocutor"].capitalize(), rows[k]["utterance_text"]) for k in sorted(rows)])
            for t, rows in by.items()}


@lru_cache(maxsize=2)
def _esconv(path: str) -> list[list[tuple[str, str]]]:
    from empathy.data.shared_sets import esconv_conversations

    return [_merged([(str(t.get("speaker", "?")).capitalize(), str(t.get("content") or "")) for t in c["dialog"]])
            for c in esconv_conversations(path)]


@lru_cache(maxsize=2)
def _counsel_chat(path: str) -> dict[str, tuple[str, str]]:
    """questionID -> (question title and text, the most upvoted answer)."""
    best: dict[str, tuple[int, int, str, str]] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for n, r in enumerate(csv.DictReader(fh)):
            q = " ".join(x.strip() for x in (r.get("questionTitle") or "", r.get("questionText") or "") if x.strip())
            a = (r.get("answerText") or "").strip()
            if not q or not a:
                continue
            votes = int(r.get("upvotes") or 0) if str(r.get("upvotes") or "0").isdigit() else 0
            key = (-votes, n)
            qid = r["questionID"]
            if qid not in best or key < best[qid][:2]:
                best[qid] = (*key, q, a)
    return {qid: (v[2], v[3]) for qid, v in best.items()}


def _merged(turns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out: list[list[str]] = []
    for speaker, text in turns:
        text = " ".join(text.split())
        if not text:
            continue
        if out and out[-1][0] == speaker:
            out[-1][1] += " " + text
        else:
            out.append([speaker, text])
    return [(s, t) for s, t in out]


def _labels(turns: list[tuple[str, str]], how: str) -> list[dict[str, str]]:
    if how == "anonymous":
        order: dict[str, str] = {}
        for s, _ in turns:
            order.setdefault(s, f"Speaker {len(order) + 1}")
        return [{"speaker": order[s], "text": t} for s, t in turns]
    return [{"speaker": s, "text": t} for s, t in turns]


@lru_cache(maxsize=2)
def _demo_records(corpus: str) -> dict[str, dict[str, Any]]:
    from empathy.data.sources import LOADERS, read_manifest

    out = {}
    for spec in read_manifest(corpus, "sources.yaml"):
        records, _ = LOADERS[spec.kind](spec)
        for rec in records:
            out[rec.id] = rec.model_dump()
    return out


def resolve(row: dict[str, Any], data_path: str | Path = DEFAULT_DATA) -> dict[str, Any]:
    """The row with its content: turns or text as given, or read from the set a `ref` names (Unresolved if absent)."""
    if "ref" not in row:
        return row
    source, _, key = row["ref"].partition(":")
    window = row.get("window")
    how = row.get("labels", "original")
    if source == "annomi":
        turns = _annomi(str(_shared("annomi_full.csv"))).get(key)
        if turns is None:
            raise UserError(f"{row['id']}: AnnoMI has no transcript {key}")
    elif source == "esconv":
        convs = _esconv(str(_shared("esconv_sample.json")))
        if not key.isdigit() or int(key) >= len(convs):
            raise UserError(f"{row['id']}: ESConv has no conversation {key}")
        turns = convs[int(key)]
    elif source == "counsel-chat":
        qa = _counsel_chat(str(_shared("counsel_chat.csv"))).get(key)
        if qa is None:
            raise UserError(f"{row['id']}: counsel-chat has no question {key}")
        if how == "none":
            return {**row, "text": f"{qa[0]}\n\n{qa[1]}"}
        # "original": the speakers the qa_jsonl loader gives a question and its answer
        turns = [("asker", qa[0]), ("responder", qa[1])]
    elif source == "demo":
        corpus = Path(data_path).resolve().parent.parent / "demo"
        rec = _demo_records(str(corpus)).get(key)
        if rec is None:
            raise UserError(f"{row['id']}: the demo corpus has no record {key}")
        if rec["turns"]:
            return {**row, "turns": [{"speaker": t["speaker"], "text": t["text"]} for t in rec["turns"]]}
        return {**row, "text": rec["text"]}
    else:
        raise UserError(f"{row['id']}: unknown reference source {source!r}")
    if window:
        turns = turns[window[0]:window[1]]
    return {**row, "turns": _labels(turns, how)}


def load_resolved(path: str | Path, splits: tuple[str, ...]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(rows of the splits with content, references that could not be resolved here with the reason)."""
    rows, skipped = [], []
    for r in read_labelled(path):
        if r["split"] not in splits:
            continue
        try:
            rows.append(resolve(r, path))
        except Unresolved as exc:
            skipped.append({"id": r["id"], "ref": r["ref"], "reason": str(exc)})
    return rows, skipped


def _features(rows: list[dict[str, Any]]) -> np.ndarray:
    return np.array([feature_vector(signals(to_doc(r, r["id"]))) for r in rows])


# ---------------------------------------------------------------------------------------------------------------
# Training

def _fit(X: np.ndarray, y: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray, Any]:
    from sklearn.linear_model import LogisticRegression

    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-9] = 1.0
    clf = LogisticRegression(C=C, max_iter=10000, tol=1e-8)
    clf.fit((X - mean) / scale, y)
    return mean, scale, clf


def _model_dict(mean, scale, clf, classes) -> dict[str, Any]:
    # sklearn orders classes alphabetically; the model file keeps CONTENT_TYPES order
    order = [list(clf.classes_).index(c) for c in classes]
    return {"classes": list(classes), "features": list(FEATURES), "mean": mean.round(10).tolist(),
            "scale": scale.round(10).tolist(), "coef": clf.coef_[order].round(10).tolist(),
            "intercept": clf.intercept_[order].round(10).tolist()}


def train_content_type(data: str | Path = DEFAULT_DATA, out: str | Path = MODEL_FILE) -> dict[str, Any]:
    """Fit on train, choose C on val, refit on train + val; write the model JSON. Never reads the test split."""
    import sklearn

    from empathy.io import sha256_file, write_json

    rows, skipped = load_resolved(data, ("train", "val"))
    train = [r for r in rows if r["split"] == "train"]
    val = [r for r in rows if r["split"] == "val"]
    missing = [c for c in CONTENT_TYPES if not any(r["content_type"] == c for r in train)]
    if missing:
        raise UserError(f"labelled content-type set {data}: no train rows for {', '.join(missing)}")
    Xtr, ytr = _features(train), np.array([r["content_type"] for r in train])
    Xva, yva = _features(val), np.array([r["content_type"] for r in val])
    by_c: dict[str, float] = {}
    loss_c: dict[str, float] = {}
    for C in C_GRID:
        mean, scale, clf = _fit(Xtr, ytr, C)
        Zva = (Xva - mean) / scale
        by_c[str(C)] = round(float((clf.predict(Zva) == yva).mean()), 4)
        proba = clf.predict_proba(Zva)[np.arange(len(yva)), [list(clf.classes_).index(c) for c in yva]]
        loss_c[str(C)] = round(float(-np.log(np.clip(proba, 1e-12, 1)).mean()), 4)
    # accuracy first; on a tie the better-calibrated C (lower log-loss), so that `confidence` means something
    best = max(C_GRID, key=lambda C: (by_c[str(C)], -loss_c[str(C)], -C))
    mean, scale, clf = _fit(np.vstack([Xtr, Xva]), np.concatenate([ytr, yva]), best)
    model = {
        "format_version": FORMAT_VERSION,
        "kind": "multinomial logistic regression on hand-made text features",
        **_model_dict(mean, scale, clf, CONTENT_TYPES),
        "C": best,
        "selection": {"fitted_on": "train", "chosen_on": "val", "val_accuracy_by_C": by_c, "val_log_loss_by_C": loss_c,
                      "val_accuracy": by_c[str(best)], "val_rows": len(val)},
        "training_data": {"path": str(data), "sha256": sha256_file(data), "used_splits": ["train", "val"],
                          "rows": len(rows), "per_type": dict(Counter(r["content_type"] for r in rows)),
                          "references_resolved": sum("ref" in r for r in rows),
                          "references_skipped": [s["id"] for s in skipped]},
        "sklearn": sklearn.__version__,
    }
    write_json(out, model)
    return {"model": str(out), "C": best, "val_accuracy_by_C": by_c, "val_log_loss_by_C": loss_c,
            "train_rows": len(train), "val_rows": len(val),
            "references_skipped": len(skipped)}


# ---------------------------------------------------------------------------------------------------------------
# Baseline: what speaker labels and two cue lists alone would say

def rule_baseline(doc: Doc) -> str:
    """A rules-only guess, reported beside the classifier so that its gain is visible."""
    sig = signals(doc)
    fams = set(sig.families.values())
    v = sig.values
    if not doc.has_turns:
        if v["qa_shape"]:
            return "qa"
        return "speech" if v["cue_speech"] > v["cue_narrative"] else "monologue"
    if "host" in fams or "guest" in fams or v["cue_show"] >= 1.0:
        return "podcast"
    if "interviewer" in fams or "participant" in fams:
        return "interview"
    if "qa" in fams or len(doc.turns) == 2:
        return "qa"
    return "dialogue"


# ---------------------------------------------------------------------------------------------------------------
# Evaluation

def real_sets_check(det: ContentTypeModel, data: str | Path = DEFAULT_DATA) -> dict[str, Any]:
    """Every real conversation and Q&A of ../shared/data that the labelled set does not reference.

    None of them was used for training or selection, so this is a second held-out check, far larger than the
    test split but covering only what the sets hold: AnnoMI transcripts and ESConv conversations (dialogue,
    whole, with the sets' speaker names and with "Speaker 1"/"Speaker 2") and counsel-chat test-split
    questions with their most upvoted answer (qa, as asker/responder turns and as plain text).
    """
    used = {r["ref"] for r in read_labelled(data) if "ref" in r}
    variants: dict[str, list[dict[str, Any]]] = {}
    try:
        annomi = _annomi(str(_shared("annomi_full.csv")))
        esconv = _esconv(str(_shared("esconv_sample.json")))
        cc = _counsel_chat(str(_shared("counsel_chat.csv")))
        cc_split = {}
        with open(_shared("counsel_chat.csv"), newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                cc_split.setdefault(r["questionID"], (r.get("split") or "").strip())
    except Unresolved as exc:
        return {"skipped": str(exc)}
    for how in ("original", "anonymous"):
        variants[f"annomi/{how}"] = [{"id": t, "content_type": "dialogue", "turns": _labels(turns, how)}
                                     for t, turns in sorted(annomi.items()) if f"annomi:{t}" not in used]
        variants[f"esconv/{how}"] = [{"id": str(i), "content_type": "dialogue", "turns": _labels(turns, how)}
                                     for i, turns in enumerate(esconv) if f"esconv:{i}" not in used and len(turns) >= 2]
    test_q = [(q, qa) for q, qa in sorted(cc.items()) if cc_split.get(q) == "test" and f"counsel-chat:{q}" not in used]
    variants["counsel-chat/original"] = [{"id": q, "content_type": "qa", "turns": _labels([("asker", a), ("responder", b)],
                                                                                        "original")}
                                         for q, (a, b) in test_q]
    variants["counsel-chat/text"] = [{"id": q, "content_type": "qa", "text": f"{a}\n\n{b}"} for q, (a, b) in test_q]
    out: dict[str, Any] = {}
    for name, rows in variants.items():
        preds = [det.detect(r, f"{name}:{r['id']}").content_type for r in rows]
        ok = [p == r["content_type"] for r, p in zip(rows, preds)]
        out[name] = {"n": len(rows), "label": rows[0]["content_type"] if rows else None,
                     "accuracy": round(sum(ok) / len(ok), 4) if ok else None,
                     "predicted": dict(Counter(preds).most_common()),
                     "wrong_ids": [r["id"] for r, good in zip(rows, ok) if not good][:20]}
    return out


def _per_type(labels: list[str], preds: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for c in CONTENT_TYPES:
        tp = sum(1 for a, b in zip(labels, preds) if a == c and b == c)
        n_pred = sum(1 for b in preds if b == c)
        n_true = sum(1 for a in labels if a == c)
        p = tp / n_pred if n_pred else None
        r = tp / n_true if n_true else None
        f1 = 2 * p * r / (p + r) if p and r else (0.0 if n_true else None)
        out[c] = {"support": n_true, "predicted": n_pred, "precision": None if p is None else round(p, 4),
                  "recall": None if r is None else round(r, 4), "f1": None if f1 is None else round(f1, 4)}
    return out


def _accuracy_by(rows: list[dict[str, Any]], preds: list[str], key) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for r, p in zip(rows, preds):
        groups[key(r)].append(r["content_type"] == p)
    return {k: {"n": len(v), "correct": sum(v), "accuracy": round(sum(v) / len(v), 4)}
            for k, v in sorted(groups.items())}


def evaluate_content_type(data: str | Path = DEFAULT_DATA, out_dir: str | Path = DEFAULT_OUT_DIR,
                          model: ContentTypeModel | str | Path | None = None) -> dict[str, Any]:
    """Score the test split; write report.json and report.html; return the report."""
    from empathy.io import sha256_file, write_json

    det = model if isinstance(model, ContentTypeModel) else ContentTypeModel.load(model)
    rows, skipped = load_resolved(data, ("test",))
    if not rows:
        raise UserError(f"labelled content-type set {data}: no test rows")
    t0 = time.time()
    detections = [det.detect(r, r["id"]) for r in rows]
    seconds = time.time() - t0
    labels = [r["content_type"] for r in rows]
    preds = [d.content_type for d in detections]
    base = [rule_baseline(to_doc(r, r["id"])) for r in rows]
    per_type = _per_type(labels, preds)
    f1s = [v["f1"] for v in per_type.values() if v["f1"] is not None]
    conf = [[sum(1 for a, b in zip(labels, preds) if a == t and b == p) for p in CONTENT_TYPES] for t in CONTENT_TYPES]
    report: dict[str, Any] = {
        "data": {"path": str(data), "sha256": sha256_file(data), "split": "test", "rows": len(rows),
                 "references_skipped": skipped},
        "model": {"path": det.path, "C": det.model.get("C"),
                  "training_sha256": det.model.get("training_data", {}).get("sha256"),
                  "trained_on_this_data": det.model.get("training_data", {}).get("sha256") == sha256_file(data),
                  "val_accuracy": det.model.get("selection", {}).get("val_accuracy")},
        "test": {"accuracy": round(sum(a == b for a, b in zip(labels, preds)) / len(rows), 4),
                 "macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else None,
                 "correct": sum(a == b for a, b in zip(labels, preds)), "n": len(rows)},
        "per_type": per_type,
        "confusion": {"labels": list(CONTENT_TYPES), "rows_true_cols_pred": conf},
        "by_source": _accuracy_by(rows, preds, lambda r: r["source"]),
        "by_format": _accuracy_by(rows, preds, lambda r: r.get("format", "turns" if "turns" in r else "text")),
        "by_case": _accuracy_by(rows, preds, lambda r: f"{r['content_type']}/{r.get('case', '')}"),
        "baseline_rules": {"accuracy": round(sum(a == b for a, b in zip(labels, base)) / len(rows), 4),
                           "per_type": _per_type(labels, base)},
        "errors": [{"id": r["id"], "label": r["content_type"], "predicted": d.content_type,
                    "confidence": d.confidence, "case": r.get("case"), "format": r.get("format"),
                    "source": r["source"], "evidence": d.evidence}
                   for r, d in zip(rows, detections) if r["content_type"] != d.content_type],
        "low_confidence": [{"id": r["id"], "label": r["content_type"], "predicted": d.content_type,
                            "confidence": d.confidence} for r, d in zip(rows, detections) if d.confidence < 0.6],
        "items_per_second": round(len(rows) / max(seconds, 1e-9), 1),
    }
    report["real_sets"] = real_sets_check(det, data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "report.json", report)
    (out / "report.html").write_text(_html(report), encoding="utf-8")
    report["paths"] = {"json": str(out / "report.json"), "html": str(out / "report.html")}
    return report


def _html(report: dict[str, Any]) -> str:
    import html as h

    from empathy.plots import plt, png_base64

    conf = np.array(report["confusion"]["rows_true_cols_pred"])
    types = report["confusion"]["labels"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    ax = axes[0]
    ax.imshow(conf, cmap="Blues")
    ax.set_xticks(range(len(types)), types, rotation=30)
    ax.set_yticks(range(len(types)), types)
    ax.set_xlabel("predicted")
    ax.set_ylabel("label")
    ax.set_title(f"content type, test split (n={report['test']['n']})")
    for i in range(len(types)):
        for j in range(len(types)):
            ax.text(j, i, str(conf[i, j]), ha="center", va="center",
                    color="white" if conf[i, j] > conf.max() / 2 else "black")
    ax = axes[1]
    pt = report["per_type"]
    y = np.arange(len(types))
    ax.barh(y - 0.2, [pt[t]["precision"] or 0 for t in types], 0.4, label="precision", color="#3b6ea8")
    ax.barh(y + 0.2, [pt[t]["recall"] or 0 for t in types], 0.4, label="recall", color="#c0504d")
    ax.set_yticks(y, [f"{t} (n={pt[t]['support']})" for t in types])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.05)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
    ax.set_title("per type, test split")
    img = png_base64(fig)
    t = report["test"]
    skipped = report["data"]["references_skipped"]
    skip_line = (f"<p><b>{len(skipped)} real items skipped</b>: {h.escape(skipped[0]['reason'])}. Accuracy is on "
                 f"the {t['n']} items that were read.</p>" if skipped else "")
    rows = "".join(f"<tr><td>{c}</td><td>{v['support']}</td><td>{v['predicted']}</td><td>{v['precision']}</td>"
                   f"<td>{v['recall']}</td><td>{v['f1']}</td><td>{report['baseline_rules']['per_type'][c]['recall']}</td>"
                   f"</tr>" for c, v in report["per_type"].items())

    def group(name: str) -> str:
        return "".join(f"<tr><td>{h.escape(k)}</td><td>{v['n']}</td><td>{v['correct']}</td><td>{v['accuracy']}</td></tr>"
                       for k, v in report[name].items())

    rs = report.get("real_sets", {})
    real = (f"<p>{h.escape(rs['skipped'])}</p>" if "skipped" in rs else
            "<table><tr><th>set / speaker labels</th><th>label</th><th>n</th><th>accuracy</th><th>predicted</th></tr>"
            + "".join(f"<tr><td>{k}</td><td>{v['label']}</td><td>{v['n']}</td><td>{v['accuracy']}</td>"
                      f"<td>{h.escape(json.dumps(v['predicted']))}</td></tr>" for k, v in rs.items()) + "</table>")
    errs = "".join(f"<tr><td>{h.escape(e['id'])}</td><td>{e['label']}</td><td>{e['predicted']}</td>"
                   f"<td>{e['confidence']}</td><td>{h.escape(str(e['case']))}, {h.escape(str(e['format']))}</td>"
                   f"<td>{h.escape('; '.join(e['evidence']))}</td></tr>" for e in report["errors"])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Content-type detection report</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}table{{border-collapse:collapse;margin-bottom:1em}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}}</style></head><body>
<h1>Content-type detection: test split</h1>
<p>Data {h.escape(report['data']['path'])} (sha256 {report['data']['sha256'][:12]}), {t['n']} test items; model
{h.escape(str(report['model']['path']))} (C={report['model']['C']}, validation accuracy {report['model']['val_accuracy']},
trained on this data: {report['model']['trained_on_this_data']}).</p>{skip_line}
<ul><li>accuracy: <b>{t['accuracy']}</b> ({t['correct']} of {t['n']}); macro F1 {t['macro_f1']}</li>
<li>rules-only baseline (speaker labels and cue lists): {report['baseline_rules']['accuracy']}</li></ul>
<img src="data:image/png;base64,{img}" style="max-width:100%">
<h2>Per type</h2><table><tr><th>type</th><th>support</th><th>predicted</th><th>precision</th><th>recall</th><th>F1</th>
<th>baseline recall</th></tr>{rows}</table>
<h2>By source</h2><table><tr><th>source</th><th>n</th><th>correct</th><th>accuracy</th></tr>{group('by_source')}</table>
<h2>By format</h2><table><tr><th>format</th><th>n</th><th>correct</th><th>accuracy</th></tr>{group('by_format')}</table>
<h2>By type and case</h2><table><tr><th>type/case</th><th>n</th><th>correct</th><th>accuracy</th></tr>{group('by_case')}</table>
<h2>Real sets outside the labelled set</h2><p>Every AnnoMI transcript and ESConv conversation, and every
counsel-chat test question, that the labelled set does not reference; never used for training or selection.</p>
{real}
<h2>Errors</h2><table><tr><th>id</th><th>label</th><th>predicted</th><th>confidence</th><th>case, format</th>
<th>evidence</th></tr>{errs}</table>
</body></html>"""
