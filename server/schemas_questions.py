"""Request and response bodies of the question queue API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from server.schemas import Strict
from server.validation import Id, Line, Number, Text

Action = Literal["approve", "reject", "edit", "merge", "pin", "unpin", "reorder", "answering", "answered", "reopen"]
Reason = Literal["off_topic", "duplicate", "inappropriate", "spam", "answered_elsewhere", "unclear", "other"]


class QuestionCreate(Strict):
    # The domain enforces the event's length rules; this is only the edge's mechanical cap.
    text: Text = Field(min_length=1, max_length=2000)
    anonymous: bool = False
    topic: Line | None = Field(default=None, max_length=40)


class ActionRequest(Strict):
    action: Action
    reason: Reason | None = None
    reason_text: Text | None = Field(default=None, max_length=500)
    text: Text | None = Field(default=None, min_length=1, max_length=2000)
    approve: bool = False
    into: Id | None = None
    # Manual order is a float between neighbours; a billion either way is more than any queue needs.
    position: Number | None = Field(default=None, ge=-1e9, le=1e9)
    answer_text: Text | None = Field(default=None, max_length=5000)


class ModerationSettings(Strict):
    moderation_mode: Literal["pre", "post"] | None = None
    banned_words: list[Line] | None = Field(default=None, max_length=500)
    link_policy: Literal["allow", "hold", "reject"] | None = None
    rate_limit_seconds: Number | None = Field(default=None, ge=0, le=3600)


class StandingChange(Strict):
    standing: Literal["active", "muted", "banned"]
    reason: Text | None = Field(default=None, max_length=500)


class QuestionOut(BaseModel):
    id: int
    status: str
    text: str
    held_reason: str | None = None
    duplicate_of: int | None = None


class VoteOut(BaseModel):
    id: int
    votes: int
    voted: bool


class QuestionList(BaseModel):
    questions: list[dict[str, Any]]
    mine: list[dict[str, Any]]
    voted: list[int]


class ModerationOut(BaseModel):
    moderation_mode: str
    banned_words: list[str]
    link_policy: str
    rate_limit_seconds: float


class AuditList(BaseModel):
    entries: list[dict[str, Any]]
