"""Every peer connection and media task, owned by the app lifespan.

A peer is closed on ICE/DTLS failure, on DELETE, when its event ends, and at shutdown;
closing cancels its tasks and runs its close callbacks exactly once. Ended sessions are
remembered (a bounded number of them) so that a late DELETE is answered, not refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from aiortc import RTCPeerConnection

from . import aiortc_hooks
from .errors import unknown_session

logger = logging.getLogger(__name__)

PeerKind = Literal["whip", "whep"]
# "dropped": the peer went away after media flowed (it may come back); "failed": it never
# connected (ICE or DTLS failed), so there is nothing to wait for.
CloseReason = Literal["deleted", "dropped", "failed", "ended", "shutdown"]
# Ended sessions remembered for an idempotent DELETE: ~100 bytes each, and clients DELETE
# within seconds of the end, so a few thousand cover any burst of sessions ending together.
ENDED_SESSIONS_KEPT = 4096
# A session must be connected (ICE + DTLS) this long after its offer, or it is closed as failed:
# browsers connect within seconds, TURN included; an offer nobody follows up (no candidates ever
# trickled, a client gone) would otherwise hold its publisher slot until ICE gives up, or forever.
CONNECT_TIMEOUT_SECONDS = 30.0
# How long a DELETE waits for a close already under way (its callbacks set the stream state).
CLOSING_WAIT_SECONDS = 5.0


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
    connected: bool = False
    failure: str | None = None  # why the connection failed, when we know more than "failed"


@dataclass(eq=False)
class EndedSession:
    slug: str
    kind: PeerKind
    reason: CloseReason
    done: asyncio.Event  # set once the close callbacks have run


class PeerRegistry:
    def __init__(self) -> None:
        self._peers: dict[str, Peer] = {}
        self._ended: OrderedDict[str, EndedSession] = OrderedDict()
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

        def note(reason: str) -> None:
            peer.failure = peer.failure or reason

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            state = pc.connectionState
            if state == "connecting" and not peer.connected:
                # ICE checks have started and the DTLS transports are final (BUNDLE applied).
                for transport in {t.receiver.transport for t in pc.getTransceivers() if t.receiver.transport}:
                    aiortc_hooks.note_dtls_failure(transport, note)
            elif state == "connected":
                peer.connected = True
            elif state in ("failed", "closed") and not peer.closed:
                reason: CloseReason = "dropped" if peer.connected else "failed"
                # A failed negotiation, or a publisher lost, is for operators; a viewer leaving is not.
                level = logging.INFO if kind == "whep" and peer.connected else logging.WARNING
                logger.log(
                    level,
                    "%s session %s of %s %s: %s",
                    kind.upper(),
                    peer.id,
                    slug,
                    "lost" if peer.connected else "failed to connect",
                    peer.failure or _failure_of(pc),
                )
                self._reap(peer, reason)

        self.spawn(peer, self._connect_deadline(peer))
        return peer

    async def _connect_deadline(self, peer: Peer) -> None:
        await asyncio.sleep(CONNECT_TIMEOUT_SECONDS)
        if not peer.connected and not peer.closed:
            logger.warning(
                "%s session %s of %s failed to connect: not connected after %.0f s (%s)",
                peer.kind.upper(),
                peer.id,
                peer.slug,
                CONNECT_TIMEOUT_SECONDS,
                peer.failure or f"ICE {peer.pc.iceConnectionState}",
            )
            self._reap(peer, "failed")

    def get(self, slug: str, session_id: str, kind: PeerKind) -> Peer:
        peer = self._peers.get(session_id)
        if peer is None or peer.slug != slug or peer.kind != kind or peer.closed:
            raise unknown_session(session_id)
        return peer

    async def ended(self, slug: str, session_id: str, kind: PeerKind) -> CloseReason | None:
        """How a session of this slug and kind ended, once its close has finished; None if unknown."""
        record = self._ended.get(session_id)
        if record is None or record.slug != slug or record.kind != kind:
            return None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(record.done.wait(), CLOSING_WAIT_SECONDS)
        return record.reason

    def spawn(self, peer: Peer, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        peer.tasks.add(task)

        def finished(task: asyncio.Task[Any]) -> None:
            peer.tasks.discard(task)
            # Retrieved here, or asyncio reports it as "never retrieved" when the task is collected.
            if not task.cancelled() and (error := task.exception()) is not None:
                logger.warning("task of %s session %s failed", peer.kind.upper(), peer.id, exc_info=error)

        task.add_done_callback(finished)

    def drop(self, peer: Peer) -> None:
        """The peer's media ended on its own (BYE, track ended): close it in the background."""
        self._reap(peer, "dropped")

    async def close(self, peer: Peer, reason: CloseReason) -> None:
        if peer.closed:
            return
        peer.closed = True
        self._peers.pop(peer.id, None)
        record = EndedSession(peer.slug, peer.kind, reason, asyncio.Event())
        self._ended[peer.id] = record
        while len(self._ended) > ENDED_SESSIONS_KEPT:
            self._ended.popitem(last=False)
        try:
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
        finally:
            record.done.set()

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


def _failure_of(pc: RTCPeerConnection) -> str:
    if pc.iceConnectionState == "failed":
        return "ICE failed (no candidate pair answered, or consent expired)"
    if any(t.receiver.transport and t.receiver.transport.state == "failed" for t in pc.getTransceivers()):
        return "DTLS handshake failed"
    return "the peer closed the connection" if pc.connectionState == "closed" else f"connection {pc.connectionState}"
