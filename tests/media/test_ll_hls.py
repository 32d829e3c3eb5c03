"""Low-Latency HLS: parts cut from the forwarded packets, the playlist's LL tags, blocking reloads."""

from __future__ import annotations

import asyncio
import fractions
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import av
import httpx
import pytest

from server.media.hls import LIVE_PLAYLIST, HlsWriter, LiveUpdate
from server.media.playlist import PART_HOLD_BACK, PART_TARGET_ADVERTISED

from .conftest import MediaServer, ffmpeg_errors, publish_token, requires_ffmpeg, run_media_server, wait_for
from .publishers import AiortcPublisher

FPS = 30
PART_LINE = re.compile(r'^#EXT-X-PART:DURATION=([\d.]+),URI="([^"]+)"(,INDEPENDENT=YES)?$')


def encoded_media(seconds: float) -> tuple[list[tuple[float, bytes, bool]], list[tuple[float, bytes]], bytes]:
    """x264 video (a keyframe every second, as the publisher is asked for) and AAC audio, as packets."""
    video = av.CodecContext.create("libx264", "w")
    video.width, video.height, video.pix_fmt = 160, 96, "yuv420p"
    video.time_base = fractions.Fraction(1, FPS)
    video.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(FPS), "bf": "0"}
    frames = []
    for n in range(int(seconds * FPS)):
        frame = av.VideoFrame(160, 96, "yuv420p")
        frame.pts = n
        frames += [(p.pts / FPS, bytes(p), p.is_keyframe) for p in video.encode(frame)]
    audio = av.CodecContext.create("aac", "w")
    audio.sample_rate, audio.layout, audio.format = 48_000, "mono", "fltp"
    audio.time_base = fractions.Fraction(1, 48_000)
    sound = []
    for k in range(int(seconds * 48_000 / 1024)):
        chunk = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        chunk.sample_rate, chunk.pts = 48_000, k * 1024
        chunk.planes[0].update(bytes(4096))
        sound += [(p.pts / 48_000, bytes(p)) for p in audio.encode(chunk) if p.pts is not None]
    return frames, sound, bytes(audio.extradata)


def write(writer: HlsWriter, seconds: float, offset: float = 0.0) -> None:
    frames, sound, extradata = encoded_media(seconds)
    writer.set_audio_config(extradata)
    events = [(t, 0, data, key) for t, data, key in frames] + [(t, 1, data, False) for t, data in sound]
    for t, kind, data, key in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == 0:
            writer.write_video(data, t + offset, key)
        else:
            writer.write_audio(data, t + offset)


def parts_of(playlist: str) -> list[tuple[float, str, bool]]:
    found = [PART_LINE.match(line) for line in playlist.splitlines() if line.startswith("#EXT-X-PART:")]
    assert all(found), playlist
    return [(float(m.group(1)), m.group(2), m.group(3) is not None) for m in found if m]


@requires_ffmpeg
def test_parts_are_cut_from_the_packets_and_listed_with_the_low_latency_tags(tmp_path: Path) -> None:
    updates: list[LiveUpdate] = []
    writer = HlsWriter(tmp_path, 1.0, on_live=updates.append)
    write(writer, 5.0)

    blobs: dict[str, bytes] = {}
    for update in updates:
        blobs.update(update.blobs)
    text = (tmp_path / LIVE_PLAYLIST).read_text()
    assert text == updates[-1].playlist.decode()
    lines = text.splitlines()
    assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.0,PART-HOLD-BACK=1.002" in lines
    assert PART_HOLD_BACK >= 3 * PART_TARGET_ADVERTISED
    assert f"#EXT-X-PART-INF:PART-TARGET={PART_TARGET_ADVERTISED:.3f}" in lines
    durations = [float(line[8:].rstrip(",")) for line in lines if line.startswith("#EXTINF:")]
    assert len(durations) == 4 and all(abs(d - 1.0) < 0.01 for d in durations), durations
    # The rounded longest segment, not ceil(segment + tolerance): 1 s segments announce 1.
    assert "#EXT-X-TARGETDURATION:1" in lines
    # The open fifth segment (numbered from 1) is listed by its parts, then the hint names the part being written.
    parts = parts_of(text)
    open_parts = [name for _, name, _ in parts if name.startswith("000005.")]
    assert lines[-1] == f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="000005.{len(open_parts)}.ts"'
    # Parts of the last three closed segments and of the open one; older segments are whole only.
    assert {name.split(".")[0] for _, name, _ in parts} == {"000002", "000003", "000004", "000005"}
    for sequence in ("000002", "000003", "000004"):
        mine = [(d, name, ind) for d, name, ind in parts if name.startswith(sequence + ".")]
        assert [ind for _, _, ind in mine] == [True, False, False]  # a keyframe starts only the first
        assert all(abs(d - 1 / 3) < 0.02 and d <= PART_TARGET_ADVERTISED for d, _, _ in mine), mine
        # The parts are the segment, byte for byte: a player may mix parts and segments.
        assert b"".join(blobs[name] for _, name, _ in mine) == (tmp_path / f"{sequence}.ts").read_bytes()
        for _, name, independent in mine:
            data = blobs[name]
            assert len(data) % 188 == 0 and data[::188] == b"\x47" * (len(data) // 188)  # whole TS packets
            if independent:  # opens with the tables (SDT, PAT, PMT), then the keyframe
                pids = [((data[k + 1] & 0x1F) << 8) | data[k + 2] for k in range(0, 3 * 188, 188)]
                assert 0 in pids, pids
        first = tmp_path / f"{sequence}.0.ts"
        first.write_bytes(blobs[f"{sequence}.0.ts"])
        assert ffmpeg_errors(first) == ""  # decodable on its own


def test_a_discontinuity_marks_the_next_segment_and_its_parts(tmp_path: Path) -> None:
    writer = HlsWriter(tmp_path, 1.0)
    write(writer, 2.0)
    writer.discontinuity()  # the publisher left, or the programme switched source
    assert "PRELOAD-HINT" not in (tmp_path / LIVE_PLAYLIST).read_text()  # nothing is coming
    write(writer, 1.5, offset=2.5)
    lines = (tmp_path / LIVE_PLAYLIST).read_text().splitlines()
    marker = lines.index("#EXT-X-DISCONTINUITY")
    following = [line for line in lines[marker + 1 :] if not line.startswith("#EXT-X-PROGRAM-DATE-TIME")]
    assert following[0] == '#EXT-X-PART:DURATION=0.333,URI="000003.0.ts",INDEPENDENT=YES'
    writer.finish(remux=False)
    final = (tmp_path / LIVE_PLAYLIST).read_text()
    assert final.rstrip().endswith("#EXT-X-ENDLIST") and "#EXT-X-PART" not in final and "HINT" not in final


def test_target_duration_is_the_rounded_longest_segment(tmp_path: Path) -> None:
    writer = HlsWriter(tmp_path, 1.0)
    frames, _, _ = encoded_media(4.0)
    # A publisher ignoring keyframe requests: only every other keyframe arrives as one.
    for t, data, key in frames:
        writer.write_video(data, t, key and round(t) % 2 == 0)
    writer.discontinuity()
    text = (tmp_path / LIVE_PLAYLIST).read_text()
    assert "#EXT-X-TARGETDURATION:2" in text and "#EXTINF:2.000," in text


@pytest.fixture(params=["raw", "fast path", "app"])
async def live_server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MediaServer]:
    """The same answers from the raw HTTP path (as the app runs), the ASGI fast path and the routes alone."""
    raw = request.param == "raw"
    async with run_media_server(tmp_path / "media", fast_path=request.param != "app", raw=raw) as server:
        yield server


@pytest.mark.slow
@pytest.mark.media
@requires_ffmpeg
async def test_blocking_reload_answers_within_a_part_of_its_arrival(live_server: MediaServer) -> None:
    media_server = live_server
    pub = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
    assert (await pub.start()).status_code == 201
    try:
        live = media_server.media_dir / "ev1" / LIVE_PLAYLIST
        await wait_for(lambda: live.is_file() and live.read_text().count("#EXTINF") >= 2, what="2 segments")
        feed = media_server.service.feed("ev1")
        assert feed is not None
        edge = feed.edge
        async with media_server.client() as http:
            plain = await http.get("/live/ev1/index.m3u8")
            assert plain.headers["cache-control"] == "public, max-age=0, s-maxage=1"
            hint = re.search(r'PRELOAD-HINT:TYPE=PART,URI="(\d{6})\.(\d+)\.ts"', plain.text)
            assert hint is not None, plain.text
            msn, part = int(hint.group(1)), int(hint.group(2))
            name = f"{msn:06d}.{part}.ts"

            # Many players wait for the same next part: one parked future between them.
            async def reload() -> httpx.Response:
                return await http.get("/live/ev1/index.m3u8", params={"_HLS_msn": msn, "_HLS_part": part})

            waiting = [asyncio.create_task(reload()) for _ in range(20)]
            hinted = asyncio.create_task(http.get(f"/live/ev1/{name}"))  # the preload hint, held too
            await wait_for(lambda: edge.waiting >= 1 or name in edge.part_ready, what="parked reloads")
            assert edge.waiting <= 1
            answers = await asyncio.gather(*waiting)
            ready = edge.part_ready[name]
            for response in answers:
                assert response.status_code == 200
                assert f'URI="{name}"' in response.text
                assert response.headers["cache-control"] == "public, max-age=6"
            # The server starts every answer within a part duration of the part's arrival on the loop.
            blocking = f"/live/ev1/index.m3u8?_HLS_msn={msn}&_HLS_part={part}"
            began = sorted(at for target, at in media_server.answered + media_server.raw_answered if target == blocking)
            # On a busy machine some reloads reach the server only after the part: from their arrival, then.
            came = sorted(at for target, at in media_server.arrived if target == blocking)[-20:]
            assert len(began) == 20 and len(came) == 20
            late = [answer - max(ready, arrival) for answer, arrival in zip(began, came, strict=True)]
            assert max(late) <= PART_TARGET_ADVERTISED, late
            part_response = await hinted
            assert part_response.status_code == 200 and part_response.content == edge.blobs[name]
            assert "immutable" in part_response.headers["cache-control"]
            assert part_response.headers["content-type"] == "video/mp2t"

            # A part already listed is answered at once; a position far ahead or malformed is refused.
            started = time.monotonic()
            now = await http.get("/live/ev1/index.m3u8", params={"_HLS_msn": msn, "_HLS_part": part})
            assert now.status_code == 200 and time.monotonic() - started < 0.2
            far = await http.get("/live/ev1/index.m3u8", params={"_HLS_msn": msn + 10})
            assert far.status_code == 400 and far.json()["error"]["code"] == "bad_request"
            for bad in ({"_HLS_msn": "x"}, {"_HLS_part": "1"}, {"_HLS_msn": "1", "_HLS_part": "-1"}):
                refused = await http.get("/live/ev1/index.m3u8", params=bad)
                assert refused.status_code == 400, bad
            assert (await http.get("/live/ev1/999999.7.ts")).status_code == 404
    finally:
        await pub.close()
