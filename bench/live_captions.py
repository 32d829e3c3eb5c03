"""Benchmark: live captions — how soon a final caption follows the end of a spoken phrase, and what
recognition costs per audio-second.

    python bench/live_captions.py [--sentences 12] [--pause 1.2] [--viewers 5000] [--json out.json]

A Sitecast server runs in this process (SQLite, in-process bus, LIVE_CAPTIONS on); an aiortc WHIP
publisher (tests/media/publishers.py) sends espeak-ng speech — domain sentences separated by pauses —
as Opus, paced in real time; a WebSocket viewer records each `caption` frame's arrival.

- Latency: for the i-th final caption, arrival (time.time()) minus the wall time at which the
  publisher handed over the last sample of the i-th sentence (the track notes when it started; the
  script knows where each sentence ends). This includes WebRTC, the jitter buffer, the pause that
  ends a phrase (END_SILENCE_SECONDS), recognition, the database commit and the fan-out.
  Target: median ≤ 2.0 s.
- CPU: the same script is published twice, with captions off and on; the difference in this
  process's CPU time (every thread: server, publisher, recogniser), divided by the audio's length,
  is what captions cost. Target: ≤ 0.6 CPU-s per audio-second.
- `--viewers N`: both runs hold N more WebSocket viewers (bench/node/client.js, the load client of
  bench/ws_fanout.py, in --workers Node processes) connected before the publisher starts; each stamps
  every final `caption` frame it receives (CLOCK_MONOTONIC, the clock of the track's start). Latency
  is then phrase end → the frame at the FIRST and at the LAST of the N viewers (the median over
  phrases of the last viewer's is the figure to hold against the goal), and lost = receipts missing.
  The server's CPU difference (on − off) then includes fanning the captions out to N sockets; the
  viewers' own CPU (Node) is reported apart.
Not a test: numbers vary with the machine and whatever else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.db.migrate import upgrade  # noqa: E402
from tests.captions.speech import Script, SpeechTrack, espeak  # noqa: E402
from tests.media.publishers import AiortcPublisher  # noqa: E402
from tests.support import ADMIN_TOKEN, WsClient, live_server  # noqa: E402

SENTENCES = (
    "The foundation pit must be monitored every day.",
    "Settlement of the adjacent buildings is checked twice a week.",
    "Stop the excavation if the warning value is exceeded.",
    "Dewatering can lower the groundwater under nearby pipelines.",
    "The shield machine keeps the face pressure balanced.",
    "Share the monitoring data with the metro operator.",
    "Grouting fills the gap behind the tunnel lining.",
    "The supervision engineer signs every inspection record.",
    "Cracks in the retaining wall must be reported at once.",
    "An emergency plan lists who to call and what to prepare.",
    "Leaks in the basement are found with a water test.",
    "Thank you all for these questions about site safety.",
)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def crowd_receipts(crowd: Any) -> dict[int, list[int]]:
    """Final caption line id → [receipts, first µs, last µs] over every load-client process."""
    merged: dict[int, list[int]] = {}
    replies = await asyncio.gather(*(w.call({"cmd": "stats"}, 60) for w in crowd.workers))
    for reply in replies:
        for ident, (count, first, last) in reply.get("captions", {}).items():
            have = merged.setdefault(int(ident), [0, first, last])
            have[0] += count
            have[1], have[2] = min(have[1], first), max(have[2], last)
    return merged


async def connect_crowd(crowd: Any, url: str, viewers: int, hub: Any, event_id: int) -> int:
    """Connect `viewers` (the shortfall again when some fail on a busy machine), then wait until the
    server's count stops moving: a connect still being served would load the measured window."""
    ok, began = 0, time.monotonic()
    for _ in range(4):
        missing = viewers - ok
        if missing <= 0:
            break
        k = len(crowd.workers)
        shares = [missing // k + (1 if i < missing % k else 0) for i in range(k)]
        timeout_s = max(60.0, missing / 15)
        command = {"cmd": "connect", "url": url, "concurrency": 50, "deflate": False, "parse": "head"}
        replies = await asyncio.gather(
            *(
                w.call({**command, "count": n, "timeout_s": timeout_s}, timeout_s + 30)
                for w, n in zip(crowd.workers, shares, strict=True)
            )
        )
        ok += sum(r["ok"] for r in replies)
    last, still_since = -1, time.monotonic()
    while time.monotonic() - still_since < 5 and time.monotonic() - began < 900:
        count = hub.local_viewers(event_id)
        if count != last:
            last, still_since = count, time.monotonic()
        await asyncio.sleep(0.5)
    print(f"  {last} viewers connected in {time.monotonic() - began:.0f} s", flush=True)
    return int(last)


def match_phrases(ends: list[float], phrase_ends: list[float]) -> list[int]:
    """For each final (its `end` on the recording clock) the index of the phrase it ends with.

    The recording clock and the script's differ by a constant: the one that lines up the most finals
    with a phrase end (within 0.6 s) is taken, so a merged or missing phrase shifts nothing."""
    best, best_hits = 0.0, -1
    for end in ends:
        for phrase_end in phrase_ends:
            offset = end - phrase_end
            hits = sum(any(abs(e - offset - p) < 0.6 for p in phrase_ends) for e in ends)
            if hits > best_hits:
                best, best_hits = offset, hits
    return [min(range(len(phrase_ends)), key=lambda j: abs(e - best - phrase_ends[j])) for e in ends]


async def session(
    server: Any, slug: str, script: Script, captions: bool, viewer: WsClient, crowd: Any, crowd_size: int
) -> dict[str, object]:
    """One WHIP publisher speaks the script to `slug`; captions on or off for it (the server's tap is
    made, or not, when the event's feed is created). `viewer` and `crowd` watch the captioned event."""
    service = server.app.state.ctx.captions
    service.enabled = captions
    arrivals: list[tuple[float, dict[str, Any]]] = []
    original = viewer.frames

    class Stamping(list):  # type: ignore[type-arg]
        def append(self, frame: dict[str, Any]) -> None:
            if frame.get("type") == "caption" and frame["data"]["final"]:
                arrivals.append((time.monotonic(), frame["data"]))
            super().append(frame)

    viewer.frames = Stamping(original)
    if crowd:
        await crowd.reset()
    worker = service._worker
    counters = (worker.dropped, worker.merged, worker.skipped_interims) if worker else (0, 0, 0)
    before = cpu()
    crowd_before = crowd.cpu_seconds() if crowd else 0.0
    for attempt in range(3):
        # On a loaded machine with thousands of sockets in this process, negotiation may time out.
        track = SpeechTrack(script)
        publisher = AiortcPublisher(server.base_url, slug, ADMIN_TOKEN)
        publisher.audio_track = track
        try:
            started = await publisher.start()
        except httpx.HTTPError as exc:
            print(f"  publisher start failed ({exc!r}), attempt {attempt + 1}", flush=True)
            await publisher.close()
            continue
        if started.status_code == 201:
            break
        print(f"  publisher start answered {started.status_code}, attempt {attempt + 1}", flush=True)
        await publisher.close()
    else:
        raise RuntimeError("the publisher could not start")
    deadline = time.monotonic() + script.seconds + 30
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        if track.started_monotonic and time.monotonic() - track.started_monotonic > script.seconds + 2:
            if not captions or len(arrivals) >= len(script.phrase_ends):
                break
            if worker and worker.idle(slug) and time.monotonic() - track.started_monotonic > script.seconds + 8:
                break  # everything said was recognised: some phrases were merged
    stored: list[tuple[int, float, str]] = []
    if captions:
        # The finals as stored (the recogniser's output), whoever received them: the viewers' receipts
        # are looked up by line id, so a viewer that missed one shows as a loss, not as a shifted list.
        from sqlalchemy import select

        from server.db.models import TranscriptSegment
        from server.services.events import get_event

        async with server.app.state.ctx.session() as db_session:
            event_id = (await get_event(db_session, slug)).id
            rows = await db_session.execute(
                select(TranscriptSegment.id, TranscriptSegment.end, TranscriptSegment.text)
                .where(TranscriptSegment.event_id == event_id)
                .order_by(TranscriptSegment.start)
            )
            stored = [(int(i), float(e), str(t)) for i, e, t in rows]
    receipts: dict[int, list[int]] = {}
    if crowd and captions:
        # The last of the N viewers may get the last final a little after the Python viewer.
        settle = time.monotonic() + 15
        while time.monotonic() < settle:
            receipts = await crowd_receipts(crowd)
            if all(receipts.get(i, [0])[0] >= crowd_size for i, _, _ in stored):
                break
            await asyncio.sleep(0.5)
    used = cpu() - before
    crowd_used = (crowd.cpu_seconds() - crowd_before) if crowd else 0.0
    await publisher.close()
    viewer.frames = list(viewer.frames)
    out: dict[str, object] = {
        "cpu_seconds": round(used, 2),
        "audio_seconds": round(script.seconds, 1),
        "viewer_cpu_seconds": round(crowd_used, 2),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }
    if captions:
        assert track.started_monotonic is not None
        phrase_of = match_phrases([end for _, end, _ in stored], script.phrase_ends)
        planned = [track.started_monotonic + script.phrase_ends[j] for j in phrase_of]
        # The phrase ends when its last sample leaves the publisher's track: on a starved loop that is
        # later than planned (then it catches up), and that lag is the publisher's, not the captions'.
        ends = [track.handed_at(script.phrase_ends[j]) or p for j, p in zip(phrase_of, planned, strict=True)]
        publisher_lag = [round(e - p, 3) for e, p in zip(ends, planned, strict=True)]
        arrived = {int(data["id"]): at for at, data in arrivals}
        latencies, firsts, lasts, lost = [], [], [], 0
        for (line_id, _, _), end in zip(stored, ends, strict=True):
            if line_id in arrived:
                latencies.append(round(arrived[line_id] - end, 3))
            count, first, last = receipts.get(line_id, [0, 0, 0])
            lost += crowd_size - count if crowd else 0
            if count:
                firsts.append(round(first / 1e6 - end, 3))
                lasts.append(round(last / 1e6 - end, 3))
        now = (worker.dropped, worker.merged, worker.skipped_interims) if worker else (0, 0, 0)
        out |= {
            "finals": len(stored),
            "finals_at_python_viewer": len(arrived),
            "python_viewer_closed": viewer.closed_code,
            "phrases": len(script.phrase_ends),
            "phrase_of_final": phrase_of,
            "latencies": latencies,
            "texts": [text for _, _, text in stored],
            "dropped": now[0] - counters[0],
            "merged": now[1] - counters[1],
            "skipped_interims": now[2] - counters[2],
            "crowd_first": firsts,
            "crowd_last": lasts,
            "crowd_lost": lost,
            "publisher_lag": publisher_lag,
        }
    return out


async def run_pair(script: Script, work: Path, viewers: int, workers: int) -> tuple[dict[str, object], ...]:
    """One server, its model loaded, an event live with a viewer (and `viewers` more): the script is
    spoken twice, captions off then on, so both sessions have the same audience and the same server."""
    url = f"sqlite+aiosqlite:///{work / 'captions.db'}"
    upgrade(url)
    overrides = {"database_url": url, "media_dir": work / "media", "live_captions": True}
    async with live_server(**overrides) as server, httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        ctx = server.app.state.ctx
        worker = ctx.captions._worker_for()
        await asyncio.to_thread(worker.ready.wait, 120)  # the model loads outside the measured window
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        # Two events: the same script is spoken on one without captions, then on one with them (a tap
        # is made when an event's feed is first created); the audience watches the captioned one.
        slugs = {False: "bench-plain", True: "bench-captions"}
        for slug in slugs.values():
            made = await http.post(
                "/api/v1/events",
                json={"slug": slug, "title_zh": "基坑答疑", "title_en": "Foundation pit Q&A"},
                headers=headers,
            )
            assert made.status_code == 201, made.text
            await http.post(f"/api/v1/events/{slug}/state", json={"state": "live"}, headers=headers)
        slug = slugs[True]
        from server.services.events import get_event

        async with ctx.session() as db_session:
            event_id = (await get_event(db_session, slug)).id
        ws_url = f"{server.ws_url}/api/v1/events/{slug}/ws"
        viewer = await WsClient(ws_url).connect()
        crowd: Any = None
        crowd_size = 0
        if viewers:
            from bench.ws_fanout import Viewers

            crowd = await Viewers.start(workers, work / "clients.log", viewers + 1000)
        try:
            if crowd:
                crowd_size = await connect_crowd(crowd, ws_url, viewers, ctx.hub, event_id) - 1  # less ours
            off = await session(server, slugs[False], script, False, viewer, crowd, crowd_size)
            on = await session(server, slug, script, True, viewer, crowd, crowd_size)
            if crowd:
                stats = await crowd.stats()
                on |= {"viewers": crowd_size, "viewers_open": stats["open"], "viewers_closed": stats["close_codes"]}
        finally:
            if crowd:
                await crowd.close()
            await viewer.close()
        return off, on


LINE_SECONDS = 3.6  # a caption line per 3.6 s of talk: ~1,000 lines in an hour


async def draft_run(hours: float, work: Path) -> dict[str, float]:
    """End → searchable: an event with `hours` of live caption lines ends; how long until GET
    /api/v1/search finds its last line (the draft: captions.vtt + the search index)."""
    from server.db.models import Event, TranscriptSegment

    url = f"sqlite+aiosqlite:///{work / 'draft.db'}"
    upgrade(url)
    async with (
        live_server(database_url=url, media_dir=work / "media-draft") as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=60) as http,
    ):
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        slug = "bench-draft"
        await http.post("/api/v1/events", json={"slug": slug, "title_zh": "基坑答疑"}, headers=headers)
        await http.post(f"/api/v1/events/{slug}/state", json={"state": "live"}, headers=headers)
        db = server.app.state.ctx.db
        count = round(hours * 3600 / LINE_SECONDS)
        async with db.session() as session:
            from sqlalchemy import select

            event_id = (await session.execute(select(Event.id).where(Event.slug == slug))).scalar_one()
            zh = ("基坑开挖引起周边建筑沉降怎么办", "盾构隧道穿越地铁保护区需要加强监测", "降水会导致邻近管线沉降")
            session.add_all(
                TranscriptSegment(
                    event_id=event_id,
                    start=i * LINE_SECONDS,
                    end=i * LINE_SECONDS + 3.0,
                    language="zh" if i % 3 else "en",
                    text=f"{zh[i % 3]}，第{i}句。" if i % 3 else f"Line {i}: the foundation pit is monitored daily.",
                    source="live",
                )
                for i in range(count)
            )
            session.add(
                TranscriptSegment(
                    event_id=event_id,
                    start=count * LINE_SECONDS,
                    end=count * LINE_SECONDS + 3,
                    language="en",
                    text="Finally the zygote settlement marker.",
                    source="live",
                )
            )
            await session.flush()
            # As the live captions do: each stored line is indexed with it (found once the event ends).
            from archive import search

            lines = (
                await session.execute(select(TranscriptSegment).where(TranscriptSegment.event_id == event_id))
            ).scalars()
            docs = [search.Doc(search.DocKind.TRANSCRIPT, ln.id, ln.start, ln.text) for ln in lines]
            await search.add_docs(session, event_id, docs)
            await session.commit()
        began = time.monotonic()
        ended = await http.post(f"/api/v1/events/{slug}/state", json={"state": "ended"}, headers=headers)
        end_request = time.monotonic() - began
        assert ended.status_code == 200, ended.text
        while True:
            found = (await http.get("/api/v1/search", params={"q": "zygote"})).json()
            if found["total"]:
                break
            await asyncio.sleep(0.05)
        searchable = time.monotonic() - began
        vtt = await http.get(f"/archive/{slug}/captions.vtt")
        return {
            "lines": count + 1,
            "end_request_s": round(end_request, 2),
            "searchable_s": round(searchable, 2),
            "vtt_cues": vtt.text.count(" --> "),
        }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=len(SENTENCES))
    parser.add_argument("--pause", type=float, default=1.2, help="seconds of silence between sentences")
    parser.add_argument("--draft-hours", type=float, default=1.0, help="end → searchable with this much talk")
    parser.add_argument("--only", choices=("captions", "draft"))
    parser.add_argument("--viewers", type=int, default=0, help="WebSocket viewers held through both runs")
    parser.add_argument("--workers", type=int, default=2, help="Node load-client processes for --viewers")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.viewers:
        from bench.ws_fanout import NODE_DIR, raise_nofile

        raise_nofile(args.viewers * 2 + 2000)  # the server's sockets live in this process
        if not (NODE_DIR / "node_modules" / "ws").is_dir():
            import subprocess

            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300)
    if args.only == "draft":
        with tempfile.TemporaryDirectory() as tmp:
            result = await draft_run(args.draft_hours, Path(tmp))
        print(
            f"{args.draft_hours} h of live captions ({result['lines']} lines): "
            f"event end request {result['end_request_s']} s, searchable {result['searchable_s']} s after it "
            f"was sent (target ≤ 5 s); captions.vtt {result['vtt_cues']} cues"
        )
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        texts = [SENTENCES[i % len(SENTENCES)] for i in range(args.sentences)]
        script = Script([espeak(t, work / f"{i}.wav") for i, t in enumerate(texts)], pause=args.pause)
        load_before = [round(x, 1) for x in os.getloadavg()]
        off, on = await run_pair(script, work, args.viewers, args.workers)
    latencies = on["latencies"]
    assert isinstance(latencies, list)
    extra = (float(on["cpu_seconds"]) - float(off["cpu_seconds"])) / script.seconds  # type: ignore[arg-type]
    result = {
        "audio_seconds": round(script.seconds, 1),
        "sentences": len(texts),
        "finals": on["finals"],
        "latency_median_s": round(statistics.median(latencies), 2) if latencies else None,
        "latency_max_s": round(max(latencies), 2) if latencies else None,
        "cpu_off": off["cpu_seconds"],
        "cpu_on": on["cpu_seconds"],
        "captions_cpu_per_audio_second": round(extra, 3),
        "dropped": on["dropped"],
        "merged": on["merged"],
        "skipped_interims": on["skipped_interims"],
        "publisher_lag_max_s": max(on["publisher_lag"], default=None),  # type: ignore[call-overload]
        "load_average_before": load_before,
        "load_average_after": on["load_average"],
    }
    if args.viewers:
        lasts = on["crowd_last"]
        firsts = on["crowd_first"]
        assert isinstance(lasts, list) and isinstance(firsts, list)
        result |= {
            "viewers": on["viewers"],
            "crowd_first_median_s": round(statistics.median(firsts), 2) if firsts else None,
            "crowd_last_median_s": round(statistics.median(lasts), 2) if lasts else None,
            "crowd_last_max_s": round(max(lasts), 2) if lasts else None,
            "crowd_lost": on["crowd_lost"],
            "viewer_cpu_off": off["viewer_cpu_seconds"],
            "viewer_cpu_on": on["viewer_cpu_seconds"],
            "viewers_closed": on["viewers_closed"],
        }
    print(f"load average before {load_before}, after {result['load_average_after']}")
    print(
        f"audio {result['audio_seconds']} s, {len(texts)} sentences → {on['finals']} final captions stored, "
        f"{on['finals_at_python_viewer']} at the bench's own viewer (closed: {on['python_viewer_closed']})"
    )
    lasts_printed = on["crowd_last"] if args.viewers else latencies
    for text, phrase, latency in zip(on["texts"], on["phrase_of_final"], lasts_printed, strict=False):  # type: ignore[call-overload]
        print(f"  {latency:5.2f} s  (phrase {phrase + 1:2})  {text}")
    print(
        f"final caption after phrase end: median {result['latency_median_s']} s, "
        f"max {result['latency_max_s']} s (target median ≤ 2.0)"
    )
    print(
        f"CPU: captions off {off['cpu_seconds']} s, on {on['cpu_seconds']} s → "
        f"{result['captions_cpu_per_audio_second']} CPU-s per audio-second for captions (target ≤ 0.6)"
    )
    if args.viewers:
        print(
            f"with {result['viewers']} more viewers connected through both sessions: phrase end → "
            f"final at the first viewer median {result['crowd_first_median_s']} s, at the last viewer median "
            f"{result['crowd_last_median_s']} s, max {result['crowd_last_max_s']} s (target median ≤ 2.0); "
            f"lost receipts {result['crowd_lost']}; closed {result['viewers_closed']}; viewers' own CPU "
            f"{result['viewer_cpu_off']} s off, {result['viewer_cpu_on']} s on"
        )
    print(
        f"the publisher's track ran up to {result['publisher_lag_max_s']} s behind its plan (a starved loop); "
        "latencies count from when each phrase really left it"
    )
    print(
        f"interims skipped (machine busy): {result['skipped_interims']}; merged {result['merged']}, "
        f"dropped {result['dropped']}; load average {result['load_average_after']}"
    )
    if args.json:
        args.json.write_text(json.dumps({**result, "run": on}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
