"""WebVTT and SRT: the transcript as captions, the answered questions as chapters."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CAPTIONS_VTT = "captions.vtt"
CAPTIONS_SRT = "captions.srt"
CHAPTERS_VTT = "chapters.vtt"


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    id: str | None = None


def timestamp(seconds: float, separator: str = ".") -> str:
    """HH:MM:SS.mmm (WebVTT) or HH:MM:SS,mmm (SRT); hours grow past 99 if they must."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _one_line(text: str) -> str:
    # A blank line ends a cue and "-->" starts a timing line: neither may appear in cue text.
    return " ".join(text.split()).replace("-->", "→")


def _vtt_text(text: str) -> str:
    return _one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _timed(cues: Iterable[Cue]) -> list[Cue]:
    # Players reject a cue that ends before it starts; zero-length ones are invisible.
    return [Cue(c.start, max(c.end, c.start + 0.5), c.text, c.id) for c in cues if c.text.strip()]


def webvtt(cues: Iterable[Cue]) -> str:
    blocks = ["WEBVTT"]
    for cue in _timed(cues):
        head = f"{_one_line(cue.id)}\n" if cue.id else ""
        blocks.append(f"{head}{timestamp(cue.start)} --> {timestamp(cue.end)}\n{_vtt_text(cue.text)}")
    return "\n\n".join(blocks) + "\n"


def srt(cues: Iterable[Cue]) -> str:
    blocks = []
    for n, cue in enumerate(_timed(cues), start=1):
        blocks.append(f"{n}\n{timestamp(cue.start, ',')} --> {timestamp(cue.end, ',')}\n{_one_line(cue.text)}")
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def write_atomic(path: Path, text: str) -> None:
    """Readers (the web server, a CDN) see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
