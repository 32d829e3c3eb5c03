// The event WebSocket: hello with our last id, snapshot or replay, then live frames; resumes after a drop.
// The server numbers frames per channel; `lastId` is our acknowledgement, so a resumed socket replays
// exactly what we missed (README "Real-time").

import { attendanceQuery } from "./attendance.js";

// Backoff between reconnect attempts: quick first retry (a blip), capped so a long outage costs little.
const RETRY_FIRST_MS = 400;
const RETRY_MAX_MS = 8000;
// The server sends a heartbeat every 15 s: silence for this long means the connection is dead.
const SILENCE_MS = 40000;

export class LiveSocket {
  constructor(slug, { onSnapshot, onFrame, onStatus, staff = false }) {
    // Staff ask for the staff view; viewers say who they are for attendance (one span per browser, not per tab).
    const query = staff ? "as=staff" : attendanceQuery("live");
    const path = `/api/v1/events/${encodeURIComponent(slug)}/ws?${query}`;
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
    this.onSnapshot = onSnapshot;
    this.onFrame = onFrame;
    this.onStatus = onStatus || (() => {});
    this.lastId = null;
    this.ws = null;
    this.attempt = 0;
    this.status = "connecting";
    this.lastHeard = Date.now();
    this.timer = null;
    setInterval(() => {
      if (this.ws && this.ws.readyState === WebSocket.OPEN && Date.now() - this.lastHeard > SILENCE_MS) this.ws.close();
    }, 5000);
    window.addEventListener("online", () => this.reconnectNow());
  }

  start() {
    this.connect();
    return this;
  }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    document.body.dataset.connection = status;
    this.onStatus(status);
  }

  connect() {
    clearTimeout(this.timer);
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.lastHeard = Date.now();
      ws.send(JSON.stringify({ type: "hello", last_id: this.lastId }));
      this.setStatus("connected");
    });
    ws.addEventListener("message", (message) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      this.handle(frame);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      // 4009: our last id fell out of what the server keeps; start again from a snapshot.
      if (event.code === 4009) this.lastId = null;
      this.setStatus("reconnecting");
      const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt += 1;
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  /** Drop the socket and come back at once (e.g. after joining: the cookie now says who we are). */
  reconnectNow() {
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close();
    this.attempt = 0;
    this.connect();
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  handle(frame) {
    switch (frame.type) {
      case "snapshot":
        this.lastId = frame.id;
        this.onSnapshot(frame.data);
        return;
      case "resync_required":
        this.lastId = null;
        this.send({ type: "hello", last_id: null });
        return;
      case "heartbeat":
        // Behind the channel's position: something was lost on the way; ask for the gap.
        if (this.lastId !== null && frame.data.position > this.lastId) this.send({ type: "hello", last_id: this.lastId });
        return;
      case "pong":
        return;
      default:
        if (typeof frame.id === "number") {
          if (this.lastId !== null && frame.id <= this.lastId) return;
          this.lastId = frame.id;
        }
        this.onFrame(frame);
    }
  }
}
