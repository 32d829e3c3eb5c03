"""The guards that keep a biased recogniser from writing what was not said (archive/guards.py)."""

from __future__ import annotations

from archive.glossary import hotwords, vocabulary
from archive.guards import (
    checked,
    is_repeat_of,
    recites_prompt,
    repeats_a_run,
    strip_echo,
    tidy,
    too_dense,
    without_repeats,
)

PROMPTS = vocabulary(hotwords("基坑开挖答疑", "Foundation pit Q&A", ["基坑", "沉降监测"]))


def test_spaces_the_prompt_put_between_chinese_words_are_removed() -> None:
    assert tidy("基坑 开挖 引起周边建筑 沉降", "zh") == "基坑开挖引起周边建筑沉降"
    assert tidy("采用 BIM 技术 ， 很好", "zh") == "采用 BIM 技术，很好"
    assert tidy("  the  pit  ", "en") == "the pit"


def test_english_glossary_echoed_onto_a_chinese_line_is_dropped() -> None:
    line = "基坑开挖引起周边建筑沉降怎么办?shield tunnelling, retaining wall"
    assert strip_echo(line, PROMPTS) == "基坑开挖引起周边建筑沉降怎么办?"


def test_a_line_that_is_only_the_prompt_is_dropped_entirely() -> None:
    assert checked("基坑 开挖 支护 盾构", "zh", 3.0, PROMPTS) is None
    assert checked("Foundation pit Q&A", "en", 3.0, PROMPTS) is None
    # Real speech that happens to use glossary words stays.
    assert checked("基坑开挖要注意沉降监测。", "zh", 3.0, PROMPTS) == "基坑开挖要注意沉降监测。"


def test_more_text_than_the_audio_can_hold_is_refused() -> None:
    five_sentences = (
        "基坑开挖引起周边建筑沉降怎么办。" * 1 + "盾构隧道穿越地铁保护区需要哪些措施。降水会不会导致邻近建筑开裂。"
    )
    assert too_dense(five_sentences, 3.0)
    assert checked(five_sentences, "zh", 3.0) is None
    assert checked(five_sentences, "zh", 8.0) == five_sentences


def test_a_loop_and_a_restarted_sentence_are_never_shown_twice() -> None:
    assert without_repeats("The pit is safe. The pit is safe.") == "The pit is safe."
    assert without_repeats("The foundation pit must be monitored every day. The foundation") == (
        "The foundation pit must be monitored every day."
    )
    assert checked("谢谢。" * 20, "zh", 30.0) == "谢谢。"
    assert checked("基坑沉降" * 15, "zh", 30.0) is None  # compresses like a loop, not like language
    assert is_repeat_of("基坑 开挖。", ["基坑开挖。"])


def test_prompt_words_strung_together_in_a_loop_without_separators_are_refused() -> None:
    # Seen from the live recogniser on espeak-ng pinyin speech at 80 words a minute, biased: it passed
    # the compression, density and echo checks (one clause, no separators).
    line = "基坑开挖阴基周边天周沉降监测盾构隧道降水沉降监测盾构隧道降水沉降监测盾构隧道降水沉降监测"
    assert repeats_a_run(line) and checked(line, "zh", 8.0, PROMPTS) is None
    # A word said twice, or three times in different words, is speech.
    assert checked("沉降监测很重要，沉降监测要每天做。", "zh", 4.0, PROMPTS) is not None
    assert not repeats_a_run("监测点、监测数据和监测报告都要检查。")
    assert not repeats_a_run("the other further there these three")


def test_prompt_terms_strung_together_without_separators_are_the_prompt_recited() -> None:
    # Seen from the live recogniser, biased, on espeak-ng pinyin speech of "降水会导致邻近管线沉降".
    recited = "土下工程盾构隧道降水地下水沉降监测点预警值轨道交通地铁"
    assert recites_prompt(recited, PROMPTS) and checked(recited, "zh", 6.0, PROMPTS) is None
    # Sentences a presenter says, dense with the trade's words, stay.
    for said in (
        "住宅工程渗漏和开裂是常见的质量通病。",
        "施工单位每天要报送沉降监测数据。",
        "盾构隧道穿越地铁保护区需要加强监测。",
        "基坑开挖引起周边建筑沉降怎么办？",
    ):
        assert not recites_prompt(said, PROMPTS), said
        assert checked(said, "zh", 4.0, PROMPTS) == said
