// The organiser's recogniser glossary of one event (admin page, inside the event's settings): one term
// per line, per language.
// Loaded when opened (GET …/glossary), saved with PUT; the live captions use it from the next phrase.
import { api, el, errorMessage, t, toast } from "./common.js";

const lines = (area) =>
  area.value
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean);

export function glossarySection(slug) {
  const path = `/api/v1/events/${encodeURIComponent(slug)}/glossary`;
  // Read-only until the stored terms arrive, so nothing typed is overwritten by a late load or saved
  // over terms the organiser never saw.
  const area = (name) =>
    el("textarea", { name, rows: 4, maxlength: 2000, spellcheck: "false", readonly: "", placeholder: t["captions.glossary_loading"] });
  const zh = area("glossary_zh");
  const en = area("glossary_en");
  // A div, not a form: the event's settings form is the row's one <form> (pages and tests rely on it).
  const save = el("button", { type: "button", class: "button primary", text: t["captions.glossary_save"], disabled: "" });
  const form = el(
    "div",
    { class: "form glossary" },
    el("p", { class: "muted small", text: t["captions.glossary_help"] }),
    el(
      "div",
      { class: "two" },
      el("label", {}, el("span", { text: t["captions.glossary_zh"] }), zh),
      el("label", {}, el("span", { text: t["captions.glossary_en"] }), en),
    ),
    el("div", { class: "controls" }, save),
  );
  save.addEventListener("click", async () => {
    try {
      const saved = await api("PUT", path, { zh: lines(zh), en: lines(en) });
      zh.value = saved.zh.join("\n");
      en.value = saved.en.join("\n");
      toast(t["captions.glossary_saved"], "ok");
    } catch (err) {
      toast(errorMessage(err), "error");
    }
  });
  const section = el("section", { class: "glossary-settings" }, el("h4", { class: "eyebrow", text: t["captions.glossary"] }), form);
  // Shown inside the event's settings disclosure: loaded the first time that is opened.
  let loaded = false;
  const load = async () => {
    if (loaded) return;
    loaded = true;
    try {
      const current = await api("GET", path);
      zh.value = current.zh.join("\n");
      en.value = current.en.join("\n");
    } catch (err) {
      toast(errorMessage(err), "error");
      loaded = false; // opened again, it tries again
      return;
    }
    for (const area of [zh, en]) {
      area.readOnly = false;
      area.placeholder = "";
    }
    save.disabled = false;
  };
  queueMicrotask(() => {
    const details = section.closest("details");
    if (!details) load();
    else details.addEventListener("toggle", () => details.open && load());
  });
  return section;
}
