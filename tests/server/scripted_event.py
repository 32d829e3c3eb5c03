"""The scripted event of tests/archive/scripted.py, played through the real API and the attendance recorder.

Questions, moderation and answers go through HTTP; joins and leaves go through the server's own recorder
(and a second recorder standing in for another process); then the times are pinned to the script's, so the
report's numbers are known exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from server.attendance import AttendanceRecorder
from server.db.models import Event, Question
from tests.server.test_questions import Party, bearer
from tests.support import LiveServer

BASE = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


@dataclass
class Scripted:
    party: Party
    event_id: int
    people: dict[str, dict[str, str]]
    questions: dict[str, int] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.party.slug


async def play(server: LiveServer, client: httpx.AsyncClient, **event: Any) -> Scripted:
    party = await Party.create(client, kind="briefing", topics=["基坑", "盾构", "降水"], **event)
    moderation = await client.patch(f"{party.base}/moderation", json={"rate_limit_seconds": 0}, headers=party.mod)
    assert moderation.status_code == 200, moderation.text
    people = {
        "wang": await party.viewer("王工", organisation="某施工单位", stakeholder="construction"),
        "li": await party.viewer("李工", organisation="某设计院", stakeholder="design"),
        "zhang": await party.viewer("张工", organisation="某施工单位", stakeholder="construction"),
        "anon": await party.viewer("", organisation="", stakeholder="public", anonymous=True),
        "zhao": await party.viewer("赵工", organisation="某建设单位", stakeholder="owner"),
        "qian": await party.viewer("钱工", organisation="某监理公司", stakeholder="supervision"),
    }
    db = server.app.state.ctx.db
    async with db.session() as session:
        event_id = (await session.execute(select(Event.id).where(Event.slug == party.slug))).scalar_one()
    s = Scripted(party, event_id, people)

    async def ask(key: str, who: str, text: str, **extra: Any) -> None:
        response = await party.ask(people[who], text, **extra)
        assert response.status_code == 201, response.text
        s.questions[key] = response.json()["id"]

    async def act(who: dict[str, str], key: str, action: str, **extra: Any) -> None:
        response = await party.act(who, s.questions[key], action, **extra)
        assert response.status_code == 200, response.text

    # Before the event: two questions in advance, one approved.
    await ask("q4", "zhang", "降水井布置有哪些要求？", topic="降水")
    await ask("q9", "zhang", "基坑支护结构如何选型？", topic="基坑")
    await act(party.mod, "q4", "approve")
    live = await client.post(f"{party.base}/state", json={"state": "live"}, headers=party.expert)
    assert live.status_code == 200, live.text

    await ask("q1", "wang", "基坑开挖期间监测频率如何确定？", topic="基坑")
    await ask("q2", "li", "盾构下穿既有地铁线时沉降控制值是多少？", topic="盾构")
    await ask("q6", "li", "盾构施工引起的地表沉降允许多大？", topic="盾构")
    await ask("q3", "anon", "<b>基坑降水</b>对周边老旧建筑有什么影响？", topic="基坑", anonymous=True)
    await ask("q5", "wang", "今天午饭吃什么")
    await ask("q8", "qian", "专业代办各类资质证书", topic="基坑")
    await ask("q7", "zhao", "分户验收的程序是怎样的？")
    for key in ("q1", "q2", "q3", "q8"):
        await act(party.mod, key, "approve")
    await act(bearer(_admin()), "q3", "edit", text="基坑降水对周边老旧建筑有什么影响？")
    await act(party.mod, "q5", "reject", reason="off_topic")
    await act(party.mod, "q6", "merge", into=s.questions["q2"])
    for who, keys in (("wang", ("q2", "q3")), ("li", ("q1", "q3")), ("zhang", ("q1", "q3"))):
        for key in keys:
            voted = await client.put(f"{party.base}/questions/{s.questions[key]}/vote", headers=people[who])
            assert voted.status_code == 200, voted.text
    for key, answer in (
        ("q1", "一般每天两次，变形加速时加密。"),
        ("q2", "按保护区要求，一般不超过 <i>10 mm</i>。"),
        ("q4", "见相关规范。"),
    ):
        await act(party.expert, key, "answering")
        await act(party.expert, key, "answered", answer_text=answer)
    for who, standing in (("qian", "banned"), ("zhao", "muted")):
        pid = people[who]["X-Participant"]
        changed = await client.post(
            f"{party.base}/participants/{pid}/standing", json={"standing": standing}, headers=party.mod
        )
        assert changed.status_code == 200, changed.text
    ended = await client.post(f"{party.base}/state", json={"state": "ended"}, headers=party.expert)
    assert ended.status_code == 200, ended.text

    await _attendance(server, s)
    await _pin_times(server, s)
    return s


def _admin() -> str:
    from tests.support import ADMIN_TOKEN

    return ADMIN_TOKEN


async def _attendance(server: LiveServer, s: Scripted) -> None:
    a: AttendanceRecorder = server.app.state.ctx.attendance
    b = AttendanceRecorder(a.db, flush_seconds=60, grace_seconds=a.grace.total_seconds())  # "another process"
    pid = {k: int(v["X-Participant"]) for k, v in s.people.items()}
    e = s.event_id

    def visit(rec: AttendanceRecorder, who: int | None, visitor: str | None, mode: str, start: float, end: float):  # type: ignore[no-untyped-def]
        return rec, rec.joined(e, who, visitor, mode, at=at(start)), at(end)

    visits = [
        visit(a, pid["wang"], None, "live", 900, 2000),
        visit(b, pid["wang"], None, "live", 1500, 2500),
        visit(a, pid["li"], None, "live", 1000, 1600),
        visit(a, pid["li"], None, "replay", 10000, 10600),
        visit(a, pid["zhang"], None, "replay", 20000, 21800),
        visit(a, pid["anon"], None, "live", 1200, 1800),
        visit(a, None, "abcdefgh", "live", 1000, 1300),
        visit(b, None, "abcdefgh", "live", 1100, 1400),
        visit(a, None, None, "live", 4500, 5000),
        visit(a, pid["zhao"], None, "live", 5000, 6000),
    ]
    for rec, key, end in visits:
        rec.left(key, at=end)
    await a.flush()
    # Later visits of the same people: wang's reconnect 5 s after leaving, li back after 400 s.
    for rec, key, end in [
        visit(a, pid["wang"], None, "live", 2505, 3000),
        visit(a, pid["li"], None, "live", 2000, 4600),
    ]:
        rec.left(key, at=end)
    await a.flush()
    await b.close()


async def _pin_times(server: LiveServer, s: Scripted) -> None:
    times = {
        "q1": (1100, 1130, 1400),
        "q2": (1200, 1260, 2000),
        "q3": (1300, 1320, None),
        "q4": (500, 600, 1600),
        "q5": (1500, None, None),
        "q6": (1250, None, None),
        "q7": (4000, None, None),
        "q8": (1700, 1710, None),
        "q9": (700, None, None),
    }
    async with server.app.state.ctx.db.session() as session:
        await session.execute(
            update(Event).where(Event.id == s.event_id).values(went_live_at=at(1000), ended_at=at(4600))
        )
        for key, (created, approved, answered) in times.items():
            await session.execute(
                update(Question)
                .where(Question.id == s.questions[key])
                .values(
                    created_at=at(created),
                    approved_at=None if approved is None else at(approved),
                    answered_at=None if answered is None else at(answered),
                )
            )
        await session.commit()
