"""The 360p rendition in a multivariant playlist, and DVR: the live playlist keeps the whole event, with
delta updates so that reloading it stays cheap."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from server.media.hls import LIVE_PLAYLIST, HlsWriter, LiveUpdate
from server.media.playlist import Entry, Part, Variant, render, render_multivariant

from .conftest import (
    MediaServer,
    expert_token,
    ffmpeg_errors,
    ffprobe_streams,
    publish_token,
    requires_ffmpeg,
    run_media_server,
    wait_for,
)
from .publishers import AiortcPublisher, PatternVideoTrack
from .test_ll_hls import parts_of, write

STREAM_INF = re.compile(r"^#EXT-X-STREAM-INF:(.*)$")


def attributes(line: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line)}


def media_lines(playlist: str) -> list[str]:
    """The segment lines after the header, with any delta update's skipped part marked."""
    lines = playlist.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-PLAYLIST-TYPE"))
    return [line for line in lines[start + 1 :] if not line.startswith("#EXT-X-PROGRAM-DATE-TIME")]


def test_the_live_playlist_keeps_the_event_and_its_delta_update_skips_the_old_part(tmp_path: Path) -> None:
    updates: list[LiveUpdate] = []
    writer = HlsWriter(tmp_path, 1.0, on_live=updates.append)
    write(writer, 12.0)
    full = (tmp_path / LIVE_PLAYLIST).read_text()
    assert full == updates[-1].playlist.decode()
    lines = full.splitlines()
    # Every segment since the start (DVR), as an EVENT playlist that offers delta updates. The first is
    # number 1: hls.js loop-loads the parts of a segment numbered 0 (server/media/hls.py, FIRST_SEQUENCE).
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in lines and "#EXT-X-MEDIA-SEQUENCE:1" in lines
    assert [line for line in lines if line.endswith(".ts") and "." not in line[:-3]] == [
        f"{n:06d}.ts" for n in range(1, 12)
    ]
    assert parts_of(updates[0].playlist.decode())[0][1] == "000001.0.ts"
    assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.0,PART-HOLD-BACK=1.002" in lines
    # One date (on the first segment): players carry it forward by the durations.
    assert sum(line.startswith("#EXT-X-PROGRAM-DATE-TIME:") for line in lines) == 1
    delta = updates[-1].delta.decode()
    skip = re.search(r"^#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)$", delta, re.M)
    assert skip is not None and "#EXT-X-VERSION:9" in delta, delta
    skipped = int(skip.group(1))
    # What the delta keeps is the full playlist's end, and at least CAN-SKIP-UNTIL (6 s) of it.
    kept = media_lines(delta)[1:]
    assert media_lines(full)[-len(kept) :] == kept
    assert sum(float(line[8:-1]) for line in kept if line.startswith("#EXTINF:")) >= 6.0 - 1.0
    assert "#EXTINF:1.000,\n000001.ts" not in delta and f"{skipped + 1:06d}.ts" in delta
    assert parts_of(delta) == parts_of(full)  # the recent parts are all there
    # The archive playlist still dates every segment (moments of the event map onto the recording).
    writer.finish(remux=False)
    vod = (tmp_path / "index.m3u8").read_text()
    assert vod.count("#EXT-X-PROGRAM-DATE-TIME:") == vod.count("#EXTINF:") == 12


def test_two_hours_of_one_second_segments_reload_as_a_small_delta() -> None:
    parts = tuple(Part(f"007199.{k}.ts", 0.333, k == 0) for k in range(3))
    entries = [Entry(n, f"{n:06d}.ts", 1.0, False, 1.8e9 + n) for n in range(7200)]
    entries[-3:] = [Entry(e.sequence, e.name, e.duration, False, e.wall, parts) for e in entries[-3:]]
    common = {"target": 1, "discontinuity_sequence": 0, "next_sequence": 7200, "low_latency": True, "event": True}
    full = render(entries, **common)  # type: ignore[arg-type]
    delta = render(entries, skip=True, **common)  # type: ignore[arg-type]
    assert full.count("#EXTINF:") == 7200 and "#EXT-X-SKIP:SKIPPED-SEGMENTS=7194" in delta  # 6 s kept
    # A player following the parts reloads ~3 times a second: it gets the delta, under 1 KB, not ~180 KB.
    assert len(full) > 150_000 and len(delta) < 1_000, (len(full), len(delta))


def test_the_multivariant_playlist_names_each_rendition_with_its_bandwidth_and_a_place_for_subtitles() -> None:
    variants = [
        Variant("360p/index.m3u8", 610_000, 520_000, "avc1.42c01e,mp4a.40.2", (640, 360)),
        Variant("index.m3u8", 3_100_000, 2_700_000, "avc1.42e01f,mp4a.40.2", (1280, 720)),
    ]
    text = render_multivariant(variants)
    lines = text.splitlines()
    assert lines[:3] == ["#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-INDEPENDENT-SEGMENTS"]
    assert lines[3:] == [
        '#EXT-X-STREAM-INF:BANDWIDTH=3100000,AVERAGE-BANDWIDTH=2700000,CODECS="avc1.42e01f,mp4a.40.2",'
        "RESOLUTION=1280x720",
        "index.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=610000,AVERAGE-BANDWIDTH=520000,CODECS="avc1.42c01e,mp4a.40.2",RESOLUTION=640x360',
        "360p/index.m3u8",
    ]
    subtitles = '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="字幕",LANGUAGE="zh",URI="captions.m3u8"'
    with_subs = render_multivariant(variants, media=[subtitles], group='SUBTITLES="subs"').splitlines()
    assert with_subs[3] == subtitles
    assert all(line.endswith(',SUBTITLES="subs"') for line in with_subs if line.startswith("#EXT-X-STREAM-INF"))


@pytest.mark.slow
@pytest.mark.media
@requires_ffmpeg
@pytest.mark.parametrize("raw", [False, True], ids=["asgi", "raw"])
async def test_a_360p_rendition_with_parts_beside_the_full_one_in_the_multivariant_playlist(
    tmp_path: Path, raw: bool
) -> None:
    # raw: as `make run` serves, the 360p playlist, parts and blocking reloads answered below ASGI too.
    async with run_media_server(tmp_path / "media", low_rendition=True, raw=raw) as server:
        await check_renditions(server)
        if raw:
            served = [target for target, _ in server.raw_answered]
            assert any(t.startswith("/live/ev1/360p/index.m3u8?_HLS_msn=") for t in served), served
            assert any(re.fullmatch(r"/live/ev1/360p/\d{6}\.\d+\.ts", t) for t in served), served


async def check_renditions(server: MediaServer) -> None:
    pub = AiortcPublisher(server.url, "ev1", publish_token("ev1"))
    pub.video_track = PatternVideoTrack(width=960, height=540)  # a 16:9 camera: 360p is 640x360
    assert (await pub.start()).status_code == 201
    try:
        low_live = server.media_dir / "ev1" / "360p" / LIVE_PLAYLIST
        await wait_for(lambda: low_live.is_file() and low_live.read_text().count("#EXTINF") >= 8, what="8 segments")
        async with server.client() as http:
            master = await http.get("/live/ev1/master.m3u8")
            assert master.status_code == 200
            assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
            lines = master.text.splitlines()
            found = {
                lines[i + 1]: attributes(m.group(1)) for i, line in enumerate(lines) if (m := STREAM_INF.match(line))
            }
            assert list(found) == ["index.m3u8", "360p/index.m3u8"], master.text
            full, low = found["index.m3u8"], found["360p/index.m3u8"]
            assert full["RESOLUTION"] == "960x540" and low["RESOLUTION"] == "640x360"
            for variant in (full, low):
                assert re.fullmatch(r"avc1\.[0-9a-f]{6},mp4a\.40\.2", variant["CODECS"]), variant
            # Measured from the segments: the low one is at most ~500 kb/s with AAC's 96 kb/s and the TS packets
            # (a test pattern needs less than the cap).
            assert 100_000 <= int(low["AVERAGE-BANDWIDTH"]) <= int(low["BANDWIDTH"]) <= 800_000, low
            assert low["CODECS"].startswith("avc1.42c01e,"), low  # constrained baseline, level 3.0
            assert int(low["BANDWIDTH"]) < int(full["BANDWIDTH"])

            # Both renditions are LL-HLS: parts, hint, blocking reload; the same segments at the same moments.
            texts = {}
            for uri in found:
                response = await http.get(f"/live/ev1/{uri}")
                assert response.status_code == 200
                texts[uri] = response.text
                assert parts_of(response.text) and "#EXT-X-PRELOAD-HINT:TYPE=PART" in response.text
            hint = re.search(r'PRELOAD-HINT:TYPE=PART,URI="(\d{6})\.(\d+)\.ts"', texts["360p/index.m3u8"])
            assert hint is not None
            msn, part = int(hint.group(1)), int(hint.group(2))
            blocked = await http.get("/live/ev1/360p/index.m3u8", params={"_HLS_msn": msn, "_HLS_part": part})
            assert blocked.status_code == 200 and f'URI="{msn:06d}.{part}.ts"' in blocked.text
            hinted = await http.get(f"/live/ev1/360p/{msn:06d}.{part}.ts")
            assert hinted.status_code == 200 and hinted.headers["content-type"] == "video/mp2t"

            def durations(text: str) -> dict[str, float]:
                names = [line for line in text.splitlines() if re.fullmatch(r"\d{6}\.ts", line)]
                values = [float(line[8:-1]) for line in text.splitlines() if line.startswith("#EXTINF:")]
                return dict(zip(names, values, strict=True))

            main_segments, low_segments = durations(texts["index.m3u8"]), durations(texts["360p/index.m3u8"])
            shared = sorted(set(main_segments) & set(low_segments))
            assert len(shared) >= 6, (main_segments, low_segments)
            assert all(abs(main_segments[n] - low_segments[n]) < 0.04 for n in shared), (main_segments, low_segments)

            # A delta update (DVR playlists are long): ?_HLS_skip=YES, plain and blocking, on both renditions.
            # (Skipped: what is older than six target durations, so on a busy machine, where late keyframes make
            # segments and the target duration longer, it may take a few more segments to have any.)
            for uri in found:

                async def delta_skips(uri: str = uri) -> bool:
                    delta = await http.get(f"/live/ev1/{uri}", params={"_HLS_skip": "YES"})
                    return "#EXT-X-SKIP:SKIPPED-SEGMENTS=" in delta.text

                await wait_for(delta_skips, what=f"a delta update of {uri} that skips")
            blocked = await http.get(
                "/live/ev1/index.m3u8", params={"_HLS_msn": msn, "_HLS_part": part, "_HLS_skip": "YES"}
            )
            assert blocked.status_code == 200 and "#EXT-X-SKIP:" in blocked.text

            # The 360p segment decodes cleanly, at 640x360 with the audio.
            segment = shared[-1]
            body = await http.get(f"/live/ev1/360p/{segment}")
            assert body.status_code == 200
            path = server.media_dir / f"low-{segment}"
            path.write_bytes(body.content)
            streams = {s["codec_type"]: s for s in ffprobe_streams(path)}
            assert (streams["video"]["width"], streams["video"]["height"]) == (640, 360)
            assert streams["audio"]["codec_name"] == "aac"
            assert ffmpeg_errors(path) == ""
    finally:
        await pub.close()
    await server.service.end_stream("ev1")
    assert not (server.media_dir / "ev1" / "360p").exists()  # DVR is over: the 360p files go
    async with httpx.AsyncClient(base_url=server.url) as http:
        # The archive keeps the full-quality rendition only.
        assert (await http.get("/archive/ev1/index.m3u8")).status_code == 200
        assert (await http.get("/archive/ev1/360p/index.m3u8")).status_code == 404
        assert (await http.get("/archive/ev1/master.m3u8")).status_code == 404


@pytest.mark.slow
@pytest.mark.media
@requires_ffmpeg
async def test_the_360p_rendition_follows_the_stage_into_the_composed_programme_and_a_vp8_publisher(
    tmp_path: Path,
) -> None:
    """Composed: the compositor hands over its pictures (no decode of the programme); VP8: the fallback's own."""
    async with run_media_server(tmp_path / "media", low_rendition=True) as server:
        service = server.service
        alice = AiortcPublisher(server.url, "ev2", expert_token("ev2", "alice"), video_codec="VP8")
        bob = AiortcPublisher(server.url, "ev2", expert_token("ev2", "bob"))
        low_dir = server.media_dir / "ev2" / "360p"

        def low_segments() -> list[str]:
            log = low_dir / "segments.log"
            return [line.split()[4] for line in log.read_text().splitlines()] if log.is_file() else []

        try:
            assert (await alice.start()).status_code == 201
            await wait_for(lambda: len(low_segments()) >= 2, what="360p of the VP8 publisher")
            vp8_segment = low_dir / low_segments()[-1]
            assert (await bob.start()).status_code == 201
            await service.set_on_air("ev2", bob.location.rsplit("/", 1)[1], True)
            programme = service.feed("ev2")
            assert programme is not None and programme.low is not None
            await wait_for(
                lambda: (c := service.compositor("ev2")) is not None and programme.publisher == c.session_id,
                what="the compositor takes the programme",
            )
            at_compose = len(low_segments())
            await wait_for(lambda: len(low_segments()) >= at_compose + 3, what="composed 360p segments")
            composed = low_dir / low_segments()[-1]
        finally:
            await alice.close()
            await bob.close()
        # Alice's 320x240 camera is not upscaled; the 1280x720 programme is 640x360.
        vp8_video = next(s for s in ffprobe_streams(vp8_segment) if s["codec_type"] == "video")
        assert (vp8_video["width"], vp8_video["height"]) == (320, 240)
        video = next(s for s in ffprobe_streams(composed) if s["codec_type"] == "video")
        assert (video["width"], video["height"]) == (640, 360)
        assert ffmpeg_errors(composed) == ""
        assert programme.low.skipped == 0


def test_after_a_restart_the_live_playlist_still_goes_back_to_the_start(tmp_path: Path) -> None:
    first = HlsWriter(tmp_path, 1.0)
    write(first, 3.0)
    first.discontinuity()  # the server stops (Feed.close): the open segment is flushed
    again = HlsWriter(tmp_path, 1.0)  # a restarted server resumes the recording from segments.log
    write(again, 3.0, offset=again.end + 0.1)
    lines = (tmp_path / LIVE_PLAYLIST).read_text().splitlines()
    names = [line for line in lines if re.fullmatch(r"\d{6}\.ts", line)]
    assert names[0] == "000001.ts" and len(names) >= 4, names
    # The resumed part is dated again after its discontinuity: the timeline maps moments across the gap.
    marker = lines.index("#EXT-X-DISCONTINUITY")
    assert lines[marker + 1].startswith("#EXT-X-PROGRAM-DATE-TIME:")
    assert sum(line.startswith("#EXT-X-PROGRAM-DATE-TIME:") for line in lines) == 2
