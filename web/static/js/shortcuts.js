// Single-key shortcuts for a console page: ignored while typing in a field (Escape leaves the field) and
// when a modifier is held, so the browser's and screen readers' own keys keep working.
export function bindShortcuts(keymap) {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    const handler = keymap[event.key.length === 1 ? event.key.toLowerCase() : event.key];
    if (handler && handler() !== false) event.preventDefault();
  });
}
