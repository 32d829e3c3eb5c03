"""What each archive job does, and how one job is run: claim, heartbeat, work, settle.

Heavy work (remuxing, decoding, Whisper) runs in worker threads, never on the event loop. Every
job is idempotent: files are replaced atomically, database rows are replaced in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import av
from sqlalchemy import delete, select

from archive import captions, draft, search
from archive.chapters import build_chapters, chapter_cues
from archive.glossary import hotwords
from archive.jobs import JobFailed, JobKind
from archive.model import resolve_model
from archive.store import JobStore
from archive.timeline import RecordingClock, read_spans
from archive.transcript import Cancelled, Transcriber
from moderation.model import QuestionStatus
from server.db.engine import Database
from server.db.models import ArchiveJob, Chapter, Event, Question, TranscriptSegment

logger = logging.getLogger("sitecast.archive")

ARCHIVE_PLAYLIST = "index.m3u8"  # server/media/hls.py writes these names
RECORDING = "recording.mp4"
SEGMENT_LOG = "segments.log"
SOURCES = ("", "screen")  # the camera feed's directory is the event's; the screen share's is below it
# Questions that reached the expert: answered, or being answered when the event ended.
ANSWERED = (QuestionStatus.ANSWERED.value, QuestionStatus.ANSWERING.value)


@dataclass(frozen=True)
class ArchiveConfig:
    media_dir: Path
    segment_seconds: float = 1.0
    asr_model: str = ""
    asr_threads: int = 0
    heartbeat_seconds: float = 30.0
    concurrency: int = 2

    @property
    def model_root(self) -> Path:
        """Where the bundled model is joined when the virtualenv is read-only."""
        return self.media_dir.parent / "models"


class Progress:
    """Written by the job (any thread), read by the heartbeat loop."""

    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self, value: float) -> None:
        self.value = max(self.value, value)


OnBeat = Callable[[float], Awaitable[None]]


class Archiver:
    def __init__(self, db: Database, store: JobStore, config: ArchiveConfig) -> None:
        self.db = db
        self.store = store
        self.config = config
        self._transcribers: dict[Path, Transcriber] = {}
        self.stop = threading.Event()  # set at shutdown: running transcriptions give up

    def event_dir(self, slug: str) -> Path:
        return self.config.media_dir / slug

    async def run(self, job_id: int, worker: str, on_beat: OnBeat | None = None) -> list[int]:
        """Run one job if it is ready and not taken; returns the jobs that became ready after it."""
        job = await self.store.claim(job_id, worker)
        if job is None:
            return []
        async with self.db.session() as session:
            event = await session.get(Event, job.event_id)
        if event is None:
            return await self.store.fail(job_id, worker, "the event no longer exists")
        progress = Progress()
        lost = threading.Event()
        beat = asyncio.create_task(self._heartbeat(job_id, worker, progress, lost, on_beat))
        kind = JobKind(job.kind)
        logger.info("archive job %s of %s starts (attempt %d) on %s", kind, event.slug, job.attempts, worker)
        try:
            await self._step(kind, job, event, progress, lost)
        except JobFailed as exc:
            logger.warning("archive job %s of %s failed: %s", kind, event.slug, exc.message)
            return await self.store.fail(job_id, worker, exc.message, exc.permanent)
        except Cancelled:
            # The transcription gave up: the job was taken over (nothing to do), or this runner
            # is shutting down (hand the job back for the next one to run from the start).
            if not lost.is_set():
                await self.store.release(job_id, worker)
            return []
        except asyncio.CancelledError:
            if not lost.is_set():
                await asyncio.shield(self.store.release(job_id, worker))
            raise
        except Exception as exc:
            logger.exception("archive job %s of %s crashed", kind, event.slug)
            return await self.store.fail(job_id, worker, f"{type(exc).__name__}: {exc}", permanent=False)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        if lost.is_set():
            return []
        logger.info("archive job %s of %s done", kind, event.slug)
        return await self.store.finish(job_id, worker)

    async def _heartbeat(
        self, job_id: int, worker: str, progress: Progress, lost: threading.Event, on_beat: OnBeat | None
    ) -> None:
        # A third of the staleness limit: two missed beats in a row still keep the job ours.
        interval = max(0.2, self.config.heartbeat_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            if not await self.store.beat(job_id, worker, progress.value):
                lost.set()  # someone took it over: stop working on it
                return
            if on_beat is not None:
                await on_beat(progress.value)

    async def _step(
        self, kind: JobKind, job: ArchiveJob, event: Event, progress: Progress, lost: threading.Event
    ) -> None:
        if kind == JobKind.VOD:
            await asyncio.to_thread(self._vod, self.event_dir(event.slug))
        elif kind == JobKind.MP4:
            await self._require_vod(job)
            await asyncio.to_thread(self._mp4, self.event_dir(event.slug))
        elif kind == JobKind.TRANSCRIPT:
            await self._require_vod(job)
            await self._transcript(event, progress, lost)
        elif kind == JobKind.CHAPTERS:
            await self._chapters(event)
        elif kind == JobKind.SEARCH:
            await self._search(event)

    async def _require_vod(self, job: ArchiveJob) -> None:
        if not await self.store.inputs_done(job, JobKind.VOD):
            raise JobFailed("there is no recording (the vod job failed)")

    # -- vod and mp4 -------------------------------------------------------------------------

    def _feeds(self, directory: Path) -> list[Path]:
        return [directory / sub for sub in SOURCES if (directory / sub / SEGMENT_LOG).is_file()]

    def _vod(self, directory: Path) -> None:
        from server.media.hls import HlsWriter

        feeds = [d for d in self._feeds(directory) if read_spans(d)]
        if not feeds or directory not in feeds:
            raise JobFailed("nothing was recorded: no video reached the server for this event")
        for feed in feeds:
            # Resumes from segments.log; writes the ENDLIST playlist unless the media side already did.
            HlsWriter(feed, self.config.segment_seconds).finish(remux=False)

    def _mp4(self, directory: Path) -> None:
        from server.media.hls import remux_to_mp4

        for feed in self._feeds(directory):
            playlist, target = feed / ARCHIVE_PLAYLIST, feed / RECORDING
            if not playlist.is_file():
                continue
            if target.is_file() and target.stat().st_mtime >= playlist.stat().st_mtime:
                continue  # already remuxed from this playlist
            try:
                remux_to_mp4(playlist, target)
            except (av.FFmpegError, OSError, ValueError) as exc:
                raise JobFailed(f"the recording could not be remuxed to MP4: {exc}") from None

    # -- transcript --------------------------------------------------------------------------

    def transcriber(self) -> Transcriber:
        path = resolve_model(self.config.asr_model, self.config.model_root)
        if path not in self._transcribers:
            self._transcribers[path] = Transcriber(path, self.config.asr_threads)
        return self._transcribers[path]

    async def _transcript(self, event: Event, progress: Progress, lost: threading.Event) -> None:
        directory = self.event_dir(event.slug)
        transcriber = await asyncio.to_thread(self.transcriber)
        words = hotwords(event.title_zh, event.title_en, event.topics or [], event.glossary or {})
        stop = _either(self.stop, lost)
        lines = await asyncio.to_thread(transcriber.transcribe, directory / ARCHIVE_PLAYLIST, words, progress, stop)
        if lost.is_set():
            return
        async with self.db.session() as session:
            # The live draft is replaced in this one transaction; lines staff corrected stay, and the
            # new lines they overlap give way to them.
            kept = list(
                (
                    await session.execute(
                        select(TranscriptSegment).where(
                            TranscriptSegment.event_id == event.id, TranscriptSegment.edited_at.is_not(None)
                        )
                    )
                ).scalars()
            )
            await session.execute(
                delete(TranscriptSegment).where(
                    TranscriptSegment.event_id == event.id, TranscriptSegment.edited_at.is_(None)
                )
            )
            session.add_all(
                TranscriptSegment(event_id=event.id, start=ln.start, end=ln.end, language=ln.language, text=ln.text)
                for ln in lines
                if not any(min(ln.end, k.end) - max(ln.start, k.start) > 0 for k in kept)
            )
            await session.commit()
            rows = await draft.transcript_lines(session, event.id)
        await draft.write_caption_files(rows, directory)

    # -- chapters ----------------------------------------------------------------------------

    async def _chapters(self, event: Event) -> None:
        directory = self.event_dir(event.slug)
        clock = RecordingClock(await asyncio.to_thread(read_spans, directory))
        async with self.db.session() as session:
            questions = list(
                (
                    await session.execute(
                        select(Question).where(Question.event_id == event.id, Question.status.in_(ANSWERED))
                    )
                ).scalars()
            )
            chapters = build_chapters(questions, clock)
            await session.execute(delete(Chapter).where(Chapter.event_id == event.id))
            session.add_all(
                Chapter(event_id=event.id, question_id=c.question_id, start=c.start, end=c.end, title=c.title)
                for c in chapters
            )
            await session.commit()
        if clock:
            text = captions.webvtt(chapter_cues(chapters, clock.end))
            await asyncio.to_thread(captions.write_atomic, directory / captions.CHAPTERS_VTT, text)

    # -- search ------------------------------------------------------------------------------

    async def _search(self, event: Event) -> None:
        async with self.db.session() as session:
            await search.index_event(session, event.id, await draft.search_docs(session, event))
            await session.commit()


class _either(threading.Event):
    """Set when either of two events is (read-only view for the transcriber's stop check)."""

    def __init__(self, a: threading.Event, b: threading.Event) -> None:
        super().__init__()
        self._a, self._b = a, b

    def is_set(self) -> bool:
        return self._a.is_set() or self._b.is_set()
