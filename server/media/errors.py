"""Typed media errors that the HTTP layer maps to a status and a JSON body."""

from __future__ import annotations


class MediaError(Exception):
    """A refusal with an HTTP status, a stable machine code and a human message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_sdp(message: str) -> MediaError:
    return MediaError(400, "bad_sdp", message)


def conflict(code: str, message: str) -> MediaError:
    return MediaError(409, code, message)


def unknown_session(session_id: str) -> MediaError:
    return MediaError(404, "unknown_session", f"no media session {session_id!r}")
