"""Pure helpers: keyframe detection and access-unit tidying."""

from __future__ import annotations

from server.media.bitstream import h264_is_keyframe, h264_tidy_access_unit, vp8_is_keyframe

SC = b"\x00\x00\x00\x01"
SPS, PPS, SEI = SC + b"\x67\x42\x00\x1f", SC + b"\x68\xce\x3c\x80", SC + b"\x06\x05\x01"
IDR_A, IDR_B, P = SC + b"\x65\x88\x80", SC + b"\x65\x00\x40", SC + b"\x41\x9a\x02"


def test_h264_keyframes_are_found_after_parameter_sets() -> None:
    assert h264_is_keyframe(SPS + PPS + SEI + IDR_A)
    assert not h264_is_keyframe(P)
    assert not h264_is_keyframe(b"")


def test_repeated_parameter_sets_inside_one_picture_are_dropped() -> None:
    # GStreamer rtph264pay config-interval=-1 with a two-slice IDR.
    assert h264_tidy_access_unit(SPS + PPS + IDR_A + SPS + PPS + IDR_B) == SPS + PPS + IDR_A + IDR_B
    assert h264_tidy_access_unit(SPS + PPS + IDR_A) == SPS + PPS + IDR_A


def test_vp8_keyframe_bit() -> None:
    assert vp8_is_keyframe(b"\x10\x02\x00")
    assert not vp8_is_keyframe(b"\x11\x02\x00")
