// The satisfaction survey: offered on the event page once the event has ended and on the archive page;
// one answer per participant (the server holds that), anonymous where the event allows it.
import { api, el, fmt, t, toast } from "./common.js";
import { errorText } from "./viewer_join.js";

function stars(name, label) {
  const set = el("fieldset", { class: "poll-stars", dataset: { name } }, el("legend", { text: label }));
  const row = el("div", { class: "stars-row" });
  for (let s = 1; s <= 5; s += 1) {
    row.append(el("label", { class: "star" }, el("input", { type: "radio", name, value: String(s), "aria-label": `${label}: ${fmt("poll.stars", { n: s })}` }), el("span", { "aria-hidden": "true", text: "★" })));
  }
  set.append(row);
  return set;
}

function picked(form, name) {
  const node = form.querySelector(`input[name="${CSS.escape(name)}"]:checked`);
  return node ? Number(node.value) : null;
}

export class Survey {
  /** `whenShown()` says whether to offer it now (e.g. the event has ended); `ensureJoined()` makes us a participant. */
  constructor(root, base, { ensureJoined, whenShown = () => true }) {
    this.root = root;
    this.base = base;
    this.ensureJoined = ensureJoined;
    this.whenShown = whenShown;
    this.status = null;
  }

  async refresh() {
    try {
      this.status = await api("GET", `${this.base}/survey`);
    } catch {
      return;
    }
    this.render();
  }

  render() {
    const s = this.status;
    if (!s || !s.open || !this.whenShown()) {
      this.root.hidden = true;
      return;
    }
    this.root.hidden = false;
    const title = el("h2", { text: t["survey.title"] });
    if (s.answered) {
      this.root.replaceChildren(title, el("p", { class: "ok", role: "status", text: t["survey.thanks"] }));
      return;
    }
    const form = el("form", { class: "form survey-form", novalidate: true });
    form.append(el("p", { class: "muted small", text: t["survey.intro"] }), stars("overall", t["survey.overall"]), stars("usefulness", t["survey.usefulness"]));
    for (const expert of s.experts) form.append(stars(`expert-${expert.id}`, fmt("survey.expert", { name: expert.name })));
    const comment = el("textarea", { rows: "3", maxlength: "2000", "aria-label": t["survey.comment"], placeholder: t["survey.comment"] });
    form.append(comment);
    const anonymous = el("input", { type: "checkbox" });
    if (s.allow_anonymous) form.append(el("label", { class: "check" }, anonymous, ` ${t["survey.anonymous"]}`));
    const error = el("p", { class: "form-error", role: "alert", hidden: true });
    form.append(el("button", { type: "submit", class: "button primary", text: t["survey.submit"] }), error);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const overall = picked(form, "overall");
      const usefulness = picked(form, "usefulness");
      if (overall === null || usefulness === null) {
        error.textContent = t["survey.choose_stars"];
        error.hidden = false;
        return;
      }
      const experts = {};
      for (const expert of s.experts) {
        const v = picked(form, `expert-${expert.id}`);
        if (v !== null) experts[String(expert.id)] = v;
      }
      if (!(await this.ensureJoined())) return;
      try {
        await api("POST", `${this.base}/survey`, { overall, usefulness, experts, comment: comment.value, anonymous: anonymous.checked });
        s.answered = true;
        toast(t["survey.thanks"], "ok");
        this.render();
      } catch (err) {
        if (err.code === "already_answered") {
          s.answered = true;
          this.render();
          return;
        }
        error.textContent = errorText(err);
        error.hidden = false;
      }
    });
    this.root.replaceChildren(title, form);
  }
}

/** The event page: offer the survey once the event has ended (viewer.js keeps body[data-state] current). */
export function surveyAtTheEnd(root, base, ensureJoined) {
  const ended = () => ["ended", "archived"].includes(document.body.dataset.state);
  const survey = new Survey(root, base, { ensureJoined, whenShown: ended });
  let shown = false;
  const check = () => {
    if (ended() && !shown) {
      shown = true;
      survey.refresh();
    }
  };
  new MutationObserver(check).observe(document.body, { attributes: true, attributeFilter: ["data-state"] });
  check();
  return survey;
}
