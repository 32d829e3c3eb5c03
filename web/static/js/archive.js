// The archive page: seek from the transcript, chapters and Q&A; the current line follows playback;
// ?t=<seconds> and ?q=<question id> open at that moment; job progress updates until the archive is ready.
// User text is only ever set through textContent.
import { api, t } from "./common.js";

const slug = document.body.dataset.slug;
const video = document.getElementById("vod");
const transcript = document.getElementById("transcript");
const follow = document.getElementById("follow");
const lines = transcript ? [...transcript.querySelectorAll(".line")] : [];
const starts = lines.map((line) => Number(line.dataset.start));
const POLL_MS = 2000;

function seek(seconds, play = true) {
  if (!video || !Number.isFinite(seconds)) return;
  const go = () => {
    video.currentTime = Math.max(0, seconds);
    if (play) video.play().catch(() => {}); // autoplay may be refused; the position still holds
  };
  if (video.readyState >= 1) go();
  else video.addEventListener("loadedmetadata", go, { once: true });
}

function remember(param, value) {
  const url = new URL(window.location.href);
  url.searchParams.delete("t");
  url.searchParams.delete("q");
  url.searchParams.set(param, value);
  window.history.replaceState(null, "", url);
}

// The line being spoken: the last one that started at or before `now`.
function currentIndex(now) {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] <= now + 0.05) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

let shown = -1;
function showCurrent() {
  const index = currentIndex(video.currentTime);
  if (index === shown) return;
  if (shown >= 0) lines[shown].classList.remove("current");
  shown = index;
  if (index < 0) return;
  const line = lines[index];
  line.classList.add("current");
  line.setAttribute("aria-current", "true");
  if (follow && follow.checked) {
    // Scroll the transcript box only, never the page under the reader.
    transcript.scrollTop = line.parentElement.offsetTop - transcript.offsetTop - transcript.clientHeight / 3;
  }
}

if (video && lines.length) video.addEventListener("timeupdate", showCurrent);

for (const line of lines) {
  line.addEventListener("click", () => {
    const start = Number(line.dataset.start);
    seek(start);
    remember("t", start.toFixed(1));
  });
}

for (const link of document.querySelectorAll("a.seek")) {
  link.addEventListener("click", (event) => {
    if (!video) return; // no player: follow the link
    event.preventDefault();
    const start = Number(link.dataset.start);
    seek(start);
    const item = link.closest("[data-question]");
    if (item) remember("q", item.dataset.question);
    else remember("t", start.toFixed(1));
    video.scrollIntoView({ behavior: "smooth", block: "nearest" });
  });
}

// Opened at a moment: ?t=<seconds>, or ?q=<question id> (the moment it was answered).
const params = new URLSearchParams(window.location.search);
if (params.has("t")) {
  seek(Number(params.get("t")), false);
} else if (params.has("q")) {
  const item = document.getElementById(`q${Number.parseInt(params.get("q"), 10)}`);
  if (item) {
    item.classList.add("current");
    item.scrollIntoView({ block: "center" });
    if (item.dataset.start !== undefined) seek(Number(item.dataset.start), false);
  }
}

// Progress of the archive jobs ("Transcribing 42 %"); the page reloads once everything settled.
const jobs = document.getElementById("jobs");

function render(status) {
  for (const job of status.jobs) {
    const item = jobs.querySelector(`[data-kind="${job.kind}"]`);
    if (!item) continue;
    item.className = `job job-${job.state}`;
    const state = item.querySelector(".job-state");
    let text = job.state ? t[`archive.state.${job.state}`] : "";
    if (job.state === "running") text += ` ${Math.round(job.progress * 100)} %`;
    state.textContent = text;
  }
}

async function poll() {
  try {
    const data = await api("GET", `/api/v1/events/${encodeURIComponent(slug)}/archive`);
    render(data.status);
    if (data.status.complete) {
      window.location.reload();
      return;
    }
  } catch {
    // a restart of the server or a lost connection: keep trying
  }
  window.setTimeout(poll, POLL_MS);
}

if (jobs && document.body.dataset.started === "true" && document.body.dataset.complete !== "true") {
  window.setTimeout(poll, POLL_MS);
}

for (const button of document.querySelectorAll("button.retry")) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("POST", `/api/v1/events/${encodeURIComponent(slug)}/archive/retry`, { kinds: [button.dataset.kind] });
      window.location.reload();
    } catch (err) {
      button.disabled = false;
      button.title = err.message;
    }
  });
}
