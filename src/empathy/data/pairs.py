"""Q/A pairs: questions extracted from the content, contextual ones generated.

Extracted (question_origin "content"): a real question from the content and the reply that follows, with the
preceding turns as chat context:
- sessions (dialogue): a substantive client turn -> the therapist turn after it;
- interviews and podcasts: an asker turn that holds a question -> the responder turn after it;
- Q&A: the question -> each of its answers.

Contextual: segments with no usable question get a question that the segment answers:
- running text (monologues, speeches, knowledge-base entries) cut into segments of about `segment_words`
  words at paragraph boundaries;
- responder turns of a conversation that no extracted pair used (a therapist's explanation after "Yeah.").
The question is deterministic by default: for a knowledge-base entry it asks about the entry's title
("title"); otherwise it is the nearest of a fixed list of counselling themes (by MiniLM embedding) in a
template chosen by a hash of the segment id ("template"). With `pairs.question_provider` set, an LLM
provider (empathy.llm) writes it ("llm"); a request that fails falls back to the template and says so.

    from empathy.data.pairs import make_pairs
    result = make_pairs(records, PairsConfig())
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

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

TITLE_TEMPLATES = (
    "What is {title}?",
    "Can you explain {title}?",
    "How does {title} work, and how can it help?",
    "What should I know about {title}?",
)
BACKCHANNEL = re.compile(r"^(?:(?:yeah|yes|no|okay|ok|mm+-?hmm+|uh-?huh|right|sure|i see|hmm+|um+|uh+|well|so|oh|"
                         r"thanks?|thank you)[\s,.!?-]*)+$", re.I)
QUESTION_PROMPT = ("Write the one question a client might ask a counsellor that the passage below answers. "
                   "Reply with the question only, in the client's voice, at most 25 words.")

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
            "questions_by_origin": dict(sorted(Counter(p.question_origin for p in self.pairs).items())),
        }


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_RE.findall(text) if s.strip()]


def has_question(text: str, min_words: int) -> bool:
    return any(s.endswith("?") and len(s.split()) >= min_words for s in sentences(text))


def template_questions(segments: list[tuple[str, str]]) -> list[str]:
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


def title_question(seg_id: str, title: str) -> str:
    return TITLE_TEMPLATES[int(stable_hash(seg_id), 16) % len(TITLE_TEMPLATES)].format(title=title.strip().rstrip(".?"))


def llm_questions(segments: list[tuple[str, str]], config: PairsConfig, state_dir: str | Path,
                  progress: bool = False) -> dict[str, str]:
    """Questions written by the configured provider, by segment id; failed requests are left out (resumable)."""
    from empathy.llm.batch import run_batch
    from empathy.llm.providers import make_provider
    from empathy.llm.types import ChatRequest

    assert config.question_provider is not None
    requests = [ChatRequest(id=seg_id, task="contextual_question",
                            messages=[{"role": "system", "content": QUESTION_PROMPT}, {"role": "user", "content": text}])
                for seg_id, text in segments]
    result = run_batch(make_provider(config.question_provider), requests, Path(state_dir), config.question_batch,
                       progress=progress)
    out = {}
    for seg_id, record in result.completions.items():
        question = " ".join(record.text.split()).strip().strip('"')
        if 3 <= len(question.split()) <= 60:
            out[seg_id] = question if question.endswith("?") else question + "?"
    return out


def usable_prompt(record: Record, turn: Turn, min_words: int) -> bool:
    """Whether an asker turn can stand as the question of an extracted pair."""
    if record.content_type == "qa":
        return bool(turn.text.strip())
    if record.content_type == "dialogue":
        # a client's turn is what the therapist responds to, question mark or not; "Yeah." is not
        return len(turn.text.split()) >= min_words and not BACKCHANNEL.match(turn.text.strip())
    return has_question(turn.text, min_words)


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


def _pair(record: Record, pair_id: str, pair_type: str, question: str, answer: str, context: list[Turn],
          origin: str) -> QAPair:
    return QAPair(id=pair_id, record_id=record.id, pair_type=pair_type, question=question, answer=answer,
                  context=context, content_type=record.content_type, source=record.source, topic=record.topic,
                  question_origin=origin, meta=dict(record.meta))


def _extracted_pairs(record: Record, config: PairsConfig) -> tuple[list[QAPair], set[int]]:
    """Extracted pairs and the indexes of the responder turns they used."""
    pairs, used = [], set()
    turns = record.turns
    for i, asked in enumerate(turns):
        if asked.role != "asker" or not usable_prompt(record, asked, config.min_question_words):
            continue
        context: list[Turn] = turns[max(0, i - config.context_turns): i] if config.context_turns else []
        j = i + 1
        while j < len(turns) and turns[j].role == "responder":
            reply = turns[j]
            if len(reply.text.split()) >= config.min_answer_words:
                pairs.append(_pair(record, f"{record.id}#t{j}", "extracted", asked.text, reply.text, context, "content"))
                used.add(j)
            if record.content_type != "qa":
                break   # in a conversation only the reply right after the question answers it
            j += 1
    return pairs, used


def _contextual_segments(record: Record, used: set[int], config: PairsConfig) -> list[tuple[str, str]]:
    if record.turns:
        return [(f"{record.id}#c{j}", t.text) for j, t in enumerate(record.turns)
                if t.role == "responder" and j not in used and len(t.text.split()) >= config.contextual_min_words]
    return [(f"{record.id}#s{n}", segment) for n, segment in enumerate(segment_text(record.text or "", config.segment_words))
            if len(segment.split()) >= config.min_answer_words]


def make_pairs(records: list[Record], config: PairsConfig, state_dir: str | Path | None = None,
               progress: bool = False) -> PairsResult:
    """Pairs for every record; a record that yields none is rejected with the reason.

    state_dir: where the LLM question batch keeps its progress (needed only with a question_provider).
    """
    per_record: list[tuple[Record, list[QAPair], list[tuple[str, str]]]] = []
    for record in records:
        extracted, used = _extracted_pairs(record, config) if record.turns else ([], set())
        per_record.append((record, extracted, _contextual_segments(record, used, config)))

    segments = [seg for _, _, segs in per_record for seg in segs]
    titles = {seg_id: record.topic for record, _, segs in per_record for seg_id, _ in segs
              if record.source.kind == "knowledge_base" and record.topic}
    written: dict[str, str] = {}
    if config.question_provider is not None and segments:
        if state_dir is None:
            raise ValueError("make_pairs: an LLM question provider needs a state_dir for its resumable batch")
        written = llm_questions(segments, config, state_dir, progress)
    untitled = [seg for seg in segments if seg[0] not in written and seg[0] not in titles]
    templated = dict(zip((seg_id for seg_id, _ in untitled), template_questions(untitled)))

    pairs: list[QAPair] = []
    rejected: list[Rejection] = []
    for record, extracted, segs in per_record:
        got = list(extracted)
        for seg_id, text in segs:
            if seg_id in written:
                question, origin = written[seg_id], "llm"
            elif seg_id in titles:
                question, origin = title_question(seg_id, titles[seg_id]), "title"
            else:
                question, origin = templated[seg_id], "template"
            got.append(_pair(record, seg_id, "contextual", question, text, [], origin))
        if got:
            pairs.extend(got)
        else:
            why = "no usable question with a substantive reply, and no passage long enough for a contextual question"
            rejected.append(Rejection(id=record.id, stage=STAGE, reason="no_usable_pair", detail=why, source=record.source))
    return PairsResult(pairs=pairs, rejected=rejected, records_in=len(records))
