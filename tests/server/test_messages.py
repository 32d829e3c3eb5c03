"""Catalogue messages: ICU-style plurals by each language's CLDR rules, and no English "1 minutes"."""

from __future__ import annotations

import re

from server.i18n import Catalogue
from server.messages import format_message

NOUNS = r"(minutes|votes|questions|characters|seconds|people|viewers)"


def test_plural_branches_follow_the_language() -> None:
    template = "{n, plural, =0 {no votes} one {# vote} other {# votes}}"
    assert [format_message(template, "en", n=n) for n in (0, 1, 2)] == ["no votes", "1 vote", "2 votes"]
    assert format_message("{n, plural, other {# 票}}", "zh-CN", n=1) == "1 票"


def test_placeholders_inside_branches_and_unknown_ones_are_kept() -> None:
    out = format_message(
        "{name}: {n, plural, one {# minute of {total}} other {# minutes of {total}}}", "en", name="王工", n=1, total=30
    )
    assert out == "王工: 1 minute of 30"
    assert format_message("{missing}", "en") == "{missing}"


def test_no_english_message_says_one_of_a_plural_noun() -> None:
    catalogue = Catalogue()
    bad = []
    for key, entry in catalogue.messages.items():
        text = entry.get("en", "")
        names = set(re.findall(r"\{(\w+)", text))
        filled = format_message(text, "en", **{name: 1 for name in names})
        if re.search(rf"\b1 {NOUNS}\b", filled):
            bad.append((key, filled))
    assert bad == []
