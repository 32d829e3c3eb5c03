"""Near-duplicate detection that works on Chinese (no spaces), English and mixed text.

Chinese is not segmented into words (that needs a dictionary, e.g. jieba); instead CJK runs become
character bigrams, which match the same words regardless of how a sentence is phrased around them.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

# Question phrasing carries no topic, so two questions that differ only in these still ask the same thing.
_ENGLISH_STOP_WORDS = (
    "a an the and or of to in on at by for from with about into as is are was were be been being do does did "
    "how what when where which who whom why can could should would will shall may might must we you i it "
    "they he she this that these those there their our your my me us any some please out"
)
_ENGLISH_STOP = frozenset(_ENGLISH_STOP_WORDS.split())
# Multi-character phrasing is removed before single characters, so 如何 goes whole.
_CHINESE_STOP_PHRASES = (
    "请问",
    "如何",
    "怎么",
    "怎样",
    "什么",
    "为什么",
    "哪些",
    "是否",
    "有没有",
    "能否",
    "可以",
    "应该",
    "我们",
    "你们",
)
_CHINESE_STOP_CHARS = frozenset("的了吗呢是在和与及或啊吧呀嘛么之对把被就都也还")

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[a-z0-9]+")
_STOP_PHRASE = re.compile("|".join(sorted(_CHINESE_STOP_PHRASES, key=len, reverse=True)))


def normalise(text: str) -> str:
    """NFKC (fullwidth → halfwidth) and case-folded, so 'ＢＩＭ' and 'bim' compare equal."""
    return unicodedata.normalize("NFKC", text).casefold()


def _cjk_grams(run: str) -> Iterable[str]:
    for piece in _STOP_PHRASE.split(run):
        chars = "".join(" " if c in _CHINESE_STOP_CHARS else c for c in piece).split()
        for chunk in chars:
            if len(chunk) == 1:
                yield chunk
            else:
                yield from (chunk[i : i + 2] for i in range(len(chunk) - 1))


# Asking compares the new text with every open question of the event: remembering each text's features
# keeps that a set intersection per question instead of re-tokenising them all (a pure function: safe).
@functools.lru_cache(maxsize=8192)
def fingerprint(text: str) -> frozenset[str]:
    """The set of features of ``text``: CJK character bigrams (unigrams for lone characters) and
    lowercase Latin/digit words, without phrasing words."""
    features: set[str] = set()
    for run in _TOKEN.findall(normalise(text)):
        if run[0].isascii():
            if run not in _ENGLISH_STOP:
                features.add(run)
        else:
            features.update(_cjk_grams(run))
    return frozenset(features)


def similarity(a: str, b: str) -> float:
    """Dice coefficient of the two fingerprints, 0.0 (nothing shared) to 1.0 (same features)."""
    return _dice(fingerprint(a), fingerprint(b))


def _dice(fa: frozenset[str], fb: frozenset[str]) -> float:
    if not fa or not fb:
        return 0.0
    return 2 * len(fa & fb) / (len(fa) + len(fb))


def find_duplicate(text: str, existing: Iterable[tuple[int, str]], threshold: float) -> tuple[int, float] | None:
    """The existing ``(id, score)`` most similar to ``text`` with score ≥ ``threshold``; lowest id on ties."""
    fa = fingerprint(text)
    best: tuple[int, float] | None = None
    for qid, other in existing:
        score = _dice(fa, fingerprint(other))
        if score < threshold:
            continue
        if best is None or score > best[1] or (score == best[1] and qid < best[0]):
            best = (qid, score)
    return best
