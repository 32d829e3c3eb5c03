"""Content rules for a new question, returning a verdict: allow it, hold it for a moderator, or reject it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from moderation.model import Actor, Standing
from moderation.similarity import find_duplicate, normalise


class Action(StrEnum):
    """What to do with a question."""

    ALLOW = "allow"
    HOLD = "hold"
    REJECT = "reject"


@dataclass(frozen=True)
class Verdict:
    """The rules' decision; ``reason`` is a ``Refused`` code when the action is not ALLOW."""

    action: Action
    reason: str | None = None
    detail: str | None = None
    duplicate_of: int | None = None
    retry_after: float | None = None


class LinkPolicy(StrEnum):
    """What a link in a question does to it."""

    ALLOW = "allow"
    HOLD = "hold"
    REJECT = "reject"


@dataclass(frozen=True)
class RulesConfig:
    """Per-event content settings. Lengths count characters after stripping surrounding space."""

    min_length: int = 2
    max_length: int = 500
    banned_words: frozenset[str] = frozenset()
    link_policy: LinkPolicy = LinkPolicy.HOLD
    rate_limit_seconds: float = 30.0
    # Dice over fingerprints: reworded questions on the same subject score ~0.7-0.9, different questions
    # sharing one term ~0.1-0.5 (see tests/moderation/test_similarity.py).
    duplicate_threshold: float = 0.6


_ALLOW = Verdict(Action.ALLOW)

# Common TLDs only: a generic "word.word" would flag file names and abbreviations in technical questions.
_TLDS = "com|cn|net|org|gov|edu|info|biz|io|co|cc|me|tv|xyz|top|vip|site|online|app|dev|ly|hk|tw|uk|us|de|jp"
_LINK = re.compile(
    rf"https?://\S+|www\.\S+|(?<![a-z0-9.-])(?:[a-z0-9-]+\.)+(?:{_TLDS})(?![a-z0-9])(?:/\S*)?",
)
_ASCII_WORD = re.compile(r"[a-z0-9]")


def check(
    text: str,
    actor: Actor,
    cfg: RulesConfig,
    *,
    now: float,
    last_asked_at: float | None,
    existing: Sequence[tuple[int, str]],
) -> Verdict:
    """Judge a new question ``text`` by ``actor``; ``existing`` is ``(id, text)`` of the event's questions.

    Checks in order: length, standing, rate (non-staff), banned words, links, duplicates.
    """
    stripped = text.strip()
    if len(stripped) < cfg.min_length:
        return Verdict(Action.REJECT, "too_short", f"at least {cfg.min_length} characters")
    if len(stripped) > cfg.max_length:
        return Verdict(Action.REJECT, "too_long", f"at most {cfg.max_length} characters")
    if actor.standing is not Standing.ACTIVE:
        return Verdict(Action.REJECT, actor.standing.value)
    if not actor.is_staff and last_asked_at is not None:
        wait = cfg.rate_limit_seconds - (now - last_asked_at)
        if wait > 0:
            return Verdict(Action.REJECT, "rate_limited", retry_after=wait)
    folded = normalise(stripped)
    word = banned_word(folded, cfg.banned_words)
    if word is not None:
        return Verdict(Action.HOLD, "banned_word", word)
    link = find_link(folded)
    if link is not None and cfg.link_policy is not LinkPolicy.ALLOW:
        action = Action.HOLD if cfg.link_policy is LinkPolicy.HOLD else Action.REJECT
        return Verdict(action, "link", link)
    found = find_duplicate(stripped, existing, cfg.duplicate_threshold)
    if found is not None:
        return Verdict(Action.HOLD, "duplicate", f"{found[1]:.2f}", duplicate_of=found[0])
    return _ALLOW


def banned_word(text: str, words: frozenset[str]) -> str | None:
    """The first banned word (in sorted order) found in ``text``, or None.

    Case- and width-insensitive. Words with any non-ASCII character match as substrings (Chinese has no
    spaces); ASCII words match only whole, so 'ass' does not hit 'class'.
    """
    folded = normalise(text)
    for word in sorted(words):
        w = normalise(word).strip()
        if not w:
            continue
        if w.isascii():
            # Whole-word only where the word starts or ends with a letter or digit.
            before = "(?<![a-z0-9])" if _ASCII_WORD.match(w[0]) else ""
            after = "(?![a-z0-9])" if _ASCII_WORD.match(w[-1]) else ""
            if re.search(before + re.escape(w) + after, folded) is not None:
                return word
        elif w in folded:
            return word
    return None


def find_link(text: str) -> str | None:
    """The first link-like run in ``text`` (http(s)://, www., or a bare domain), or None."""
    # The ideographic full stop is a common way to slip a domain past a filter: 'example。com'.
    m = _LINK.search(normalise(text).replace("。", "."))
    return None if m is None else m.group(0)
