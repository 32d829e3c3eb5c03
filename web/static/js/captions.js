// Live captions for any live page (viewer, studio, present): a caption band over a video box, with a
// toggle and a size control. Usage:
//   import { Captions } from "./captions.js";
//   const captions = new Captions(boxElement, controlsElement, { slug, canEdit });
//   ...in the LiveSocket's onSnapshot: captions.load(data.captions);
//   ...in the LiveSocket's onFrame: if (frame.type === "caption") captions.apply(frame.data);
// The snapshot's `captions` are the newest final lines (corrections applied), so a page that joins or
// resyncs shows the current caption at once.
// A `caption` frame is interim (`final: false`, the phrase so far, replaced by the next one) or final
// (`id` of the stored line; a later frame with the same id and `edited: true` is a staff correction).
// Text goes in as text nodes only; each line carries the language it was spoken in (zh/en as spoken).
import { api, el, t, toast } from "./common.js";

const SHOWN_FINAL_LINES = 2;
const SIZES = ["s", "m", "l"];
const PREFS_KEY = "sitecast.captions";

function loadPrefs() {
  try {
    return { on: true, size: "m", ...JSON.parse(localStorage.getItem(PREFS_KEY) || "{}") };
  } catch {
    return { on: true, size: "m" };
  }
}

export class Captions {
  constructor(box, controls, { slug = null, canEdit = false } = {}) {
    this.slug = slug;
    this.canEdit = canEdit;
    this.prefs = loadPrefs();
    this.finals = []; // {id, text, language, edited}
    this.interim = null;
    this.band = el("div", { class: "captions", role: "log", "aria-live": "polite", "aria-label": t["captions.region"] });
    box.append(this.band);
    this.toggle = el("button", { type: "button", class: "button small captions-toggle", "aria-pressed": "true" });
    this.toggle.addEventListener("click", () => this.set({ on: !this.prefs.on }));
    this.size = el("button", { type: "button", class: "button small captions-size", title: t["captions.size"] });
    this.size.addEventListener("click", () =>
      this.set({ size: SIZES[(SIZES.indexOf(this.prefs.size) + 1) % SIZES.length] }),
    );
    const bar = el("div", { class: "captions-controls" }, this.toggle, this.size);
    controls.append(bar);
    this.render();
  }

  set(change) {
    this.prefs = { ...this.prefs, ...change };
    try {
      localStorage.setItem(PREFS_KEY, JSON.stringify(this.prefs));
    } catch {
      /* private mode: the choice lasts for this page */
    }
    this.render();
  }

  load(lines) {
    this.finals = (Array.isArray(lines) ? lines : []).filter((line) => line && typeof line.text === "string");
    this.finals = this.finals.slice(-SHOWN_FINAL_LINES);
    this.interim = null;
    this.render();
  }

  apply(caption) {
    if (!caption || typeof caption.text !== "string") return;
    if (!caption.final) {
      this.interim = caption;
    } else {
      const known = this.finals.find((line) => line.id === caption.id);
      if (known) Object.assign(known, caption);
      else if (!caption.edited) {
        this.finals.push(caption);
        this.finals = this.finals.slice(-SHOWN_FINAL_LINES);
        // The phrase's interim line is now its final one.
        if (this.interim && this.interim.phrase != null && this.interim.phrase <= caption.phrase) this.interim = null;
      }
    }
    this.render();
  }

  render() {
    const { on, size } = this.prefs;
    this.toggle.textContent = on ? t["captions.on"] : t["captions.off"];
    this.toggle.setAttribute("aria-pressed", String(on));
    this.size.textContent = `${t["captions.size"]}: ${t[`captions.size.${size}`]}`;
    this.band.hidden = !on;
    this.band.dataset.size = size;
    const lines = [...this.finals, ...(this.interim ? [this.interim] : [])];
    this.band.replaceChildren(...lines.map((line) => this.line(line)));
    this.band.classList.toggle("empty", lines.length === 0);
  }

  line(caption) {
    const node = el("p", {
      class: caption.final ? "caption-line" : "caption-line interim",
      lang: caption.language === "en" ? "en" : "zh-CN",
      text: caption.text,
    });
    if (caption.edited) node.append(el("span", { class: "caption-edited", text: ` (${t["captions.edited"]})` }));
    if (this.canEdit && caption.final && caption.id != null) {
      const edit = el("button", { type: "button", class: "caption-edit", text: t["captions.edit"] });
      edit.addEventListener("click", () => this.correct(caption));
      node.append(edit);
    }
    return node;
  }

  async correct(caption) {
    const text = window.prompt(t["captions.edit_prompt"], caption.text);
    if (text == null || !text.trim() || text.trim() === caption.text) return;
    try {
      const path = `/api/v1/events/${encodeURIComponent(this.slug)}/captions/${caption.id}`;
      this.apply(await api("PATCH", path, { text: text.trim() }));
      toast(t["captions.saved"]);
    } catch (err) {
      toast(err.message, "error");
    }
  }
}
