"""The phone width check every page must pass: nothing wider than a 390 px viewport (no sideways scroll)."""

from __future__ import annotations

from typing import Any

PHONE = {"width": 390, "height": 844}

# The page scrolls sideways when the document is wider than the viewport; name the widest culprits
# (elements whose right edge passes the viewport and that are not inside a scrollable box of their own).
OVERFLOW_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const inScroller = (n) => {
    for (let p = n.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  const culprits = [...document.body.querySelectorAll('*')]
    .filter((n) => n.getClientRects().length && n.getBoundingClientRect().right > width + 1 && !inScroller(n))
    .map((n) => `${n.tagName.toLowerCase()}.${n.className}#${n.id} ${Math.round(n.getBoundingClientRect().right)}`);
  return {scroll: document.documentElement.scrollWidth, width, culprits: culprits.slice(0, 8)};
}
"""


async def assert_fits_phone(page: Any, what: str) -> None:
    found = await page.evaluate(OVERFLOW_JS)
    wide, width = found["scroll"], found["width"]
    assert wide <= width, f"{what}: {wide} px wide in {width}: {found['culprits']}"
