"""A scripted event with known joins, questions and actions; the report's numbers are worked out by hand."""

from __future__ import annotations

from archive.attendance import LIVE, REPLAY, Span
from archive.report import Action, Asked, EventFacts, Person

GROUPS = ("owner", "survey", "design", "supervision", "construction", "testing", "authority", "association", "public")
LIVE_FROM, LIVE_TO = 1000.0, 4600.0  # an hour live
GRACE = 10.0

EVENT = EventFacts(
    slug="scripted",
    kind="briefing",
    state="ended",
    title_zh="宣贯会",
    title_en="Briefing",
    topics=("基坑", "盾构", "降水"),
    starts_at=1000.0,
    live_from=LIVE_FROM,
    live_to=LIVE_TO,
)

PEOPLE = (
    Person(1, "viewer", "王工", "某施工单位", "construction", False),
    Person(2, "viewer", "李工", "某设计院", "design", False),
    Person(3, "viewer", "张工", "某施工单位", "construction", False),
    Person(4, "viewer", "", "", "public", True),
    Person(5, "viewer", "赵工", "某建设单位", "owner", False, standing="muted"),
    Person(6, "viewer", "钱工", "某监理公司", "supervision", False, standing="banned"),
    Person(10, "moderator", "主持人", "", None, False),
    Person(11, "expert", "专家", "", None, False),
)

SPANS = (
    # 王工: two tabs overlapping, then a reconnect 5 s later (inside the grace): one visit 900–3000
    Span("p:1", LIVE, 900, 2000),
    Span("p:1", LIVE, 1500, 2500),
    Span("p:1", LIVE, 2505, 3000),
    # 李工: left for 400 s (two visits), and watched 10 minutes of the replay later
    Span("p:2", LIVE, 1000, 1600),
    Span("p:2", LIVE, 2000, 4600),
    Span("p:2", REPLAY, 10000, 10600),
    # 张工: replay only, 30 minutes
    Span("p:3", REPLAY, 20000, 21800),
    # the anonymous participant
    Span("p:4", LIVE, 1200, 1800),
    # an unregistered browser with two tabs, and an unrecognisable connection that outlived the event
    Span("v:abcdefgh", LIVE, 1000, 1300),
    Span("v:abcdefgh", LIVE, 1100, 1400),
    Span("c:1", LIVE, 4500, 5000),
    # 赵工 opened the page only after the event ended: no live time
    Span("p:5", LIVE, 5000, 6000),
)

QUESTIONS = (
    Asked(1, 1, "基坑开挖监测频率？", "answered", "基坑", 12, 1100, 1130, 1400, "每天两次", False),
    Asked(2, 2, "盾构下穿既有线的沉降控制值？", "answered", "盾构", 8, 1200, 1260, 2000, "10 mm", False),
    Asked(3, 4, "基坑降水对周边建筑的影响？", "approved", "基坑", 15, 1300, 1320, anonymous=True),
    Asked(4, 3, "降水井布置要求？", "answered", "降水", 5, 500, 600, 1600, "见规范", pre_submitted=True),
    Asked(5, 1, "午饭吃什么", "rejected", None, 0, 1500, reason_code="off_topic"),
    Asked(6, 2, "盾构沉降控制值是多少", "merged", "盾构", 0, 1250),
    Asked(7, 5, "验收程序？", "pending", None, 0, 4000),
    Asked(8, 6, "广告", "rejected", "基坑", 0, 1700, 1710, reason_code="spam"),
    Asked(9, 3, "基坑支护选型？", "pending", "基坑", 0, 700, pre_submitted=True),
)

ACTIONS = (
    *(Action("approve", 10, t) for t in (1130, 1260, 1320, 600, 1710)),
    Action("reject", 10, 1510),
    Action("reject", 10, 1720),
    Action("merge", 10, 1270),
    *(Action("answering", 11, t) for t in (1300, 1500, 1900)),
    *(Action("answered", 11, t) for t in (1400, 1600, 2000)),
    Action("standing", 10, 1719, {"standing": "banned"}),
    Action("standing", 10, 4100, {"standing": "muted"}),
    Action("edit", None, 1250),
)

# What the script makes of the questions over time: minute from the event's start → (submitted, answered),
# minutes with neither left out. The report's pure functions and its API must both say this.
BUSY_MINUTES = {
    1: (1, 0),
    3: (1, 0),
    4: (1, 0),
    5: (1, 0),
    6: (0, 1),
    8: (1, 0),
    10: (0, 1),
    11: (1, 0),
    16: (0, 1),
    50: (1, 0),
}
