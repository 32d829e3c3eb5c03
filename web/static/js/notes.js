// Backstage notes between moderators and experts: a staff-only channel (never shown to viewers).
import { api, clock, el, errorMessage, t, toast } from "./common.js";

export class Notes {
  constructor(list, form, input, base) {
    this.list = list;
    this.input = input;
    this.base = base;
    this.seen = new Set();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        this.send();
      }
    });
  }

  load(notes) {
    this.seen.clear();
    this.list.replaceChildren();
    for (const note of notes) this.add(note, true);
  }

  add(note, quiet = false) {
    if (this.seen.has(note.id)) return;
    this.seen.add(note.id);
    const who = `${note.author.name || t[`role.${note.author.role}`]} · ${t[`role.${note.author.role}`]} · ${clock(note.at)}`;
    this.list.append(
      el("li", { class: `note from-${note.author.role}` }, el("span", { class: "note-meta", text: who }), el("p", { text: note.text })),
    );
    this.list.scrollTop = this.list.scrollHeight;
    if (!quiet && document.body.dataset.page === "studio" && note.author.role !== "expert") toast(`${t["notes.new"]}: ${note.text}`, "warn", 8000);
  }

  async send() {
    const text = this.input.value.trim();
    if (!text) return;
    try {
      const note = await api("POST", `${this.base}/notes`, { text });
      this.input.value = "";
      this.add(note, true);
    } catch (err) {
      toast(errorMessage(err), "error");
    }
  }
}
