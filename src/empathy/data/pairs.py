"""Q/A pairs: questions extracted from the content, contextual ones generated.

Extracted: an asker turn that holds a real question (client -> therapist in a
session, interviewer or host -> guest) paired with the responder turn that
follows, with the preceding turns as chat context. Contextual: running text
without usable questions (monologues, speeches) is cut into segments of about
`segment_words` words at paragraph boundaries, and each segment gets a
question it answers: the nearest of a fixed list of counselling themes (by
MiniLM embedding) in a template chosen by a hash of the segment id, so the
same corpus always gives the same pairs.

    from empathy.data.pairs import make_pairs
    result = make_pairs(records, PairsConfig())
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from empathy.config import PairsConfig
from empathy.data.schema import QAPair, Record, Rejection, Turn
from empathy.embeddings import encode
from empathy.io import stable_hash

STAGE = "pairs"
SENTENCE_RE = re.compile(r"[^.!?]+[.!?]+|[^.!?]+$")

# Themes a contextual question can be about. The segment's theme is the one
# whose MiniLM embedding is closest to the segment's: deterministic, and the
# question stays on the segment's subject (key-word templates produced
# questions like "How can I cope with old and gave?").
THEMES = (
    "anxiety and constant worry", "panic attacks", "trouble sleeping", "grief after losing someone",
    "burnout at work", "stress at work", "setting boundaries", "saying no without guilt", "loneliness",
    "feeling disconnected from friends", "self-compassion", "harsh self-criticism", "low mood", "motivation",
    "procrastination", "anger", "parenting stress", "relationship conflict", "communication with a partner",
    "family tension", "starting over after a move", "big life changes", "resilience after setbacks",
    "asking for help", "going to therapy for the first time", "looking after your mental health",
    "community and belonging", "mindfulness and staying present", "healthy routines", "exam stress",
    "confidence and self-esteem", "perfectionism", "caring for someone else", "work-life balance",
)

TEMPLATES = (
    "What can help with {theme}?",
    "How can I cope with {theme}?",
    "Can you explain {theme} and what to do about it?",
    "What would you say to someone dealing with {theme}?",
    "How should I think about {theme}?",
    "What are small steps I can take with {theme}?",
)


@dataclass
class PairsResult:
    pairs: list[QAPair]
    rejected: list[Rejection]
    records_in: int

    @property
    def counts(self) -> dict[str, int]:
        extracted = sum(p.pair_type == "extracted" for p in self.pairs)
        return {
            "records_in": self.records_in,
            "pairs": len(self.pairs),
            "extracted": extracted,
            "contextual": len(self.pairs) - extracted,
            "records_without_pair": len(self.rejected),
        }


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_RE.findall(text) if s.strip()]


def has_question(text: str, min_words: int) -> bool:
    return any(s.endswith("?") and len(s.split()) >= min_words for s in sentences(text))


def contextual_questions(segments: list[tuple[str, str]]) -> list[str]:
    """A question for each (segment_id, text): its nearest theme in a seeded template."""
    if not segments:
        return []
    theme_vectors = encode(list(THEMES))
    segment_vectors = encode([text for _, text in segments])
    nearest = (segment_vectors @ theme_vectors.T).argmax(axis=1)
    return [
        TEMPLATES[int(stable_hash(seg_id), 16) % len(TEMPLATES)].format(theme=THEMES[int(k)])
        for (seg_id, _), k in zip(segments, nearest)
    ]


def segment_text(text: str, target_words: int) -> list[str]:
    """Group paragraphs into segments of about target_words; long paragraphs stand alone."""
    segments: list[str] = []
    current: list[str] = []
    count = 0
    for para in (p for p in text.split("\n\n") if p.strip()):
        words = len(para.split())
        if current and count + words > target_words * 1.5:
            segments.append(" ".join(current))
            current, count = [], 0
        current.append(para)
        count += words
        if count >= target_words:
            segments.append(" ".join(current))
            current, count = [], 0
    if current:
        if segments and count < target_words / 3:
            segments[-1] += " " + " ".join(current)
        else:
            segments.append(" ".join(current))
    return segments


def _extracted_pairs(record: Record, config: PairsConfig) -> list[QAPair]:
    pairs = []
    turns = record.turns
    for i in range(len(turns) - 1):
        asked, reply = turns[i], turns[i + 1]
        if asked.role != "asker" or reply.role != "responder":
            continue
        if not has_question(asked.text, config.min_question_words) and record.content_type != "qa":
            continue
        if len(reply.text.split()) < config.min_answer_words:
            continue
        context: list[Turn] = turns[max(0, i - config.context_turns) : i] if config.context_turns else []
        pairs.append(
            QAPair(
                id=f"{record.id}#t{i}",
                record_id=record.id,
                pair_type="extracted",
                question=asked.text,
                answer=reply.text,
                context=context,
                content_type=record.content_type,
                source=record.source,
                topic=record.topic,
            )
        )
    return pairs


def _contextual_pairs(record: Record, config: PairsConfig) -> list[QAPair]:
    segments = [
        (f"{record.id}#s{n}", segment)
        for n, segment in enumerate(segment_text(record.text or "", config.segment_words))
        if len(segment.split()) >= config.min_answer_words
    ]
    pairs = []
    for (pair_id, segment), question in zip(segments, contextual_questions(segments)):
        pairs.append(
            QAPair(
                id=pair_id,
                record_id=record.id,
                pair_type="contextual",
                question=question,
                answer=segment,
                content_type=record.content_type,
                source=record.source,
                topic=record.topic,
            )
        )
    return pairs


def make_pairs(records: list[Record], config: PairsConfig) -> PairsResult:
    """Pairs for every record; a record that yields none is rejected with the reason."""
    pairs: list[QAPair] = []
    rejected: list[Rejection] = []
    for record in records:
        got = _extracted_pairs(record, config) if record.turns else _contextual_pairs(record, config)
        if got:
            pairs.extend(got)
        else:
            why = "no asker question followed by a substantive reply" if record.turns else "no segment long enough"
            rejected.append(Rejection(id=record.id, stage=STAGE, reason="no_usable_pair", detail=why, source=record.source))
    return PairsResult(pairs=pairs, rejected=rejected, records_in=len(records))
