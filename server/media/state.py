"""Stream state of an event: idle → live ⇄ reconnecting, → ended (final)."""

from __future__ import annotations

import enum


class StreamState(enum.Enum):
    IDLE = "idle"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    ENDED = "ended"


_ALLOWED: dict[StreamState, frozenset[StreamState]] = {
    StreamState.IDLE: frozenset({StreamState.LIVE, StreamState.ENDED}),
    StreamState.LIVE: frozenset({StreamState.IDLE, StreamState.RECONNECTING, StreamState.ENDED}),
    StreamState.RECONNECTING: frozenset({StreamState.LIVE, StreamState.IDLE, StreamState.ENDED}),
    StreamState.ENDED: frozenset(),
}


class IllegalTransition(RuntimeError):
    pass


def transition(current: StreamState, target: StreamState) -> StreamState:
    """The new state, or `IllegalTransition` naming expected and actual states."""
    if target is current:
        return current
    if target not in _ALLOWED[current]:
        allowed = ", ".join(sorted(s.value for s in _ALLOWED[current])) or "nothing"
        raise IllegalTransition(f"stream is {current.value}; from there only {allowed}, not {target.value}")
    return target
