"""Chinese word segmentation for word clouds (jieba), with the event's topics and the trade glossary.

jieba's dictionary takes about a second to load, so one tokenizer is built on first use, in a worker
thread, and shared; words are cut in worker threads too, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable, Sequence

import jieba

from archive.glossary import GLOSSARY_ZH

log = logging.getLogger("sitecast.segmenter")


class Segmenter:
    def __init__(self) -> None:
        self._tokenizer: jieba.Tokenizer | None = None
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def _ready(self, words: Iterable[str]) -> jieba.Tokenizer:
        if self._tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            self._tokenizer = tokenizer
            self._add(GLOSSARY_ZH.split())
        self._add(words)
        return self._tokenizer

    def _add(self, words: Iterable[str]) -> None:
        assert self._tokenizer is not None
        for w in words:
            w = w.strip()
            if w and w not in self._known:
                self._known.add(w)
                # A high frequency makes jieba keep the user word whole (沉降监测, 预看房).
                self._tokenizer.add_word(w, freq=100_000)

    def cut_now(self, texts: Sequence[str], words: Iterable[str] = ()) -> list[tuple[str, ...]]:
        """Blocking: each text cut into words (call from a worker thread)."""
        with self._lock:
            tokenizer = self._ready(words)
            return [tuple(tokenizer.cut(t)) for t in texts]

    async def cut(self, texts: Sequence[str], words: Iterable[str] = ()) -> list[tuple[str, ...]]:
        if not texts:
            return []
        return await asyncio.to_thread(self.cut_now, list(texts), list(words))
