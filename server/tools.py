"""The system programs the server runs at run time (not Python packages): checked once at start."""

from __future__ import annotations

import shutil

# program → what needs it and where it comes from (README "Two commands" lists the same).
REQUIRED = {
    "ffmpeg": "report stills from the recording (Debian/Ubuntu: apt-get install ffmpeg)",
    "ffprobe": "the recording's length for report stills (part of the ffmpeg package)",
}


def missing() -> list[str]:
    return [name for name in REQUIRED if shutil.which(name) is None]


def problem() -> str | None:
    """A message naming every missing program and what needs it; None when all are there."""
    absent = missing()
    if not absent:
        return None
    lines = [f"  {name}: {REQUIRED[name]}" for name in absent]
    return "Sitecast needs these programs on the PATH and cannot find them:\n" + "\n".join(lines)
