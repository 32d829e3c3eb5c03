import pytest

from moderation.lifecycle import ALLOWED, IllegalTransition, sources, transition
from moderation.model import QuestionStatus as S

EXPECTED = {
    S.PENDING: {S.APPROVED, S.REJECTED, S.MERGED},
    S.APPROVED: {S.ANSWERING, S.ANSWERED, S.REJECTED, S.MERGED},
    S.ANSWERING: {S.ANSWERED, S.APPROVED},
    S.ANSWERED: {S.APPROVED},
    S.REJECTED: {S.APPROVED},
    S.MERGED: set(),
}


def test_allowed_table_is_the_documented_one() -> None:
    assert {k: set(v) for k, v in ALLOWED.items()} == EXPECTED


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("target", list(S))
def test_transition_allows_exactly_the_table(current: S, target: S) -> None:
    if target in EXPECTED[current]:
        assert transition(current, target) is target
    else:
        with pytest.raises(IllegalTransition) as info:
            transition(current, target)
        assert info.value.current is current and info.value.target is target


def test_message_names_expected_and_actual_states() -> None:
    with pytest.raises(IllegalTransition, match="'answering': expected status approved, actual 'pending'"):
        transition(S.PENDING, S.ANSWERING)
    with pytest.raises(IllegalTransition, match="expected status none"):
        transition(S.PENDING, S.PENDING)


def test_merged_is_terminal_and_sources() -> None:
    assert not ALLOWED[S.MERGED]
    assert sources(S.APPROVED) == {S.PENDING, S.ANSWERING, S.ANSWERED, S.REJECTED}
