// The present view (/e/{slug}/present): full screen for the room or the stream. Shows what happened last:
// the question being answered (with the asker's organisation and group) or a poll launched / closed
// with its live results, in large type; follows the public WebSocket and resumes after a drop.
import { Captions } from "./captions.js";
import { $, connectionBanner, el, fmt, page, stakeholderLabel, t } from "./common.js";
import { LiveSocket } from "./live.js";
import { kindLabel, newer, renderResults, secondsLeft } from "./polls_render.js";

const stage = $("#present-stage");
// Live captions under the stage, for a room where the sound is low or someone cannot hear it.
const captions = new Captions($("#caption-box"), $("#present-caption-controls"), { slug: document.body.dataset.slug });
const polls = new Map();
let answering = null; // the question being answered
let focus = null; // {kind: "poll", id} | {kind: "question"}

function pickInitial(data) {
  polls.clear();
  for (const p of data.polls || []) polls.set(p.id, p);
  answering = (data.questions || []).find((q) => q.status === "answering") || null;
  const open = [...polls.values()].filter((p) => p.state === "open").sort((a, b) => (b.opened_at || 0) - (a.opened_at || 0));
  if (open.length) focus = { kind: "poll", id: open[0].id };
  else if (answering) focus = { kind: "question" };
  else focus = null;
}

function apply(frame) {
  const d = frame.data;
  switch (frame.type) {
    case "poll.opened":
    case "poll.closed":
      polls.set(d.id, { ...(polls.get(d.id) || {}), ...d });
      focus = { kind: "poll", id: d.id };
      break;
    case "poll.saved":
      polls.set(d.id, { ...(polls.get(d.id) || {}), ...d });
      break;
    case "poll.results": {
      const p = polls.get(d.poll_id);
      if (p && newer(p.results, d)) p.results = d;
      break;
    }
    case "question.answering":
      answering = d;
      focus = { kind: "question" };
      break;
    case "question.answered":
    case "question.reopened":
    case "question.rejected":
    case "question.merged":
      if (answering && answering.id === d.id) answering = null;
      break;
    case "stream.state":
      document.body.dataset.stream = d.state;
      break;
    case "caption":
      captions.apply(d);
      return;
    default:
      return;
  }
  render();
}

function render() {
  if (focus && focus.kind === "poll" && polls.has(focus.id)) {
    const p = polls.get(focus.id);
    const head = el("p", { class: "present-kicker" }, kindLabel(p), " · ", t[`poll.state.${p.state}`]);
    const left = secondsLeft(p);
    if (left !== null) head.append(" · ", el("span", { dataset: { deadline: String(p.deadline) }, text: fmt("poll.time_left", { s: left }) }));
    const body = p.results ? renderResults(p, p.results) : el("p", { class: "present-note", text: t["poll.results_staff_only"] });
    stage.replaceChildren(el("section", { class: "present-poll", dataset: { poll: String(p.id) } }, head, el("h1", { class: "present-main", text: p.prompt }), body));
    return;
  }
  if (answering) {
    const who = answering.asker;
    const meta = who
      ? [who.organisation, stakeholderLabel(who.stakeholder)].filter(Boolean).join(" · ")
      : t["present.anonymous"];
    stage.replaceChildren(
      el(
        "section",
        { class: "present-question" },
        el("p", { class: "present-kicker", text: t["present.answering"] }),
        el("h1", { class: "present-main", text: answering.text }),
        el("p", { class: "present-meta", text: [who && who.name, meta].filter(Boolean).join(" — ") }),
      ),
    );
    return;
  }
  stage.replaceChildren(
    el("section", { class: "present-idle" }, el("h1", { class: "present-main", text: page.title }), el("p", { class: "present-kicker", text: t["present.idle"] }), el("p", { class: "present-meta", text: `${t["present.scan"]}: ${location.origin}/e/${page.slug}` })),
  );
}

setInterval(() => {
  for (const node of stage.querySelectorAll("[data-deadline]")) {
    node.textContent = fmt("poll.time_left", { s: Math.max(0, Math.ceil(Number(node.dataset.deadline) - Date.now() / 1000)) });
  }
}, 1000);

new LiveSocket(page.slug, {
  onSnapshot(data) {
    captions.load(data.captions);
    pickInitial(data);
    render();
  },
  onFrame: apply,
  onStatus: connectionBanner($("#conn-banner")),
}).start();
