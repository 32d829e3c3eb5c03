// WHIP (publish) and WHEP (watch) from the browser. The page's cookie authorises the requests; ICE
// candidates are gathered before the offer is sent (no trickle), which suits a server on a public address.

// Gathering normally completes in well under a second; a host with odd interfaces may never say so.
const GATHER_TIMEOUT_MS = 3000;

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, GATHER_TIMEOUT_MS);
  });
}

async function exchange(url, pc) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/sdp" },
    body: pc.localDescription.sdp,
  });
  const body = await response.text();
  if (response.status !== 201) {
    let message = body;
    let code = null;
    try {
      ({ message, code } = JSON.parse(body).error);
    } catch {
      // plain text body
    }
    const error = new Error(message || `HTTP ${response.status}`);
    error.status = response.status;
    error.code = code;
    throw error;
  }
  await pc.setRemoteDescription({ type: "answer", sdp: body });
  return new URL(response.headers.get("Location"), location.href).toString();
}

function preferH264(transceiver) {
  // The server forwards H.264 without re-encoding (cheap); VP8 costs it a decode and an encode.
  if (!RTCRtpSender.getCapabilities || !transceiver.setCodecPreferences) return;
  const codecs = RTCRtpSender.getCapabilities("video").codecs;
  const rank = (c) => (c.mimeType === "video/H264" ? 0 : c.mimeType === "video/VP8" ? 1 : 2);
  transceiver.setCodecPreferences([...codecs].sort((a, b) => rank(a) - rank(b)));
}

// A publisher drawn small sends at most a quarter of its width and height (a 1280×720 camera in a
// 320×180 tile: 320×180).
const MAX_DOWNSCALE = 4;

export class WhipSession {
  constructor(slug, source = "camera") {
    this.url = `/whip/${encodeURIComponent(slug)}${source === "camera" ? "" : `?source=${source}`}`;
    this.pc = null;
    this.location = null;
    this.senders = {};
  }

  async start(stream, onState) {
    const pc = new RTCPeerConnection();
    this.pc = pc;
    for (const track of stream.getTracks()) {
      const transceiver = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      this.senders[track.kind] = transceiver.sender;
      if (track.kind === "video") preferH264(transceiver);
    }
    pc.addEventListener("connectionstatechange", () => onState && onState(pc.connectionState));
    const location = await exchange(this.url, pc);
    if (this.pc !== pc) {
      // Stopped while the offer was on its way: end the session the server has just made, not in 30 s.
      await fetch(location, { method: "DELETE", credentials: "same-origin" }).catch(() => {});
      return this;
    }
    this.location = location;
    return this;
  }

  /** The stage member id the server gave this session (the last part of its Location). */
  get id() {
    return this.location ? this.location.split("/").pop() : null;
  }

  async replace(track) {
    const sender = this.senders[track.kind];
    if (sender) await sender.replaceTrack(track);
  }

  /**
   * Send a smaller picture while the programme draws it small: `tile` is the stage frame's [width, height]
   * of the member's box (null: drawn at its own size). The picture is halved while half of it still
   * covers what is drawn (at most a quarter), so nothing visible is lost; the server then decodes fewer
   * pixels and the uplink carries fewer bits. Back to full size as soon as it is drawn large again.
   */
  async fit(tile) {
    const sender = this.senders.video;
    const track = sender && sender.track;
    if (!track || !this.pc) return;
    const { width = 0, height = 0 } = track.getSettings();
    let scale = 1;
    if (tile && width && height) {
      const needed = Math.max(width / tile[0], height / tile[1]); // the source's size over the drawn size
      while (scale < MAX_DOWNSCALE && scale * 2 <= needed) scale *= 2;
    }
    const params = sender.getParameters();
    if (!params.encodings || !params.encodings.length) return; // not negotiated yet: the next frame says again
    if ((params.encodings[0].scaleResolutionDownBy || 1) === scale) return;
    params.encodings[0].scaleResolutionDownBy = scale;
    await sender.setParameters(params).catch(() => {});
  }

  /** `release`: DELETE the session on the server; false once the server closed it itself (the event
   * ended), where a DELETE could only answer 404. */
  async stop({ release = true } = {}) {
    const location = this.location;
    const pc = this.pc;
    this.location = null;
    this.pc = null;
    // DELETE first: closing the connection first lets the server drop the session on its own, and the
    // DELETE that follows finds nothing (404).
    if (location && release) await fetch(location, { method: "DELETE", credentials: "same-origin" }).catch(() => {});
    if (pc) pc.close();
  }
}

export class WhepSession {
  /** `member`: one stage member as they publish (experts among themselves, a moderator's backstage
   * preview of a viewer invited on air); none: the programme. */
  constructor(slug, member = null) {
    this.url = `/whep/${encodeURIComponent(slug)}${member ? `?member=${encodeURIComponent(member)}` : ""}`;
    this.pc = null;
    this.location = null;
  }

  /** `audio`: an element of its own for the sound (a stage member's monitor: a voice-only member's
   * <video> would never start, waiting for pictures that do not come). */
  async start(video, onState, { audio = null } = {}) {
    const pc = new RTCPeerConnection();
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addTransceiver("audio", { direction: "recvonly" });
    const stream = new MediaStream();
    const sound = new MediaStream();
    pc.addEventListener("track", (event) => {
      const [element, target] = audio && event.track.kind === "audio" ? [audio, sound] : [video, stream];
      target.addTrack(event.track);
      element.srcObject = target;
      element.play().catch(() => {});
    });
    pc.addEventListener("connectionstatechange", () => onState && onState(pc.connectionState));
    const location = await exchange(this.url, pc);
    if (this.pc !== pc) {
      // Stopped while the offer was on its way: end the session the server has just made, not in 30 s.
      await fetch(location, { method: "DELETE", credentials: "same-origin" }).catch(() => {});
      return this;
    }
    this.location = location;
    return this;
  }

  /** What has arrived so far: RTP packets of each kind, audio samples played out, video frames decoded
   * (counters that only grow; a watchdog compares two readings). Null once stopped. */
  async received() {
    const pc = this.pc;
    if (!pc) return null;
    const out = { audioPackets: 0, audioSamples: 0, videoPackets: 0, videoFrames: 0 };
    for (const report of (await pc.getStats()).values()) {
      if (report.type !== "inbound-rtp") continue;
      if (report.kind === "audio") {
        out.audioPackets += report.packetsReceived || 0;
        out.audioSamples += report.totalSamplesReceived || 0;
      } else if (report.kind === "video") {
        out.videoPackets += report.packetsReceived || 0;
        out.videoFrames += report.framesDecoded || 0;
      }
    }
    return out;
  }

  /** `release`: DELETE the session on the server; false once the server closed it itself (the event
   * ended), where a DELETE could only answer 404. */
  async stop({ release = true } = {}) {
    const location = this.location;
    const pc = this.pc;
    this.location = null;
    this.pc = null;
    // DELETE first: closing the connection first lets the server drop the session on its own, and the
    // DELETE that follows finds nothing (404).
    if (location && release) await fetch(location, { method: "DELETE", credentials: "same-origin" }).catch(() => {});
    if (pc) pc.close();
  }
}
