"""Events through the HTTP API: create, edit, schedule, list, lifecycle; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ADMIN, unique_slug


async def test_admin_creates_event_with_every_field(client: httpx.AsyncClient) -> None:
    slug = unique_slug()
    body = {
        "slug": slug,
        "kind": "briefing",
        "title_zh": "住宅工程质量提升举措宣贯会",
        "title_en": "Residential quality briefing",
        "description_zh": "预看房工作指引\n户内装修质量",
        "description_en": "Pre-handover inspection",
        "starts_at": "2026-12-01T02:00:00Z",
        "ends_at": "2026-12-01T03:30:00+00:00",
        "topics": ["渗漏", "开裂"],
        "moderation_mode": "post",
        "join_policy": "registration",
        "allow_anonymous": False,
    }
    created = await client.post("/api/v1/events", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    event = created.json()
    assert event["slug"] == slug and event["state"] == "scheduled" and event["kind"] == "briefing"
    assert event["topics"] == ["渗漏", "开裂"] and event["moderation_mode"] == "post"
    assert event["starts_at"].startswith("2026-12-01T02:00:00") and event["links"]["page"].endswith(f"/e/{slug}")
    fetched = (await client.get(f"/api/v1/events/{slug}")).json()
    assert fetched == event
    listed = (await client.get("/api/v1/events")).json()["events"]
    assert slug in [e["slug"] for e in listed]


async def test_slug_is_derived_from_english_title_and_unique(client: httpx.AsyncClient) -> None:
    title = f"Pit Safety {unique_slug()}"
    first = (await client.post("/api/v1/events", json={"title_zh": "基坑", "title_en": title}, headers=ADMIN)).json()
    second = (await client.post("/api/v1/events", json={"title_zh": "基坑", "title_en": title}, headers=ADMIN)).json()
    assert first["slug"].startswith("pit-safety-") and second["slug"] != first["slug"]


async def test_duplicate_slug_is_409(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    again = await client.post("/api/v1/events", json={"slug": event["slug"], "title_zh": "x"}, headers=ADMIN)
    assert again.status_code == 409 and again.json()["error"]["code"] == "slug_taken"


async def test_edit_and_reschedule_change_only_given_fields(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    path = f"/api/v1/events/{event['slug']}"
    edited = await client.patch(path, json={"starts_at": "2027-01-05T06:00:00Z", "topics": ["盾构"]}, headers=ADMIN)
    assert edited.status_code == 200, edited.text
    after = edited.json()
    assert after["starts_at"].startswith("2027-01-05T06:00:00") and after["topics"] == ["盾构"]
    assert after["title_zh"] == event["title_zh"] and after["title_en"] == event["title_en"]
    bad = await client.patch(
        path, json={"starts_at": "2027-01-05T06:00:00Z", "ends_at": "2027-01-05T05:00:00Z"}, headers=ADMIN
    )
    assert bad.status_code == 422


async def test_lifecycle_moves_forward_only(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    path = f"/api/v1/events/{event['slug']}/state"
    ended_early = await client.post(path, json={"state": "ended"}, headers=ADMIN)
    assert ended_early.status_code == 409
    assert "scheduled" in ended_early.json()["error"]["message"]
    live = await client.post(path, json={"state": "live"}, headers=ADMIN)
    assert live.status_code == 200 and live.json()["state"] == "live" and live.json()["went_live_at"]
    assert (await client.post(path, json={"state": "live"}, headers=ADMIN)).status_code == 409
    ended = await client.post(path, json={"state": "ended"}, headers=ADMIN)
    assert ended.json()["state"] == "ended" and ended.json()["ended_at"]
    rescheduled = await client.patch(
        f"/api/v1/events/{event['slug']}", json={"starts_at": "2030-01-01T00:00:00Z"}, headers=ADMIN
    )
    assert rescheduled.status_code == 409
    archived = await client.post(path, json={"state": "archived"}, headers=ADMIN)
    assert archived.json()["state"] == "archived"


async def test_expert_starts_and_ends_but_moderator_and_viewer_cannot(
    client: httpx.AsyncClient, event: dict[str, Any]
) -> None:
    slug = event["slug"]
    expert = (await client.post(f"/api/v1/events/{slug}/invites", json={"role": "expert"}, headers=ADMIN)).json()
    mod = (await client.post(f"/api/v1/events/{slug}/invites", json={"role": "moderator"}, headers=ADMIN)).json()
    viewer = (await client.post(f"/api/v1/events/{slug}/join", json={"name": "王工"})).json()
    for token in (mod["token"], viewer["token"]):
        denied = await client.post(
            f"/api/v1/events/{slug}/state",
            json={"state": "live"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    expert_auth = {"Authorization": f"Bearer {expert['token']}"}
    assert (
        await client.post(f"/api/v1/events/{slug}/state", json={"state": "live"}, headers=expert_auth)
    ).status_code == 200
    archive = await client.post(f"/api/v1/events/{slug}/state", json={"state": "archived"}, headers=expert_auth)
    assert archive.status_code == 403


async def test_only_admin_creates_and_edits(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    anonymous = await client.post("/api/v1/events", json={"title_zh": "x"})
    assert anonymous.status_code == 401
    wrong = await client.post("/api/v1/events", json={"title_zh": "x"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    expert = (
        await client.post(f"/api/v1/events/{event['slug']}/invites", json={"role": "expert"}, headers=ADMIN)
    ).json()
    patched = await client.patch(
        f"/api/v1/events/{event['slug']}",
        json={"title_en": "hijack"},
        headers={"Authorization": f"Bearer {expert['token']}"},
    )
    assert patched.status_code == 403
