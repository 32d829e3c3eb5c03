"""Just enough bitstream parsing to know where a decodable picture starts."""

from __future__ import annotations

H264_NAL_IDR = 5
H264_NAL_SPS = 7
# An IDR slice starts within the first few NAL units of an access unit (AUD, SPS, PPS, SEI);
# looking further would cost time on big frames for nothing.
H264_MAX_NALS_SCANNED = 8


def h264_is_keyframe(annexb: bytes) -> bool:
    """True when the access unit contains an IDR slice (aiortc depayloads to Annex B)."""
    pos = 0
    for _ in range(H264_MAX_NALS_SCANNED):
        start = annexb.find(b"\x00\x00\x01", pos)
        if start < 0 or start + 3 >= len(annexb):
            return False
        nal_type = annexb[start + 3] & 0x1F
        if nal_type == H264_NAL_IDR:
            return True
        if 1 <= nal_type <= 4:
            return False  # a non-IDR slice came first
        pos = start + 3
    return False


def vp8_is_keyframe(frame: bytes) -> bool:
    """RFC 6386 §9.1: bit 0 of the frame tag is 0 for key frames."""
    return len(frame) > 0 and frame[0] & 0x01 == 0


H264_NAL_PPS = 8
H264_NAL_AUD = 9
_H264_SLICE_TYPES = frozenset(range(1, 6))


def _nal_starts(annexb: bytes) -> list[tuple[int, int]]:
    """(start of start code, start of NAL header) for each NAL unit."""
    starts = []
    pos = annexb.find(b"\x00\x00\x01")
    while pos >= 0:
        begin = pos - 1 if pos > 0 and annexb[pos - 1] == 0 else pos
        starts.append((begin, pos + 3))
        pos = annexb.find(b"\x00\x00\x01", pos + 3)
    return starts


def h264_tidy_access_unit(annexb: bytes) -> bytes:
    """Drop SPS/PPS/AUD that come after the first slice of an access unit.

    Some senders (GStreamer's rtph264pay with config-interval=-1 over a multi-slice x264
    stream) repeat parameter sets before every IDR slice; decoders then see a new access
    unit start mid-picture and emit the same picture twice with one timestamp.
    """
    starts = _nal_starts(annexb)
    if len(starts) < 3:
        return annexb
    keep: list[bytes] = []
    seen_slice = False
    for i, (begin, header) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(annexb)
        if header >= len(annexb):
            continue
        nal_type = annexb[header] & 0x1F
        if seen_slice and nal_type in (H264_NAL_SPS, H264_NAL_PPS, H264_NAL_AUD):
            continue
        seen_slice = seen_slice or nal_type in _H264_SLICE_TYPES
        keep.append(annexb[begin:end])
    return b"".join(keep)
