"""FFmpeg's WHIP muxer, as shipped inside PyAV's wheel (FFmpeg 8), publishing known content."""

from __future__ import annotations

import fractions
import math
import time
from array import array

import av

FPS = 30
AUDIO_RATE = 48_000
OPUS_FRAME = 960


def publish(
    url: str,
    token: str,
    seconds: float,
    width: int = 320,
    height: int = 240,
    extra_options: dict[str, str] | None = None,
) -> None:
    """Encode a pattern + tone with libx264/libopus and send it through the whip muxer, paced
    in real time. Blocks: run it in its own process (see `__main__`)."""
    options = {"authorization": token, "handshake_timeout": "10000", **(extra_options or {})}
    out = av.open(url, "w", format="whip", options=options)
    try:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        # WebRTC carries no B-frames; a 1 s GOP since FFmpeg ignores keyframe requests.
        video.codec_context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "g": str(FPS),
            "bf": "0",
        }
        audio = out.add_stream("libopus", rate=AUDIO_RATE)
        audio.layout = "stereo"
        tone = array("h")
        for k in range(OPUS_FRAME):
            v = int(6000 * math.sin(2 * math.pi * 440 * k / AUDIO_RATE))
            tone.extend((v, v))
        start = time.monotonic()
        samples = 0
        for n in range(int(seconds * FPS)):
            frame = av.VideoFrame(width, height, "yuv420p")
            for i, plane in enumerate(frame.planes):
                plane.update(bytes([(n * 7) % 200 + 16 if i == 0 else 128]) * plane.buffer_size)
            frame.pts = n
            frame.time_base = fractions.Fraction(1, FPS)
            for packet in video.encode(frame):
                out.mux(packet)
            while samples < (n + 1) * AUDIO_RATE / FPS:
                af = av.AudioFrame(format="s16", layout="stereo", samples=OPUS_FRAME)
                af.planes[0].update(tone.tobytes())
                af.sample_rate = AUDIO_RATE
                af.pts = samples
                af.time_base = fractions.Fraction(1, AUDIO_RATE)
                for packet in audio.encode(af):
                    out.mux(packet)
                samples += OPUS_FRAME
            time.sleep(max(0.0, start + (n + 1) / FPS - time.monotonic()))
    finally:
        out.close()


def write_p256_identity(directory: str) -> tuple[str, str]:
    """A self-signed P-256 certificate and key (PEM) for the muxer's cert_file/key_file."""
    import datetime
    import pathlib

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "ffmpeg-whip-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path = pathlib.Path(directory) / "whip-cert.pem"
    key_path = pathlib.Path(directory) / "whip-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


if __name__ == "__main__":
    # Run as its own process: PyAV keeps the GIL inside the muxer's blocking HTTP/DTLS
    # calls, which would freeze an asyncio server living in the same process.
    import os
    import sys

    if os.environ.get("WHIP_DEBUG"):
        import logging

        logging.basicConfig(level=logging.DEBUG)
        av.logging.set_level(av.logging.DEBUG)
    extra = dict(arg.split("=", 1) for arg in sys.argv[4:])
    publish(sys.argv[1], sys.argv[2], float(sys.argv[3]), extra_options=extra)
