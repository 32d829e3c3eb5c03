"""The one refusal the polls domain raises at its callers."""

from __future__ import annotations


class Refused(Exception):
    """An answer or action the domain will not accept.

    ``code`` is machine-readable; the service maps it to HTTP: 403 for ``forbidden``/``banned``/``muted``,
    409 for state conflicts (``already_answered``, ``closed``, ``not_open``), 422 for bad content.
    """

    def __init__(self, code: str, detail: str | None = None) -> None:
        self.code = code
        self.detail = detail
        super().__init__(code if detail is None else f"{code}: {detail}")
