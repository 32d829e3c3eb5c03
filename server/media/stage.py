"""The stage of one event: its members (each a WHIP session), who is on air or muted, the layout, and the
grants that let a viewer publish at all. Pure state and rules (no aiortc, no I/O): MediaService applies
what `plan()` says to the programme.

A member is an expert's camera + microphone, a screen share, or a viewer brought on air (a guest). At most
`MAX_ON_AIR` members are on air; the programme forwards one camera (and one screen) without decoding, and
composes when two or more voices or cameras are on air.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from .errors import MediaError
from .layout import Layout, rectangles

MemberKind = Literal["expert", "screen", "guest"]
MAX_ON_AIR = 4
# An expert (or a screen share) whose session ended while on air and who publishes again this soon goes
# straight back on air: a dropped connection the studio re-publishes must not leave them waiting backstage
# for the host. Staff taking someone off air, or cutting them, forgets it.
RETURN_SECONDS = 30.0


@dataclass(frozen=True)
class Identity:
    """Who is publishing, as the app's `authorize` establishes it. `key` is unique among an event's
    members (one camera per person, one screen per person); a repeated key is refused with 409."""

    key: str
    kind: MemberKind
    name: str = ""
    organisation: str = ""
    participant_id: int | None = None
    question_id: int | None = None
    video_allowed: bool = True  # a guest's camera only when the moderator allowed it


@dataclass
class Member:
    id: str  # the WHIP session id
    identity: Identity
    has_video: bool = True
    has_audio: bool = True
    on_air: bool = False
    muted: bool = False
    silent: bool = False  # no media for a while (service.py's watchdog): out of the layout until it sends
    joined_at: float = field(default_factory=time.time)
    on_air_since: float | None = None

    @property
    def kind(self) -> MemberKind:
        return self.identity.kind

    def public(self) -> dict[str, object]:
        who = self.identity
        return {
            "id": self.id,
            "kind": who.kind,
            "name": who.name,
            "organisation": who.organisation,
            "participant_id": who.participant_id,
            "question_id": who.question_id,
            "on_air": self.on_air,
            "muted": self.muted,
            "silent": self.silent,
            "video": self.has_video,
            "audio": self.has_audio,
            "on_air_since": self.on_air_since,
        }


@dataclass(frozen=True)
class Grant:
    """A moderator let this viewer publish (backstage first; on air only by a second action)."""

    participant_id: int
    question_id: int | None
    name: str
    organisation: str
    camera: bool
    at: float


@dataclass(frozen=True)
class Hand:
    """A viewer asks to put their question by voice."""

    question_id: int
    participant_id: int
    name: str
    organisation: str
    text: str
    at: float


@dataclass(frozen=True)
class Plan:
    """What the programme is made of. `forward`: the one camera-like member forwarded as is (its packets
    straight to the HLS writer), and the screen share to its own playlist, as before the stage.
    `compose`: every on-air member decoded once, laid out and mixed, encoded once."""

    mode: Literal["idle", "forward", "compose"]
    camera: str | None = None  # forward: the member whose packets are the programme
    screen: str | None = None  # forward: the screen share published beside it
    members: tuple[str, ...] = ()  # compose: on-air members in layout order


class Stage:
    def __init__(self) -> None:
        self.members: dict[str, Member] = {}
        self.layout = Layout.SPEAKER
        self.speaker: str | None = None  # member the host put large in the speaker layout
        self.grants: dict[int, Grant] = {}  # participant id → grant
        self.hands: dict[int, Hand] = {}  # question id → raised hand
        # identity key → (when it left while on air, since when it was on air: its place in the layout)
        self.returning: dict[str, tuple[float, float | None]] = {}

    # -- members ---------------------------------------------------------------------------

    def check_can_join(self, identity: Identity) -> None:
        """Before any WebRTC work: the same person's same source twice is a 409, a guest needs a grant."""
        if any(m.identity.key == identity.key for m in self.members.values()):
            raise MediaError(409, "already_publishing", "another publisher holds this source")
        if identity.kind == "guest" and identity.participant_id not in self.grants:
            raise MediaError(403, "not_invited", "a moderator must invite you on air before you can publish")

    def check_offer(self, identity: Identity, has_video: bool) -> None:
        if has_video and not identity.video_allowed:
            raise MediaError(403, "camera_not_allowed", "you were invited with your microphone only: send no video")

    def join(self, session_id: str, identity: Identity, has_video: bool, has_audio: bool) -> Member:
        """Add a member. Nobody on air yet → an expert goes on air (the single-expert event needs no host
        action); a screen share goes on air when no other screen is; a guest waits backstage."""
        self.check_can_join(identity)
        member = Member(session_id, identity, has_video=has_video, has_audio=has_audio)
        self.members[session_id] = member
        on_air = self.on_air()
        screens = sum(1 for m in on_air if m.kind == "screen")
        first_of_its_kind = (identity.kind == "expert" and screens == len(on_air)) or (
            identity.kind == "screen" and screens == 0
        )
        left_at, since = self.returning.pop(identity.key, (None, None))
        back = left_at is not None and time.time() - left_at <= RETURN_SECONDS
        if (first_of_its_kind or back) and len(on_air) < MAX_ON_AIR:
            self._put_on_air(member)
            if back and since is not None:
                member.on_air_since = since  # back in its place in the layout: nobody else moves
        return member

    def host(self) -> Member | None:
        """The host among the experts: the one on the stage longest (the event's first expert). None while
        no expert publishes."""
        experts = [m for m in self.members.values() if m.kind == "expert"]
        return min(experts, key=lambda m: m.joined_at) if experts else None

    def leave(self, session_id: str) -> Member | None:
        member = self.members.pop(session_id, None)
        if member is None:
            return None
        if self.speaker == session_id:
            self.speaker = None
        if member.on_air and member.kind != "guest":
            self.returning[member.identity.key] = (time.time(), member.on_air_since)
        # A guest's grant outlives the session: a viewer whose connection drops or who reloads the page may
        # publish again as long as the invitation stands. Cut, leaving, the time running out and a withdrawn
        # invitation end it (`revoke`).
        return member

    def member(self, member_id: str) -> Member:
        member = self.members.get(member_id)
        if member is None:
            raise MediaError(404, "unknown_member", "no such member on this stage")
        return member

    def set_on_air(self, member_id: str, on_air: bool) -> Member:
        member = self.member(member_id)
        if on_air and not member.on_air:
            if len(self.on_air()) >= MAX_ON_AIR:
                raise MediaError(
                    409, "stage_full", f"at most {MAX_ON_AIR} are on air at once: take someone off air first"
                )
            self._put_on_air(member)
        elif not on_air and member.on_air:
            self.returning.pop(member.identity.key, None)
            member.on_air = False
            member.on_air_since = None
            if self.speaker == member_id:
                self.speaker = None
        return member

    def set_muted(self, member_id: str, muted: bool) -> Member:
        member = self.member(member_id)
        member.muted = muted
        return member

    def set_layout(self, layout: Layout, speaker: str | None = None) -> None:
        if speaker is not None:
            self.member(speaker)
        self.layout = layout
        if speaker is not None:
            self.speaker = speaker

    def on_air(self) -> list[Member]:
        """On-air members in the order they went on air."""
        return sorted((m for m in self.members.values() if m.on_air), key=lambda m: m.on_air_since or 0.0)

    def _put_on_air(self, member: Member) -> None:
        member.on_air = True
        member.on_air_since = time.time()

    # -- the programme ---------------------------------------------------------------------

    def plan(self) -> Plan:
        on_air = self.on_air()
        # A silent member leaves the layout while others send; when nobody on air sends, the plan stays
        # as it was, so the first to send again carries on where it was (no switch, no discontinuity).
        on_air = [m for m in on_air if not m.silent] or on_air
        voices = [m for m in on_air if m.kind != "screen"]
        screens = [m for m in on_air if m.kind == "screen"]
        if not on_air:
            return Plan("idle")
        if len(voices) <= 1 and len(screens) <= 1:
            # As before the stage: the one camera forwarded as is, a screen share beside it. A muted
            # single voice stays forwarded (its audio is left out), which costs nothing.
            camera = voices[0].id if voices else None
            return Plan("forward", camera=camera, screen=screens[0].id if screens else None)
        return Plan("compose", members=tuple(m.id for m in self._layout_order(on_air)))

    def tiles(self) -> dict[str, list[int]]:
        """Member id → [width, height] of the box it is drawn in while the programme is composed; a member
        forwarded, backstage or left out is drawn at its own size (absent). A publisher shown small may send
        a smaller picture: the server decodes fewer pixels, the publisher's uplink carries fewer bits."""
        plan = self.plan()
        if plan.mode != "compose":
            return {}
        boxes = rectangles(self.layout, len(plan.members))
        return {member: [box.w, box.h] for member, box in zip(plan.members, boxes, strict=True)}

    def _layout_order(self, on_air: list[Member]) -> list[Member]:
        """First is the large one in the speaker and slides layouts."""
        screens = [m for m in on_air if m.kind == "screen"]
        if self.layout is Layout.SLIDES:
            return screens + [m for m in on_air if m.kind != "screen"]
        if self.layout is Layout.SPEAKER:
            ids = {m.id for m in on_air}
            large = self.speaker if self.speaker in ids else _answering(on_air)
            if large is None and screens:
                large = screens[0].id
            if large is not None:
                return sorted(on_air, key=lambda m: m.id != large)
        return on_air

    # -- viewers on air ----------------------------------------------------------------------

    def raise_hand(self, hand: Hand) -> None:
        if hand.participant_id in self.grants:
            raise MediaError(409, "already_invited", "you are already invited on air")
        self.hands[hand.question_id] = hand

    def lower_hand(self, question_id: int) -> Hand | None:
        return self.hands.pop(question_id, None)

    def grant(self, grant: Grant) -> None:
        """Let a viewer publish (they join backstage). Their raised hand is answered."""
        if grant.question_id is not None:
            self.hands.pop(grant.question_id, None)
        self.grants[grant.participant_id] = grant

    def revoke(self, participant_id: int) -> list[Member]:
        """Withdraw a viewer's grant; the guest members to cut (the caller closes their sessions)."""
        self.grants.pop(participant_id, None)
        return [m for m in self.members.values() if m.kind == "guest" and m.identity.participant_id == participant_id]

    def snapshot(self, staff: bool) -> dict[str, object]:
        """The stage as the `stage` WebSocket frame and GET …/stage show it. Viewers see who is on air;
        staff also see who waits backstage, raised hands with their question, and grants."""
        members = [m for m in self.members.values() if staff or m.on_air]
        tiles = self.tiles()
        data: dict[str, object] = {
            "layout": self.layout.value,
            "speaker": self.speaker,
            "max_on_air": MAX_ON_AIR,
            "members": [{**m.public(), "tile": tiles.get(m.id)} for m in sorted(members, key=lambda m: m.joined_at)],
        }
        if staff:
            data["hands"] = [hand.__dict__ for hand in sorted(self.hands.values(), key=lambda h: h.at)]
            data["grants"] = [grant.__dict__ for grant in self.grants.values()]
        return data


def _answering(on_air: list[Member]) -> str | None:
    """A guest on air is answering: they are the one large in the speaker layout."""
    guests = [m for m in on_air if m.kind == "guest"]
    return guests[0].id if guests else None
