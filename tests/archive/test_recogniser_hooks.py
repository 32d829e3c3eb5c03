"""The two hooks Sitecast puts on faster-whisper: zh/en-only language detection, per-language hotwords."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archive.glossary import MAX_PROMPT_CHARS, hotwords
from archive.transcript import Transcriber, _encode_hotwords, _hotwords_for, _ZhEnOnly


class FakeModel:
    is_multilingual = True

    def detect_language(self, _features: Any) -> list[list[tuple[str, float]]]:
        return [[("<|yue|>", 0.5), ("<|ja|>", 0.3), ("<|zh|>", 0.15), ("<|en|>", 0.05)]]


def test_language_detection_only_ever_answers_chinese_or_english() -> None:
    model = _ZhEnOnly(FakeModel(), ("zh", "en"))
    assert model.detect_language(None)[0][0] == ("<|zh|>", 0.15)  # Cantonese and Japanese are not options
    assert model.is_multilingual is True  # everything else passes through


def test_each_language_gets_its_own_prompt() -> None:
    words = hotwords("地下工程施工扰动安全防范直播答疑", "Underground works Q&A", ["基坑", "盾构"])
    assert words["zh"].startswith("地下工程施工扰动安全防范直播答疑 基坑 盾构 基坑 开挖")
    assert words["en"].startswith("Underground works Q&A, foundation pit")
    assert all(len(w) <= MAX_PROMPT_CHARS for w in words.values())
    encoded = _encode_hotwords(words)
    assert _hotwords_for(encoded, "zh") == words["zh"] and _hotwords_for(encoded, "en") == words["en"]
    assert _hotwords_for(encoded, "ja") is None and _hotwords_for("plain prompt", "en") == "plain prompt"
    assert "\x1e" not in hotwords("标题\x1e", "", [])["zh"]  # control characters never reach the prompt


def test_chinese_comes_out_simplified() -> None:
    transcriber = Transcriber(Path("unused"))
    assert transcriber._simplified("基坑開挖引起的沉降，監測數據") == "基坑开挖引起的沉降，监测数据"
