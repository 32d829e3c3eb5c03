"""Content rules for a new question, returning a verdict: allow it, hold it for a moderator, or reject it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from moderation.model import Actor, Standing
from moderation.similarity import find_duplicate, normalise
from moderation.skeleton import Simplify, Skeleton, skeleton


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
    # Traditional → Simplified for banned-word matching (the adapter passes OpenCC's t2s; None: as typed).
    simplify: Simplify | None = None


_ALLOW = Verdict(Action.ALLOW)

# Common TLDs only: a generic "word.word" would flag file names and abbreviations in technical questions.
_TLDS = "com|cn|net|org|gov|edu|info|biz|io|co|cc|me|tv|xyz|top|vip|site|online|app|dev|ly|hk|tw|uk|us|de|jp"
_LINK = re.compile(
    rf"https?://\S+|www\.\S+|(?<![a-z0-9.-])(?:[a-z0-9-]+\.)+(?:{_TLDS})(?![a-z0-9])(?:/\S*)?",
)
_ASCII_WORD = re.compile(r"[a-z0-9]")
# A Latin banned word this short matches across separators only spelled out letter by letter with
# punctuation ('a.s.s', 's-b'): with spaces, or cut elsewhere ('as s', 'a v-shaped'), it is how ordinary
# sentences fall apart into two letters. Longer words may be cut anywhere ('fu ck', 'f u c k').
_SHORT_LATIN = 4
# Ways to write a dot so a filter misses it: 'example . com', 'evil[.]com', 'evil(dot)com', 'www。example。com'.
_BRACKETED_DOT = re.compile(r"[\[({]\s*(?:\.|dot)\s*[\])}]")
_SPACED_DOT = re.compile(r"\s+\.\s*|。")
_DEFANGED_SCHEME = re.compile(r"\bhxxp(s?)(?=:)")
_INVISIBLE = re.compile("[\u00ad\u034f\u180e\u200b-\u200f\u2060-\u2064\ufeff]")


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
    word = banned_word(stripped, cfg.banned_words, cfg.simplify)
    if word is not None:
        return Verdict(Action.HOLD, "banned_word", word)
    link = find_link(stripped)
    if link is not None and cfg.link_policy is not LinkPolicy.ALLOW:
        action = Action.HOLD if cfg.link_policy is LinkPolicy.HOLD else Action.REJECT
        return Verdict(action, "link", link)
    found = find_duplicate(stripped, existing, cfg.duplicate_threshold)
    if found is not None:
        return Verdict(Action.HOLD, "duplicate", f"{found[1]:.2f}", duplicate_of=found[0])
    return _ALLOW


def banned_word(text: str, words: frozenset[str], simplify: Simplify | None = None) -> str | None:
    """The first banned word (in sorted order) found in ``text``, or None.

    Matched twice: as typed (case- and width-insensitive, so a word made of symbols like '$$' still
    counts), and on the skeleton (see moderation/skeleton.py), so separators, invisible characters,
    accents, look-alike letters and Traditional characters do not hide a word. Words with any non-Latin
    character match anywhere (Chinese has no spaces); Latin words only on word boundaries of the text
    as typed, so 'ass' does not hit 'class' nor 'was sent'.
    """
    folded = _INVISIBLE.sub("", normalise(text))
    shape: Skeleton | None = None
    for word, literal, bones in _prepared(words, simplify or _same):
        if literal.search(folded) is not None:
            return word
        if not bones:
            continue
        if shape is None:
            shape = skeleton(text, simplify or _same)
        if _skeleton_match(bones, shape):
            return word
    return None


def _same(text: str) -> str:
    return text


@lru_cache(maxsize=256)
def _prepared(words: frozenset[str], simplify: Simplify) -> tuple[tuple[str, re.Pattern[str], str], ...]:
    """Each banned word (sorted) with its as-typed pattern and its skeleton. An event's words are the
    same for every question, so they are folded once per process, not once per question."""
    out = []
    for word in sorted(words):
        w = normalise(word).strip()
        if w:
            out.append((word, _literal(w), skeleton(w, simplify).text))
    return tuple(out)


def _literal(w: str) -> re.Pattern[str]:
    if not w.isascii():
        return re.compile(re.escape(w))
    # Whole-word only where the word starts or ends with a letter or digit.
    before = "(?<![a-z0-9])" if _ASCII_WORD.match(w[0]) else ""
    after = "(?![a-z0-9])" if _ASCII_WORD.match(w[-1]) else ""
    return re.compile(before + re.escape(w) + after)


def _skeleton_match(bones: str, shape: Skeleton) -> bool:
    at = shape.text.find(bones)
    while at != -1:
        if not bones.isascii() or _latin_word_at(bones, shape, at):
            return True
        at = shape.text.find(bones, at + 1)
    return False


def _latin_word_at(bones: str, shape: Skeleton, at: int) -> bool:
    """Whether the skeleton match at ``at`` is a whole word in the source, cut only as a word may be."""
    end = at + len(bones)
    first, last = shape.span(at, len(bones))
    # A match starting or ending inside one source character's letters (a ligature) is inside a word.
    if (at > 0 and shape.origin[at - 1] == first) or (end < len(shape.origin) and shape.origin[end] == last):
        return False
    if shape.latin_before(first) or shape.latin_after(last):
        return False
    pieces = shape.pieces(first, last)
    if len(bones) >= _SHORT_LATIN or len(pieces) == 1:
        return True
    return all(len(p) == 1 for p in pieces) and not shape.spaced(first, last)


def find_link(text: str) -> str | None:
    """The first link-like run in ``text`` (http(s)://, www., or a bare domain), or None.

    Also when disguised: invisible characters inside, spaces before a dot ('example . com'), a dot in
    brackets ('evil[.]com', 'evil(dot)com'), the ideographic full stop ('www。example。com'), 'hxxp://'.
    A space only after a dot is left alone: that is how sentences end ('I saw it. Me too')."""
    view = _INVISIBLE.sub("", normalise(text))
    view = _SPACED_DOT.sub(".", _BRACKETED_DOT.sub(".", view))
    view = _DEFANGED_SCHEME.sub(r"http\1", view)
    m = _LINK.search(view)
    return None if m is None else m.group(0)
