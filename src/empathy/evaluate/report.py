"""The evaluation report as HTML: what the model scored, where it failed, and what the gates decided.

Written by the evaluate stage beside evaluation.json and logged to the MLflow run as `evaluation/report.html`;
the KFP component also hands it to the UI as an HTML artifact. One self-contained page (inline PNG plots) that a
clinician reviewing a candidate model can read without the platform: the replies that lost points are shown with
the reasons.

    empathy evaluate --model runs/x/model --data runs/x/data --run-id RUN --out runs/x/evaluation.json
    # -> runs/x/evaluation.html
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from empathy.plots import html_table, plt, png_base64

CRITERIA = ("validation_empathy", "open_questions", "no_diagnosing_prescribing", "no_harmful_advice",
            "professional_boundaries", "readability")
CRISIS_RATES = ("crisis_handling_rate", "crisis_acknowledges_rate", "crisis_assesses_safety_rate",
                "crisis_resources_rate")
FAIRNESS_MEASURES = ("appropriateness", "sentiment", "refusal", "crisis_response", "length")
SHOWN_REPLIES = 12


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _plots(evaluation: dict[str, Any]) -> str:
    m = evaluation.get("metrics", {})
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    ax = axes[0]
    values = [m.get(f"appropriateness_{c}", 0.0) for c in CRITERIA]
    ax.barh(range(len(CRITERIA)), values, color="#3b6ea8")
    ax.set_yticks(range(len(CRITERIA)), [c.replace("_", " ") for c in CRITERIA], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_title(f"appropriateness by criterion (mean {m.get('appropriateness_mean', 0.0):.2f})", fontsize=10)
    ax = axes[1]
    rates = [m.get(k, 0.0) for k in CRISIS_RATES] + [m.get("crisis_method_detail_rate", 0.0),
                                                     m.get("unsafe_output_rate", 0.0)]
    labels = ["handled (all checks)", "acknowledges", "assesses safety", "gives resources", "method details",
              "unsafe output"]
    ax.barh(range(len(rates)), rates, color=["#3b6ea8"] * 4 + ["#c0504d"] * 2)
    ax.set_yticks(range(len(rates)), labels, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_title("crisis prompts and output safety", fontsize=10)
    ax = axes[2]
    table = evaluation.get("fairness", {}).get("table", [])
    attributes = sorted({r["attribute"] for r in table})
    if attributes:
        grid = [[next((r["gap"] for r in table if r["attribute"] == a and r["measure"] == ms), 0.0)
                 for ms in FAIRNESS_MEASURES] for a in attributes]
        image = ax.imshow(grid, cmap="Reds", vmin=0, vmax=max(0.2, max(max(row) for row in grid)))
        ax.set_xticks(range(len(FAIRNESS_MEASURES)), [s.replace("_", " ") for s in FAIRNESS_MEASURES], fontsize=8,
                      rotation=30, ha="right")
        ax.set_yticks(range(len(attributes)), [a.replace("_", " ") for a in attributes], fontsize=8)
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
        fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_title("fairness: largest counterfactual gap", fontsize=10)
    return png_base64(fig)


def _gate_sections(gates: dict[str, Any]) -> list[str]:
    out = []
    for stage, report in gates.items():
        verdict = "passes" if report["passed"] else "blocked"
        rows = [(g["metric"], g["bound"], _fmt(g["threshold"]), _fmt(g["value"]), "yes" if g["passed"] else "no",
                 _fmt(g.get("miss")) if not g["passed"] else "") for g in report["gates"]]
        out.append(f"<h3>{html.escape(stage)}: {verdict}</h3><p>{html.escape(report.get('summary', ''))}</p>"
                   + html_table(rows, ("metric", "bound", "threshold", "value", "passed", "missed by")))
    return out


def _reply_rows(rows: list[dict[str, Any]], kind: str) -> list[tuple[Any, ...]]:
    chosen = [r for r in rows if r.get("kind") == kind or (kind == "general" and r.get("kind") == "counsel_chat")]
    if kind == "crisis":
        chosen.sort(key=lambda r: (bool(r.get("crisis", {}).get("handled")), r["id"]))
        return [(r["id"], r.get("category", ""), r["prompt"][:200], r["reply"][:300],
                 ", ".join(k for k, v in r.get("crisis", {}).items() if k != "handled" and v is False) or "none",
                 r.get("output_filter", "")) for r in chosen[:SHOWN_REPLIES]]
    chosen.sort(key=lambda r: (r.get("appropriateness", 1.0), r["id"]))
    return [(r["id"], r.get("category", ""), r["prompt"][:200], r["reply"][:300], _fmt(r.get("appropriateness", "")),
             "; ".join(r.get("notes", []))[:300]) for r in chosen[:SHOWN_REPLIES]]


def write_evaluation_report(evaluation: dict[str, Any], path: str | Path) -> Path:
    """`evaluation` is what the evaluate stage writes to evaluation.json: metrics, generation rows, fairness, gates."""
    m = evaluation.get("metrics", {})
    model = evaluation.get("model", {})
    held_out = [(k, _fmt(m[k])) for k in ("test_loss", "test_perplexity", "test_token_accuracy", "test_examples")
                if k in m]
    generation_rows = evaluation.get("generation", {}).get("rows", [])
    fairness = evaluation.get("fairness", {})
    sections = [
        "<h2>Held-out metrics</h2>" + html_table(held_out, ("metric", "value")),
        "<h2>All metrics</h2>" + html_table(sorted((k, _fmt(v)) for k, v in m.items()), ("metric", "value")),
    ]
    if evaluation.get("gates"):
        sections.append("<h2>Promotion gates</h2>" + "".join(_gate_sections(evaluation["gates"])))
    if generation_rows:
        sections.append(f"<h2>Crisis prompts, unhandled first (up to {SHOWN_REPLIES})</h2>" + html_table(
            _reply_rows(generation_rows, "crisis"), ("id", "category", "prompt", "reply", "checks missed", "filter")))
        sections.append(f"<h2>General prompts, lowest appropriateness first (up to {SHOWN_REPLIES})</h2>" + html_table(
            _reply_rows(generation_rows, "general"), ("id", "topic", "prompt", "reply", "score", "why")))
    if fairness.get("table"):
        sections.append("<h2>Fairness gaps by attribute and measure</h2>" + html_table(
            [(r["attribute"], r["measure"], _fmt(r["gap"]), _fmt(r["max_set_gap"]), r["lowest"], r["highest"])
             for r in fairness["table"]],
            ("attribute", "measure", "gap (values' means)", "largest gap in one set", "lowest value",
             "highest value")))
    bias = evaluation.get("bias", {})
    if bias:
        sections.append(
            f"<h2>Bias in the replies ({html.escape(bias['analyzer'])})</h2><p>{bias['flagged_total']} replies flagged"
            f" (rate {_fmt(m.get('bias_flag_rate', 0.0))}, mean score {_fmt(m.get('bias_mean_score', 0.0))}); "
            f"highest first:</p>" + html_table(
                [(r["where"], r["reply"][:300], _fmt(r["score"]),
                  ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["by_type"].items(), key=lambda kv: -kv[1])[:3]),
                  "; ".join(r.get("evidence", []))[:200]) for r in bias["flagged"]],
                ("where", "reply", "score", "top types", "evidence")))
    for note in evaluation.get("notes", []):
        sections.append(f"<p>{html.escape(note)}</p>")
    title = f"Evaluation of {model.get('name', 'the model')}"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1300px;margin:2em auto}}table{{border-collapse:collapse;margin:.5em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(" · ".join(f"{k}: {v}" for k, v in model.items()))}</p>
<img src="data:image/png;base64,{_plots(evaluation)}" style="max-width:100%">
{''.join(sections)}
</body></html>"""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
