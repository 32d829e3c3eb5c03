// Plays an HLS URL in a <video>: natively where the browser can (Chromium 141+, Edge, Safari, Android and
// iOS browsers), else through hls.js over Media Source Extensions (older Chromium-based browsers, Firefox),
// served by Sitecast from /static/vendor (installed from npm at build time; no CDN).
// `?player=hlsjs` on the page forces hls.js (for support and tests).

const FORCE_HLSJS = new URLSearchParams(location.search).get("player") === "hlsjs";
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
    return {
      stop() {
        video.removeAttribute("src");
        video.load();
      },
    };
  }
  hlsModule = hlsModule || import("/static/vendor/hls.mjs");
  const Hls = (await hlsModule).default;
  // No worker: the page's CSP allows scripts from our origin only, not blob: workers.
  const hls = new Hls({ enableWorker: false, liveSyncDurationCount: 3 });
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (data.fatal) onFatal();
  });
  hls.loadSource(url);
  hls.attachMedia(video);
  video.play().catch(() => {});
  return {
    stop() {
      hls.destroy();
      video.removeAttribute("src");
      video.load();
    },
  };
}
