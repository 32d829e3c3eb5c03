"""Cheap mechanical checks on SDP before aiortc sees it, and trickle fragment parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import MediaError, bad_sdp

MAX_SDP_BYTES = 64 * 1024
MAX_MEDIA_SECTIONS = 4  # one audio + one video, with room for a data channel section
# Digest sizes (bytes) of the fingerprint hash functions aiortc can verify a peer certificate with;
# an offer must carry at least one of them, or the DTLS handshake could only ever fail.
FINGERPRINT_DIGEST_BYTES = {"sha-256": 32, "sha-384": 48, "sha-512": 64}
_FINGERPRINT = re.compile(r"^([A-Za-z0-9-]{1,16}) ((?:[0-9A-Fa-f]{2}:)*[0-9A-Fa-f]{2})$")


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
    _check_fingerprints([line[14:].strip() for line in lines if line.startswith("a=fingerprint:")])
    if not any(line.startswith("a=ice-ufrag:") for line in lines):
        raise bad_sdp("SDP has no ICE credentials")
    _check_bundle(lines)


def _check_fingerprints(values: list[str]) -> None:
    """RFC 8122 `a=fingerprint:<hash-function> <hex pairs>`, at least one that aiortc can check."""
    if not values:
        raise bad_sdp("SDP has no DTLS fingerprint")
    usable = False
    for value in values:
        match = _FINGERPRINT.match(value)
        if match is None:
            raise bad_sdp(f"malformed a=fingerprint {value[:40]!r}: expected a hash function and hex pairs")
        size = FINGERPRINT_DIGEST_BYTES.get(match[1].lower())
        digest_bytes = (len(match[2]) + 1) // 3
        if size is not None and digest_bytes != size:
            raise bad_sdp(f"a=fingerprint {match[1]} has {digest_bytes} bytes, not {size}")
        usable = usable or size is not None
    if not usable:
        raise bad_sdp(f"no a=fingerprint with a supported hash function ({', '.join(FINGERPRINT_DIGEST_BYTES)})")


def _check_bundle(lines: list[str]) -> None:
    """Every media section names its mid once, and a BUNDLE group names only those mids.

    aiortc gives the sections bundled onto an unknown mid no transport at all: the offer
    could never connect, and its connect task dies with an exception nobody retrieves.
    """
    sections: list[list[str]] = []
    for line in lines:
        if line.startswith("m="):
            sections.append([])
        elif sections and line.startswith("a=mid:"):
            sections[-1].append(line[6:].strip())
    mids = [mid for section in sections for mid in section]
    if any(len(section) != 1 for section in sections) or "" in mids or len(set(mids)) != len(mids):
        raise bad_sdp("every media section needs one a=mid, unique in the offer")
    for line in lines:
        if line.startswith("a=group:BUNDLE"):
            unknown = [mid for mid in line[14:].split() if mid not in mids]
            if unknown:
                raise bad_sdp(f"a=group:BUNDLE names mid {unknown[0][:20]!r}, which no media section has")


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
