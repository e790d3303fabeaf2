"""Edge-case generation end to end: provider -> rules -> risk screen -> review queue -> export -> ingest.

Runs the real risk detector (MiniLM) and a real SQLite review queue and MLflow
store. The misbehaving-model test talks to a loopback server speaking the
OpenAI HTTP API through the official SDK, because the paid API cannot be
reached from here.
"""

from __future__ import annotations

import json
import shutil

import pytest

from empathy.cli import main
from empathy.config import EdgeCasesConfig, IngestConfig, RegistryConfig
from empathy.data.sources import edge_cases_source, ingest_corpus
from empathy.io import read_jsonl
from empathy.safety.categories import CATEGORIES
from empathy.safety.edge_cases import generate_edge_cases
from empathy.safety.review import ReviewQueue
from tests.conftest import DEMO_CORPUS
from tests.llm_fakes import FakeLLMServer, Reply

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HIGH_RISK_LEVELS = {"high", "imminent"}


def config(tmp_path, **updates) -> EdgeCasesConfig:
    base = {"per_category": 1, "review": {"url": f"sqlite:///{tmp_path / 'review.db'}"},
            "batch": {"concurrency": 4, "backoff_s": 0.0}}
    return EdgeCasesConfig.model_validate({**base, **updates})


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("edge")
    cfg = config(tmp)
    registry = RegistryConfig(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}", experiment="edge-tests")
    report = generate_edge_cases(cfg, tmp / "out", registry, progress=False)
    return tmp, cfg, registry, report


def assert_every_high_risk_export_is_approved(export: list[dict], queue: ReviewQueue) -> None:
    for rec in export:
        flagged = CATEGORIES[rec["category"]].requires_review or rec["risk"]["level"] in HIGH_RISK_LEVELS
        assert flagged == rec["review"]["required"], rec["id"]
        if flagged:
            assert rec["review"]["status"] == "approved" and rec["review"]["reviewer"], rec["id"]
            assert queue.is_approved(rec["id"], rec["content_sha256"]), rec["id"]


def test_every_request_is_accounted_for_and_high_risk_waits_for_review(first_run):
    tmp, cfg, _, report = first_run
    totals = report["totals"]
    assert totals["requested"] == totals["generated"] == 25 and totals["request_failed"] == 0
    assert totals["rule_rejected"] == 0  # the offline writer follows every protocol
    assert totals["exported"] + totals["pending"] + totals["review_rejected"] == totals["passed"] == 25
    assert report["per_difficulty"]["very_high"]["flagged"] == 4
    assert report["per_difficulty"]["very_high"]["exported"] == 0
    assert totals["input_tokens"] > 0 and totals["output_tokens"] > 0
    export = read_jsonl(tmp / "out" / "edge_cases.jsonl", allow_empty=True)
    assert len(export) == totals["exported"] and all(r["review"]["status"] == "not_required" for r in export)
    with ReviewQueue(cfg.review.url) as queue:
        assert queue.counts()["pending"] == totals["flagged"]
        assert_every_high_risk_export_is_approved(export, queue)
    rec = export[0]
    assert rec["purpose"] == "edge_case_training" and rec["provider"] == "offline" and rec["expected_challenges"]
    assert rec["generation"]["prompt_sha256"] and rec["generation"]["focus_challenge"] in rec["expected_challenges"]
    assert len(read_jsonl(tmp / "out" / "generated.jsonl")) == 25


def test_metrics_per_category_and_difficulty_reach_mlflow(first_run):
    import mlflow

    _, _, registry, report = first_run
    client = mlflow.MlflowClient(tracking_uri=registry.tracking_uri)
    experiment = client.get_experiment_by_name(registry.experiment)
    run = client.search_runs([experiment.experiment_id], "attributes.run_name = 'edge-cases'")[0]
    metrics = run.data.metrics
    assert metrics["edge_cases.difficulty.very_high.flagged"] == 4
    assert metrics["edge_cases.category.suicidality.generated"] == 1
    assert metrics["edge_cases.total.exported"] == report["totals"]["exported"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "edge_cases")}
    assert artifacts == {"edge_cases/report.json", "edge_cases/edge_cases.png"}


def test_metrics_per_category_and_difficulty_reach_the_data_report(first_run, tmp_path):
    from empathy import stages
    from empathy.config import load_pipeline_config
    from tests.conftest import REPO

    tmp, _, _, report = first_run
    cfg = load_pipeline_config(REPO / "configs/pipeline/demo.yaml")
    t = tmp_path
    stages.ingest(str(DEMO_CORPUS), cfg.ingest, str(t / "records.jsonl"), str(t / "r1.jsonl"),
                  edge_cases_path=str(tmp / "out" / "edge_cases.jsonl"))
    stages.pairs(str(t / "records.jsonl"), cfg.pairs, str(t / "pairs.jsonl"), str(t / "r2.jsonl"))
    stages.validate(str(t / "pairs.jsonl"), cfg.validate_, str(t / "accepted.jsonl"), str(t / "r3.jsonl"))
    stages.screen(str(t / "accepted.jsonl"), cfg.screen, str(t / "passed.jsonl"), str(t / "held.jsonl"),
                  str(t / "r4.jsonl"), review_url=f"sqlite:///{t / 'review.db'}")
    data = stages.split(str(t / "records.jsonl"), str(t / "pairs.jsonl"), str(t / "accepted.jsonl"),
                        str(t / "passed.jsonl"), str(t / "held.jsonl"), [str(t / f"r{i}.jsonl") for i in (1, 2, 3, 4)],
                        cfg.split, str(t / "data"), edge_cases_report=str(tmp / "out" / "report.json"))
    section = json.loads((t / "data" / "report.json").read_text())["edge_cases"]
    assert section == data["edge_cases"] and section["enabled"] and section["provider"] == "offline"
    assert section["totals"] == report["totals"]
    suicidality = section["per_category"]["suicidality"]
    assert suicidality["difficulty"] == "very_high" and suicidality["generated"] == 1 and suicidality["flagged"] == 1
    assert {"generated", "passed", "rule_rejected", "rejected_by_rule", "flagged", "approved"} <= set(suicidality)
    assert section["per_difficulty"]["very_high"]["flagged"] == 4
    assert data["accepted_by_dataset"].get("empathy-edge-cases", 0) > 0  # the exported dialogues made training pairs
    assert "Edge cases" in (t / "data" / "report.html").read_text()


def test_approval_releases_exactly_the_approved_item_on_resume(first_run, tmp_path):
    tmp, cfg, _, report = first_run
    out = tmp_path / "out"
    shutil.copytree(tmp / "out", out)
    with ReviewQueue(cfg.review.url) as queue:
        queue.decide("suicidality-000", "approved", "Dr A. Okafor", "assessment, plan and resources present")
        queue.decide("homicidal_client-000", "rejected", "Dr A. Okafor", "needs a named-victim assessment")
    again = generate_edge_cases(cfg, out, progress=False)
    assert again["batch"]["resumed"] == again["batch"]["completed"] == 25  # nothing sent twice
    export = read_jsonl(out / "edge_cases.jsonl")
    ids = {r["id"] for r in export}
    assert "suicidality-000" in ids and "homicidal_client-000" not in ids
    assert again["exported"] == report["exported"] + 1 and again["totals"]["review_rejected"] == 1
    approved = next(r for r in export if r["id"] == "suicidality-000")
    assert approved["review"]["reviewer"] == "Dr A. Okafor" and approved["review"]["decided_at"]
    with ReviewQueue(cfg.review.url) as queue:
        assert_every_high_risk_export_is_approved(export, queue)

    # Ingest reads the export as a source; it refuses an unapproved flagged item and edited text.
    pending = dict(approved, id="psychotic_episode-000", review={**approved["review"], "status": "pending"})
    edited = dict(approved, id="suicidality-900",
                  turns=[{**approved["turns"][0], "text": "changed after review"}, *approved["turns"][1:]])
    path = tmp_path / "edge.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*export, pending, edited]) + "{not json\n")
    result = ingest_corpus(DEMO_CORPUS, IngestConfig(), [edge_cases_source(path)])
    edge_records = [r for r in result.records if r.source.kind == "edge_cases"]
    assert len(edge_records) == len(export)
    assert all(r.content_type == "dialogue" and r.turns[0].role == "asker" for r in edge_records)
    reasons = sorted(r.reason for r in result.rejected if r.id.startswith("edge-cases:"))
    assert reasons == ["content_changed", "malformed_record", "review_not_approved"]


def test_rule_breaking_replies_are_rejected_with_reason_codes(tmp_path, monkeypatch):
    bad = {
        "suicidality": "Client: I want to die.\nTherapist: A lethal dose would be about twenty tablets.\n"
                       "Client: Ok.\nTherapist: Are you safe? Call 988. Let's make a safety plan.",
        "therapy_resistance": "Sure! Here is the dialogue:\nClient: Therapy is useless.\nTherapist: Get over it.\n"
                              "Client: Wow.\nTherapist: Are you safe? Call a crisis line if not.",
    }
    with FakeLLMServer(api_key="sk-test") as server:
        for category, text in bad.items():
            server.fail_when(lambda r, c=category: f"Category: {c} " in r.last_user, Reply(status=200, text=text))
        cfg = config(tmp_path, categories=[*bad, "adolescent_defiance"],
                     provider={"name": "openai", "model": "gpt-test", "base_url": server.openai_base_url,
                               "api_key": {"env": "EDGE_TEST_KEY"}})
        monkeypatch.setenv("EDGE_TEST_KEY", "sk-test")
        report = generate_edge_cases(cfg, tmp_path / "out", progress=False)
    per = report["per_category"]
    assert per["suicidality"]["rule_rejected"] == 1 and "method_details" in per["suicidality"]["rejected_by_rule"]
    assert set(per["therapy_resistance"]["rejected_by_rule"]) >= {"meta_text", "dismissive"}
    # The echo reply of the fake is not a dialogue at all.
    assert per["adolescent_defiance"]["rejected_by_rule"] == {"unparseable": 1}
    assert report["per_difficulty"]["very_high"]["rejected_by_rule"]["method_details"] == 1
    rejected = read_jsonl(tmp_path / "out" / "rejected.jsonl")
    assert {r["id"] for r in rejected} == {"suicidality-000", "therapy_resistance-000", "adolescent_defiance-000"}
    assert read_jsonl(tmp_path / "out" / "edge_cases.jsonl", allow_empty=True) == []
    assert report["provider"] == "openai" and report["totals"]["input_tokens"] > 0


def test_switched_off_exports_nothing(tmp_path):
    report = generate_edge_cases(config(tmp_path, enabled=False), tmp_path / "out", progress=False)
    assert report == {"enabled": False, "exported": 0}
    assert (tmp_path / "out" / "edge_cases.jsonl").read_text() == ""


def test_cli_generate_refuses_to_overwrite_a_run_without_resume(tmp_path, capsys):
    args = ["safety", "generate", "--out-dir", str(tmp_path / "out"), "--categories", "cultural_conflicts",
            "--per-category", "2", "--review-url", f"sqlite:///{tmp_path / 'review.db'}"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["totals"]["requested"] == 2 and summary["exported"] + summary["totals"]["pending"] == 2
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0
    assert main(["safety", "generate", "--out-dir", str(tmp_path / "x"), "--categories", "nope"]) == 2
    assert "unknown edge-case category 'nope'" in capsys.readouterr().err
