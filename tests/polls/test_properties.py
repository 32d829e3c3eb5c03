"""Properties over random polls and answers: tallies conserve answers, accept is idempotent, scores bound."""

from hypothesis import given
from hypothesis import strategies as st

from polls.answers import normalise
from polls.errors import Refused
from polls.lifecycle import draft
from polls.model import Poll, PollKind
from polls.results import Ballot, tally
from polls.scoring import score
from polls.survey import SurveyAnswer, summarise

GROUPS = st.sampled_from([None, "owner", "construction", "public"])


@st.composite
def polls(draw: st.DrawFn) -> Poll:
    kind = draw(st.sampled_from(list(PollKind)))
    n = draw(st.integers(2, 6))
    options = [f"选项{i}" for i in range(n)] if kind in {PollKind.SINGLE, PollKind.MULTIPLE, PollKind.RANKING} else []
    return draft(1, kind, "q", options)


def raw_answers(poll: Poll) -> st.SearchStrategy[object]:
    n = len(poll.options)
    return st.one_of(
        st.integers(-2, 8),
        st.lists(st.integers(-1, n), max_size=n + 1),
        st.text(max_size=5),
        st.permutations(list(range(n))),
        st.booleans(),
        st.none(),
    )


@given(st.data())
def test_normalise_accepts_only_canonical_answers_and_is_idempotent(data: st.DataObject) -> None:
    poll = data.draw(polls())
    raw = data.draw(raw_answers(poll))
    try:
        answer = normalise(poll, raw)
    except Refused as exc:
        assert exc.code in {"invalid", "too_long"}
        return
    assert normalise(poll, list(answer) if isinstance(answer, tuple) else answer) == answer


@given(st.data())
def test_tally_conserves_answers_per_group(data: st.DataObject) -> None:
    poll = data.draw(polls())
    ballots = []
    for _ in range(data.draw(st.integers(0, 20))):
        try:
            answer = normalise(poll, data.draw(raw_answers(poll)))
        except Refused:
            continue
        ballots.append(Ballot(answer, data.draw(GROUPS)))
    r = tally(poll, ballots)
    assert r.responses == len(ballots)
    for column in range(len(r.counts)):
        assert sum(row[column] for row in r.by_group.values()) == r.counts[column]
    if poll.kind in {PollKind.SINGLE, PollKind.RATING}:
        assert sum(r.counts) == len(ballots)
    if poll.kind == PollKind.RANKING:
        n = len(poll.options)
        assert sum(r.counts) == len(ballots) * n * (n - 1) // 2
        assert all(1 <= m <= n for m in r.mean_rank)
    if poll.kind == PollKind.RATING and ballots:
        assert r.mean is not None and 1 <= r.mean <= 5


@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=8), st.integers(1, 100))
def test_score_is_bounded_and_pass_follows_the_mark(qs: list[tuple[bool, bool]], mark: int) -> None:
    quiz = [draft(i, PollKind.SINGLE, "q", ["a", "b"], quiz=True, correct=[0]) for i in range(len(qs))]
    answers = {i: (0 if right else 1) for i, (answered, right) in enumerate(qs) if answered}
    s = score(quiz, answers, mark)
    assert 0 <= s.correct <= s.answered <= s.total == len(qs)
    assert 0 <= s.percent <= 100
    assert s.passed == (bool(qs) and s.percent >= mark)


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5), GROUPS), max_size=30))
def test_survey_distribution_sums_to_responses(rows: list[tuple[int, int, str | None]]) -> None:
    s = summarise([SurveyAnswer(o, u, group=g) for o, u, g in rows])
    assert s.overall.responses == s.usefulness.responses == s.responses == len(rows)
    assert sum(f.responses for f in s.by_group.values()) == len(rows)
    if rows:
        assert s.overall.mean is not None and 1 <= s.overall.mean <= 5
