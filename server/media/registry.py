"""Every peer connection and media task, owned by the app lifespan.

A peer is closed on ICE/DTLS failure, on DELETE, when its event ends, and at shutdown;
closing cancels its tasks and runs its close callbacks exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from aiortc import RTCPeerConnection

from .errors import unknown_session

logger = logging.getLogger(__name__)

PeerKind = Literal["whip", "whep"]
CloseReason = Literal["deleted", "dropped", "ended", "shutdown"]


@dataclass(eq=False)
class Peer:
    id: str
    slug: str
    kind: PeerKind
    pc: RTCPeerConnection
    remote_ufrag: str | None = None
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    on_close: list[Callable[[CloseReason], Awaitable[None]]] = field(default_factory=list)
    closed: bool = False


class PeerRegistry:
    def __init__(self) -> None:
        self._peers: dict[str, Peer] = {}
        self._reapers: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._peers)

    def peers(self, slug: str | None = None, kind: PeerKind | None = None) -> list[Peer]:
        return [
            p for p in self._peers.values() if (slug is None or p.slug == slug) and (kind is None or p.kind == kind)
        ]

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(16)

    def add(self, slug: str, kind: PeerKind, pc: RTCPeerConnection, peer_id: str | None = None) -> Peer:
        peer = Peer(id=peer_id or self.new_id(), slug=slug, kind=kind, pc=pc)
        self._peers[peer.id] = peer

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            if pc.connectionState in ("failed", "closed") and not peer.closed:
                self._reap(peer, "dropped")

        return peer

    def get(self, slug: str, session_id: str, kind: PeerKind) -> Peer:
        peer = self._peers.get(session_id)
        if peer is None or peer.slug != slug or peer.kind != kind or peer.closed:
            raise unknown_session(session_id)
        return peer

    def spawn(self, peer: Peer, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        peer.tasks.add(task)
        task.add_done_callback(peer.tasks.discard)

    def drop(self, peer: Peer) -> None:
        """The peer's media ended on its own (BYE, track ended): close it in the background."""
        self._reap(peer, "dropped")

    async def close(self, peer: Peer, reason: CloseReason) -> None:
        if peer.closed:
            return
        peer.closed = True
        self._peers.pop(peer.id, None)
        current = asyncio.current_task()
        for task in list(peer.tasks):
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in peer.tasks if t is not current), return_exceptions=True)
        try:
            await peer.pc.close()
        except Exception:  # a half-negotiated pc may fail to close; it is gone either way
            logger.exception("closing peer %s", peer.id)
        for callback in peer.on_close:
            try:
                await callback(reason)
            except Exception:
                logger.exception("close callback of peer %s", peer.id)

    async def close_all(self, slug: str | None = None, reason: CloseReason = "shutdown") -> None:
        for peer in self.peers(slug):
            await self.close(peer, reason)
        if slug is None:
            for task in list(self._reapers):
                task.cancel()
            await asyncio.gather(*self._reapers, return_exceptions=True)

    def _reap(self, peer: Peer, reason: CloseReason) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: shutdown already closes it
            task = asyncio.get_running_loop().create_task(self.close(peer, reason))
            self._reapers.add(task)
            task.add_done_callback(self._reapers.discard)
