"""The question lifecycle: the allowed moves and the one function that guards them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from moderation.model import QuestionStatus

_S = QuestionStatus

ALLOWED: Mapping[QuestionStatus, frozenset[QuestionStatus]] = MappingProxyType(
    {
        _S.PENDING: frozenset({_S.APPROVED, _S.REJECTED, _S.MERGED}),
        _S.APPROVED: frozenset({_S.ANSWERING, _S.ANSWERED, _S.REJECTED, _S.MERGED}),
        _S.ANSWERING: frozenset({_S.ANSWERED, _S.APPROVED}),
        _S.ANSWERED: frozenset({_S.APPROVED}),
        _S.REJECTED: frozenset({_S.APPROVED}),
        _S.MERGED: frozenset(),
    }
)


def sources(target: QuestionStatus) -> frozenset[QuestionStatus]:
    """The statuses from which ``target`` may be reached."""
    return frozenset(s for s, targets in ALLOWED.items() if target in targets)


class IllegalTransition(Exception):
    """A move the lifecycle does not allow; names the expected and the actual state."""

    def __init__(self, current: QuestionStatus, target: QuestionStatus) -> None:
        self.current = current
        self.target = target
        expected = ", ".join(sorted(sources(target))) or "none"
        super().__init__(
            f"cannot move a question to {target.value!r}: expected status {expected}, actual {current.value!r}"
        )


def transition(current: QuestionStatus, target: QuestionStatus) -> QuestionStatus:
    """Return ``target`` if the lifecycle allows ``current -> target``, else raise IllegalTransition."""
    if target not in ALLOWED[current]:
        raise IllegalTransition(current, target)
    return target
