"""Poll frames on the bus, after the commit: the only place polls reach the bus.

`poll.saved` / `poll.deleted` (drafts: staff only), `poll.opened`, `poll.closed` (staff and public),
`poll.results` (staff; the public channel too when the poll's results are for everyone). A participant's
own answer reaches their other tabs as a `notice` of type `poll.answered`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polls.model import Audience, Poll, PollState
from server.polls.mapping import public_view, staff_view
from server.questions.publisher import Publisher
from server.realtime.bus import Bus, dump
from server.realtime.hub import public_channel, staff_channel

POLL_FRAME_TYPES = frozenset(
    {"poll.saved", "poll.deleted", "poll.opened", "poll.closed", "poll.results", "poll.answered"}
)


class PollPublisher:
    def __init__(self, bus: Bus, questions: Publisher) -> None:
        self.bus = bus
        self._questions = questions  # its notice() reaches one participant's tabs

    async def saved(self, event_id: int, poll: Poll, frame: str = "poll.saved") -> None:
        await self.bus.publish(staff_channel(event_id), frame, dump(staff_view(poll)))
        if poll.state != PollState.DRAFT:
            await self.bus.publish(public_channel(event_id), frame, dump(public_view(poll)))

    async def deleted(self, event_id: int, poll_id: int) -> None:
        await self.bus.publish(staff_channel(event_id), "poll.deleted", dump({"id": poll_id}))

    async def state(self, event_id: int, poll: Poll, results: Mapping[str, Any] | None) -> None:
        """`poll.opened` or `poll.closed`; a closed poll carries its final results where they may be seen."""
        frame = "poll.opened" if poll.state == PollState.OPEN else "poll.closed"
        final = {"results": results} if results is not None else {}
        await self.bus.publish(staff_channel(event_id), frame, dump({**staff_view(poll), **final}))
        public = final if poll.results_to == Audience.EVERYONE else {}
        await self.bus.publish(public_channel(event_id), frame, dump({**public_view(poll), **public}))

    async def results(self, event_id: int, poll: Poll, results: Mapping[str, Any]) -> None:
        data = dump(results)
        await self.bus.publish(staff_channel(event_id), "poll.results", data)
        if poll.results_to == Audience.EVERYONE:
            await self.bus.publish(public_channel(event_id), "poll.results", data)

    async def answered(self, event_id: int, participant_id: int, mine: Mapping[str, Any]) -> None:
        await self._questions.notice(event_id, frozenset({participant_id}), {"type": "poll.answered", **mine})
