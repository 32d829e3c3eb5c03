// Staff prepare polls before the event and launch / close them live (moderator console). Fed by the
// console's WebSocket (staff channel: drafts, live results of every poll).
import { $, api, el, fmt, t, toast } from "./common.js";
import { kindLabel, newer, renderResults, secondsLeft } from "./polls_render.js";

const POLL_FRAMES = new Set(["poll.opened", "poll.closed", "poll.results", "poll.saved", "poll.deleted"]);

export class StaffPolls {
  constructor(root, base) {
    this.root = root;
    this.base = base;
    this.polls = new Map();
    this.list = $("#polls-staff-list", root);
    this.form = $("#poll-form", root);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
    const quizBox = $("#poll-quiz", root);
    quizBox.addEventListener("change", () => ($("#poll-correct-row", root).hidden = !quizBox.checked));
    const rule = $("#quiz-rule", root);
    if (rule) {
      rule.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          await api("PATCH", `${this.base}/quiz`, {
            pass_percent: Number($("#quiz-pass", rule).value),
            required_for_training: $("#quiz-required", rule).checked,
          });
          toast(t["poll.staff.saved"], "ok");
        } catch (err) {
          toast(err.message, "error");
        }
      });
      api("GET", `${this.base}/quiz/settings`).then((s) => {
        $("#quiz-pass", rule).value = String(s.pass_percent);
        $("#quiz-required", rule).checked = s.required_for_training;
      }, () => {});
    }
    setInterval(() => {
      for (const node of this.root.querySelectorAll("[data-deadline]")) {
        node.textContent = fmt("poll.time_left", { s: Math.max(0, Math.ceil(Number(node.dataset.deadline) - Date.now() / 1000)) });
      }
    }, 1000);
  }

  load(polls) {
    this.polls.clear();
    for (const p of polls || []) this.polls.set(p.id, p);
    this.render();
  }

  apply(frame) {
    if (!POLL_FRAMES.has(frame.type)) return false;
    const d = frame.data;
    if (frame.type === "poll.results") {
      const p = this.polls.get(d.poll_id);
      if (p && newer(p.results, d)) p.results = d;
    } else if (frame.type === "poll.deleted") this.polls.delete(d.id);
    else this.polls.set(d.id, { ...(this.polls.get(d.id) || {}), ...d });
    this.render();
    return true;
  }

  async create() {
    const f = this.form.elements;
    const kind = f.kind.value;
    const body = {
      kind,
      prompt: f.prompt.value.trim(),
      options: ["single", "multiple", "ranking"].includes(kind) ? f.options.value.split("\n").map((s) => s.trim()).filter(Boolean) : [],
      results_to: f.results_to.value,
      quiz: f.quiz.checked,
      correct: f.quiz.checked ? f.correct.value.split(/[,，\s]+/).filter(Boolean).map((n) => Number(n) - 1) : [],
    };
    if (f.time_limit.value) body.time_limit_s = Number(f.time_limit.value);
    try {
      const poll = await api("POST", `${this.base}/polls`, body);
      this.polls.set(poll.id, { ...(this.polls.get(poll.id) || {}), ...poll });
      this.form.reset();
      $("#poll-correct-row", this.root).hidden = true;
      this.render();
      toast(t["poll.staff.saved"], "ok");
    } catch (err) {
      toast(err.message, "error");
    }
  }

  async act(poll, action) {
    try {
      if (action === "delete") await api("DELETE", `${this.base}/polls/${poll.id}`);
      else await api("POST", `${this.base}/polls/${poll.id}/state`, { state: action });
    } catch (err) {
      toast(err.message, "error");
    }
  }

  render() {
    const polls = [...this.polls.values()].sort((a, b) => b.id - a.id);
    $("#polls-staff-empty", this.root).hidden = polls.length > 0;
    this.list.replaceChildren(
      ...polls.map((p) => {
        const row = el("li", { class: `poll-card state-${p.state}`, dataset: { poll: String(p.id) } });
        const head = el("div", { class: "poll-head" }, el("span", { class: "badge", text: kindLabel(p) }), el("span", { class: "badge", text: t[`poll.state.${p.state}`] }));
        if (p.results_to === "staff") head.append(el("span", { class: "badge", text: t["poll.staff.staff"] }));
        const left = secondsLeft(p);
        if (left !== null) head.append(el("span", { class: "badge timer", dataset: { deadline: String(p.deadline) }, text: fmt("poll.time_left", { s: left }) }));
        row.append(head, el("h3", { class: "poll-prompt", text: p.prompt }));
        const actions = el("div", { class: "toolbar" });
        if (p.state === "draft") {
          actions.append(
            el("button", { type: "button", class: "button primary small", text: t["poll.staff.open"], onclick: () => this.act(p, "open") }),
            el("button", { type: "button", class: "button small", text: t["poll.staff.delete"], onclick: () => this.act(p, "delete") }),
          );
        } else if (p.state === "open") {
          actions.append(el("button", { type: "button", class: "button small", text: t["poll.staff.close"], onclick: () => this.act(p, "closed") }));
        }
        row.append(actions);
        if (p.results) row.append(renderResults({ ...p, correct_options: p.correct }, p.results));
        return row;
      }),
    );
  }
}
