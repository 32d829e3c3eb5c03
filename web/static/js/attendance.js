// Attendance for a page without an event WebSocket of its own (the archive player): include it as a module
// on a page whose <body> has data-slug and data-attendance="replay" (or "live"). A page that opens its own
// event WebSocket adds `attendanceQuery(mode)` to that URL instead. See README, "Real-time (WebSocket)".
const VISITOR_KEY = "sitecast.visitor";
const VISITOR_PATTERN = /^[A-Za-z0-9_-]{8,40}$/;
// The server's proxies and uvicorn drop idle sockets after about a minute; a ping keeps ours honest.
const PING_MS = 25000;
const MAX_RETRY_MS = 30000;

// This browser's anonymous id, so an unregistered viewer's tabs count once (null when storage is off).
export function visitorId() {
  try {
    let id = localStorage.getItem(VISITOR_KEY);
    if (!id || !VISITOR_PATTERN.test(id)) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      localStorage.setItem(VISITOR_KEY, id);
    }
    return id;
  } catch {
    return null;
  }
}

export function attendanceQuery(mode) {
  const params = new URLSearchParams({ mode });
  const visitor = visitorId();
  if (visitor) params.set("visitor", visitor);
  return params.toString();
}

export function attend(slug, mode = "replay") {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${location.host}/api/v1/events/${encodeURIComponent(slug)}/ws?${attendanceQuery(mode)}`;
  let socket = null;
  let pinger = null;
  let retry = 1000;
  let stopped = false;
  function open() {
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      retry = 1000;
      socket.send(JSON.stringify({ type: "hello", last_id: null }));
      pinger = setInterval(() => socket.readyState === WebSocket.OPEN && socket.send('{"type":"ping"}'), PING_MS);
    });
    socket.addEventListener("close", () => {
      clearInterval(pinger);
      if (stopped) return;
      setTimeout(open, retry);
      retry = Math.min(retry * 2, MAX_RETRY_MS);
    });
  }
  open();
  return {
    stop() {
      stopped = true;
      if (socket) socket.close();
    },
  };
}

const { slug, attendance } = document.body.dataset;
if (slug && (attendance === "replay" || attendance === "live")) attend(slug, attendance);
