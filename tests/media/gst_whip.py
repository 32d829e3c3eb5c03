"""WHIP publisher built on GStreamer 1.22 webrtcbin (Debian packages).

Run with Debian's /usr/bin/python3 (python3-gi), not the project virtualenv:
    python3 gst_whip.py URL TOKEN SECONDS
Exits 0 after publishing for SECONDS and ending the session with DELETE.
"""

import sys
import threading
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

PIPELINE = (
    "webrtcbin name=send bundle-policy=max-bundle "
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 "
    "! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bframes=0 "
    "! video/x-h264,profile=constrained-baseline ! rtph264pay config-interval=-1 aggregate-mode=zero-latency "
    "! application/x-rtp,media=video,encoding-name=H264,payload=102 ! send. "
    "audiotestsrc is-live=true wave=sine freq=440 ! audioconvert ! audioresample ! opusenc "
    "! rtpopuspay ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! send. "
)


def main(url: str, token: str, seconds: float) -> int:
    Gst.init(None)
    pipeline = Gst.parse_launch(PIPELINE)
    webrtc = pipeline.get_by_name("send")
    loop = GLib.MainLoop()
    result = {"rc": 1, "location": None}

    def post_offer(offer_sdp: str) -> None:
        request = urllib.request.Request(
            url,
            data=offer_sdp.encode(),
            method="POST",
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=15) as response:
            answer = response.read().decode()
            result["location"] = response.headers["Location"]
        _, sdp = GstSdp.SDPMessage.new_from_text(answer)
        description = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        webrtc.emit("set-remote-description", description, Gst.Promise.new())

    def on_gathering(element, _pspec) -> None:
        if element.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            offer = element.get_property("local-description").sdp.as_text()
            threading.Thread(target=lambda: GLib.idle_add(lambda: post_offer(offer) and False)).start()

    def on_offer(promise: Gst.Promise) -> None:
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        if offer is None:
            print("webrtcbin: no offer:", reply.to_string(), file=sys.stderr)
            loop.quit()
            return
        webrtc.emit("set-local-description", offer, Gst.Promise.new())

    def on_negotiation_needed(element) -> None:
        element.emit("create-offer", None, Gst.Promise.new_with_change_func(on_offer))

    def on_state(element, _pspec) -> None:
        state = element.get_property("connection-state")
        if state == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            print("webrtcbin: connection failed", file=sys.stderr)
            loop.quit()

    def stop() -> bool:
        if result["location"]:
            base = url.split("/whip/")[0]
            request = urllib.request.Request(
                base + result["location"], method="DELETE", headers={"Authorization": f"Bearer {token}"}
            )
            with urllib.request.urlopen(request, timeout=15) as response:
                result["rc"] = 0 if response.status == 200 else 2
        loop.quit()
        return False

    def give_up() -> bool:
        print("webrtcbin: timed out", file=sys.stderr)
        loop.quit()
        return False

    webrtc.connect("on-negotiation-needed", on_negotiation_needed)
    webrtc.connect("notify::ice-gathering-state", on_gathering)
    webrtc.connect("notify::connection-state", on_state)
    pipeline.set_state(Gst.State.PLAYING)
    for i in range(2):
        transceiver = webrtc.emit("get-transceiver", i)
        if transceiver is not None:
            transceiver.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)

    connected = {"seen": False}

    def watch_connected(element, _pspec) -> None:
        state = element.get_property("connection-state")
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED and not connected["seen"]:
            connected["seen"] = True
            GLib.timeout_add(int(seconds * 1000), stop)

    webrtc.connect("notify::connection-state", watch_connected)
    GLib.timeout_add(int((seconds + 20) * 1000), give_up)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    return result["rc"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
