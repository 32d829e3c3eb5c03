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
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

import av
from aiortc import RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp
from av.video.reformatter import Interpolation, VideoReformatter

from . import aiortc_hooks
from .bitstream import h264_is_keyframe, vp8_is_keyframe
from .compose import Compositor, Tile
from .errors import MediaError, bad_sdp
from .feed import Feed
from .hls import Segment
from .monitor import Monitor
from .registry import CloseReason, Peer, PeerKind, PeerRegistry
from .rendition import low_size
from .sdp import check_offer, ice_ufrag, media_kinds, parse_sdpfrag
from .stage import Grant, Hand, Identity, Layout, Member, Stage
from .state import StreamState, transition
from .transcode import PcmTap
from .viewer import Viewer

logger = logging.getLogger(__name__)

Source = Literal["camera", "screen"]
SOURCES: tuple[Source, ...] = ("camera", "screen")
StateCallback = Callable[[str, str], Awaitable[None] | None]
SourcesCallback = Callable[[str, list[str]], Awaitable[None] | None]
# The audio tap: given an event's slug, a PcmTap for its programme audio (or None). Live captions.
AudioTapFactory = Callable[[str], PcmTap | None]
StageCallback = Callable[[str, Stage], Awaitable[None] | None]

SLUG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MIN_SEGMENT_SECONDS = 1.0
MAX_SEGMENT_SECONDS = 2.0
# Bound on offer → answer (ICE gathering included): a stuck negotiation must not hold the
# publisher slot or an HTTP worker.
NEGOTIATION_TIMEOUT_SECONDS = 10.0
# How long a viewer brought on air may speak unless the event says otherwise (STAGE_GUEST_SECONDS).
DEFAULT_GUEST_SECONDS = 180.0
# A member whose packets stop this long is silent (a frozen tab, a pulled cable: no RTCP BYE, and ICE
# consent takes 30 s to fail): it leaves the layout, and viewers see reconnecting within 5 s when nobody on
# air sends. Browsers send audio every 20 ms (and at least every 400 ms with DTX), so this is never a
# pause in speech. FIRST_PACKET_SECONDS bounds a session that connected but never sent anything.
MEMBER_SILENCE_SECONDS = 3.0
FIRST_PACKET_SECONDS = 10.0
WATCHDOG_INTERVAL_SECONDS = 0.5


class _Tap:
    """A stage member's encoded frames, routed as the plan says: to its own WHEP viewers (monitor), to the
    programme feed it is forwarded to (or will be, from its next keyframe: the old source goes on until
    then, so the switch leaves no hole), and to the compositor."""

    def __init__(self, member_id: str, has_video: bool, has_audio: bool) -> None:
        self.member_id = member_id
        self.has_video, self.has_audio = has_video, has_audio
        self.monitor = Monitor()
        self.feed: Feed | None = None
        self.pending: Feed | None = None
        self.compositor: Compositor | None = None
        self.muted = False
        self.keyframe: Callable[[], Awaitable[None]] | None = None
        self.cutover: Callable[[_Tap, Feed], None] | None = None
        self.last_packet: float | None = None  # time.monotonic() of the latest frame

    def on_frame(self, codec: str, data: bytes, rtp_timestamp: int) -> None:
        self.last_packet = time.monotonic()
        self.monitor.on_frame(codec, data, rtp_timestamp)
        pending = self.pending
        if pending is not None and self.cutover is not None:
            video = codec != "opus"
            if (not self.has_video) or (video and _is_keyframe(codec, data)):
                self.cutover(self, pending)
        feed = self.feed
        if feed is not None and not (codec == "opus" and self.muted):
            feed.on_frame(codec, data, rtp_timestamp)
        if self.compositor is not None:
            self.compositor.push(self.member_id, codec, data, rtp_timestamp)

    async def request_keyframe(self) -> None:
        if self.keyframe is not None:
            await self.keyframe()


class _Event:
    """Media state of one event: its programme feeds, its stage and the taps of its members."""

    def __init__(self) -> None:
        self.state = StreamState.IDLE
        self.feeds: dict[Source, Feed] = {}
        self.lock = asyncio.Lock()
        self.stage = Stage()
        self.taps: dict[str, _Tap] = {}
        self.compositor: Compositor | None = None
        self.guest_timers: dict[str, asyncio.Task[None]] = {}


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
        on_stage: StageCallback | None = None,
        guest_seconds: float = DEFAULT_GUEST_SECONDS,
        x264_preset: str | None = None,
        low_rendition: bool = False,
        subtitles: tuple[str, str] | None = None,
    ) -> None:
        """`remux_on_end`: write recording.mp4 when the event ends. The app leaves it to the
        archive jobs instead, so ending an event never waits for a remux. `low_rendition`: the programme
        also in 360p for weak networks (rendition.py), with a multivariant playlist naming both.
        `subtitles`: the multivariant playlist's `EXT-X-MEDIA` line for a subtitles rendition and the
        attribute tying each variant to it (the live captions' WebVTT track), or None."""
        if not MIN_SEGMENT_SECONDS <= segment_seconds <= MAX_SEGMENT_SECONDS:
            raise ValueError(f"segment_seconds must be within 1–2 s, got {segment_seconds}")
        self.media_dir = Path(media_dir)
        self.segment_seconds = segment_seconds
        self._on_state = on_state
        self._on_segment = on_segment
        self._remux_on_end = remux_on_end
        self._on_sources = on_sources
        self._audio_tap = audio_tap
        self._on_stage = on_stage
        self.guest_seconds = guest_seconds
        self._x264_preset = x264_preset
        self.low_rendition = low_rendition
        self.subtitles = subtitles
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
            await self._stop_compositor(event)
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
        """The programme playlists on air right now (camera: the programme; screen: a screen share
        forwarded beside a single camera), in a fixed order."""
        event = self._events.get(slug)
        if event is None:
            return []
        plan = event.stage.plan()
        found: list[str] = []
        if plan.mode == "compose" or plan.camera is not None:
            found.append("camera")
        if plan.mode == "forward" and plan.screen is not None:
            found.append("screen")
        return found

    def stage(self, slug: str) -> Stage:
        _check_slug(slug)
        return self._event(slug).stage

    def feed_dir(self, slug: str, source: Source = "camera") -> Path:
        _check_slug(slug)
        return self.media_dir / slug if source == "camera" else self.media_dir / slug / source

    def feed(self, slug: str, source: Source = "camera") -> Feed | None:
        event = self._events.get(slug)
        return event.feeds.get(source) if event else None

    def compositor(self, slug: str) -> Compositor | None:
        event = self._events.get(slug)
        return event.compositor if event else None

    # -- WHIP ------------------------------------------------------------------------------

    async def publish(
        self, slug: str, source: Source, offer_sdp: str, identity: Identity | None = None
    ) -> tuple[str, str]:
        """A WHIP session joins the event's stage as a member. Without an `identity` (a bare media
        server) the source itself is the member's key: one camera and one screen, as before the stage."""
        _check_slug(slug)
        if source not in SOURCES:
            raise MediaError(400, "bad_source", f"source must be one of {', '.join(SOURCES)}")
        check_offer(offer_sdp, "WHIP")
        event = self._event(slug)
        if event.state is StreamState.ENDED:
            raise MediaError(409, "stream_ended", "this event's stream has ended")
        if identity is None:
            identity = Identity(key=source, kind="screen" if source == "screen" else "expert")
        if identity.kind == "guest" and identity.participant_id in event.stage.grants:
            await self._replace_guest(slug, event, identity)
        event.stage.check_can_join(identity)  # 409 / 403 before any WebRTC work
        # The programme's playlist (and the screen's, once a screen is shared): created on first use.
        for name in ("camera", source):
            if name not in event.feeds:
                event.feeds[name] = Feed(
                    f"{slug}-{name}",
                    self.feed_dir(slug, name),
                    self.segment_seconds,
                    self._segment_cb(slug),
                    low_rendition=self.low_rendition and name == "camera",  # a screen at 360p is unreadable
                )
                if name == "camera" and self._audio_tap is not None:
                    # The programme's voice (forwarded or mixed; the screen share has none): live captions.
                    event.feeds[name].set_audio_tap(self._audio_tap(slug))
        if any(event.feeds[name].ended for name in ("camera", source)):
            raise MediaError(409, "stream_ended", "this event's stream has ended")  # archived before a restart
        kinds = media_kinds(offer_sdp)
        event.stage.check_offer(identity, "video" in kinds)
        session_id = self.registry.new_id()
        member = event.stage.join(session_id, identity, has_video="video" in kinds, has_audio="audio" in kinds)
        tap = _Tap(session_id, member.has_video, member.has_audio)
        tap.cutover = lambda t, feed: self._cutover(event, t, feed)
        event.taps[session_id] = tap
        try:
            pc = aiortc_hooks.new_peer_connection()
        except BaseException:
            await self._member_left(slug, session_id)
            raise
        peer = self.registry.add(slug, "whip", pc, session_id)
        peer.on_close.append(lambda reason: self._publisher_closed(slug, peer, reason))
        try:
            answer = await _negotiated(self._negotiate_publisher(peer, tap, offer_sdp))
        except BaseException:
            await self.registry.close(peer, "deleted")
            raise
        self._apply(slug)
        if member.on_air and identity.kind == "guest":
            self._start_guest_timer(slug, member)
        if not await self._set_state(slug, StreamState.LIVE):
            await self._sources_changed(slug)  # already live: a new member is news too
        await self._stage_changed(slug)
        return peer.id, answer

    async def _replace_guest(self, slug: str, event: _Event, identity: Identity) -> None:
        """An invited viewer publishing again while their previous session lingers (a reloaded page: the old
        connection may take ~30 s to time out) takes over from it, backstage: the newest session wins."""
        for member in [m for m in event.stage.members.values() if m.identity.key == identity.key]:
            logger.info("guest %s of %s publishes again: session %s replaced", identity.key, slug, member.id)
            peer = next((p for p in self.registry.peers(slug, "whip") if p.id == member.id), None)
            if peer is not None:
                await self.registry.close(peer, "dropped")
            else:
                await self._member_left(slug, member.id)

    async def _negotiate_publisher(self, peer: Peer, tap: _Tap, offer_sdp: str) -> str:
        pc = peer.pc
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
            aiortc_hooks.tap_encoded_frames(transceiver.receiver, tap.on_frame)
            aiortc_hooks.throttle_remb(transceiver.receiver)
            receivers.append(transceiver.receiver)
        aiortc_hooks.answer_passive(pc, offer_sdp)
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        video = [r for r in receivers if r.track is not None and r.track.kind == "video"]

        async def keyframe() -> None:
            for receiver in video:
                await aiortc_hooks.request_keyframe(receiver)

        tap.keyframe = keyframe
        tap.monitor.keyframe_requester = keyframe
        if video:
            self.registry.spawn(peer, self._keyframe_loop(keyframe))
        self.registry.spawn(peer, self._watchdog(peer, tap))
        for receiver in receivers:
            if receiver.track is not None:
                self.registry.spawn(peer, self._watch_track_end(peer, receiver))
        return pc.localDescription.sdp

    async def _keyframe_loop(self, request: Callable[[], Awaitable[None]]) -> None:
        # A keyframe every segment duration keeps HLS segments regular without re-encoding.
        while True:
            await asyncio.sleep(self.segment_seconds)
            await request()

    async def _watchdog(self, peer: Peer, tap: _Tap) -> None:
        """Loss of media: a member whose packets stop (a frozen tab, a pulled cable: no RTCP BYE, and ICE
        consent takes ~30 s to fail) is silent after MEMBER_SILENCE_SECONDS and back when packets come
        again (`_member_flow`). A session connected but sending nothing at all is dropped; one that never
        connects is the registry's (its connect deadline ends it as failed)."""
        started = time.monotonic()
        silent = False
        while True:
            await asyncio.sleep(WATCHDOG_INTERVAL_SECONDS)
            now = time.monotonic()
            last = tap.last_packet
            if last is None:
                if peer.connected and now - started > FIRST_PACKET_SECONDS:
                    logger.warning("stage member %s of %s connected but sent nothing: dropped", peer.id, peer.slug)
                    self.registry.drop(peer)
                    return
                continue
            quiet = now - last > MEMBER_SILENCE_SECONDS
            if quiet != silent:
                silent = quiet
                await self._member_flow(peer.slug, peer, tap, flowing=not quiet)

    async def _watch_track_end(self, peer: Peer, receiver: RTCRtpReceiver) -> None:
        # With the decoder bypassed, the remote track only ever yields its end (RTCP BYE or
        # receiver stop): the publisher is gone even if ICE has not noticed yet.
        with contextlib.suppress(MediaStreamError):
            while True:
                await receiver.track.recv()
        self.registry.drop(peer)

    async def _publisher_closed(self, slug: str, peer: Peer, reason: CloseReason) -> None:
        event = self._events.get(slug)
        if event is None:
            return
        logger.info("stage member %s of %s left (%s)", peer.id, slug, reason)
        await self._member_left(slug, peer.id)
        if event.state is StreamState.ENDED or reason in ("ended", "shutdown"):
            return
        if event.stage.members:
            await self._sources_changed(slug)  # the others go on
            await self._stage_changed(slug)
            if event.stage.on_air() and all(m.silent for m in event.stage.on_air()):
                await self._set_state(slug, StreamState.RECONNECTING)  # what is left on air sends nothing
            return
        await self._stage_changed(slug)
        await self._set_state(slug, StreamState.RECONNECTING if reason == "dropped" else StreamState.IDLE)

    async def _member_left(self, slug: str, session_id: str) -> None:
        event = self._event(slug)
        event.stage.leave(session_id)
        tap = event.taps.pop(session_id, None)
        timer = event.guest_timers.pop(session_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        if tap is not None:
            tap.monitor.stop()
            for feed in event.feeds.values():
                if feed.publisher == session_id:
                    feed.release(session_id)
            tap.feed = tap.pending = tap.compositor = None
        if event.state is not StreamState.ENDED:
            self._apply(slug)

    # -- the stage -------------------------------------------------------------------------

    async def set_on_air(self, slug: str, member_id: str, on_air: bool) -> Member:
        """Put a member on air or take them off (a 5th is refused with 409 stage_full). A guest taken off
        air leaves the stage: their session is cut and their grant withdrawn."""
        event = self._event(slug)
        member = event.stage.member(member_id)
        if not on_air and member.kind == "guest":
            await self.cut(slug, member_id)
            return member
        was = member.on_air
        event.stage.set_on_air(member_id, on_air)
        if on_air and not was and member.kind == "guest":
            self._start_guest_timer(slug, member)
        self._apply(slug)
        await self._sources_changed(slug)
        await self._stage_changed(slug)
        return member

    async def set_muted(self, slug: str, member_id: str, muted: bool) -> Member:
        member = self._event(slug).stage.set_muted(member_id, muted)
        self._apply(slug)
        await self._stage_changed(slug)
        return member

    async def set_layout(self, slug: str, layout: Layout, speaker: str | None = None) -> None:
        self._event(slug).stage.set_layout(layout, speaker)
        self._apply(slug)
        await self._stage_changed(slug)

    async def cut(self, slug: str, member_id: str) -> None:
        """Close a member's session now (staff cutting a guest, the guest leaving, their time running out)."""
        event = self._event(slug)
        member = event.stage.member(member_id)
        if member.kind == "guest" and member.identity.participant_id is not None:
            event.stage.revoke(member.identity.participant_id)
        event.stage.set_on_air(member_id, False)  # cut, not dropped: a re-publish waits backstage
        peer = next((p for p in self.registry.peers(slug, "whip") if p.id == member_id), None)
        if peer is not None:
            await self.registry.close(peer, "deleted")
        else:
            await self._member_left(slug, member_id)
            await self._stage_changed(slug)

    async def raise_hand(self, slug: str, hand: Hand) -> None:
        self._event(slug).stage.raise_hand(hand)
        await self._stage_changed(slug)

    async def lower_hand(self, slug: str, question_id: int) -> Hand | None:
        hand = self._event(slug).stage.lower_hand(question_id)
        await self._stage_changed(slug)
        return hand

    async def grant(self, slug: str, grant: Grant) -> None:
        self._event(slug).stage.grant(grant)
        await self._stage_changed(slug)

    async def revoke(self, slug: str, participant_id: int) -> None:
        event = self._event(slug)
        for member in event.stage.revoke(participant_id):
            await self.cut(slug, member.id)
        await self._stage_changed(slug)

    def _start_guest_timer(self, slug: str, member: Member) -> None:
        event = self._event(slug)

        async def time_up() -> None:
            await asyncio.sleep(self.guest_seconds)
            event.guest_timers.pop(member.id, None)
            if member.id in event.stage.members:
                await self.cut(slug, member.id)

        previous = event.guest_timers.pop(member.id, None)
        if previous is not None:
            previous.cancel()
        task = asyncio.get_running_loop().create_task(time_up())
        event.guest_timers[member.id] = task
        self._state_tasks.add(task)
        task.add_done_callback(self._state_tasks.discard)

    # -- the programme -----------------------------------------------------------------------

    def _apply(self, slug: str) -> None:
        """Route every member's packets as the stage's plan says. Switches are make-before-break: a newly
        forwarded member takes the programme at its next keyframe, the compositor at its first frame."""
        event = self._event(slug)
        camera, screen = event.feeds.get("camera"), event.feeds.get("screen")
        if camera is None or camera.ended:
            return
        stage = event.stage
        plan = stage.plan()
        for tap in event.taps.values():
            member = stage.members.get(tap.member_id)
            muted = member is not None and member.muted
            if tap.feed is not None and muted != tap.muted:
                # A forwarded member muted: its segments declare no audio (an audio stream that never
                # carries a packet makes players wait for it).
                tap.feed.expect_audio(tap.has_audio and not muted)
            tap.muted = muted
        if plan.mode == "compose":
            compositor = event.compositor
            if compositor is None:
                compositor = self._new_compositor(slug, event)
            compositor.set_tiles(stage.layout, [_tile(stage.members[m]) for m in plan.members])
            for tap in event.taps.values():
                if tap.pending is not None:
                    tap.pending = None
                on = tap.member_id in plan.members
                if on and tap.compositor is None:
                    self._spawn(tap.request_keyframe())  # its picture as soon as possible
                tap.compositor = compositor if on else None
                if not on and tap.feed is not None:
                    self._release(event, tap.feed)
            return
        self._route(event, camera, plan.camera)
        if screen is not None:
            self._route(event, screen, plan.screen)
        compositor = event.compositor
        if compositor is not None and camera.publisher != compositor.session_id:
            self._spawn(self._stop_compositor(event))  # never took the programme, or already handed it on

    def _route(self, event: _Event, feed: Feed, member_id: str | None) -> None:
        for tap in event.taps.values():
            if tap.pending is feed and tap.member_id != member_id:
                tap.pending = None
        if member_id is None:
            if feed.publisher is not None:
                self._release(event, feed)
            return
        tap = event.taps.get(member_id)
        if tap is None or feed.publisher == member_id:
            return
        if feed.publisher is None:
            self._cutover(event, tap, feed)  # nothing to keep going: take it now, the writer waits for a keyframe
        else:
            tap.pending = feed
            self._spawn(tap.request_keyframe())

    def _cutover(self, event: _Event, tap: _Tap, feed: Feed) -> None:
        tap.pending = None
        if feed.publisher is not None:
            self._release(event, feed)
        feed.claim(tap.member_id)
        feed.keyframe_requester = tap.keyframe
        feed.expect_audio(tap.has_audio and not tap.muted)
        tap.feed = feed

    def _release(self, event: _Event, feed: Feed) -> None:
        holder = feed.publisher
        if holder is None:
            return
        feed.release(holder)
        tap = event.taps.get(holder)
        if tap is not None and tap.feed is feed:
            tap.feed = None
        compositor = event.compositor
        if compositor is not None and holder == compositor.session_id:
            self._spawn(self._stop_compositor(event))

    def _new_compositor(self, slug: str, event: _Event) -> Compositor:
        holder: list[Compositor] = []

        def emit(codec: str, data: bytes, rtp_timestamp: int) -> None:
            self._from_compositor(event, holder[0], codec, data, rtp_timestamp)

        kwargs = {"preset": self._x264_preset} if self._x264_preset else {}
        compositor = Compositor(self.registry.new_id(), self.segment_seconds, emit, **kwargs)
        holder.append(compositor)
        if self.low_rendition:
            loop = asyncio.get_running_loop()

            scaler = VideoReformatter()

            def picture(frame: av.VideoFrame, ts: int, keyframe: bool) -> None:  # compositor thread
                # Scaled to the low size here, at once: the compositor draws its next picture into this frame.
                width, height = low_size(frame.width, frame.height)
                small = scaler.reformat(
                    frame, width=width, height=height, format="yuv420p", interpolation=Interpolation.FAST_BILINEAR
                )
                loop.call_soon_threadsafe(self._picture_from_compositor, event, compositor, small, ts, keyframe)

            compositor.on_picture = picture
        event.compositor = compositor
        return compositor

    def _from_compositor(self, event: _Event, compositor: Compositor, codec: str, data: bytes, ts: int) -> None:
        if event.compositor is not compositor:
            return  # stopping: its last frames are not the programme any more
        camera = event.feeds["camera"]
        if camera.publisher != compositor.session_id:
            if codec != "H264" or camera.ended:
                return  # the programme switches at the compositor's first picture (a keyframe)
            if event.stage.plan().mode != "compose":
                # Frames already on their way when a forwarded member took the programme back (its
                # stop is a task that has not run yet): they must not take it from that member again.
                return
            self._release(event, camera)
            if (screen := event.feeds.get("screen")) is not None:
                self._release(event, screen)  # the shared screen is inside the programme now
            camera.claim(compositor.session_id, shared_clock=True, pictures=True)
            camera.keyframe_requester = compositor.request_keyframe
            camera.expect_audio(True)
        camera.on_frame(codec, data, ts)

    def _picture_from_compositor(
        self, event: _Event, compositor: Compositor, frame: av.VideoFrame, ts: int, keyframe: bool
    ) -> None:
        camera = event.feeds.get("camera")
        if event.compositor is compositor and camera is not None and camera.publisher == compositor.session_id:
            camera.picture(frame, ts, keyframe)

    async def _stop_compositor(self, event: _Event) -> None:
        compositor = event.compositor
        if compositor is None:
            return
        event.compositor = None
        for tap in event.taps.values():
            if tap.compositor is compositor:
                tap.compositor = None
        await compositor.stop()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(_logged(coro))
        self._state_tasks.add(task)
        task.add_done_callback(self._state_tasks.discard)

    async def _member_flow(self, slug: str, peer: Peer, tap: _Tap, flowing: bool) -> None:
        """The watchdog's report on one member: a silent member leaves the layout while others send (and
        comes back when it sends again); viewers see reconnecting while nobody on air sends anything."""
        event = self._events.get(slug)
        if event is None or peer.closed or event.state is StreamState.ENDED:
            return
        member = event.stage.members.get(tap.member_id)
        if member is None:
            return
        member.silent = not flowing
        if not flowing:
            logger.warning(
                "%s of %s: no media for %.0f s (session %s)", member.kind, slug, MEMBER_SILENCE_SECONDS, peer.id
            )
        sources = self.sources(slug)
        self._apply(slug)
        if self.sources(slug) != sources:
            await self._sources_changed(slug)
        await self._stage_changed(slug)
        on_air = event.stage.on_air()
        if on_air and all(m.silent for m in on_air):
            await self._set_state(slug, StreamState.RECONNECTING)
        elif event.state is StreamState.RECONNECTING and any(not m.silent for m in on_air):
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
            peer = self.registry.get(slug, session_id, kind)
            stage = self._events[slug].stage if kind == "whip" and slug in self._events else None
            member = stage.members.get(session_id) if stage is not None else None
            if stage is not None and member is not None and member.kind == "guest" and member.identity.participant_id:
                # A guest who ends their session leaves the stage: coming back needs a new invitation (a
                # dropped connection keeps it, see Stage.leave).
                stage.revoke(member.identity.participant_id)
            await self.registry.close(peer, "deleted")
            return
        event = self._events.get(slug)
        # Some clients (medooze's) close their peer before the DELETE: the RTCP BYE came first and
        # left the stream waiting for the publisher to come back. It said goodbye after all.
        waiting = event is not None and event.state is StreamState.RECONNECTING and not self.sources(slug)
        if kind == "whip" and reason == "dropped" and waiting:
            await self._set_state(slug, StreamState.IDLE)

    # -- WHEP ------------------------------------------------------------------------------

    async def watch(
        self, slug: str, offer_sdp: str, source: Source = "camera", member: str | None = None
    ) -> tuple[str, str]:
        """The programme (or a screen share beside it) over WHEP; `member`: one stage member as they
        publish, for the experts among themselves and a moderator's backstage preview."""
        _check_slug(slug)
        check_offer(offer_sdp, "WHEP")
        event = self._event(slug)
        if event.state is StreamState.ENDED:
            raise MediaError(409, "stream_ended", "this event's stream has ended; watch the archive")
        feed: Feed | Monitor | None
        if member is not None:
            tap = event.taps.get(member)
            if tap is None:
                raise MediaError(404, "unknown_member", "no such member on this stage")
            feed = tap.monitor
        else:
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
            for timer in event.guest_timers.values():
                timer.cancel()
            await self._stop_compositor(event)
            for feed in event.feeds.values():
                await feed.finish(remux=self._remux_on_end)

    # -- helpers ---------------------------------------------------------------------------

    def _event(self, slug: str) -> _Event:
        event = self._events.get(slug)
        if event is None:
            event = self._events[slug] = _Event()
        return event

    async def _stage_changed(self, slug: str) -> None:
        if self._on_stage is None:
            return
        try:
            result = self._on_stage(slug, self._event(slug).stage)
            if inspect.isawaitable(result):
                await result
        except Exception:  # the WebSocket side failing must not break media
            logger.exception("on_stage callback failed for %s", slug)

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


def _is_keyframe(codec: str, data: bytes) -> bool:
    return h264_is_keyframe(data) if codec == "H264" else codec == "VP8" and vp8_is_keyframe(data)


def _tile(member: Member) -> Tile:
    who = member.identity
    label = " · ".join(part for part in (who.name, who.organisation) if part)
    return Tile(member.id, label=label, muted=member.muted, video=member.has_video)


async def _logged(coro: Awaitable[None]) -> None:
    try:
        await coro
    except Exception:
        logger.exception("media task failed")


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
