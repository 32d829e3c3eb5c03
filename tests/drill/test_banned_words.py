"""Drill: the banned-word disguises of the outside probe, asked through the public HTTP API.

With banned 违禁词, 赌博, 代开发票 and fuck on a post-moderated event, every disguise is held for a moderator
(never published) with the text kept as typed; ordinary questions still publish at once.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.moderation.banned_variants import BANNED, CLEAN, variants


@pytest.fixture
async def event(client: httpx.AsyncClient) -> dict[str, Any]:
    slug = unique_slug("words")
    made = await client.post(
        "/api/v1/events", json={"slug": slug, "title_zh": "违禁词演练", "moderation_mode": "post"}, headers=ADMIN
    )
    assert made.status_code == 201, made.text
    base = f"/api/v1/events/{slug}"
    assert (await client.post(f"{base}/state", json={"state": "live"}, headers=ADMIN)).status_code == 200
    settings = await client.patch(
        f"{base}/moderation", json={"banned_words": list(BANNED), "rate_limit_seconds": 0}, headers=ADMIN
    )
    assert settings.status_code == 200, settings.text
    joined = (await client.post(f"{base}/join", json={"name": "探针"})).json()
    return {"base": base, "viewer": {"Authorization": f"Bearer {joined['token']}"}}


def as_stored(typed: str) -> str:
    # The edge normalises to NFC and trims (server/validation.py): canonically the same text.
    return unicodedata.normalize("NFC", typed).strip()


async def test_every_disguise_is_held_and_kept_as_typed(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    held: dict[int, str] = {}
    for label, text, word in variants():
        typed = f"请问{text}怎么处理？" if not word.isascii() else f"what the {text} is this?"
        response = await client.post(f"{event['base']}/questions", json={"text": typed}, headers=event["viewer"])
        assert response.status_code == 201, (label, response.text)
        body = response.json()
        assert (body["status"], body["held_reason"]) == ("pending", "banned_word"), label
        assert body["text"] == as_stored(typed), label
        held[body["id"]] = as_stored(typed)
    assert len(held) >= 27
    public = (await client.get(f"{event['base']}/questions")).json()["questions"]
    assert not {q["id"] for q in public} & set(held)
    staff = (await client.get(f"{event['base']}/questions", headers=ADMIN)).json()["questions"]
    assert {q["id"]: q["text"] for q in staff if q["id"] in held} == held


async def test_ordinary_questions_still_publish(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    for text in CLEAN:
        response = await client.post(f"{event['base']}/questions", json={"text": text}, headers=event["viewer"])
        assert response.status_code == 201, response.text
        assert response.json()["held_reason"] in (None, "duplicate"), (text, response.json())


@pytest.mark.parametrize("typed", ["加我 example . com 详谈", "hxxp://evil[.]com 有资料", "www。example。com 看看"])
async def test_disguised_links_meet_the_link_policy(
    client: httpx.AsyncClient, event: dict[str, Any], typed: str
) -> None:
    held = await client.post(f"{event['base']}/questions", json={"text": typed}, headers=event["viewer"])
    assert (held.json()["status"], held.json()["held_reason"]) == ("pending", "link"), held.text
    assert held.json()["text"] == typed
    await client.patch(f"{event['base']}/moderation", json={"link_policy": "reject"}, headers=ADMIN)
    refused = await client.post(f"{event['base']}/questions", json={"text": typed + "！"}, headers=event["viewer"])
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "link", refused.text
