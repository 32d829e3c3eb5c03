"""A poll's results from its answers: counts per option (or star), by stakeholder group, rank points, words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from polls.model import RATING_MAX, RATING_MIN, Answer, Poll, PollKind
from polls.scoring import is_correct
from polls.words import Word, cloud

NO_GROUP = ""  # answers from people who gave no stakeholder group


@dataclass(frozen=True)
class Ballot:
    answer: Answer
    group: str | None = None
    # An open-text answer cut into words by the segmenter (empty for other kinds).
    tokens: tuple[str, ...] = ()


@dataclass(frozen=True)
class Results:
    poll_id: int
    kind: PollKind
    responses: int
    # single / multiple: answers naming each option; rating: answers per star (1..5); ranking: Borda
    # points per option (first place of n options scores n-1, last 0). Open text: empty.
    counts: tuple[int, ...] = ()
    by_group: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    mean: float | None = None  # rating: mean stars
    mean_rank: tuple[float, ...] = ()  # ranking: mean place per option, 1 = best
    words: tuple[Word, ...] = ()
    correct: int | None = None  # quiz: answers that were right

    def as_dict(self) -> dict[str, Any]:
        return {
            "poll_id": self.poll_id,
            "kind": self.kind.value,
            "responses": self.responses,
            "counts": list(self.counts),
            "by_group": {g: list(c) for g, c in sorted(self.by_group.items())},
            "mean": None if self.mean is None else round(self.mean, 2),
            "mean_rank": [round(r, 2) for r in self.mean_rank],
            "words": [{"text": w.text, "count": w.count} for w in self.words],
            "correct": self.correct,
        }


def _width(poll: Poll) -> int:
    if poll.kind == PollKind.RATING:
        return RATING_MAX - RATING_MIN + 1
    return 0 if poll.kind == PollKind.OPEN else len(poll.options)


def _points(poll: Poll, answer: Answer) -> list[int]:
    """What one answer adds to each column of `counts`."""
    width = _width(poll)
    row = [0] * width
    match poll.kind:
        case PollKind.SINGLE | PollKind.RATING:
            assert isinstance(answer, int)
            row[answer - RATING_MIN if poll.kind == PollKind.RATING else answer] = 1
        case PollKind.MULTIPLE:
            assert isinstance(answer, tuple)
            for i in answer:
                row[i] = 1
        case PollKind.RANKING:
            assert isinstance(answer, tuple)
            for place, i in enumerate(answer):
                row[i] = width - 1 - place
        case _:
            pass  # open text adds words, not counts
    return row


def _add(total: list[int], row: Sequence[int]) -> None:
    for i, v in enumerate(row):
        total[i] += v


def tally(poll: Poll, ballots: Sequence[Ballot]) -> Results:
    """Results of ``poll`` from its ballots (each already accepted by answers.accept)."""
    width = _width(poll)
    counts = [0] * width
    groups: dict[str, list[int]] = {}
    for b in ballots:
        row = _points(poll, b.answer)
        _add(counts, row)
        _add(groups.setdefault(b.group or NO_GROUP, [0] * width), row)
    n = len(ballots)
    mean = None
    mean_rank: tuple[float, ...] = ()
    if poll.kind == PollKind.RATING and n:
        mean = sum(b.answer for b in ballots if isinstance(b.answer, int)) / n
    if poll.kind == PollKind.RANKING and n:
        # Borda points p of option i over n ballots ↔ mean place = width - p/n.
        mean_rank = tuple(width - c / n for c in counts)
    words = tuple(cloud(b.tokens for b in ballots)) if poll.kind == PollKind.OPEN else ()
    correct = sum(1 for b in ballots if is_correct(poll, b.answer)) if poll.quiz else None
    return Results(
        poll_id=poll.id,
        kind=poll.kind,
        responses=n,
        counts=tuple(counts),
        by_group={g: tuple(c) for g, c in groups.items()},
        mean=mean,
        mean_rank=mean_rank,
        words=words,
        correct=correct,
    )


def share(results: Results) -> tuple[float, ...]:
    """Each column as a fraction of responses (0 when nobody answered); what a bar chart draws."""
    if not results.responses:
        return tuple(0.0 for _ in results.counts)
    return tuple(c / results.responses for c in results.counts)


def by_group_share(results: Results) -> Mapping[str, tuple[float, ...]]:
    """Per stakeholder group, each column as a fraction of that group's own answers."""
    out: dict[str, tuple[float, ...]] = {}
    for g, row in results.by_group.items():
        n = max(1, max(row, default=0)) if results.kind == PollKind.RANKING else max(1, sum(row))
        out[g] = tuple(v / n for v in row)
    return out
