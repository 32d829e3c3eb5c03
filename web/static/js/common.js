// Shared helpers for every page: the i18n catalogue, JSON calls, DOM building, small formatting.
// User text only ever goes in via textContent (el(..., {text}) or text children): never innerHTML.
export const t = JSON.parse(document.getElementById("i18n").textContent);
const dataNode = document.getElementById("page-data");
export const page = dataNode ? JSON.parse(dataNode.textContent) : {};
export const lang = document.documentElement.lang || "zh-CN";

export async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const info = (data && data.error) || {};
    const error = new Error(info.message || t["error.generic"]);
    error.status = response.status;
    error.code = info.code;
    error.info = info;
    throw error;
  }
  return data;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/** A catalogue string with {name} placeholders filled (values are inserted as text by the caller). */
// ICU-style plurals from the catalogue ("{n, plural, one {# vote} other {# votes}}"), chosen by the browser's
// CLDR rules for the page's language — the same rules the server applies through Babel (server/messages.py).
const pluralRules = new Intl.PluralRules(document.documentElement.lang || "zh-CN");

function closing(text, start) {
  let depth = 0;
  for (let i = start; i < text.length; i += 1) {
    if (text[i] === "{") depth += 1;
    else if (text[i] === "}" && --depth === 0) return i;
  }
  return text.length;
}

function branches(spec) {
  const out = {};
  let i = 0;
  while (i < spec.length) {
    const open = spec.indexOf("{", i);
    if (open < 0) break;
    const close = closing(spec, open);
    out[spec.slice(i, open).trim()] = spec.slice(open + 1, close);
    i = close + 1;
  }
  return out;
}

export function formatMessage(template, values = {}) {
  let out = "";
  let i = 0;
  while (i < template.length) {
    if (template[i] !== "{") {
      out += template[i];
      i += 1;
      continue;
    }
    const close = closing(template, i);
    const inner = template.slice(i + 1, close);
    const [name, kind, ...rest] = inner.split(",");
    const key = name.trim();
    if (kind && kind.trim() === "plural" && key in values) {
      const n = values[key];
      const choices = branches(rest.join(","));
      const text = choices[`=${n}`] ?? choices[pluralRules.select(n)] ?? choices.other ?? "";
      out += formatMessage(text.replaceAll("#", String(n)), values);
    } else if (kind === undefined && key in values) {
      out += String(values[key]);
    } else {
      out += template.slice(i, close + 1);
    }
    i = close + 1;
  }
  return out;
}

export function fmt(key, values = {}) {
  return formatMessage(t[key] || key, values);
}

export function stakeholderLabel(code) {
  return (code && page.stakeholders && page.stakeholders[code]) || "";
}

/** "3 min ago" in the page's language, from epoch seconds. */
export function ago(seconds) {
  const diff = Math.max(0, Date.now() / 1000 - seconds);
  if (diff < 45) return t["time.just_now"];
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  if (diff < 3600) return rtf.format(-Math.round(diff / 60), "minute");
  if (diff < 86400) return rtf.format(-Math.round(diff / 3600), "hour");
  return rtf.format(-Math.round(diff / 86400), "day");
}

export function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", timeZone: document.body.dataset.tz || undefined });
}

export function dateTime(iso) {
  if (!iso) return "";
  // The deployment's zone (REPORT_TIMEZONE), as the server-rendered pages, reports and certificates use.
  const timeZone = document.body.dataset.tz || undefined;
  return new Date(iso).toLocaleString(lang, { dateStyle: "medium", timeStyle: "short", timeZone });
}

let toastRegion = null;
// One at a time: stacked notices covered the question list (the newest replaces the one before).
const MAX_TOASTS = 1;
/** A short, announced message in the corner (role=status); kind: info | ok | warn | error. */
export function toast(message, kind = "info", ms = 6000) {
  if (!toastRegion) {
    toastRegion = el("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toastRegion);
  }
  const node = el("div", { class: `toast toast-${kind}`, text: message });
  toastRegion.append(node);
  // A busy event must not bury the page under notices: keep the newest few.
  while (toastRegion.children.length > MAX_TOASTS) toastRegion.firstElementChild.remove();
  setTimeout(() => node.remove(), ms);
  return node;
}

/** The connection banner shared by every live page: hidden when connected. */
export function connectionBanner(node) {
  return (status) => {
    node.hidden = status === "connected";
    node.dataset.status = status;
    node.textContent = status === "connected" ? "" : t["live.reconnecting"];
  };
}

export async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = el("textarea", { class: "sr-only" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  if (button) {
    const before = button.textContent;
    button.textContent = t["common.copied"];
    setTimeout(() => (button.textContent = before), 1500);
  }
}

/** A person-facing sentence for an API error: the catalogue's wording for its code, else the server's. */
export function errorMessage(err) {
  return (err && err.code && t[`error.${err.code}`]) || (err && err.message) || t["error.generic"];
}

export function reasonLabel(code) {
  return t[`reason.${code}`] || code || "";
}

/** `fn` at most once per animation frame however often the result is called (a timer covers tabs that
 * get no animation frames, e.g. in the background). */
export function coalesced(fn) {
  let pending = false;
  const run = () => {
    if (!pending) return;
    pending = false;
    fn();
  };
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(run);
    setTimeout(run, 250);
  };
}
