"""Drill: the outside probes of bad input, replayed on every route the OpenAPI document lists.

Nested JSON on every JSON body and absurd ids on every id parameter are a 4xx with a message on SQLite and
PostgreSQL, never a 500, and the keep-alive connection that carried them keeps working. The routes come
from the served OpenAPI document, so a new route is probed without touching this file.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
import websockets

from server.validation import MAX_ID
from tests.conftest import ADMIN, unique_slug
from tests.support import LiveServer

NESTED_BODIES = [
    b"[" * 1500,  # the probe: 1.5 KB, RecursionError in json.loads before the fix
    b"[" * 2000 + b"]" * 2000,  # well-formed, just deep
    b'{"a":' * 1000 + b"1" + b"}" * 1000,
    b'{"text": ' + b"[" * 1200 + b"]" * 1200 + b"}",
]
# Each out of the columns' range or not an id at all; MAX_ID is in range and reaches the database.
BAD_IDS = ["99999999999999999999999", str(MAX_ID + 1), str(2**63), "0", "-1", "1e3", "٣", "+5", " 5", "0x1f"]


class RawHttp:
    """HTTP/1.1 on one socket, so a test sees whether the server kept the connection open."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> RawHttp:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.writer is not None
        self.writer.close()

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        assert self.reader is not None and self.writer is not None
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await self.writer.drain()
        status_line = await asyncio.wait_for(self.reader.readline(), 10)
        assert status_line, f"{method} {path}: the server closed the connection"
        status = int(status_line.split()[1])
        got: dict[str, str] = {}
        while (line := await asyncio.wait_for(self.reader.readline(), 10)) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            got[name.strip().lower()] = value.strip()
        payload = await asyncio.wait_for(self.reader.readexactly(int(got.get("content-length", "0"))), 10)
        return status, got, payload


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def json_body_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return schema if isinstance(schema, dict) else None


def resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def example(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A minimal valid value for ``schema``: required properties only, first enum value, "x" for text."""
    schema = resolve(schema, spec)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return example(next(s for s in schema["anyOf"] if s.get("type") != "null"), spec)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example(props[name], spec) for name in schema.get("required", [])}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return "x" * max(1, schema.get("minLength", 1))


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


@pytest.fixture
async def params(client: httpx.AsyncClient) -> dict[str, str]:
    """Real values for every path parameter, so each probe reaches the code under test."""
    slug = unique_slug("drill")
    made = await client.post(
        "/api/v1/events", json={"slug": slug, "title_zh": "探针演练", "moderation_mode": "post"}, headers=ADMIN
    )
    assert made.status_code == 201, made.text
    await client.post(f"/api/v1/events/{slug}/state", json={"state": "live"}, headers=ADMIN)
    await client.patch(f"/api/v1/events/{slug}/moderation", json={"rate_limit_seconds": 0}, headers=ADMIN)
    joined = (await client.post(f"/api/v1/events/{slug}/join", json={"name": "探针"})).json()
    asked = await client.post(
        f"/api/v1/events/{slug}/questions",
        json={"text": "基坑降水对周边建筑沉降的影响如何评估？"},
        headers={"Authorization": f"Bearer {joined['token']}"},
    )
    assert asked.status_code == 201, asked.text
    poll = await client.post(
        f"/api/v1/events/{slug}/polls",
        json={"kind": "single", "prompt": "基坑支护选型？", "options": ["排桩", "地下连续墙"]},
        headers=ADMIN,
    )
    assert poll.status_code == 201, poll.text
    return {
        "slug": slug,
        "question_id": str(asked.json()["id"]),
        "poll_id": str(poll.json()["id"]),
        "line_id": "1",  # no caption line yet: the body is judged first, an unknown line is then a 404
        "member_id": "no-such-member",  # a WHIP session id: a string, not a row id
        "sequence": "0",  # a subtitles segment (media sequence number): no programme yet, so a 404
        "participant_id": str(joined["participant_id"]),
        "code": "ABCD2345EFGH6789",
        "viewer_token": joined["token"],
    }


def fill(path: str, params: dict[str, str], **override: str) -> str:
    values = {**params, **override}
    for name, value in values.items():
        if name == "viewer_token":
            continue
        path = path.replace("{" + name + "}", quote(value, safe=""))
    assert "{" not in path, f"no value for a parameter of {path}"
    return path


async def test_nested_json_is_400_on_every_json_route_and_the_connection_lives(
    server: LiveServer, spec: dict[str, Any], params: dict[str, str]
) -> None:
    targets = [(m, p) for m, p, op in operations(spec) if json_body_schema(op) is not None]
    assert len(targets) >= 10, targets  # the document lists the body routes at all
    headers = {**ADMIN, "Content-Type": "application/json"}
    async with RawHttp(server.base_url) as http:
        for method, path in targets:
            for body in NESTED_BODIES:
                status, got, payload = await http.request(method, fill(path, params), body, headers)
                if status == 403:  # a participants-only route (raising a hand): probe it as the viewer
                    viewer = {**headers, "Authorization": f"Bearer {params['viewer_token']}"}
                    status, got, payload = await http.request(method, fill(path, params), body, viewer)
                assert status == 400, (method, path, body[:20], payload[:200])
                error = json.loads(payload)["error"]
                assert error["message"], (method, path)
                assert got.get("connection", "").lower() != "close", (method, path)
        # The same socket still serves a normal request.
        status, _, _ = await http.request("GET", "/api/v1/events")
        assert status == 200


async def test_absurd_ids_are_404_on_every_id_route(
    server: LiveServer, spec: dict[str, Any], params: dict[str, str]
) -> None:
    targets = [
        (method, path, op)
        for method, path, op in operations(spec)
        if any(p["schema"].get("type") == "integer" for p in op.get("parameters", []))
    ]
    assert {p for _, p, _ in targets} >= {
        "/api/v1/events/{slug}/questions/{question_id}/actions",
        "/api/v1/events/{slug}/participants/{participant_id}/standing",
        "/api/v1/events/{slug}/invites/{participant_id}",
    }
    async with RawHttp(server.base_url) as http:
        for method, path, op in targets:
            ids = [p["name"] for p in op["parameters"] if p["schema"].get("type") == "integer"]
            schema = json_body_schema(op)
            body = json.dumps(example(schema, spec)).encode() if schema is not None else b""
            headers = {**ADMIN, "Content-Type": "application/json"} if schema is not None else ADMIN
            for bad in [*BAD_IDS, str(MAX_ID)]:
                url = fill(path, params, **dict.fromkeys(ids, bad))
                status, _, payload = await http.request(method, url, body, headers)
                if status == 403 and bad == str(MAX_ID):
                    # A participants-only route (voting): the id in range goes to the database as a viewer.
                    viewer = {**headers, "Authorization": f"Bearer {params['viewer_token']}"}
                    status, _, payload = await http.request(method, url, body, viewer)
                assert status == 404, (method, url, payload[:200])
                assert json.loads(payload)["error"]["message"]


# Slugs no event can have: a NUL byte was a PostgreSQL DataError (500) before reaching "not found".
BAD_SLUGS = ["x\x00y", "\x00", "a" * 500, "UPPER", "-dash", "..", "基坑"]


async def test_impossible_slugs_are_404_on_every_event_route(
    server: LiveServer, spec: dict[str, Any], params: dict[str, str]
) -> None:
    targets = [(m, p, op) for m, p, op in operations(spec) if "{slug}" in p]
    assert len(targets) >= 20
    pages = ["/e/{slug}", "/e/{slug}/archive", "/e/{slug}/report", "/e/{slug}/moderate", "/archive/{slug}/qa.csv"]
    async with RawHttp(server.base_url) as http:
        for method, path, op in [*targets, *(("GET", p, {}) for p in pages)]:
            schema = json_body_schema(op)
            body = json.dumps(example(schema, spec)).encode() if schema is not None else b""
            headers = {**ADMIN, "Content-Type": "application/json"} if schema is not None else ADMIN
            for bad in BAD_SLUGS:
                url = fill(path, params, slug=bad)
                status, _, payload = await http.request(method, url, body, headers)
                assert status == 404, (method, url, payload[:200])


async def test_every_number_in_a_request_body_is_bounded(spec: dict[str, Any]) -> None:
    """Each integer or number a client may send has a minimum and a maximum in the document."""
    seen = 0

    def walk(schema: dict[str, Any], where: str) -> None:
        nonlocal seen
        schema = resolve(schema, spec)
        for option in schema.get("anyOf", []):
            walk(option, where)
        if schema.get("type") in ("integer", "number"):
            seen += 1
            assert "minimum" in schema or "exclusiveMinimum" in schema, where
            assert "maximum" in schema or "exclusiveMaximum" in schema, where
        for name, sub in schema.get("properties", {}).items():
            walk(sub, f"{where}.{name}")
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{where}[]")

    for method, path, op in operations(spec):
        if (schema := json_body_schema(op)) is not None:
            walk(schema, f"{method} {path}")
    assert seen >= 4


@pytest.mark.parametrize(
    ("field", "value"),
    [("into", 99999999999999999999999), ("into", MAX_ID + 1), ("into", 0), ("into", True), ("position", 1e308)],
)
async def test_absurd_numbers_in_a_body_are_422(
    client: httpx.AsyncClient, params: dict[str, str], field: str, value: Any
) -> None:
    action = "merge" if field == "into" else "reorder"
    response = await client.post(
        f"/api/v1/events/{params['slug']}/questions/{params['question_id']}/actions",
        json={"action": action, field: value},
        headers=ADMIN,
    )
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["message"]


async def test_merge_into_a_missing_question_in_range_is_404(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await client.post(
        f"/api/v1/events/{params['slug']}/questions/{params['question_id']}/actions",
        json={"action": "merge", "into": MAX_ID},
        headers=ADMIN,
    )
    assert response.status_code == 404, response.text


@pytest.mark.parametrize(
    ("field", "value"),
    [("rate_limit_seconds", False), ("rate_limit_seconds", True), ("rate_limit_seconds", "5")],
)
async def test_booleans_and_strings_are_not_numbers(
    client: httpx.AsyncClient, params: dict[str, str], field: str, value: Any
) -> None:
    base = f"/api/v1/events/{params['slug']}"
    before = (await client.get(f"{base}/moderation", headers=ADMIN)).json()
    response = await client.patch(f"{base}/moderation", json={field: value}, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert (await client.get(f"{base}/moderation", headers=ADMIN)).json() == before


async def test_training_minutes_refuse_booleans(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await client.patch(
        f"/api/v1/events/{params['slug']}", json={"training_min_minutes": True}, headers=ADMIN
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("query", ["limit=99999999999999999999", "offset=1e400", "limit=-1", "offset=٣", "limit=true"])
async def test_absurd_paging_is_422(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/api/v1/search?q=基坑&{query}")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"]


async def _closed(ws: Any) -> tuple[int | None, str]:
    """Read until the server closes; the close code and reason it sent."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    except websockets.ConnectionClosed:
        pass
    return ws.close_code, ws.close_reason or ""


@pytest.mark.parametrize(
    ("before_hello", "frame", "reason"),
    [
        (True, "[" * 2000 + "]" * 2000, "nest"),
        (False, "[" * 2000 + "]" * 2000, "nest"),
        (False, '{"type": "ping", "x": ' + "[" * 1500 + "]" * 1500 + "}", "nest"),
        (False, "[" * 4000, "nest"),
        (False, "[1, 2]", "object"),
        (False, "not json", "JSON"),
        (False, '{"type": "hello", "last_id": true}', "last_id"),
    ],
)
async def test_websocket_closes_with_a_policy_code_and_reason(
    server: LiveServer, params: dict[str, str], before_hello: bool, frame: str, reason: str
) -> None:
    url = f"{server.ws_url}/api/v1/events/{params['slug']}/ws"
    async with websockets.connect(url) as ws:
        if not before_hello:
            await ws.send(json.dumps({"type": "hello", "last_id": None}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "snapshot"
        assert len(frame) <= 4096  # under the frame cap: the parser is what is probed
        await ws.send(frame)
        code, said = await _closed(ws)
    assert code in (1007, 1008), (code, said)
    assert reason in said


async def test_websocket_huge_last_id_is_a_resync(server: LiveServer, params: dict[str, str]) -> None:
    url = f"{server.ws_url}/api/v1/events/{params['slug']}/ws"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "hello", "last_id": 10**30}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "resync_required"
        await ws.send(json.dumps({"type": "hello", "last_id": None}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "snapshot"


async def test_websocket_frame_cap_still_holds(server: LiveServer, params: dict[str, str]) -> None:
    url = f"{server.ws_url}/api/v1/events/{params['slug']}/ws"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "hello", "last_id": None}))
        await asyncio.wait_for(ws.recv(), 10)
        await ws.send(json.dumps({"type": "ping", "pad": "x" * 5000}))
        code, _ = await _closed(ws)
    assert code == 1009


async def test_405_names_every_allowed_method(server: LiveServer, spec: dict[str, Any], params: dict[str, str]) -> None:
    async with RawHttp(server.base_url) as http:
        for path, ops in spec["paths"].items():
            documented = {m.upper() for m in ops}
            wrong = next(m for m in ("PUT", "PATCH", "DELETE", "POST", "GET") if m not in documented)
            status, got, payload = await http.request(wrong, fill(path, params), b"", ADMIN)
            assert status == 405, (wrong, path, payload[:200])
            allowed = {m.strip() for m in got["allow"].split(",")}
            assert documented <= allowed <= documented | {"HEAD"}, (path, got["allow"])
            assert json.loads(payload)["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/events"),
        ("get", "/api/v1/events/{slug}"),
        ("post", "/api/v1/events/{slug}/join"),
        ("get", "/api/v1/events/{slug}/questions"),
        ("get", "/api/v1/search"),
        ("get", "/api/v1/certificates/{code}"),
        ("get", "/api/v1/events/{slug}/archive"),
    ],
)
async def test_public_operations_do_not_demand_a_token(spec: dict[str, Any], method: str, path: str) -> None:
    assert {} in spec["paths"][path][method]["security"]


async def test_protected_operations_declare_bearer_auth(spec: dict[str, Any]) -> None:
    for method, path in [("post", "/api/v1/events"), ("post", "/api/v1/events/{slug}/questions/{question_id}/actions")]:
        assert spec["paths"][path][method]["security"] == [{"bearer": []}]


@pytest.mark.parametrize(
    "text",
    [
        "括号" + "[" * 100 + "{" * 100,
        'quote \\" then [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[',
        "反斜杠\\\\" + "[" * 60 + "]" * 60,
    ],
)
async def test_brackets_inside_strings_do_not_count(
    client: httpx.AsyncClient, params: dict[str, str], text: str
) -> None:
    body = '{"text": "' + text + '"}'
    response = await client.post(
        f"/api/v1/events/{params['slug']}/questions",
        content=body.encode(),
        headers={"Authorization": f"Bearer {params['viewer_token']}", "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["text"] == json.loads(body)["text"]
