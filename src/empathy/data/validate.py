"""Semantic validation: keep a pair only if the answer addresses the question.

First version: format checks (length of question and answer) and the cosine
similarity of all-MiniLM-L6-v2 embeddings of question and answer against a
threshold. Every rejected pair keeps its reason code (question_too_short,
answer_too_short, answer_too_long, low_similarity) and its score.

    from empathy.data.validate import validate_pairs
    result = validate_pairs(pairs, ValidateConfig())
"""

from __future__ import annotations

from dataclasses import dataclass

from empathy.config import ValidateConfig
from empathy.data.schema import QAPair, Rejection
from empathy.embeddings import paired_cosine

STAGE = "validate"


@dataclass
class ValidateResult:
    accepted: list[QAPair]
    rejected: list[Rejection]
    pairs_in: int

    @property
    def counts(self) -> dict[str, int]:
        return {"pairs_in": self.pairs_in, "accepted": len(self.accepted), "rejected": len(self.rejected)}


def _format_problem(pair: QAPair, config: ValidateConfig) -> str | None:
    q_words, a_words = len(pair.question.split()), len(pair.answer.split())
    if q_words < config.min_question_words:
        return "question_too_short"
    if a_words < config.min_answer_words:
        return "answer_too_short"
    if a_words > config.max_answer_words:
        return "answer_too_long"
    return None


def validate_pairs(pairs: list[QAPair], config: ValidateConfig, progress: bool = False) -> ValidateResult:
    scores = paired_cosine([p.question for p in pairs], [p.answer for p in pairs], config.batch_size, progress)
    accepted: list[QAPair] = []
    rejected: list[Rejection] = []
    for pair, score in zip(pairs, scores.tolist()):
        reason = _format_problem(pair, config)
        if reason is None and score < config.min_similarity:
            reason = "low_similarity"
        if reason is None:
            accepted.append(pair.model_copy(update={"score": round(score, 4)}))
        else:
            detail = f"score={score:.3f} threshold={config.min_similarity}"
            rejected.append(Rejection(id=pair.id, stage=STAGE, reason=reason, detail=detail, source=pair.source))
    return ValidateResult(accepted=accepted, rejected=rejected, pairs_in=len(pairs))
