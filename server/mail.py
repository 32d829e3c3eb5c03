"""Certificates by e-mail: sent through SMTP_URL when it is set, never otherwise.

smtplib blocks, so every send runs in a worker thread; the sends of one batch run as a background task the
lifespan owns (a report page never waits for a mail server), and a failed send is logged, not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("sitecast.mail")

SMTP_TIMEOUT_S = 20.0  # a mail server that does not answer in this long is down; the batch moves on


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    body: str


class Mailer:
    def __init__(self, url: str, sender: str) -> None:
        self.url = url
        self.sender = sender
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return bool(self.url)

    def send_later(self, letters: list[Letter]) -> None:
        """Send in the background (the caller's request finishes now)."""
        if not self.enabled or not letters:
            return
        task = asyncio.create_task(self.send(letters), name="mail")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, letters: list[Letter]) -> None:
        for letter in letters:
            try:
                await asyncio.to_thread(self._send_one, letter)
            except Exception:
                log.exception("could not send the certificate e-mail to %s", letter.to)

    async def close(self) -> None:
        """Let the sends under way finish (bounded by the SMTP timeout)."""
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task

    def _send_one(self, letter: Letter) -> None:
        parts = urlsplit(self.url)
        options = parse_qs(parts.query)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = letter.to
        message["Subject"] = letter.subject
        message.set_content(letter.body)
        host, port = parts.hostname or "localhost", parts.port
        if parts.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port or 465, timeout=SMTP_TIMEOUT_S, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port or 25, timeout=SMTP_TIMEOUT_S)
        with client:
            if options.get("starttls", ["0"])[0] in ("1", "true", "yes"):
                client.starttls(context=ssl.create_default_context())
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)
