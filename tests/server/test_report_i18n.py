"""Every string of the report and certificates is in web/i18n/report.json, in Chinese and English."""

from __future__ import annotations

import json
import re
from pathlib import Path

from server.i18n import Catalogue

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    *(ROOT / "web" / "templates").glob("report*.html"),
    *(ROOT / "web" / "templates").glob("certificate*.html"),
    ROOT / "web" / "static" / "js" / "report.js",
    *(ROOT / "server" / "reports").glob("*.py"),
    ROOT / "server" / "report_pages.py",
]
KEY = re.compile(r"""["']((?:report|cert|training)\.[a-z0-9_.]+[a-z0-9_])["']""")


def test_every_key_used_is_translated_into_both_languages() -> None:
    catalogue = json.loads((ROOT / "web" / "i18n" / "report.json").read_text(encoding="utf-8"))
    used = {k for path in SOURCES for k in KEY.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 100
    missing = sorted(k for k in used - {"report.html"} if k not in catalogue)
    assert not missing, missing
    for key, entry in catalogue.items():
        assert set(entry) == {"zh-CN", "en"} and all(entry.values()), key


def test_dynamic_keys_cover_every_status_action_and_reason() -> None:
    from moderation.model import QuestionStatus, RejectReason

    catalogue = Catalogue()
    for status in QuestionStatus:
        assert catalogue.t(f"report.status.{status.value}", "en") != f"report.status.{status.value}"
    for reason in RejectReason:
        assert catalogue.t(f"report.reason.{reason.value}", "zh-CN") != f"report.reason.{reason.value}"
    actions = ("approve", "edit", "edit_approve", "reject", "merge", "pin", "unpin", "reorder", "answering")
    for action in (*actions, "answered", "reopen", "standing", "mode", "settings"):
        assert catalogue.t(f"report.action.{action}", "en") != f"report.action.{action}"
