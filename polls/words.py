"""Word cloud weights from open-text answers already cut into words (the segmenter is an adapter)."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# How many words a cloud shows: more are unreadable on a phone or a projector.
CLOUD_SIZE = 40
# Words that carry no meaning in a cloud (particles, pronouns, auxiliaries; zh and en).
_STOPWORDS_TEXT = (
    "的 了 和 是 在 有 也 就 都 而 及 与 或 一个 我们 你们 他们 这个 那个 什么 怎么 如何 可以 没有 不是 还是 "
    "因为 所以 但是 非常 比较 很 太 吗 呢 吧 啊 哦 嗯 很多 一些 这些 那些 我 你 他 她 它 这 那 "
    "a an the and or of to in on for is are was were be it this that with as at by from i you we they "
    "very so not no yes"
)
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


@dataclass(frozen=True)
class Word:
    text: str
    count: int


def _meaningful(token: str) -> bool:
    if not token or token.lower() in STOPWORDS:
        return False
    if all(unicodedata.category(ch)[0] in "PZSC" for ch in token):
        return False  # punctuation, spaces, symbols
    # One Latin letter or one digit says nothing; one Chinese character sometimes does (水, 裂).
    return not (len(token) == 1 and token.isascii())


def cloud(answers: Iterable[Sequence[str]], size: int = CLOUD_SIZE) -> list[Word]:
    """The ``size`` commonest meaningful words, each counted once per answer (one person, one voice)."""
    counts: Counter[str] = Counter()
    for tokens in answers:
        counts.update({t.strip().lower() if t.isascii() else t.strip() for t in tokens if _meaningful(t.strip())})
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Word(text, count) for text, count in ranked[:size]]
