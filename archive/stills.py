"""Still pictures of a recording for the report: a few evenly spaced frames, extracted with ffmpeg.

Synchronous (subprocesses): the server runs `extract` in a worker thread, never on the event loop.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "stills.json"
# Each ffmpeg call seeks (input seeking: it jumps to the nearest keyframe) and decodes one frame.
FFMPEG_TIMEOUT_S = 30.0
WIDTH = 640


@dataclass(frozen=True)
class Still:
    name: str  # file name inside the stills directory
    at: float  # seconds into the recording


def pick_times(duration: float, count: int) -> list[float]:
    """The middles of `count` equal parts: no black first frame, no closing seconds."""
    if duration <= 0 or count <= 0:
        return []
    return [round(duration * (2 * k + 1) / (2 * count), 3) for k in range(count)]


def probe_duration(recording: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(recording)],
        capture_output=True,
        text=True,
        timeout=FFMPEG_TIMEOUT_S,
        check=True,
    )
    return float(out.stdout.strip() or 0)


def cached(recording: Path, directory: Path) -> list[Still] | None:
    """The stills extracted from this very recording (same size and time), or None."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        source = recording.stat()
    except (OSError, ValueError):
        return None
    if manifest.get("source") != [source.st_size, source.st_mtime_ns]:
        return None
    stills = [Still(s["name"], s["at"]) for s in manifest.get("stills", [])]
    return stills if all((directory / s.name).is_file() for s in stills) else None


def extract(recording: Path, directory: Path, count: int) -> list[Still]:
    """Extract `count` JPEG stills next to the recording and remember them in a manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    source = recording.stat()
    stills = []
    for k, at in enumerate(pick_times(probe_duration(recording), count), start=1):
        name = f"still-{k}.jpg"
        tmp = directory / f".{name}.tmp.jpg"
        command = ["ffmpeg", "-v", "error", "-y", "-ss", f"{at:.3f}", "-i", str(recording), "-frames:v", "1"]
        subprocess.run(
            [*command, "-vf", f"scale={WIDTH}:-2", "-q:v", "3", str(tmp)],
            capture_output=True,
            timeout=FFMPEG_TIMEOUT_S,
            check=True,
        )
        if tmp.is_file() and tmp.stat().st_size > 0:
            os.replace(tmp, directory / name)
            stills.append(Still(name, at))
    manifest = {"source": [source.st_size, source.st_mtime_ns], "stills": [s.__dict__ for s in stills]}
    (directory / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return stills
