"""Training records: who met the organiser's minimum watch time, and the certificates' verification codes."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from archive.attendance import Watch
from archive.report import Person
from polls.scoring import Score

# Crockford's base32: no I, L, O or U, so a code read off paper cannot be mistyped into another one.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 80 random bits: unguessable, and short enough to type from a printed certificate
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-_.]")


@dataclass(frozen=True)
class Rule:
    """The organiser's rule: minutes watched (0: none needed) and, when `quiz_required`, a passed quiz."""

    min_minutes: int
    counts_replay: bool
    quiz_required: bool = False

    def counted(self, watch: Watch | None) -> float:
        if watch is None:
            return 0.0
        return watch.both if self.counts_replay else watch.live


@dataclass(frozen=True)
class Record:
    participant_id: int
    name: str
    organisation: str
    stakeholder: str | None
    live_seconds: float
    replay_seconds: float
    counted_seconds: float
    questions: int
    eligible: bool
    # The quiz score when the event has a quiz (None: no quiz questions were published).
    quiz_percent: int | None = None
    quiz_passed: bool | None = None

    @property
    def minutes(self) -> int:
        """Whole minutes watched, as printed on the certificate (never rounded up)."""
        return int(self.counted_seconds // 60)


def records(
    people: Sequence[Person],
    watch: Mapping[str, Watch],
    questions_by_asker: Mapping[int, int],
    rule: Rule,
    quiz: Mapping[int, Score] | None = None,
) -> list[Record]:
    """Every registered participant who watched, asked or took the quiz: those who met the rule first,
    then by time watched. ``quiz`` maps participant id → score over the event's quiz (None: no quiz)."""
    out = []
    for p in people:
        if not p.registered:
            continue  # an anonymous participant cannot be named on a record
        w = watch.get(f"p:{p.id}")
        counted = rule.counted(w)
        score = quiz.get(p.id) if quiz is not None else None
        took_quiz = score is not None and score.answered > 0
        if counted <= 0 and not questions_by_asker.get(p.id) and not took_quiz:
            continue
        passed = score.passed if score is not None else None
        out.append(
            Record(
                participant_id=p.id,
                name=p.name,
                organisation=p.organisation,
                stakeholder=p.stakeholder,
                live_seconds=w.live if w else 0.0,
                replay_seconds=w.replay if w else 0.0,
                counted_seconds=counted,
                questions=questions_by_asker.get(p.id, 0),
                eligible=counted >= rule.min_minutes * 60 and (not rule.quiz_required or bool(passed)),
                quiz_percent=score.percent if score is not None else None,
                quiz_passed=passed,
            )
        )
    return sorted(out, key=lambda r: (not r.eligible, -r.counted_seconds, r.participant_id))


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str | None:
    """A code as typed (any case, hyphens or spaces, O for 0) → its stored form; None if it cannot be one."""
    code = _SEPARATORS.sub("", text).upper().translate(_READ_AS)
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def format_code(code: str) -> str:
    """XXXX-XXXX-XXXX-XXXX, as printed."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
