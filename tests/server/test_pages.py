"""The web shell over HTTP: event list and event page in zh-CN and English, no CDN, safe headers."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from tests.conftest import ADMIN, unique_slug


async def test_event_list_in_chinese_by_default_and_english_by_browser_language(
    client: httpx.AsyncClient, event: dict[str, Any]
) -> None:
    zh = await client.get("/")
    assert zh.status_code == 200 and '<html lang="zh-CN">' in zh.text and "全部活动" in zh.text
    assert event["title_zh"] in zh.text
    en = await client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert '<html lang="en">' in en.text and "All events" in en.text and html.escape(event["title_en"]) in en.text
    weighted = await client.get("/", headers={"Accept-Language": "en;q=0.3, zh-CN;q=0.8"})
    assert '<html lang="zh-CN">' in weighted.text


async def test_language_switch_sticks_in_a_cookie(server: Any) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as browser:
        switched = await browser.get("/?lang=en", headers={"Accept-Language": "zh-CN"})
        assert '<html lang="en">' in switched.text
        again = await browser.get("/", headers={"Accept-Language": "zh-CN"})
        assert '<html lang="en">' in again.text


async def test_event_page_shows_event_and_join_form(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    page = await client.get(f"/e/{event['slug']}")
    assert page.status_code == 200
    assert event["title_zh"] in page.text and "介绍一下自己" in page.text and "监理单位" in page.text
    page_en = await client.get(f"/e/{event['slug']}?lang=en")
    assert "Introduce yourself" in page_en.text and "Site supervision" in page_en.text


async def test_user_text_is_escaped(client: httpx.AsyncClient) -> None:
    slug = unique_slug()
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    await client.post(
        "/api/v1/events",
        json={"slug": slug, "title_zh": payload, "description_zh": payload, "topics": ["<b>x</b>"]},
        headers=ADMIN,
    )
    for path in ("/", f"/e/{slug}"):
        html = (await client.get(path)).text
        assert "<script>alert(1)" not in html and "<img src=x" not in html and "<b>x</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


async def test_pages_carry_security_headers_and_load_nothing_external(
    client: httpx.AsyncClient, event: dict[str, Any]
) -> None:
    page = await client.get(f"/e/{event['slug']}")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert not url.startswith(("http:", "https:", "//")), url
        if url.startswith("/static/"):
            assert (await client.get(url)).status_code == 200, url
    assert "<script>" not in page.text  # no inline script; data goes in application/json blocks


async def test_staff_pages_need_a_staff_token(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    slug = event["slug"]
    assert (await client.get(f"/e/{slug}/moderate")).status_code == 403
    expert = (await client.post(f"/api/v1/events/{slug}/invites", json={"role": "expert"}, headers=ADMIN)).json()
    as_expert = {"Authorization": f"Bearer {expert['token']}"}
    assert (await client.get(f"/e/{slug}/studio", headers=as_expert)).status_code == 200
    assert (await client.get(f"/e/{slug}/moderate", headers=as_expert)).status_code == 403
    bad = await client.get(f"/e/{slug}/enter", params={"token": "forged"})
    assert bad.status_code == 401 and "text/html" in bad.headers["content-type"]


async def test_admin_page_asks_for_the_token_then_keeps_it_in_a_cookie(server: Any) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as browser:
        signin = await browser.get("/admin?lang=en")
        assert signin.status_code == 200 and "Organiser sign-in" in signin.text and 'name="token"' in signin.text
        wrong = await browser.get("/admin/enter", params={"token": "nope"}, follow_redirects=True)
        assert wrong.status_code == 401 and "That token is not correct" in wrong.text
        entered = await browser.get("/admin/enter", params={"token": ADMIN["Authorization"][7:]})
        assert entered.status_code == 303 and "httponly" in entered.headers["set-cookie"].lower()
        page = await browser.get("/admin")
        assert page.status_code == 200 and "/static/js/admin.js" in page.text and 'id="create-form"' in page.text
        await browser.get("/admin/leave")
        assert 'name="token"' in (await browser.get("/admin")).text


async def test_staff_pages_render_their_consoles(client: httpx.AsyncClient, event: dict[str, Any]) -> None:
    slug = event["slug"]
    mod = (await client.post(f"/api/v1/events/{slug}/invites", json={"role": "moderator"}, headers=ADMIN)).json()
    page = await client.get(f"/e/{slug}/moderate", headers={"Authorization": f"Bearer {mod['token']}"})
    assert page.status_code == 200 and "/static/js/moderate.js" in page.text and "审核台" in page.text
    studio = await client.get(f"/e/{slug}/studio?lang=en", headers=ADMIN)
    assert studio.status_code == 200 and "/static/js/studio.js" in studio.text and "Go live" in studio.text


def test_every_page_string_exists_in_both_languages() -> None:
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "web"
    catalogue: dict[str, dict[str, str]] = {}
    for path in (root / "i18n").glob("*.json"):
        catalogue.update(json.loads(path.read_text(encoding="utf-8")))
    assert all(entry.get("zh-CN") and entry.get("en") for entry in catalogue.values())
    used: set[str] = set()
    for path in [*(root / "static" / "js").glob("*.js"), *(root / "templates").glob("*.html")]:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\bt\[["']([a-z_]+\.[a-z_.0-9]+)["']\]""", text))
        used |= set(re.findall(r"""\bfmt\(["']([a-z_]+\.[a-z_.0-9]+)["']""", text))
    missing = sorted(k for k in used if k not in catalogue)
    assert not missing, f"strings used by the pages but missing from web/i18n: {missing}"


async def test_an_organiser_who_also_joined_as_a_viewer_keeps_both_roles(server: Any, event: dict[str, Any]) -> None:
    slug = event["slug"]
    async with httpx.AsyncClient(base_url=server.base_url) as browser:
        await browser.post(f"/api/v1/events/{slug}/join", json={"name": "主办方小王"})
        await browser.get("/admin/enter", params={"token": ADMIN["Authorization"][7:]})
        same_origin = {"Origin": server.base_url}
        # The viewer cookie speaks first: asking a question is done as the viewer...
        asked = await browser.post(
            f"/api/v1/events/{slug}/questions", json={"text": "主办方也来提个问题"}, headers=same_origin
        )
        assert asked.status_code == 201, asked.text
        # ...and admin work falls back to the admin cookie.
        invites = await browser.get(f"/api/v1/events/{slug}/invites")
        assert invites.status_code == 200, invites.text
        assert (await browser.get(f"/e/{slug}/moderate")).status_code == 200
        assert "/static/js/admin.js" in (await browser.get("/admin")).text
        # An explicit bearer token speaks alone: no falling back to cookies.
        viewer = await browser.post(f"/api/v1/events/{slug}/join", json={"name": "另一人"})
        token = {"Authorization": f"Bearer {viewer.json()['token']}"}
        assert (await browser.get(f"/api/v1/events/{slug}/invites", headers=token)).status_code == 403


async def test_hls_js_is_served_by_us_for_browsers_without_native_hls(client: httpx.AsyncClient) -> None:
    module = await client.get("/static/vendor/hls.mjs")
    assert module.status_code == 200, "web/node_modules is missing: run `make install`"
    assert module.headers["content-type"].startswith("text/javascript") and "export" in module.text[-2000:]
    assert (await client.get("/static/vendor/other.js")).status_code == 404
