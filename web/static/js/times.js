// Times are rendered in UTC by the server; show them in the reader's own time zone and language.
import { dateTime } from "./common.js";

for (const node of document.querySelectorAll("time[datetime]")) node.textContent = dateTime(node.getAttribute("datetime"));
