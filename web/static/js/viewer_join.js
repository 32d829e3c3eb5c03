// Joining an event from the viewer page: the registration form (required for registration and passcode
// events, optional for open ones), and joining on the way when an open event's viewer asks or votes.
import { visitorId } from "./attendance.js";
import { $, api, errorMessage, fmt, t, toast } from "./common.js";

/** A viewer-facing sentence for an API error. */
export function errorText(err) {
  const code = err.code;
  if (code === "rate_limited") {
    const wait = Math.ceil(Number(err.info && err.info.retry_after) || 0);
    return wait ? fmt("error.rate_limited_wait", { n: wait }) : t["error.rate_limited"];
  }
  if (code === "not_found") return t["error.question_gone"];
  return errorMessage(err);
}

function joinBody(form) {
  const data = Object.fromEntries(new FormData(form).entries());
  const body = { name: (data.name || "").trim(), organisation: (data.organisation || "").trim() };
  if (data.stakeholder) body.stakeholder = data.stakeholder;
  if (data.passcode) body.passcode = data.passcode;
  if (data.email && data.email.trim()) body.email = data.email.trim();
  if (!body.name) body.anonymous = true;
  // This browser's own id: a moderator's ban or mute carries over when it joins again (see README),
  // and its visits before joining (counted as an anonymous visitor) become this participant's.
  const visitor = visitorId();
  if (visitor) body.visitor = visitor;
  return body;
}

export class Registration {
  /** `page`: the page data (caller, join policy); `onJoined()` runs once the cookie says who we are. */
  constructor(base, page, onJoined) {
    this.base = base;
    this.page = page;
    this.onJoined = onJoined;
    this.me = page.caller && page.caller.participant_id ? page.caller : null;
    this.form = $("#join-form");
    this.error = $("#join-error");
    const toggle = $("#join-toggle");
    if (toggle) {
      toggle.addEventListener("click", () => {
        const open = this.form.hidden;
        this.form.hidden = !open;
        toggle.setAttribute("aria-expanded", String(open));
        if (open) this.form.querySelector("input").focus();
      });
    }
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  async submit() {
    this.error.hidden = true;
    const missing = [...this.form.elements].filter((f) => f.required && !String(f.value).trim());
    if (missing.length) {
      this.showError(t["join.fill_required"]);
      missing[0].focus();
      return;
    }
    try {
      await this.join(joinBody(this.form));
      toast(t["join.welcome"], "ok");
      $("#ask-text").focus();
    } catch (err) {
      this.showError(errorText(err));
    }
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = false;
  }

  async join(body) {
    const out = await api("POST", `${this.base}/join`, body);
    this.me = {
      participant_id: out.participant_id,
      role: out.role,
      name: body.name,
      organisation: body.organisation,
      anonymous: !body.name,
      standing: out.standing || "active",
    };
    $("#join-panel").hidden = true;
    $("#you-panel").hidden = false;
    $("#you-name").textContent = body.name || t["join.anonymous_viewer"];
    $("#you-org").textContent = body.organisation ? ` · ${body.organisation}` : "";
    $("#you-group").textContent = body.stakeholder ? ` · ${this.page.stakeholders[body.stakeholder] || ""}` : "";
    this.onJoined();
    return this.me;
  }

  /** Viewers of an open event may ask or vote straight away: they join on the way (anonymously if they
   * gave no name). Registration and passcode events need the form first. */
  async ensureJoined() {
    if (this.me) return true;
    if (this.page.join_policy !== "open" || !this.page.allow_anonymous) {
      const panel = $("#join-panel");
      this.form.hidden = false;
      panel.classList.add("attention");
      setTimeout(() => panel.classList.remove("attention"), 1600);
      this.showError(t["join.needed"]);
      this.form.querySelector("input, select").focus();
      return false;
    }
    await this.join(joinBody(this.form));
    return true;
  }
}
