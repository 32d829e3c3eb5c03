"""Questions before the event: they wait in the moderation queue, marked pre-submitted, unless turned off."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN
from tests.server.test_questions import Party


async def test_questions_asked_before_the_start_are_pre_submitted_and_moderated(client: httpx.AsyncClient) -> None:
    party = await Party.create(client, kind="briefing", join_policy="registration", allow_anonymous=False)
    viewer = await party.viewer("王工")
    early = await party.ask(viewer, "预看房发现的问题由谁负责整改？")
    assert early.status_code == 201 and early.json()["status"] == "pending"
    staff = (await party.listing(party.mod))["questions"]
    assert [(q["id"], q["pre_submitted"], q["status"]) for q in staff] == [(early.json()["id"], True, "pending")]
    assert (await party.listing(await party.viewer("李工")))["questions"] == []  # not public until approved
    await client.post(f"{party.base}/state", json={"state": "live"}, headers=party.expert)
    later = await party.ask(await party.viewer("张工"), "装修阶段的防水闭水试验要做多久？")
    assert later.status_code == 201, later.text
    staff = {q["id"]: q["pre_submitted"] for q in (await party.listing(party.mod))["questions"]}
    assert staff == {early.json()["id"]: True, later.json()["id"]: False}


async def test_the_organiser_can_keep_questions_closed_until_the_start(client: httpx.AsyncClient) -> None:
    party = await Party.create(client)
    closed = await client.patch(f"/api/v1/events/{party.slug}", json={"pre_questions": False}, headers=ADMIN)
    assert closed.status_code == 200 and closed.json()["pre_questions"] is False
    viewer = await party.viewer()
    refused = await party.ask(viewer, "开播前可以提问吗？")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_started"
    await client.post(f"{party.base}/state", json={"state": "live"}, headers=party.expert)
    assert (await party.ask(viewer, "开播后可以提问吗？")).status_code == 201
