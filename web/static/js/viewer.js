// The viewer page (/e/{slug}): live video with its state, registration, asking with feedback, the public
// queue (popular / recent / answered / mine) with votes, the question being answered, viewer count, and
// speaking on air (连麦) on one's own question (stage_viewer.js).
import { $, api, coalesced, connectionBanner, dateTime, el, fmt, page, reasonLabel, t, toast } from "./common.js";
import { Captions } from "./captions.js";
import { LiveSocket } from "./live.js";
import { Player } from "./player.js";
import { errorText, Registration } from "./viewer_join.js";
import { answerBlock, metaLine, metaText, renderKeepingFocus, statusChip } from "./questions.js";
import { QuestionStore } from "./store.js";
import { PollsPanel } from "./polls_viewer.js";
import { surveyAtTheEnd } from "./survey.js";
import { ownActions } from "./own_question.js";
import { GuestStage } from "./stage_viewer.js";

const slug = page.slug;
const base = `/api/v1/events/${encodeURIComponent(slug)}`;
const MAX_LEN = 500;
const MIN_LEN = 2;

const store = new QuestionStore();
let view = "popular";
let eventState = page.state;
let ready = false;

const player = new Player($("#player"), { slug, eventState, startsAt: page.starts_at });
player.render();
const captions = new Captions($("#player"), $("#player").parentElement, { slug });
const guestStage = new GuestStage($("#stage-guest"), base, slug, { onChange: () => renderSoon() });

// ---- live connection ---------------------------------------------------------------------------
// Polls (polls_viewer.js) share this page's socket; answering joins an open event on the way, like asking.
const polls = new PollsPanel($("#polls-panel"), base, { ensureJoined: () => registration.ensureJoined() });
surveyAtTheEnd($("#survey-panel"), base, () => registration.ensureJoined());

const socket = new LiveSocket(slug, {
  onSnapshot(data) {
    captions.load(data.captions);
    polls.load(data);
    store.load(data);
    ready = true;
    setEventState(data.event.state);
    player.setStreamState(data.stream.state, data.stream.sources);
    setViewers(data.viewers);
    if (registration.me) guestStage.refresh();
    renderSoon();
  },
  onFrame(frame) {
    if (polls.apply(frame)) return;
    switch (frame.type) {
      case "stream.state":
        player.setStreamState(frame.data.state, frame.data.sources);
        if (frame.data.state === "ended") setEventState("ended");
        else if (frame.data.state === "live" && eventState === "scheduled") setEventState("live");
        return;
      case "event.state":
        setEventState(frame.data.state);
        return;
      case "presence":
        setViewers(frame.data.viewers);
        return;
      case "event.mode":
        page.moderation_mode = frame.data.mode;
        return;
      case "caption":
        captions.apply(frame.data);
        return;
      case "stage":
        guestStage.onStage();
        return;
      case "notice":
        if (guestStage.onNotice(frame.data)) return;
        store.apply(frame);
        onNotice(frame.data);
        renderSoon();
        return;
      default:
        if (store.apply(frame)) renderSoon();
    }
  },
  onStatus: connectionBanner($("#conn-banner")),
}).start();

function setViewers(n) {
  const node = $("#viewer-count");
  node.hidden = false;
  $(".n", node).textContent = String(n);
}

function setEventState(state) {
  if (!state || state === eventState) return;
  eventState = state;
  document.body.dataset.state = state;
  const badge = $("#event-state");
  badge.className = `badge state-${state}`;
  badge.textContent = t[`state.${state}`];
  player.setEventState(state);
  renderAskState();
}

// ---- joining -----------------------------------------------------------------------------------
const registration = new Registration(base, page, () => {
  // The cookie now carries who we are: resume the socket (last id kept) to receive our own notices.
  socket.reconnectNow();
  renderAskState();
  guestStage.refresh();
});

// ---- asking ------------------------------------------------------------------------------------
const askForm = $("#ask-form");
const askText = $("#ask-text");
const feedback = $("#ask-feedback");
const submitButton = $("#ask-submit");
const submitLabel = submitButton.textContent;
let cooldownUntil = 0; // asked too soon (429): the button counts down to when sending is allowed
let cooldownTimer = null;

function updateCounter() {
  const n = askText.value.trim().length;
  const counter = $("#ask-count");
  counter.textContent = `${askText.value.length} / ${MAX_LEN}`;
  counter.classList.toggle("warn", askText.value.length > MAX_LEN - 50);
  submitButton.disabled = n < MIN_LEN || eventState === "ended" || eventState === "archived" || Date.now() < cooldownUntil;
}
askText.addEventListener("input", updateCounter);
askText.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) askForm.requestSubmit();
});

function showFeedback(kind, message) {
  feedback.hidden = false;
  feedback.className = `ask-feedback feedback-${kind}`;
  feedback.textContent = message;
}

/** The server said "too soon": count down on the button, then say sending works again (the text is kept). */
function coolDown(seconds) {
  cooldownUntil = Date.now() + seconds * 1000;
  clearInterval(cooldownTimer);
  const tick = () => {
    const left = Math.ceil((cooldownUntil - Date.now()) / 1000);
    if (left > 0) {
      submitButton.textContent = fmt("ask.send_in", { n: left });
      showFeedback("error", fmt("error.rate_limited_wait", { n: left }));
    } else {
      clearInterval(cooldownTimer);
      submitButton.textContent = submitLabel;
      showFeedback("info", t["ask.send_now"]);
    }
    updateCounter();
  };
  tick();
  cooldownTimer = setInterval(tick, 1000);
}

function renderAskState() {
  const closed = eventState === "ended" || eventState === "archived";
  // After the end a "sent, waiting for review" line would promise what will not happen.
  if (closed) feedback.hidden = true;
  askText.disabled = closed || (registration.me && registration.me.standing !== "active");
  if (closed) {
    askText.placeholder = t["ask.closed"];
  } else if (registration.me && registration.me.standing === "muted") {
    askText.placeholder = t["ask.muted"];
  } else if (registration.me && registration.me.standing === "banned") {
    askText.placeholder = t["ask.banned"];
  } else if (!registration.me && page.join_policy !== "open") {
    askText.placeholder = t["ask.register_first"];
  } else {
    askText.placeholder = t["ask.placeholder"];
  }
  const anon = $("#ask-anonymous");
  const anonymousAlready = Boolean(registration.me && registration.me.anonymous);
  if (anon) anon.closest("label").hidden = anonymousAlready;
  $("#ask-as-anonymous").hidden = !anonymousAlready;
  updateCounter();
}

askForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = askText.value.trim();
  if (text.length < MIN_LEN) {
    showFeedback("error", fmt("ask.too_short", { n: MIN_LEN }));
    return;
  }
  const button = $("#ask-submit");
  button.disabled = true;
  try {
    if (!(await registration.ensureJoined())) return;
    const body = { text, anonymous: Boolean($("#ask-anonymous") && $("#ask-anonymous").checked) };
    const topic = $("#ask-topic");
    if (topic && topic.value) body.topic = topic.value;
    const out = await api("POST", `${base}/questions`, body);
    store.mine.set(out.id, { id: out.id, text: out.text, status: out.status, votes: 0, created_at: Date.now() / 1000, held_reason: out.held_reason });
    askText.value = "";
    // The next question starts untagged: a topic kept from the last one mislabels it (and the report).
    if (topic) topic.value = "";
    showFeedback(out.status === "approved" ? "ok" : "info", submittedMessage(out));
    render();
  } catch (err) {
    const wait = Math.ceil(Number(err.info && err.info.retry_after) || 0);
    if (err.code === "rate_limited" && wait > 0) coolDown(wait);
    else showFeedback("error", errorText(err));
  } finally {
    updateCounter();
  }
});

function submittedMessage(out) {
  if (out.status === "approved") return t["ask.sent_live"];
  if (out.held_reason === "duplicate") return t["ask.held_duplicate"];
  if (out.held_reason === "link") return t["ask.held_link"];
  if (out.held_reason) return t["ask.held_review"];
  return t["ask.sent_pending"];
}

// ---- notices about my questions ------------------------------------------------------------------

/** A notice about the asker's question: a toast (one at a time), and the line under the form, which said
 * "sent, waiting for review", now says what became of it. (The asker's own tabs also hear of the
 * submission itself, which changes nothing.) */
function tell(message, kind, ms) {
  toast(message, kind, ms);
  if (!feedback.hidden && !feedback.classList.contains("feedback-error")) showFeedback(kind === "warn" ? "error" : "ok", message);
}

function onNotice(notice) {
  const q = notice.question;
  switch (notice.type) {
    case "question.approved":
      tell(t["notice.approved"], "ok");
      break;
    case "question.rejected": {
      const reason = q && q.reason_code ? reasonLabel(q.reason_code) : "";
      const note = q && q.reason_text ? ` — ${q.reason_text}` : "";
      tell(fmt("notice.rejected", { reason }) + note, "warn", 10000);
      break;
    }
    case "question.merged":
      tell(t["notice.merged"], "info");
      break;
    case "question.answering":
      tell(t["notice.answering"], "ok", 10000);
      break;
    case "question.answered":
      tell(t["notice.answered"], "ok");
      break;
    case "participant.standing":
      if (registration.me) registration.me.standing = notice.standing;
      toast(t[`notice.standing.${notice.standing}`] || notice.standing, notice.standing === "active" ? "ok" : "warn", 10000);
      renderAskState();
      break;
    default:
  }
}

// ---- voting ------------------------------------------------------------------------------------
async function toggleVote(q) {
  try {
    if (!(await registration.ensureJoined())) return;
  } catch (err) {
    toast(errorText(err), "error");
    return;
  }
  const up = !store.voted.has(q.id);
  const current = store.questions.get(q.id);
  // Optimistic: the button answers at once; the coalesced count frame confirms a moment later.
  if (up) store.voted.add(q.id);
  else store.voted.delete(q.id);
  if (current) current.votes += up ? 1 : -1;
  render();
  try {
    const out = await api(up ? "PUT" : "DELETE", `${base}/questions/${q.id}/vote`);
    if (current) current.votes = out.votes;
  } catch (err) {
    if (current) current.votes += up ? -1 : 1; // undo the optimistic count; the count frame has the truth
    // Already voted / not voted: this page was out of step with the server, which knows better.
    if (err.code === "already_voted") store.voted.add(q.id);
    else if (err.code === "not_voted") store.voted.delete(q.id);
    else {
      if (up) store.voted.delete(q.id);
      else store.voted.add(q.id);
      toast(errorText(err), "error");
    }
  }
  render();
}

// ---- rendering ---------------------------------------------------------------------------------
function questionItem(q) {
  const voted = store.voted.has(q.id);
  const answered = q.status === "answered";
  const mine = store.mine.has(q.id);
  const vote = el(
    "button",
    {
      type: "button",
      class: "vote",
      "data-role": "vote",
      "aria-pressed": voted ? "true" : "false",
      "aria-label": fmt(mine ? "queue.own_label" : voted ? "queue.unvote_label" : "queue.vote_label", { n: q.votes }),
      title: mine ? t["queue.own_hint"] : null,
      // Votes are for other people's questions, and close once a question is answered.
      disabled: answered || mine || eventState === "archived",
      onclick: () => toggleVote(q),
    },
    el("span", { class: "vote-arrow", "aria-hidden": "true", text: "▲" }),
    el("span", { class: "vote-count", text: String(q.votes) }),
  );
  return el(
    "li",
    { class: `q status-${q.status}${q.pinned ? " pinned" : ""}${mine ? " mine" : ""}`, "data-id": q.id, "data-status": q.status },
    vote,
    el(
      "div",
      { class: "q-body" },
      statusChip(q),
      mine ? el("span", { class: "chip chip-mine", text: t["queue.yours"] }) : null,
      el("p", { class: "q-text", text: q.text }),
      metaLine(q),
      answerBlock(q),
      mine && !answered && eventState === "live" ? guestStage.handButton(q) : null,
    ),
  );
}

const MINE_STATUS = {
  pending: ["chip-pending", "mine.pending"],
  approved: ["chip-ok", "mine.approved"],
  answering: ["chip-answering", "queue.answering_now"],
  answered: ["chip-answered", "queue.answered_chip"],
  rejected: ["chip-rejected", "mine.rejected"],
  merged: ["chip-muted", "mine.merged"],
};

function mineItem(q) {
  const [cls, key] = MINE_STATUS[q.status] || ["chip-muted", q.status];
  const detail = [];
  if (q.status === "rejected") {
    const note = q.reason_text ? ` — ${q.reason_text}` : "";
    detail.push(el("p", { class: "reason", text: fmt("mine.reason_line", { reason: reasonLabel(q.reason_code) }) + note }));
  } else if (q.status === "merged") {
    detail.push(el("p", { class: "reason", text: t["mine.merged_detail"] }));
  } else if (q.status === "pending") {
    detail.push(el("p", { class: "reason", text: q.held_reason ? t["mine.held"] : t["mine.pending_detail"] }));
    detail.push(ownActions(q, base, store, renderSoon));
  } else if ((q.status === "approved" || q.status === "answering") && eventState === "live") {
    detail.push(guestStage.handButton(q)); // ask to put it by voice (连麦)
  }
  return el(
    "li",
    { class: `q mine-item status-${q.status}`, "data-id": q.id, "data-status": q.status },
    el(
      "div",
      { class: "q-body" },
      el("span", { class: `chip ${cls}`, text: t[key] || key }),
      el("p", { class: "q-text", text: q.text }),
      ...detail,
      answerBlock(q),
    ),
  );
}

// Frames can arrive many times a second (votes): redraw for them at most once per animation frame.
// What a person does redraws at once (`render`).
const renderSoon = coalesced(() => render());

function render() {
  if (!ready) return;
  player.setChapters(
    store
      .all()
      .filter((q) => q.answering_at && (q.status === "answering" || q.status === "answered"))
      .sort((a, b) => a.answering_at - b.answering_at)
      .map((q) => ({ id: q.id, text: q.text, at: q.answering_at })),
  );
  const list = $("#queue-list");
  let items;
  let empty;
  if (view === "mine") {
    items = [...store.mine.values()].sort((a, b) => b.created_at - a.created_at).map(mineItem);
    empty = t["queue.empty_mine"];
  } else if (view === "answered") {
    items = store.sorted("recent", (q) => q.status === "answered").map(questionItem);
    empty = t["queue.empty_answered"];
  } else {
    items = store.sorted(view, (q) => q.status !== "answered").map(questionItem);
    empty = t["queue.empty"];
  }
  renderKeepingFocus(list, items);
  const emptyNode = $("#queue-empty");
  emptyNode.hidden = items.length > 0;
  emptyNode.textContent = empty;
  const open = store.all().filter((q) => q.status !== "answered").length;
  $("#queue-count").textContent = open ? String(open) : "";
  const answered = store.count("answered");
  $("#answered-count").textContent = answered ? String(answered) : "";
  $("#mine-count").textContent = store.mine.size ? String(store.mine.size) : "";
  renderNow();
}

function renderNow() {
  const q = store.answering();
  const box = $("#now-answering");
  box.hidden = !q;
  if (!q) return;
  $(".now-text", box).textContent = q.text;
  $(".now-meta", box).textContent = metaText(q);
}

// Tabs: click or arrow keys (roving tabindex, WAI-ARIA tabs pattern).
const tabs = [...document.querySelectorAll('[role="tab"]')];
function selectTab(tab, focus) {
  for (const other of tabs) {
    const on = other === tab;
    other.setAttribute("aria-selected", on ? "true" : "false");
    other.tabIndex = on ? 0 : -1;
  }
  $("#queue-list").setAttribute("aria-labelledby", tab.id);
  view = tab.dataset.view;
  if (focus) tab.focus();
  render();
}
for (const tab of tabs) {
  tab.addEventListener("click", () => selectTab(tab, false));
  tab.addEventListener("keydown", (event) => {
    const i = tabs.indexOf(tab);
    if (event.key === "ArrowRight") selectTab(tabs[(i + 1) % tabs.length], true);
    else if (event.key === "ArrowLeft") selectTab(tabs[(i - 1 + tabs.length) % tabs.length], true);
  });
}

// The header's start time is rendered in UTC by the server; show it in the reader's own time zone.
for (const node of document.querySelectorAll(".event-head time[datetime]")) node.textContent = dateTime(node.getAttribute("datetime"));

// Relative times stay fresh without a frame.
setInterval(render, 30000);
renderAskState();
