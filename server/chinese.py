"""Traditional → Simplified Chinese (OpenCC t2s) for matching, built on first use (OpenCC reads its
dictionaries from disk: never at import)."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """``text`` with Traditional characters in their Simplified form; everything else as it was."""
    return str(_t2s().convert(text))
