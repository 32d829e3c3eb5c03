import { api } from "./common.js";

const slug = document.body.dataset.slug;
const form = document.getElementById("join-form");

if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("join-error");
    error.hidden = true;
    const data = Object.fromEntries(new FormData(form).entries());
    const body = { name: data.name || "", organisation: data.organisation || "" };
    if (data.stakeholder) body.stakeholder = data.stakeholder;
    if (data.passcode) body.passcode = data.passcode;
    try {
      await api("POST", `/api/v1/events/${encodeURIComponent(slug)}/join`, body);
      window.location.reload();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
}
