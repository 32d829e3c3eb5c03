"""One event's report, loaded and computed for a request (the API and the pages share it)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from archive.report import Report, iso
from archive.training import Record, format_code
from polls.scoring import Score
from server.auth import MODERATORS, Principal, require
from server.context import AppContext, ctx
from server.db.models import Certificate, Event, Participant
from server.errors import ApiError
from server.i18n import Catalogue, negotiate
from server.mail import Letter
from server.messages import format_message
from server.polls import quiz
from server.reports import certificates
from server.reports.data import EventData, load, report, training
from server.reports.present import Presenter, zone


@dataclass
class Loaded:
    c: AppContext
    event: Event
    caller: Principal | None
    data: EventData
    report: Report
    records: list[Record] | None
    certificates: dict[int, Certificate]
    quiz_rule: quiz.QuizRule = field(default_factory=quiz.QuizRule)
    quiz_scores: dict[int, Score] | None = None


async def gather(request: Request, session: AsyncSession, *, mine: bool = False) -> Loaded:
    """The event, its rows and the computed report; certificates are issued on the way when due.

    Moderators and the admin get the whole event; with `mine`, a participant gets only their own rows
    (cheap whatever the audience: one participant's spans and questions).
    """
    c = ctx(request)
    event, caller = await c.event_and_caller(request, session)
    if not mine:
        require(caller, MODERATORS)
    elif caller is None or caller.participant is None:
        raise ApiError(401, "unauthorized", "join the event first")
    now = time.time()
    only = caller.participant_id if mine and caller is not None else None
    data = await load(session, event, now=now, flush_seconds=c.settings.attendance_flush_seconds, only=only)
    # Thousands of spans take a while to merge: in a thread, so the event loop keeps serving viewers.
    built = await asyncio.to_thread(report, data, now=now, grace=c.settings.attendance_grace_seconds)
    quiz_rule, quiz_scores = await quiz.scores(session, event.id, only)
    records = training(event, data, built, quiz_rule.required_for_training, quiz_scores)
    fresh: list[Certificate] = []
    issued = await certificates.issue(session, event, records or [], fresh)
    await mail_certificates(c, session, event, fresh, request.app.state.pages.catalogue)
    return Loaded(c, event, caller, data, built, records, issued, quiz_rule, quiz_scores)


async def settle(c: AppContext, event: Event, catalogue: Catalogue) -> None:
    """At the end of an event: write the last attendance, issue the certificates and mail them, without
    waiting for someone to open the report."""
    async with c.session() as session:
        quiz_rule, quiz_scores = await quiz.scores(session, event.id)
    if event.training_min_minutes is None and not quiz_rule.required_for_training:
        return
    await c.attendance.flush()
    now = time.time()
    async with c.session() as session:
        data = await load(session, event, now=now, flush_seconds=c.settings.attendance_flush_seconds)
        built = await asyncio.to_thread(report, data, now=now, grace=c.settings.attendance_grace_seconds)
        records = training(event, data, built, quiz_rule.required_for_training, quiz_scores)
        fresh: list[Certificate] = []
        await certificates.issue(session, event, records or [], fresh)
        await mail_certificates(c, session, event, fresh, catalogue)


async def mail_certificates(
    c: AppContext, session: AsyncSession, event: Event, fresh: list[Certificate], catalogue: Catalogue
) -> None:
    """One e-mail per new certificate whose holder gave an address (only with SMTP_URL set)."""
    if not fresh or not c.mailer.enabled:
        return
    ids = [cert.participant_id for cert in fresh]
    rows = await session.execute(
        select(Participant.id, Participant.email).where(Participant.id.in_(ids), Participant.email.is_not(None))
    )
    emails = {pid: email for pid, email in rows.all() if email}
    letters = []
    for cert in fresh:
        if cert.participant_id not in emails:
            continue
        url = f"{c.settings.base_url}/certificates/{format_code(cert.code)}"
        values = {
            "name": cert.name,
            "event": event.title_zh,
            "event_en": event.title_en or event.title_zh,
            "minutes": cert.minutes,
            "code": format_code(cert.code),
            "url": url,
        }
        letters.append(
            Letter(
                to=emails[cert.participant_id],
                subject=format_message(catalogue.t("mail.subject", "zh-CN"), "zh-CN", **values)
                + " / "
                + format_message(catalogue.t("mail.subject", "en"), "en", **values),
                body=format_message(catalogue.t("mail.body", "zh-CN"), "zh-CN", **values)
                + "\n\n"
                + format_message(catalogue.t("mail.body", "en"), "en", **values),
            )
        )
    c.mailer.send_later(letters)


def presenter(request: Request) -> Presenter:
    c = ctx(request)
    return Presenter(request.app.state.pages.catalogue, negotiate(request), zone(c.settings.report_timezone))


def certificate_json(cert: Certificate, event: Event, base_url: str) -> dict[str, Any]:
    code = format_code(cert.code)
    return {
        "code": code,
        "valid": True,
        "holder": {"name": cert.name, "organisation": cert.organisation, "stakeholder": cert.stakeholder},
        "event": {
            "slug": event.slug,
            "kind": event.kind,
            "title_zh": event.title_zh,
            "title_en": event.title_en,
            "went_live_at": iso(event.went_live_at.timestamp()) if event.went_live_at else None,
        },
        "minutes": cert.minutes,
        "required_minutes": cert.required_minutes,
        "issued_at": iso(cert.issued_at.timestamp()),
        "url": f"{base_url}/certificates/{code}",
    }


def record_json(r: Record, cert: Certificate | None, base_url: str) -> dict[str, Any]:
    return {
        "participant_id": r.participant_id,
        "name": r.name,
        "organisation": r.organisation,
        "stakeholder": r.stakeholder,
        "minutes": r.minutes,
        "live_minutes": round(r.live_seconds / 60, 1),
        "replay_minutes": round(r.replay_seconds / 60, 1),
        "questions": r.questions,
        "eligible": r.eligible,
        "quiz_percent": r.quiz_percent,
        "quiz_passed": r.quiz_passed,
        "certificate": None
        if cert is None
        else {"code": format_code(cert.code), "url": f"{base_url}/certificates/{format_code(cert.code)}"},
    }


def training_json(loaded: Loaded, base_url: str) -> dict[str, Any]:
    event = loaded.event
    return {
        "min_minutes": event.training_min_minutes,
        "counts_replay": event.training_counts_replay,
        "certificates_issued": event.state in certificates.ISSUED_FROM and loaded.records is not None,
        "quiz": {
            "pass_percent": loaded.quiz_rule.pass_percent,
            "required_for_training": loaded.quiz_rule.required_for_training,
        },
        "records": [record_json(r, loaded.certificates.get(r.participant_id), base_url) for r in loaded.records or []],
    }


def own_status(loaded: Loaded) -> dict[str, Any]:
    """What a participant sees of their own training record (`gather(..., mine=True)`)."""
    event, caller = loaded.event, loaded.caller
    assert caller is not None and caller.participant is not None
    pid = caller.participant.id
    record = next((r for r in loaded.records or [] if r.participant_id == pid), None)
    cert = loaded.certificates.get(pid)
    base = loaded.c.settings.base_url
    return {
        "training": loaded.records is not None,
        "quiz_required": loaded.quiz_rule.required_for_training,
        "quiz_percent": record.quiz_percent if record else None,
        "quiz_passed": record.quiz_passed if record else None,
        "required_minutes": event.training_min_minutes,
        "counts_replay": event.training_counts_replay,
        "registered": bool(caller.participant.name) and not caller.participant.anonymous,
        "minutes": record.minutes if record else 0,
        "eligible": bool(record and record.eligible),
        "certificate": certificate_json(cert, event, base) if cert else None,
    }
