"""The stage through WHIP with real aiortc publishers: two experts, the second joins backstage, goes on air
(the programme is composed: both voices, the layout), the layout changes, they leave (forwarded again). The
archive is decoded: each segment's picture says which layout it shows, an FFT of its audio whose voices."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av
import numpy as np
import pytest

from server.media.hls import SEGMENT_LOG
from server.media.stage import Layout

from .conftest import MediaServer, expert_token, ffmpeg_errors, requires_ffmpeg, wait_for, watch_token
from .publishers import AiortcPublisher, AiortcViewer, PausableTrack

pytestmark = [pytest.mark.slow, pytest.mark.media, requires_ffmpeg]

ALICE_TONE, BOB_TONE = 500.0, 1200.0  # whole periods in a 20 ms frame
ALICE_SHADE, BOB_SHADE = 200, 60
# A voice is "there" when its tone's peak is at least this share of the strongest peak (both mixed at
# one level come out close to 1; a voice left out is coding noise, far below).
TONE_SHARE = 0.2
# Segments cut short by a switch are too short to say which tones they hold.
MIN_FFT_SECONDS = 0.5
# How close a sampled luma must be to a publisher's shade (x264 and scaling shift it a little).
SHADE_TOLERANCE = 25
# Switching to the composite: the compositor needs each camera's next keyframe, then one frame.
MAX_SWITCH_SECONDS = 2.5


# Segments are opened as what they are: FFmpeg's probe takes a segment of a few TS packets (a switch can
# cut one two frames long) for an MPEG program stream, and its AAC for MP2 that will not decode.
SEGMENT_FORMAT = "mpegts"


def segments(directory: Path) -> list[Path]:
    return [directory / line.split()[4] for line in (directory / SEGMENT_LOG).read_text().splitlines()]


def listed(server: MediaServer, slug: str) -> int:
    log = server.media_dir / slug / SEGMENT_LOG
    return len(log.read_text().splitlines()) if log.is_file() else 0


def near(value: float, shade: int) -> bool:
    return abs(value - shade) <= SHADE_TOLERANCE


def picture_of(path: Path) -> str:
    """Which layout a segment's last picture shows: forward (Alice's 320×240 as published), speaker
    (Alice large, Bob small on the right), grid (side by side), or unknown."""
    with av.open(str(path), format=SEGMENT_FORMAT) as container:
        if not container.streams.video:
            return "empty"  # audio only: a segment cut while the programme waited for a keyframe
        frame = None
        for frame in container.decode(video=0):  # noqa: B007  the last one
            pass
    if frame is None:
        return "empty"
    luma = frame.to_ndarray(format="gray")
    if frame.width == 320:
        return "forward" if near(float(luma.mean()), ALICE_SHADE) else "unknown"
    at = lambda x, y: float(luma[y - 8 : y + 8, x - 8 : x + 8].mean())  # noqa: E731
    # Alice's 4:3 picture fills the 960×720 large tile; in the grid Bob's tile starts at x = 720.
    if near(at(800, 360), ALICE_SHADE) and near(at(1120, 360), BOB_SHADE):
        return "speaker"
    if near(at(320, 360), ALICE_SHADE) and near(at(800, 360), BOB_SHADE):
        return "grid"
    return "unknown"


def lower_third_of(path: Path) -> bool:
    """In the grid, Alice's tile (0, 180, 640×360) ends in a dark band with her name in white."""
    with av.open(str(path), format=SEGMENT_FORMAT) as container:
        frame = None
        for frame in container.decode(video=0):  # noqa: B007  the last one
            pass
    assert frame is not None
    band = frame.to_ndarray(format="gray")[492:538, 0:640]
    return float(np.median(band)) < 100 and int(band.max()) > 200


def voices_of(path: Path, tones: tuple[float, ...] = (ALICE_TONE, BOB_TONE)) -> set[float] | None:
    with av.open(str(path), format=SEGMENT_FORMAT) as container:
        if not container.streams.audio:
            return None
        frames = [f.to_ndarray()[0] for f in container.decode(audio=0)]
        rate = container.streams.audio[0].sample_rate
    if not frames:
        return None
    samples = np.concatenate(frames)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    if len(samples) < MIN_FFT_SECONDS * rate:
        return None
    peaks = {tone: float(spectrum[(freqs > tone - 15) & (freqs < tone + 15)].max()) for tone in tones}
    strongest = max(peaks.values())
    return {tone for tone, peak in peaks.items() if peak >= TONE_SHARE * strongest}


async def test_second_expert_on_air_composes_both_voices_then_forwards_again(media_server: MediaServer) -> None:
    service = media_server.service
    alice = AiortcPublisher(media_server.url, "ev1", expert_token("ev1", "alice"), tone=ALICE_TONE, shade=ALICE_SHADE)
    bob = AiortcPublisher(media_server.url, "ev1", expert_token("ev1", "bob"), tone=BOB_TONE, shade=BOB_SHADE)
    peek = None
    try:
        assert (await alice.start()).status_code == 201
        await wait_for(lambda: listed(media_server, "ev1") >= 2, what="Alice forwarded")
        assert (await bob.start()).status_code == 201
        stage = service.stage("ev1")
        bob_id = bob.location.rsplit("/", 1)[1]
        assert stage.members[bob_id].on_air is False  # the second expert waits backstage
        assert stage.plan().mode == "forward"

        # Experts see each other: Bob as he publishes, over WHEP, before he is on air.
        peek = AiortcViewer(media_server.url, "ev1", watch_token("ev1"), member=bob_id)
        assert (await peek.start()).status_code == 201
        await wait_for(lambda: peek.frames["video"] > 5 and peek.frames["audio"] > 5, what="Bob over WHEP")

        asked = time.monotonic()
        await service.set_on_air("ev1", bob_id, True)
        programme = service.feed("ev1")
        await wait_for(
            lambda: (c := service.compositor("ev1")) is not None and programme.publisher == c.session_id,
            what="the compositor takes the programme",
        )
        switch = time.monotonic() - asked
        print(f"forward → composite: {switch:.3f} s")
        assert switch <= MAX_SWITCH_SECONDS
        at_compose = listed(media_server, "ev1")
        await wait_for(lambda: listed(media_server, "ev1") >= at_compose + 3, what="composed segments")

        await service.set_layout("ev1", Layout.GRID)
        at_grid = listed(media_server, "ev1")
        await wait_for(lambda: listed(media_server, "ev1") >= at_grid + 3, what="grid segments")

        await service.set_on_air("ev1", bob_id, False)
        await wait_for(lambda: programme.publisher == alice.location.rsplit("/", 1)[1], what="Alice forwarded again")
        at_forward = listed(media_server, "ev1")
        await wait_for(lambda: listed(media_server, "ev1") >= at_forward + 2, what="forwarded segments")
        assert service.compositor("ev1") is None
    finally:
        for client in (peek, bob, alice):
            if client is not None:
                await client.close()
    await service.end_stream("ev1")

    directory = media_server.media_dir / "ev1"
    assert ffmpeg_errors(directory / "index.m3u8") == ""
    archive = (directory / "index.m3u8").read_text()
    assert archive.count("#EXT-X-DISCONTINUITY\n") >= 2  # into the composite and out of it
    paths = segments(directory)
    seen = [(picture_of(path), voices_of(path)) for path in paths]
    print("segments:", seen)
    grid = [path for path, (layout, _) in zip(paths, seen, strict=True) if layout == "grid"]
    assert lower_third_of(grid[-1])  # the name drawn in the programme
    layouts = [layout for layout, _ in seen if layout in ("forward", "speaker", "grid")]
    runs = [layout for i, layout in enumerate(layouts) if i == 0 or layouts[i - 1] != layout]
    assert runs == ["forward", "speaker", "grid", "forward"], seen
    for layout, voices in seen:
        if layout in ("speaker", "grid") and voices is not None:
            assert voices == {ALICE_TONE, BOB_TONE}, seen  # both mixed
    assert seen[1] == ("forward", {ALICE_TONE}), seen  # before Bob went on air, only Alice was heard
    heard = [voices for layout, voices in seen if voices is not None]
    assert heard[-1] == {ALICE_TONE}, seen  # and after he left


async def test_a_member_dropping_out_leaves_the_layout_within_5_s(media_server: MediaServer) -> None:
    service = media_server.service
    alice = AiortcPublisher(media_server.url, "ev2", expert_token("ev2", "alice"), tone=ALICE_TONE, shade=ALICE_SHADE)
    bob = AiortcPublisher(media_server.url, "ev2", expert_token("ev2", "bob"), tone=BOB_TONE, shade=BOB_SHADE)
    bob.video_track, bob.audio_track = PausableTrack(bob.video_track), PausableTrack(bob.audio_track)
    try:
        assert (await alice.start()).status_code == 201
        assert (await bob.start()).status_code == 201
        bob_id = bob.location.rsplit("/", 1)[1]
        await service.set_on_air("ev2", bob_id, True)
        programme = service.feed("ev2")
        await wait_for(
            lambda: (c := service.compositor("ev2")) is not None and programme.publisher == c.session_id,
            what="composing",
        )
        # Bob's tab freezes: no more media, no RTCP BYE, and ICE still answers.
        bob.video_track.paused = bob.audio_track.paused = True
        await wait_for(lambda: service.stage("ev2").members[bob_id].silent, within=5.0, what="Bob silent")
        assert service.stage("ev2").plan().mode == "forward"  # Bob left the layout; Alice alone is forwarded
        await wait_for(lambda: programme.publisher == alice.location.rsplit("/", 1)[1], what="Alice forwarded")
        assert service.state("ev2") == "live"  # Alice still sends
        # Bob's tab wakes up: he is back in the layout, composed with Alice again.
        bob.video_track.paused = bob.audio_track.paused = False
        await wait_for(lambda: not service.stage("ev2").members[bob_id].silent, within=5.0, what="Bob back")
        assert service.stage("ev2").plan().mode == "compose"
    finally:
        await bob.close()
        await alice.close()


async def test_a_guest_is_taken_off_when_their_time_runs_out(media_server: MediaServer) -> None:
    from server.media.stage import Grant

    service = media_server.service
    service.guest_seconds = 1.0
    alice = AiortcPublisher(media_server.url, "ev3", expert_token("ev3", "alice"), tone=ALICE_TONE)
    guest = AiortcPublisher(media_server.url, "ev3", "guest-ev3-42", tone=BOB_TONE, video=False)
    try:
        assert (await alice.start()).status_code == 201
        refused = await guest.start()
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_invited"
        await guest.close()
        await service.grant("ev3", Grant(42, 7, "Li Wei", "", camera=False, at=time.time()))
        guest = AiortcPublisher(media_server.url, "ev3", "guest-ev3-42", tone=BOB_TONE, video=False)
        assert (await guest.start()).status_code == 201
        guest_id = guest.location.rsplit("/", 1)[1]
        assert service.stage("ev3").members[guest_id].on_air is False  # backstage until staff act
        await asyncio.sleep(1.5)  # the clock only runs on air
        assert guest_id in service.stage("ev3").members
        await service.set_on_air("ev3", guest_id, True)
        await wait_for(lambda: guest_id not in service.stage("ev3").members, within=5.0, what="time ran out")
        assert 42 not in service.stage("ev3").grants  # a new invitation is needed to come back
        assert service.stage("ev3").plan().mode == "forward"
    finally:
        await guest.close()
        await alice.close()


CHROMIUM_TONES = (700.0, 1300.0)


async def test_chromium_and_aiortc_experts_are_heard_together(media_server: MediaServer, tmp_path: Path) -> None:
    """Two experts from Chromium with fake devices (each microphone a WAV of its own tone) and one from
    aiortc, all on air: the programme's HLS, decoded by ffmpeg, carries the three voices."""
    import subprocess

    from playwright.async_api import async_playwright

    from .test_chromium import PUBLISH_JS, launch

    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian package chromium")
    service = media_server.service
    run = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
    video = tmp_path / "capture.y4m"
    subprocess.run([*run, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=4", str(video)], check=True)
    aiortc_expert = AiortcPublisher(media_server.url, "ev4", expert_token("ev4", "carol"), tone=ALICE_TONE)
    async with async_playwright() as pw:
        browsers = []
        try:
            assert (await aiortc_expert.start()).status_code == 201  # on air first: the host
            for name, tone in zip(("anna", "ben"), CHROMIUM_TONES, strict=True):
                wav = tmp_path / f"{name}.wav"
                sine = f"sine=frequency={tone}:sample_rate=48000:duration=30"
                subprocess.run([*run, "-f", "lavfi", "-i", sine, "-ac", "2", str(wav)], check=True)
                browser = await launch(
                    pw,
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-video-capture={video}",
                    f"--use-file-for-fake-audio-capture={wav}",
                )
                browsers.append(browser)
                page = await browser.new_page()
                await page.goto(f"{media_server.url}/test-page")
                whip = f"{media_server.url}/whip/ev4"
                # A steady tone is what a noise suppressor removes: switch the voice processing off.
                unprocessed = "audio: {noiseSuppression: false, autoGainControl: false, echoCancellation: false}"
                result = await page.evaluate(
                    PUBLISH_JS.replace("audio: true", unprocessed), [whip, expert_token("ev4", name)]
                )
                assert result["status"] == 201, result
                await service.set_on_air("ev4", result["location"].rsplit("/", 1)[1], True)
            programme = service.feed("ev4")
            await wait_for(
                lambda: (c := service.compositor("ev4")) is not None and programme.publisher == c.session_id,
                what="composing three",
            )
            at = listed(media_server, "ev4")
            await wait_for(lambda: listed(media_server, "ev4") >= at + 4, what="composed segments")
        finally:
            for browser in browsers:
                await browser.close()
            await aiortc_expert.close()
    await service.end_stream("ev4")
    tones = (ALICE_TONE, *CHROMIUM_TONES)
    heard = [voices_of(path, tones) for path in segments(media_server.media_dir / "ev4")]
    print("voices per segment:", heard)
    assert heard.count(set(tones)) >= 2, heard  # all three voices, segment after segment


# The bound for the composed programme (forwarded publishers: tests/media/test_av_sync.py).
MAX_COMPOSED_OFFSET_SECONDS = 0.040


def composed_onsets(path: Path) -> tuple[list[float], list[float]]:
    """Flashes seen in composed pictures (1280×720), and every beep of the mixed audio."""
    flashes: list[float] = []
    with av.open(str(path)) as container:
        bright = False
        for frame in container.decode(video=0):
            level = float(frame.to_ndarray(format="gray")[::8, ::8].mean())
            if level > 128 and not bright and frame.width == 1280:
                flashes.append(float(frame.pts * frame.time_base))
            bright = level > 128
    beeps: list[float] = []
    with av.open(str(path)) as container:
        loud = False
        for frame in container.decode(audio=0):
            samples = frame.to_ndarray()[0]
            hot = np.flatnonzero(np.abs(samples) > 0.2)
            if hot.size and not loud:
                beeps.append(float(frame.pts * frame.time_base) + hot[0] / frame.sample_rate)
                loud = True
            elif not hot.size and float(np.abs(samples).max(initial=0)) < 0.02:
                loud = False
    return flashes, beeps


async def test_composed_programme_keeps_audio_and_video_in_sync(media_server: MediaServer) -> None:
    """Alice flashes and beeps at each whole second (one capture clock); Bob is on air beside her, silent."""
    from .publishers import BeepAudio, Clock, FlashVideo

    service = media_server.service
    clock = Clock()
    alice = AiortcPublisher(media_server.url, "ev3", expert_token("ev3", "alice"))
    alice.video_track, alice.audio_track = FlashVideo(clock), BeepAudio(clock)
    bob = AiortcPublisher(media_server.url, "ev3", expert_token("ev3", "bob"), tone=0.0, shade=BOB_SHADE)
    try:
        assert (await alice.start()).status_code == 201
        assert (await bob.start()).status_code == 201
        await service.set_on_air("ev3", bob.location.rsplit("/", 1)[1], True)
        programme = service.feed("ev3")
        await wait_for(
            lambda: (c := service.compositor("ev3")) is not None and programme.publisher == c.session_id,
            what="composing",
        )
        at = listed(media_server, "ev3")
        # Ten marks composed: on a loaded machine the compositor skips frames (a flash lasts three), so
        # some may be missed; each one found must still be in sync.
        await wait_for(lambda: listed(media_server, "ev3") >= at + 10, within=30.0, what="composed marks")
    finally:
        await bob.close()
        await alice.close()
    await service.end_stream("ev3")
    flashes, beeps = composed_onsets(media_server.media_dir / "ev3" / "recording.mp4")
    offsets = [b - f for f in flashes for b in beeps if abs(b - f) < 0.5]
    print(f"composed A/V offsets (audio − video, s): {[round(o, 3) for o in offsets]}")
    assert len(offsets) >= 4, (flashes, beeps)
    assert max(abs(o) for o in offsets) <= MAX_COMPOSED_OFFSET_SECONDS, offsets


async def test_a_guest_publishing_again_replaces_their_lingering_session(media_server: MediaServer) -> None:
    """A viewer's reloaded page publishes again while the server still holds their old session (its peer
    connection has not timed out yet): the new session takes over, backstage, and the invitation stands."""
    from server.media.stage import Grant

    service = media_server.service
    alice = AiortcPublisher(media_server.url, "ev4", expert_token("ev4", "alice"), tone=ALICE_TONE)
    first = AiortcPublisher(media_server.url, "ev4", "guest-ev4-42", tone=BOB_TONE, video=False)
    second = AiortcPublisher(media_server.url, "ev4", "guest-ev4-42", tone=BOB_TONE, video=False)
    try:
        assert (await alice.start()).status_code == 201
        await service.grant("ev4", Grant(42, 7, "Li Wei", "", camera=False, at=time.time()))
        assert (await first.start()).status_code == 201
        first_id = first.location.rsplit("/", 1)[1]
        await service.set_on_air("ev4", first_id, True)
        assert (await second.start()).status_code == 201  # not 409 already_publishing
        second_id = second.location.rsplit("/", 1)[1]
        members = service.stage("ev4").members
        assert first_id not in members and members[second_id].on_air is False  # back on air by staff only
        assert 42 in service.stage("ev4").grants
    finally:
        await second.close()
        await first.close()
        await alice.close()
