"""Cheap mechanical checks on SDP before aiortc sees it, and trickle fragment parsing."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MediaError, bad_sdp

MAX_SDP_BYTES = 64 * 1024
MAX_MEDIA_SECTIONS = 4  # one audio + one video, with room for a data channel section


def check_offer(text: str, purpose: str) -> None:
    """Refuse SDP that is not a plausible WebRTC offer (400), before any WebRTC work."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "v=0":
        raise bad_sdp("SDP must start with v=0")
    kinds = [line[2:].split(" ", 1)[0] for line in lines if line.startswith("m=")]
    if not kinds:
        raise bad_sdp("SDP has no media section")
    if len(kinds) > MAX_MEDIA_SECTIONS or kinds.count("audio") > 1 or kinds.count("video") > 1:
        raise bad_sdp(f"{purpose} takes at most one audio and one video section")
    if not any(k in ("audio", "video") for k in kinds):
        raise bad_sdp("SDP has neither audio nor video")
    if not any(line.startswith("a=fingerprint:") for line in lines):
        raise bad_sdp("SDP has no DTLS fingerprint")
    if not any(line.startswith("a=ice-ufrag:") for line in lines):
        raise bad_sdp("SDP has no ICE credentials")


def media_kinds(text: str) -> list[str]:
    """Kinds of the offer's audio/video sections, in order."""
    kinds = [line[2:].split(" ", 1)[0] for line in text.splitlines() if line.startswith("m=")]
    return [k for k in kinds if k in ("audio", "video")]


@dataclass(frozen=True)
class TrickleCandidate:
    mid: str | None
    mline_index: int | None
    candidate: str  # the part after "candidate:"


@dataclass(frozen=True)
class SdpFragment:
    ufrag: str | None
    candidates: list[TrickleCandidate]
    end_of_candidates: bool


def parse_sdpfrag(text: str) -> SdpFragment:
    """RFC 8840 fragment as sent in a WHIP/WHEP PATCH."""
    ufrag = None
    mid: str | None = None
    mline = -1
    candidates: list[TrickleCandidate] = []
    end = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("m="):
            mline += 1
            mid = None
        elif line.startswith("a=mid:"):
            mid = line[6:]
        elif line.startswith("a=ice-ufrag:"):
            ufrag = line[12:]
        elif line.startswith("a=candidate:"):
            value = line[12:]
            if len(value.split()) < 8:
                raise bad_sdp("malformed ICE candidate")
            candidates.append(TrickleCandidate(mid, mline if mline >= 0 else 0, value))
        elif line.startswith("a=end-of-candidates"):
            end = True
        elif not (line[:2] in ("a=", "m=", "c=") and len(line) > 2):
            raise MediaError(400, "bad_sdpfrag", f"unexpected line in SDP fragment: {line[:40]!r}")
    return SdpFragment(ufrag, candidates, end)


def ice_ufrag(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line[12:].strip()
    return None
