// The asker's own pending question on the viewer page ("mine"): reword it or withdraw it. The page
// re-renders often (votes, notices), so what is being edited lives here, not in the DOM.
import { api, el, t, toast } from "./common.js";
import { errorText } from "./viewer_join.js";

const editing = new Map(); // question id → draft text
const confirming = new Set(); // question ids whose "withdraw" awaits a second click

export function ownActions(q, base, store, rerender) {
  const url = `${base}/questions/${q.id}`;
  if (editing.has(q.id)) {
    const box = el("textarea", { rows: "3", maxlength: "500", "aria-label": t["own.edit_label"] });
    box.value = editing.get(q.id);
    box.addEventListener("input", () => editing.set(q.id, box.value));
    const save = el("button", { type: "button", class: "button primary small", text: t["own.save"] });
    save.addEventListener("click", async () => {
      try {
        const out = await api("PATCH", url, { text: box.value });
        editing.delete(q.id);
        store.mine.set(q.id, { ...store.mine.get(q.id), text: out.text, held_reason: out.held_reason });
        toast(t["own.saved"], "ok");
      } catch (err) {
        toast(errorText(err), "error");
      }
      rerender();
    });
    const cancel = el("button", { type: "button", class: "button small", text: t["own.cancel"] });
    cancel.addEventListener("click", () => {
      editing.delete(q.id);
      rerender();
    });
    return el("div", { class: "own-edit" }, box, el("div", { class: "toolbar" }, save, cancel));
  }
  const edit = el("button", { type: "button", class: "button small", text: t["own.edit"] });
  edit.addEventListener("click", () => {
    editing.set(q.id, q.text);
    rerender();
  });
  const sure = confirming.has(q.id);
  const withdraw = el("button", { type: "button", class: `button small${sure ? " danger" : ""}`, text: sure ? t["own.withdraw_confirm"] : t["own.withdraw"] });
  withdraw.addEventListener("click", async () => {
    if (!confirming.has(q.id)) {
      confirming.add(q.id);
      rerender();
      return;
    }
    confirming.delete(q.id);
    try {
      await api("DELETE", url);
      store.mine.delete(q.id);
      store.questions.delete(q.id);
      toast(t["own.withdrawn"], "ok");
    } catch (err) {
      toast(errorText(err), "error");
    }
    rerender();
  });
  return el("div", { class: "toolbar own-actions" }, edit, withdraw);
}
