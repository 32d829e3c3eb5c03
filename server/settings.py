"""Settings from the environment (a `.env` file may supply them). Every setting is documented in README.md."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

DEFAULT_DATA_DIR = Path("data")


def _read_dotenv(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


@dataclass(frozen=True)
class Settings:
    """Each field's metadata `env` is its environment variable; `doc` is what README.md says of it."""

    host: str = field(default="127.0.0.1", metadata={"env": "HOST", "doc": "interface the server binds"})
    port: int = field(default=8000, metadata={"env": "PORT", "doc": "TCP port"})
    database_url: str = field(
        default="sqlite+aiosqlite:///data/sitecast.db",
        metadata={"env": "DATABASE_URL", "doc": "SQLAlchemy async URL: SQLite (aiosqlite) or PostgreSQL"},
    )
    redis_url: str = field(
        default="", metadata={"env": "REDIS_URL", "doc": "unset: in-process bus and limits; set: Redis"}
    )
    redis_prefix: str = field(
        default="sitecast",
        metadata={"env": "REDIS_PREFIX", "doc": "key prefix, to share one Redis between deployments"},
    )
    media_dir: Path = field(
        default=DEFAULT_DATA_DIR / "media", metadata={"env": "MEDIA_DIR", "doc": "HLS and archive files"}
    )
    segment_seconds: float = field(
        default=1.0, metadata={"env": "SEGMENT_SECONDS", "doc": "HLS segment length, 1 to 2 seconds"}
    )
    low_rendition: bool = field(
        default=True,
        metadata={
            "env": "LOW_RENDITION",
            "doc": "a 360p (~500 kb/s) rendition for weak networks beside the full one (one server encode; "
            "bench/renditions.py); `false`: the full rendition only",
        },
    )
    stage_guest_seconds: float = field(
        default=180.0,
        metadata={
            "env": "STAGE_GUEST_SECONDS",
            "doc": "how long a viewer brought on air may speak before being taken off",
        },
    )
    admin_token: str = field(
        default="", metadata={"env": "ADMIN_TOKEN", "doc": "admin bearer token; `make run` generates one"}
    )
    secret_key: str = field(
        default="",
        metadata={"env": "SECRET_KEY", "doc": "signs participant tokens; unset: kept in data/secret.key"},
    )
    asr_model: str = field(
        default="", metadata={"env": "ASR_MODEL", "doc": "CTranslate2 Whisper model dir; unset: bundled base"}
    )
    asr_threads: int = field(
        default=0,
        metadata={"env": "ASR_THREADS", "doc": "CPU threads per transcription; 0: half the machine's cores"},
    )
    live_captions: bool = field(
        default=True,
        metadata={
            "env": "LIVE_CAPTIONS",
            "doc": "live captions from the programme audio (Whisper in one worker thread, 1 CPU thread)",
        },
    )
    job_concurrency: int = field(
        default=2, metadata={"env": "JOB_CONCURRENCY", "doc": "archive jobs one process runs at once"}
    )
    job_heartbeat_seconds: float = field(
        default=30.0,
        metadata={
            "env": "JOB_HEARTBEAT_SECONDS",
            "doc": "a running archive job whose worker is silent this long is given to another worker",
        },
    )
    public_url: str = field(
        default="",
        metadata={"env": "PUBLIC_URL", "doc": "external base URL for links; unset: http://HOST:PORT"},
    )
    max_body_bytes: int = field(
        default=64 * 1024, metadata={"env": "MAX_BODY_BYTES", "doc": "request body cap (413 above it)"}
    )
    invite_ttl_hours: float = field(
        default=24 * 14, metadata={"env": "INVITE_TTL_HOURS", "doc": "expert/moderator invite lifetime"}
    )
    viewer_ttl_hours: float = field(
        default=24 * 30, metadata={"env": "VIEWER_TTL_HOURS", "doc": "viewer token lifetime"}
    )
    join_rate_per_minute: int = field(
        default=30, metadata={"env": "JOIN_RATE_PER_MINUTE", "doc": "joins allowed per client IP per minute"}
    )
    ask_rate_per_minute: int = field(
        default=120,
        metadata={
            "env": "ASK_RATE_PER_MINUTE",
            "doc": "questions allowed per client IP per minute (offices share IPs)",
        },
    )
    header_timeout_seconds: float = field(
        default=10.0,
        metadata={
            "env": "HEADER_TIMEOUT_SECONDS",
            "doc": "a request head (line, headers) unfinished this long after the connection or request began: 408",
        },
    )
    presence_seconds: float = field(
        default=2.0,
        metadata={
            "env": "PRESENCE_SECONDS",
            "doc": "viewer-count heartbeat; with Redis a process silent for 1.5 of these (killed) drops out",
        },
    )
    secure_cookies: bool = field(
        default=False, metadata={"env": "SECURE_COOKIES", "doc": "mark cookies Secure (behind HTTPS)"}
    )
    log_level: str = field(default="info", metadata={"env": "LOG_LEVEL", "doc": "uvicorn/app log level"})
    attendance_flush_seconds: float = field(
        default=10.0,
        metadata={
            "env": "ATTENDANCE_FLUSH_SECONDS",
            "doc": "how often each process writes its viewers' attendance spans (one batch, never per heartbeat)",
        },
    )
    attendance_grace_seconds: float = field(
        default=10.0,
        metadata={
            "env": "ATTENDANCE_GRACE_SECONDS",
            "doc": "a viewer who reconnects within this gap keeps one unbroken attendance span",
        },
    )
    report_timezone: str = field(
        default="Asia/Shanghai",
        metadata={"env": "REPORT_TIMEZONE", "doc": "IANA time zone of times shown in reports and certificates"},
    )
    smtp_url: str = field(
        default="",
        metadata={
            "env": "SMTP_URL",
            "doc": "mail server for certificates by e-mail (smtp://user:pass@host:587?starttls=1, smtps://…); "
            "unset: no e-mail field, nothing is sent",
        },
    )
    mail_from: str = field(
        default="noreply@localhost",
        metadata={"env": "MAIL_FROM", "doc": "sender address of the certificate e-mails"},
    )

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, dotenv: Path = Path(".env")) -> Settings:
        source = {**_read_dotenv(dotenv), **(os.environ if env is None else env)}
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            raw = source.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            if f.type in ("int", int):
                kwargs[f.name] = int(raw)
            elif f.type in ("float", float):
                kwargs[f.name] = float(raw)
            elif f.type in ("bool", bool):
                kwargs[f.name] = raw.lower() in ("1", "true", "yes", "on")
            elif f.type in ("Path", Path):
                kwargs[f.name] = Path(raw)
            else:
                kwargs[f.name] = raw
        return cls(**kwargs)  # type: ignore[arg-type]

    def resolved_secret(self) -> str:
        """The signing key; when unset, one is created once beside the default data and reused."""
        if self.secret_key:
            return self.secret_key
        path = self.media_dir.parent / "secret.key"
        if path.is_file():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        path.write_text(key)
        path.chmod(0o600)
        return key


def documented_settings() -> list[tuple[str, str, str]]:
    """(ENV, default, doc) for every setting: README.md lists each one, and a test checks it."""
    out = []
    for f in fields(Settings):
        default = f.default
        out.append((f.metadata["env"], "" if default == "" else str(default), f.metadata["doc"]))
    return out
