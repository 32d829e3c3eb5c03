"""Bodies of the archive and search API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from archive.jobs import JobKind
from server.schemas import Strict


class ArchiveEvent(BaseModel):
    slug: str
    title_zh: str
    title_en: str
    state: str
    went_live_at: datetime | None
    ended_at: datetime | None
    topics: list[str]


class ArchiveJobOut(BaseModel):
    kind: str = Field(description="vod | mp4 | transcript | chapters | search")
    state: str | None = Field(description="queued | running | done | failed; null: not started")
    progress: float = Field(description="0 to 1")
    attempts: int
    error: str | None
    retry_at: datetime | None


class ArchiveStatus(BaseModel):
    jobs: list[ArchiveJobOut]
    complete: bool = Field(description="every job is done or failed for good")
    started: bool = Field(description="the event has ended and its archive jobs exist")


class ArchiveFiles(BaseModel):
    mp4: str | None
    vtt: str | None
    srt: str | None
    chapters: str | None
    hls: str | None
    screen_mp4: str | None
    qa_csv: str


class TranscriptLine(BaseModel):
    start: float = Field(description="seconds into the recording")
    end: float
    language: str = Field(description="zh or en")
    text: str


class ChapterOut(BaseModel):
    question_id: int
    start: float = Field(description="seconds into the recording: when the expert pressed 'answering now'")
    end: float | None
    title: str


class ArchiveAsker(BaseModel):
    name: str
    organisation: str


class ArchiveQuestion(BaseModel):
    id: int
    text: str
    answer_text: str | None
    votes: int
    topic: str | None
    asker: ArchiveAsker | None = Field(description="null when asked anonymously")
    answered_at: datetime | None
    seconds: float | None = Field(description="where in the recording it was answered (null: no recording)")


class ArchiveOut(BaseModel):
    event: ArchiveEvent
    status: ArchiveStatus
    files: ArchiveFiles
    transcript: list[TranscriptLine]
    chapters: list[ChapterOut]
    questions: list[ArchiveQuestion]


class ArchiveRetry(Strict):
    kinds: list[JobKind] | None = Field(
        default=None, description="jobs to run again (with what is built from them); default: every failed one"
    )


class SearchEvent(BaseModel):
    slug: str
    title_zh: str
    title_en: str
    ended_at: datetime | None


class SearchResult(BaseModel):
    event: SearchEvent
    kind: str = Field(description="transcript | question | answer")
    text: str
    seconds: float | None = Field(description="where in the recording (null: the event has no recording)")
    question_id: int | None
    url: str = Field(description="the archive page at that moment")
    highlights: list[tuple[int, int]] = Field(description="[start, end) character ranges of `text` that match")


class SearchOut(BaseModel):
    query: str
    total: int
    capped: bool = Field(description="the query matched more than could be ranked; the newest are shown")
    offset: int
    limit: int
    results: list[SearchResult]
