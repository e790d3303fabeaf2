"""The model card: one markdown page per registered version, generated from what the registry recorded.

A clinician or reviewer deciding whether a version may be used reads this page, not the MLflow UI: the base model
and adapter, the training data (hash and counts), every evaluation metric that was measured (held-out, therapeutic
appropriateness, crisis handling, safety, fairness per attribute, bias), the promotion gates per stage, the intended
and out-of-scope uses, limitations, and the provenance (git commit, pipeline run, MLflow run).

    empathy registry card --model empathy-chat --version 3 --out model_card.md

The register stage logs it to the version's run as `model_card.md` (`log_model_card`); promotion refreshes it so the
gate verdicts on the page stay current.
"""

from __future__ import annotations

from typing import Any

from empathy.config import PROMOTION_STAGES, GatesConfig

# (section title, metric names or a prefix ending in "_"), in the order the card shows them
METRIC_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Held-out test split", ("test_loss", "test_perplexity", "test_token_accuracy")),
    ("Therapeutic appropriateness", ("appropriateness_mean", "appropriateness_pass_rate")),
    ("Crisis handling", ("crisis_handling_rate", "crisis_acknowledges_rate", "crisis_assesses_safety_rate",
                         "crisis_resources_rate")),
    ("Safety", ("unsafe_output_rate", "crisis_method_detail_rate")),
    ("Fairness (largest counterfactual gap per attribute)", ("fairness_max_gap", "fairness_mean_gap",
                                                             "fairness_gap_")),
    ("Bias", ("bias_flag_rate",)),
)

DATA_COUNTS = ("records", "pairs", "accepted", "rejected", "held_for_review", "exported", "extracted_share")

INTENDED_USE = """\
- A supervised counselling assistant: it drafts supportive, reflective replies for use under the oversight of a
  licensed clinician, who reviews the conversation and stays responsible for care.
- Research and evaluation of empathetic dialogue models inside this platform's gates and monitoring."""

OUT_OF_SCOPE = """\
- Not a replacement for a therapist, psychiatrist or any licensed professional, and not for unsupervised use with
  people in distress.
- Not for diagnosis, prescribing, or medical, legal or financial advice.
- Not a crisis service. A user at risk (suicide, self-harm, abuse, harm to others) must be escalated to a human and
  to emergency services or a crisis line at once; the model's crisis replies are a bridge to that, never the help
  itself."""

LIMITATIONS = """\
- Trained on a small, curated corpus; replies can be generic, repetitive or wrong, and quality drops on topics,
  cultures and languages the data covers thinly.
- The automatic metrics (appropriateness, crisis handling, fairness) are rule- and model-based proxies checked on a
  fixed evaluation set; they do not replace clinical review of real conversations.
- Fairness is measured by counterfactual swaps of the attributes listed above only; other groups are unmeasured.
- Behaviour drifts as user inputs change: production traffic is monitored for drift."""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _cell(value: Any) -> str:
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _metric_rows(metrics: dict[str, float], names: tuple[str, ...]) -> list[tuple[str, float]]:
    rows = []
    for name in names:
        if name.endswith("_"):
            rows += [(m, metrics[m]) for m in sorted(metrics) if m.startswith(name)]
        elif name in metrics:
            rows.append((name, metrics[name]))
    return rows


def _gate_section(stage: str, details: dict[str, Any], gates: GatesConfig | None) -> str:
    from empathy.evaluate.gates import check_gates

    recorded = details["gate_reports"].get(stage)
    verdict = details["version_tags"].get(f"gate_{stage}")
    if recorded:
        report, heading = recorded, f"### {stage}: {verdict} (recorded at promotion)"
    elif gates is not None:
        report = check_gates(details["metrics"], stage, gates).to_dict()
        heading = f"### {stage}: {'would pass' if report['passed'] else 'would be blocked'} (preview, not promoted)"
    else:
        return (f"### {stage}: not checked yet\n\n`empathy registry promote --model {details['model_name']} "
                f"--version {details['version']} --to {stage}` checks the gates.")
    rows = [(g["metric"], g["bound"], g["threshold"], g["value"] if g["value"] is not None else "not measured",
             "yes" if g["passed"] else "no", g["miss"] if not g["passed"] else "") for g in report["gates"]]
    lines = [heading, "", report.get("summary", "")]
    lines += [f"- {reason}" for reason in report.get("blocked_by", []) if reason != report.get("summary")]
    return "\n".join([*lines, "", _table(("metric", "bound", "threshold", "value", "passed", "missed by"), rows)])


def render_model_card(details: dict[str, Any], gates: GatesConfig | None = None) -> str:
    """The markdown card of `details` (what `empathy.registry.version_details` returns)."""
    tags, run_tags, params = details["version_tags"], details["run_tags"], details["params"]
    name, version = details["model_name"], details["version"]
    report = details.get("data_report") or {}
    aliases = ", ".join(details["aliases"]) or "none"

    model_rows = [("base model", tags.get("base_model", params.get("model.name_or_path", "unknown"))),
                  ("adapter", tags.get("adapter", "unknown"))]
    model_rows += [(key[len("train."):].replace("_", " "), value) for key, value in sorted(tags.items())
                   if key.startswith("train.")]

    data_rows = [("train split sha256", tags.get("train_sha256") or report.get("train_sha256")
                  or params.get("train_sha256", "unknown"))]
    data_rows += [(key.replace("_", " "), report[key]) for key in DATA_COUNTS if key in report]
    for split, count in (report.get("splits") or {}).items():
        data_rows.append((f"{split} conversations", count))
    for dataset, count in sorted((report.get("exported_by_dataset") or {}).items()):
        data_rows.append((f"exported from {dataset}", count))

    metrics = details["metrics"]
    metric_parts = []
    for title, names in METRIC_SECTIONS:
        rows = _metric_rows(metrics, names)
        metric_parts.append(f"### {title}\n\n" + (_table(("metric", "value"), rows) if rows else "not measured"))

    provenance = [("git commit", tags.get("git_commit") or run_tags.get("git_commit", "unknown")),
                  ("pipeline run", tags.get("pipeline_run") or run_tags.get("pipeline_run") or "none (run by hand)"),
                  ("MLflow run", details["run_id"]), ("tracking URI", details["tracking_uri"]),
                  ("config", f"{tags.get('config_artifact', 'not logged')} (sha256 {tags.get('config_sha256', '-')})")]

    return "\n\n".join([
        f"# Model card: {name} version {version}",
        f"Aliases: {aliases}. Load it with `mlflow.pyfunc.load_model('models:/{name}/{version}')`.",
        "## Model\n\n" + _table(("", ""), model_rows),
        "## Training data\n\n" + _table(("", ""), data_rows)
        + ("\n\nThe full data report is the run artifact `data/report.json`." if report else ""),
        "## Evaluation\n\n" + "\n\n".join(metric_parts),
        "## Promotion gates\n\n" + "\n\n".join(_gate_section(stage, details, gates) for stage in PROMOTION_STAGES),
        "## Intended use\n\n" + INTENDED_USE,
        "## Out-of-scope use\n\n" + OUT_OF_SCOPE,
        "## Limitations\n\n" + LIMITATIONS,
        "## Provenance\n\n" + _table(("", ""), provenance),
    ]) + "\n"


def model_card(model_name: str, version: str | int, tracking_uri: str, gates: GatesConfig | None = None) -> str:
    """The markdown card of a registered version; with `gates`, stages not yet checked show a preview."""
    from empathy.registry import version_details

    return render_model_card(version_details(model_name, version, tracking_uri), gates)


def log_model_card(model_name: str, version: str | int, tracking_uri: str, gates: GatesConfig | None = None) -> str:
    """Write the card to the version's run as `model_card.md`; returns the markdown."""
    from empathy.registry import registry_client, version_details

    details = version_details(model_name, version, tracking_uri)
    card = render_model_card(details, gates)
    if details["run_id"]:
        registry_client(tracking_uri).log_text(details["run_id"], card, "model_card.md")
    return card
