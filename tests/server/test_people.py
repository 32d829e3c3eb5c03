"""Invites, revocation, joining under each policy, tokens as Bearer and as cookie."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ADMIN, unique_slug


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_invite_gives_a_working_token_and_link(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    slug = event["slug"]
    made = await client.post(
        f"/api/v1/events/{slug}/invites", json={"role": "moderator", "name": "李主持"}, headers=ADMIN
    )
    assert made.status_code == 201, made.text
    invite = made.json()
    assert invite["role"] == "moderator" and invite["url"].endswith(invite["token"]) and invite["expires_at"]
    me = (await client.get(f"/api/v1/events/{slug}/me", headers=bearer(invite["token"]))).json()
    assert me["role"] == "moderator" and me["name"] == "李主持"
    listed = (await client.get(f"/api/v1/events/{slug}/invites", headers=ADMIN)).json()["invites"]
    assert [i["participant_id"] for i in listed] == [invite["participant_id"]]


async def test_opening_invite_link_sets_cookie_and_lands_on_the_right_page(server: Any, event: dict[str, Any]) -> None:
    slug = event["slug"]
    async with httpx.AsyncClient(base_url=server.base_url) as browser:
        invite = (await browser.post(f"/api/v1/events/{slug}/invites", json={"role": "expert"}, headers=ADMIN)).json()
        landed = await browser.get(f"/e/{slug}/enter", params={"token": invite["token"]}, follow_redirects=True)
        assert landed.status_code == 200 and str(landed.url).endswith(f"/e/{slug}/studio")
        assert browser.cookies.get(f"sitecast_{slug}") == invite["token"]
        me = await browser.get(f"/api/v1/events/{slug}/me")
        assert me.json()["role"] == "expert"


async def test_revoked_invite_stops_working_at_once(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    slug = event["slug"]
    invite = (await client.post(f"/api/v1/events/{slug}/invites", json={"role": "expert"}, headers=ADMIN)).json()
    revoked = await client.delete(f"/api/v1/events/{slug}/invites/{invite['participant_id']}", headers=ADMIN)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True and revoked.json()["token"] is None
    after = await client.get(f"/api/v1/events/{slug}/me", headers=bearer(invite["token"]))
    assert after.status_code == 401 and after.json()["error"]["code"] == "bad_token"
    missing = await client.delete(f"/api/v1/events/{slug}/invites/999999", headers=ADMIN)
    assert missing.status_code == 404


async def test_expired_invite_is_refused(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    slug = event["slug"]
    invite = (
        await client.post(
            f"/api/v1/events/{slug}/invites", json={"role": "expert", "ttl_hours": 0.0000001}, headers=ADMIN
        )
    ).json()
    refused = await client.get(f"/api/v1/events/{slug}/me", headers=bearer(invite["token"]))
    assert refused.status_code == 401


async def test_token_of_one_event_is_refused_on_another(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    other = (
        await client.post("/api/v1/events", json={"slug": unique_slug(), "title_zh": "另一场"}, headers=ADMIN)
    ).json()
    invite = (
        await client.post(f"/api/v1/events/{event['slug']}/invites", json={"role": "moderator"}, headers=ADMIN)
    ).json()
    wrong = await client.get(f"/api/v1/events/{other['slug']}/invites", headers=bearer(invite["token"]))
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_event"


async def test_viewer_joins_with_registration_fields_and_cookie(
    client: httpx.AsyncClient, event: dict[str, Any]
) -> None:
    slug = event["slug"]
    joined = await client.post(
        f"/api/v1/events/{slug}/join",
        json={"name": "陈工", "organisation": "深圳某监理公司", "stakeholder": "supervision"},
    )
    assert joined.status_code == 201, joined.text
    body = joined.json()
    assert body["role"] == "viewer" and body["token"]
    assert joined.cookies.get(f"sitecast_{slug}") == body["token"]
    assert "httponly" in joined.headers["set-cookie"].lower() and "samesite=lax" in joined.headers["set-cookie"].lower()
    me = (await client.get(f"/api/v1/events/{slug}/me", headers=bearer(body["token"]))).json()
    assert me == {
        "participant_id": body["participant_id"],
        "role": "viewer",
        "name": "陈工",
        "organisation": "深圳某监理公司",
        "stakeholder": "supervision",
        "anonymous": False,
        "standing": "active",
    }


async def test_anonymous_join_only_where_allowed(client: httpx.AsyncClient) -> None:
    slug = unique_slug()
    await client.post("/api/v1/events", json={"slug": slug, "title_zh": "x", "allow_anonymous": False}, headers=ADMIN)
    refused = await client.post(f"/api/v1/events/{slug}/join", json={})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "anonymous_not_allowed"
    await client.patch(f"/api/v1/events/{slug}", json={"allow_anonymous": True}, headers=ADMIN)
    allowed = await client.post(f"/api/v1/events/{slug}/join", json={})
    assert allowed.status_code == 201
    me = (await client.get(f"/api/v1/events/{slug}/me", headers=bearer(allowed.json()["token"]))).json()
    assert me["anonymous"] is True


async def test_registration_policy_requires_every_field(client: httpx.AsyncClient) -> None:
    slug = unique_slug()
    await client.post(
        "/api/v1/events",
        json={"slug": slug, "title_zh": "宣贯会", "join_policy": "registration"},
        headers=ADMIN,
    )
    missing = await client.post(f"/api/v1/events/{slug}/join", json={"name": "张三"})
    assert missing.status_code == 422
    assert {f["field"] for f in missing.json()["error"]["fields"]} == {"organisation", "stakeholder"}
    ok = await client.post(
        f"/api/v1/events/{slug}/join",
        json={"name": "张三", "organisation": "某建设集团", "stakeholder": "construction"},
    )
    assert ok.status_code == 201


async def test_passcode_policy(client: httpx.AsyncClient) -> None:
    slug = unique_slug()
    made = await client.post(
        "/api/v1/events",
        json={"slug": slug, "title_zh": "内部", "join_policy": "passcode", "passcode": "jk2026"},
        headers=ADMIN,
    )
    assert made.status_code == 201
    assert "passcode" not in made.text.replace('"join_policy":"passcode"', "")
    assert (await client.post(f"/api/v1/events/{slug}/join", json={"passcode": "wrong"})).status_code == 403
    assert (await client.post(f"/api/v1/events/{slug}/join", json={"passcode": "jk2026"})).status_code == 201
    no_code = await client.post(
        "/api/v1/events",
        json={"slug": unique_slug(), "title_zh": "x", "join_policy": "passcode"},
        headers=ADMIN,
    )
    assert no_code.status_code == 422


async def test_cookie_writes_need_our_origin(server: Any, event: dict[str, Any]) -> None:
    slug = event["slug"]
    async with httpx.AsyncClient(base_url=server.base_url) as browser:
        invite = (await browser.post(f"/api/v1/events/{slug}/invites", json={"role": "expert"}, headers=ADMIN)).json()
        await browser.get(f"/e/{slug}/enter", params={"token": invite["token"]})
        path = f"/api/v1/events/{slug}/state"
        foreign = await browser.post(path, json={"state": "live"}, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "bad_origin"
        no_origin = await browser.post(path, json={"state": "live"})
        assert no_origin.status_code == 403
        ours = await browser.post(path, json={"state": "live"}, headers={"Origin": server.base_url})
        assert ours.status_code == 200


async def test_join_is_rate_limited_per_address(server: Any) -> None:
    from tests.support import live_server

    async with (
        live_server(
            database_url=server.settings.database_url,
            media_dir=server.settings.media_dir,
            join_rate_per_minute=3,
        ) as limited,
        httpx.AsyncClient(base_url=limited.base_url) as c,
    ):
        slug = unique_slug()
        await c.post("/api/v1/events", json={"slug": slug, "title_zh": "限流"}, headers=ADMIN)
        codes = [(await c.post(f"/api/v1/events/{slug}/join", json={})).status_code for _ in range(4)]
        assert codes == [201, 201, 201, 429]
        last = await c.post(f"/api/v1/events/{slug}/join", json={})
        assert int(last.headers["retry-after"]) >= 1
