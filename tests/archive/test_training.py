"""Training records and certificate codes."""

from __future__ import annotations

import re

from archive.report import build
from archive.training import Rule, format_code, new_code, normalise_code, records
from tests.archive.scripted import ACTIONS, EVENT, GRACE, GROUPS, PEOPLE, QUESTIONS, SPANS


def watch():  # type: ignore[no-untyped-def]
    return build(EVENT, PEOPLE, QUESTIONS, ACTIONS, SPANS, now=100_000.0, grace=GRACE, groups=GROUPS).watch


ASKED = {1: 2, 2: 2, 3: 2, 4: 1, 5: 1, 6: 1}


def test_live_and_replay_both_count_when_the_rule_says_so() -> None:
    out = records(PEOPLE, watch(), ASKED, Rule(min_minutes=30, counts_replay=True))
    # 李工 3800 s (live 3200 + replay 600), 王工 2000 s, 张工 1800 s (replay only), 赵工 0 s but asked
    assert [(r.name, r.counted_seconds, r.minutes, r.eligible) for r in out] == [
        ("李工", 3800, 63, True),
        ("王工", 2000, 33, True),
        ("张工", 1800, 30, True),
        ("赵工", 0, 0, False),
        ("钱工", 0, 0, False),
    ]
    assert (out[0].organisation, out[0].stakeholder, out[0].questions) == ("某设计院", "design", 2)
    assert (out[0].live_seconds, out[0].replay_seconds) == (3200, 600)


def test_live_only_rule() -> None:
    out = records(PEOPLE, watch(), ASKED, Rule(min_minutes=30, counts_replay=False))
    assert [(r.name, r.minutes, r.eligible) for r in out[:3]] == [
        ("李工", 53, True),
        ("王工", 33, True),
        ("张工", 0, False),
    ]


def test_the_anonymous_participant_gets_no_record() -> None:
    out = records(PEOPLE, watch(), ASKED, Rule(min_minutes=0, counts_replay=True))
    assert 4 not in {r.participant_id for r in out}


def test_codes_are_random_typable_and_forgiving() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200 and all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{16}", c) for c in codes)
    code = "0123456789ABCDEF"
    assert format_code(code) == "0123-4567-89AB-CDEF"
    assert normalise_code("o123-4567 89ab-cdef") == code
    assert normalise_code("i1L1-1111-1111-1111") == "1" * 16
    assert normalise_code("0123-4567") is None and normalise_code("U123456789ABCDEF") is None
