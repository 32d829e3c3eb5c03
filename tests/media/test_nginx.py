"""deploy/nginx.conf in front of the app: many viewers' playlist and part requests become about one origin
request per part (micro-cache + cache lock), so a CDN or one nginx carries the viewers, not Sitecast."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import free_port

from .conftest import MediaServer, publish_token, requires_ffmpeg, wait_for
from .publishers import AiortcPublisher

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file() else None)
DEPLOY_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"
HINT = re.compile(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(\d{6})\.(\d+)\.ts"')
VIEWERS = 25
WATCH_SECONDS = 4.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.media,
    requires_ffmpeg,
    pytest.mark.skipif(NGINX is None, reason="Debian package nginx-light"),
]


def nginx_config(work: Path, origin: str, port: int) -> Path:
    """The shipped site config, pointed at the test origin and a private cache, inside a minimal nginx.conf."""
    site = DEPLOY_CONF.read_text()
    for shipped, here in (
        ("server 127.0.0.1:8000;", f"server {origin};"),
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("/var/cache/nginx/sitecast", str(work / "cache")),
    ):
        assert shipped in site, f"deploy/nginx.conf no longer has {shipped!r}"
        site = site.replace(shipped, here)
    (work / "sitecast.conf").write_text(site)
    temp = " ".join(f"{kind}_temp_path {work / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = work / "nginx.conf"
    main.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {work / 'nginx.pid'};\nerror_log {work / 'error.log'} warn;\n"
        + "events { worker_connections 1024; }\n"
        + f"http {{ access_log off; {temp} include {work / 'sitecast.conf'}; }}\n"
    )
    return main


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    work = tmp_path / "nginx"
    work.mkdir()
    yield work, free_port()


async def test_viewers_behind_nginx_cost_the_origin_about_one_request_per_part(
    media_server: MediaServer, nginx: tuple[Path, int]
) -> None:
    work, port = nginx
    origin = media_server.url.removeprefix("http://")
    conf = nginx_config(work, origin, port)
    assert NGINX is not None
    check = await asyncio.create_subprocess_exec(
        NGINX, "-t", "-p", str(work), "-c", str(conf), stderr=asyncio.subprocess.PIPE
    )
    _, complaint = await check.communicate()
    assert check.returncode == 0, complaint.decode()
    proc = await asyncio.create_subprocess_exec(NGINX, "-p", str(work), "-c", str(conf), "-g", "daemon off;")
    pub = AiortcPublisher(media_server.url, "ev1", publish_token("ev1"))
    edge_url = f"http://127.0.0.1:{port}"
    try:
        assert (await pub.start()).status_code == 201
        async with httpx.AsyncClient(base_url=edge_url, timeout=20) as http:

            async def ready() -> bool:
                try:
                    response = await http.get("/live/ev1/index.m3u8")
                except httpx.TransportError:
                    return False
                return response.status_code == 200 and response.text.count("#EXTINF") >= 1 and "HINT" in response.text

            await wait_for(ready, what="the live playlist through nginx")
            media_server.requests.clear()
            loop = asyncio.get_running_loop()
            stop_at = loop.time() + WATCH_SECONDS
            asked: Counter[str] = Counter()

            async def viewer() -> None:
                """As hls.js in low-latency mode: the hinted part, then the playlist that lists it, again."""
                text = (await http.get("/live/ev1/index.m3u8")).text
                asked["plain"] += 1
                while loop.time() < stop_at:
                    hint = HINT.search(text)
                    assert hint is not None, text
                    msn, part = int(hint.group(1)), int(hint.group(2))
                    params = {"_HLS_msn": msn, "_HLS_part": part}
                    got_part, reload = await asyncio.gather(
                        http.get(f"/live/ev1/{msn:06d}.{part}.ts"), http.get("/live/ev1/index.m3u8", params=params)
                    )
                    assert reload.status_code == 200, reload.text
                    assert got_part.status_code in (200, 404)  # 404: the segment closed before that part
                    asked["blocking"] += 1
                    asked["part"] += 1
                    text = reload.text

            await asyncio.gather(*(viewer() for _ in range(VIEWERS)))

            # Plain reloads (native players): a burst from every viewer costs the origin one request per second.
            burst_start = len(media_server.requests)
            burst_began = loop.time()
            for _ in range(5):
                await asyncio.gather(*(http.get("/live/ev1/index.m3u8") for _ in range(VIEWERS)))
                await asyncio.sleep(0.1)
            plain_at_origin = [r for r in media_server.requests[burst_start:] if r == "/live/ev1/index.m3u8"]
            burst_seconds = loop.time() - burst_began
    finally:
        await pub.close()
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)

    blocking = [r for r in media_server.requests[:burst_start] if "_HLS_msn=" in r]
    parts = [r for r in media_server.requests[:burst_start] if re.search(r"/\d{6}\.\d+\.ts$", r)]
    positions = len(set(blocking))
    # Every viewer asked for each position; the origin saw each about once (a lock timing out may add one).
    assert positions >= 2, blocking  # parts come three a second; a loaded machine runs the viewers slower
    # Viewers asked for many positions each (some skip one: an answer can list a part or two beyond).
    assert asked["blocking"] >= 4 * len(blocking), (asked, positions)
    assert len(blocking) <= positions * 1.25 + 2, Counter(blocking)
    assert len(parts) <= len(set(parts)) * 1.25 + 2, Counter(parts)
    assert len(plain_at_origin) <= burst_seconds + 2, (plain_at_origin, burst_seconds)
