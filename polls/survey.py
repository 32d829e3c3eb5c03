"""The post-event satisfaction survey (用户满意度): what an answer holds, who may give one, the summary."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import mean

from polls.errors import Refused
from polls.model import MAX_COMMENT_CHARS, RATING_MAX, RATING_MIN, Respondent, Voter

STARS = tuple(range(RATING_MIN, RATING_MAX + 1))


@dataclass(frozen=True)
class SurveyAnswer:
    overall: int
    usefulness: int
    # Expert participant id → stars; experts the answerer skipped are absent.
    experts: Mapping[int, int] = field(default_factory=dict)
    comment: str = ""
    anonymous: bool = False
    group: str | None = None


def _stars(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not RATING_MIN <= value <= RATING_MAX:
        raise Refused("invalid", f"{what} is a whole number {RATING_MIN}–{RATING_MAX}")
    return value


def check(
    who: Respondent,
    *,
    overall: object,
    usefulness: object,
    experts: Mapping[int, object],
    known_experts: Iterable[int],
    comment: str,
    anonymous: bool,
    allow_anonymous: bool,
    has_answered: bool,
    started: bool,
) -> SurveyAnswer:
    """An accepted survey answer, or Refused: one per participant, after the event started, ratings 1–5."""
    if who.voter == Voter.STAFF:
        raise Refused("forbidden", "the survey is for participants")
    if who.standing == "banned":
        raise Refused("banned", "you have been removed from this event")
    if not started:
        raise Refused("not_open", "the survey opens when the event starts")
    if has_answered:
        raise Refused("already_answered", "you have already answered the survey")
    if anonymous and not allow_anonymous:
        raise Refused("anonymous_not_allowed", "this event does not allow anonymous answers")
    known = frozenset(known_experts)
    unknown = sorted(set(experts) - known)
    if unknown:
        raise Refused("invalid", f"not an expert of this event: {unknown[0]}")
    text = comment.strip()
    if len(text) > MAX_COMMENT_CHARS:
        raise Refused("too_long", f"a comment is at most {MAX_COMMENT_CHARS} characters")
    return SurveyAnswer(
        overall=_stars(overall, "overall satisfaction"),
        usefulness=_stars(usefulness, "usefulness"),
        experts={e: _stars(v, "an expert's rating") for e, v in sorted(experts.items())},
        comment=text,
        anonymous=anonymous,
        group=who.group,
    )


@dataclass(frozen=True)
class Figure:
    """One 1–5 question's answers: how many gave each star, their mean, and the share giving 4 or 5."""

    distribution: tuple[int, ...]
    mean: float | None
    satisfied: float | None  # the bureau's 满意率: share of 4 and 5 stars

    @property
    def responses(self) -> int:
        return sum(self.distribution)


def figure(values: Sequence[int]) -> Figure:
    dist = tuple(sum(1 for v in values if v == s) for s in STARS)
    if not values:
        return Figure(dist, None, None)
    return Figure(dist, mean(values), sum(1 for v in values if v >= 4) / len(values))


@dataclass(frozen=True)
class Summary:
    responses: int
    overall: Figure
    usefulness: Figure
    experts: Mapping[int, Figure]
    by_group: Mapping[str, Figure]  # overall satisfaction per stakeholder group ("" = none given)
    comments: tuple[str, ...]


def summarise(answers: Sequence[SurveyAnswer]) -> Summary:
    experts: dict[int, list[int]] = {}
    groups: dict[str, list[int]] = {}
    for a in answers:
        for e, v in a.experts.items():
            experts.setdefault(e, []).append(v)
        groups.setdefault(a.group or "", []).append(a.overall)
    return Summary(
        responses=len(answers),
        overall=figure([a.overall for a in answers]),
        usefulness=figure([a.usefulness for a in answers]),
        experts={e: figure(v) for e, v in sorted(experts.items())},
        by_group={g: figure(v) for g, v in sorted(groups.items())},
        comments=tuple(a.comment for a in answers if a.comment),
    )
