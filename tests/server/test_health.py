"""/healthz, /metrics (Prometheus text) and the OpenAPI document."""

from __future__ import annotations

import httpx


async def test_healthz_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "ok"}


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/events")
    response = await client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert 'sitecast_http_requests_total{method="GET",route="/api/v1/events",status="200"}' in response.text
    assert "# TYPE sitecast_http_request_seconds histogram" in response.text


async def test_openapi_describes_every_api_route(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    assert set(paths["/api/v1/events"]) == {"get", "post"}
    assert "patch" in paths["/api/v1/events/{slug}"]
    assert paths["/api/v1/events/{slug}/join"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    for path, ops in paths.items():
        for op in ops.values():
            for ref in _refs(op):
                assert ref.split("/")[-1] in spec["components"]["schemas"], (path, ref)
    schema = spec["components"]["schemas"]["JoinRequest"]
    assert "stakeholder" in schema["properties"]


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []
