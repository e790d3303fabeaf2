"""The record and pair schemas every source is loaded into.

A record is one input item (a transcript, one Q&A entry) with its source
attribution; a pair is one question/answer with the record it came from.
Everything that leaves a stage without going on is written to a rejected
file as a `Rejection`, so every input item can be accounted for.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ContentType = Literal["dialogue", "interview", "podcast", "monologue", "speech", "qa"]
Role = Literal["asker", "responder", "narrator"]
PairType = Literal["extracted", "contextual"]
QuestionOrigin = Literal["content", "title", "template", "llm"]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Attribution(_Row):
    dataset: str
    source_id: str
    kind: str
    title: str | None = None
    url: str | None = None
    timestamp: str | None = None
    licence: str
    path: str | None = None


class Turn(_Row):
    speaker: str
    role: Role
    text: str
    meta: dict[str, str] = Field(default_factory=dict, description="per-turn source details: timestamp, strategy")


class Record(_Row):
    id: str
    content_type: ContentType
    source: Attribution
    turns: list[Turn] = Field(default_factory=list, description="speaker turns (dialogue, interview, podcast, qa)")
    text: str | None = Field(None, description="unlabelled running text (monologue, speech)")
    topic: str | None = None
    items: int = Field(1, ge=1, description="input items (rows, lines) the record was built from, for the accounting")
    meta: dict[str, str] = Field(default_factory=dict, description="source details kept for the export's metadata")


class QAPair(_Row):
    id: str
    record_id: str
    pair_type: PairType
    question: str
    answer: str
    context: list[Turn] = Field(default_factory=list)
    content_type: ContentType
    source: Attribution
    topic: str | None = None
    question_origin: QuestionOrigin = Field("content", description="content: from the source; title, template, "
                                            "llm: generated for a contextual pair")
    meta: dict[str, str] = Field(default_factory=dict, description="the record's source details")
    score: float | None = Field(None, description="semantic validation score, set by the validate stage")
    deid: dict[str, int] = Field(default_factory=dict, description="identifiers replaced, by type")
    risk: dict[str, Any] | None = Field(None, description="risk screen: level, categories, review status")


class Rejection(_Row):
    id: str
    stage: str
    reason: str
    detail: str = ""
    source: Attribution | None = None
