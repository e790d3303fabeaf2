"""The record and pair schemas every source is loaded into.

A record is one input item (a transcript, one Q&A entry) with its source
attribution; a pair is one question/answer with the record it came from.
Everything that leaves a stage without going on is written to a rejected
file as a `Rejection`, so every input item can be accounted for.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ContentType = Literal["dialogue", "interview", "podcast", "monologue", "speech", "qa"]
Role = Literal["asker", "responder", "narrator"]
PairType = Literal["extracted", "contextual"]


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


class Record(_Row):
    id: str
    content_type: ContentType
    source: Attribution
    turns: list[Turn] = Field(default_factory=list, description="speaker turns (dialogue, interview, podcast, qa)")
    text: str | None = Field(None, description="unlabelled running text (monologue, speech)")
    topic: str | None = None


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
    score: float | None = Field(None, description="semantic validation score, set by the validate stage")


class Rejection(_Row):
    id: str
    stage: str
    reason: str
    detail: str = ""
    source: Attribution | None = None
