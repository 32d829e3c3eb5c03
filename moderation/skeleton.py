"""The skeleton of a text: what is left to compare once the usual disguises are folded away.

A banned word is matched against the skeleton, never against what the asker typed, and the question keeps
its text exactly as typed. Folding, per character of the source:

- NFKC (fullwidth ``ｆｕｃｋ``, mathematical ``𝐟𝐮𝐜𝐤``, circled ``ⓕ``, compatibility ideographs);
- Traditional → Simplified, by a converter the adapter passes in (OpenCC there; this package does no I/O);
- look-alike Cyrillic and Greek letters → Latin (``fuсk`` with a Cyrillic ``с``), then case folding;
- accents and other combining marks dropped (``fück``, ``f̶u̶c̶k̶``);
- everything that is not a letter or a digit dropped: spaces (also U+3000), punctuation (``.``, ``，``, ``-``),
  line breaks and tabs, symbols and emoji, invisible characters (U+200B, U+200D, U+2060, U+00AD, U+FEFF).

Each skeleton character remembers which source character it came from, so a match can be judged against
the source: whether it starts and ends on a word boundary, and how the separators cut it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

Simplify = Callable[[str], str]

# Letters that look like Latin ones in most fonts: Cyrillic and Greek, capitals as they look (Greek Η is
# an H, its small η an n). Mapped before case folding, so each form keeps its own look-alike.
_LOOK_ALIKES = str.maketrans(
    {
        **dict(zip("АВЕЅІЈКМНОРСТХУԁԛԜаеѕіјкорсхуһԝӏвмнтьү", "abesijkmhopctxydqwaesijkopcxyhwlbmhtby", strict=True)),
        **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαβγεηικνορτυχω", "abezhikmnoptyxabyenikvoptuxw", strict=True)),
        "ɡ": "g",
        "ı": "i",
        "ȷ": "j",
    }
)
_INVISIBLE = frozenset({"Cf", "Mn", "Me"})


def _same(text: str) -> str:
    return text


# A question is a few hundred characters from a small alphabet: each character is folded once per process.
_CHARS_CACHED = 8192


@lru_cache(maxsize=_CHARS_CACHED)
def _nfkc(char: str) -> str:
    return unicodedata.normalize("NFKC", char)


@lru_cache(maxsize=_CHARS_CACHED)
def _kind(char: str, folded: str) -> str:
    if folded:
        return "w" if folded.isascii() else "o"
    if unicodedata.category(char) in _INVISIBLE:
        return "i"
    return "z" if char.isspace() else "s"


@lru_cache(maxsize=_CHARS_CACHED)
def fold(char: str) -> str:
    """One (already NFKC'd and simplified) character's contribution to the skeleton: letters and digits."""
    decomposed = unicodedata.normalize("NFKD", char.translate(_LOOK_ALIKES).casefold())
    kept = "".join(c for c in decomposed if unicodedata.category(c)[0] in "LN")
    # A mark that decomposition exposed (é → e + ´) is gone; a second pass maps letters it uncovered.
    return kept.translate(_LOOK_ALIKES)


@dataclass(frozen=True)
class Skeleton:
    """``text`` is the skeleton; ``origin[i]`` the index in ``source`` that skeleton character came from."""

    source: str
    text: str
    origin: tuple[int, ...]
    # Per source character: 'w' a Latin letter or digit (after folding), 'o' another letter or digit
    # (Chinese), 'i' invisible (format characters, combining marks), 'z' white space (also U+3000, line
    # breaks, tabs), 's' another separator (punctuation, symbols, emoji).
    kinds: str

    def span(self, start: int, length: int) -> tuple[int, int]:
        """The source indices ``[first, last]`` of skeleton characters ``start .. start+length-1``."""
        return self.origin[start], self.origin[start + length - 1]

    def latin_before(self, index: int) -> bool:
        """Whether the nearest visible source character before ``index`` is a Latin letter or digit."""
        for i in range(index - 1, -1, -1):
            if self.kinds[i] != "i":
                return self.kinds[i] == "w"
        return False

    def latin_after(self, index: int) -> bool:
        """Whether the nearest visible source character after ``index`` is a Latin letter or digit."""
        for i in range(index + 1, len(self.kinds)):
            if self.kinds[i] != "i":
                return self.kinds[i] == "w"
        return False

    def spaced(self, first: int, last: int) -> bool:
        """Whether white space separates anything in ``source[first..last]``."""
        return "z" in self.kinds[first : last + 1]

    def pieces(self, first: int, last: int) -> list[str]:
        """The runs of letters and digits in ``source[first..last]`` that separators cut it into."""
        runs: list[str] = []
        current = ""
        for i in range(first, last + 1):
            kind = self.kinds[i]
            if kind in "sz":
                if current:
                    runs.append(current)
                current = ""
            elif kind != "i":
                current += self.source[i]
        if current:
            runs.append(current)
        return runs


def skeleton(text: str, simplify: Simplify = _same) -> Skeleton:
    """The skeleton of ``text``; ``simplify`` converts Traditional Chinese to Simplified."""
    normal = [_nfkc(c) for c in text]
    joined = "".join(normal)
    converted = simplify(joined)
    if len(converted) == len(joined):
        # The usual case: one call for the whole text, cut back into the source characters' pieces.
        pieces, at = [], 0
        for piece in normal:
            pieces.append(converted[at : at + len(piece)])
            at += len(piece)
    else:
        pieces = [simplify(piece) for piece in normal]
    out: list[str] = []
    origin: list[int] = []
    kinds: list[str] = []
    for index, (char, piece) in enumerate(zip(text, pieces, strict=True)):
        folded = fold(piece)
        out.append(folded)
        origin.extend([index] * len(folded))
        kinds.append(_kind(char, folded))
    return Skeleton(text, "".join(out), tuple(origin), "".join(kinds))
