// The moderator console's cards: a question to review (approve, edit, reject with a reason, merge with
// duplicate suggestions, pin, mute/ban the asker) and a question in the live queue (order, pin, answering),
// with their inline forms. The console page hands over its state and actions with `useConsole`.
import { el, fmt, reasonLabel, t, toast } from "./common.js";
import { answerBlock, metaLine, statusChip } from "./questions.js";
import { similarity } from "./store.js";

const REASONS = ["off_topic", "duplicate", "inappropriate", "spam", "answered_elsewhere", "unclear", "other"];
// Suggest a merge when two questions share this much (character-bigram Dice, as the server's rule).
const SUGGEST_SIMILARITY = 0.5;

let ui = null;

/** `context`: {store, selected, open, current (read/write), act, approve, pinNext, setStanding, move,
 * moveOn, render, invite}. */
export function useConsole(context) {
  ui = context;
}

function duplicateCandidates(q) {
  const out = [];
  const named = q.duplicate_of && ui.store.questions.get(q.duplicate_of);
  if (named && !["rejected", "merged"].includes(named.status)) out.push(named);
  for (const other of ui.store.all()) {
    if (other.id === q.id || out.includes(other) || ["rejected", "merged", "pending"].includes(other.status)) continue;
    if (similarity(q.text, other.text) >= SUGGEST_SIMILARITY) out.push(other);
  }
  return out.slice(0, 3);
}

function heldNote(q) {
  if (q.status !== "pending" || !q.held_reason) return null;
  return el("p", { class: "held", text: t[`mod.held.${q.held_reason}`] || q.held_reason });
}

export function button(label, cls, onclick, extra = {}) {
  return el("button", { type: "button", class: `button small ${cls}`, text: label, onclick, ...extra });
}

export function reviewCard(q) {
  const checkbox = el("input", {
    type: "checkbox",
    "aria-label": fmt("mod.select_question", { id: q.id }),
    checked: ui.selected.has(q.id),
    "data-role": "select",
    onchange: (e) => {
      if (e.target.checked) ui.selected.add(q.id);
      else ui.selected.delete(q.id);
      ui.renderBulk();
    },
  });
  const actions = el("div", { class: "actions" });
  if (q.status === "pending") {
    actions.append(button(t["mod.approve"], "ok solid", () => ui.approve(q), { "data-role": "approve", "aria-keyshortcuts": "A" }));
  }
  if (["pending", "approved", "answering", "answered"].includes(q.status)) {
    actions.append(button(t["mod.edit"], "", () => toggle(q.id, "edit"), { "data-role": "edit", "aria-keyshortcuts": "E" }));
  }
  if (q.status === "pending" || q.status === "approved") {
    actions.append(button(t["mod.reject"], "danger", () => toggle(q.id, "reject"), { "data-role": "reject", "aria-keyshortcuts": "R" }));
    actions.append(button(t["mod.merge"], "", () => toggle(q.id, "merge"), { "data-role": "merge", "aria-keyshortcuts": "M" }));
    actions.append(button(q.pinned ? t["mod.unpin"] : t["mod.pin"], "", () => ui.pinNext(q), { "data-role": "pin", "aria-keyshortcuts": "P" }));
  }
  if (q.status === "rejected") actions.append(button(t["mod.restore"], "", () => ui.act(q.id, "reopen"), { "data-role": "reopen" }));
  if (q.asker && q.asker.id) {
    const standing = q.asker_standing || "active";
    if (standing === "active") {
      actions.append(button(t["mod.mute"], "ghost", () => ui.setStanding(q.asker.id, "muted"), { "data-role": "mute" }));
      actions.append(button(t["mod.ban"], "ghost", () => ui.setStanding(q.asker.id, "banned"), { "data-role": "ban" }));
    } else {
      actions.append(button(t["mod.unrestrict"], "ghost", () => ui.setStanding(q.asker.id, "active"), { "data-role": "unmute" }));
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
      class: `mcard status-${q.status}${ui.current === q.id ? " current" : ""}`,
      role: "listitem",
      tabindex: "0",
      "data-id": q.id,
      "aria-label": q.text,
      onfocus: (e) => {
        if (e.target === e.currentTarget) ui.current = q.id;
      },
      onclick: () => (ui.current = q.id),
    },
    el("div", { class: "select" }, checkbox),
    body,
  );
}

export function queueCard(q, list) {
  const approved = q.status === "approved";
  const movable = list.filter((x) => x.status === "approved" && !x.pinned);
  const k = movable.indexOf(q);
  const order = el(
    "div",
    { class: "order" },
    button("↑", "ghost", () => ui.move(q, -1), { "aria-label": t["mod.move_up"], disabled: !approved || q.pinned || k <= 0, "data-role": "up" }),
    button("↓", "ghost", () => ui.move(q, 1), { "aria-label": t["mod.move_down"], disabled: !approved || q.pinned || k < 0 || k >= movable.length - 1, "data-role": "down" }),
  );
  const actions = el("div", { class: "actions" });
  if (approved) {
    actions.append(button(t["studio.answer_now"], "live", () => ui.act(q.id, "answering"), { "data-role": "answering" }));
    actions.append(button(q.pinned ? t["mod.unpin"] : t["mod.pin"], "", () => ui.pinNext(q), { "data-role": "pin" }));
  }
  // The asker may put it by voice (连麦): only a moderator's invitation lets them publish, backstage first.
  if ((approved || q.status === "answering") && q.asker && q.asker.id && ui.invite) {
    actions.append(button(t["stage.invite_asker"], "", () => ui.invite(q), { "data-role": "invite-asker" }));
  }
  if (q.status === "answering") {
    actions.append(button(t["studio.mark_answered"], "ok solid", () => ui.act(q.id, "answered"), { "data-role": "answered" }));
    actions.append(button(t["studio.back_to_queue"], "", () => ui.act(q.id, "reopen"), { "data-role": "reopen" }));
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

export function toggle(id, kind) {
  ui.open = ui.open && ui.open.id === id && ui.open.kind === kind ? null : { id, kind };
  ui.current = id;
  ui.render();
  const form = document.querySelector(`[data-id="${id}"] .inline-form`);
  if (form) (form.querySelector("textarea, select, input") || form).focus();
}

async function merge(q, into) {
  if (await ui.act(q.id, "merge", { into })) {
    ui.open = null;
    ui.moveOn(q.id);
    toast(fmt("mod.merged_toast", { id: into }), "ok");
  }
}

function inlineForm(q) {
  if (!ui.open || ui.open.id !== q.id) return null;
  const close = button(t["common.cancel"], "ghost", () => {
    ui.open = null;
    ui.render();
  });
  if (ui.open.kind === "edit") {
    const area = el("textarea", { rows: 3, maxlength: 2000, "aria-label": t["mod.edit_text"] });
    area.value = q.text;
    const row = el("div", { class: "row" });
    if (q.status === "pending") {
      row.append(
        button(t["mod.save_approve"], "ok solid", async () => {
          if (await ui.act(q.id, "edit", { text: area.value, approve: true })) {
            ui.open = null;
            ui.moveOn(q.id);
            ui.render();
          }
        }),
      );
    }
    row.append(
      button(t["common.save"], "", async () => {
        if (await ui.act(q.id, "edit", { text: area.value })) {
          ui.open = null;
          ui.render();
        }
      }),
      close,
    );
    return el("div", { class: "inline-form", onkeydown: stopKeys }, area, row);
  }
  if (ui.open.kind === "reject") {
    const select = el("select", { "aria-label": t["mod.reject_reason"] }, ...REASONS.map((r) => el("option", { value: r, text: reasonLabel(r) })));
    const note = el("input", { maxlength: 500, placeholder: t["mod.reject_note"], "aria-label": t["mod.reject_note"] });
    const confirm = button(t["mod.reject_confirm"], "danger solid", async () => {
      if (await ui.act(q.id, "reject", { reason: select.value, reason_text: note.value.trim() || null })) {
        ui.open = null;
        ui.moveOn(q.id);
        ui.render();
      }
    });
    return el("div", { class: "inline-form", onkeydown: stopKeys }, el("p", { class: "small muted", text: t["mod.reject_help"] }), el("div", { class: "row" }, select, note), el("div", { class: "row" }, confirm, close));
  }
  const targets = ui.store.sorted("popular", (x) => x.id !== q.id && ["approved", "answering", "answered", "pending"].includes(x.status));
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
    ui.open = null;
    ui.render();
    const card = document.querySelector(`[data-id="${ui.current}"]`);
    if (card) card.focus();
  }
}
