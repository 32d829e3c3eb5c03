"""The banned-word disguises of issue 12's probe, shared by the unit tests and the HTTP drill."""

from __future__ import annotations

BANNED = ("违禁词", "赌博", "代开发票", "fuck")

# Put between every two characters of a word: each one hid the word from the old matcher.
SEPARATORS = {
    "space": " ",
    "ideographic space": "\u3000",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "soft hyphen": "\u00ad",
    "byte order mark": "\ufeff",
    "dot": ".",
    "fullwidth comma": "，",
    "hyphen": "-",
    "newline": "\n",
    "tab": "\t",
    "emoji": "🎲",
    "combining mark": "\u0301",
}

# Other spellings: Traditional characters, look-alike letters, other widths and styles.
SPELLINGS = {
    "traditional 违禁词": ("違禁詞", "违禁词"),
    "traditional 赌博": ("賭博", "赌博"),
    "traditional 代开发票": ("代開發票", "代开发票"),
    "traditional, spaced": ("違 禁 詞", "违禁词"),
    "f.u.c.k": ("f.u.c.k", "fuck"),
    "F U C K": ("F U C K", "fuck"),
    "fu ck": ("fu ck", "fuck"),
    "Cyrillic с": ("fuсk", "fuck"),
    "Cyrillic capitals": ("FUСK", "fuck"),
    "Greek and Cyrillic": ("fυсκ", "fuck"),
    "fullwidth": ("ｆｕｃｋ", "fuck"),
    "fullwidth Chinese punctuation": ("代，开。发、票", "代开发票"),
    "mathematical bold": ("𝐟𝐮𝐜𝐤", "fuck"),
    "circled": ("ⓕⓤⓒⓚ", "fuck"),
    "accented": ("fück", "fuck"),
    "strike-through marks": ("f\u0336u\u0336c\u0336k\u0336", "fuck"),
}


def variants() -> list[tuple[str, str, str]]:
    """(label, text as typed, the banned word it must hit)."""
    out = [(f"{word} / {name}", sep.join(word), word) for word in BANNED for name, sep in SEPARATORS.items()]
    out += [(name, text, word) for name, (text, word) in SPELLINGS.items()]
    return out


# Ordinary questions that must stay clean with the same banned words (and 'ass', 'sb', 'av' banned).
CLEAN = [
    "the class of 2024",
    "passive measures",
    "assess the risk",
    "it was sent to the supervisor",
    "such as S-shaped settlement curves",
    "glass curtain wall",
    "as s-curves show",
    "a v-shaped trench",
    "Fuchs and Kuck reported the survey",
    "I saw it. Me too",
    "违规禁止的词语有哪些？",
    "开发票据管理系统",
    "赌场旁边的博物馆",
    "盾构下穿既有地铁隧道时如何控制沉降？",
]
CLEAN_EXTRA_BANNED = ("ass", "sb", "av")
