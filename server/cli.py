"""`python -m server run|web|migrate|seed|worker`: what `make run` and the Procfile call."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys

from sqlalchemy import select

from server import tools
from server.auth import Tokens
from server.db.engine import Database
from server.db.models import Event, Participant
from server.seed import seed_if_empty
from server.services.events import links
from server.settings import Settings


def ensure_admin_token(settings: Settings) -> Settings:
    """An unset ADMIN_TOKEN is generated once and kept beside the data, so links survive restarts."""
    if settings.admin_token:
        return settings
    path = settings.media_dir.parent / "admin.token"
    if path.is_file():
        token = path.read_text().strip()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(24)
        path.write_text(token)
        path.chmod(0o600)
    os.environ["ADMIN_TOKEN"] = token
    return Settings.from_env()


async def _seed_and_describe(settings: Settings) -> str:
    db = Database(settings.database_url)
    tokens = Tokens(settings.resolved_secret(), settings.admin_token)
    lines: list[str] = []
    try:
        async with db.session() as session:
            seeded = await seed_if_empty(session, settings.invite_ttl_hours)
            events = list((await session.execute(select(Event).order_by(Event.id))).scalars())
            base = settings.base_url
            lines.append(
                f"Sitecast is starting on {base}  ({'seeded the two sample events' if seeded else 'existing data'})"
            )
            lines.append(f"  admin token : {settings.admin_token}")
            lines.append(f"  admin page  : {base}/admin/enter?token={settings.admin_token}")
            lines.append(f"  API docs    : {base}/api/v1/openapi.json")
            for event in events:
                lines.append(f"\n  {event.title_zh}  /  {event.title_en}")
                lines.append(f"    event page : {links(event, base).page}")
                invites = (
                    await session.execute(
                        select(Participant).where(
                            Participant.event_id == event.id,
                            Participant.role.in_(["expert", "moderator"]),
                            Participant.revoked_at.is_(None),
                        )
                    )
                ).scalars()
                for p in invites:
                    label = "studio     " if p.role == "expert" else "moderator  "
                    lines.append(f"    {label}: {base}/e/{event.slug}/enter?token={tokens.issue(p)}")
    finally:
        await db.dispose()
    return "\n".join(lines)


def run(settings: Settings) -> None:
    from server.db.migrate import upgrade  # alembic: seconds of imports the Procfile's web process skips

    settings = ensure_admin_token(settings)
    upgrade(settings.database_url)
    print(asyncio.run(_seed_and_describe(settings)), flush=True)
    serve(settings)


def serve(settings: Settings) -> None:
    """Serve the app on HOST:PORT with the edge every entry point shares (server/protocols.py)."""
    import uvicorn

    from server.app import create_app
    from server.protocols import uvicorn_options

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        **uvicorn_options(settings),
    )


def worker(settings: Settings) -> None:
    """Background jobs: the archive of every ended event (VOD, MP4, transcript, chapters, search).

    With REDIS_URL: a saq worker on the shared Redis queue; run as many as you like, on any machine
    sharing the database and MEDIA_DIR. Without: jobs are found by polling the database (the web
    process runs them too; the database decides who gets each one)."""
    import logging

    from archive.pipeline import Archiver
    from archive.store import JobStore
    from server.app import archive_config

    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = archive_config(settings)

    async def main() -> None:
        db = Database(settings.database_url)
        archiver = Archiver(db, JobStore(db, config.heartbeat_seconds), config)
        try:
            if settings.redis_url:
                from archive.redis_runner import run_worker

                await run_worker(archiver, settings.redis_url, settings.redis_prefix, config.concurrency)
                return
            from archive.runner import InProcessRunner

            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            runner = InProcessRunner(archiver, config.concurrency, sweep_seconds=max(0.5, config.heartbeat_seconds / 3))
            await runner.start()
            print("sitecast worker: archive jobs from the database (no REDIS_URL)", flush=True)
            await stop.wait()
            await runner.close()
        finally:
            await db.dispose()

    asyncio.run(main())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server", description="Sitecast server")
    parser.add_argument("command", choices=["run", "web", "migrate", "seed", "worker"])
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command in ("run", "worker") and (message := tools.problem()):
        print(message, file=sys.stderr)
        raise SystemExit(1)
    if args.command == "run":
        run(settings)
    elif args.command == "web":
        serve(settings)  # the Procfile's web process: no migration, no seed (the release step migrates)
    elif args.command == "migrate":
        from server.db.migrate import upgrade

        upgrade(settings.database_url)
        print("migrations applied", file=sys.stderr)
    elif args.command == "seed":
        from server.db.migrate import upgrade

        settings = ensure_admin_token(settings)
        upgrade(settings.database_url)
        print(asyncio.run(_seed_and_describe(settings)))
    else:
        worker(settings)


if __name__ == "__main__":
    main()
