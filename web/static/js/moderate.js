// The moderator console (/e/{slug}/moderate): review incoming questions (approve, edit, reject with a
// reason, merge with duplicate suggestions, pin), order the live queue, bulk actions, pre/post mode,
// banned words, mute/ban, filters, backstage notes to the expert, live counters, keyboard shortcuts.
import { $, api, coalesced, connectionBanner, el, errorMessage, fmt, page, stakeholderLabel, t, toast } from "./common.js";
import { Captions } from "./captions.js";
import { LiveSocket } from "./live.js";
import { StaffPolls } from "./polls_staff.js";
import { Notes } from "./notes.js";
import { button, queueCard, reviewCard, toggle, useConsole } from "./moderate_cards.js";
import { answerBlock, metaLine, renderKeepingFocus } from "./questions.js";
import { bindShortcuts } from "./shortcuts.js";
import { QuestionStore } from "./store.js";
import { StagePanel } from "./stage_staff.js";
import { BannedWords } from "./wordlist.js";

const slug = page.slug;
const base = `/api/v1/events/${encodeURIComponent(slug)}`;

const store = new QuestionStore({ staff: true });
const selected = new Set();
const people = new Map(); // participant id -> {name, organisation, stakeholder, standing}
let open = null; // {id, kind: "edit" | "reject" | "merge"}
let current = null; // id of the card the keyboard acts on
let mode = page.moderation_mode;
let ready = false;
const notes = new Notes($("#notes"), $("#note-form"), $("#note-text"), base);
// The programme's live captions; a moderator corrects a misheard line in place (audited).
const captions = new Captions($("#caption-box"), $("#caption-box").parentElement, { slug: page.slug, canEdit: true });
useConsole({
  store,
  selected,
  get open() {
    return open;
  },
  set open(value) {
    open = value;
  },
  get current() {
    return current;
  },
  set current(value) {
    current = value;
  },
  act: (...args) => act(...args),
  approve: (q) => approve(q),
  pinNext: (q) => pinNext(q),
  setStanding: (...args) => setStanding(...args),
  move: (...args) => move(...args),
  moveOn: (id) => moveOn(id),
  render: () => render(),
  renderBulk: () => renderBulk(),
  invite: (q) => stagePanel.invite(q.id, false),
});

// The stage: a moderator hosts it too; they preview (see and hear) each viewer invited on air, backstage
// before putting them on air, and cut them with one click.
const stagePanel = new StagePanel($("#stage-panel"), base, slug, { watch: (m) => m.kind === "guest" });
stagePanel.questionText = (id) => (store.questions.get(id) || {}).text || "";

const staffPolls = new StaffPolls($("#polls-staff"), `/api/v1/events/${encodeURIComponent(slug)}`);

const socket = new LiveSocket(slug, {
  onSnapshot(data) {
    captions.load(data.captions);
    staffPolls.load(data.polls);
    store.load(data);
    notes.load(data.notes || []);
    stagePanel.load(data.stage);
    setMode(data.event.moderation_mode);
    setEventState(data.event.state);
    $("#n-viewers").textContent = String(data.viewers);
    for (const q of store.all()) rememberAsker(q);
    ready = true;
    renderSoon();
  },
  onFrame(frame) {
    if (staffPolls.apply(frame)) return;
    switch (frame.type) {
      case "presence":
        $("#n-viewers").textContent = String(frame.data.viewers);
        return;
      case "event.mode":
        setMode(frame.data.mode);
        return;
      case "note":
        notes.add(frame.data);
        return;
      case "stage":
        stagePanel.load(frame.data);
        return;
      case "caption":
        captions.apply(frame.data);
        return;
      case "participant.standing": {
        const p = people.get(frame.data.participant_id) || {};
        people.set(frame.data.participant_id, { ...p, standing: frame.data.standing });
        for (const q of store.all()) if (q.asker && q.asker.id === frame.data.participant_id) q.asker_standing = frame.data.standing;
        renderSoon();
        return;
      }
      case "event.state":
        setEventState(frame.data.state);
        return;
      case "stream.state":
        // The stream can start before anyone presses "go live": the event is live from then on.
        if (frame.data.state === "live" && document.body.dataset.state === "scheduled") setEventState("live");
        if (frame.data.state === "ended") setEventState("ended");
        return;
      default:
        if (store.apply(frame)) {
          if (frame.data && frame.data.asker) rememberAsker(frame.data);
          renderSoon();
        }
    }
  },
  onStatus: connectionBanner($("#conn-banner")),
  staff: true,
}).start();

function setEventState(state) {
  if (!state) return;
  document.body.dataset.state = state;
  const badge = $("#event-state");
  badge.className = `badge state-${state}`;
  badge.textContent = t[`state.${state}`];
}

function rememberAsker(q) {
  if (!q.asker) return;
  const known = people.get(q.asker.id) || {};
  people.set(q.asker.id, { ...known, ...q.asker, standing: q.asker_standing || known.standing || "active" });
}

// ---- actions -----------------------------------------------------------------------------------
async function act(id, action, extra = {}) {
  try {
    await api("POST", `${base}/questions/${id}/actions`, { action, ...extra });
    return true;
  } catch (err) {
    toast(errorMessage(err), "error");
    return false;
  }
}

async function approve(q) {
  if (q.status !== "pending") return;
  moveOn(q.id); // at once, so a fast second keypress acts on the next card, not this one again
  await act(q.id, "approve");
}

async function pinNext(q) {
  if (q.status === "pending" && !(await act(q.id, "approve"))) return;
  await act(q.id, q.pinned ? "unpin" : "pin");
}

async function setStanding(participantId, standing) {
  const who = people.get(participantId);
  const name = (who && who.name) || t["queue.anonymous"];
  if (standing !== "active" && !window.confirm(fmt(`mod.confirm_${standing}`, { name }))) return;
  try {
    await api("POST", `${base}/participants/${participantId}/standing`, { standing });
    toast(fmt(`mod.done_${standing}`, { name }), "ok");
  } catch (err) {
    toast(errorMessage(err), "error");
  }
}

function setMode(value) {
  mode = value;
  for (const button of document.querySelectorAll("[data-mode]")) button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
}
for (const button of document.querySelectorAll("[data-mode]")) {
  button.addEventListener("click", async () => {
    if (button.dataset.mode === mode) return;
    try {
      const out = await api("PATCH", `${base}/moderation`, { moderation_mode: button.dataset.mode });
      setMode(out.moderation_mode);
      toast(t[`mod.mode_now_${out.moderation_mode}`], "ok");
    } catch (err) {
      toast(errorMessage(err), "error");
    }
  });
}

/** After acting on the focused card, the keyboard moves to the next one (an inbox-zero flow). */
function moveOn(id) {
  if (current !== id) return;
  const ids = reviewItems().map((q) => q.id);
  const i = ids.indexOf(id);
  current = i < 0 ? (ids[0] ?? null) : (ids[i + 1] ?? ids[i - 1] ?? null);
  const card = current === null ? null : document.querySelector(`#review-list [data-id="${current}"]`);
  if (card) card.focus({ preventScroll: true });
}

// ---- banned words ------------------------------------------------------------------------------
const bannedWords = new BannedWords(base, $("#words"), $("#word-form"), $("#word-text"));

// ---- ordering the live queue ---------------------------------------------------------------------
function queueItems() {
  return store.sorted("popular", (q) => q.status === "approved" || q.status === "answering");
}

/** Move an approved question up or down: place the questions above the target explicitly
 * (positions 10, 20, …), so the order the moderator sees is the order everyone gets. */
async function move(q, delta) {
  const order = queueItems().filter((x) => x.status === "approved" && !x.pinned);
  const i = order.findIndex((x) => x.id === q.id);
  const j = i + delta;
  if (i < 0 || j < 0 || j >= order.length) return;
  [order[i], order[j]] = [order[j], order[i]];
  const upto = Math.max(i, j);
  for (let k = 0; k <= upto; k += 1) {
    const want = (k + 1) * 10;
    if (order[k].position !== want) {
      order[k].position = want; // optimistic; the reordered frame confirms it
      if (!(await act(order[k].id, "reorder", { position: want }))) break;
    }
  }
  current = q.id;
  render();
}

// ---- rendering ---------------------------------------------------------------------------------
function filters() {
  return {
    status: $("#f-status").value,
    topic: $("#f-topic").value,
    group: $("#f-group").value,
    text: $("#f-text").value.trim().toLowerCase(),
  };
}

function reviewItems() {
  const f = filters();
  const match = (q) =>
    (f.status === "all" || q.status === f.status) &&
    (!f.topic || q.topic === f.topic) &&
    (!f.group || (q.asker && q.asker.stakeholder === f.group)) &&
    (!f.text || q.text.toLowerCase().includes(f.text) || (q.asker && `${q.asker.name} ${q.asker.organisation}`.toLowerCase().includes(f.text)));
  if (f.status === "pending") return store.all().filter(match).sort((a, b) => a.created_at - b.created_at || a.id - b.id);
  return store.sorted("popular", match);
}

function renderBulk() {
  for (const id of selected) if (!store.questions.has(id)) selected.delete(id);
  $("#bulk-approve").disabled = ![...selected].some((id) => store.questions.get(id).status === "pending");
  $("#bulk-reject").disabled = selected.size === 0;
  $("#selected-count").textContent = selected.size ? fmt("mod.selected", { n: selected.size }) : "";
}

function renderRestricted() {
  const rows = [...people.entries()].filter(([, p]) => p.standing && p.standing !== "active");
  $("#restricted").replaceChildren(
    ...rows.map(([id, p]) =>
      el(
        "li",
        { class: "note" },
        el("p", { text: [p.name || t["queue.anonymous"], p.organisation, stakeholderLabel(p.stakeholder)].filter(Boolean).join(" · ") }),
        el("span", { class: "chip chip-rejected", text: t[`mod.standing.${p.standing}`] }),
        button(t["mod.unrestrict"], "ghost", () => setStanding(id, "active")),
      ),
    ),
  );
  $("#restricted-empty").hidden = rows.length > 0;
}

function answeredCard(q) {
  return el(
    "div",
    { class: "mcard status-answered", role: "listitem", "data-id": q.id },
    el("div", { class: "q-body" }, el("p", { class: "q-text", text: q.text }), metaLine(q, { staffView: true }), answerBlock(q)),
  );
}

// Frames can arrive many times a second (votes): redraw for them at most once per animation frame.
// What a person does redraws at once (`render`).
const renderSoon = coalesced(() => render());

function render() {
  if (!ready) return;
  const review = reviewItems();
  renderKeepingFocus($("#review-list"), review.map(reviewCard));
  $("#review-empty").hidden = review.length > 0;
  const queue = queueItems();
  renderKeepingFocus($("#queue-list"), queue.map((q) => queueCard(q, queue)));
  $("#queue-empty").hidden = queue.length > 0;
  // Answered questions stay in sight (newest first) without touching the review filter.
  const answered = store.all().filter((q) => q.status === "answered").sort((a, b) => (b.answered_at || 0) - (a.answered_at || 0));
  renderKeepingFocus($("#answered-list"), answered.map(answeredCard));
  $("#answered-count").textContent = answered.length ? String(answered.length) : "";
  $("#answered-empty").hidden = answered.length > 0;
  $("#n-pending").textContent = String(store.count("pending"));
  $("#n-approved").textContent = String(store.count("approved") + store.count("answering"));
  $("#n-answered").textContent = String(store.count("answered"));
  $("#n-rejected").textContent = String(store.count("rejected"));
  document.title = `(${store.count("pending")}) ${t["staff.moderate"]} · ${page.title}`;
  // The card we acted on left the list: keep the keyboard on the one that took its place.
  if (current !== null && (document.activeElement === document.body || !document.activeElement)) {
    const card = document.querySelector(`#review-list [data-id="${current}"]`);
    if (card) card.focus({ preventScroll: true });
  }
  renderBulk();
  renderRestricted();
}

for (const id of ["#f-status", "#f-topic", "#f-group"]) $(id).addEventListener("change", render);
$("#f-text").addEventListener("input", render);
$("#select-all").addEventListener("change", (event) => {
  for (const q of reviewItems()) {
    if (event.target.checked) selected.add(q.id);
    else selected.delete(q.id);
  }
  render();
});
$("#bulk-approve").addEventListener("click", async () => {
  const ids = [...selected].filter((id) => store.questions.get(id).status === "pending");
  let done = 0;
  for (const id of ids) if (await act(id, "approve")) done += 1;
  selected.clear();
  $("#select-all").checked = false;
  toast(fmt("mod.bulk_approved", { n: done }), "ok");
  render();
});
$("#bulk-reject").addEventListener("click", () => {
  $("#bulk-reject-form").hidden = false;
  $("#bulk-reason").focus();
});
$("#bulk-reject-cancel").addEventListener("click", () => ($("#bulk-reject-form").hidden = true));
$("#bulk-reject-form").addEventListener("keydown", (event) => event.stopPropagation());
$("#bulk-reject-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const reason = $("#bulk-reason").value;
  const note = $("#bulk-note").value.trim() || null;
  let done = 0;
  for (const id of [...selected]) {
    const q = store.questions.get(id);
    if (q && (q.status === "pending" || q.status === "approved") && (await act(id, "reject", { reason, reason_text: note }))) done += 1;
  }
  selected.clear();
  $("#select-all").checked = false;
  $("#bulk-reject-form").hidden = true;
  $("#bulk-note").value = "";
  toast(fmt("mod.bulk_rejected", { n: done }), "ok");
  render();
});

// ---- keyboard shortcuts ------------------------------------------------------------------------
function step(delta) {
  const ids = reviewItems().map((q) => q.id);
  if (!ids.length) return false;
  const i = ids.indexOf(current);
  current = ids[Math.max(0, Math.min(ids.length - 1, i < 0 && delta < 0 ? 0 : i + delta))];
  const card = document.querySelector(`#review-list [data-id="${current}"]`);
  if (card) card.focus();
  render();
  return true;
}

/** A shortcut acting on the current card; false (key not handled) when there is none. */
function onCurrent(action) {
  return () => {
    const q = store.questions.get(current);
    if (!q) return false;
    action(q);
    return true;
  };
}

bindShortcuts({
  j: () => step(1),
  ArrowDown: () => step(1),
  k: () => step(-1),
  ArrowUp: () => step(-1),
  "/": () => $("#f-text").focus(),
  a: onCurrent(approve),
  e: onCurrent((q) => toggle(q.id, "edit")),
  r: onCurrent((q) => toggle(q.id, "reject")),
  m: onCurrent((q) => toggle(q.id, "merge")),
  p: onCurrent(pinNext),
  x: onCurrent((q) => {
    if (selected.has(q.id)) selected.delete(q.id);
    else selected.add(q.id);
    render();
  }),
});

const rateInput = $("#rate-seconds");
$("#rate-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const out = await api("PATCH", `${base}/moderation`, { rate_limit_seconds: Number(rateInput.value) });
    rateInput.value = String(out.rate_limit_seconds);
    toast(fmt("mod.rate_saved", { n: out.rate_limit_seconds }), "ok");
  } catch (err) {
    toast(errorMessage(err), "error");
  }
});

bannedWords
  .load()
  .then((out) => {
    setMode(out.moderation_mode);
    rateInput.value = String(out.rate_limit_seconds);
  })
  .catch((err) => toast(errorMessage(err), "error"));
setInterval(render, 30000);
