"""The archive's jobs: what they are, what each waits for, and the lifecycle of one job.

Ending an event creates one job of every kind. `vod` runs first; `mp4`, `transcript` and `chapters`
follow it; `search` indexes whatever the others produced once they have all settled. A job that
fails for good does not hold the rest back: the archive publishes everything that did succeed.
"""

from __future__ import annotations

import enum


class JobKind(enum.StrEnum):
    VOD = "vod"  # the archive playlist with ENDLIST (rebuilt from segments.log if the server died)
    MP4 = "mp4"  # recording.mp4, a `-c copy` remux of the playlist
    TRANSCRIPT = "transcript"  # whisper over the recording's audio → database, captions.vtt, captions.srt
    CHAPTERS = "chapters"  # answered questions at the moment "answering now" was pressed → chapters.vtt
    SEARCH = "search"  # transcript lines, questions and typed answers into the search index


# Every kind, in the order a person reads them on the archive page.
KINDS: tuple[JobKind, ...] = tuple(JobKind)

DEPENDS_ON: dict[JobKind, frozenset[JobKind]] = {
    JobKind.VOD: frozenset(),
    JobKind.MP4: frozenset({JobKind.VOD}),
    JobKind.TRANSCRIPT: frozenset({JobKind.VOD}),
    JobKind.CHAPTERS: frozenset({JobKind.VOD}),
    JobKind.SEARCH: frozenset({JobKind.TRANSCRIPT, JobKind.CHAPTERS}),
}


def dependents(kind: JobKind) -> list[JobKind]:
    return [k for k in KINDS if kind in DEPENDS_ON[k]]


def downstream(kind: JobKind) -> list[JobKind]:
    """`kind` and everything that (transitively) uses its output, in running order."""
    found = [kind]
    for k in KINDS:
        if DEPENDS_ON[k] & set(found) and k not in found:
            found.append(k)
    return found


class JobState(enum.StrEnum):
    QUEUED = "queued"  # waiting for its inputs, a runner, or (after a failure) its retry time
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # for good: bad input, or its attempts are used up


SETTLED = frozenset({JobState.DONE, JobState.FAILED})

_ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING}),
    # RUNNING → QUEUED: a transient failure waits for its retry.
    JobState.RUNNING: frozenset({JobState.DONE, JobState.FAILED, JobState.QUEUED, JobState.RUNNING}),
    # Settled jobs run again only when asked (retry, or the event's archive is rebuilt).
    JobState.DONE: frozenset({JobState.QUEUED}),
    JobState.FAILED: frozenset({JobState.QUEUED}),
}


class IllegalJobTransition(RuntimeError):
    def __init__(self, current: JobState, target: JobState) -> None:
        allowed = ", ".join(sorted(_ALLOWED[current])) or "nothing"
        super().__init__(f"job is {current}; from there only {allowed}, not {target}")
        self.current = current
        self.target = target


def transition(current: JobState, target: JobState) -> JobState:
    """The new state, or IllegalJobTransition naming expected and actual states.

    RUNNING → RUNNING is a takeover: the worker that held the job stopped heartbeating."""
    if target not in _ALLOWED[current]:
        raise IllegalJobTransition(current, target)
    return target


class JobFailed(Exception):
    """A job could not do its work. `permanent`: retrying cannot help (bad input, missing model)."""

    def __init__(self, message: str, *, permanent: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


# Backoff between attempts after a transient failure (the database or the disk hiccuped).
RETRY_DELAYS_SECONDS = (5.0, 30.0, 120.0)


def retry_delay(attempts: int) -> float:
    return RETRY_DELAYS_SECONDS[min(max(attempts, 1), len(RETRY_DELAYS_SECONDS)) - 1]
