"""One catalogue (every web/i18n/*.json, one file per area) for every string a person reads, in zh-CN and English."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import HTTPConnection

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
LANG_COOKIE = "lang"
CATALOGUE_DIR = Path(__file__).resolve().parents[1] / "web" / "i18n"


class Catalogue:
    def __init__(self, directory: Path = CATALOGUE_DIR) -> None:
        self.messages: dict[str, dict[str, str]] = {}
        for path in sorted(directory.glob("*.json")):
            part: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
            clash = self.messages.keys() & part.keys()
            if clash:
                raise ValueError(f"{path.name} repeats catalogue keys: {sorted(clash)}")
            self.messages.update(part)

    def t(self, key: str, lang: str) -> str:
        entry = self.messages.get(key)
        if entry is None:
            return key
        return entry.get(lang) or entry.get(DEFAULT_LANG) or key

    def for_lang(self, lang: str) -> dict[str, str]:
        return {key: self.t(key, lang) for key in self.messages}


def _normalise(code: str) -> str | None:
    code = code.strip().lower()
    if code.startswith("zh"):
        return "zh-CN"
    if code.startswith("en"):
        return "en"
    return None


def negotiate(conn: HTTPConnection) -> str:
    """?lang= beats the cookie, which beats Accept-Language; Chinese when nothing says otherwise."""
    for explicit in (conn.query_params.get("lang"), conn.cookies.get(LANG_COOKIE)):
        if explicit and (lang := _normalise(explicit)):
            return lang
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(conn.headers.get("accept-language", "").split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if (lang := _normalise(tag)) is not None:
            ranked.append((-quality, index, lang))
    return min(ranked)[2] if ranked else DEFAULT_LANG
