"""Request and response bodies of the HTTP API; the OpenAPI document is generated from these."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from server.lifecycle import EventKind, EventState, JoinPolicy
from server.stakeholders import STAKEHOLDERS
from server.validation import Integer, Line, Number, Text

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
VISITOR_PATTERN = r"^[A-Za-z0-9_-]{8,40}$"
Stakeholder = Literal[tuple(STAKEHOLDERS)]  # type: ignore[valid-type]


class Strict(BaseModel):
    # Request bodies: no unknown fields, no NaN or Infinity (JSON has neither; the response encoder would
    # fail on them), and every number field uses validation.Integer / Number / Id (no bools, no strings).
    model_config = ConfigDict(extra="forbid", str_max_length=20_000, allow_inf_nan=False)


Topic = Line


class EventFields(Strict):
    kind: EventKind | None = None
    title_zh: Line | None = Field(default=None, min_length=1, max_length=200)
    title_en: Line | None = Field(default=None, max_length=200)
    description_zh: Text | None = Field(default=None, max_length=5000)
    description_en: Text | None = Field(default=None, max_length=5000)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    topics: list[Topic] | None = Field(default=None, max_length=30)
    moderation_mode: Literal["pre", "post"] | None = None
    join_policy: JoinPolicy | None = None
    passcode: Line | None = Field(default=None, min_length=4, max_length=64)
    allow_anonymous: bool | None = None
    # Training records: the minimum watch time for a certificate (null: no training records).
    training_min_minutes: Integer | None = Field(default=None, ge=1, le=24 * 60)
    training_counts_replay: bool | None = None
    pre_questions: bool | None = None

    @model_validator(mode="after")
    def _checks(self) -> EventFields:
        if self.topics is not None:
            if any(not 1 <= len(t) <= 40 for t in self.topics):
                raise ValueError("each topic must have 1 to 40 characters")
            if len(set(self.topics)) != len(self.topics):
                raise ValueError("topics must be unique")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class EventCreate(EventFields):
    slug: str | None = Field(default=None, pattern=SLUG_PATTERN, max_length=64)
    kind: EventKind = EventKind.LIVE_QA
    title_zh: Line = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _passcode(self) -> EventCreate:
        if self.join_policy == JoinPolicy.PASSCODE and not self.passcode:
            raise ValueError("a passcode join policy needs a passcode")
        return self


class EventUpdate(EventFields):
    """PATCH: only the fields given change."""


class EventStateChange(Strict):
    state: Literal["live", "ended", "archived"]


class Links(BaseModel):
    page: str
    studio: str
    moderate: str
    archive: str
    report: str
    hls: str


class EventOut(BaseModel):
    slug: str
    kind: EventKind
    state: EventState
    title_zh: str
    title_en: str
    description_zh: str
    description_en: str
    starts_at: datetime | None
    ends_at: datetime | None
    went_live_at: datetime | None
    ended_at: datetime | None
    topics: list[str]
    moderation_mode: str
    join_policy: JoinPolicy
    allow_anonymous: bool
    training_min_minutes: int | None
    training_counts_replay: bool
    pre_questions: bool
    links: Links


class EventList(BaseModel):
    events: list[EventOut]


class InviteCreate(Strict):
    role: Literal["expert", "moderator"]
    name: Line = Field(default="", max_length=80)
    organisation: Line = Field(default="", max_length=120)
    ttl_hours: Number | None = Field(default=None, gt=0, le=24 * 365)


class InviteOut(BaseModel):
    participant_id: int
    role: str
    name: str
    organisation: str
    token: str | None = None
    url: str | None = None
    expires_at: datetime | None
    revoked: bool


class InviteList(BaseModel):
    invites: list[InviteOut]


class JoinRequest(Strict):
    name: Line = Field(default="", max_length=80)
    organisation: Line = Field(default="", max_length=120)
    stakeholder: Stakeholder | None = None
    anonymous: bool = False
    passcode: Line | None = Field(default=None, max_length=64)
    # The browser's own random id (web/static/js/attendance.js): a ban follows it to a re-join.
    visitor: str | None = Field(default=None, pattern=VISITOR_PATTERN)
    # The same id makes its visits before joining this viewer's (attendance).
    # Optional, for the certificate by e-mail; kept only where the site sends e-mail (SMTP_URL).
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class JoinOut(BaseModel):
    participant_id: int
    role: str
    token: str
    # "banned" or "muted" when this browser or an earlier token of it was (see JoinRequest.visitor).
    standing: str = "active"


class MeOut(BaseModel):
    participant_id: int | None
    role: str
    name: str
    organisation: str
    stakeholder: str | None
    anonymous: bool
    standing: str


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody
