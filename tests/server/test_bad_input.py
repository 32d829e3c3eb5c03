"""Bad input gets a clear 4xx with a message and changes nothing; never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code


async def test_unknown_event_is_404_everywhere(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/v1/events/nope-404"),
        ("PATCH", "/api/v1/events/nope-404"),
        ("POST", "/api/v1/events/nope-404/join"),
        ("GET", "/api/v1/events/nope-404/me"),
        ("POST", "/api/v1/events/nope-404/invites"),
    ]:
        response = await client.request(method, path, json={}, headers=ADMIN)
        assert_error(response, 404, "not_found")
    page = await client.get("/e/nope-404")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "malformed_json"),
        (b"[1, 2]", "application/json", 400, "malformed_json"),
        (b"\xff\xfe", "application/json", 400, "malformed_json"),
        (b"", "application/json", 400, "malformed_json"),
        (b'{"title_zh": "x"}', "text/plain", 415, "unsupported_media_type"),
        (b'{"title_zh": ""}', "application/json", 422, "invalid"),
        (b'{"title_zh": "' + "长".encode() * 201 + b'"}', "application/json", 422, "invalid"),
        (b'{"title_zh": "ok\\u0007bell"}', "application/json", 422, "invalid"),
        (b'{"title_zh": "line\\nbreak"}', "application/json", 422, "invalid"),
        (b'{"title_zh": "x", "unknown_field": 1}', "application/json", 422, "invalid"),
        (b'{"title_zh": "x", "slug": "Bad Slug!"}', "application/json", 422, "invalid"),
        (b'{"title_zh": "x", "kind": "party"}', "application/json", 422, "invalid"),
        (b'{"title_zh": "x", "starts_at": "tomorrow"}', "application/json", 422, "invalid"),
        (b'{"title_zh": "x", "starts_at": "2026-12-01T10:00:00"}', "application/json", 422, "invalid"),
        (b'{"title_zh": "x", "topics": ["a", "a"]}', "application/json", 422, "invalid"),
        (b'{"title_zh": 5}', "application/json", 422, "invalid"),
    ],
)
async def test_malformed_create_is_refused_and_nothing_written(
    client: httpx.AsyncClient, body: bytes, content_type: str, status: int, code: str
) -> None:
    before = len((await client.get("/api/v1/events")).json()["events"])
    response = await client.post("/api/v1/events", content=body, headers={**ADMIN, "Content-Type": content_type})
    assert_error(response, status, code)
    assert len((await client.get("/api/v1/events")).json()["events"]) == before


async def test_oversized_body_is_413(client: httpx.AsyncClient, server: Any) -> None:
    huge = b'{"title_zh": "' + b"x" * (server.settings.max_body_bytes + 10) + b'"}'
    response = await client.post("/api/v1/events", content=huge, headers={**ADMIN, "Content-Type": "application/json"})
    assert_error(response, 413, "too_large")


async def test_oversized_chunked_body_is_413(client: httpx.AsyncClient, server: Any) -> None:
    async def chunks():  # no Content-Length: the cap must hold while reading
        yield b'{"title_zh": "'
        for _ in range(server.settings.max_body_bytes // 1000 + 2):
            yield b"x" * 1000
        yield b'"}'

    response = await client.post(
        "/api/v1/events", content=chunks(), headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert_error(response, 413, "too_large")


async def test_join_field_limits_and_controls(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    path = f"/api/v1/events/{event['slug']}/join"
    assert_error(await client.post(path, json={"name": "x" * 81}), 422, "invalid")
    assert_error(await client.post(path, json={"name": "a\u202eb"}), 422, "invalid")
    assert_error(await client.post(path, json={"name": "ok", "stakeholder": "alien"}), 422, "invalid")
    assert_error(await client.post(path, json={"name": "ok", "role": "admin"}), 422, "invalid")


async def test_garbage_tokens_are_401_not_500(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    for token in ["x", "eyJwIjoxfQ.bad", "a" * 5000, "\u4e2d\u6587"]:
        headers = {"Authorization": f"Bearer {token}"} if token.isascii() else {}
        response = await client.get(f"/api/v1/events/{event['slug']}/me", headers=headers)
        assert response.status_code == 401


async def test_wrong_method_and_unknown_path(client: httpx.AsyncClient) -> None:
    assert_error(await client.delete("/api/v1/events"), 405)
    assert_error(await client.get("/api/v1/nothing-here"), 404)


async def test_invite_role_must_be_expert_or_moderator(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    response = await client.post(f"/api/v1/events/{event['slug']}/invites", json={"role": "admin"}, headers=ADMIN)
    assert_error(response, 422, "invalid")


async def test_revoke_with_non_numeric_id(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    response = await client.delete(f"/api/v1/events/{event['slug']}/invites/abc", headers=ADMIN)
    assert_error(response, 404)


async def test_state_change_needs_a_known_state(client: httpx.AsyncClient) -> None:
    slug = unique_slug()
    await client.post("/api/v1/events", json={"slug": slug, "title_zh": "x"}, headers=ADMIN)
    assert_error(await client.post(f"/api/v1/events/{slug}/state", json={"state": "paused"}, headers=ADMIN), 422)
