"""How a report reads in one language and time zone: labels, times, numbers and the SVG charts."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from archive.charts import PALETTE, Series, bar_chart, time_chart
from archive.report import Counts, Report
from server.i18n import Catalogue
from server.messages import format_message
from server.stakeholders import STAKEHOLDERS

log = logging.getLogger("sitecast.reports")

STATUS_COLORS = {
    "answered": "#1f7a3d",
    "open": "#0b5cad",
    "pending": "#e8871e",
    "rejected": "#b42318",
    "merged": "#98a2b3",
}


def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown REPORT_TIMEZONE %r: showing UTC", name)
        return UTC


class Presenter:
    def __init__(self, catalogue: Catalogue, lang: str, tz: tzinfo) -> None:
        self.catalogue = catalogue
        self.lang = lang
        self.tz = tz

    def t(self, key: str) -> str:
        return self.catalogue.t(key, self.lang)

    def msg(self, key: str, **values: object) -> str:
        """A message with its values, plurals by the language's rules ("1 minute", "2 minutes")."""
        return format_message(self.t(key), self.lang, **values)

    @property
    def tz_name(self) -> str:
        return str(getattr(self.tz, "key", None) or self.tz)

    def local(self, t: float | datetime | None) -> datetime | None:
        if t is None:
            return None
        moment = t if isinstance(t, datetime) else datetime.fromtimestamp(t, UTC)
        return moment.astimezone(self.tz)

    def dt(self, t: float | datetime | None) -> str:
        moment = self.local(t)
        return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M")

    def dt_seconds(self, t: float | datetime | None) -> str:
        moment = self.local(t)
        return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")

    def date(self, t: float | datetime | None) -> str:
        moment = self.local(t)
        return "" if moment is None else moment.strftime("%Y-%m-%d")

    def clock(self, t: float | None) -> str:
        moment = self.local(t)
        return "" if moment is None else moment.strftime("%H:%M")

    def group(self, code: str | None) -> str:
        if code is None:
            return self.t("report.group.none")
        return STAKEHOLDERS.get(code, {}).get(self.lang, code)

    def topic(self, topic: str | None) -> str:
        return topic if topic else self.t("report.topic.none")

    @staticmethod
    def minutes(seconds: float | None) -> str:
        return "–" if seconds is None else f"{seconds / 60:.1f}".removesuffix(".0")

    @staticmethod
    def percent(rate: float | None) -> str:
        return "–" if rate is None else f"{rate * 100:.0f}%"

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return "–"
        whole = round(seconds)
        if whole < 60:
            return self.t("report.unit.seconds").format(n=whole)
        if whole < 3600:
            return self.t("report.unit.minutes").format(n=f"{whole / 60:.1f}".removesuffix(".0"))
        return self.t("report.unit.hours").format(n=f"{whole / 3600:.1f}".removesuffix(".0"))

    # charts ----------------------------------------------------------------------------------------
    def charts(self, report: Report) -> dict[str, str]:
        a, q = report.attendance, report.questions
        x = [t for t, _ in a.series]
        live = Series(self.t("report.live"), PALETTE[0])
        replay = Series(self.t("report.replay"), PALETTE[1])
        asked = Series(self.t("report.q.submitted"), PALETTE[0])
        answered = Series(self.t("report.q.answered"), STATUS_COLORS["answered"])
        statuses = [
            Series(self.t("report.q.answered"), STATUS_COLORS["answered"]),
            Series(self.t("report.q.open"), STATUS_COLORS["open"]),
            Series(self.t("report.q.pending"), STATUS_COLORS["pending"]),
            Series(self.t("report.q.rejected"), STATUS_COLORS["rejected"]),
            Series(self.t("report.q.merged"), STATUS_COLORS["merged"]),
        ]
        empty = self.t("report.chart.empty")
        timeline, q_step = coarsen(q.timeline, a.step)
        return {
            "viewers": time_chart(
                "chart-viewers",
                self.t("report.chart.viewers"),
                x,
                [(live, [n for _, n in a.series])],
                fmt_x=self.clock,
                step=a.step,
                empty=empty,
            ),
            "questions": time_chart(
                "chart-questions",
                self.t("report.chart.questions"),
                [t for t, _, _ in timeline],
                [(asked, [s for _, s, _ in timeline]), (answered, [n for _, _, n in timeline])],
                fmt_x=self.clock,
                step=q_step,
                kind="columns",
                empty=empty,
            ),
            "groups": bar_chart(
                "chart-groups",
                self.t("report.chart.groups"),
                [
                    (self.group(g.key), [g.live_viewers, g.replay_viewers])
                    for g in a.by_stakeholder
                    if g.joined or g.live_viewers or g.replay_viewers
                ],
                [live, replay],
                empty=empty,
            ),
            "q_groups": bar_chart(
                "chart-q-groups",
                self.t("report.chart.q_groups"),
                [(self.group(c.key), _by_status(c)) for c in q.by_stakeholder],
                statuses,
                stacked=True,
                empty=empty,
            ),
            "q_topics": bar_chart(
                "chart-q-topics",
                self.t("report.chart.q_topics"),
                [(self.topic(c.key), _by_status(c)) for c in q.by_topic],
                statuses,
                stacked=True,
                empty=empty,
            ),
        }


# Questions are sparse: columns of a few minutes each read better than sixty one-minute slivers.
QUESTION_COLUMNS = 24


def coarsen(timeline: tuple[tuple[float, int, int], ...], step: float) -> tuple[list[tuple[float, int, int]], float]:
    """Merge whole runs of buckets (1, 2, 5, 10, 15, 30 or 60 at a time) so at most QUESTION_COLUMNS remain."""
    k = next((n for n in (1, 2, 5, 10, 15, 30, 60) if len(timeline) <= n * QUESTION_COLUMNS), 60)
    out = []
    for i in range(0, len(timeline), k):
        run = timeline[i : i + k]
        out.append((run[0][0], sum(s for _, s, _ in run), sum(n for _, _, n in run)))
    return out, step * k


def _by_status(c: Counts) -> list[float]:
    still_open = c.submitted - c.answered - c.pending - c.rejected - c.merged
    return [c.answered, still_open, c.pending, c.rejected, c.merged]
