// DVR on the viewer page: the live timeline under the video. A viewer who joins late goes back to the start with one
// click ("From the start"), anywhere by the slider, and back with one click ("Go live"); the moments a question was
// being answered are marked on it (click one to watch that answer). The live playlist keeps the whole event (an
// EVENT playlist with delta updates, server/media/playlist.py); the player's handle (hls_source.js) seeks.
import { $, el, t } from "./common.js";

const TICK_MS = 500;

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mm = String(m).padStart(h ? 2 : 1, "0");
  return `${h ? `${h}:` : ""}${mm}:${String(s % 60).padStart(2, "0")}`;
}

export class Dvr {
  constructor(root, video) {
    this.root = root;
    this.video = video;
    this.handle = null;
    this.chapters = [];
    this.dragging = false;
    this.range = $(".dvr-range", root);
    this.marks = $(".dvr-chapters", root);
    this.position = $(".dvr-position", root);
    this.liveButton = $(".dvr-live", root);
    this.startButton = $(".dvr-start", root);
    this.drawn = "";
    this.startButton.addEventListener("click", () => this.seek(this.handle?.range()?.start ?? 0));
    this.liveButton.addEventListener("click", () => {
      if (this.handle) this.handle.goLive();
      this.tick();
    });
    this.range.addEventListener("input", () => (this.dragging = true));
    this.range.addEventListener("change", () => {
      this.dragging = false;
      this.seek(Number(this.range.value));
    });
    setInterval(() => this.tick(), TICK_MS);
  }

  /** The player's handle (null: nothing playing). */
  attach(handle) {
    this.handle = handle;
    this.tick();
  }

  /** Questions answered (or being answered) with the moment "answering now" was pressed (Unix seconds). */
  setChapters(chapters) {
    this.chapters = chapters;
    this.drawn = "";
    this.tick();
  }

  seek(seconds) {
    if (!this.handle) return;
    this.handle.seek(seconds);
    this.tick();
  }

  tick() {
    const range = this.handle ? this.handle.range() : null;
    this.root.hidden = !range || range.end - range.start < 1;
    if (this.root.hidden) return;
    const span = range.end - range.start;
    const behind = this.handle.behind;
    this.root.classList.toggle("behind", behind);
    this.liveButton.setAttribute("aria-pressed", String(!behind));
    this.range.min = String(range.start);
    this.range.max = String(range.end);
    if (!this.dragging) this.range.value = String(this.video.currentTime);
    const late = Math.max(0, (this.handle.edge() ?? range.end) - this.video.currentTime);
    this.position.textContent = behind ? `${clock(this.video.currentTime - range.start)} · −${clock(late)}` : t["dvr.at_live"];
    this.drawMarks(range, span);
  }

  drawMarks(range, span) {
    const placed = [];
    for (const chapter of this.chapters) {
      const at = this.handle.timeOf(chapter.at * 1000);
      if (at === null || at < range.start || at > range.end) continue;
      placed.push({ ...chapter, seconds: at, left: ((at - range.start) / span) * 100 });
    }
    // Redrawn when a mark moves by a tenth of a percent or the chapters change, not every tick.
    const key = placed.map((c) => `${c.id}:${c.left.toFixed(1)}`).join(",");
    if (key === this.drawn) return;
    this.drawn = key;
    this.marks.replaceChildren(
      ...placed.map((chapter, index) => {
        const label = `${t["dvr.chapter"]} ${index + 1}: ${chapter.text}`;
        const mark = el("button", { type: "button", class: "dvr-chapter", title: label, "aria-label": label });
        mark.dataset.question = String(chapter.id);
        mark.style.left = `${chapter.left}%`;
        mark.addEventListener("click", () => this.seek(chapter.seconds));
        return el("li", {}, mark);
      }),
    );
  }
}
