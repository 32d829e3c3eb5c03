"""Catalogue messages with values filled in: `{name}` placeholders and ICU-style plurals.

`{n, plural, one {# minute} other {# minutes}}` picks the branch by the language's CLDR plural rules
(Babel's; the browser side uses Intl.PluralRules, the same CLDR data) — English says "1 minute", "2 minutes";
Chinese has only `other`. `#` in a branch is the number; `=0 {…}` matches an exact value first.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from babel import Locale


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang, sep="-")


def plural_category(lang: str, n: float) -> str:
    return str(_locale(lang).plural_form(n))


def _closing(text: str, start: int) -> int:
    """Index of the brace closing the one opened at `start` (the end of the text if it never closes)."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def _branches(spec: str) -> dict[str, str]:
    out: dict[str, str] = {}
    i = 0
    while i < len(spec):
        open_at = spec.find("{", i)
        if open_at < 0:
            break
        close = _closing(spec, open_at)
        out[spec[i:open_at].strip()] = spec[open_at + 1 : close]
        i = close + 1
    return out


def format_message(template: str, lang: str, **values: Any) -> str:
    out: list[str] = []
    i = 0
    while i < len(template):
        if template[i] != "{":
            out.append(template[i])
            i += 1
            continue
        close = _closing(template, i)
        inner = template[i + 1 : close]
        name, _, rest = inner.partition(",")
        name = name.strip()
        kind, _, spec = rest.partition(",")
        if kind.strip() == "plural" and name in values:
            n = values[name]
            branches = _branches(spec)
            text = branches.get(f"={n}") or branches.get(plural_category(lang, n)) or branches.get("other", "")
            out.append(format_message(text.replace("#", str(n)), lang, **values))
        elif name in values and not rest:
            out.append(str(values[name]))
        else:
            out.append(template[i : close + 1])
        i = close + 1
    return "".join(out)
