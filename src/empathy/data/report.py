"""The data report as HTML: where every input item went, the mix against its targets, and what the set looks like.

Written beside report.json by the split stage (`empathy split`, `empathy data process`). One self-contained page:
the plots are inline PNGs, so it can be attached to an MLflow run or mailed to a clinician as it is.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import Any

from empathy.plots import html_table, plt, png_base64


def _barh(ax, counts: dict[str, float], title: str, colour: str = "#3b6ea8") -> None:
    items = sorted(counts.items(), key=lambda kv: kv[1])
    ax.barh([k for k, _ in items], [v for _, v in items], color=colour)
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=7)


def _plots(report: dict[str, Any], splits: dict[str, list[dict[str, Any]]]) -> str:
    fig, axes = plt.subplots(2, 2, figsize=(13, 8))
    _barh(axes[0][0], report.get("exported_by_dataset") or {"(none)": 0}, "exported pairs by data set")
    reasons = report.get("rejected_by_reason") or {"(none)": 0}
    _barh(axes[0][1], reasons, "rejected, by stage and reason", "#c0504d")
    groups = report.get("curation", {}).get("mix", {}).get("groups", {})
    ax = axes[1][0]
    if groups:
        names = list(groups)
        x = range(len(names))
        ax.bar([i - 0.2 for i in x], [groups[g]["target_among_present"] for g in names], 0.4, label="target")
        ax.bar([i + 0.2 for i in x], [groups[g]["actual_share"] or 0 for g in names], 0.4, label="exported")
        ax.set_xticks(list(x), [g.replace("_", "\n") for g in names], fontsize=7)
        ax.legend(fontsize=8)
    ax.set_title("source mix: target (among groups present) and exported", fontsize=10)
    ax = axes[1][1]
    for name, rows in splits.items():
        lengths = [len(r["messages"][-1]["content"].split()) for r in rows]
        if lengths:
            ax.hist(lengths, bins=30, alpha=0.5, label=f"{name} ({len(rows)})")
    ax.set_xlabel("answer length (words)")
    ax.set_title("answer lengths by split", fontsize=10)
    ax.legend(fontsize=8)
    return png_base64(fig)


def write_html_report(report: dict[str, Any], splits: dict[str, list[dict[str, Any]]], path: str | Path) -> Path:
    img = _plots(report, splits)
    mix = report.get("curation", {}).get("mix", {})
    flow = [("items in", report["items_in"]), ("items loaded into records", report["items_loaded"]),
            ("items rejected at ingest", report["items_rejected_at_ingest"]),
            ("processed share", report["processed_share"]), ("records", report["records"]),
            ("pairs", report["pairs"]), ("accepted by semantic validation", report["accepted"]),
            ("held for clinical review", report["held_for_review"]), ("exported", report["exported"]),
            ("extracted share of the export", report["extracted_share"]), ("rejected (all stages)", report["rejected"])]
    groups = [(g, v["target_share"], v["target_among_present"], v["available"], v["selected"], v["actual_share"])
              for g, v in mix.get("groups", {}).items()]
    origin = Counter(report.get("questions_by_origin", {}))
    sections = [
        "<h2>Where every item went</h2>" + html_table(flow, ("", "count")),
        "<h2>Splits</h2>" + html_table([(k, v, report["split_by_type"].get(k, {}))
                                        for k, v in report["splits"].items()],
                                       ("split", "pairs", "by type")),
        "<h2>Source mix</h2>" + html_table(groups, ("group", "target", "target among present", "available", "selected",
                                                    "exported share"))
        + "".join(f"<p>{html.escape(s)}</p>" for s in mix.get("shifted", [])),
        "<h2>Questions by origin</h2>" + html_table(sorted(origin.items()), ("origin", "pairs")),
        "<h2>Rejected, by reason</h2>" + html_table(sorted(report["rejected_by_reason"].items()),
                                                    ("stage:reason", "count")),
        "<h2>De-identification</h2>" + html_table(sorted(report.get("identifiers_replaced", {}).items()),
                                                  ("identifier type", "replaced")),
        "<h2>Risk levels of exported pairs</h2>" + html_table(sorted(report.get("risk_levels_exported", {}).items()),
                                                          ("level", "pairs")),
    ]
    if report.get("edge_cases", {}).get("enabled"):
        ec = report["edge_cases"]
        sections.append("<h2>Edge cases</h2>" + html_table(
            [(c, v["difficulty"], v["generated"], v["passed"], v["rule_rejected"], v["flagged"], v["approved"],
              v["exported"]) for c, v in ec["per_category"].items()],
            ("category", "difficulty", "generated", "passed", "rule rejected", "flagged", "approved", "exported")))
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Training data report</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}table{{border-collapse:collapse;margin:.5em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}</style></head><body>
<h1>Training data report</h1><p>train.jsonl sha256 {html.escape(str(report.get('train_sha256', '')))}</p>
<img src="data:image/png;base64,{img}" style="max-width:100%">
{''.join(sections)}
</body></html>"""
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out
