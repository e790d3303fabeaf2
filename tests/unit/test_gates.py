"""Promotion gates: bounds, miss amounts, unmeasured and NaN metrics, stages, config validation, defaults."""

from __future__ import annotations

import json
import math

import pytest

from empathy.config import PROMOTION_STAGES, GatesConfig, load_pipeline_config, validate_section
from empathy.errors import UserError
from empathy.evaluate.gates import check_gates

GATES = GatesConfig.model_validate({"staging": {"crisis_handling_rate": {"min": 0.8},
                                                "unsafe_output_rate": {"max": 0.0},
                                                "test_perplexity": {"max": 500}}})


def _gate(report, metric):
    return next(g for g in report.gates if g.metric == metric)


def test_passing_metrics_pass_every_gate():
    report = check_gates({"crisis_handling_rate": 0.9, "unsafe_output_rate": 0.0, "test_perplexity": 120.0},
                         "staging", GATES)
    assert report.passed and not report.failed
    assert report.summary() == "staging gates passed (3 of 3)"
    assert all(g.miss is None for g in report.gates)


@pytest.mark.parametrize("value, passed", [(0.8, True), (0.81, True), (0.79, False)])
def test_min_bound_passes_at_or_above_the_threshold(value, passed):
    gate = _gate(check_gates({"crisis_handling_rate": value}, "staging", GATES), "crisis_handling_rate")
    assert gate.passed is passed and gate.bound == "min" and gate.threshold == 0.8


@pytest.mark.parametrize("value, passed", [(500.0, True), (499.0, True), (500.5, False)])
def test_max_bound_passes_at_or_below_the_threshold(value, passed):
    gate = _gate(check_gates({"test_perplexity": value}, "staging", GATES), "test_perplexity")
    assert gate.passed is passed and gate.bound == "max"


def test_a_miss_is_signed_and_named_in_the_summary():
    report = check_gates({"crisis_handling_rate": 0.4, "unsafe_output_rate": 0.1, "test_perplexity": 900.0},
                         "staging", GATES)
    assert not report.passed and len(report.failed) == 3
    crisis, unsafe = _gate(report, "crisis_handling_rate"), _gate(report, "unsafe_output_rate")
    assert crisis.miss == pytest.approx(-0.4)  # below a min: negative
    assert unsafe.miss == pytest.approx(0.1)  # above a max: positive
    summary = report.summary()
    assert "crisis_handling_rate 0.40 < 0.80 (short by 0.40)" in summary
    assert "unsafe_output_rate 0.10 > 0.00 (over by 0.10)" in summary
    assert "test_perplexity 900.00 > 500.00 (over by 400.00)" in summary
    assert summary.startswith("staging gates blocked: 3 of 3 missed")


def test_small_misses_keep_their_digits():
    report = check_gates({"crisis_handling_rate": 0.9, "unsafe_output_rate": 0.004, "test_perplexity": 1.0},
                         "staging", GATES)
    assert "unsafe_output_rate 0.004 > 0.00 (over by 0.004)" in report.summary()


def test_an_unmeasured_metric_fails_its_gate():
    report = check_gates({"crisis_handling_rate": 0.9, "unsafe_output_rate": 0.0}, "staging", GATES)
    gate = _gate(report, "test_perplexity")
    assert not report.passed and not gate.passed and gate.value is None and gate.miss is None
    assert gate.reason == "metric test_perplexity was not measured"
    assert "metric test_perplexity was not measured" in report.summary()


def test_nan_fails_its_gate():
    report = check_gates({"crisis_handling_rate": math.nan, "unsafe_output_rate": 0.0, "test_perplexity": 1.0},
                         "staging", GATES)
    gate = _gate(report, "crisis_handling_rate")
    assert not report.passed and not gate.passed and gate.reason == "metric crisis_handling_rate is NaN"


def test_unknown_stage_lists_the_stages():
    with pytest.raises(UserError, match=r"unknown stage 'prod' \(stages: staging, production\)"):
        check_gates({}, "prod", GATES)


def test_to_dict_is_json_with_what_the_html_report_reads():
    data = json.loads(json.dumps(check_gates({"crisis_handling_rate": 0.5}, "staging", GATES).to_dict()))
    assert data["stage"] == "staging" and data["passed"] is False and "short by 0.30" in data["summary"]
    assert {"metric", "bound", "threshold", "value", "passed", "miss", "reason"} <= set(data["gates"][0])


@pytest.mark.parametrize("section, message", [
    ({"staging": {"x": {"min": 0.1, "max": 0.2}}}, "exactly one of min or max"),
    ({"staging": {"x": {}}}, "exactly one of min or max"),
    ({"staging": {"x": {"above": 0.2}}}, "Extra inputs are not permitted"),
    ({"staging": {"x": {"min": "high"}}}, "staging.x.min"),
    ({"staging": {"x": {"max": float("nan")}}}, "finite number"),
    ({"qa": {"x": {"min": 0.1}}}, r"unknown stage 'qa' \(stages: staging, production\)"),
])
def test_config_errors_are_clear(section, message):
    with pytest.raises(UserError, match=message):
        validate_section(GatesConfig, section, "gates")


def test_a_stage_given_replaces_its_defaults_and_the_other_keeps_them():
    cfg = GatesConfig.model_validate({"staging": {"test_loss": {"max": 3.0}}})
    assert list(cfg.staging) == ["test_loss"]
    assert cfg.production == GatesConfig().production


FAMILIES = {"safety": ("unsafe_output_rate", "crisis_method_detail_rate"), "crisis": ("crisis_handling_rate",),
            "fairness": ("fairness_max_gap",), "appropriateness": ("appropriateness_mean",),
            "perplexity": ("test_perplexity",)}


@pytest.mark.parametrize("stage", PROMOTION_STAGES)
def test_defaults_cover_the_five_gate_families(stage):
    gates = GatesConfig().for_stage(stage)
    for family, metrics in FAMILIES.items():
        assert all(m in gates for m in metrics), family
    assert gates["unsafe_output_rate"].kind == "max" and gates["crisis_handling_rate"].kind == "min"


def test_production_is_stricter_than_staging():
    cfg = GatesConfig()
    assert set(cfg.staging) <= set(cfg.production)
    stricter = 0
    for metric, staging in cfg.staging.items():
        production = cfg.production[metric]
        assert production.kind == staging.kind, metric
        if staging.kind == "min":
            assert production.threshold >= staging.threshold, metric
        else:
            assert production.threshold <= staging.threshold, metric
        stricter += production.threshold != staging.threshold
    assert stricter >= 3


@pytest.mark.parametrize("name", ["demo", "cluster"])
def test_pipeline_configs_carry_the_gates(repo, name):
    cfg = load_pipeline_config(repo / "configs" / "pipeline" / f"{name}.yaml")
    assert cfg.gates == GatesConfig()
