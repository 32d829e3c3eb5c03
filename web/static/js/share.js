// The event page's share row: copy the link (the QR code is drawn by the server, /e/{slug}/qr.svg), and a
// countdown to a scheduled event's start.
import { $, copyText, fmt, t } from "./common.js";

const copy = $("#share-copy");
if (copy) copy.addEventListener("click", () => copyText($("#share-link").value, copy));

const countdown = $("#countdown");
if (countdown) {
  const starts = Date.parse(countdown.dataset.starts);
  const pad = (n) => String(n).padStart(2, "0");
  const tick = () => {
    const left = Math.floor((starts - Date.now()) / 1000);
    if (left <= 0) {
      countdown.textContent = t["share.starting"];
      clearInterval(timer);
      return;
    }
    const d = Math.floor(left / 86400);
    const hms = `${pad(Math.floor((left % 86400) / 3600))}:${pad(Math.floor((left % 3600) / 60))}:${pad(left % 60)}`;
    countdown.textContent = d ? fmt("share.countdown", { d, hms }) : fmt("share.countdown_today", { hms });
  };
  const timer = setInterval(tick, 1000);
  tick();
}
