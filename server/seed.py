"""The two sample events from DOMAIN.md, with one expert and one moderator invite each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.db.models import Event
from server.lifecycle import EventKind, JoinPolicy
from server.schemas import EventCreate, InviteCreate
from server.services.events import create_event
from server.services.people import invite


def _next_day_at(days: int, hour_utc: int) -> datetime:
    day = datetime.now(UTC).replace(hour=hour_utc, minute=0, second=0, microsecond=0)
    return day + timedelta(days=days)


def sample_events() -> list[EventCreate]:
    qa_start = _next_day_at(1, 6)  # 14:00 in Shenzhen
    briefing_start = _next_day_at(3, 2)  # 10:00 in Shenzhen
    return [
        EventCreate(
            slug="underground-disturbance-qa",
            kind=EventKind.LIVE_QA,
            title_zh="地下工程施工扰动安全防范直播答疑",
            title_en="Live Q&A: safety against disturbance from underground construction",
            description_zh=(
                "权威专家在线解答建设、勘察、设计、监理、施工、检测各方及公众关于地下工程施工扰动的问题："
                "基坑、盾构、降水、沉降监测、轨道交通与管线保护。\n"
                "形式：技术讲座、案例分析、经验分享，随后现场答疑。"
            ),
            description_en=(
                "Experts answer questions from owners, survey, design, supervision, contractors, testing agencies "
                "and the public on managing the disturbance underground works cause next to live sites.\n"
                "Format: technical talk, case analysis, experience sharing, then questions."
            ),
            starts_at=qa_start,
            ends_at=qa_start + timedelta(hours=2),
            topics=["基坑", "盾构", "降水", "沉降监测", "轨道交通保护", "管线保护", "邻近建筑", "应急处置"],
            moderation_mode="pre",
            join_policy=JoinPolicy.OPEN,
            allow_anonymous=True,
        ),
        EventCreate(
            slug="residential-quality-briefing",
            kind=EventKind.BRIEFING,
            title_zh="住宅工程质量提升举措宣贯会",
            title_en="Briefing: measures to raise the quality of residential projects",
            description_zh=(
                "向项目负责人宣贯住宅工程业主“预看房”工作指引、规范新建住宅项目户内装修工程质量管理的通知，"
                "以及渗漏、开裂、空鼓等质量通病的防治。参会时长计入培训记录。"
            ),
            description_en=(
                "Project managers are briefed on the owners' pre-handover inspection guideline, the notice on "
                "interior fit-out quality of new homes, and prevention of common defects (leaks, cracks, hollow "
                "plaster). Watch time counts towards training records."
            ),
            starts_at=briefing_start,
            ends_at=briefing_start + timedelta(hours=1, minutes=30),
            topics=["预看房", "装修", "渗漏", "开裂", "空鼓", "防水"],
            moderation_mode="pre",
            join_policy=JoinPolicy.REGISTRATION,
            allow_anonymous=False,
            training_min_minutes=60,  # two thirds of the briefing earns the training record
        ),
    ]


async def seed_if_empty(session: AsyncSession, invite_ttl_hours: float) -> bool:
    """Seed only an empty database; True when it did."""
    if (await session.execute(select(func.count(Event.id)))).scalar_one():
        return False
    for body in sample_events():
        event = await create_event(session, body)
        await invite(session, event, InviteCreate(role="expert", name="专家 Expert"), invite_ttl_hours)
        await invite(session, event, InviteCreate(role="moderator", name="主持人 Moderator"), invite_ttl_hours)
    return True
