"""Benchmark: the archive's transcription cost, and how soon an ended event's transcript is searchable.

    python bench/archive_transcribe.py [--minutes 10] [--threads 0] [--only cpu|e2e] [--json out.json]

1. CPU-seconds per audio-second of `archive.transcript.Transcriber` on a recording of generated
   speech (espeak-ng, English, dense: a sentence every ~5 s), read from the archive playlist our own
   HLS writer wrote — the job's real input. CPU is this process's (every thread), model load apart.
   Target: ≤ 0.25.
2. Wall time from "event ended" (POST …/state ended) to "transcript searchable" (GET /api/v1/search
   finds a word of the last sentence) for the same recording, on a Sitecast server started as a child
   process in its embedded setup (SQLite, in-process jobs, default ASR_THREADS). Target: ≤ 0.3× the
   recording's length.
Not a test: numbers vary with the machine and whatever else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test media helpers (espeak-ng → our HLS writer)

from archive.glossary import hotwords  # noqa: E402
from archive.model import resolve_model  # noqa: E402
from archive.transcript import Transcriber  # noqa: E402
from tests.archive.recordings import RATE, Session, record, speak, word_error_rate, write_wav  # noqa: E402

SENTENCES = (
    "Good morning, and welcome to today's live question and answer session on underground construction.",
    "Our first topic is the safety of deep foundation pits next to existing buildings.",
    "Before excavation begins, the contractor must install settlement monitoring points around the site.",
    "Readings should be taken every day, and more often when the pit is close to a metro line.",
    "If the settlement rate exceeds the warning value, stop the excavation and inform the supervision engineer.",
    "Dewatering lowers the groundwater level, which can cause the soil under nearby pipelines to settle.",
    "For shield tunnelling, the face pressure must be balanced against the earth and water pressure.",
    "The monitoring data must be shared with the owner, the designer and the metro operator.",
    "An emergency plan should list who to call, which materials to prepare, and how to evacuate people.",
    "Now let us look at the next question from the audience.",
)
LAST = "That concludes today's session; thank you for watching."
LAST_WORD = "concludes"
ADMIN = "bench"
POLL_SECONDS = 0.25


def make_recording(minutes: float, work: Path) -> tuple[Path, float, str]:
    """A feed directory of `minutes` of speech (+ test-pattern video): (directory, seconds, reference)."""
    voices = {text: speak(text) for text in (*SENTENCES, LAST)}
    gap = np.zeros(RATE, dtype=np.float32)  # a second between sentences: a brisk speaker
    parts, texts = [gap], []
    length = 1.0
    while length + len(voices[LAST]) / RATE + 1 < minutes * 60:
        text = SENTENCES[len(texts) % len(SENTENCES)]
        parts += [voices[text], gap]
        texts.append(text)
        length += len(voices[text]) / RATE + 1
    parts += [voices[LAST], gap]
    texts.append(LAST)
    samples = np.concatenate(parts)
    seconds = len(samples) / RATE
    work.mkdir(parents=True, exist_ok=True)
    wav = write_wav(work / "speech.wav", samples)
    feed = work / "feed"
    record(feed, [Session(0.0, seconds, 0.2, time.time() - seconds)], wav, seconds, work / "tmp", finish=True)
    return feed, seconds, " ".join(texts)


def cpu_per_audio_second(feed: Path, seconds: float, reference: str, threads: int) -> dict[str, float]:
    model = resolve_model("", Path(tempfile.gettempdir()) / "sitecast-bench-models")
    transcriber = Transcriber(model, threads)
    started = time.process_time()
    transcriber._load()  # the model load is paid once per process, not per recording
    load = time.process_time() - started
    cpu0, wall0 = time.process_time(), time.monotonic()
    lines = transcriber.transcribe(
        feed / "index.m3u8", hotwords("地下工程施工扰动安全防范", "Underground works Q&A", [])
    )
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    wer = word_error_rate(reference, " ".join(line.text for line in lines))
    return {
        "audio_seconds": round(seconds, 1),
        "threads": transcriber.threads,
        "model_load_cpu_seconds": round(load, 2),
        "cpu_seconds": round(cpu, 1),
        "wall_seconds": round(wall, 1),
        "cpu_per_audio_second": round(cpu / seconds, 4),
        "wall_per_audio_second": round(wall / seconds, 4),
        "lines": len(lines),
        "word_error_rate": round(wer, 4),
    }


def ended_to_searchable(feed: Path, seconds: float, work: Path, threads: int) -> dict[str, object]:
    port = _free_port()
    media = work / "media"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'bench.db'}",
        "MEDIA_DIR": str(media),
        "ADMIN_TOKEN": ADMIN,
        "SECRET_KEY": "bench",
        "PORT": str(port),
        "LOG_LEVEL": "warning",
        "ASR_THREADS": str(threads),
    }
    env.pop("REDIS_URL", None)  # the embedded setup
    subprocess.run([sys.executable, "-m", "server", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "server.app:create_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        return asyncio.run(_drive(port, media, feed, seconds))
    finally:
        server.terminate()
        server.wait(30)


async def _drive(port: int, media: Path, feed: Path, seconds: float) -> dict[str, object]:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        await _until(lambda: _ok(http, "/healthz"), 30)
        slug = f"bench-{int(time.time())}"
        made = await http.post("/api/v1/events", json={"slug": slug, "title_zh": "基坑答疑"}, headers=admin)
        made.raise_for_status()
        await http.post(f"/api/v1/events/{slug}/state", json={"state": "live"}, headers=admin)
        # The recording the media side wrote during the event (it would hold the finished segments).
        os.makedirs(media, exist_ok=True)
        os.rename(feed, media / slug)
        (media / slug / "index.m3u8").unlink()  # the archive playlist is the vod job's work
        ended_at = time.monotonic()
        (await http.post(f"/api/v1/events/{slug}/state", json={"state": "ended"}, headers=admin)).raise_for_status()

        async def searchable() -> bool:
            found = await http.get("/api/v1/search", params={"q": LAST_WORD, "limit": 100})
            return any(r["event"]["slug"] == slug and r["kind"] == "transcript" for r in found.json()["results"])

        async def complete() -> bool:
            data = (await http.get(f"/api/v1/events/{slug}/archive")).json()
            return bool(data["status"]["complete"])

        await _until(searchable, seconds * 3)
        found_after = time.monotonic() - ended_at
        await _until(complete, seconds * 3)
        complete_after = time.monotonic() - ended_at
        jobs = (await http.get(f"/api/v1/events/{slug}/archive")).json()["status"]["jobs"]
    return {
        "recording_seconds": round(seconds, 1),
        "ended_to_searchable_seconds": round(found_after, 1),
        "ratio": round(found_after / seconds, 4),
        "ended_to_archive_complete_seconds": round(complete_after, 1),
        "jobs": {j["kind"]: j["state"] for j in jobs},
    }


async def _ok(http: httpx.AsyncClient, path: str) -> bool:
    try:
        return (await http.get(path)).status_code == 200
    except httpx.HTTPError:
        return False


async def _until(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(POLL_SECONDS)
    raise TimeoutError(f"not done within {timeout:.0f} s")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the recording (default 10)")
    parser.add_argument("--threads", type=int, default=0, help="ASR_THREADS (0: half the cores, the default)")
    parser.add_argument("--only", choices=["cpu", "e2e"], help="run one of the two measurements")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results: dict[str, object] = {"cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="sitecast-bench-") as tmp:
        work = Path(tmp)
        print(f"generating {args.minutes:g} min of speech and recording it …", flush=True)
        feed, seconds, reference = make_recording(args.minutes, work / "a")
        if args.only in (None, "cpu"):
            cpu = cpu_per_audio_second(feed, seconds, reference, args.threads)
            results["transcription"] = cpu
            verdict = "meets" if cpu["cpu_per_audio_second"] <= 0.25 else "MISSES"
            print(
                f"transcription: {cpu['cpu_per_audio_second']:.3f} CPU-s per audio-second "
                f"({cpu['cpu_seconds']} CPU-s for {seconds:.0f} s, {cpu['threads']} thread(s), "
                f"WER {cpu['word_error_rate']:.1%}) — {verdict} the target ≤ 0.25",
                flush=True,
            )
        if args.only in (None, "e2e"):
            feed2, seconds2, _ = make_recording(args.minutes, work / "b") if args.only is None else (feed, seconds, "")
            e2e = ended_to_searchable(feed2, seconds2, work, args.threads)
            results["ended_to_searchable"] = e2e
            verdict = "meets" if e2e["ratio"] <= 0.3 else "MISSES"
            print(
                f"ended → transcript searchable: {e2e['ended_to_searchable_seconds']} s for a {seconds2:.0f} s "
                f"recording = {e2e['ratio']:.3f}× its length — {verdict} the target ≤ 0.3× "
                f"(archive complete after {e2e['ended_to_archive_complete_seconds']} s: {e2e['jobs']})",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
