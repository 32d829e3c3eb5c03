"""Event lifecycle: scheduled → live → ended → archived, one guarded transition function."""

from __future__ import annotations

from enum import StrEnum


class EventState(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    ARCHIVED = "archived"


class EventKind(StrEnum):
    LIVE_QA = "live_qa"
    BRIEFING = "briefing"


class JoinPolicy(StrEnum):
    OPEN = "open"
    REGISTRATION = "registration"
    PASSCODE = "passcode"


class IllegalEventTransition(Exception):
    def __init__(self, current: EventState, target: EventState) -> None:
        allowed = ", ".join(sorted(ALLOWED[current])) or "none"
        super().__init__(f"cannot move an event from {current} to {target} (allowed from {current}: {allowed})")
        self.current = current
        self.target = target


# A live event that drops back to scheduled would lose its recording; an ended event may go live again
# only by being re-run as a new event, so the graph is a line.
ALLOWED: dict[EventState, frozenset[EventState]] = {
    EventState.SCHEDULED: frozenset({EventState.LIVE}),
    EventState.LIVE: frozenset({EventState.ENDED}),
    EventState.ENDED: frozenset({EventState.ARCHIVED}),
    EventState.ARCHIVED: frozenset(),
}


def transition(current: EventState, target: EventState) -> EventState:
    if target not in ALLOWED[current]:
        raise IllegalEventTransition(current, target)
    return target
