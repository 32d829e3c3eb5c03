"""Benchmark: live captions — how soon a final caption follows the end of a spoken phrase, and what
recognition costs per audio-second.

    python bench/live_captions.py [--sentences 12] [--pause 1.2] [--json out.json]

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
Not a test: numbers vary with the machine and whatever else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

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


async def one_run(script: Script, captions: bool, work: Path) -> dict[str, object]:
    url = f"sqlite+aiosqlite:///{work / ('on' if captions else 'off')}.db"
    upgrade(url)
    overrides = {"database_url": url, "media_dir": work / f"media-{captions}", "live_captions": captions}
    async with live_server(**overrides) as server, httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        # Load the model outside the measured window (it is loaded once per process, ~1 s).
        if captions:
            service = server.app.state.ctx.captions
            worker = service._worker_for()
            await asyncio.to_thread(worker.ready.wait, 120)
        slug = f"bench-{int(captions)}"
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        made = await http.post(
            "/api/v1/events",
            json={"slug": slug, "title_zh": "基坑答疑", "title_en": "Foundation pit Q&A"},
            headers=headers,
        )
        assert made.status_code == 201, made.text
        await http.post(f"/api/v1/events/{slug}/state", json={"state": "live"}, headers=headers)
        viewer = await WsClient(f"{server.ws_url}/api/v1/events/{slug}/ws").connect()
        arrivals: list[tuple[float, dict[str, object]]] = []
        original = viewer.frames

        class Stamping(list):  # type: ignore[type-arg]
            def append(self, frame: dict[str, object]) -> None:
                if frame.get("type") == "caption" and frame["data"]["final"]:  # type: ignore[index]
                    arrivals.append((time.time(), frame["data"]))  # type: ignore[arg-type]
                super().append(frame)

        viewer.frames = Stamping(original)
        track = SpeechTrack(script)
        publisher = AiortcPublisher(server.base_url, slug, ADMIN_TOKEN)
        publisher.audio_track = track
        before = cpu()
        assert (await publisher.start()).status_code == 201
        deadline = time.monotonic() + script.seconds + 20
        await_until = script.seconds + 2
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            if (
                track.started_at
                and time.time() - track.started_at > await_until
                and (not captions or len(arrivals) >= len(script.phrase_ends))
            ):
                break
        used = cpu() - before
        await publisher.close()
        await viewer.close()
        out: dict[str, object] = {"cpu_seconds": round(used, 2), "audio_seconds": round(script.seconds, 1)}
        if captions:
            assert track.started_at is not None
            latencies = [
                round(at - (track.started_at + end), 3)
                for (at, _), end in zip(arrivals, script.phrase_ends, strict=False)
            ]
            out |= {
                "finals": len(arrivals),
                "phrases": len(script.phrase_ends),
                "latencies": latencies,
                "texts": [str(data["text"]) for _, data in arrivals],
                "dropped": service._worker.dropped if service._worker else None,
                "merged": service._worker.merged if service._worker else None,
                "skipped_interims": service._worker.skipped_interims if service._worker else None,
                "load_average": [round(x, 1) for x in __import__("os").getloadavg()],
            }
        return out


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
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
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
        off = await one_run(script, False, work)
        on = await one_run(script, True, work)
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
        "load_average_after": on["load_average"],
    }
    print(f"audio {result['audio_seconds']} s, {len(texts)} sentences → {on['finals']} final captions")
    for text, latency in zip(on["texts"], latencies, strict=False):  # type: ignore[call-overload]
        print(f"  {latency:5.2f} s  {text}")
    print(
        f"final caption after phrase end: median {result['latency_median_s']} s, "
        f"max {result['latency_max_s']} s (target median ≤ 2.0)"
    )
    print(
        f"CPU: captions off {off['cpu_seconds']} s, on {on['cpu_seconds']} s → "
        f"{result['captions_cpu_per_audio_second']} CPU-s per audio-second for captions (target ≤ 0.6)"
    )
    print(
        f"interims skipped (machine busy): {result['skipped_interims']}; merged {result['merged']}, "
        f"dropped {result['dropped']}; load average {result['load_average_after']}"
    )
    if args.json:
        args.json.write_text(json.dumps({**result, "run": on}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
