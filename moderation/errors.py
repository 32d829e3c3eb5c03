"""The one refusal the domain raises at its callers."""

from __future__ import annotations


class Refused(Exception):
    """An action the domain will not perform.

    ``code`` is machine-readable; the service maps it to HTTP: 403 for ``forbidden``/``muted``/``banned``,
    409 for state conflicts, 422 for content, 429 for ``rate_limited`` (with ``retry_after`` seconds).
    """

    def __init__(self, code: str, detail: str | None = None, retry_after: float | None = None) -> None:
        self.code = code
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(code if detail is None else f"{code}: {detail}")
