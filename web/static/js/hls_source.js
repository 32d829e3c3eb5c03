// Plays an HLS URL in a <video>: natively where the browser can (Chromium 141+, Edge, Safari, Android and
// iOS browsers), else through hls.js over Media Source Extensions (older Chromium-based browsers, Firefox),
// served by Sitecast from /static/vendor (installed from npm at build time; no CDN).
// `?player=hlsjs` on the page forces hls.js (for support and tests).

// Low-Latency HLS: the server cuts ~0.33 s parts and holds playlist reloads until the next one exists; hls.js
// follows the parts (lowLatencyMode). Native players (Chromium) load whole segments; both catch up with the live
// edge by playing at most 10% faster, and jump to it when a stall left them far behind.

const FORCE_HLSJS = new URLSearchParams(location.search).get("player") === "hlsjs";
// How far behind the live edge hls.js plays: the playlist's PART-HOLD-BACK (3 parts).
const LIVE_SYNC_SECONDS = 1.0;
// Further behind than this (a stall, a hidden tab), hls.js jumps back to LIVE_SYNC_SECONDS.
const LIVE_MAX_LATENCY_SECONDS = 4.0;
// Catching up is a playback rate of at most this: speech stays natural.
const CATCH_UP_RATE = 1.1;
// Native players see whole (1 s) segments: the end of what they can seek to is the newest segment's end. They
// keep this far behind it (one segment plus the fetch), speed up when further, and jump past a stall.
const NATIVE_BEHIND_SECONDS = 1.3;
const NATIVE_SLACK_SECONDS = 0.4;
const NATIVE_JUMP_SECONDS = 4.0;
const CATCH_UP_CHECK_MS = 500;
const MSE_TYPE = 'video/mp4; codecs="avc1.42E01E,mp4a.40.2"';
let hlsModule = null;

export function nativeHls(video) {
  return !FORCE_HLSJS && video.canPlayType("application/vnd.apple.mpegurl") !== "";
}

export function canPlay(video) {
  return nativeHls(video) || Boolean(window.MediaSource && MediaSource.isTypeSupported(MSE_TYPE));
}

/** Start `url` in `video`; `onFatal()` runs when playback cannot go on (the caller retries). Returns a
 * handle whose `stop()` detaches everything. */
export async function attach(video, url, onFatal) {
  if (nativeHls(video)) {
    video.src = url;
    video.play().catch(() => {});
    const timer = setInterval(() => followLiveEdge(video), CATCH_UP_CHECK_MS);
    return {
      stop() {
        clearInterval(timer);
        video.playbackRate = 1;
        video.removeAttribute("src");
        video.load();
      },
    };
  }
  hlsModule = hlsModule || import("/static/vendor/hls.mjs");
  const Hls = (await hlsModule).default;
  // No worker: the page's CSP allows scripts from our origin only, not blob: workers.
  const hls = new Hls({
    enableWorker: false,
    lowLatencyMode: true,
    liveSyncDuration: LIVE_SYNC_SECONDS,
    liveMaxLatencyDuration: LIVE_MAX_LATENCY_SECONDS,
    maxLiveSyncPlaybackRate: CATCH_UP_RATE,
    backBufferLength: 30,
  });
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (data.fatal) onFatal();
  });
  // After a stall, go back to the live edge at once rather than playing the backlog faster for a minute.
  const rejoin = () => {
    const edge = hls.liveSyncPosition;
    if (edge && edge - video.currentTime > LIVE_MAX_LATENCY_SECONDS / 2) video.currentTime = edge;
  };
  video.addEventListener("playing", rejoin);
  hls.loadSource(url);
  hls.attachMedia(video);
  video.play().catch(() => {});
  return {
    stop() {
      video.removeEventListener("playing", rejoin);
      hls.destroy();
      video.removeAttribute("src");
      video.load();
    },
  };
}

/** Keep a natively played live stream near its edge: ≤ 10% faster while behind, a jump after a long stall. */
function followLiveEdge(video) {
  if (video.paused || video.seekable.length === 0) return;
  const edge = video.seekable.end(video.seekable.length - 1);
  const behind = edge - video.currentTime;
  if (!Number.isFinite(behind)) return;
  if (behind > NATIVE_JUMP_SECONDS) {
    video.currentTime = edge - NATIVE_BEHIND_SECONDS;
    video.playbackRate = 1;
  } else if (behind > NATIVE_BEHIND_SECONDS + NATIVE_SLACK_SECONDS) {
    video.playbackRate = CATCH_UP_RATE;
  } else if (behind <= NATIVE_BEHIND_SECONDS) {
    video.playbackRate = 1;
  }
}
