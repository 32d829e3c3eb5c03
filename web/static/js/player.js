// The viewer's video (HLS, see hls_source.js), with the stream's state drawn over it: not started, live,
// reconnecting, paused, ended (→ the recording); a shared screen fills the player, the camera goes small.
import { $, dateTime, el, t } from "./common.js";
import { Dvr } from "./dvr.js";
import { attach, canPlay } from "./hls_source.js";

// A live playlist appears a segment or two after the publisher connects; retry this often meanwhile.
const RETRY_MS = 2000;

export class Player {
  constructor(root, { slug, eventState, startsAt }) {
    this.root = root;
    this.slug = slug;
    this.eventState = eventState;
    this.startsAt = startsAt;
    this.video = $("#video", root);
    this.screen = $("#screen-video", root);
    this.sources = [];
    this.screenRetry = null;
    this.cameraHandle = null;
    this.screenHandle = null;
    this.generation = 0;
    this.dvr = new Dvr($("#dvr"), this.video);
    this.screen.addEventListener("error", () => this.retryScreen());
    this.overlay = $(".player-overlay", root);
    this.unmute = $(".unmute", root);
    this.badge = $(".player-live", root);
    this.streamState = null;
    this.everLive = false;
    this.retry = null;
    this.supported = canPlay(this.video);
    this.video.addEventListener("playing", () => this.render());
    this.video.addEventListener("waiting", () => this.render());
    this.video.addEventListener("error", () => this.scheduleRetry());
    this.video.addEventListener("ended", () => this.scheduleRetry());
    this.video.addEventListener("volumechange", () => (this.unmute.hidden = !this.video.muted || !this.playing()));
    this.unmute.addEventListener("click", () => {
      this.video.muted = false;
      this.video.play().catch(() => {});
    });
  }

  playing() {
    return !this.video.paused && this.video.readyState >= 2;
  }

  setEventState(state) {
    this.eventState = state;
    this.render();
  }

  /** Which sources are on air: with the screen shared, it fills the player and the camera goes to a corner. */
  setSources(sources) {
    const had = this.sources.includes("screen");
    this.sources = sources || [];
    const has = this.sources.includes("screen") && this.streamState === "live";
    if (has && !had) this.loadScreen();
    if (!has && had) {
      clearTimeout(this.screenRetry);
      this.detach("screenHandle");
    }
    this.screen.hidden = !has;
    this.root.classList.toggle("with-screen", has);
  }

  async loadScreen() {
    if (!this.supported) return;
    this.detach("screenHandle");
    // The same URL for every viewer: caches in front (nginx, a CDN) answer them all from one request.
    const url = `/live/${encodeURIComponent(this.slug)}/screen/index.m3u8`;
    this.screenHandle = await attach(this.screen, url, () => this.retryScreen()).catch(() => null);
  }

  retryScreen() {
    clearTimeout(this.screenRetry);
    if (this.sources.includes("screen")) this.screenRetry = setTimeout(() => this.loadScreen(), RETRY_MS);
  }

  detach(name) {
    if (this[name]) this[name].stop();
    this[name] = null;
  }

  setStreamState(state, sources) {
    if (sources !== undefined && state === this.streamState) this.setSources(sources);
    if (state === this.streamState) return;
    this.streamState = state;
    if (state === "live") {
      this.everLive = true;
      this.load();
    } else if (state === "ended" || state === "idle") {
      this.stop();
    }
    this.setSources(state === "live" || state === "reconnecting" ? sources ?? this.sources : []);
    this.render();
  }

  async load() {
    clearTimeout(this.retry);
    if (!this.supported) return;
    this.detach("cameraHandle");
    this.dvr.attach(null);
    // The multivariant playlist: the full rendition and the 360p one, players pick by bandwidth.
    const url = `/live/${encodeURIComponent(this.slug)}/master.m3u8`;
    const generation = ++this.generation;
    try {
      const handle = await attach(this.video, url, () => this.scheduleRetry());
      if (generation !== this.generation) handle.stop(); // stopped or reloaded while hls.js loaded
      else {
        this.cameraHandle = handle;
        this.dvr.attach(handle);
      }
    } catch {
      this.supported = false; // the hls.js fallback is not installed on this server
      this.render();
    }
  }

  stop() {
    clearTimeout(this.retry);
    this.generation += 1;
    this.detach("cameraHandle");
    this.dvr.attach(null);
  }

  /** The moments questions were answered, marked on the live timeline. */
  setChapters(chapters) {
    this.dvr.setChapters(chapters);
  }

  scheduleRetry() {
    clearTimeout(this.retry);
    if (this.streamState === "live" || this.streamState === "reconnecting") {
      this.retry = setTimeout(() => this.load(), RETRY_MS);
    }
    this.render();
  }

  render() {
    const ended = this.streamState === "ended" || this.eventState === "ended" || this.eventState === "archived";
    let message = null;
    let detail = null;
    let archive = false;
    let spinner = false;
    if (ended) {
      message = t["player.ended"];
      archive = true;
    } else if (!this.supported) {
      message = t["player.unsupported"];
    } else if (this.streamState === "reconnecting") {
      message = t["player.reconnecting"];
      spinner = true;
    } else if (this.streamState === "live") {
      if (!this.playing()) {
        message = t["player.loading"];
        spinner = true;
      }
    } else if (this.everLive || this.eventState === "live") {
      message = t["player.paused"];
    } else {
      message = t["player.not_started"];
      if (this.startsAt) detail = `${t["event.starts"]} ${dateTime(this.startsAt)}`;
    }
    this.root.dataset.stream = ended ? "ended" : this.streamState || "idle";
    this.badge.hidden = !(this.streamState === "live" && this.playing()) || Boolean(this.cameraHandle?.behind);
    this.unmute.hidden = !this.video.muted || !this.playing();
    this.overlay.hidden = message === null;
    this.overlay.replaceChildren();
    if (message === null) return;
    if (spinner) this.overlay.append(el("span", { class: "spinner", "aria-hidden": "true" }));
    this.overlay.append(el("p", { class: "player-message", text: message }));
    if (detail) this.overlay.append(el("p", { class: "player-detail", text: detail }));
    if (archive) {
      this.overlay.append(
        el("a", { class: "button primary", href: `/e/${encodeURIComponent(this.slug)}/archive`, text: t["event.watch_archive"] }),
      );
    }
  }
}
