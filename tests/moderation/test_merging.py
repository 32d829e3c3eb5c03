import pytest

from moderation.errors import Refused
from moderation.merging import merge, merged_voters
from moderation.model import Question
from moderation.model import QuestionStatus as S
from tests.moderation.factories import EXPERT, MODERATOR, question


def test_merge_moves_askers_and_votes_without_double_counting() -> None:
    src = question(1, S.PENDING, asker_id=1, votes=2, pinned=False)
    dst = question(2, S.APPROVED, asker_id=2, votes=3)
    # 5 voted for both; 2 (dst's asker) voted for src; 1 (src's asker) voted for dst.
    out = merge(src, dst, MODERATOR, 8.0, src_voters=frozenset({2, 5}), dst_voters=frozenset({1, 5, 6}))
    new_src, new_dst = out.questions
    assert (new_src.status, new_src.merged_into, new_src.votes) == (S.MERGED, 2, 0)
    assert new_dst.askers == {1, 2}
    assert new_dst.votes == 2  # {5, 6}: neither asker counts
    merged, updated = out.events
    assert (merged.type, merged.notify, merged.previous_status) == (
        "question.merged",
        frozenset({1}),
        S.PENDING,
    )
    assert merged.data == {"into": 2, "voters": frozenset({5, 6})}
    assert (updated.type, updated.question, updated.data) == ("question.updated", new_dst, {"votes": 2})
    (entry,) = out.audit
    assert (entry.action, entry.question_id, entry.reason) == ("merge", 1, "into 2")


def test_merged_voters_helper() -> None:
    src = question(1, asker_id=1, askers=frozenset({1, 9}))
    dst = question(2, asker_id=2)
    assert merged_voters(src, dst, frozenset({9, 3}), frozenset({3, 4, 2})) == {3, 4}


def test_pending_destination_stays_pending_and_answered_is_fine() -> None:
    src = question(1, S.APPROVED, pinned=True)
    for status in (S.PENDING, S.ANSWERED, S.ANSWERING):
        out = merge(
            src,
            question(2, status, asker_id=2),
            MODERATOR,
            1.0,
            src_voters=frozenset(),
            dst_voters=frozenset(),
        )
        assert out.questions[1].status is status
        assert out.questions[0].pinned is False


def test_children_are_repointed() -> None:
    src = question(1, S.APPROVED)
    child = question(3, S.MERGED, merged_into=1)
    out = merge(src, question(2), MODERATOR, 1.0, src_voters=frozenset(), dst_voters=frozenset(), children=[child])
    assert out.questions[2].merged_into == 2
    assert out.events[2].data == {"into": 2}
    with pytest.raises(ValueError, match="not merged into 1"):
        merge(
            src,
            question(2),
            MODERATOR,
            1.0,
            src_voters=frozenset(),
            dst_voters=frozenset(),
            children=[question(4, S.MERGED, merged_into=9)],
        )


@pytest.mark.parametrize(
    ("src", "dst", "code"),
    [
        (question(1), question(1), "same_question"),
        (question(1), question(2, event_id=8), "not_found"),
        (question(1), question(2, S.MERGED, merged_into=3), "illegal_transition"),
        (question(1), question(2, S.REJECTED), "illegal_transition"),
        (question(1, S.ANSWERING), question(2), "illegal_transition"),
        (question(1, S.MERGED, merged_into=5), question(2), "illegal_transition"),
    ],
)
def test_merge_refusals(src: Question, dst: Question, code: str) -> None:
    with pytest.raises(Refused) as info:
        merge(src, dst, MODERATOR, 1.0, src_voters=frozenset(), dst_voters=frozenset())
    assert info.value.code == code


def test_only_moderators_merge() -> None:
    with pytest.raises(Refused, match="forbidden"):
        merge(question(1), question(2), EXPERT, 1.0, src_voters=frozenset(), dst_voters=frozenset())
