"""The events socket's upgrade: an upgrade request httptools parsed, handed to `ViewerSocket` (rawws.py).

server/protocols.py's `HttpProtocol.handle_websocket_upgrade` calls `take_over` with websockets' `Request`
built from httptools' parse. An upgrade of `GET /api/v1/events/{slug}/ws` with a plain version-13
handshake, on a server that negotiates no extension (permessage-deflate off) and serves a Starlette app at
the root, is answered below ASGI; anything else — another path, an unusual handshake, deflate on — goes
uvicorn's way, which stays the reference path (tests run both).

uvicorn internals relied on (HttpToolsProtocol, uvicorn 0.54): `config` (`ws_per_message_deflate`,
`root_path`), `scope` (`headers`, `client`, `server`, `scheme`: an upgrade's scope has no path or query
yet), `app`, `connections`, `server_state`, `transport`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from websockets.http11 import Request

from server.api import realtime
from server.realtime.rawws import ViewerSocket

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_ROUTE = realtime.routes[0]


def _starlette(app: Any) -> Starlette | None:
    """The Starlette app uvicorn serves: itself, or inside a wrapper's `app` (a few attribute reads; not
    cached by the wrapper's id, which a later server's wrapper may reuse once the first is collected)."""
    node = app
    for _ in range(8):
        if isinstance(node, Starlette):
            return node
        node = getattr(node, "app", None)
        if node is None:
            return None
    return None


def accept_key(request: Request) -> str | None:
    """Sec-WebSocket-Accept for a plain version-13 handshake; None for anything websockets should judge."""
    headers = request.headers
    try:
        keys, versions = headers.get_all("sec-websocket-key"), headers.get_all("sec-websocket-version")
    except Exception:
        return None
    if len(keys) != 1 or versions != ["13"]:
        return None
    try:
        if len(base64.b64decode(keys[0].encode(), validate=True)) != 16:
            return None
    except (binascii.Error, UnicodeEncodeError):
        return None
    return base64.b64encode(hashlib.sha1(keys[0].encode() + _GUID).digest()).decode()


def take_over(http: Any, request: Request) -> bool:
    """Serve this upgrade with `ViewerSocket` if it is the events socket on a plain server; False: uvicorn's way."""
    config = http.config
    if config.ws_per_message_deflate or config.root_path:
        return False
    scope = http.scope  # uvicorn leaves path and query out of an upgrade's scope: they come from the request
    raw_path, _, query = request.path.partition("?")
    path = unquote(raw_path)
    match = _ROUTE.path_regex.match(path)
    if match is None:
        return False
    app = _starlette(http.app)
    key = accept_key(request)
    if app is None or key is None:
        return False
    ws_scope = {
        "type": "websocket",
        "app": app,
        "path": path,
        "raw_path": raw_path.encode("ascii"),
        "query_string": query.encode("ascii"),
        "headers": scope["headers"],
        "path_params": match.groupdict(),
        "client": scope.get("client"),
        "server": scope.get("server"),
        "scheme": "wss" if scope.get("scheme") == "https" else "ws",
        "root_path": "",
    }
    http.connections.discard(http)
    protocol = ViewerSocket(http.transport, http.server_state, HTTPConnection(ws_scope), key)
    http.transport.set_protocol(protocol)
    protocol.start()
    return True
