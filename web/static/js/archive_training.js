// The archive page's training part: the quiz for those who watch the recording (and did not take it
// live), their score, and the satisfaction survey. A visitor registers here first: a quiz counts for
// training, so it needs a name.
import { $, api, el, fmt, t, toast } from "./common.js";
import { PollsPanel } from "./polls_viewer.js";
import { Survey } from "./survey.js";
import { errorText } from "./viewer_join.js";

const slug = document.body.dataset.slug;
const base = `/api/v1/events/${encodeURIComponent(slug)}`;
const quizRoot = $("#archive-quiz");
const joinForm = $("#archive-join");
let joined = false; // learnt from GET …/quiz below (401 until this browser joined the event)

async function ensureJoined() {
  if (joined) return true;
  joinForm.hidden = false;
  joinForm.querySelector("input").focus();
  return false;
}

joinForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = Object.fromEntries([...new FormData(joinForm).entries()].filter(([, v]) => String(v).trim()));
  try {
    await api("POST", `${base}/join`, body);
    joined = true;
    toast(t["join.welcome"], "ok");
    await load(); // our answers and score as this participant; the form goes once the panel is redrawn
    joinForm.hidden = true;
    survey.refresh();
  } catch (err) {
    $(".form-error", joinForm).textContent = errorText(err);
    $(".form-error", joinForm).hidden = false;
  }
});

const panel = new PollsPanel(quizRoot, base, { ensureJoined, onAnswered: () => load() }); // score and results
const survey = new Survey($("#survey-panel"), base, { ensureJoined });

async function showScore() {
  let s;
  try {
    s = await api("GET", `${base}/quiz`);
  } catch {
    return; // not joined yet
  }
  joined = true;
  if (s.total) {
    const verdict = s.passed ? t["quiz.passed"] : fmt("quiz.not_passed", { pass: s.pass_percent });
    $("#quiz-score").textContent = `${fmt("quiz.score", s)} · ${verdict}`;
  }
}

async function load() {
  const listing = await api("GET", `${base}/polls`);
  const quiz = listing.polls.filter((p) => p.quiz);
  panel.load({ polls: quiz, poll_answers: listing.answers });
  await showScore();
}

load();
survey.refresh();
