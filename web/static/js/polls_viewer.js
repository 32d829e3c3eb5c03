// Polls on the viewer page: the launched polls, answering each once (phones too), live results where the
// poll shows them, quiz feedback. Fed by the page's one WebSocket (viewer.js passes snapshot and frames).
import { $, api, el, fmt, t, toast } from "./common.js";
import { kindLabel, newer, renderResults, secondsLeft } from "./polls_render.js";
import { errorText } from "./viewer_join.js";

const POLL_FRAMES = new Set(["poll.opened", "poll.closed", "poll.results", "poll.saved", "poll.deleted"]);

export class PollsPanel {
  constructor(root, base, { ensureJoined, onAnswered = () => {} }) {
    this.root = root;
    this.base = base;
    this.ensureJoined = ensureJoined;
    this.onAnswered = onAnswered;
    this.polls = new Map();
    this.answers = new Map();
    this.list = $(".polls-list", root);
    setInterval(() => this.tick(), 1000);
  }

  load(data) {
    this.polls.clear();
    for (const p of data.polls || []) this.polls.set(p.id, p);
    this.answers.clear();
    for (const a of data.poll_answers || []) this.answers.set(a.poll_id, a);
    this.render();
  }

  /** True when the frame was ours. */
  apply(frame) {
    if (frame.type === "notice" && frame.data.type === "poll.answered") {
      this.answers.set(frame.data.poll_id, frame.data);
      this.render();
      return true;
    }
    if (!POLL_FRAMES.has(frame.type)) return false;
    const d = frame.data;
    if (frame.type === "poll.results") {
      const p = this.polls.get(d.poll_id);
      if (p && newer(p.results, d)) p.results = d;
    } else if (frame.type === "poll.deleted") {
      this.polls.delete(d.id);
    } else {
      const before = this.polls.get(d.id) || {};
      this.polls.set(d.id, { ...before, ...d });
    }
    this.render();
    return true;
  }

  tick() {
    for (const node of this.root.querySelectorAll("[data-deadline]")) {
      const left = Math.max(0, Math.ceil(Number(node.dataset.deadline) - Date.now() / 1000));
      node.textContent = fmt("poll.time_left", { s: left });
      if (left === 0) {
        const p = this.polls.get(Number(node.dataset.poll));
        if (p && p.state === "open") {
          p.state = "closed";
          this.render();
        }
      }
    }
  }

  render() {
    const shown = [...this.polls.values()].filter((p) => p.state !== "draft").sort((a, b) => b.id - a.id);
    this.root.hidden = shown.length === 0;
    const focused = document.activeElement && this.root.contains(document.activeElement);
    if (focused && document.activeElement.matches("textarea, input[type=text]")) return; // don't wipe typing
    this.list.replaceChildren(...shown.map((p) => this.card(p)));
  }

  card(poll) {
    const mine = this.answers.get(poll.id);
    const item = el("li", { class: `poll-card state-${poll.state}`, dataset: { poll: String(poll.id) } });
    const head = el("div", { class: "poll-head" }, el("span", { class: "badge", text: kindLabel(poll) }), el("span", { class: "badge", text: t[`poll.state.${poll.state}`] }));
    const left = secondsLeft(poll);
    if (left !== null) head.append(el("span", { class: "badge timer", dataset: { deadline: String(poll.deadline), poll: String(poll.id) }, text: fmt("poll.time_left", { s: left }) }));
    item.append(head, el("h3", { class: "poll-prompt", text: poll.prompt }));
    const canAnswer = !mine && (poll.state === "open" || (poll.quiz && ["ended", "archived"].includes(document.body.dataset.state)));
    if (canAnswer) item.append(this.form(poll));
    if (mine) item.append(this.feedback(poll, mine));
    // A quiz question's results wait until you have answered: the majority's choice is a hint otherwise.
    if (poll.results && (!poll.quiz || mine)) item.append(renderResults({ ...poll, correct_options: mine && mine.correct_options }, poll.results));
    else if (poll.results_to === "staff" && mine) item.append(el("p", { class: "muted small", text: t["poll.results_staff_only"] }));
    return item;
  }

  feedback(poll, mine) {
    const box = el("div", { class: "poll-mine", role: "status" });
    box.append(el("p", { text: `${t["poll.your_answer"]}: ${describe(poll, mine.answer)}` }));
    if (mine.correct != null) {
      box.append(el("p", { class: mine.correct ? "ok" : "danger", text: mine.correct ? t["poll.correct"] : t["poll.wrong"] }));
      if (!mine.correct) box.append(el("p", { class: "muted", text: fmt("poll.right_answer", { answer: mine.correct_options.map((i) => poll.options[i]).join("、") }) }));
    }
    return box;
  }

  form(poll) {
    const form = el("form", { class: "poll-form form", novalidate: true });
    const name = `poll-${poll.id}`;
    let read;
    if (poll.kind === "single" || poll.kind === "multiple") {
      const type = poll.kind === "single" ? "radio" : "checkbox";
      const set = el("fieldset", {}, el("legend", { class: "sr-only", text: poll.prompt }));
      poll.options.forEach((option, i) => set.append(el("label", { class: "check poll-option" }, el("input", { type, name, value: String(i) }), ` ${option}`)));
      form.append(set);
      read = () => {
        const picked = [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((n) => Number(n.value));
        if (!picked.length) return undefined;
        return poll.kind === "single" ? picked[0] : picked;
      };
    } else if (poll.kind === "rating") {
      const set = el("fieldset", { class: "poll-stars" }, el("legend", { class: "sr-only", text: poll.prompt }));
      for (let s = 1; s <= 5; s += 1) set.append(el("label", { class: "star" }, el("input", { type: "radio", name, value: String(s), "aria-label": fmt("poll.stars", { n: s }) }), el("span", { "aria-hidden": "true", text: "★" })));
      form.append(set);
      read = () => {
        const n = form.querySelector(`input[name="${name}"]:checked`);
        return n ? Number(n.value) : undefined;
      };
    } else if (poll.kind === "open") {
      const input = el("input", { type: "text", maxlength: "200", placeholder: t["poll.text_placeholder"], "aria-label": poll.prompt });
      form.append(input);
      read = () => (input.value.trim() ? input.value.trim() : undefined);
    } else {
      const order = poll.options.map((_, i) => i);
      const list = el("ol", { class: "poll-ranking" });
      const draw = () => {
        list.replaceChildren(
          ...order.map((i, place) =>
            el(
              "li",
              {},
              el("span", { text: poll.options[i] }),
              el("button", { type: "button", class: "button small", "aria-label": `${t["poll.rank_up"]}: ${poll.options[i]}`, disabled: place === 0, onclick: () => { [order[place - 1], order[place]] = [order[place], order[place - 1]]; draw(); } }, "↑"),
              el("button", { type: "button", class: "button small", "aria-label": `${t["poll.rank_down"]}: ${poll.options[i]}`, disabled: place === order.length - 1, onclick: () => { [order[place + 1], order[place]] = [order[place], order[place + 1]]; draw(); } }, "↓"),
            ),
          ),
        );
      };
      draw();
      form.append(el("p", { class: "muted small", text: t["poll.rank_hint"] }), list);
      read = () => [...order];
    }
    const error = el("p", { class: "form-error", role: "alert", hidden: true });
    form.append(el("button", { type: "submit", class: "button primary", text: t["poll.submit"] }), error);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const answer = read();
      if (answer === undefined) {
        error.textContent = t["poll.choose"];
        error.hidden = false;
        return;
      }
      if (!(await this.ensureJoined())) return;
      try {
        const mine = await api("POST", `${this.base}/polls/${poll.id}/answer`, { answer });
        this.answers.set(poll.id, mine);
        toast(t["poll.thanks"], "ok");
        document.activeElement.blur();
        this.render();
        this.onAnswered(mine);
      } catch (err) {
        error.textContent = err.code === "registration_required" ? t["quiz.register"] : errorText(err);
        error.hidden = false;
        if (err.code === "registration_required") showRegistration();
      }
    });
    return form;
  }
}

/** A quiz needs a name: open the page's registration form (joining again names this browser). */
function showRegistration() {
  const panel = $("#join-panel");
  const form = $("#join-form");
  if (!panel || !form) return;
  panel.hidden = false;
  form.hidden = false;
  form.querySelector("input").focus();
}

function describe(poll, answer) {
  if (poll.kind === "rating") return fmt("poll.stars", { n: answer });
  if (poll.kind === "open") return answer;
  const picked = Array.isArray(answer) ? answer : [answer];
  return picked.map((i) => poll.options[i]).join(poll.kind === "ranking" ? " > " : "、");
}
