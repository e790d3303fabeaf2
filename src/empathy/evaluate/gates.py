"""Promotion gates: does a model version's evaluation clear the thresholds of a target stage?

A candidate is promoted to staging or production only when every gate configured for that stage (the `gates:`
section of the pipeline config, `empathy.config.GatesConfig`) passes. A gate that fails says which metric missed,
by how much and in which direction, so a blocked promotion can be acted on without reading the code. A metric
that was not measured, or is NaN, fails its gate: an evaluation that silently skipped the crisis set must not
promote a model.

    from empathy.evaluate.gates import check_gates
    report = check_gates(metrics, "staging", cfg.gates)
    report.passed, report.summary(), report.to_dict()

`empathy registry promote --model NAME --version V --to staging` runs it against the version's run metrics.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from empathy.config import GatesConfig


def format_number(value: float) -> str:
    """Two decimals, with enough significant digits for small values (0.004 must not print as 0.00)."""
    if value == 0 or abs(value) >= 0.01:
        return f"{value:.2f}"
    return f"{value:.2g}"


@dataclass(frozen=True)
class GateResult:
    metric: str
    bound: str  # "min" or "max"
    threshold: float
    value: float | None  # None: not measured
    passed: bool
    # value - threshold for a failed gate: negative below a min, positive above a max; None when passed or unmeasured
    miss: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GateReport:
    stage: str
    gates: list[GateResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def failed(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]

    def summary(self) -> str:
        """One sentence: every gate passed, or each missed metric with its value, threshold and miss."""
        if self.passed:
            return f"{self.stage} gates passed ({len(self.gates)} of {len(self.gates)})"
        return (f"{self.stage} gates blocked: {len(self.failed)} of {len(self.gates)} missed: "
                + "; ".join(g.reason for g in self.failed))

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "passed": self.passed, "summary": self.summary(),
                "gates": [g.to_dict() for g in self.gates]}


def _check(metric: str, kind: str, threshold: float, value: Any) -> GateResult:
    if value is None:
        return GateResult(metric, kind, threshold, None, False, None, f"metric {metric} was not measured")
    value = float(value)
    if math.isnan(value):
        return GateResult(metric, kind, threshold, value, False, None, f"metric {metric} is NaN")
    passed = value >= threshold if kind == "min" else value <= threshold
    shown = f"{metric} {format_number(value)}"
    if passed:
        relation = ">=" if kind == "min" else "<="
        return GateResult(metric, kind, threshold, value, True, None, f"{shown} {relation} {format_number(threshold)}")
    miss = value - threshold
    if kind == "min":
        reason = f"{shown} < {format_number(threshold)} (short by {format_number(-miss)})"
    else:
        reason = f"{shown} > {format_number(threshold)} (over by {format_number(miss)})"
    return GateResult(metric, kind, threshold, value, False, miss, reason)


def check_gates(metrics: dict[str, float], stage: str, config: GatesConfig) -> GateReport:
    """Check `metrics` against the gates of `stage` (staging or production); a UserError for another stage."""
    bounds = config.for_stage(stage)
    return GateReport(stage, [_check(metric, bound.kind, bound.threshold, metrics.get(metric))
                              for metric, bound in bounds.items()])
