"""The live captions as an HLS subtitles track: a segmented WebVTT playlist beside the programme's, each
segment's X-TIMESTAMP-MAP on the MPEG-TS clock of the video segment with the same number."""

from __future__ import annotations

import re
import time
from pathlib import Path

import av
import httpx

from server.captions.webvtt import GROUP_ID, LAG_SECONDS, PLAYLIST, media_line, timestamp
from server.db.models import TranscriptSegment
from server.services.events import get_event
from tests.archive.recordings import Session, record
from tests.conftest import ADMIN
from tests.server.test_questions import Party
from tests.support import LiveServer

RECORDING_AT = 100.0  # the programme starts 100 s into the recording clock (an earlier session before it)


async def lines(server: LiveServer, slug: str, spoken: list[tuple[float, float, str]]) -> None:
    async with server.app.state.ctx.session() as session:
        event_id = (await get_event(session, slug)).id
        session.add_all(
            TranscriptSegment(event_id=event_id, start=a, end=b, language="zh", text=text, source="live")
            for a, b, text in spoken
        )
        await session.commit()


def first_video_pts(segment: Path) -> int:
    with av.open(str(segment)) as container:
        packet = next(p for p in container.demux(container.streams.video[0]) if p.pts is not None)
        return int(packet.pts)


async def test_the_subtitles_track_lists_segments_after_a_lag_and_each_maps_onto_the_programmes_clock(
    server: LiveServer, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    party = await Party.create(client)
    slug = party.slug
    assert (await client.get(f"/live/{slug}/{PLAYLIST}")).status_code == 404  # no programme yet
    assert (await client.post(f"/api/v1/events/{slug}/state", json={"state": "live"}, headers=ADMIN)).status_code == 200
    feed = server.settings.media_dir / slug
    record(feed, [Session(0.0, 8.0, RECORDING_AT, time.time())], None, 8.0, tmp_path / "work")
    await lines(
        server,
        slug,
        [(101.2, 102.8, "基坑开挖前先降水。"), (102.9, 104.4, "<b>Stop</b> & go --> now"), (106.5, 107.5, "末句")],
    )

    listed = await client.get(f"/live/{slug}/{PLAYLIST}")
    assert listed.status_code == 200, listed.text
    assert listed.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert "s-maxage=1" in listed.headers["cache-control"]
    playlist = listed.text
    # With live captions off (LIVE_CAPTIONS=0, as here) the multivariant playlist names no empty track;
    # test_live_captions checks it is named when they are on.
    master = (await client.get(f"/live/{slug}/master.m3u8")).text
    assert "#EXT-X-STREAM-INF:" in master and "TYPE=SUBTITLES" not in master and "SUBTITLES=" not in master
    assert playlist.startswith("#EXTM3U") and "#EXT-X-ENDLIST" not in playlist
    log = [line.split() for line in (feed / "segments.log").read_text().splitlines()]
    edge = float(log[-1][1]) + float(log[-1][2])
    uris = re.findall(r"^subtitles/(\d{6})\.vtt$", playlist, re.M)
    expected = [f[0].zfill(6) for f in log if float(f[1]) + float(f[2]) <= edge - LAG_SECONDS]
    assert uris and uris == expected[-len(uris) :]  # the newest spans wait LAG_SECONDS for their captions
    assert f"#EXT-X-MEDIA-SEQUENCE:{int(uris[0])}" in playlist

    # The segment whose span holds 101.5 s: its map puts LOCAL (recording seconds) on the TS clock of the
    # video segment with the same number, so a player shows the cue with that picture.
    def holding(moment: float) -> list[str]:
        return next(f for f in log if float(f[1]) <= moment < float(f[1]) + float(f[2]))

    sequence, start, name = int(holding(101.5)[0]), float(holding(101.5)[1]), holding(101.5)[4]
    vtt = await client.get(f"/live/{slug}/subtitles/{sequence:06d}.vtt")
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    head = vtt.text.splitlines()
    assert head[0] == "WEBVTT"
    mapped = re.fullmatch(r"X-TIMESTAMP-MAP=MPEGTS:(\d+),LOCAL:([\d:.]+)", head[1])
    assert mapped and mapped.group(2) == timestamp(start)
    video_pts = first_video_pts(feed / name)
    assert abs(int(mapped.group(1)) - video_pts) <= 90 * 40  # within a frame's 40 ms at most
    assert "00:01:41.200 --> 00:01:42.800" in vtt.text and "基坑开挖前先降水。" in vtt.text
    assert "末句" not in vtt.text  # another span's line
    # A cue is plain text: no markup reaches the player, and no "-->" breaks the cue.
    marked = await client.get(f"/live/{slug}/subtitles/{int(holding(103.5)[0]):06d}.vtt")
    assert "&lt;b&gt;Stop&lt;/b&gt; &amp; go → now" in marked.text, marked.text

    for bad in ("abc", "999999", "-1", "1e3"):
        assert (await client.get(f"/live/{slug}/subtitles/{bad}.vtt")).status_code == 404

    # After the end the track is the whole programme, with ENDLIST.
    assert (
        await client.post(f"/api/v1/events/{slug}/state", json={"state": "ended"}, headers=ADMIN)
    ).status_code == 200
    ended = (await client.get(f"/live/{slug}/{PLAYLIST}")).text
    assert "#EXT-X-ENDLIST" in ended
    assert re.findall(r"^subtitles/(\d{6})\.vtt$", ended, re.M) == [f[0].zfill(6) for f in log]


def test_the_multivariant_line_names_the_group_in_both_languages() -> None:
    line = media_line()
    assert line.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES,") and f'GROUP-ID="{GROUP_ID}"' in line
    assert 'URI="subtitles.m3u8"' in line and "字幕" in line and "Captions" in line
