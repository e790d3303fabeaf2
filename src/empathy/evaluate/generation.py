"""Generation-based evaluation: ask the model the fixed prompt suite and score what it says.

Perplexity and accuracy say how well a model fits held-out text; they do not say whether its replies are ones a
counsellor would give. This module asks the model every prompt of prompt_suite.yaml (general counselling prompts
and crisis prompts written for this project) plus held-out counsel-chat questions from ../shared/data where the
file is present, and scores each reply three ways:

    appropriateness   the rubric of empathy.evaluate.rubric (validation, open questions, no diagnosing or
                      prescribing, no harmful advice, boundaries, readability), over general and counsel-chat prompts
    crisis handling   for crisis prompts: acknowledges, assesses safety, gives resources, no method details
    output safety     the output filter of empathy.safety.output_filter with the risk detector on the reply itself;
                      a blocked reply is `unsafe`, over all prompts

    from empathy.evaluate.generation import prompt_suite, counsel_chat_prompts, evaluate_generation
    prompts = prompt_suite() + counsel_chat_prompts(50)
    result = evaluate_generation(respond, prompts)        # respond(messages) -> reply text, as in fairness
    result.metrics()   # appropriateness_mean, crisis_handling_rate, unsafe_output_rate, ...
    result.rows        # one dict per prompt: reply, criteria, notes, crisis checks, filter reasons

Metrics whose prompt group is absent (no crisis prompts, say) are left out rather than reported as 0.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import TYPE_CHECKING, Any

from empathy.errors import UserError
from empathy.evaluate.fairness import Respond
from empathy.evaluate.rubric import CRITERIA, score_crisis, score_replies
from empathy.io import id_entries, read_yaml
from empathy.safety.output_filter import filter_many

if TYPE_CHECKING:
    from empathy.safety.risk import RiskDetector

DEFAULT_SUITE = Path(__file__).with_name("prompt_suite.yaml")
SUITE_KINDS = ("general", "crisis")
KINDS = SUITE_KINDS + ("counsel_chat",)
RUBRIC_KINDS = ("general", "counsel_chat")    # the kinds scored for appropriateness
KNOWN_PROBES = set(CRITERIA) | {"acknowledges", "assesses_safety", "gives_resources", "no_method_details"}


@dataclass(frozen=True)
class EvalPrompt:
    id: str
    kind: str
    category: str
    text: str
    probes: tuple[str, ...] = ()


def _fail(path: Path, where: str, problem: str) -> UserError:
    return UserError(f"prompt suite {path}, {where}: {problem}")


def prompt_suite(path: str | Path | None = None) -> list[EvalPrompt]:
    """Every prompt of the suite file, validated; errors name the file and the entry."""
    p = Path(path) if path is not None else DEFAULT_SUITE
    entries = read_yaml(p, "prompt suite").get("prompts")
    if not isinstance(entries, list) or not entries:
        raise _fail(p, "prompts", "expected a non-empty list of {id, kind, category, text, probes?}")
    out: list[EvalPrompt] = []
    for pid, e, where in id_entries(entries, "prompts", {"id", "kind", "category", "text", "probes"},
                                    lambda where, problem: _fail(p, where, problem)):
        if e.get("kind") not in SUITE_KINDS:
            raise _fail(p, where, f"kind {e.get('kind')!r}, expected one of {list(SUITE_KINDS)}")
        for key in ("category", "text"):
            if not isinstance(e.get(key), str) or not e[key].strip():
                raise _fail(p, where, f"missing or empty \"{key}\"")
        probes = e.get("probes", [])
        if not isinstance(probes, list) or not set(probes) <= KNOWN_PROBES:
            raise _fail(p, where, f"\"probes\" must be a list drawn from {sorted(KNOWN_PROBES)}")
        out.append(EvalPrompt(pid, e["kind"], e["category"].strip(), e["text"].strip(), tuple(probes)))
    return out


def counsel_chat_prompts(limit: int, explicit: str | Path | None = None) -> list[EvalPrompt]:
    """Up to `limit` counsel-chat questions of the held-out test split, the same ones on every run.

    The choice is by a hash of the question id, not the file order, so it is spread over topics and does not
    change when rows are re-sorted. [] when counsel_chat.csv is not found ($EMPATHY_SHARED_DATA, ../shared/data).
    """
    from empathy.data.shared_sets import COUNSEL_CHAT, counsel_chat_questions, find_shared_file

    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise UserError(f"counsel_chat_prompts: limit must be a whole number >= 0, got {limit!r}")
    path = find_shared_file(COUNSEL_CHAT, explicit)
    if path is None or limit == 0:
        return []
    test = [q for q in counsel_chat_questions(path) if q["split"] == "test"]
    test.sort(key=lambda q: hashlib.sha256(q["id"].encode("utf-8")).hexdigest())
    return [EvalPrompt(q["id"], "counsel_chat", q["topic"] or "unknown", q["text"]) for q in test[:limit]]


def _rate(flags: list[bool]) -> float:
    return sum(flags) / len(flags)


@dataclass
class GenerationResult:
    rows: list[dict[str, Any]] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {"generation_prompts": float(len(self.rows))}
        rubric_rows = [r for r in self.rows if r["kind"] in RUBRIC_KINDS]
        if rubric_rows:
            out["appropriateness_mean"] = mean(r["appropriateness"] for r in rubric_rows)
            out["appropriateness_pass_rate"] = _rate([r["passed"] for r in rubric_rows])
            for c in CRITERIA:
                out[f"appropriateness_{c}"] = mean(r["criteria"][c] for r in rubric_rows)
        crisis = [r["crisis"] for r in self.rows if r["kind"] == "crisis"]
        if crisis:
            out["crisis_handling_rate"] = _rate([c["handled"] for c in crisis])
            out["crisis_acknowledges_rate"] = _rate([c["acknowledges"] for c in crisis])
            out["crisis_assesses_safety_rate"] = _rate([c["assesses_safety"] for c in crisis])
            out["crisis_resources_rate"] = _rate([c["gives_resources"] for c in crisis])
            out["crisis_method_detail_rate"] = _rate([not c["no_method_details"] for c in crisis])
        if self.rows:
            out["unsafe_output_rate"] = _rate([r["unsafe"] for r in self.rows])
        return out


def evaluate_generation(respond: Respond, prompts: list[EvalPrompt],
                        detector: "RiskDetector | None" = None, progress: bool = True) -> GenerationResult:
    """Ask `respond` every prompt and score the replies; `detector` defaults to the packaged risk detector.

    `respond(messages)` is the model, asked one user message per prompt (the same callable fairness asks).

    A reply of None or "" is scored as given (it fails the rubric and the crisis checks); anything else that is
    not a string is the responder's bug and raises TypeError naming the prompt.
    """
    from tqdm.auto import tqdm

    for i, p in enumerate(prompts):
        if not isinstance(p, EvalPrompt) or p.kind not in KINDS:
            raise UserError(f"evaluate_generation: prompt {i} must be an EvalPrompt of kind {list(KINDS)}, got {p!r}")
    replies: list[str] = []
    for p in tqdm(prompts, desc="generate", disable=not progress, unit="prompt"):
        reply = respond([{"role": "user", "content": p.text}])
        if reply is None:
            reply = ""
        if not isinstance(reply, str):
            raise TypeError(f"evaluate_generation: the reply to prompt {p.id!r} is {type(reply).__name__}, expected str")
        replies.append(reply)
    if detector is None and prompts:
        from empathy.safety.risk import RiskDetector
        detector = RiskDetector.load()

    scores = score_replies([(p.text, r) for p, r in zip(prompts, replies)])
    filtered = filter_many(replies, [p.text for p in prompts], detector)
    rows = []
    for p, reply, s, f in zip(prompts, replies, scores, filtered):
        row: dict[str, Any] = {"id": p.id, "kind": p.kind, "category": p.category, "prompt": p.text, "reply": reply,
                               "appropriateness": s.mean, "criteria": dict(s.criteria), "notes": list(s.notes),
                               "passed": s.passed, "output_filter": "; ".join(f.reasons), "unsafe": not f.allowed}
        if p.kind == "crisis":
            row["crisis"] = score_crisis(reply).to_dict()
        rows.append(row)
    return GenerationResult(rows)
