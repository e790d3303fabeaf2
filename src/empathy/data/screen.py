"""The safety screen of validated pairs: de-identification, then the risk detector, then the review gate.

Every pair's text (context, question, answer) is de-identified first (`empathy.data.deid`: the identifiers of
HIPAA's Safe Harbor list become typed placeholders, counted per type). The clinical risk detector
(`empathy.safety.risk`) then reads the de-identified pair; a pair rated high or imminent goes to the clinical
review queue (`empathy.safety.review`, the same queue as edge cases) and is exported only once a clinician has
approved exactly that text. So every pair leaves this stage in one of three places:

- passed: not high risk, or approved by a reviewer (its `risk.review` says which);
- held: waiting in the review queue (pending), counted in the report, not exported;
- rejected: a reviewer rejected it (reason `review_rejected`).

    from empathy.data.screen import screen_pairs
    result = screen_pairs(pairs, ScreenConfig(), review_url="sqlite:///runs/review.db")
    empathy review list --url sqlite:///runs/review.db      # then approve or reject, and run again
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from empathy.config import ScreenConfig
from empathy.data.schema import QAPair, Rejection, Turn

STAGE = "screen"
HIGH_RISK = ("high", "imminent")


@dataclass
class ScreenResult:
    passed: list[QAPair]
    held: list[QAPair]
    rejected: list[Rejection]
    pairs_in: int
    identifiers: Counter = field(default_factory=Counter)

    @property
    def counts(self) -> dict[str, Any]:
        levels = Counter((p.risk or {}).get("level", "unscreened") for p in self.passed + self.held)
        return {"pairs_in": self.pairs_in, "passed": len(self.passed), "held_for_review": len(self.held),
                "review_rejected": len(self.rejected),
                "approved_high_risk": sum((p.risk or {}).get("review") == "approved" for p in self.passed),
                "identifiers_replaced": dict(sorted(self.identifiers.items())),
                "risk_levels": dict(sorted(levels.items()))}


def pair_text(pair: QAPair) -> str:
    """What the detector reads: the conversation up to and including the answer."""
    return "\n".join([*(t.text for t in pair.context), pair.question, pair.answer])


def deidentify_pairs(pairs: list[QAPair], progress: bool = False) -> tuple[list[QAPair], Counter]:
    """Each pair with its context, question and answer de-identified, and the identifiers counted by type."""
    from empathy.data.deid import deidentify_many

    texts: list[str] = []
    for p in pairs:
        texts += [t.text for t in p.context] + [p.question, p.answer]
    results = iter(deidentify_many(texts, progress=progress))
    out, total = [], Counter()
    for p in pairs:
        counts: Counter = Counter()
        context = []
        for t in p.context:
            r = next(results)
            counts.update(r.counts)
            context.append(Turn(speaker=t.speaker, role=t.role, text=r.text, meta=t.meta))
        q, a = next(results), next(results)
        counts.update(q.counts)
        counts.update(a.counts)
        total.update(counts)
        out.append(p.model_copy(update={"context": context, "question": q.text, "answer": a.text,
                                        "deid": dict(sorted(counts.items()))}))
    return out, total


def review_record(pair: QAPair) -> dict[str, Any]:
    """The pair as the review queue stores it: what a clinician reads and approves (de-identified)."""
    categories = (pair.risk or {}).get("categories") or ["unspecified"]
    # the queue binds a decision to "turns" and "category" (safety.review.content_sha256): the whole pair goes in
    turns = [{"speaker": t.speaker, "role": t.role, "text": t.text} for t in pair.context]
    turns += [{"speaker": "client", "role": "asker", "text": pair.question},
              {"speaker": "counsellor", "role": "responder", "text": pair.answer}]
    return {"id": f"pair:{pair.id}", "category": f"data:{categories[0]}", "difficulty": "data",
            "source": pair.source.model_dump(mode="json"), "content_type": pair.content_type,
            "pair_type": pair.pair_type, "turns": turns}


def screen_pairs(pairs: list[QAPair], config: ScreenConfig, review_url: str | None = None,
                 progress: bool = False) -> ScreenResult:
    """De-identify, risk-screen and review-gate; see the module docstring."""
    from empathy.safety.review import ReviewQueue, queue_url

    identifiers: Counter = Counter()
    if config.deidentify:
        pairs, identifiers = deidentify_pairs(pairs, progress)
    if not config.risk_screen or not pairs:
        return ScreenResult(passed=list(pairs), held=[], rejected=[], pairs_in=len(pairs), identifiers=identifiers)

    from empathy.safety.risk import RiskDetector

    assessments = RiskDetector.load().assess_many([pair_text(p) for p in pairs], batch_size=config.batch_size)
    passed: list[QAPair] = []
    held: list[QAPair] = []
    rejected: list[Rejection] = []
    url = queue_url(review_url, config.review.url)
    with ReviewQueue(url) as queue:
        for pair, a in zip(pairs, assessments):
            risk = {"level": a.risk_level, "categories": list(a.categories), "score": round(a.score, 4),
                    "review": "not_required"}
            pair = pair.model_copy(update={"risk": risk})
            if a.risk_level not in HIGH_RISK:
                passed.append(pair)
                continue
            record = review_record(pair)
            item = queue.submit(record, risk_level=a.risk_level, risk_categories=list(a.categories),
                                flag_reasons=[f"risk_{a.risk_level}"])
            risk["review"] = item.status
            if item.status == "approved" and queue.is_approved(record["id"], item.content_sha256):
                risk.update(reviewer=item.reviewer or "", decided_at=item.decided_at or "")
                passed.append(pair)
            elif item.status == "rejected":
                rejected.append(Rejection(id=pair.id, stage=STAGE, reason="review_rejected",
                                          detail=f"clinical review rejected it: {item.note or 'no note'}",
                                          source=pair.source))
            else:
                held.append(pair)
    return ScreenResult(passed=passed, held=held, rejected=rejected, pairs_in=len(pairs), identifiers=identifiers)
