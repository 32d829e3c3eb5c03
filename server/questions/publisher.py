"""Domain events → frames on the bus, after the commit. The only place questions reach the bus."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moderation.events import DomainEvent, Outcome
from moderation.model import is_public
from server.db.models import Participant
from server.questions.mapping import mine_view, public_view, staff_view
from server.realtime.bus import Bus, dump
from server.realtime.hub import notices_channel, public_channel, staff_channel


class Publisher:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def outcome(self, event_id: int, outcome: Outcome, people: Mapping[int, Participant]) -> None:
        for ev in outcome.events:
            await self._one(event_id, ev, people)

    async def _one(self, event_id: int, ev: DomainEvent, people: Mapping[int, Participant]) -> None:
        if ev.type == "question.votes":
            return  # coalesced: see votes.VoteCoalescer
        q = ev.question
        if q is None:
            data = dict(ev.data)
            await self.bus.publish(staff_channel(event_id), ev.type, dump(data))
            if ev.type == "event.mode":
                await self.bus.publish(public_channel(event_id), ev.type, dump(data))
            if ev.notify:
                await self.notice(event_id, ev.notify, {"type": ev.type, **data})
            return
        asker = people.get(q.asker_id)
        extra: dict[str, Any] = {k: v for k, v in ev.data.items() if k != "voters"}
        await self.bus.publish(staff_channel(event_id), ev.type, dump({**staff_view(q, asker), **extra}))
        if is_public(q.status):
            await self.bus.publish(public_channel(event_id), ev.type, dump({**public_view(q, asker), **extra}))
        elif ev.previous_status is not None and is_public(ev.previous_status):
            # It left the public queue: viewers learn only that it is gone, never why or what it said.
            gone = {"id": q.id, "status": q.status.value, "merged_into": q.merged_into}
            await self.bus.publish(public_channel(event_id), ev.type, dump(gone))
        notify = set(ev.notify)
        if ev.type == "question.submitted":
            notify.add(q.asker_id)  # the asker's other tabs and devices
        if notify:
            await self.notice(event_id, frozenset(notify), {"type": ev.type, "question": mine_view(q), **extra})

    async def notice(self, event_id: int, to: frozenset[int], notice: Mapping[str, Any]) -> None:
        await self.bus.publish(notices_channel(event_id), "notice", dump({"to": sorted(to), "notice": notice}))

    async def votes(self, event_id: int, counts: Mapping[int, int]) -> None:
        data = dump({"counts": {str(k): v for k, v in counts.items()}})
        await self.bus.publish(staff_channel(event_id), "question.votes", data)
        await self.bus.publish(public_channel(event_id), "question.votes", data)

    async def note(self, event_id: int, note: Mapping[str, Any]) -> None:
        """A backstage note: staff channel only (numbered, so a reconnecting console replays it)."""
        await self.bus.publish(staff_channel(event_id), "note", dump(note))

    async def event_state(self, event_id: int, state: str) -> None:
        """The event's lifecycle moved (scheduled → live → ended → archived): every page's state badge follows."""
        data = dump({"state": state})
        await self.bus.publish(staff_channel(event_id), "event.state", data)
        await self.bus.publish(public_channel(event_id), "event.state", data)

    async def caption(self, event_id: int, caption: Mapping[str, Any]) -> None:
        """A live caption line (interim or final) or a staff correction of one: both channels, numbered."""
        data = dump(caption)
        await self.bus.publish(staff_channel(event_id), "caption", data)
        await self.bus.publish(public_channel(event_id), "caption", data)

    async def stage(self, event_id: int, staff: Mapping[str, Any], public: Mapping[str, Any]) -> None:
        await self.bus.publish(staff_channel(event_id), "stage", dump(staff))
        await self.bus.publish(public_channel(event_id), "stage", dump(public))

    async def stream_state(self, event_id: int, state: str, sources: list[str] | None = None) -> None:
        data = dump({"state": state, "sources": sources or []})
        await self.bus.publish(staff_channel(event_id), "stream.state", data)
        await self.bus.publish(public_channel(event_id), "stream.state", data)
