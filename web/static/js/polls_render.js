// Drawing a poll's results (bars, stars, ranking, word cloud) for the viewer page, the moderator console
// and the present view. Text goes in as text nodes only.
import { el, fmt, t } from "./common.js";

/** The results frame with the most responses wins: several processes publish, `responses` only grows. */
export function newer(current, next) {
  return !current || next.responses >= current.responses;
}

function bar(label, value, total, extra = "") {
  const share = total ? Math.round((value / total) * 100) : 0;
  const fill = el("span", { class: "poll-bar-fill" });
  fill.style.width = `${share}%`; // CSSOM, not a style attribute: the CSP allows no inline styles
  return el(
    "li",
    { class: "poll-bar" },
    el("span", { class: "poll-bar-label", text: label }),
    el("span", { class: "poll-bar-track", "aria-hidden": "true" }, fill),
    el("span", { class: "poll-bar-value", text: `${share}%${extra}` }),
  );
}

export function renderResults(poll, results) {
  const box = el("div", { class: `poll-results kind-${poll.kind}`, dataset: { responses: String(results.responses) } });
  box.append(el("p", { class: "poll-count muted", text: fmt("poll.responses", { n: results.responses }) }));
  const list = el("ol", { class: "poll-bars" });
  if (poll.kind === "single" || poll.kind === "multiple") {
    const correct = new Set(poll.correct_options || poll.correct || []);
    poll.options.forEach((option, i) => {
      const row = bar(option, results.counts[i] || 0, results.responses, ` · ${results.counts[i] || 0}`);
      if (correct.has(i)) row.classList.add("correct");
      list.append(row);
    });
  } else if (poll.kind === "rating") {
    box.append(el("p", { class: "poll-mean", text: results.mean == null ? "–" : fmt("poll.mean", { mean: results.mean }) }));
    for (let star = 5; star >= 1; star -= 1) {
      list.append(bar(fmt("poll.stars", { n: star }), results.counts[star - 1] || 0, results.responses));
    }
  } else if (poll.kind === "ranking") {
    const order = poll.options.map((option, i) => ({ option, rank: results.mean_rank[i] })).filter((o) => o.rank != null);
    order.sort((a, b) => a.rank - b.rank);
    order.forEach(({ option, rank }) =>
      list.append(el("li", { class: "poll-rank" }, el("span", { text: option }), el("span", { class: "muted", text: fmt("poll.mean_rank", { rank }) }))),
    );
  } else if (poll.kind === "open") {
    const cloud = el("p", { class: "poll-cloud" });
    const top = Math.max(1, ...results.words.map((w) => w.count));
    for (const word of results.words) {
      const size = 0.9 + (1.6 * word.count) / top;
      const node = el("span", { class: "poll-word", title: String(word.count), text: word.text });
      node.style.fontSize = `${size.toFixed(2)}em`;
      cloud.append(node, " ");
    }
    box.append(cloud);
    return box;
  }
  box.append(list);
  return box;
}

export function kindLabel(poll) {
  return poll.quiz ? `${t["poll.quiz"]} · ${t[`poll.kind.${poll.kind}`]}` : t[`poll.kind.${poll.kind}`];
}

/** Seconds left on a timed open poll (null when untimed), from the server's deadline. */
export function secondsLeft(poll) {
  if (poll.state !== "open" || poll.deadline == null) return null;
  return Math.max(0, Math.ceil(poll.deadline - Date.now() / 1000));
}
