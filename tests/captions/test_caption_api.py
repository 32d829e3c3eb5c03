"""Caption corrections and the organiser's glossary over HTTP: who may, and what bad input gets."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ADMIN
from tests.server.test_questions import Party


@pytest.fixture
async def party(client: httpx.AsyncClient) -> Party:
    return await Party.create(client)


async def test_the_organiser_edits_the_glossary_per_language_staff_read_it_viewers_may_not(party: Party) -> None:
    http = party.client
    assert (await http.get(f"{party.base}/glossary", headers=party.mod)).json() == {"zh": [], "en": []}
    body = {"zh": ["深基坑 ", "深基坑", "钢支撑,轴力"], "en": ["steel strut", "axial\x07 force"]}
    saved = await http.put(f"{party.base}/glossary", json=body, headers=ADMIN)
    assert saved.status_code == 200, saved.text
    # Trimmed, unique, no separators or control characters a prompt would carry.
    assert saved.json() == {"zh": ["深基坑", "钢支撑 轴力"], "en": ["steel strut", "axial force"]}
    assert (await http.get(f"{party.base}/glossary", headers=party.expert)).json() == saved.json()
    assert (await http.put(f"{party.base}/glossary", json=body, headers=party.mod)).status_code == 403
    viewer = await party.viewer()
    assert (await http.get(f"{party.base}/glossary", headers=viewer)).status_code == 403


@pytest.mark.parametrize(
    "body",
    [{"zh": ["x" * 41]}, {"zh": ["词"] * 41}, {"fr": ["mot"]}, {"zh": "基坑"}, {"zh": [1]}],
)
async def test_a_bad_glossary_is_a_422_never_a_500(party: Party, body: dict[str, object]) -> None:
    response = await party.client.put(f"{party.base}/glossary", json=body, headers=ADMIN)
    assert response.status_code == 422 and response.json()["error"]["code"], response.text


async def test_correcting_a_line_needs_staff_a_known_line_and_some_text(party: Party) -> None:
    http = party.client
    viewer = await party.viewer()
    assert (await http.patch(f"{party.base}/captions/1", json={"text": "x"}, headers=viewer)).status_code == 403
    assert (await http.patch(f"{party.base}/captions/999999", json={"text": "x"}, headers=party.mod)).status_code == 404
    assert (await http.patch(f"{party.base}/captions/abc", json={"text": "x"}, headers=party.mod)).status_code == 404
    for bad in ({"text": "   "}, {"text": "x" * 501}, {}, {"text": "x", "extra": 1}):
        response = await http.patch(f"{party.base}/captions/1", json=bad, headers=party.mod)
        assert response.status_code == 422, (bad, response.text)
