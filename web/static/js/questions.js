// Rendering one question card, shared by the viewer page, the studio and the moderator console.
import { ago, el, stakeholderLabel, t } from "./common.js";

export function askerLine(q) {
  if (q.anonymous && !q.asker) return t["queue.anonymous"];
  const a = q.asker;
  if (!a) return t["queue.anonymous"];
  const parts = [a.name || t["queue.anonymous"]];
  if (a.organisation) parts.push(a.organisation);
  if (a.stakeholder) parts.push(stakeholderLabel(a.stakeholder));
  return parts.join(" · ");
}

export function statusChip(q) {
  if (q.status === "answering") return el("span", { class: "chip chip-answering", text: t["queue.answering_now"] });
  if (q.pinned) return el("span", { class: "chip chip-pinned", text: t["queue.up_next"] });
  if (q.status === "answered") return el("span", { class: "chip chip-answered", text: t["queue.answered_chip"] });
  return null;
}

export function answerBlock(q) {
  if (!q.answer_text) return null;
  return el(
    "div",
    { class: "answer" },
    el("span", { class: "answer-label", text: t["queue.answer"] }),
    el("p", { class: "answer-text", text: q.answer_text }),
  );
}

export function metaLine(q, { staffView = false } = {}) {
  const bits = [el("span", { class: "who", text: askerLine(q) })];
  if (staffView && q.anonymous) bits.push(el("span", { class: "chip chip-muted", text: t["queue.anonymous_to_public"] }));
  bits.push(el("span", { class: "q-when", text: ago(q.created_at), title: new Date(q.created_at * 1000).toLocaleString() }));
  if (q.topic) bits.push(el("span", { class: "topic", text: `#${q.topic}` }));
  return el("p", { class: "q-meta" }, ...bits);
}

export function metaText(q) {
  return [askerLine(q), ago(q.created_at)].join(" · ");
}

/** Update a list to `nodes` (each with data-id) touching only what changed: an unchanged card keeps its
 * DOM node, so a click or keyboard focus in progress is never lost to a re-render caused by a frame. */
export function renderKeepingFocus(list, nodes) {
  const active = document.activeElement;
  let restore = null;
  if (active && list.contains(active)) {
    const item = active.closest("[data-id]");
    if (item) restore = { id: item.dataset.id, role: active.dataset.role || null, isItem: active === item };
  }
  const existing = new Map([...list.children].map((child) => [child.dataset.id, child]));
  const wanted = nodes.map((node) => {
    const old = existing.get(node.dataset.id);
    return old && old.isEqualNode(node) ? old : node;
  });
  wanted.forEach((node, i) => {
    if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
  });
  while (list.children.length > wanted.length) list.lastElementChild.remove();
  if (!restore || list.contains(document.activeElement)) return;
  const item = list.querySelector(`[data-id="${CSS.escape(restore.id)}"]`);
  if (!item) return;
  const target = restore.isItem ? item : (restore.role && item.querySelector(`[data-role="${restore.role}"]`)) || item;
  target.focus({ preventScroll: true });
}
