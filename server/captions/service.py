"""Live captions: the media's audio tap → phrases → the recogniser thread → `caption` frames.

- An event's programme audio reaches `EventTap` (server/captions/tap.py) in the media writer thread,
  is cut into phrases there and queued for the one `CaptionWorker` thread (never the event loop).
- An interim result (the phrase so far) is published as it is: a `caption` frame with `final: false`
  and no line id, replaced on screen by the next frame of the same phrase.
- A final result is first stored as a transcript line (source "live": the archive's first draft),
  committed, then published as a `caption` frame with `final: true` and the line's id.
- Both are numbered frames on the public and staff channels, so every node's viewers get them
  through the bus, and a client that reconnects replays what it missed. Times are seconds on the
  recording clock (the same clock as the recording and its captions.vtt).
- At the event's end the open phrase is made final, the worker is given a few seconds to finish
  the event's phrases, and the draft (captions.vtt, search) is published from the stored lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from archive import search
from archive.draft import publish_draft
from archive.glossary import hotwords
from archive.phrases import PhraseRecogniser
from archive.transcript import Transcriber
from server.captions.recent import RecentCaptions, line_view
from server.captions.subtitles import SubtitleSource
from server.captions.tap import EventTap
from server.captions.worker import CaptionWorker, Recogniser, Result
from server.db.engine import Database
from server.db.models import Event, TranscriptSegment
from server.media.transcode import PcmTap
from server.questions.publisher import Publisher

logger = logging.getLogger("sitecast.captions")

# How long the end of an event waits for its last phrases to be recognised before the draft is
# written without them (a phrase takes ≈ 0.3–1 s; the worker may be finishing another event's).
END_WAIT_SECONDS = 5.0
LIVE = "live"


class _LazyRecogniser:
    """A PhraseRecogniser built in the worker thread (the model lookup may join files on disk)."""

    def __init__(self, model_dir: Callable[[], Path]) -> None:
        self._model_dir = model_dir
        self._inner: PhraseRecogniser | None = None

    def load(self) -> None:
        self._inner = PhraseRecogniser(Transcriber(self._model_dir(), threads=1))
        self._inner.load()

    def recognise(self, samples: Any, hotwords: Mapping[str, str] | None = None) -> Any:
        assert self._inner is not None, "load() runs first, in the worker thread"
        return self._inner.recognise(samples, hotwords)


class _EventCaptions:
    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.event_id: int | None = None
        self.hotwords: Mapping[str, str] = {}
        self.loaded = asyncio.Event()
        self.tap: EventTap | None = None


def caption_view(line: TranscriptSegment, phrase: int | None = None) -> dict[str, Any]:
    return line_view(line, phrase)


class CaptionService:
    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        media_dir: Path,
        model_dir: Callable[[], Path],
        enabled: bool = True,
        recogniser: Recogniser | None = None,
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.media_dir = media_dir
        self.enabled = enabled
        self._model_dir = model_dir
        self._recogniser = recogniser
        self._events: dict[str, _EventCaptions] = {}
        self._worker: CaptionWorker | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._inflight: dict[str, int] = {}
        self._inflight_lock = threading.Lock()
        self._settled = asyncio.Condition()
        self.recent = RecentCaptions()  # the WebSocket snapshot's latest lines (late joiners, resyncs)
        self.subtitles = SubtitleSource(media_dir)  # the HLS subtitles track (server/api/captions.py)

    # -- lifespan --------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.enabled:
            self._worker_for()  # loads the model in its thread now, not when the first event speaks

    async def close(self) -> None:
        if self._worker is not None:
            await asyncio.to_thread(self._worker.stop)
            self._worker = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _worker_for(self) -> CaptionWorker:
        if self._worker is None:
            # The model is found (joined from its packages on first use) and loaded in the worker
            # thread, never here on the loop; if that fails, the worker logs it and captions stay off.
            recogniser = self._recogniser or _LazyRecogniser(self._model_dir)
            self._worker = CaptionWorker(recogniser, self._deliver)
        return self._worker

    # -- the media side --------------------------------------------------------------------

    def audio_tap(self, slug: str) -> PcmTap | None:
        """MediaService asks once per event (on the loop) when its camera feed is created."""
        if not self.enabled or self._loop is None:
            return None
        state = self._events.get(slug)
        if state is None:
            state = self._events[slug] = _EventCaptions(slug)
            self._spawn(self._load(state))
        worker = self._worker_for()
        state.tap = EventTap(slug, worker.submit, lambda: state.hotwords)
        return state.tap

    async def _load(self, state: _EventCaptions) -> None:
        try:
            async with self.db.session() as session:
                event = (await session.execute(select(Event).where(Event.slug == state.slug))).scalar_one_or_none()
                if event is not None:
                    state.event_id = event.id
                    state.hotwords = hotwords(event.title_zh, event.title_en, event.topics or [], event.glossary or {})
        finally:
            state.loaded.set()

    def vocabulary_changed(self, slug: str, words: Mapping[str, str]) -> None:
        """The organiser edited the glossary: phrases from now on use it."""
        state = self._events.get(slug)
        if state is not None:
            state.hotwords = dict(words)

    # -- results (worker thread → loop) ----------------------------------------------------

    def _deliver(self, result: Result) -> None:  # worker thread
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with self._inflight_lock:
            self._inflight[result.job.key] = self._inflight.get(result.job.key, 0) + 1
        loop.call_soon_threadsafe(self._spawn, self._publish(result))

    async def _publish(self, result: Result) -> None:
        job, heard = result.job, result.heard
        try:
            state = self._events.get(job.key)
            if state is None or heard is None:
                return
            await state.loaded.wait()
            if state.event_id is None:
                return
            if not job.final:
                data = {
                    "id": None,
                    "phrase": job.phrase,
                    "final": False,
                    "start": job.start,
                    "end": job.end,
                    "language": heard.language,
                    "text": heard.text,
                    "edited": False,
                }
                await self.publisher.caption(state.event_id, data)
                return
            async with self.db.session() as session:
                line = TranscriptSegment(
                    event_id=state.event_id,
                    start=job.start,
                    end=max(job.end, job.start),
                    language=heard.language,
                    text=heard.text,
                    source=LIVE,
                )
                session.add(line)
                await session.flush()
                # Indexed now, found once the event ends (archive/search.py): the end need not index an
                # hour of lines at once.
                await search.add_docs(
                    session, state.event_id, [search.Doc(search.DocKind.TRANSCRIPT, line.id, line.start, line.text)]
                )
                await session.commit()
                view = caption_view(line, job.phrase)
            await self.publisher.caption(state.event_id, view)
        except Exception:
            logger.exception("a caption of %s could not be stored or published", job.key)
        finally:
            with self._inflight_lock:
                self._inflight[job.key] -= 1
            async with self._settled:
                self._settled.notify_all()

    # -- the event's end -------------------------------------------------------------------

    async def event_ended(self, event: Event) -> None:
        """Last phrase final, wait (bounded) for the event's phrases, then the draft: vtt + search."""
        state = self._events.pop(event.slug, None)
        if state is not None and state.tap is not None and self._worker is not None:
            await asyncio.to_thread(state.tap.flush)
            worker = self._worker

            def settled() -> bool:
                return worker.idle(event.slug) and not self._inflight.get(event.slug)

            # Woken each time a result of any event settles: a job queued for this event is either
            # still queued (not idle) or delivered (in flight) until its result settles.
            async with self._settled:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._settled.wait_for(settled), END_WAIT_SECONDS)
        try:
            await publish_draft(self.db, event.id, self.media_dir / event.slug)
        except Exception:
            logger.exception("the transcript draft of %s could not be published", event.slug)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
