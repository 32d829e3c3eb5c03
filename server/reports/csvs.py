"""The CSV files: the report in blocks, attendance per viewer (or per span), training records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from archive.attendance import LIVE
from archive.exports import to_csv
from archive.report import Counts, Report, question_link
from archive.training import Record, format_code
from server.db.models import Certificate
from server.reports.data import EventData, ts
from server.reports.present import Presenter

Row = list[object]


def _counts_rows(p: Presenter, label: str, rows: Iterable[tuple[str, Counts]]) -> list[Row]:
    out: list[Row] = [
        [
            label,
            p.t("report.q.submitted"),
            p.t("report.q.pre_submitted"),
            p.t("report.q.approved"),
            p.t("report.q.answered"),
            p.t("report.q.rejected"),
            p.t("report.q.merged"),
            p.t("report.q.pending"),
            p.t("report.q.answer_rate"),
        ]
    ]
    for name, c in rows:
        rate = None if c.answer_rate is None else round(c.answer_rate * 100, 1)
        out.append([name, c.submitted, c.pre_submitted, c.approved, c.answered, c.rejected, c.merged, c.pending, rate])
    return out


def report_csv(p: Presenter, report: Report, base_url: str) -> bytes:
    e, a, q, m = report.event, report.attendance, report.questions, report.moderation
    when = f"{p.t('report.csv.time')} ({p.tz_name})"
    top: list[Row] = [
        [
            i,
            t.votes,
            t.text,
            p.group(t.stakeholder),
            t.asker or p.t("report.top.anonymous"),
            p.topic(t.topic),
            p.t(f"report.status.{t.status}"),
            t.answer_text,
            t.pre_submitted,
            question_link(base_url, e.slug, t.id),
        ]
        for i, t in enumerate(q.top, start=1)
    ]
    rows: list[Row] = [
        [p.t("report.title"), e.title_en if p.lang == "en" and e.title_en else e.title_zh],
        [p.t("report.went_live"), p.dt_seconds(e.live_from)],
        [p.t("report.ended"), p.dt_seconds(e.live_to)],
        [p.t("report.generated"), p.dt_seconds(report.generated_at)],
        [],
        [p.t("report.csv.summary"), p.t("report.csv.value")],
        [p.t("report.a.joined"), a.joined],
        [p.t("report.a.registered"), a.registered],
        [p.t("report.a.live_viewers"), a.live_viewers],
        [p.t("report.a.replay_viewers"), a.replay_viewers],
        [p.t("report.a.peak"), a.peak],
        [p.t("report.a.peak_at"), p.dt_seconds(a.peak_at)],
        [p.t("report.a.average"), round(a.average_concurrent, 2)],
        [p.t("report.a.live_minutes"), round(a.live_seconds / 60, 1)],
        [p.t("report.a.replay_minutes"), round(a.replay_seconds / 60, 1)],
        [
            p.t("report.a.average_minutes"),
            None if a.average_live_seconds is None else round(a.average_live_seconds / 60, 1),
        ],
        [
            p.t("report.q.median_answer_minutes"),
            None if q.median_answer_seconds is None else round(q.median_answer_seconds / 60, 1),
        ],
        [],
        [
            p.t("report.group"),
            p.t("report.a.joined"),
            p.t("report.a.live_viewers"),
            p.t("report.a.replay_viewers"),
            p.t("report.a.live_minutes"),
            p.t("report.a.replay_minutes"),
        ],
        *(
            [
                p.group(g.key),
                g.joined,
                g.live_viewers,
                g.replay_viewers,
                round(g.live_seconds / 60, 1),
                round(g.replay_seconds / 60, 1),
            ]
            for g in a.by_stakeholder
        ),
        [],
        *_counts_rows(p, p.t("report.all_questions"), [(p.t("report.total"), q.totals)]),
        [],
        *_counts_rows(p, p.t("report.group"), [(p.group(c.key), c) for c in q.by_stakeholder]),
        [],
        *_counts_rows(p, p.t("report.topic"), [(p.topic(c.key), c) for c in q.by_topic]),
        [],
        [
            p.t("report.top.rank"),
            p.t("report.top.votes"),
            p.t("report.top.question"),
            p.t("report.group"),
            p.t("report.top.asker"),
            p.t("report.topic"),
            p.t("report.top.status"),
            p.t("report.top.answer"),
            p.t("report.q.pre_submitted"),
            p.t("report.top.link"),
        ],
        *top,
        [],
        [p.t("report.m.action"), p.t("report.m.count")],
        *([p.t(f"report.action.{name}"), n] for name, n in m.actions),
        [p.t("report.m.muted"), m.muted],
        [p.t("report.m.banned"), m.banned],
        [],
        [p.t("report.m.reason"), p.t("report.m.count")],
        *([p.t(f"report.reason.{name}"), n] for name, n in m.reject_reasons),
        [],
        [when, p.t("report.chart.viewers"), p.t("report.q.submitted"), p.t("report.q.answered")],
        *([p.dt(t), n, s, done] for (t, n), (_, s, done) in zip(a.series, q.timeline, strict=True)),
    ]
    return to_csv(rows)


def attendance_csv(p: Presenter, data: EventData, report: Report) -> bytes:
    """One row per viewer: every participant who joined, and every anonymous browser that watched."""
    people = {f"p:{x.id}": x for x in data.people if x.role == "viewer"}
    asked = Counter(q.asker_id for q in data.questions)
    tz = f" ({p.tz_name})"
    rows: list[Row] = [
        [
            p.t("report.csv.viewer"),
            p.t("report.csv.participant_id"),
            p.t("report.csv.name"),
            p.t("report.csv.organisation"),
            p.t("report.group"),
            p.t("report.a.live_minutes"),
            p.t("report.a.replay_minutes"),
            p.t("report.csv.visits"),
            p.t("report.csv.first") + tz,
            p.t("report.csv.last") + tz,
            p.t("report.csv.questions"),
        ]
    ]
    keys = list(people) + sorted(k for k in report.watch if k not in people)
    for key in keys:
        w = report.watch.get(key)
        person = people.get(key)
        rows.append(
            [
                key,
                person.id if person else None,
                person.name if person else None,
                person.organisation if person else None,
                p.group(person.stakeholder if person else None),
                round(w.live / 60, 1) if w else 0,
                round(w.replay / 60, 1) if w else 0,
                w.visits if w else 0,
                p.dt_seconds(w.first) if w else None,
                p.dt_seconds(w.last) if w else None,
                asked.get(person.id, 0) if person else 0,
            ]
        )
    return to_csv(rows)


def spans_csv(p: Presenter, data: EventData) -> bytes:
    """Every recorded join and leave, as stored (several tabs and processes not merged)."""
    people = {x.id: x for x in data.people}
    tz = f" ({p.tz_name})"
    rows: list[Row] = [
        [
            p.t("report.csv.viewer"),
            p.t("report.csv.participant_id"),
            p.t("report.csv.name"),
            p.t("report.csv.mode"),
            p.t("report.csv.joined") + tz,
            p.t("report.csv.left") + tz,
            p.t("report.csv.minutes"),
        ]
    ]
    live_to = data.event.live_to
    for viewer, row, end in data.raw_spans:
        person = people.get(row.participant_id) if row.participant_id is not None else None
        start = row.started_at.timestamp()
        if row.mode == LIVE and live_to is not None:
            # Live visits of an ended event ended with it at the latest, whatever the page still had open.
            end = max(start, min(end, live_to))
        # "Still watching" only for a visit that is: open, refreshed just now, and not of an ended live part.
        going = row.ended_at is None and end >= data.now and not (row.mode == LIVE and live_to is not None)
        rows.append(
            [
                viewer,
                row.participant_id,
                person.name if person else None,
                p.t("report.live") if row.mode == LIVE else p.t("report.replay"),
                p.dt_seconds(start),
                p.t("report.csv.open") if going else p.dt_seconds(min(end, ts(row.ended_at) or end)),
                round(max(0.0, end - start) / 60, 1),
            ]
        )
    return to_csv(rows)


def training_csv(p: Presenter, records: list[Record], certificates: Mapping[int, Certificate], base_url: str) -> bytes:
    """The training records: registered participants who met the minimum."""
    rows: list[Row] = [
        [
            p.t("report.csv.name"),
            p.t("report.csv.organisation"),
            p.t("report.group"),
            p.t("training.minutes"),
            p.t("report.a.live_minutes"),
            p.t("report.a.replay_minutes"),
            p.t("report.csv.questions"),
            p.t("quiz.csv.score"),
            p.t("training.code"),
            p.t("training.verify_url"),
        ]
    ]
    for r in records:
        if not r.eligible:
            continue
        cert = certificates.get(r.participant_id)
        rows.append(
            [
                r.name,
                r.organisation,
                p.group(r.stakeholder),
                r.minutes,
                round(r.live_seconds / 60, 1),
                round(r.replay_seconds / 60, 1),
                r.questions,
                r.quiz_percent,
                format_code(cert.code) if cert else None,
                f"{base_url}/certificates/{format_code(cert.code)}" if cert else None,
            ]
        )
    return to_csv(rows)
