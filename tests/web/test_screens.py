"""Every page in both languages at desktop and phone widths, on a lively event: screenshots saved as
test artefacts (test-artifacts/), plus the basics a person relies on — every control has a name, the
keyboard reaches the page, nothing is loaded from outside, no user text runs as markup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, unique_slug
from tests.support import ADMIN_TOKEN, LiveServer
from tests.web.conftest import screenshot_path
from tests.web.phone import PHONE, assert_fits_phone

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 15_000
VIEWPORTS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
LANGS = {"zh-CN": "zh-CN", "en": "en-US"}

# Controls without an accessible name: a label, aria-label(ledby), title, or (buttons, links) their text.
UNLABELLED_JS = """
() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href], [role=tab]')]
  .filter((n) => n.offsetParent !== null)
  .filter((n) => {
    const named = (n.labels && n.labels.length) || n.getAttribute('aria-label')
      || n.getAttribute('aria-labelledby') || n.getAttribute('title');
    const texted = (n.tagName === 'BUTTON' || n.tagName === 'A' || n.getAttribute('role')) && n.textContent.trim();
    return !(named || texted);
  })
  .map((n) => n.outerHTML.slice(0, 120))
"""


# Text whose contrast with the background behind it is below WCAG AA (4.5:1; 3:1 for large or bold-large
# text). Skips text over the video, disabled controls and placeholders (not text a person must read).
LOW_CONTRAST_JS = """
() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (node) => {
    for (let n = node; n; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
      if (getComputedStyle(n).backgroundImage !== 'none') return null;
    }
    return [255, 255, 255];
  };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || !node || node.offsetParent === null) continue;
    if (node.closest('.player, [disabled], .toasts, option')) continue;
    const style = getComputedStyle(node);
    if (Number(style.opacity) < 1) continue;
    const bg = background(node);
    if (!bg) continue;
    const [a, b] = [lum(rgb(style.color).slice(0, 3)), lum(bg)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const text = walker.currentNode.textContent.trim().slice(0, 30);
    if (ratio < (large ? 3 : 4.5)) bad.push(`${ratio.toFixed(2)} ${node.className} ${text}`);
  }
  return [...new Set(bad)];
}
"""


class Lively:
    """An event in full swing, built over the API: every question state, votes, notes, a muted asker."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.slug = unique_slug("scr")
        self.api = f"/api/v1/events/{self.slug}"

    async def build(self) -> Lively:
        async with httpx.AsyncClient(base_url=self.base, timeout=20) as c:
            start = datetime.now(UTC) + timedelta(days=1)
            made = await c.post(
                "/api/v1/events",
                headers=ADMIN,
                json={
                    "slug": self.slug,
                    "title_zh": "地下工程施工扰动安全防范直播答疑",
                    "title_en": "Live Q&A: safety against disturbance from underground construction",
                    "description_zh": "权威专家在线解答基坑、盾构、降水、沉降监测、轨道交通与管线保护等问题。",
                    "description_en": "Experts answer questions on pits, shield tunnels, dewatering, metro protection.",
                    "topics": ["基坑", "盾构", "降水", "沉降监测", "轨道交通保护"],
                    "starts_at": start.isoformat(),
                    "ends_at": (start + timedelta(hours=2)).isoformat(),
                },
            )
            assert made.status_code == 201, made.text
            invite = f"{self.api}/invites"
            self.mod = (await c.post(invite, json={"role": "moderator", "name": "李主持"}, headers=ADMIN)).json()
            self.expert = (await c.post(invite, json={"role": "expert", "name": "张专家"}, headers=ADMIN)).json()
            mod = {"Authorization": f"Bearer {self.mod['token']}"}
            people = [
                ("王工", "深圳地铁集团", "owner"),
                ("<img src=x onerror=alert(1)>", "<script>alert(2)</script>设计院", "design"),
                ("赵工", "某监理公司", "supervision"),
                ("陈女士", "业主", "public"),
                ("刘工", "某施工单位", "construction"),
                ("周工", "检测中心", "testing"),
                ("孙工", "某勘察院", "survey"),
                ("吴工", "质监站", "authority"),
            ]
            texts = [
                "基坑开挖时如何控制邻近地铁隧道的变形？监测频率应该怎么定？",
                "盾构下穿既有建筑物时，沉降控制标准是多少？<b>加粗</b>",
                "降水井的布置间距如何确定？会不会引起周边地面沉降？",
                "老旧小区旁边开挖基坑，居民应注意哪些安全风险？",
                "详见 www.example.com 的方案，请专家点评",
                "基坑开挖时怎样控制邻近地铁隧道变形，监测频率怎么定",
                "<script>alert(3)</script> 管线保护有哪些常用措施？",
                "这是一条广告",
            ]
            self.viewers: list[dict[str, Any]] = []
            ids = []
            for (name, org, group), text in zip(people, texts, strict=True):
                j = (
                    await c.post(f"{self.api}/join", json={"name": name, "organisation": org, "stakeholder": group})
                ).json()
                c.cookies.clear()  # each viewer is another person: no cookie carries one join into the next
                self.viewers.append(j)
                who = {"Authorization": f"Bearer {j['token']}"}
                r = await c.post(f"{self.api}/questions", json={"text": text, "topic": "基坑"}, headers=who)
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
            act = f"{self.api}/questions/{{}}/actions"
            for i in ids[:4]:
                await c.post(act.format(i), json={"action": "approve"}, headers=mod)
            await c.post(
                act.format(ids[1]),
                json={
                    "action": "answered",
                    "answer_text": "一般按设计要求并结合监测数据确定，<i>累计</i>沉降不超过 20 mm。",
                },
                headers=mod,
            )
            await c.post(act.format(ids[0]), json={"action": "answering"}, headers=mod)
            await c.post(act.format(ids[3]), json={"action": "pin"}, headers=mod)
            await c.post(
                act.format(ids[7]), json={"action": "reject", "reason": "spam", "reason_text": "广告内容"}, headers=mod
            )
            for voter in self.viewers[4:]:
                await c.put(
                    f"{self.api}/questions/{ids[2]}/vote", headers={"Authorization": f"Bearer {voter['token']}"}
                )
            await c.patch(f"{self.api}/moderation", json={"banned_words": ["广告", "代理"]}, headers=mod)
            await c.post(
                f"{self.api}/participants/{self.viewers[7]['participant_id']}/standing",
                json={"standing": "muted"},
                headers=mod,
            )
            await c.post(
                f"{self.api}/notes", json={"text": "还剩 15 分钟，请优先回答轨道交通保护相关问题"}, headers=mod
            )
            expert = {"Authorization": f"Bearer {self.expert['token']}"}
            await c.post(f"{self.api}/notes", json={"text": "收到，下一个回答盾构的问题"}, headers=expert)
            self.ids = ids
        return self


async def check(page: Any, base: str) -> None:
    if page.viewport_size["width"] <= PHONE["width"]:
        await assert_fits_phone(page, page.url)
    unlabelled = await page.evaluate(UNLABELLED_JS)
    assert unlabelled == [], unlabelled
    low = await page.evaluate(LOW_CONTRAST_JS)
    assert low == [], low
    assert await page.evaluate("() => window.__xss") is None


@pytest.mark.parametrize("lang", list(LANGS))
async def test_every_page_in_both_languages_at_desktop_and_phone_width(
    browser: Any, page_server: LiveServer, lang: str
) -> None:
    base = page_server.base_url
    event = await Lively(base).build()
    for size, viewport in VIEWPORTS.items():
        await tour(browser, base, event, lang, size, viewport)


async def tour(browser: Any, base: str, event: Lively, lang: str, size: str, viewport: dict[str, int]) -> None:
    context = await browser.new_context(locale=LANGS[lang], viewport=viewport)
    external: list[str] = []
    errors: list[str] = []
    context.on("request", lambda r: external.append(r.url) if not r.url.startswith(base) else None)
    page = await context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: errors.append(f"dialog {d.message}"))

    await page.goto(f"{base}/?lang={lang}")
    await check(page, base)
    await page.screenshot(path=screenshot_path(f"page-events-{lang}-{size}"), full_page=True)

    # The viewer, joined as the second participant (whose name and organisation are markup payloads).
    await context.add_cookies([{"name": f"sitecast_{event.slug}", "value": event.viewers[1]["token"], "url": base}])
    await page.goto(f"{base}/e/{event.slug}")
    await page.wait_for_selector("#queue-list li.q", timeout=WAIT_MS)
    await page.wait_for_selector("#now-answering:not([hidden])")
    await check(page, base)
    await page.screenshot(path=screenshot_path(f"page-viewer-{lang}-{size}"), full_page=True)
    await page.get_by_role("tab", name="已回答" if lang == "zh-CN" else "Answered").click()
    await page.wait_for_selector("#queue-list .answer-text")
    await page.screenshot(path=screenshot_path(f"page-viewer-answered-{lang}-{size}"), full_page=True)

    # Moderator console and expert studio, through their invite links.
    await page.goto(event.mod["url"])
    await page.wait_for_selector("#review-list .mcard", timeout=WAIT_MS)
    await page.wait_for_selector("#notes li")
    await check(page, base)
    assert await page.locator("#n-pending").inner_text() == "3"
    await page.screenshot(path=screenshot_path(f"page-moderate-{lang}-{size}"), full_page=True)

    await page.goto(event.expert["url"])
    await page.wait_for_selector("#queue-list .mcard", timeout=WAIT_MS)
    await page.wait_for_function("() => document.querySelector('#preview').videoWidth > 0", timeout=WAIT_MS)
    await check(page, base)
    await page.screenshot(path=screenshot_path(f"page-studio-{lang}-{size}"), full_page=True)

    # Admin: sign-in page, then the console.
    await page.goto(f"{base}/admin")
    await check(page, base)
    await page.screenshot(path=screenshot_path(f"page-admin-signin-{lang}-{size}"), full_page=True)
    await page.goto(f"{base}/admin/enter?token={ADMIN_TOKEN}")
    await page.wait_for_selector(f'[data-slug="{event.slug}"] .invite', timeout=WAIT_MS)
    await check(page, base)
    await page.screenshot(path=screenshot_path(f"page-admin-{lang}-{size}"), full_page=True)

    # The keyboard reaches the page: the first Tab lands on the skip link.
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.className") == "skip"
    # ...and shows where it is.
    assert await page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"
    assert external == [] and errors == []
    await context.close()
