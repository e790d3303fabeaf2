"""Edge-case generation: difficult-client dialogues for each of the 25 categories, made safe to train on.

For every category and index a prompt asks the configured provider (offline
templates by default; OpenAI, Anthropic, Ollama or our own server by name)
for a client/therapist dialogue that follows the category's safety protocol.
The batch runner makes the calls resumable, concurrent and retried. Each
reply is then parsed, checked by the category validation rules (reason codes
in empathy.safety.rules), screened by the risk detector, and, when the
category is very high or the detector rates the client high or imminent,
submitted to the clinical review queue. Only items that need no review, or
whose exact content a clinician approved, are exported as training-ready
records (`edge_cases.jsonl`), which ingest reads as the `edge_cases` source.

    empathy safety generate --out-dir runs/x/edge_cases [--config configs/pipeline/demo.yaml]

Outputs in out_dir: edge_cases.jsonl (export), generated.jsonl (every parsed
item with its rule and risk results), rejected.jsonl (rule failures and
failed requests, as `Rejection`s), report.json (counts per category and
difficulty, tokens), edge_cases.png (where each category's dialogues ended), state/ (the batch runner's progress, for --resume).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from empathy.config import EdgeCasesConfig, RegistryConfig
from empathy.data.schema import Rejection, Turn
from empathy.errors import UserError
from empathy.io import write_json, write_jsonl, write_models
from empathy.llm.types import ChatRequest
from empathy.safety.categories import CATEGORIES, DIFFICULTIES, EdgeCaseCategory, get_category
from empathy.safety.review import ReviewQueue, content_sha256, queue_url
from empathy.safety.rules import check_dialogue, parse_dialogue

STAGE = "edge_cases"
PURPOSE = "edge_case_training"
TASK = "edge_case_dialogue"
ROLE_OF = {"client": ("Client", "asker"), "therapist": ("Therapist", "responder")}

# Who the client is varies with the index so that a category's dialogues are not one person repeated.
PERSONAS = (
    "a 19-year-old university student living away from home",
    "a 34-year-old parent of two young children, working shifts",
    "a 52-year-old self-employed builder who rarely talks about feelings",
    "a 67-year-old retired teacher living alone",
    "a 27-year-old nurse who has just moved to a new city",
    "a 45-year-old office manager caring for an elderly parent",
)

SYSTEM_PROMPT = (
    "You write realistic training dialogues between a client and a licensed therapist for a counselling "
    "assistant. The client presents a clinically difficult situation; the therapist responds with warmth and "
    "follows the safety protocol exactly. Rules: write only the dialogue, one turn per line, each line starting "
    "with 'Client:' or 'Therapist:'; start with the client; 8 to 12 turns. Never include method, means, dose or "
    "instruction details for self-harm, suicide or violence, even if the client asks. Never present death or "
    "self-harm as peaceful, brave or a solution. The therapist stays in role: no diagnosing, no medication "
    "advice, no personal contact or secrecy about risk, no judgement."
)


class GenerationInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    temperature: float
    max_tokens: int
    seed: int
    prompt_sha256: str
    persona: str
    focus_challenge: str
    attempts: int = 1


class RiskSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: str
    categories: list[str]
    score: float


class ReviewInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    required: bool
    reasons: list[str] = Field(default_factory=list)
    status: str = Field(description="not_required, pending, approved or rejected")
    reviewer: str | None = None
    decided_at: str | None = None
    note: str | None = None


class EdgeCaseRecord(BaseModel):
    """A training-ready generated dialogue: what it is for, how it was made, and who cleared it."""

    model_config = ConfigDict(extra="forbid")
    id: str
    purpose: str = PURPOSE
    category: str
    difficulty: str
    description: str
    expected_challenges: list[str]
    turns: list[Turn]
    provider: str
    model: str
    generation: GenerationInfo
    tokens: dict[str, int]
    risk: RiskSummary
    review: ReviewInfo
    content_sha256: str
    licence: str


def selected_categories(cfg: EdgeCasesConfig) -> list[EdgeCaseCategory]:
    names = cfg.categories if cfg.categories is not None else list(CATEGORIES)
    if not names:
        raise UserError("edge_cases.categories is empty; leave it out to generate all 25")
    return [get_category(n) for n in dict.fromkeys(names)]


def generation_messages(category: EdgeCaseCategory, persona: str, focus: str) -> list[dict[str, str]]:
    protocol = "\n".join(f"- {step}" for step in category.protocol())
    user = (
        f"Category: {category.name} (difficulty: {category.difficulty.replace('_', ' ')})\n"
        f"Situation: {category.description}\n"
        f"The client is {persona}.\n"
        f"Make the dialogue test this challenge in particular: {focus}.\n"
        f"Other challenges of this category: {'; '.join(category.expected_challenges)}.\n"
        f"The therapist must follow this protocol:\n{protocol}\n"
        "Write the dialogue now."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def build_requests(cfg: EdgeCasesConfig) -> list[ChatRequest]:
    requests = []
    for category in selected_categories(cfg):
        for index in range(cfg.per_category):
            persona = PERSONAS[index % len(PERSONAS)]
            focus = category.expected_challenges[index % len(category.expected_challenges)]
            requests.append(ChatRequest(
                id=f"{category.name}-{index:03d}",
                messages=generation_messages(category, persona, focus),
                task=TASK,
                metadata={"category": category.name, "index": index, "persona": persona, "focus_challenge": focus},
            ))
    return requests


def _prompt_sha(messages: list[dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()


def _licence(provider: str, model: str) -> str:
    if provider == "offline":
        return "CC-BY-4.0 (written by the project's offline templates)"
    return f"generated by {provider}/{model}; the provider's terms of use apply"


class _Tally:
    """Counts per category, and per difficulty, of everything that happens to an item."""

    def __init__(self) -> None:
        self.by_category: dict[str, Counter] = defaultdict(Counter)
        self.rule_codes: dict[str, Counter] = defaultdict(Counter)

    def add(self, category: str, key: str, n: int = 1) -> None:
        self.by_category[category][key] += n

    def report(self, categories: list[EdgeCaseCategory]) -> dict[str, Any]:
        keys = ("requested", "generated", "request_failed", "passed", "rule_rejected", "flagged", "approved",
                "pending", "review_rejected", "exported", "input_tokens", "output_tokens")
        per_category = {}
        per_difficulty: dict[str, Counter] = {d: Counter() for d in DIFFICULTIES}
        difficulty_codes: dict[str, Counter] = {d: Counter() for d in DIFFICULTIES}
        for cat in categories:
            counts = {k: self.by_category[cat.name][k] for k in keys}
            per_category[cat.name] = {"difficulty": cat.difficulty, **counts,
                                      "rejected_by_rule": dict(sorted(self.rule_codes[cat.name].items()))}
            per_difficulty[cat.difficulty].update(counts)
            difficulty_codes[cat.difficulty].update(self.rule_codes[cat.name])
        totals = Counter()
        for counts in per_difficulty.values():
            totals.update(counts)
        return {
            "totals": {k: totals[k] for k in keys},
            "per_difficulty": {d: {**{k: per_difficulty[d][k] for k in keys},
                                   "rejected_by_rule": dict(sorted(difficulty_codes[d].items()))}
                               for d in DIFFICULTIES if any(c.difficulty == d for c in categories)},
            "per_category": per_category,
        }


def data_report_section(report: dict[str, Any]) -> dict[str, Any]:
    """What the data report carries about edge cases: per category and difficulty, generated, passed, rejected per
    rule, flagged, approved and exported, from generation's report.json."""
    if not report.get("enabled"):
        return {"enabled": False}
    return {"enabled": True, "provider": report.get("provider"), "model": report.get("model"),
            "totals": report["totals"], "per_difficulty": report["per_difficulty"],
            "per_category": report["per_category"], "review_queue": report.get("review_queue", {})}


def generate_edge_cases(cfg: EdgeCasesConfig, out_dir: str | Path, registry: RegistryConfig | None = None,
                        review_url: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Generate, check, screen, queue for review and export; returns the report (also report.json)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    export_path = out / "edge_cases.jsonl"
    if not cfg.enabled:
        write_jsonl(export_path, [])
        report = {"enabled": False, "exported": 0}
        write_json(out / "report.json", report)
        return report

    from empathy.llm.batch import run_batch
    from empathy.llm.providers import make_provider
    from empathy.safety.risk import RiskDetector

    categories = selected_categories(cfg)
    requests = build_requests(cfg)
    provider = make_provider(cfg.provider)
    batch = run_batch(provider, requests, out / "state", cfg.batch, progress=progress)
    tally = _Tally()
    detector = RiskDetector.load()

    generated: list[dict[str, Any]] = []
    rejected: list[Rejection] = []
    candidates: list[tuple[ChatRequest, Any, Any]] = []
    for request in requests:
        category = request.metadata["category"]
        tally.add(category, "requested")
        completion = batch.completions.get(request.id)
        if completion is None:
            tally.add(category, "request_failed")
            rejected.append(Rejection(id=request.id, stage=STAGE, reason="request_failed",
                                      detail=str(batch.failed.get(request.id, "no completion"))[:500]))
            continue
        tally.add(category, "generated")
        tally.add(category, "input_tokens", completion.input_tokens)
        tally.add(category, "output_tokens", completion.output_tokens)
        dialogue = parse_dialogue(completion.text)
        rules = check_dialogue(category, dialogue)
        if not rules.passed:
            tally.add(category, "rule_rejected")
            tally.rule_codes[category].update(rules.codes)
            rejected.append(Rejection(id=request.id, stage=STAGE, reason=rules.codes[0],
                                      detail="; ".join(f"{v.code}: {v.detail}" for v in rules.violations)[:1000]))
            generated.append({"id": request.id, "category": category, "rules": [v.to_dict() for v in rules.violations],
                              "text": completion.text})
            continue
        tally.add(category, "passed")
        candidates.append((request, completion, dialogue))

    # One batched pass of the detector over every client turn of every passing dialogue.
    client_turns = [[t.text for t in d.turns if t.role == "client"] for _, _, d in candidates]
    flat = [text for turns in client_turns for text in turns]
    assessments = iter(detector.assess_many(flat)) if flat else iter(())

    from empathy.safety.risk import LEVEL_INDEX

    exported: list[EdgeCaseRecord] = []
    with ReviewQueue(queue_url(review_url, cfg.review.url)) as queue:
        for (request, completion, dialogue), turns in zip(candidates, client_turns):
            category = get_category(request.metadata["category"])
            found = [next(assessments) for _ in turns]
            worst = max(found, key=lambda a: (LEVEL_INDEX[a.risk_level], a.score))
            risk = RiskSummary(level=worst.risk_level, score=round(float(worst.score), 4),
                               categories=sorted({c for a in found for c in a.categories}))
            reasons = (["very_high_category"] if category.requires_review else []) + (
                [f"risk_{risk.level}"] if any(a.requires_review for a in found) else [])
            record = EdgeCaseRecord(
                id=request.id, category=category.name, difficulty=category.difficulty,
                description=category.description, expected_challenges=list(category.expected_challenges),
                turns=[Turn(speaker=ROLE_OF[t.role][0], role=ROLE_OF[t.role][1], text=t.text) for t in dialogue.turns],
                provider=completion.provider,
                model=completion.model,
                generation=GenerationInfo(temperature=cfg.provider.temperature, max_tokens=cfg.provider.max_tokens,
                                          seed=cfg.provider.seed, prompt_sha256=_prompt_sha(request.messages),
                                          persona=request.metadata["persona"],
                                          focus_challenge=request.metadata["focus_challenge"],
                                          attempts=completion.attempts),
                tokens={"input": completion.input_tokens,
                        "output": completion.output_tokens},
                risk=risk, review=ReviewInfo(required=bool(reasons), reasons=reasons,
                                             status="pending" if reasons else "not_required"),
                content_sha256="", licence=_licence(provider.name, provider.model),
            )
            record.content_sha256 = content_sha256(record.model_dump(mode="json"))
            entry = {"id": record.id, "category": category.name, "rules": [], "risk": risk.model_dump(),
                     "review_reasons": reasons}
            if reasons:
                tally.add(category.name, "flagged")
                item = queue.submit(record.model_dump(mode="json"), risk_level=risk.level,
                                    risk_categories=risk.categories, flag_reasons=reasons)
                entry["review_status"] = item.status
                if item.status != "approved":  # submit() put changed content back to pending
                    tally.add(category.name, "pending" if item.status == "pending" else "review_rejected")
                    generated.append(entry)
                    continue
                tally.add(category.name, "approved")
                record.review = ReviewInfo(required=True, reasons=reasons, status="approved", reviewer=item.reviewer,
                                           decided_at=item.decided_at, note=item.note)
            generated.append(entry)
            tally.add(category.name, "exported")
            exported.append(record)
        queue_counts = queue.counts()

    write_models(export_path, exported)
    write_jsonl(out / "generated.jsonl", generated)
    write_models(out / "rejected.jsonl", rejected)
    report = {
        "enabled": True,
        "provider": provider.name, "model": provider.model,
        **tally.report(categories),
        "batch": dict(batch.totals),
        "review_queue": queue_counts,
        "exported": len(exported),
    }
    t = report["totals"]
    accounted = t["request_failed"] + t["rule_rejected"] + t["exported"] + t["pending"] + t["review_rejected"]
    if accounted != t["requested"]:
        raise RuntimeError(f"edge-case accounting: {t['requested']} requested but {accounted} accounted for")
    write_json(out / "report.json", report)
    from empathy.plots import plot_edge_cases

    plot_edge_cases(report, out / "edge_cases.png")
    if registry is not None:
        log_report(report, registry, out)
    return report


def flat_metrics(report: dict[str, Any]) -> dict[str, float]:
    """report.json as MLflow metric names: edge_cases.<difficulty|category>.<count>[.<rule>]."""
    metrics: dict[str, float] = {}
    for scope, table in (("difficulty", report.get("per_difficulty", {})), ("category", report.get("per_category", {}))):
        for name, counts in table.items():
            for key, value in counts.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    metrics[f"edge_cases.{scope}.{name}.{key}"] = value
            for code, n in counts.get("rejected_by_rule", {}).items():
                metrics[f"edge_cases.{scope}.{name}.rejected_by_rule.{code}"] = n
    for key, value in report.get("totals", {}).items():
        metrics[f"edge_cases.total.{key}"] = value
    return metrics


def log_report(report: dict[str, Any], registry: RegistryConfig, out_dir: Path) -> str:
    import mlflow

    from empathy.registry import log_flat, tracked_run

    with tracked_run(registry, run_name="edge-cases", tags={"stage": STAGE}) as run:
        mlflow.log_params({"provider": report["provider"], "model": report["model"]})
        log_flat(flat_metrics(report))
        for name in ("report.json", "edge_cases.png"):
            mlflow.log_artifact(str(out_dir / name), "edge_cases")
    return run.info.run_id
