"""The post-event satisfaction survey: the rules are polls/survey.py; this stores and reads answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from polls import survey
from polls.errors import Refused
from server.auth import Principal
from server.db import models
from server.db.poll_models import SurveyAnswer
from server.errors import ApiError
from server.lifecycle import EventState
from server.polls.service import refused, respondent

STARTED = (EventState.LIVE, EventState.ENDED, EventState.ARCHIVED)


async def experts(session: AsyncSession, event: models.Event) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(models.Participant)
        .where(models.Participant.event_id == event.id, models.Participant.role == "expert")
        .order_by(models.Participant.id)
    )
    return [{"id": p.id, "name": p.name} for p in rows.scalars() if p.name]


async def status(session: AsyncSession, event: models.Event, caller: Principal | None) -> dict[str, Any]:
    answered = False
    if caller is not None and caller.participant is not None:
        found = await session.execute(
            select(SurveyAnswer.id).where(
                SurveyAnswer.event_id == event.id, SurveyAnswer.participant_id == caller.participant.id
            )
        )
        answered = found.first() is not None
    return {
        "open": event.state in STARTED,
        "answered": answered,
        "allow_anonymous": event.allow_anonymous,
        "experts": await experts(session, event),
    }


async def submit(session: AsyncSession, event: models.Event, caller: Principal, body: dict[str, Any]) -> dict[str, Any]:
    """One answer per participant: the (event, participant) unique key holds it in every process."""
    if caller.participant is None:
        raise ApiError(403, "forbidden", "join the event to answer the survey")
    who = respondent(caller, caller.participant)
    known = [e["id"] for e in await experts(session, event)]
    try:
        answer = survey.check(
            who,
            overall=body["overall"],
            usefulness=body["usefulness"],
            experts={int(k): v for k, v in body["experts"].items()},
            known_experts=known,
            comment=body["comment"],
            anonymous=body["anonymous"],
            allow_anonymous=event.allow_anonymous,
            has_answered=False,
            started=event.state in STARTED,
        )
        session.add(
            SurveyAnswer(
                event_id=event.id,
                participant_id=who.participant_id,
                overall=answer.overall,
                usefulness=answer.usefulness,
                experts={str(k): v for k, v in answer.experts.items()},
                comment=answer.comment,
                anonymous=answer.anonymous,
            )
        )
        try:
            await session.commit()
        except IntegrityError:
            raise Refused("already_answered", "you have already answered the survey") from None
    except Refused as exc:
        await session.rollback()
        raise refused(exc) from None
    return {"overall": answer.overall, "usefulness": answer.usefulness, "anonymous": answer.anonymous}


async def rows(session: AsyncSession, event: models.Event) -> list[tuple[SurveyAnswer, models.Participant]]:
    found = await session.execute(
        select(SurveyAnswer, models.Participant)
        .join(models.Participant, models.Participant.id == SurveyAnswer.participant_id)
        .where(SurveyAnswer.event_id == event.id)
        .order_by(SurveyAnswer.id)
    )
    return [(a, p) for a, p in found]


def domain(a: SurveyAnswer, p: models.Participant) -> survey.SurveyAnswer:
    return survey.SurveyAnswer(
        overall=a.overall,
        usefulness=a.usefulness,
        experts={int(k): v for k, v in (a.experts or {}).items()},
        comment=a.comment,
        anonymous=a.anonymous,
        group=p.stakeholder,
    )


def figure_json(f: survey.Figure) -> dict[str, Any]:
    return {
        "responses": f.responses,
        "distribution": list(f.distribution),
        "mean": None if f.mean is None else round(f.mean, 2),
        "satisfied": None if f.satisfied is None else round(f.satisfied, 3),
    }


async def summary(session: AsyncSession, event: models.Event) -> dict[str, Any]:
    found = await rows(session, event)
    s = survey.summarise([domain(a, p) for a, p in found])
    names = {e["id"]: e["name"] for e in await experts(session, event)}
    return {
        "responses": s.responses,
        "overall": figure_json(s.overall),
        "usefulness": figure_json(s.usefulness),
        "experts": [{"id": e, "name": names.get(e, ""), **figure_json(f)} for e, f in s.experts.items()],
        "by_group": {g: figure_json(f) for g, f in s.by_group.items()},
        "comments": list(s.comments),
    }
