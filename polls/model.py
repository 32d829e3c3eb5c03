"""A poll and the values around it: plain frozen dataclasses, no behaviour that needs I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# A rating poll is 1–5 stars; the survey uses the same scale.
RATING_MIN = 1
RATING_MAX = 5
MAX_OPTIONS = 10
MIN_OPTIONS = 2
MAX_OPTION_CHARS = 200
MAX_PROMPT_CHARS = 500
# An open-text answer is a few words for the cloud, not an essay.
MAX_TEXT_CHARS = 200
# The survey's free text: a paragraph or two.
MAX_COMMENT_CHARS = 2000
MAX_TIME_LIMIT_S = 3600


class PollKind(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    RATING = "rating"
    OPEN = "open"
    RANKING = "ranking"


# Kinds that have options to choose from (rating has fixed stars, open text has none).
WITH_OPTIONS = frozenset({PollKind.SINGLE, PollKind.MULTIPLE, PollKind.RANKING})
# Kinds a quiz question may be: a right answer is one option or a set of them.
QUIZ_KINDS = frozenset({PollKind.SINGLE, PollKind.MULTIPLE})


class PollState(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class Audience(StrEnum):
    """Who sees a poll's results while it runs and after it closes."""

    EVERYONE = "everyone"
    STAFF = "staff"


class Voter(StrEnum):
    """The answerer's role, as far as the rules care."""

    VIEWER = "viewer"
    STAFF = "staff"


# A single choice is an option index; multiple a sorted tuple of distinct indexes; rating 1–5; open
# text a string; ranking every option index once, best first.
Answer = int | str | tuple[int, ...]


@dataclass(frozen=True)
class Poll:
    id: int
    kind: PollKind
    prompt: str
    options: tuple[str, ...] = ()
    state: PollState = PollState.DRAFT
    results_to: Audience = Audience.EVERYONE
    # A quiz question: `correct` holds the right option indexes (one for single choice).
    quiz: bool = False
    correct: frozenset[int] = frozenset()
    time_limit_s: int | None = None
    opened_at: float | None = None
    closed_at: float | None = None

    @property
    def deadline(self) -> float | None:
        """When a timed poll stops taking answers (None: open until staff close it)."""
        if self.time_limit_s is None or self.opened_at is None:
            return None
        return self.opened_at + self.time_limit_s


@dataclass(frozen=True)
class Respondent:
    """Who answers: their id, role and standing, and the stakeholder group results are split by."""

    participant_id: int
    voter: Voter = Voter.VIEWER
    registered: bool = True
    standing: str = "active"
    group: str | None = None
