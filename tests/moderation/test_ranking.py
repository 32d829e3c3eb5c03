import random

from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.model import Question
from moderation.model import QuestionStatus as S
from moderation.ranking import Sort, public_queue, ranked
from tests.moderation.factories import question


def ids(questions: list[Question]) -> list[int]:
    return [q.id for q in questions]


def test_popular_order() -> None:
    qs = [
        question(1, votes=3, created_at=5.0),
        question(2, S.ANSWERED, answered_at=9.0),
        question(3, votes=3, created_at=1.0),
        question(4, S.ANSWERING),
        question(5, pinned=True),
        question(6, position=2.0, votes=0),
        question(7, position=1.0, votes=0),
        question(8, votes=9),
        question(9, S.ANSWERED, answered_at=10.0),
        question(10, S.REJECTED),
        question(11, S.MERGED, merged_into=1),
        question(12, S.PENDING, votes=0, created_at=0.5),
        question(13, S.ANSWERED),
    ]
    assert ids(ranked(qs, Sort.POPULAR)) == [4, 5, 7, 6, 8, 3, 1, 12, 13, 9, 2, 10, 11]


def test_recent_order_and_id_ties() -> None:
    qs = [question(1, created_at=5.0), question(2, created_at=7.0), question(3, created_at=7.0)]
    assert ids(ranked(qs, Sort.RECENT)) == [3, 2, 1]
    assert ids(ranked(qs, Sort.POPULAR)) == [1, 2, 3]


def test_position_ties_fall_back_to_the_sort() -> None:
    qs = [question(1, position=1.0, votes=1), question(2, position=1.0, votes=5)]
    assert ids(ranked(qs, Sort.POPULAR)) == [2, 1]
    assert ids(ranked(qs, Sort.RECENT)) == [2, 1]


def test_public_queue_hides_non_public() -> None:
    qs = [question(i, s) for i, s in enumerate(S, start=1)]
    assert {q.status for q in public_queue(qs, Sort.RECENT)} == {S.APPROVED, S.ANSWERING, S.ANSWERED}


questions = st.builds(
    question,
    qid=st.integers(1, 10_000),
    status=st.sampled_from(S),
    votes=st.integers(0, 5),
    created_at=st.integers(0, 5).map(float),
    pinned=st.booleans(),
    position=st.none() | st.integers(0, 3).map(float),
    answered_at=st.none() | st.integers(0, 5).map(float),
)


@settings(max_examples=250, deadline=None)
@given(st.lists(questions, unique_by=lambda q: q.id, max_size=15), st.sampled_from(Sort), st.randoms())
def test_ranked_is_a_deterministic_permutation(qs: list[Question], sort: Sort, rnd: random.Random) -> None:
    once = ranked(qs, sort)
    assert sorted(ids(once)) == sorted(ids(qs))
    shuffled = list(qs)
    rnd.shuffle(shuffled)
    assert ranked(shuffled, sort) == once
    answering = [i for i, q in enumerate(once) if q.status is S.ANSWERING]
    assert answering == list(range(len(answering)))
    assert all(q.status in (S.APPROVED, S.ANSWERING, S.ANSWERED) for q in public_queue(qs, sort))
