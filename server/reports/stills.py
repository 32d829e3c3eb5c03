"""The report's pictures: stills cached next to the event's recording, extracted once in a worker thread."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
from pathlib import Path

from archive.stills import Still, cached, extract
from server.media.hls import RECORDING
from server.media.service import MediaService

log = logging.getLogger("sitecast.reports")

STILLS = 4
DIRECTORY = "stills"
_NAME = re.compile(r"^still-\d{1,2}\.jpg$")


class Stills:
    def __init__(self, media: MediaService) -> None:
        self.media = media
        self._locks: dict[str, asyncio.Lock] = {}

    def _paths(self, slug: str) -> tuple[Path, Path]:
        base = self.media.feed_dir(slug)
        return base / RECORDING, base / DIRECTORY

    async def get(self, slug: str) -> list[Still] | None:
        """The stills of the event's recording; None when there is no recording (yet)."""
        recording, directory = self._paths(slug)
        if not recording.is_file():
            return None
        found = cached(recording, directory)
        if found is not None:
            return found
        async with self._locks.setdefault(slug, asyncio.Lock()):
            found = cached(recording, directory)
            if found is not None:
                return found
            try:
                return await asyncio.to_thread(extract, recording, directory, STILLS)
            except (OSError, ValueError, subprocess.SubprocessError):
                log.exception("could not extract stills from %s", recording)
                return []

    def path(self, slug: str, name: str) -> Path | None:
        if not _NAME.match(name):
            return None
        path = self._paths(slug)[1] / name
        return path if path.is_file() else None
