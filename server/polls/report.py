"""The report's polls, quiz and satisfaction sections: figures per poll by stakeholder group, the survey's
distribution, expert ratings and comments, with SVG charts drawn on the server (archive/charts.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from archive.charts import PALETTE, Series, bar_chart
from polls.model import PollKind
from server.db import models
from server.db.poll_models import Poll as PollRow
from server.polls import survey
from server.polls.mapping import staff_view, to_domain
from server.polls.results import PollResults
from server.reports.present import Presenter
from server.stakeholders import STAKEHOLDERS

TOP_WORDS = 15  # a report table, not a cloud: the words most answers used


def _groups(by_group: dict[str, list[int]]) -> list[str]:
    known = [g for g in STAKEHOLDERS if g in by_group]
    return known + ([""] if "" in by_group else [])


async def polls_section(
    session: AsyncSession, event: models.Event, results: PollResults, p: Presenter
) -> list[dict[str, Any]]:
    """Every launched poll with its results, and a chart of its answers stacked by stakeholder group."""
    rows = (
        await session.execute(
            select(PollRow).where(PollRow.event_id == event.id, PollRow.state != "draft").order_by(PollRow.id)
        )
    ).scalars()
    out = []
    for row in list(rows):
        poll = to_domain(row)
        r = await results.compute(session, poll, event.topics)
        item: dict[str, Any] = {**staff_view(poll), "results": r, "chart": None}
        if poll.kind != PollKind.OPEN:
            groups = _groups(r["by_group"])
            series = [Series(p.group(g or None), PALETTE[i % len(PALETTE)]) for i, g in enumerate(groups)]
            labels = (
                [p.t("poll.stars").replace("{n}", str(s)) for s in range(1, 6)]
                if poll.kind == PollKind.RATING
                else [f"{o} ✓" if poll.quiz and i in poll.correct else o for i, o in enumerate(poll.options)]
            )
            chart_rows = [(label, [r["by_group"][g][i] for g in groups]) for i, label in enumerate(labels)]
            item["chart"] = bar_chart(
                f"poll-{poll.id}", poll.prompt, chart_rows if groups else [], series, stacked=True, empty="–"
            )
        else:
            item["words"] = r["words"][:TOP_WORDS]
        out.append(item)
    return out


async def survey_section(session: AsyncSession, event: models.Event, p: Presenter) -> dict[str, Any]:
    s = await survey.summary(session, event)
    stars = [p.t("poll.stars").replace("{n}", str(n)) for n in range(1, 6)]
    series = [Series(p.t("survey.overall"), PALETTE[0]), Series(p.t("survey.usefulness"), PALETTE[1])]
    rows = [(stars[i], [s["overall"]["distribution"][i], s["usefulness"]["distribution"][i]]) for i in range(5)]
    s["chart"] = bar_chart("survey", p.t("survey.title"), rows if s["responses"] else [], series, empty="–")
    s["groups"] = [(p.group(g or None), f) for g, f in s["by_group"].items()]
    return s
