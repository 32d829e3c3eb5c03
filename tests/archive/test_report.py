"""The event report computed from a scripted event, asserted exactly."""

from __future__ import annotations

from archive.report import Counts, EventFacts, GroupAttendance, as_json, build
from tests.archive.scripted import ACTIONS, BUSY_MINUTES, EVENT, GRACE, GROUPS, PEOPLE, QUESTIONS, SPANS


def report():  # type: ignore[no-untyped-def]
    return build(EVENT, PEOPLE, QUESTIONS, ACTIONS, SPANS, now=100_000.0, grace=GRACE, groups=GROUPS)


def test_attendance_totals_peak_and_average() -> None:
    a = report().attendance
    assert (a.joined, a.registered, a.viewers, a.live_viewers, a.replay_viewers) == (6, 5, 6, 5, 2)
    assert (a.live_seconds, a.replay_seconds, a.average_live_seconds) == (6300, 2400, 1260)
    assert (a.peak, a.peak_at, a.average_concurrent) == (4, 1200, 1.75)
    assert a.window == (1000, 4600) and a.step == 60


def test_viewers_over_time_per_minute() -> None:
    series = report().attendance.series
    assert [t for t, _ in series] == [1000 + 60 * k for k in range(60)]
    expected = [3, 3, 3, 4, 4, 4, 4, 3, 3, 3, 2, 2, 2, 2, 1, 1] + [2] * 18 + [1] * 24 + [2, 2]
    assert [n for _, n in series] == expected


def test_attendance_by_stakeholder_group() -> None:
    rows = {g.key: g for g in report().attendance.by_stakeholder}
    assert list(rows) == [*GROUPS, None]
    assert rows["construction"] == GroupAttendance("construction", 2, 1, 1, 2000, 1800)
    assert rows["design"] == GroupAttendance("design", 1, 1, 1, 3200, 600)
    assert rows["public"] == GroupAttendance("public", 1, 1, 0, 600, 0)
    assert rows["owner"] == GroupAttendance("owner", 1, 0, 0, 0, 0)  # opened the page after the end
    assert rows["survey"] == GroupAttendance("survey", 0, 0, 0, 0, 0)
    assert rows[None] == GroupAttendance(None, 0, 2, 0, 500, 0)  # unregistered browsers


def test_each_viewers_watch_time_and_visits() -> None:
    watch = report().watch
    assert (watch["p:1"].live, watch["p:1"].visits) == (2000, 1)
    assert (watch["p:2"].live, watch["p:2"].replay, watch["p:2"].both, watch["p:2"].visits) == (3200, 600, 3800, 3)
    assert watch["p:5"].live == 0


def test_question_totals_answer_rate_and_medians() -> None:
    q = report().questions
    assert q.totals == Counts(
        None, submitted=9, pre_submitted=2, approved=5, answered=3, rejected=2, merged=1, pending=2
    )
    assert q.totals.answer_rate == 0.5
    assert q.median_answer_seconds == 600  # 300, 800 and 600 (pre-submitted: from going live)
    assert q.median_approval_seconds == 25  # 10, 20, 30, 60


def test_questions_by_stakeholder_group() -> None:
    rows = {c.key: c for c in report().questions.by_stakeholder}
    assert list(rows) == ["owner", "design", "supervision", "construction", "public"]
    assert rows["construction"] == Counts("construction", 4, 2, 2, 2, 1, 0, 1)
    assert rows["construction"].answer_rate == 2 / 3
    assert rows["design"] == Counts("design", 2, 0, 1, 1, 0, 1, 0) and rows["design"].answer_rate == 1.0
    assert rows["supervision"].answer_rate is None  # nothing acceptable to answer
    assert rows["owner"].answer_rate == 0.0 and rows["public"].answer_rate == 0.0


def test_questions_by_topic() -> None:
    rows = {c.key: c for c in report().questions.by_topic}
    assert list(rows) == ["基坑", "盾构", "降水", None]
    assert rows["基坑"] == Counts("基坑", 4, 1, 3, 1, 1, 0, 1) and rows["基坑"].answer_rate == 1 / 3
    assert rows["盾构"] == Counts("盾构", 2, 0, 1, 1, 0, 1, 0)
    assert rows["降水"] == Counts("降水", 1, 1, 1, 1, 0, 0, 0)
    assert rows[None] == Counts(None, 2, 0, 0, 0, 1, 0, 1) and rows[None].answer_rate == 0.0


def test_questions_over_time() -> None:
    timeline = report().questions.timeline
    busy = {(t - 1000) // 60: (s, a) for t, s, a in timeline if s or a}
    assert busy == BUSY_MINUTES


def test_most_voted_questions_hide_anonymous_askers() -> None:
    top = report().questions.top
    assert [(t.id, t.votes) for t in top] == [(3, 15), (1, 12), (2, 8), (4, 5)]
    assert (top[0].asker, top[0].organisation, top[0].stakeholder) == (None, None, "public")
    assert (top[1].asker, top[1].organisation, top[1].answer_text) == ("王工", "某施工单位", "每天两次")
    assert top[3].pre_submitted


def test_moderation_summary() -> None:
    m = report().moderation
    assert m.actions == (
        ("approve", 5),
        ("answered", 3),
        ("answering", 3),
        ("reject", 2),
        ("standing", 2),
        ("edit", 1),
        ("merge", 1),
    )
    assert m.reject_reasons == (("off_topic", 1), ("spam", 1))
    assert (m.muted, m.banned, m.actors) == (1, 1, 3)


def test_json_shape() -> None:
    body = as_json(report(), "https://sitecast.example")
    assert body["attendance"]["peak_at"] == "1970-01-01T00:20:00Z"
    assert body["attendance"]["live_minutes"] == 105.0 and body["attendance"]["average_live_minutes"] == 21.0
    assert body["questions"]["answer_rate"] == 0.5 and body["questions"]["submitted"] == 9
    assert body["questions"]["top"][0]["link"] == "https://sitecast.example/e/scripted/archive?q=3"
    assert body["questions"]["by_topic"][3] == {
        "topic": None,
        "submitted": 2,
        "pre_submitted": 0,
        "approved": 0,
        "answered": 0,
        "rejected": 1,
        "merged": 0,
        "pending": 1,
        "answer_rate": 0.0,
    }
    assert body["moderation"]["actions"]["approve"] == 5


def test_visits_to_an_event_that_never_went_live_are_no_live_viewers() -> None:
    # Regression: "4 live viewers, 17 s watch time" beside "has not gone live yet".
    event = EventFacts("x", "live_qa", "scheduled", "x", "", (), None, None, None)
    r = build(event, PEOPLE, (), (), SPANS[:3], now=0, grace=GRACE, groups=GROUPS)
    assert r.attendance.window is None and r.attendance.live_seconds == 0
    assert r.attendance.live_viewers == 0 and r.attendance.replay_viewers == 0 and r.attendance.peak == 0
    assert r.questions.median_answer_seconds is None and r.questions.top == ()


def test_a_live_event_runs_to_now() -> None:
    event = EventFacts("x", "live_qa", "live", "x", "", (), None, 1000, None)
    assert event.live_window(now=2000) == (1000, 2000)
    assert event.live_window(now=500) == (1000, 1000)
