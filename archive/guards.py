"""Checks on what the recogniser wrote, shared by the live captions and the archive pass.

Biasing Whisper with the event's vocabulary (a prompt of hotwords) fixes homophones of domain words
(基坑 → 即坑) but can also make it *write* text that was never said: the prompt itself echoed back
("…沉降怎么办?shield tunnelling, retaining wall"), later sentences pulled into one short line, a
phrase repeated in a loop, or spaces between Chinese words copied from the space-separated prompt.
Each check here looks at a line against the audio it came from and says whether to keep it; the
callers then fall back to an unbiased decode or drop the line. Nothing here ever adds text.

Pure functions over strings and numbers: no model, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence

_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_CLASS}]")
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{_CJK_CLASS}])\\s+(?=[{_CJK_CLASS}])")
_SPACE_AFTER_CJK_PUNCT = re.compile(r"(?<=[，。！？；：、])\s+|\s+(?=[，。！？；：、])")
_CLAUSE = re.compile(r"[^,，。.!?！？;；、]+[,，。.!?！？;；、]*")
_WORD = re.compile(r"[A-Za-z0-9']+")

# Whisper's own threshold for "this decode is a loop" (its temperature fallback uses the same value).
MAX_COMPRESSION_RATIO = 2.4
# Fastest plausible speech, with margin: Mandarin presenters run 4–6 characters a second, English
# 2.5–3.5 words; espeak-ng speaks at ~3 words/s. A line denser than this was not heard in its span.
MAX_CJK_CHARS_PER_SECOND = 9.0
MAX_WORDS_PER_SECOND = 5.0
# Short lines (a word, a name) can be said quickly: density is judged with at least this span.
MIN_DENSITY_SECONDS = 1.0
# A clause made of this many glossary terms in a row, and nothing else, is the prompt echoed back.
ECHO_MIN_TERMS = 2
# A whole line found verbatim inside the prompt (at least this long, folded) is an echo too.
ECHO_MIN_CHARS = 4
# A run of this many Chinese characters written this many times in one line is a loop, however varied
# the rest: a biased decode stringing prompt words together without separators
# ("…沉降监测盾构隧道降水沉降监测盾构隧道降水沉降监测…") compresses too poorly for MAX_COMPRESSION_RATIO
# and has no clause to drop. Speech repeats a 4-character word three times in one phrase rarely; then
# the unbiased decode is tried.
LOOP_RUN_CHARS = 4
LOOP_RUN_TIMES = 3
# A Chinese line made this much of prompt terms (longest first), with at least this many of them, is the
# prompt recited without its separators ("土下工程盾构隧道降水地下水沉降监测点预警值轨道交通地铁", written
# for a sentence about something else). Real sentences full of domain words stay well under it (the
# bench's densest, "住宅工程渗漏和开裂是常见的质量通病": 0.71).
ECHO_COVERAGE = 0.8
ECHO_COVERAGE_TERMS = 4


def tidy(text: str, language: str) -> str:
    """Whitespace cleaned; no spaces between Chinese characters (the prompt's spacing leaks into lines)."""
    text = " ".join(text.split())
    if language == "zh" or _CJK.search(text):
        text = _SPACE_BETWEEN_CJK.sub("", text)
        text = _SPACE_AFTER_CJK_PUNCT.sub("", text)
    return text.strip()


def compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    return len(raw) / max(1, len(zlib.compress(raw)))


def is_loop(text: str) -> bool:
    """A decode stuck repeating itself compresses far better than language does."""
    return len(text) >= 24 and compression_ratio(text) > MAX_COMPRESSION_RATIO


def repeats_a_run(text: str) -> bool:
    """Some LOOP_RUN_CHARS Chinese characters occur LOOP_RUN_TIMES times (not overlapping) in the line."""
    han = "".join(_CJK.findall(text))
    if len(han) < LOOP_RUN_CHARS * LOOP_RUN_TIMES:
        return False
    runs = {han[i : i + LOOP_RUN_CHARS] for i in range(len(han) - LOOP_RUN_CHARS + 1)}
    return any(han.count(run) >= LOOP_RUN_TIMES for run in runs)


def too_dense(text: str, seconds: float) -> bool:
    """More characters (Chinese) or words (English) than anyone says in `seconds` of speech."""
    span = max(seconds, MIN_DENSITY_SECONDS)
    cjk = len(_CJK.findall(text))
    words = len(_WORD.findall(_CJK.sub(" ", text)))
    return cjk / span > MAX_CJK_CHARS_PER_SECOND or words / span > MAX_WORDS_PER_SECOND


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in text if c.isalnum())


def glossary_terms(prompt: str) -> list[str]:
    """The prompt's terms, in order: Chinese ones are space separated, English ones comma separated."""
    out = []
    for part in re.split(r"[,，\s]+" if _CJK.search(prompt) else r"[,，]+", prompt):
        folded = _fold(part)
        if folded:
            out.append(folded)
    return out


def strip_echo(text: str, prompts: Iterable[str]) -> str:
    """`text` without clauses that only repeat the prompt (any language's): the whole line may go."""
    prompts = [p for p in prompts if p and p.strip()]
    if not prompts or not text:
        return text
    terms = {t for p in prompts for t in glossary_terms(p)}
    folded_prompts = [_fold(p) for p in prompts]
    folded_line = _fold(text)
    if len(folded_line) >= ECHO_MIN_CHARS and any(folded_line in fp for fp in folded_prompts):
        return ""
    clauses = _CLAUSE.findall(text)
    counts = [_echo_terms(clause, terms) for clause in clauses]
    # Drop runs of consecutive clauses made only of prompt terms, ECHO_MIN_TERMS terms or more in all.
    keep = [True] * len(clauses)
    i = 0
    while i < len(clauses):
        j = i
        while j < len(clauses) and counts[j] > 0:
            j += 1
        if sum(counts[i:j]) >= ECHO_MIN_TERMS:
            keep[i:j] = [False] * (j - i)
        i = max(j, i + 1)
    return "".join(c for c, k in zip(clauses, keep, strict=True) if k).strip()


def recites_prompt(text: str, prompts: Iterable[str]) -> bool:
    """The line's Chinese characters are mostly prompt terms strung together (see ECHO_COVERAGE)."""
    han = "".join(_CJK.findall(text))
    terms = sorted({t for p in prompts if p for t in glossary_terms(p) if len(t) >= 2 and _CJK.search(t)}, key=len)
    if len(han) < 2 * ECHO_COVERAGE_TERMS or not terms:
        return False
    terms.reverse()
    i = covered = count = 0
    while i < len(han):
        term = next((t for t in terms if han.startswith(t, i)), None)
        if term is None:
            i += 1
            continue
        covered, count, i = covered + len(term), count + 1, i + len(term)
    return count >= ECHO_COVERAGE_TERMS and covered / len(han) >= ECHO_COVERAGE


def _echo_terms(clause: str, terms: set[str]) -> int:
    """How many prompt terms the clause consists of (0: it says something else too)."""
    whole = _fold(clause)
    if not whole:
        return 0
    if whole in terms:
        return 1
    pieces = [p for p in (_fold(p) for p in re.split(r"[\s,，、]+", clause)) if p]
    return len(pieces) if pieces and all(p in terms for p in pieces) else 0


def without_repeats(text: str) -> str:
    """A sentence written twice in a row once (a loop that stayed under the compression threshold),
    and no restart of an earlier sentence at the end ("…every day. The foundation")."""
    clauses = _CLAUSE.findall(text)
    out: list[str] = []
    for clause in clauses:
        if out and _fold(clause) and _fold(clause) == _fold(out[-1]):
            continue
        out.append(clause)
    if len(out) > 1:
        tail = _fold(out[-1])
        if tail and any(_fold(c).startswith(tail) for c in out[:-1]):
            out.pop()
    return "".join(out).strip()


def is_repeat_of(text: str, recent: Sequence[str]) -> bool:
    """The same line as one just kept (a retry pass or an overlapping window heard it again)."""
    folded = _fold(text)
    return bool(folded) and any(folded == _fold(r) for r in recent)


def checked(text: str, language: str, seconds: float, prompts: Iterable[str] = ()) -> str | None:
    """The line as it may be shown, or None when it cannot have come from `seconds` of speech."""
    prompts = list(prompts)
    text = tidy(without_repeats(strip_echo(tidy(text, language), prompts)), language)
    if not _fold(text) or recites_prompt(text, prompts):
        return None
    if is_loop(text) or repeats_a_run(text) or too_dense(text, seconds):
        return None
    return text
