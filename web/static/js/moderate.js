// The moderator console (/e/{slug}/moderate): review incoming questions (approve, edit, reject with a
// reason, merge with duplicate suggestions, pin), order the live queue, bulk actions, pre/post mode,
// banned words, mute/ban, filters, backstage notes to the expert, live counters, keyboard shortcuts.
import { $, api, connectionBanner, el, fmt, page, reasonLabel, stakeholderLabel, t, toast } from "./common.js";
import { LiveSocket } from "./live.js";
import { Notes } from "./notes.js";
import { answerBlock, metaLine, renderKeepingFocus, statusChip } from "./questions.js";
import { QuestionStore, similarity } from "./store.js";

const slug = page.slug;
const base = `/api/v1/events/${encodeURIComponent(slug)}`;
const REASONS = ["off_topic", "duplicate", "inappropriate", "spam", "answered_elsewhere", "unclear", "other"];
// Suggest a merge when two questions share this much (character-bigram Dice, as the server's rule).
const SUGGEST_SIMILARITY = 0.5;

const store = new QuestionStore({ staff: true });
const selected = new Set();
const people = new Map(); // participant id -> {name, organisation, stakeholder, standing}
let open = null; // {id, kind: "edit" | "reject" | "merge"}
let current = null; // id of the card the keyboard acts on
let mode = page.moderation_mode;
let ready = false;
const notes = new Notes($("#notes"), $("#note-form"), $("#note-text"), base);

const socket = new LiveSocket(slug, {
  onSnapshot(data) {
    store.load(data);
    notes.load(data.notes || []);
    setMode(data.event.moderation_mode);
    $("#n-viewers").textContent = String(data.viewers);
    for (const q of store.all()) rememberAsker(q);
    ready = true;
    renderSoon();
  },
  onFrame(frame) {
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
      case "participant.standing": {
        const p = people.get(frame.data.participant_id) || {};
        people.set(frame.data.participant_id, { ...p, standing: frame.data.standing });
        for (const q of store.all()) if (q.asker && q.asker.id === frame.data.participant_id) q.asker_standing = frame.data.standing;
        renderSoon();
        return;
      }
      case "stream.state":
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
    toast(err.message, "error");
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
    toast(err.message, "error");
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
      toast(err.message, "error");
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
let words = [];
async function loadSettings() {
  try {
    const out = await api("GET", `${base}/moderation`);
    words = out.banned_words;
    setMode(out.moderation_mode);
    renderWords();
  } catch (err) {
    toast(err.message, "error");
  }
}
async function saveWords(next) {
  try {
    const out = await api("PATCH", `${base}/moderation`, { banned_words: next });
    words = out.banned_words;
    renderWords();
  } catch (err) {
    toast(err.message, "error");
  }
}
function renderWords() {
  $("#words").replaceChildren(
    ...words.map((word) =>
      el(
        "li",
        {},
        el("span", { text: word }),
        el("button", { type: "button", "aria-label": fmt("mod.remove_word", { word }), text: "×", onclick: () => saveWords(words.filter((w) => w !== word)) }),
      ),
    ),
  );
}
$("#word-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("#word-text");
  const word = input.value.trim();
  if (word && !words.includes(word)) saveWords([...words, word]);
  input.value = "";
});

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

function duplicateCandidates(q) {
  const out = [];
  const named = q.duplicate_of && store.questions.get(q.duplicate_of);
  if (named && !["rejected", "merged"].includes(named.status)) out.push(named);
  for (const other of store.all()) {
    if (other.id === q.id || out.includes(other) || ["rejected", "merged", "pending"].includes(other.status)) continue;
    if (similarity(q.text, other.text) >= SUGGEST_SIMILARITY) out.push(other);
  }
  return out.slice(0, 3);
}

function heldNote(q) {
  if (q.status !== "pending" || !q.held_reason) return null;
  return el("p", { class: "held", text: t[`mod.held.${q.held_reason}`] || q.held_reason });
}

function button(label, cls, onclick, extra = {}) {
  return el("button", { type: "button", class: `button small ${cls}`, text: label, onclick, ...extra });
}

function reviewCard(q) {
  const checkbox = el("input", {
    type: "checkbox",
    "aria-label": fmt("mod.select_question", { id: q.id }),
    checked: selected.has(q.id),
    "data-role": "select",
    onchange: (e) => {
      if (e.target.checked) selected.add(q.id);
      else selected.delete(q.id);
      renderBulk();
    },
  });
  const actions = el("div", { class: "actions" });
  if (q.status === "pending") {
    actions.append(button(t["mod.approve"], "ok solid", () => approve(q), { "data-role": "approve", "aria-keyshortcuts": "A" }));
  }
  if (["pending", "approved", "answering", "answered"].includes(q.status)) {
    actions.append(button(t["mod.edit"], "", () => toggle(q.id, "edit"), { "data-role": "edit", "aria-keyshortcuts": "E" }));
  }
  if (q.status === "pending" || q.status === "approved") {
    actions.append(button(t["mod.reject"], "danger", () => toggle(q.id, "reject"), { "data-role": "reject", "aria-keyshortcuts": "R" }));
    actions.append(button(t["mod.merge"], "", () => toggle(q.id, "merge"), { "data-role": "merge", "aria-keyshortcuts": "M" }));
    actions.append(button(q.pinned ? t["mod.unpin"] : t["mod.pin"], "", () => pinNext(q), { "data-role": "pin", "aria-keyshortcuts": "P" }));
  }
  if (q.status === "rejected") actions.append(button(t["mod.restore"], "", () => act(q.id, "reopen"), { "data-role": "reopen" }));
  if (q.asker && q.asker.id) {
    const standing = q.asker_standing || "active";
    if (standing === "active") {
      actions.append(button(t["mod.mute"], "ghost", () => setStanding(q.asker.id, "muted"), { "data-role": "mute" }));
      actions.append(button(t["mod.ban"], "ghost", () => setStanding(q.asker.id, "banned"), { "data-role": "ban" }));
    } else {
      actions.append(button(t["mod.unrestrict"], "ghost", () => setStanding(q.asker.id, "active"), { "data-role": "unmute" }));
    }
  }
  const chips = [statusChip(q)];
  if (q.status === "rejected") chips.push(el("span", { class: "chip chip-rejected", text: `${t["mine.rejected"]}: ${reasonLabel(q.reason_code)}` }));
  if (q.status === "merged") chips.push(el("span", { class: "chip chip-muted", text: fmt("mod.merged_into", { id: q.merged_into }) }));
  if (q.asker_standing && q.asker_standing !== "active") chips.push(el("span", { class: "chip chip-rejected", text: t[`mod.standing.${q.asker_standing}`] }));
  const dups = q.status === "pending" || q.status === "approved" ? duplicateCandidates(q) : [];
  const body = el(
    "div",
    { class: "q-body" },
    ...chips,
    el("p", { class: "q-text", text: q.text }),
    q.original_text ? el("p", { class: "reason", text: `${t["mod.original"]}: ${q.original_text}` }) : null,
    metaLine(q, { staffView: true }),
    heldNote(q),
    ...dups.map((d) =>
      el(
        "div",
        { class: "dup" },
        el("p", {}, el("strong", { text: `${t["mod.similar"]} #${d.id} ` }), el("span", { text: d.text })),
        button(fmt("mod.merge_into", { id: d.id }), "", () => merge(q, d.id), { "data-role": `merge-${d.id}` }),
      ),
    ),
    actions,
    inlineForm(q),
  );
  return el(
    "div",
    {
      class: `mcard status-${q.status}${current === q.id ? " current" : ""}`,
      role: "listitem",
      tabindex: "0",
      "data-id": q.id,
      "aria-label": q.text,
      onfocus: (e) => {
        if (e.target === e.currentTarget) current = q.id;
      },
      onclick: () => (current = q.id),
    },
    el("div", { class: "select" }, checkbox),
    body,
  );
}

function queueCard(q, index, list) {
  const approved = q.status === "approved";
  const movable = list.filter((x) => x.status === "approved" && !x.pinned);
  const k = movable.indexOf(q);
  const order = el(
    "div",
    { class: "order" },
    button("↑", "ghost", () => move(q, -1), { "aria-label": t["mod.move_up"], disabled: !approved || q.pinned || k <= 0, "data-role": "up" }),
    button("↓", "ghost", () => move(q, 1), { "aria-label": t["mod.move_down"], disabled: !approved || q.pinned || k < 0 || k >= movable.length - 1, "data-role": "down" }),
  );
  const actions = el("div", { class: "actions" });
  if (approved) {
    actions.append(button(t["studio.answer_now"], "live", () => act(q.id, "answering"), { "data-role": "answering" }));
    actions.append(button(q.pinned ? t["mod.unpin"] : t["mod.pin"], "", () => pinNext(q), { "data-role": "pin" }));
  }
  if (q.status === "answering") {
    actions.append(button(t["studio.mark_answered"], "ok solid", () => act(q.id, "answered"), { "data-role": "answered" }));
    actions.append(button(t["studio.back_to_queue"], "", () => act(q.id, "reopen"), { "data-role": "reopen" }));
  }
  actions.append(button(t["mod.edit"], "", () => toggle(q.id, "edit"), { "data-role": "edit" }));
  if (approved) actions.append(button(t["mod.reject"], "danger", () => toggle(q.id, "reject"), { "data-role": "reject" }));
  return el(
    "div",
    { class: `mcard status-${q.status}${q.pinned ? " pinned" : ""}`, role: "listitem", tabindex: "0", "data-id": q.id, "aria-label": q.text },
    order,
    el(
      "div",
      { class: "q-body" },
      statusChip(q),
      el("span", { class: "votes-pill", text: `▲ ${q.votes}` }),
      el("p", { class: "q-text", text: q.text }),
      metaLine(q, { staffView: true }),
      answerBlock(q),
      actions,
      inlineForm(q),
    ),
  );
}

function toggle(id, kind) {
  open = open && open.id === id && open.kind === kind ? null : { id, kind };
  current = id;
  render();
  const form = document.querySelector(`[data-id="${id}"] .inline-form`);
  if (form) (form.querySelector("textarea, select, input") || form).focus();
}

async function merge(q, into) {
  if (await act(q.id, "merge", { into })) {
    open = null;
    moveOn(q.id);
    toast(fmt("mod.merged_toast", { id: into }), "ok");
  }
}

function inlineForm(q) {
  if (!open || open.id !== q.id) return null;
  const close = button(t["common.cancel"], "ghost", () => {
    open = null;
    render();
  });
  if (open.kind === "edit") {
    const area = el("textarea", { rows: 3, maxlength: 2000, "aria-label": t["mod.edit_text"] });
    area.value = q.text;
    const row = el("div", { class: "row" });
    if (q.status === "pending") {
      row.append(
        button(t["mod.save_approve"], "ok solid", async () => {
          if (await act(q.id, "edit", { text: area.value, approve: true })) {
            open = null;
            moveOn(q.id);
            render();
          }
        }),
      );
    }
    row.append(
      button(t["common.save"], "", async () => {
        if (await act(q.id, "edit", { text: area.value })) {
          open = null;
          render();
        }
      }),
      close,
    );
    return el("div", { class: "inline-form", onkeydown: stopKeys }, area, row);
  }
  if (open.kind === "reject") {
    const select = el("select", { "aria-label": t["mod.reject_reason"] }, ...REASONS.map((r) => el("option", { value: r, text: reasonLabel(r) })));
    const note = el("input", { maxlength: 500, placeholder: t["mod.reject_note"], "aria-label": t["mod.reject_note"] });
    const confirm = button(t["mod.reject_confirm"], "danger solid", async () => {
      if (await act(q.id, "reject", { reason: select.value, reason_text: note.value.trim() || null })) {
        open = null;
        moveOn(q.id);
        render();
      }
    });
    return el("div", { class: "inline-form", onkeydown: stopKeys }, el("p", { class: "small muted", text: t["mod.reject_help"] }), el("div", { class: "row" }, select, note), el("div", { class: "row" }, confirm, close));
  }
  const targets = store.sorted("popular", (x) => x.id !== q.id && ["approved", "answering", "answered", "pending"].includes(x.status));
  const select = el(
    "select",
    { "aria-label": t["mod.merge_target"] },
    ...targets.map((x) => el("option", { value: x.id, text: `#${x.id} ${x.text.slice(0, 60)}` })),
  );
  const suggested = duplicateCandidates(q)[0];
  if (suggested) select.value = String(suggested.id);
  return el(
    "div",
    { class: "inline-form", onkeydown: stopKeys },
    el("p", { class: "small muted", text: t["mod.merge_help"] }),
    select,
    el("div", { class: "row" }, button(t["mod.merge_confirm"], "primary", () => merge(q, Number(select.value)), { disabled: !targets.length }), close),
  );
}

function stopKeys(event) {
  event.stopPropagation();
  if (event.key === "Escape") {
    open = null;
    render();
    const card = document.querySelector(`[data-id="${current}"]`);
    if (card) card.focus();
  }
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

let drawPending = false;
/** Frames can arrive many times a second (votes): redraw for them at most once per animation frame (a
 * timer covers tabs that get no animation frames). What a person does redraws at once (`render`). */
function renderSoon() {
  if (drawPending) return;
  drawPending = true;
  const draw = () => {
    if (!drawPending) return;
    drawPending = false;
    render();
  };
  requestAnimationFrame(draw);
  setTimeout(draw, 250);
}

function render() {
  if (!ready) return;
  const review = reviewItems();
  renderKeepingFocus($("#review-list"), review.map(reviewCard));
  $("#review-empty").hidden = review.length > 0;
  const queue = queueItems();
  renderKeepingFocus($("#queue-list"), queue.map((q, i) => queueCard(q, i, queue)));
  $("#queue-empty").hidden = queue.length > 0;
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
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest && target.closest("input, textarea, select")) {
    if (event.key === "Escape") target.blur();
    return;
  }
  const list = reviewItems();
  const ids = list.map((q) => q.id);
  const q = store.questions.get(current);
  const key = event.key.toLowerCase();
  const focusCard = (id) => {
    current = id;
    const card = document.querySelector(`#review-list [data-id="${id}"]`);
    if (card) card.focus();
    render();
  };
  if (key === "j" || event.key === "ArrowDown") {
    if (!ids.length) return;
    const i = ids.indexOf(current);
    focusCard(ids[Math.min(ids.length - 1, i + 1)]);
  } else if (key === "k" || event.key === "ArrowUp") {
    if (!ids.length) return;
    const i = ids.indexOf(current);
    focusCard(ids[Math.max(0, i - 1)]);
  } else if (key === "/") {
    $("#f-text").focus();
  } else if (!q) {
    return;
  } else if (key === "a") {
    approve(q);
  } else if (key === "e") {
    toggle(q.id, "edit");
  } else if (key === "r") {
    toggle(q.id, "reject");
  } else if (key === "m") {
    toggle(q.id, "merge");
  } else if (key === "p") {
    pinNext(q);
  } else if (key === "x") {
    if (selected.has(q.id)) selected.delete(q.id);
    else selected.add(q.id);
    render();
  } else {
    return;
  }
  event.preventDefault();
});

loadSettings();
setInterval(render, 30000);
