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
