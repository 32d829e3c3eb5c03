// The organiser's page (/admin): create and schedule events, invite experts and moderators (copyable
// links, revocable), edit each event's settings, move it through its lifecycle, open its report.
import { $, api, copyText, dateTime, el, errorMessage, fmt, lang, t, toast } from "./common.js";
import { glossarySection } from "./glossary.js";

const events = new Map();
const invites = new Map(); // slug -> list

// Times are typed and shown in the deployment's zone (REPORT_TIMEZONE), as every page shows them, whatever
// the organiser's computer is set to.
const ZONE = document.body.dataset.tz || undefined;
const zoneFormat = new Intl.DateTimeFormat("en-US", {
  timeZone: ZONE, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

function wall(ms) {
  const p = Object.fromEntries(zoneFormat.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { text: `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`, asUtc: Date.parse(`${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}Z`) };
}

function localValue(iso) {
  return iso ? wall(Date.parse(iso)).text : "";
}

function isoValue(local) {
  if (!local) return null;
  const guess = Date.parse(`${local}:00Z`); // the typed wall time as if it were UTC
  return new Date(guess - (wall(guess).asUtc - guess)).toISOString(); // less the zone's offset then
}

/** The event fields of a form as an API body (create or PATCH). */
function eventBody(form, { create }) {
  const data = new FormData(form);
  const body = {
    title_zh: String(data.get("title_zh") || "").trim(),
    title_en: String(data.get("title_en") || "").trim(),
    kind: data.get("kind"),
    starts_at: isoValue(data.get("starts_at")),
    ends_at: isoValue(data.get("ends_at")),
    topics: String(data.get("topics") || "")
      .split(/[,，、;；\n]/)
      .map((s) => s.trim())
      .filter(Boolean),
    join_policy: data.get("join_policy"),
    moderation_mode: data.get("moderation_mode"),
    allow_anonymous: data.get("allow_anonymous") === "on",
  };
  for (const field of ["description_zh", "description_en"]) if (form.elements[field]) body[field] = String(data.get(field) || "");
  const passcode = String(data.get("passcode") || "").trim();
  if (passcode) body.passcode = passcode;
  if (create) {
    const slug = String(data.get("slug") || "").trim();
    if (slug) body.slug = slug;
    if (!body.starts_at) delete body.starts_at;
    if (!body.ends_at) delete body.ends_at;
  }
  return body;
}

function showPasscode(form) {
  const field = form.querySelector('[data-show="passcode"]');
  if (field) field.hidden = form.elements.join_policy.value !== "passcode";
}

// ---- creating ----------------------------------------------------------------------------------
const createForm = $("#create-form");
createForm.elements.join_policy.addEventListener("change", () => showPasscode(createForm));
createForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("#create-error");
  error.hidden = true;
  if (!createForm.elements.title_zh.value.trim()) {
    error.textContent = t["admin.title_required"];
    error.hidden = false;
    createForm.elements.title_zh.focus();
    return;
  }
  try {
    const created = await api("POST", "/api/v1/events", eventBody(createForm, { create: true }));
    createForm.reset();
    showPasscode(createForm);
    toast(fmt("admin.created", { title: created.title_zh }), "ok");
    await load();
    const row = document.querySelector(`[data-slug="${CSS.escape(created.slug)}"]`);
    if (row) row.scrollIntoView({ block: "center" });
  } catch (err) {
    error.textContent = errorMessage(err);
    error.hidden = false;
  }
});

// ---- listing -----------------------------------------------------------------------------------
async function load() {
  const out = await api("GET", "/api/v1/events");
  events.clear();
  for (const e of out.events) events.set(e.slug, e);
  await Promise.all(
    out.events.map(async (e) => invites.set(e.slug, (await api("GET", `/api/v1/events/${encodeURIComponent(e.slug)}/invites`)).invites)),
  );
  render();
}

function title(e) {
  return lang === "en" && e.title_en ? e.title_en : e.title_zh;
}

function inviteRow(e, inv) {
  const who = `${t[`role.${inv.role}`]}${inv.name ? ` · ${inv.name}` : ""}`;
  if (inv.revoked) {
    return el("li", { class: "invite revoked" }, el("strong", { text: who }), el("span", { class: "chip chip-muted", text: t["admin.revoked"] }));
  }
  const field = el("input", { readonly: true, value: inv.url, "aria-label": fmt("admin.link_for", { who }) });
  field.addEventListener("focus", () => field.select());
  const copy = el("button", { type: "button", class: "button small", text: t["admin.copy"], onclick: (ev) => copyText(inv.url, ev.currentTarget) });
  const revoke = el("button", {
    type: "button",
    class: "button small danger",
    text: t["admin.revoke"],
    onclick: async () => {
      if (!window.confirm(fmt("admin.revoke_confirm", { who }))) return;
      try {
        await api("DELETE", `/api/v1/events/${encodeURIComponent(e.slug)}/invites/${inv.participant_id}`);
        await load();
      } catch (err) {
        toast(errorMessage(err), "error");
      }
    },
  });
  const expires = inv.expires_at ? el("span", { class: "muted small", text: `${t["admin.expires"]} ${dateTime(inv.expires_at)}` }) : null;
  return el("li", { class: "invite" }, el("strong", { text: who }), field, copy, revoke, expires);
}

function inviteForm(e) {
  const name = el("input", { maxlength: 80, placeholder: t["admin.invitee_name"], "aria-label": t["admin.invitee_name"] });
  const role = el(
    "select",
    { "aria-label": t["admin.invite_role"] },
    el("option", { value: "expert", text: t["role.expert"] }),
    el("option", { value: "moderator", text: t["role.moderator"] }),
  );
  const form = el(
    "form",
    { class: "toolbar", "aria-label": t["admin.invite"] },
    role,
    name,
    el("button", { type: "submit", class: "button small primary", text: t["admin.invite"] }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const inv = await api("POST", `/api/v1/events/${encodeURIComponent(e.slug)}/invites`, { role: role.value, name: name.value.trim() });
      await load();
      await copyText(inv.url);
      toast(t["admin.invite_copied"], "ok");
    } catch (err) {
      toast(errorMessage(err), "error");
    }
  });
  return form;
}

function settingsForm(e) {
  const input = (name, value, attrs = {}) => el("input", { name, value: value ?? "", ...attrs });
  const select = (name, value, options) =>
    el("select", { name }, ...options.map(([v, label]) => el("option", { value: v, text: label, selected: v === value })));
  const label = (text, control) => el("label", {}, el("span", { text }), control);
  const description = (name, value) => {
    const area = el("textarea", { name, rows: 3, maxlength: 5000 });
    area.value = value || "";
    return area;
  };
  const form = el(
    "form",
    { class: "form", novalidate: true },
    el(
      "div",
      { class: "two" },
      label(t["admin.title_zh"], input("title_zh", e.title_zh, { maxlength: 200, required: true })),
      label(t["admin.title_en"], input("title_en", e.title_en, { maxlength: 200 })),
    ),
    el(
      "div",
      { class: "two" },
      label(t["event.starts"], input("starts_at", localValue(e.starts_at), { type: "datetime-local" })),
      label(t["event.ends"], input("ends_at", localValue(e.ends_at), { type: "datetime-local" })),
    ),
    el(
      "div",
      { class: "two" },
      label(t["admin.kind"], select("kind", e.kind, [["live_qa", t["kind.live_qa"]], ["briefing", t["kind.briefing"]]])),
      label(t["mod.mode"], select("moderation_mode", e.moderation_mode, [["pre", t["mod.mode_pre"]], ["post", t["mod.mode_post"]]])),
    ),
    el(
      "div",
      { class: "two" },
      label(t["admin.join_policy"], select("join_policy", e.join_policy, [["open", t["admin.join.open"]], ["registration", t["admin.join.registration"]], ["passcode", t["admin.join.passcode"]]])),
      el("label", { "data-show": "passcode" }, el("span", { text: t["admin.new_passcode"] }), input("passcode", "", { minlength: 4, maxlength: 64, autocomplete: "off" })),
    ),
    label(t["event.topics"], input("topics", e.topics.join(", "), { maxlength: 600 })),
    label(t["admin.description_zh"], description("description_zh", e.description_zh)),
    label(t["admin.description_en"], description("description_en", e.description_en)),
    el("label", { class: "check" }, el("input", { type: "checkbox", name: "allow_anonymous", checked: e.allow_anonymous }), t["admin.allow_anonymous"]),
    el("div", { class: "controls" }, el("button", { type: "submit", class: "button primary", text: t["common.save"] })),
  );
  form.elements.join_policy.addEventListener("change", () => showPasscode(form));
  showPasscode(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("PATCH", `/api/v1/events/${encodeURIComponent(e.slug)}`, eventBody(form, { create: false }));
      toast(t["admin.saved"], "ok");
      await load();
    } catch (err) {
      toast(errorMessage(err), "error");
    }
  });
  return form;
}

function lifecycle(e) {
  const next = { scheduled: ["live", "admin.start"], live: ["ended", "admin.end"], ended: ["archived", "admin.archive"] }[e.state];
  if (!next) return null;
  return el("button", {
    type: "button",
    class: `button small ${next[0] === "live" ? "live" : "danger"}`,
    text: t[next[1]],
    onclick: async () => {
      if (!window.confirm(fmt("admin.state_confirm", { action: t[next[1]], title: title(e) }))) return;
      try {
        await api("POST", `/api/v1/events/${encodeURIComponent(e.slug)}/state`, { state: next[0] });
        await load();
      } catch (err) {
        toast(errorMessage(err), "error");
      }
    },
  });
}

function eventRow(e) {
  const slug = encodeURIComponent(e.slug);
  const link = (href, text, cls = "") => el("a", { class: `button small ${cls}`, href, target: "_blank", rel: "noopener", text });
  const when = e.starts_at ? `${dateTime(e.starts_at)}${e.ends_at ? ` – ${dateTime(e.ends_at)}` : ""}` : t["admin.unscheduled"];
  const list = invites.get(e.slug) || [];
  return el(
    "li",
    { class: "event-row", "data-slug": e.slug },
    el(
      "div",
      { class: "card-meta" },
      el("span", { class: `badge state-${e.state}`, text: t[`state.${e.state}`] }),
      el("span", { class: "badge kind", text: t[`kind.${e.kind}`] }),
      el("span", { class: "badge", text: t[`admin.join.${e.join_policy}`] }),
      el("span", { class: "muted small", text: `/${e.slug}` }),
    ),
    el("h3", { text: title(e) }),
    el("p", { class: "when", text: when }),
    el(
      "div",
      { class: "links" },
      link(`/e/${slug}`, t["admin.viewer_page"]),
      link(`/e/${slug}/moderate`, t["staff.moderate"]),
      link(`/e/${slug}/studio`, t["staff.studio"]),
      link(`/e/${slug}/report`, t["admin.report"], "primary"),
      e.state === "ended" || e.state === "archived" ? link(`/e/${slug}/archive`, t["event.watch_archive"]) : null,
      lifecycle(e),
    ),
    el("h4", { class: "eyebrow", text: t["admin.invites"] }),
    list.length ? el("ul", { class: "invites" }, ...list.map((inv) => inviteRow(e, inv))) : el("p", { class: "muted small", text: t["admin.no_invites"] }),
    inviteForm(e),
    el("details", { class: "settings" }, el("summary", { text: t["admin.settings"] }), settingsForm(e), glossarySection(e.slug)),
  );
}

function render() {
  const rows = [...events.values()];
  const openDetails = new Set([...document.querySelectorAll("details.settings[open]")].map((d) => d.closest("[data-slug]").dataset.slug));
  $("#event-rows").replaceChildren(...rows.map(eventRow));
  for (const slug of openDetails) {
    const d = document.querySelector(`[data-slug="${CSS.escape(slug)}"] details.settings`);
    if (d) d.open = true;
  }
  $("#events-empty").hidden = rows.length > 0;
  $("#event-count").textContent = fmt("admin.count", { n: rows.length });
}

showPasscode(createForm);
load().catch((err) => toast(errorMessage(err), "error"));
