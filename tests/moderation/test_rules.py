import pytest

from moderation.model import Actor, Role, Standing
from moderation.rules import Action, LinkPolicy, RulesConfig, Verdict, banned_word, check, find_link
from server.chinese import to_simplified
from tests.moderation.banned_variants import BANNED, CLEAN, CLEAN_EXTRA_BANNED, variants

VIEWER = Actor(1, Role.VIEWER)
EXPERT = Actor(2, Role.EXPERT)
CFG = RulesConfig(banned_words=frozenset({"ass", "发票", "FOO"}))


def judge(
    text: str,
    actor: Actor = VIEWER,
    cfg: RulesConfig = CFG,
    *,
    last: float | None = None,
    existing: list[tuple[int, str]] | None = None,
) -> Verdict:
    return check(text, actor, cfg, now=100.0, last_asked_at=last, existing=existing or [])


def test_clean_question_is_allowed() -> None:
    assert judge("基坑开挖深度超过五米需要专家论证吗？") == Verdict(Action.ALLOW, None)


def test_length_counts_characters_after_strip() -> None:
    assert judge("  好  ").reason == "too_short"
    assert judge("好的").action is Action.ALLOW
    assert judge("字" * 500).action is Action.ALLOW
    long = judge("字" * 501)
    assert (long.action, long.reason) == (Action.REJECT, "too_long")


@pytest.mark.parametrize("standing", [Standing.MUTED, Standing.BANNED])
def test_muted_and_banned_are_rejected(standing: Standing) -> None:
    v = judge("a real question", Actor(1, Role.VIEWER, standing))
    assert (v.action, v.reason) == (Action.REJECT, standing.value)


def test_length_is_checked_before_standing() -> None:
    assert judge("x", Actor(1, Role.VIEWER, Standing.BANNED)).reason == "too_short"


def test_rate_limit_for_viewers_with_retry_after() -> None:
    v = judge("another question", last=90.0)
    assert (v.action, v.reason, v.retry_after) == (Action.REJECT, "rate_limited", 20.0)
    assert judge("another question", last=70.0).action is Action.ALLOW
    assert judge("another question", EXPERT, last=99.0).action is Action.ALLOW


@pytest.mark.parametrize(
    ("text", "word"),
    [("you ASS", "ass"), ("这是ａｓｓ吗", "ass"), ("代开发票请联系", "发票"), ("foo!", "FOO")],
)
def test_banned_words_hold_with_the_word(text: str, word: str) -> None:
    assert judge(text) == Verdict(Action.HOLD, "banned_word", word)


@pytest.mark.parametrize("text", ["the class of 2024", "passive measures", "assess the risk"])
def test_ascii_banned_words_match_whole_words_only(text: str) -> None:
    assert judge(text).action is Action.ALLOW


def test_banned_word_edge_cases() -> None:
    assert banned_word("a $$ sign", frozenset({"$$"})) == "$$"
    assert banned_word("a$$b", frozenset({"$$"})) == "$$"
    assert banned_word("anything", frozenset({"  "})) is None
    assert banned_word("f*ck you", frozenset({"f*ck"})) == "f*ck"


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("see http://x.y/z now", "http://x.y/z"),
        ("访问www.abc.com了解", "www.abc.com了解"),
        ("visit example.com/path today", "example.com/path"),
        ("加我 example。com", "example.com"),
        ("mail me@example.com", "example.com"),
        ("ｗｗｗ．ａｂｃ．ｃｏｍ", "www.abc.com"),
    ],
)
def test_links_are_found(text: str, link: str) -> None:
    assert find_link(text) == link


@pytest.mark.parametrize("text", ["file.txt", "v1.0", "e.g. pits", "No.1 pit", "GB50202.2018 标准"])
def test_non_links_are_not(text: str) -> None:
    assert find_link(text) is None


def test_link_policy() -> None:
    text = "details at example.com please"
    assert judge(text).reason == "link" and judge(text).action is Action.HOLD
    rejecting = RulesConfig(link_policy=LinkPolicy.REJECT)
    assert judge(text, cfg=rejecting).action is Action.REJECT
    allowing = RulesConfig(link_policy=LinkPolicy.ALLOW)
    assert judge(text, cfg=allowing).action is Action.ALLOW


def test_banned_word_comes_before_link() -> None:
    assert judge("发票 example.com").reason == "banned_word"


def test_duplicate_holds_with_the_original() -> None:
    v = judge(
        "请问基坑开挖导致周边沉降如何控制",
        existing=[(4, "盾构监测"), (8, "基坑开挖引起的周边沉降怎么控制？")],
    )
    assert (v.action, v.reason, v.duplicate_of) == (Action.HOLD, "duplicate", 8)
    assert v.detail == "0.74"


# ---- disguised banned words (issue 12) ---------------------------------------------------------------
DISGUISE_CFG = RulesConfig(banned_words=frozenset(BANNED), simplify=to_simplified)


@pytest.mark.parametrize(("label", "text", "word"), variants(), ids=[v[0] for v in variants()])
def test_disguised_banned_words_are_held(label: str, text: str, word: str) -> None:
    question = f"请问{text}怎么处理" if not word.isascii() else f"what the {text} is this"
    assert judge(question, cfg=DISGUISE_CFG) == Verdict(Action.HOLD, "banned_word", word), label


@pytest.mark.parametrize("text", CLEAN)
def test_ordinary_questions_stay_clean(text: str) -> None:
    cfg = RulesConfig(banned_words=frozenset(BANNED + CLEAN_EXTRA_BANNED), simplify=to_simplified)
    assert judge(text, cfg=cfg).action is Action.ALLOW, text


@pytest.mark.parametrize("text", ["a.s.s", "a-s-s hole", "s.b", "a\u200bs\u200bs"])
def test_short_latin_words_spelled_out_with_punctuation(text: str) -> None:
    assert banned_word(text, frozenset({"ass", "sb"})) is not None


@pytest.mark.parametrize("text", ["a s s", "s b", "as s", "ﬀuck", "oﬀ", "gl\u200bass"])
def test_short_latin_words_not_across_spaces_or_inside_words(text: str) -> None:
    assert banned_word(text, frozenset({"ass", "sb", "fu", "of"})) is None


def test_a_banned_traditional_word_also_catches_simplified() -> None:
    assert banned_word("这是赌博吗", frozenset({"賭博"}), to_simplified) == "賭博"


def test_words_with_symbols() -> None:
    # Only symbols: no skeleton, matched as typed only. With letters: their skeleton counts too.
    assert banned_word("a $ $ b", frozenset({"$$"})) is None
    assert banned_word("f * c k", frozenset({"f*ck"})) is None
    assert banned_word("f.c.k off", frozenset({"f*ck"})) == "f*ck"


def test_the_next_occurrence_is_tried_after_one_inside_a_word() -> None:
    assert banned_word("glass ass", frozenset({"ass"})) == "ass"
    assert banned_word("glass, class", frozenset({"ass"})) is None


@pytest.mark.parametrize(
    ("text", "link"),
    [
        ("see example . com now", "example.com"),
        ("hxxp://evil[.]com/x", "http://evil.com/x"),
        ("HXXPS://evil(.)com", "https://evil.com"),
        ("www。example。com", "www.example.com"),
        ("evil[dot]cn 联系", "evil.cn"),
        ("exa\u200bmple.com", "example.com"),
        ("example {.} org", "example.org"),
    ],
)
def test_disguised_links_are_found(text: str, link: str) -> None:
    assert find_link(text) == link


@pytest.mark.parametrize("text", ["I saw it. Me too", "It works. Co-ordination next", "the dot com era"])
def test_sentences_are_not_links(text: str) -> None:
    assert find_link(text) is None


def test_disguised_link_meets_the_link_policy() -> None:
    v = judge("联系 hxxp://evil[.]com 代办")
    assert (v.action, v.reason) == (Action.HOLD, "link")
