"""Who may answer a poll, when, and what an answer must look like: one guarded function, `accept`."""

from __future__ import annotations

from polls.errors import Refused
from polls.lifecycle import expire
from polls.model import MAX_TEXT_CHARS, RATING_MAX, RATING_MIN, Answer, Poll, PollKind, PollState, Respondent, Voter


def may_answer(poll: Poll, who: Respondent, now: float, *, event_over: bool) -> None:
    """Refused unless ``who`` may answer ``poll`` now (their earlier answer is checked by `accept`).

    A live poll takes answers while open and before its deadline. Once the event is over, a quiz that
    staff have published (open or closed) stays answerable for whoever has not answered it yet: a
    participant who watches the recording takes the quiz on the archive page; other polls end with the
    event. Staff run polls and never
    answer them; a banned participant cannot; a muted one cannot put text on the screen."""
    if who.voter == Voter.STAFF:
        raise Refused("forbidden", "staff run polls; participants answer them")
    if who.standing == "banned":
        raise Refused("banned", "you have been removed from this event")
    if who.standing == "muted" and poll.kind == PollKind.OPEN:
        raise Refused("muted", "you are muted in this event")
    if poll.quiz and not who.registered:
        raise Refused("registration_required", "register with your name to take the quiz: it counts for training")
    current = expire(poll, now)
    if current.state == PollState.DRAFT:
        raise Refused("not_open", f"poll {poll.id} has not been opened")
    if poll.quiz and event_over:
        return
    if current.state == PollState.CLOSED or event_over:
        raise Refused("closed", f"poll {poll.id} is closed")


def accept(poll: Poll, who: Respondent, raw: object, now: float, *, has_answered: bool, event_over: bool) -> Answer:
    """The normalised answer, or Refused: once per participant, in range, only while the poll takes answers."""
    may_answer(poll, who, now, event_over=event_over)
    if has_answered:
        raise Refused("already_answered", f"you have already answered poll {poll.id}")
    return normalise(poll, raw)


def normalise(poll: Poll, raw: object) -> Answer:
    """An answer's canonical form for ``poll``'s kind, or Refused("invalid"/"too_long", why)."""
    n = len(poll.options)
    match poll.kind:
        case PollKind.SINGLE:
            return _index(raw, n)
        case PollKind.MULTIPLE:
            picked = _indexes(raw, n)
            if not picked:
                raise Refused("invalid", "choose at least one option")
            return tuple(sorted(set(picked)))
        case PollKind.RATING:
            if not isinstance(raw, int) or isinstance(raw, bool) or not RATING_MIN <= raw <= RATING_MAX:
                raise Refused("invalid", f"a rating is a whole number {RATING_MIN}–{RATING_MAX}")
            return raw
        case PollKind.OPEN:
            if not isinstance(raw, str) or not raw.strip():
                raise Refused("invalid", "an answer needs some text")
            text = " ".join(raw.split())
            if len(text) > MAX_TEXT_CHARS:
                raise Refused("too_long", f"an answer is at most {MAX_TEXT_CHARS} characters")
            return text
    # Ranking: every option once, best first.
    order = _indexes(raw, n)
    if sorted(order) != list(range(n)):
        raise Refused("invalid", f"rank every option exactly once (indexes 0–{n - 1})")
    return tuple(order)


def _index(raw: object, n: int) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw < n:
        raise Refused("invalid", f"choose an option index 0–{n - 1}")
    return raw


def _indexes(raw: object, n: int) -> list[int]:
    if not isinstance(raw, list | tuple) or len(raw) > n:
        raise Refused("invalid", f"give a list of at most {n} option indexes")
    picked = [_index(item, n) for item in raw]
    if len(set(picked)) != len(picked):
        raise Refused("invalid", "an option appears twice")
    return picked
