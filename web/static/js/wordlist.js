// The event's banned words (questions containing one wait for a moderator), edited live by moderators.
import { api, el, errorMessage, fmt, toast } from "./common.js";

export class BannedWords {
  constructor(base, list, form, input) {
    this.base = base;
    this.list = list;
    this.words = [];
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const word = input.value.trim();
      if (word && !this.words.includes(word)) this.save([...this.words, word]);
      input.value = "";
    });
  }

  /** Loads the moderation settings; returns them (the caller also wants the mode). */
  async load() {
    const out = await api("GET", `${this.base}/moderation`);
    this.show(out.banned_words);
    return out;
  }

  async save(next) {
    try {
      const out = await api("PATCH", `${this.base}/moderation`, { banned_words: next });
      this.show(out.banned_words);
    } catch (err) {
      toast(errorMessage(err), "error");
    }
  }

  show(words) {
    this.words = words;
    this.list.replaceChildren(
      ...words.map((word) =>
        el(
          "li",
          {},
          el("span", { text: word }),
          el("button", {
            type: "button",
            "aria-label": fmt("mod.remove_word", { word }),
            text: "×",
            onclick: () => this.save(this.words.filter((w) => w !== word)),
          }),
        ),
      ),
    );
  }
}
