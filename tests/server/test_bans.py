"""A ban (or mute) outlives joining again from the same browser or with an earlier token; on both engines."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.support import LiveServer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def visitor() -> str:
    return uuid.uuid4().hex


class Room:
    def __init__(self, client: httpx.AsyncClient, slug: str) -> None:
        self.client = client
        self.base = f"/api/v1/events/{slug}"

    async def join(self, client: httpx.AsyncClient | None = None, **body: Any) -> dict[str, Any]:
        joined = await (client or self.client).post(f"{self.base}/join", json={"name": "游客", **body})
        assert joined.status_code == 201, joined.text
        if client is None:
            self.client.cookies.clear()  # an API client: only what the test passes links two joins
        return dict(joined.json())

    async def stand(self, participant_id: int, standing: str) -> None:
        changed = await self.client.post(
            f"{self.base}/participants/{participant_id}/standing", json={"standing": standing}, headers=ADMIN
        )
        assert changed.status_code == 200, changed.text

    async def post_join(self, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        response = await self.client.post(f"{self.base}/join", json=body, headers=headers)
        self.client.cookies.clear()
        return response

    async def ask(self, token: str, text: str = "基坑支护结构的变形监测频率怎么定？") -> httpx.Response:
        return await self.client.post(f"{self.base}/questions", json={"text": text}, headers=bearer(token))


@pytest.fixture
async def room(client: httpx.AsyncClient) -> Room:
    slug = unique_slug("ban")
    made = await client.post("/api/v1/events", json={"slug": slug, "title_zh": "封禁演练"}, headers=ADMIN)
    assert made.status_code == 201, made.text
    room = Room(client, slug)
    await client.post(f"{room.base}/state", json={"state": "live"}, headers=ADMIN)
    await client.patch(f"{room.base}/moderation", json={"rate_limit_seconds": 0}, headers=ADMIN)
    return room


async def test_rejoining_from_the_same_browser_keeps_the_ban(room: Room) -> None:
    browser = visitor()
    first = await room.join(visitor=browser)
    await room.stand(first["participant_id"], "banned")
    again = await room.join(visitor=browser)
    assert again["participant_id"] != first["participant_id"] and again["standing"] == "banned"
    refused = await room.ask(again["token"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "banned"


async def test_rejoining_with_the_old_cookie_keeps_the_ban(server: LiveServer, room: Room) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as browser:  # keeps the event cookie
        first = await room.join(browser)
        await room.stand(first["participant_id"], "banned")
        again = await room.join(browser)  # no visitor id: storage was cleared, the cookie was not
        assert again["standing"] == "banned"


async def test_rejoining_with_an_old_bearer_token_keeps_a_mute(room: Room) -> None:
    first = await room.join()
    await room.stand(first["participant_id"], "muted")
    again = await room.post_join({"name": "换个名字"}, bearer(first["token"]))
    assert again.json()["standing"] == "muted"
    assert (await room.ask(again.json()["token"])).json()["error"]["code"] == "muted"


async def test_a_chain_of_rejoins_is_banned_and_restored_as_one(room: Room) -> None:
    browser = visitor()
    first = await room.join(visitor=browser)
    second = await room.join(visitor=browser)
    third = await room.post_join({"name": "三号"}, bearer(second["token"]))
    third_token = third.json()["token"]
    asked = await room.ask(third_token)
    assert asked.status_code == 201
    await room.stand(first["participant_id"], "banned")  # the moderator saw only the first
    audit = (await room.client.get(f"{room.base}/audit", headers=ADMIN)).json()["entries"]
    banned = {e["participant_id"] for e in audit if e["action"] == "standing" and e["after"] == {"standing": "banned"}}
    assert banned == {first["participant_id"], second["participant_id"], third.json()["participant_id"]}
    assert (await room.ask(second["token"])).status_code == 403
    assert (await room.ask(third_token)).status_code == 403
    staff = (await room.client.get(f"{room.base}/questions", headers=ADMIN)).json()["questions"]
    assert asked.json()["id"] not in {q["id"] for q in staff if q["status"] in ("pending", "approved")}
    await room.stand(second["participant_id"], "active")
    assert (await room.ask(first["token"], "盾构始发端头加固范围如何确定？")).status_code == 201


async def test_another_browser_is_another_person(room: Room) -> None:
    """What a ban cannot stop: a new browser profile (new visitor id, no cookie) is a stranger."""
    first = await room.join(visitor=visitor())
    await room.stand(first["participant_id"], "banned")
    stranger = await room.join(visitor=visitor())
    assert stranger["standing"] == "active"
    assert (await room.ask(stranger["token"])).status_code == 201


async def test_tokens_of_another_event_or_forged_do_not_link(client: httpx.AsyncClient, room: Room) -> None:
    other_slug = unique_slug("ban")
    await client.post("/api/v1/events", json={"slug": other_slug, "title_zh": "另一场"}, headers=ADMIN)
    elsewhere = (await client.post(f"/api/v1/events/{other_slug}/join", json={"name": "x"})).json()
    client.cookies.clear()
    joined = await room.post_join({"name": "y"}, bearer(elsewhere["token"]))
    assert joined.status_code == 201 and joined.json()["standing"] == "active"
    forged = await room.post_join({"name": "y"}, bearer("forged.token"))
    assert forged.status_code == 201 and forged.json()["standing"] == "active"


@pytest.mark.parametrize("bad", ["short", "x" * 41, "有中文的访客标识符号", "a b c d e f g h"])
async def test_visitor_id_is_checked(room: Room, bad: str) -> None:
    response = await room.post_join({"name": "z", "visitor": bad}, {})
    assert response.status_code == 422
