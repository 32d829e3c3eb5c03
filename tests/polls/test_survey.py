"""The satisfaction survey: one answer per participant, ratings 1–5, anonymous where allowed; summary."""

from typing import Any

import pytest

from polls.errors import Refused
from polls.model import Respondent, Voter
from polls.survey import SurveyAnswer, check, figure, summarise

OK: dict[str, Any] = {
    "overall": 5,
    "usefulness": 4,
    "experts": {10: 5},
    "known_experts": [10, 11],
    "comment": "  很有用 ",
    "anonymous": False,
    "allow_anonymous": True,
    "has_answered": False,
    "started": True,
}


def test_an_answer_is_accepted_and_trimmed() -> None:
    a = check(Respondent(1, group="owner"), **OK)
    assert a == SurveyAnswer(5, 4, {10: 5}, "很有用", False, "owner")


@pytest.mark.parametrize(
    ("who", "change", "code"),
    [
        (Respondent(1, voter=Voter.STAFF), {}, "forbidden"),
        (Respondent(1, standing="banned"), {}, "banned"),
        (Respondent(1), {"started": False}, "not_open"),
        (Respondent(1), {"has_answered": True}, "already_answered"),
        (Respondent(1), {"anonymous": True, "allow_anonymous": False}, "anonymous_not_allowed"),
        (Respondent(1), {"experts": {99: 5}}, "invalid"),
        (Respondent(1), {"comment": "长" * 2001}, "too_long"),
        (Respondent(1), {"overall": 0}, "invalid"),
        (Respondent(1), {"usefulness": True}, "invalid"),
        (Respondent(1), {"experts": {10: 6}}, "invalid"),
    ],
)
def test_refusals(who: Respondent, change: dict[str, Any], code: str) -> None:
    with pytest.raises(Refused) as err:
        check(who, **{**OK, **change})
    assert err.value.code == code


def test_summary_distribution_mean_satisfied_share_groups_and_comments() -> None:
    answers = [
        SurveyAnswer(5, 4, {10: 5}, "好", group="owner"),
        SurveyAnswer(3, 2, {10: 3, 11: 4}, "", group="owner"),
        SurveyAnswer(4, 5, {}, "再办一次", anonymous=True),
    ]
    s = summarise(answers)
    assert s.responses == 3 and s.overall.distribution == (0, 0, 1, 1, 1) and s.overall.mean == 4
    assert s.overall.satisfied == pytest.approx(2 / 3) and s.overall.responses == 3
    assert s.experts[10].mean == 4 and s.experts[11].distribution == (0, 0, 0, 1, 0)
    assert s.by_group["owner"].mean == 4 and s.by_group[""].mean == 4
    assert s.comments == ("好", "再办一次")
    none = figure([])
    assert none.mean is None and none.satisfied is None and none.responses == 0
