"""CORS for WHIP and WHEP (RFC 9725 §4.6): browser clients served from another origin may use them.

Any origin may, because these routes are authorised by a bearer token the page must already
hold, never by the browser's cookies: we never send Access-Control-Allow-Credentials, so a
cross-origin page cannot make the browser lend it a signed-in user's cookie and read the
answer (and a cookie-authenticated write from a foreign Origin is refused by server/auth.py).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

ALLOW_HEADERS = "Authorization, Content-Type, If-Match"
# What a WHIP/WHEP client reads from our answers: the session URL, ICE servers, the ICE
# session's tag, and what PATCH/POST accept.
EXPOSE_HEADERS = "Location, Link, ETag, Accept-Patch, Accept-Post"
# Browsers cache a preflight at most this long (Chromium caps it at 2 h): one per client session.
PREFLIGHT_MAX_AGE_SECONDS = 7200


def with_cors(request: Request, response: Response) -> Response:
    """Add the CORS headers to a WHIP/WHEP response when the request came with an Origin."""
    if "origin" in request.headers:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    return response


def preflight(request: Request, methods: str) -> Response:
    """The answer to OPTIONS: what RFC 9725 asks (Allow, Accept-Post) and, for a browser, CORS."""
    response = Response(status_code=204, headers={"Allow": methods, "Accept-Post": "application/sdp"})
    if "origin" in request.headers:
        response.headers["Access-Control-Allow-Methods"] = methods
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
    return with_cors(request, response)
