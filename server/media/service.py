"""MediaService: the narrow seam between HTTP and live media.

Construct it with a media directory, start it in the app lifespan, close it at shutdown.
HTTP handlers call `publish` / `trickle` / `end_session` (WHIP), `watch` (WHEP), and
`end_stream` when the event ends; state changes are reported through `on_state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

from aiortc import RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from . import aiortc_hooks
from .errors import MediaError, bad_sdp
from .feed import Feed
from .hls import Segment
from .registry import CloseReason, Peer, PeerKind, PeerRegistry
from .sdp import check_offer, ice_ufrag, media_kinds, parse_sdpfrag
from .state import StreamState, transition
from .transcode import PcmTap
from .viewer import Viewer
from .watchdog import MEDIA_LOSS_SECONDS, watch_media

logger = logging.getLogger(__name__)

Source = Literal["camera", "screen"]
SOURCES: tuple[Source, ...] = ("camera", "screen")
StateCallback = Callable[[str, str], Awaitable[None] | None]
SourcesCallback = Callable[[str, list[str]], Awaitable[None] | None]
# The audio tap: given an event's slug, a PcmTap for its programme audio (or None). Live captions.
AudioTapFactory = Callable[[str], PcmTap | None]

SLUG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MIN_SEGMENT_SECONDS = 1.0
MAX_SEGMENT_SECONDS = 2.0
# Bound on offer → answer (ICE gathering included): a stuck negotiation must not hold the
# publisher slot or an HTTP worker.
NEGOTIATION_TIMEOUT_SECONDS = 10.0


class _Event:
    """Media state of one event: its feeds and its stream state."""

    def __init__(self) -> None:
        self.state = StreamState.IDLE
        self.feeds: dict[Source, Feed] = {}
        self.silent: set[Source] = set()  # on air, but no media for a while (see watchdog.py)
        self.lock = asyncio.Lock()


class MediaService:
    def __init__(
        self,
        media_dir: Path,
        segment_seconds: float = 1.0,
        on_state: StateCallback | None = None,
        on_segment: Callable[[str, Segment], None] | None = None,
        remux_on_end: bool = True,
        on_sources: SourcesCallback | None = None,
        audio_tap: AudioTapFactory | None = None,
    ) -> None:
        """`remux_on_end`: write recording.mp4 when the event ends. The app leaves it to the
        archive jobs instead, so ending an event never waits for a remux."""
        if not MIN_SEGMENT_SECONDS <= segment_seconds <= MAX_SEGMENT_SECONDS:
            raise ValueError(f"segment_seconds must be within 1–2 s, got {segment_seconds}")
        self.media_dir = Path(media_dir)
        self.segment_seconds = segment_seconds
        self._on_state = on_state
        self._on_segment = on_segment
        self._remux_on_end = remux_on_end
        self._on_sources = on_sources
        self._audio_tap = audio_tap
        self._events: dict[str, _Event] = {}
        self._registry: PeerRegistry | None = None
        self._state_tasks: set[asyncio.Task[None]] = set()

    # -- lifespan --------------------------------------------------------------------------

    async def start(self) -> None:
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self._registry = PeerRegistry()

    async def close(self) -> None:
        """Close every peer connection, stop every writer thread, cancel every task."""
        if self._registry is not None:
            await self._registry.close_all(reason="shutdown")
        for event in self._events.values():
            for feed in event.feeds.values():
                await feed.close()
        for task in list(self._state_tasks):
            task.cancel()
        await asyncio.gather(*self._state_tasks, return_exceptions=True)
        self._events.clear()
        self._registry = None

    @property
    def registry(self) -> PeerRegistry:
        if self._registry is None:
            raise RuntimeError("MediaService.start() has not run")
        return self._registry

    # -- queries ---------------------------------------------------------------------------

    def state(self, slug: str) -> str:
        event = self._events.get(slug)
        return event.state.value if event else StreamState.IDLE.value

    def sources(self, slug: str) -> list[str]:
        """The sources being published right now (camera, screen), in a fixed order."""
        event = self._events.get(slug)
        if event is None:
            return []
        return [s for s in SOURCES if (feed := event.feeds.get(s)) is not None and feed.publisher is not None]

    def feed_dir(self, slug: str, source: Source = "camera") -> Path:
        _check_slug(slug)
        return self.media_dir / slug if source == "camera" else self.media_dir / slug / source

    def feed(self, slug: str, source: Source = "camera") -> Feed | None:
        event = self._events.get(slug)
        return event.feeds.get(source) if event else None

    # -- WHIP ------------------------------------------------------------------------------

    async def publish(self, slug: str, source: Source, offer_sdp: str) -> tuple[str, str]:
        _check_slug(slug)
        if source not in SOURCES:
            raise MediaError(400, "bad_source", f"source must be one of {', '.join(SOURCES)}")
        check_offer(offer_sdp, "WHIP")
        event = self._event(slug)
        if event.state is StreamState.ENDED:
            raise MediaError(409, "stream_ended", "this event's stream has ended")
        feed = event.feeds.get(source)
        if feed is None:
            feed = Feed(f"{slug}-{source}", self.feed_dir(slug, source), self.segment_seconds, self._segment_cb(slug))
            event.feeds[source] = feed
            if source == "camera" and self._audio_tap is not None:
                feed.set_audio_tap(self._audio_tap(slug))  # the programme's voice (the screen share has none)
        session_id = self.registry.new_id()
        feed.claim(session_id)  # 409 before any WebRTC work if the source is taken
        try:
            pc = aiortc_hooks.new_peer_connection()
        except BaseException:
            feed.release(session_id)
            raise
        peer = self.registry.add(slug, "whip", pc, session_id)
        peer.on_close.append(lambda reason: self._publisher_closed(slug, source, peer, reason))
        try:
            answer = await _negotiated(self._negotiate_publisher(peer, feed, offer_sdp))
        except BaseException:
            await self.registry.close(peer, "deleted")
            raise
        flow = watch_media(lambda: feed.frames_in, lambda flowing: self._media_flow(slug, source, peer, flowing))
        self.registry.spawn(peer, flow)
        if not await self._set_state(slug, StreamState.LIVE):
            await self._sources_changed(slug)  # already live: a second source (the screen) is news too
        return peer.id, answer

    async def _negotiate_publisher(self, peer: Peer, feed: Feed, offer_sdp: str) -> str:
        pc = peer.pc
        feed.expect_audio("audio" in media_kinds(offer_sdp))
        # Transceivers exist before the offer is applied: aiortc negotiates codecs inside
        # setRemoteDescription, so preferences set afterwards would be ignored.
        for kind in media_kinds(offer_sdp):
            pc.addTransceiver(kind, direction="recvonly").setCodecPreferences(_preferred_codecs(kind))
        await _set_remote_offer(pc, offer_sdp)
        peer.remote_ufrag = ice_ufrag(offer_sdp)
        receivers: list[RTCRtpReceiver] = []
        for transceiver in pc.getTransceivers():
            if transceiver.mid is None:
                continue
            aiortc_hooks.tap_encoded_frames(transceiver.receiver, feed.on_frame)
            receivers.append(transceiver.receiver)
        aiortc_hooks.answer_passive(pc, offer_sdp)
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        video = [r for r in receivers if r.track is not None and r.track.kind == "video"]

        async def keyframe() -> None:
            for receiver in video:
                await aiortc_hooks.request_keyframe(receiver)

        feed.keyframe_requester = keyframe
        if video:
            self.registry.spawn(peer, self._keyframe_loop(keyframe))
        for receiver in receivers:
            if receiver.track is not None:
                self.registry.spawn(peer, self._watch_track_end(peer, receiver))
        return pc.localDescription.sdp

    async def _keyframe_loop(self, request: Callable[[], Awaitable[None]]) -> None:
        # A keyframe every segment duration keeps HLS segments regular without re-encoding.
        while True:
            await asyncio.sleep(self.segment_seconds)
            await request()

    async def _watch_track_end(self, peer: Peer, receiver: RTCRtpReceiver) -> None:
        # With the decoder bypassed, the remote track only ever yields its end (RTCP BYE or
        # receiver stop): the publisher is gone even if ICE has not noticed yet.
        with contextlib.suppress(MediaStreamError):
            while True:
                await receiver.track.recv()
        self.registry.drop(peer)

    async def _publisher_closed(self, slug: str, source: Source, peer: Peer, reason: CloseReason) -> None:
        event = self._events.get(slug)
        if event is None:
            return
        feed = event.feeds.get(source)
        if feed is not None:
            feed.release(peer.id)
        event.silent.discard(source)
        if event.state is StreamState.ENDED or reason in ("ended", "shutdown"):
            return
        if on_air := set(self.sources(slug)):
            if on_air <= event.silent:  # what is left on air has no media either
                await self._set_state(slug, StreamState.RECONNECTING)
            await self._sources_changed(slug)  # one source left, the other goes on
            return
        # Dropped after media flowed: it may come back. Never connected ("failed"), or gone: idle.
        await self._set_state(slug, StreamState.RECONNECTING if reason == "dropped" else StreamState.IDLE)

    async def _media_flow(self, slug: str, source: Source, peer: Peer, flowing: bool) -> None:
        """The watchdog's report: viewers see reconnecting while no source on air sends media."""
        event = self._events.get(slug)
        if event is None or peer.closed or event.state is StreamState.ENDED:
            return
        if flowing:
            event.silent.discard(source)
        else:
            event.silent.add(source)
            logger.warning("%s of %s: no media for %.0f s (session %s)", source, slug, MEDIA_LOSS_SECONDS, peer.id)
        on_air = set(self.sources(slug))
        if on_air and on_air <= event.silent:
            await self._set_state(slug, StreamState.RECONNECTING)
        elif event.state is StreamState.RECONNECTING and on_air - event.silent:
            await self._set_state(slug, StreamState.LIVE)

    async def trickle(self, slug: str, session_id: str, sdpfrag: str, kind: PeerKind = "whip") -> None:
        peer = self.registry.get(slug, session_id, kind)
        fragment = parse_sdpfrag(sdpfrag)
        if fragment.ufrag is not None and peer.remote_ufrag and fragment.ufrag != peer.remote_ufrag:
            raise MediaError(422, "ice_restart_unsupported", "ICE restarts are not supported; POST again")
        for item in fragment.candidates:
            try:
                candidate = candidate_from_sdp(item.candidate)
            except (AssertionError, ValueError, IndexError) as exc:
                raise bad_sdp(f"malformed ICE candidate: {exc}") from None
            candidate.sdpMid = item.mid
            candidate.sdpMLineIndex = item.mline_index if item.mid is None else None
            await peer.pc.addIceCandidate(candidate)
        if fragment.end_of_candidates:
            await peer.pc.addIceCandidate(None)

    async def end_session(self, slug: str, session_id: str, kind: PeerKind = "whip") -> None:
        """DELETE, idempotent: a session that has already ended is not an error."""
        reason = await self.registry.ended(slug, session_id, kind)
        if reason is None:
            await self.registry.close(self.registry.get(slug, session_id, kind), "deleted")
            return
        event = self._events.get(slug)
        # Some clients (medooze's) close their peer before the DELETE: the RTCP BYE came first and
        # left the stream waiting for the publisher to come back. It said goodbye after all.
        waiting = event is not None and event.state is StreamState.RECONNECTING and not self.sources(slug)
        if kind == "whip" and reason == "dropped" and waiting:
            await self._set_state(slug, StreamState.IDLE)

    # -- WHEP ------------------------------------------------------------------------------

    async def watch(self, slug: str, offer_sdp: str, source: Source = "camera") -> tuple[str, str]:
        _check_slug(slug)
        check_offer(offer_sdp, "WHEP")
        event = self._event(slug)
        if event.state is StreamState.ENDED:
            raise MediaError(409, "stream_ended", "this event's stream has ended; watch the archive")
        feed = event.feeds.get(source)
        if feed is None:
            raise MediaError(409, "not_live", "nothing has been published for this event yet")
        pc = aiortc_hooks.new_peer_connection()
        peer = self.registry.add(slug, "whep", pc)

        def picture_lost() -> None:
            if not peer.closed and feed.picture_loss_due():
                self.registry.spawn(peer, feed.request_keyframe())

        viewer = Viewer(feed.clock, picture_lost)

        async def closed(_reason: CloseReason) -> None:
            feed.viewers.discard(viewer)
            viewer.stop()

        peer.on_close.append(closed)
        try:
            answer = await _negotiated(self._negotiate_viewer(peer, viewer, offer_sdp))
        except BaseException:
            await self.registry.close(peer, "deleted")
            raise
        feed.viewers.add(viewer)
        # A new viewer can only start at a keyframe: ask for one now rather than wait.
        self.registry.spawn(peer, feed.request_keyframe())
        return peer.id, answer

    async def _negotiate_viewer(self, peer: Peer, viewer: Viewer, offer_sdp: str) -> str:
        pc = peer.pc
        for kind in media_kinds(offer_sdp):
            # Forwarded packets are H.264 (the publisher's, or the one fallback encode) and Opus.
            pc.addTransceiver(viewer.tracks[kind], direction="sendonly").setCodecPreferences(_forwarded_codecs(kind))
        await _set_remote_offer(pc, offer_sdp)
        peer.remote_ufrag = ice_ufrag(offer_sdp)
        aiortc_hooks.answer_passive(pc, offer_sdp)
        answer = await pc.createAnswer()
        if answer is None or ("m=video" in answer.sdp and "H264" not in answer.sdp):
            raise MediaError(400, "no_common_codec", "WHEP viewers must accept H.264")
        await pc.setLocalDescription(answer)
        viewer.start([t.sender for t in pc.getTransceivers()], pc.localDescription.sdp)
        return pc.localDescription.sdp

    # -- event end -------------------------------------------------------------------------

    async def end_stream(self, slug: str) -> None:
        """The event ended: close its sessions, finalise archive playlists (and MP4s, see remux_on_end)."""
        _check_slug(slug)
        event = self._event(slug)
        async with event.lock:
            if event.state is StreamState.ENDED:
                return
            await self._set_state(slug, StreamState.ENDED)
            await self.registry.close_all(slug, reason="ended")
            for feed in event.feeds.values():
                await feed.finish(remux=self._remux_on_end)

    # -- helpers ---------------------------------------------------------------------------

    def _event(self, slug: str) -> _Event:
        event = self._events.get(slug)
        if event is None:
            event = self._events[slug] = _Event()
        return event

    async def _sources_changed(self, slug: str) -> None:
        if self._on_sources is None:
            return
        try:
            result = self._on_sources(slug, self.sources(slug))
            if inspect.isawaitable(result):
                await result
        except Exception:  # the WebSocket side failing must not break media
            logger.exception("on_sources callback failed for %s", slug)

    async def _set_state(self, slug: str, target: StreamState) -> bool:
        """Move the stream state; True (and `on_state` told) when it changed."""
        event = self._event(slug)
        previous = event.state
        event.state = transition(previous, target)
        if event.state is previous or self._on_state is None:
            return event.state is not previous
        try:
            result = self._on_state(slug, event.state.value)
            if inspect.isawaitable(result):
                await result
        except Exception:  # the WebSocket side failing must not break media
            logger.exception("on_state callback failed for %s", slug)
        return True

    def _segment_cb(self, slug: str) -> Callable[[Segment], None] | None:
        hook = self._on_segment
        if hook is None:
            return None
        return lambda segment: hook(slug, segment)


async def _negotiated(negotiation: Awaitable[str]) -> str:
    """Bound the offer → answer exchange; whatever aiortc raises on an odd offer is a 400."""
    try:
        return await asyncio.wait_for(negotiation, NEGOTIATION_TIMEOUT_SECONDS)
    except MediaError:
        raise
    except TimeoutError:
        raise MediaError(503, "negotiation_timeout", "WebRTC negotiation took too long") from None
    except Exception as exc:
        logger.warning("offer refused during negotiation", exc_info=True)
        raise bad_sdp(f"offer could not be negotiated: {type(exc).__name__}: {exc}"[:300]) from None


def _check_slug(slug: str) -> None:
    if not SLUG_PATTERN.match(slug):
        raise MediaError(404, "unknown_event", "no such event")


async def _set_remote_offer(pc: object, offer_sdp: str) -> None:
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))  # type: ignore[attr-defined]
    except MediaError:
        raise
    except Exception as exc:  # aiortc raises ValueError, AssertionError, KeyError... on bad SDP
        raise bad_sdp(f"SDP offer rejected: {type(exc).__name__}: {exc}"[:300]) from None


def _preferred_codecs(kind: str) -> list:  # type: ignore[type-arg]
    """Publisher codecs: H.264 first (forwarded without decoding), then VP8, then RTX."""
    codecs = RTCRtpReceiver.getCapabilities(kind).codecs
    if kind == "audio":
        return [c for c in codecs if c.name == "opus"]
    order = {"H264": 0, "VP8": 1, "rtx": 2}
    return sorted((c for c in codecs if c.name in order), key=lambda c: order[c.name])


def _forwarded_codecs(kind: str) -> list:  # type: ignore[type-arg]
    from aiortc import RTCRtpSender

    codecs = RTCRtpSender.getCapabilities(kind).codecs
    wanted = {"opus"} if kind == "audio" else {"H264", "rtx"}
    return [c for c in codecs if c.name in wanted]
