"""Everything the gates need to judge a candidate model, measured in one pass.

The evaluate stage calls `evaluate_candidate`: held-out loss, perplexity and token accuracy on the test split;
then replies, generated greedily so two runs agree, to the prompt suite (plus held-out counsel-chat questions)
scored for therapeutic appropriateness, crisis handling and output safety; the counterfactual sets for fairness;
and every generated reply through the bias analyzer (the platform's bias service when one is configured, else the
packaged detector). Finally both stages' gates are checked against the metrics, so the report shows what promotion
would decide before anyone asks for it.

    from empathy.evaluate.candidate import evaluate_candidate
    evaluation = evaluate_candidate("runs/x/model", test_examples, cfg.evaluate, cfg.gates)
    evaluation["metrics"]["crisis_handling_rate"], evaluation["gates"]["staging"]["passed"]

`empathy evaluate --model runs/x/model --data runs/x/data --run-id RUN --out runs/x/evaluation.json` runs it and
logs the metrics, evaluation.json and the HTML report to the MLflow run.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import zip_longest
from typing import Any

from empathy.config import PROMOTION_STAGES, EvaluateConfig, GatesConfig
from empathy.evaluate.fairness import CounterfactualSet

FLAGGED_BIAS_SHOWN = 20


def spread_sets(sets: list[CounterfactualSet], limit: int | None) -> list[CounterfactualSet]:
    """At most `limit` sets, taken in turn from each attribute so that every attribute is measured."""
    if limit is None or limit >= len(sets):
        return sets
    by_attribute: dict[str, list[CounterfactualSet]] = defaultdict(list)
    for s in sets:
        by_attribute[s.attribute].append(s)
    interleaved = [s for group in zip_longest(*by_attribute.values()) for s in group if s is not None]
    return interleaved[:limit]


def _bias_section(replies: list[tuple[str, str]], config: EvaluateConfig) -> tuple[dict[str, float], dict[str, Any]]:
    """Bias metrics over (where, reply) pairs and the flagged replies, highest score first."""
    from empathy.evaluate.bias import bias_flag_rate, make_bias_analyzer

    analyzer = make_bias_analyzer(config.bias_service_url)
    texts = [text for _, text in replies]
    metrics = bias_flag_rate(texts, analyzer, config.bias_threshold)
    analyses = analyzer.analyze_batch(texts)
    flagged = sorted(
        ({"where": where, "reply": text, "score": a.overall, "by_type": a.by_type, "evidence": a.evidence}
         for (where, text), a in zip(replies, analyses) if a.overall >= config.bias_threshold),
        key=lambda row: -row["score"])
    source = config.bias_service_url or "packaged bias detector"
    return metrics, {"analyzer": source, "flagged": flagged[:FLAGGED_BIAS_SHOWN], "flagged_total": len(flagged)}


def evaluate_candidate(model_dir: str, test_examples: list[dict[str, Any]], config: EvaluateConfig,
                       gates: GatesConfig | None = None, progress: bool = True) -> dict[str, Any]:
    """evaluation.json's content: model, metrics (flat, for MLflow and the gates), generation rows, fairness
    table and rows, bias, gates (both stages, when `gates` is given) and notes."""
    from empathy.evaluate.metrics import evaluate_model
    from empathy.train.model import read_base_meta

    meta = read_base_meta(model_dir)
    metrics: dict[str, float] = dict(evaluate_model(model_dir, test_examples, config))
    evaluation: dict[str, Any] = {
        "model": {"dir": str(model_dir), "base": meta.get("name") or meta.get("model_type") or ""},
        "metrics": metrics, "notes": [],
    }
    if config.generation:
        sections = _generation_sections(model_dir, config, metrics, progress)
        evaluation["notes"] += sections.pop("notes")
        evaluation |= sections
    else:
        evaluation["notes"].append("generation was switched off (evaluate.generation: false): appropriateness, "
                                   "crisis handling, output safety, fairness and bias were not measured, so their "
                                   "gates fail")
    if gates is not None:
        from empathy.evaluate.gates import check_gates

        evaluation["gates"] = {stage: check_gates(metrics, stage, gates).to_dict() for stage in PROMOTION_STAGES}
    return evaluation


def _generation_sections(model_dir: str, config: EvaluateConfig, metrics: dict[str, float],
                         progress: bool) -> dict[str, Any]:
    from empathy.evaluate import rubric
    from empathy.evaluate.fairness import counterfactual_sets, evaluate_fairness
    from empathy.evaluate.generation import counsel_chat_prompts, evaluate_generation, prompt_suite
    from empathy.generate import ChatGenerator
    from empathy.safety.risk import RiskDetector

    generator = ChatGenerator.from_dir(model_dir)

    def respond(messages: list[dict[str, str]]) -> str:
        return generator.reply(messages, max_new_tokens=config.max_new_tokens)["content"]

    prompts = prompt_suite(config.prompt_suite)
    held_out = counsel_chat_prompts(config.counsel_chat_prompts, config.counsel_chat_path)
    notes = []
    if config.counsel_chat_prompts and not held_out:
        notes.append("counsel-chat was not found (set EMPATHY_SHARED_DATA or evaluate.counsel_chat_path): only the "
                     "project's prompt suite was asked")
    generation = evaluate_generation(respond, prompts + held_out, detector=RiskDetector.load(), progress=progress)
    sets = spread_sets(counterfactual_sets(config.fairness_templates), config.fairness_max_sets)
    fairness = evaluate_fairness(respond, sets, appropriateness=rubric.appropriateness,
                                 is_crisis_response=lambda _prompt, reply: rubric.is_crisis_response(reply),
                                 progress=progress)
    replies = [(f"prompt {r['id']}", r["reply"]) for r in generation.rows] + [
        (f"fairness {r['template_id']} / {r['attribute']}={r['value']}", r["reply"]) for r in fairness.rows]
    bias_metrics, bias = _bias_section(replies, config)
    metrics.update(generation.metrics())
    metrics.update(fairness.metrics())
    metrics.update(bias_metrics)
    return {"generation": {"rows": generation.rows, "counsel_chat_prompts": len(held_out)},
            "fairness": {"table": fairness.table(), "rows": fairness.rows}, "bias": bias, "notes": notes}
