// Plays an HLS URL in a <video>, low-latency: through hls.js over Media Source Extensions wherever MSE plays
// H.264 (Chromium-based browsers, Firefox, Android), natively elsewhere (Safari, iOS browsers: their native
// player does LL-HLS). Chromium's own native HLS (141+) is not used by default: it loads whole segments
// only, a few seconds behind, and fails on any playback rate but 1 (measured: bench/glass_to_glass.py).
// hls.js is served by Sitecast from /static/vendor (installed from npm at build time; no CDN).
// `?player=hlsjs` / `?player=native` on the page force one (for support, tests and benches).

// Low-Latency HLS: the server cuts ~0.33 s parts and holds playlist reloads until the next one exists; hls.js
// follows the parts (lowLatencyMode); Safari's native player does too. Both catch up with the live edge by playing
// at most 10% faster, and jump to it when a stall left them far behind.

const FORCED = new URLSearchParams(location.search).get("player");
// Chromium-based browsers (Chrome, Edge, Android WebView) expose navigator.userAgentData; Safari and Firefox do not.
// (userAgentData only in secure contexts: the user agent string answers over plain HTTP; iOS browsers say CriOS.)
const CHROMIUM = Boolean(navigator.userAgentData) || /\bChrom(e|ium)\//.test(navigator.userAgent);
// How far behind the live edge hls.js plays: the playlist's PART-HOLD-BACK (3 parts).
const LIVE_SYNC_SECONDS = 1.0;
// Further behind than this (a stall, a hidden tab), hls.js jumps back to LIVE_SYNC_SECONDS.
const LIVE_MAX_LATENCY_SECONDS = 4.0;
// Catching up is a playback rate of at most this: speech stays natural.
const CATCH_UP_RATE = 1.1;
// Native players (Chromium's) see whole segments, fetched a couple at a time, and report no seekable range: what
// is buffered ahead rises in steps and drains in between. They keep its trough (over the last few seconds) near
// NATIVE_TROUGH_SECONDS, playing ≤ 10% faster while it is higher, and jump ahead when it exceeds the jump.
const NATIVE_TROUGH_SECONDS = 0.4;
const NATIVE_SLACK_SECONDS = 0.3;
const NATIVE_JUMP_SECONDS = 4.0;
const NATIVE_WINDOW_CHECKS = 8;
const CATCH_UP_CHECK_MS = 500;
// DVR: the live playlist keeps the whole event. A viewer who goes back is left there (no catching up, no jump to
// the edge) until they return to live; a seek to within this of the edge is a return to live.
const LIVE_SNAP_SECONDS = 4.0;
const MSE_TYPE = 'video/mp4; codecs="avc1.42E01E,mp4a.40.2"';
let hlsModule = null;

function mseH264() {
  return Boolean(window.MediaSource && MediaSource.isTypeSupported(MSE_TYPE));
}

export function nativeHls(video) {
  if (FORCED === "hlsjs") return false;
  const native = video.canPlayType("application/vnd.apple.mpegurl") !== "";
  if (FORCED === "native") return native;
  return native && !(CHROMIUM && mseH264());
}

export function canPlay(video) {
  return nativeHls(video) || mseH264();
}

function seekableRange(video) {
  const ranges = video.seekable;
  if (!ranges.length) return null;
  const end = ranges.end(ranges.length - 1);
  return Number.isFinite(end) ? { start: ranges.start(0), end } : null;
}

/** Start `url` in `video`; `onFatal()` runs when playback cannot go on (the caller retries). Returns a
 * handle: `stop()` detaches everything; for DVR, `range()` ({start, end} seconds, or null), `edge()` (where live
 * is played), `behind` (the viewer went back), `seek(seconds)`, `goLive()`, `timeOf(unixMs)` (where a moment of
 * the event is on the timeline, or null). */
export async function attach(video, url, onFatal) {
  if (nativeHls(video)) {
    video.src = url;
    video.play().catch(() => {});
    const history = [];
    const state = { behind: false };
    const timer = setInterval(() => state.behind || followLiveEdge(video, history), CATCH_UP_CHECK_MS);
    const handle = {
      get behind() {
        return state.behind;
      },
      range: () => seekableRange(video),
      edge: () => seekableRange(video)?.end ?? null,
      seek(seconds) {
        const range = seekableRange(video);
        if (!range) return;
        if (range.end - seconds < LIVE_SNAP_SECONDS) return handle.goLive();
        state.behind = true;
        video.playbackRate = 1;
        video.currentTime = Math.max(range.start, seconds);
      },
      goLive() {
        state.behind = false;
        history.length = 0;
        const range = seekableRange(video);
        if (range) video.currentTime = Math.max(range.start, range.end - LIVE_SYNC_SECONDS);
      },
      timeOf(ms) {
        // Safari: the playlist's first date is the timeline's zero.
        const start = video.getStartDate ? video.getStartDate().getTime() : NaN;
        return Number.isFinite(start) ? (ms - start) / 1000 : null;
      },
      stop() {
        clearInterval(timer);
        if (!CHROMIUM) video.playbackRate = 1;
        video.removeAttribute("src");
        video.load();
      },
    };
    return handle;
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
  // Which rendition plays (the full one, or 360p on a weak link), for support and tests: data-rendition="640x360".
  hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
    const level = hls.levels[data.level];
    if (level) video.dataset.rendition = `${level.width}x${level.height}`;
  });
  // After a stall, go back to the live edge at once rather than playing the backlog faster for a minute.
  const state = { behind: false };
  const rejoin = () => {
    const edge = hls.liveSyncPosition;
    if (!state.behind && edge && edge - video.currentTime > LIVE_MAX_LATENCY_SECONDS / 2) video.currentTime = edge;
  };
  video.addEventListener("playing", rejoin);
  hls.loadSource(url);
  hls.attachMedia(video);
  video.play().catch(() => {});
  const range = () => {
    const details = hls.latestLevelDetails;
    if (details && details.fragments.length) return { start: details.fragmentStart, end: details.edge };
    return seekableRange(video);
  };
  // Going back: hls.js would otherwise jump to the edge (past liveMaxLatencyDuration) or play faster to catch up.
  const follow = (live) => {
    state.behind = !live;
    hls.config.liveMaxLatencyDuration = live ? LIVE_MAX_LATENCY_SECONDS : Infinity;
    hls.config.maxLiveSyncPlaybackRate = live ? CATCH_UP_RATE : 1;
    if (!live) video.playbackRate = 1;
  };
  const handle = {
    get behind() {
      return state.behind;
    },
    range,
    edge: () => hls.liveSyncPosition ?? range()?.end ?? null,
    seek(seconds) {
      const known = range();
      if (!known) return;
      if (known.end - seconds < LIVE_SNAP_SECONDS) return handle.goLive();
      follow(false);
      video.currentTime = Math.max(known.start, seconds);
    },
    goLive() {
      follow(true);
      const edge = handle.edge();
      if (edge !== null) video.currentTime = edge;
    },
    timeOf(ms) {
      // The dated segment at or before the moment; the timeline runs with the wall clock from there (a gap in the
      // recording, nobody publishing, maps to where it resumes).
      const details = hls.latestLevelDetails;
      if (!details) return null;
      let found = null;
      for (const frag of details.fragments) {
        if (frag.programDateTime === null || frag.programDateTime === undefined) continue;
        if (frag.programDateTime > ms) {
          if (found === null) return frag.start;
          break;
        }
        found = frag;
      }
      if (found === null) return null;
      return found.start + Math.min((ms - found.programDateTime) / 1000, found.duration);
    },
    stop() {
      video.removeEventListener("playing", rejoin);
      hls.destroy();
      video.removeAttribute("src");
      video.load();
    },
  };
  return handle;
}

/** Keep a natively played live stream near its edge: ≤ 10% faster while behind, a jump after a long stall. */
function followLiveEdge(video, history) {
  const ranges = video.seekable.length ? video.seekable : video.buffered;
  if (video.paused || ranges.length === 0) return;
  const ahead = ranges.end(ranges.length - 1) - video.currentTime;
  if (!Number.isFinite(ahead)) return;
  history.push(ahead);
  if (history.length > NATIVE_WINDOW_CHECKS) history.shift();
  if (history.length < NATIVE_WINDOW_CHECKS) return;
  const trough = Math.min(...history);
  if (trough > NATIVE_JUMP_SECONDS) {
    video.currentTime += trough - NATIVE_TROUGH_SECONDS - NATIVE_SLACK_SECONDS;
    if (!CHROMIUM) video.playbackRate = 1;
    history.length = 0;
  } else if (CHROMIUM) {
    // Chromium's native HLS treats any rate but 1 as a fatal demuxer error: jumping is all it allows.
  } else if (trough > NATIVE_TROUGH_SECONDS + NATIVE_SLACK_SECONDS) {
    video.playbackRate = CATCH_UP_RATE;
  } else if (trough <= NATIVE_TROUGH_SECONDS) {
    video.playbackRate = 1;
  }
}
