// The report and certificate pages: a print button (CSP allows no inline handlers), and the organiser's
// training setting on the report. Messages come from the catalogue; nothing is built from user text.
import { api, t } from "./common.js";

for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}

const form = document.getElementById("training-form");
if (form) {
  const slug = document.body.dataset.slug;
  const status = document.getElementById("training-status");

  async function save(body) {
    status.hidden = true;
    try {
      await api("PATCH", `/api/v1/events/${encodeURIComponent(slug)}`, body);
      status.textContent = t["training.form.saved"];
      status.classList.add("ok");
      status.hidden = false;
      window.location.reload();
    } catch (err) {
      status.classList.remove("ok");
      status.textContent = err.message;
      status.hidden = false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const minutes = Number.parseInt(form.elements.minutes.value, 10);
    save({ training_min_minutes: Number.isFinite(minutes) ? minutes : null, training_counts_replay: form.elements.replay.checked });
  });
  const clear = form.querySelector("[data-clear]");
  if (clear) clear.addEventListener("click", () => save({ training_min_minutes: null }));
}
