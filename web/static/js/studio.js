// The expert studio (/e/{slug}/studio): camera and microphone preview with device pickers, go live / stop
// (WHIP: each expert a stage member), screen share (a second WHIP session), a low-latency monitor of the
// programme (WHEP), the stage (the other members seen and heard over WHEP `?member=`; the host — the first
// expert — puts them on air, mutes, picks the layout), the approved queue in the moderators' order with
// "answering now" / "answered" (optional typed answer), and backstage notes.
import { $, api, coalesced, connectionBanner, el, errorMessage, page, t, toast } from "./common.js";
import { Captions } from "./captions.js";
import { LiveSocket } from "./live.js";
import { Notes } from "./notes.js";
import { answerBlock, metaLine, renderKeepingFocus, statusChip } from "./questions.js";
import { QuestionStore } from "./store.js";
import { StagePanel } from "./stage_staff.js";
import { WhepSession, WhipSession } from "./webrtc.js";

const slug = page.slug;
const base = `/api/v1/events/${encodeURIComponent(slug)}`;
// After a dropped publish connection, try again this soon (the server shows viewers "reconnecting").
const REPUBLISH_MS = 2000;
// A publish connection "disconnected" this long is given up (before that it may come back by itself).
const DISCONNECTED_GRACE_MS = 5000;

const store = new QuestionStore({ staff: true });
const notes = new Notes($("#notes"), $("#note-form"), $("#note-text"), base);
let eventState = page.state;
let streamState = "idle";
let camera = null; // MediaStream
let publisher = null; // WhipSession
let screen = null; // { stream, session }
let monitor = null; // WhepSession
let wantLive = false;
let liveSince = null;
let ready = false;
let draftAnswer = "";

// ---- the stage ---------------------------------------------------------------------------------
/** This expert's own members: their camera and screen share (seen in the previews, never monitored: one
 * does not listen to oneself), known by their participant id before the WHIP answer even comes back. */
function myMembers() {
  const me = page.caller && page.caller.participant_id;
  const ids = [publisher && publisher.id, screen && screen.session.id];
  if (me && stagePanel.stage) ids.push(...stagePanel.stage.members.filter((m) => m.participant_id === me).map((m) => m.id));
  return new Set(ids.filter(Boolean));
}

const stagePanel = new StagePanel($("#stage-panel"), base, slug, {
  watch: () => true, // experts see and hear every other member, backstage too
  mine: myMembers,
  // The host is the first expert on the stage (an admin in the studio always is); a moderator hosts too,
  // from the console. The server lets any staff act; the page gives the controls to the host.
  host: (stage) => {
    if (!page.caller || page.caller.role !== "expert") return true;
    const experts = stage.members.filter((m) => m.kind === "expert");
    return experts.length === 0 || myMembers().has(experts[0].id);
  },
});
stagePanel.questionText = (id) => (store.questions.get(id) || {}).text || "";
stagePanel.onChange = () => {
  renderControls();
  // My camera drawn small in the programme sends a smaller picture (webrtc.js, WhipSession.fit).
  const member = myMember();
  if (publisher && member) publisher.fit(member.tile || null);
};

/** My camera's member: on air, or waiting backstage for the host. */
function myMember() {
  return publisher && publisher.id ? stagePanel.member(publisher.id) : null;
}

// ---- devices and preview -----------------------------------------------------------------------
async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [kind, id] of [["videoinput", "#camera-select"], ["audioinput", "#mic-select"]]) {
    const select = $(id);
    const chosen = select.value;
    select.replaceChildren(el("option", { value: "", text: t["studio.default_device"] }));
    devices
      .filter((d) => d.kind === kind)
      .forEach((d, i) => select.append(el("option", { value: d.deviceId, text: d.label || `${kind} ${i + 1}` })));
    select.value = chosen;
  }
}

async function openCamera() {
  const video = $("#camera-select").value;
  const audio = $("#mic-select").value;
  const next = await navigator.mediaDevices.getUserMedia({
    video: { deviceId: video ? { exact: video } : undefined, width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
    // Echo cancellation is the browser's: the other members' voices play on this machine's speakers.
    audio: { deviceId: audio ? { exact: audio } : undefined, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  const old = camera;
  camera = next;
  $("#preview").srcObject = camera;
  $("#preview-placeholder").hidden = true;
  if (publisher) for (const track of camera.getTracks()) await publisher.replace(track);
  if (old) for (const track of old.getTracks()) track.stop();
  meter(camera);
  await listDevices();
}

async function enableCamera() {
  try {
    await openCamera();
  } catch (err) {
    $("#preview-placeholder").hidden = false;
    toast(`${t["studio.camera_error"]} (${err.name})`, "error");
  }
}

let meterTimer = null;
function meter(stream) {
  clearInterval(meterTimer);
  const [track] = stream.getAudioTracks();
  if (!track || !window.AudioContext) return;
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  meterTimer = setInterval(() => {
    analyser.getByteTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
    $("#mic-level").style.width = `${Math.min(100, (peak / 128) * 160)}%`;
  }, 100);
  document.addEventListener("click", () => context.resume(), { once: true });
}

$("#enable-camera").addEventListener("click", enableCamera);
$("#camera-select").addEventListener("change", enableCamera);
$("#mic-select").addEventListener("change", enableCamera);

// ---- going live (WHIP) -------------------------------------------------------------------------
function setPublishStatus(text) {
  $("#publish-status").textContent = text;
}

async function publish() {
  if (!camera) await openCamera();
  publisher = new WhipSession(slug, "camera");
  setPublishStatus(t["studio.connecting"]);
  const session = publisher;
  const republish = () => {
    if (!wantLive || publisher !== session) return;
    setPublishStatus(t["studio.retrying"]);
    publisher = null;
    session.stop();
    setTimeout(() => wantLive && !publisher && publish().catch((err) => setPublishStatus(errorMessage(err))), REPUBLISH_MS);
  };
  let disconnectedTimer = null;
  await session.start(camera, (state) => {
    clearTimeout(disconnectedTimer);
    if (state === "connected") setPublishStatus(t["studio.publishing"]);
    if (state === "failed") republish();
    // "disconnected" often heals by itself (a busy machine, a network blip): a new session would put this
    // expert through the stage again, so give the old one a moment first.
    if (state === "disconnected") disconnectedTimer = setTimeout(republish, DISCONNECTED_GRACE_MS);
  });
  stagePanel.render(); // this session is ours: no monitor of it
}

$("#go-live").addEventListener("click", async () => {
  const button = $("#go-live");
  button.disabled = true;
  try {
    if (eventState === "scheduled") {
      await api("POST", `${base}/state`, { state: "live" });
      setEventState("live");
    }
    wantLive = true;
    await publish();
    liveSince = Date.now();
    renderControls();
  } catch (err) {
    wantLive = false;
    toast(`${t["studio.go_live_failed"]}: ${errorMessage(err)}`, "error");
    setPublishStatus("");
  } finally {
    button.disabled = false;
  }
});

$("#stop-live").addEventListener("click", async () => {
  wantLive = false;
  liveSince = null;
  if (publisher) await publisher.stop();
  publisher = null;
  setPublishStatus(t["studio.stopped"]);
  renderControls();
});

$("#end-event").addEventListener("click", async () => {
  if (!window.confirm(t["studio.end_confirm"])) return;
  try {
    wantLive = false;
    // Close our sessions while the server still has them; ending the event closes every peer.
    await stopScreen();
    if (publisher) await publisher.stop();
    publisher = null;
    await stopMonitor();
    stagePanel.stopAll();
    await api("POST", `${base}/state`, { state: "ended" });
    setEventState("ended");
  } catch (err) {
    toast(errorMessage(err), "error");
  }
});

// ---- screen share (second WHIP session) ----------------------------------------------------------
$("#share-screen").addEventListener("click", async () => {
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    const session = await new WhipSession(slug, "screen").start(stream);
    screen = { stream, session };
    stagePanel.render();
    $("#screen-preview").srcObject = stream;
    $("#screen-placeholder").hidden = true;
    stream.getVideoTracks()[0].addEventListener("ended", stopScreen);
    renderControls();
  } catch (err) {
    if (err.name !== "NotAllowedError") toast(`${t["studio.share_failed"]}: ${errorMessage(err)}`, "error");
  }
});

async function stopScreen(release = true) {
  if (!screen) return;
  const { stream, session } = screen;
  screen = null;
  for (const track of stream.getTracks()) track.stop();
  await session.stop({ release });
  $("#screen-preview").srcObject = null;
  $("#screen-placeholder").hidden = false;
  renderControls();
}
$("#stop-screen").addEventListener("click", () => stopScreen());

// The programme's live captions over the monitor; staff may correct a line (PATCH …/captions/{id}).
const captions = new Captions($("#monitor-box"), $("#monitor-box").parentElement, { slug, canEdit: true });

// ---- monitor (WHEP) ----------------------------------------------------------------------------
async function startMonitor() {
  if (monitor || streamState !== "live") return;
  monitor = new WhepSession(slug);
  try {
    await monitor.start($("#monitor"), (state) => {
      $("#monitor-tag").textContent = state === "connected" ? t["studio.monitor_live"] : "WHEP";
      $("#monitor-tag").classList.toggle("on-air", state === "connected");
      if (state === "failed") stopMonitor().then(() => setTimeout(startMonitor, REPUBLISH_MS));
    });
    $("#monitor-placeholder").hidden = true;
  } catch {
    monitor = null;
    setTimeout(startMonitor, REPUBLISH_MS);
  }
}

async function stopMonitor(release = true) {
  const m = monitor;
  monitor = null;
  if (m) await m.stop({ release });
  $("#monitor").srcObject = null;
  $("#monitor-placeholder").hidden = false;
  $("#monitor-tag").textContent = "WHEP";
  $("#monitor-tag").classList.remove("on-air");
}

// ---- state -------------------------------------------------------------------------------------
function setEventState(state) {
  eventState = state;
  const badge = $("#event-state");
  badge.className = `badge state-${state}`;
  badge.textContent = t[`state.${state}`];
  if (state === "ended" || state === "archived") closeStudio();
  renderControls();
}

/** The event is over: the server has closed every session, so let go of ours (no DELETE), switch the
 * camera off and point to what comes next. */
function closeStudio() {
  wantLive = false;
  if (publisher) publisher.stop({ release: false });
  publisher = null;
  stopScreen(false);
  stopMonitor(false);
  stagePanel.stopAll();
  if (camera) for (const track of camera.getTracks()) track.stop();
  camera = null;
  clearInterval(meterTimer);
  $("#preview").srcObject = null;
  $("#preview-placeholder").hidden = true;
  setPublishStatus(t["studio.event_over"]);
  $("#ended-panel").hidden = false;
}

function setStreamState(state) {
  streamState = state;
  if (state === "live") setTimeout(startMonitor, 500);
  else stopMonitor(state !== "ended");
  if (state === "ended") setEventState("ended");
  renderControls();
}

function renderControls() {
  const over = eventState === "ended" || eventState === "archived";
  const live = Boolean(publisher) || wantLive;
  $("#go-live").hidden = live || over;
  $("#stop-live").hidden = !live || over;
  $("#share-screen").hidden = Boolean(screen) || over;
  $("#stop-screen").hidden = !screen;
  $("#end-event").hidden = eventState !== "live";
  const pill = $("#onair");
  pill.dataset.state = over ? "ended" : streamState;
  // Several experts: mine may wait backstage while the programme is live with someone else.
  const member = myMember();
  const mineOnAir = live && streamState === "live" && (member ? member.on_air : true);
  const backstage = live && member && !member.on_air;
  $("#preview-tag").classList.toggle("on-air", mineOnAir);
  $("#preview-tag").dataset.state = mineOnAir ? "on_air" : backstage ? "backstage" : "preview";
  $("#preview-tag").textContent = mineOnAir ? t["state.live"] : backstage ? t["stage.backstage"] : t["studio.preview"];
  if (over) pill.textContent = t["state.ended"];
  else if (streamState === "live") pill.textContent = `● ${t["studio.on_air"]}${liveSince ? ` ${elapsed()}` : ""}`;
  else if (streamState === "reconnecting") pill.textContent = t["studio.reconnecting"];
  else pill.textContent = t["studio.off_air"];
}

function elapsed() {
  const s = Math.floor((Date.now() - liveSince) / 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}
setInterval(renderControls, 1000);

// ---- the queue ---------------------------------------------------------------------------------
async function act(id, action, extra = {}) {
  try {
    await api("POST", `${base}/questions/${id}/actions`, { action, ...extra });
    return true;
  } catch (err) {
    toast(errorMessage(err), "error");
    return false;
  }
}

function card(q, actions) {
  return el(
    "div",
    { class: `mcard status-${q.status}`, role: "listitem", "data-id": q.id },
    el(
      "div",
      { class: "q-body" },
      statusChip(q),
      el("span", { class: "votes-pill", text: `▲ ${q.votes}` }),
      el("p", { class: "q-text", text: q.text }),
      metaLine(q),
      answerBlock(q),
      el("div", { class: "actions" }, ...actions),
    ),
  );
}

function renderNow() {
  const q = store.answering();
  const box = $("#now-box");
  const focused = document.activeElement && document.activeElement.id === "answer-text";
  if (focused && box.dataset.id === String(q && q.id)) return; // do not disturb the expert typing
  box.dataset.id = q ? String(q.id) : "";
  if (!q) {
    box.replaceChildren(el("p", { class: "empty", text: t["studio.nothing_answering"] }));
    return;
  }
  const area = el("textarea", { id: "answer-text", rows: 3, maxlength: 5000, placeholder: t["studio.answer_placeholder"], "aria-label": t["studio.answer_label"] });
  area.value = draftAnswer || q.answer_text || "";
  area.addEventListener("input", () => (draftAnswer = area.value));
  box.replaceChildren(
    el(
      "div",
      { class: "now-card", "data-id": q.id },
      el("p", { class: "q-text", text: q.text }),
      metaLine(q),
      el("div", { class: "form" }, area),
      el(
        "div",
        { class: "actions" },
        el("button", {
          type: "button",
          class: "button ok solid",
          "data-role": "answered",
          text: t["studio.mark_answered"],
          onclick: async () => {
            const text = area.value.trim();
            if (await act(q.id, "answered", text ? { answer_text: text } : {})) draftAnswer = "";
          },
        }),
        el("button", { type: "button", class: "button", text: t["studio.back_to_queue"], onclick: () => act(q.id, "reopen") }),
      ),
    ),
  );
}

// Frames can arrive many times a second (votes): redraw for them at most once per animation frame.
// What a person does redraws at once (`render`).
const renderSoon = coalesced(() => render());

function render() {
  if (!ready) return;
  renderNow();
  const next = store.sorted("popular", (q) => q.status === "approved");
  renderKeepingFocus(
    $("#queue-list"),
    next.map((q) =>
      card(q, [
        el("button", { type: "button", class: "button live small", "data-role": "answering", text: t["studio.answer_now"], onclick: () => act(q.id, "answering").then(() => (draftAnswer = "")) }),
        el("button", { type: "button", class: "button small", "data-role": "answered", text: t["studio.mark_answered"], onclick: () => act(q.id, "answered") }),
      ]),
    ),
  );
  $("#queue-empty").hidden = next.length > 0;
  const done = store.sorted("popular", (q) => q.status === "answered");
  renderKeepingFocus(
    $("#done-list"),
    done.map((q) => card(q, [el("button", { type: "button", class: "button ghost small", text: t["studio.reopen"], onclick: () => act(q.id, "reopen") })])),
  );
  $("#done-count").textContent = done.length ? String(done.length) : "";
  $("#n-queue").textContent = String(next.length);
  $("#n-answered").textContent = String(done.length);
}

new LiveSocket(slug, {
  onSnapshot(data) {
    captions.load(data.captions);
    store.load(data);
    notes.load(data.notes || []);
    $("#n-viewers").textContent = String(data.viewers);
    if (data.event.state !== eventState) setEventState(data.event.state);
    setStreamState(data.stream.state);
    stagePanel.load(data.stage);
    ready = true;
    renderSoon();
  },
  onFrame(frame) {
    if (frame.type === "presence") $("#n-viewers").textContent = String(frame.data.viewers);
    else if (frame.type === "stream.state") setStreamState(frame.data.state);
    else if (frame.type === "event.state" && frame.data.state !== eventState) setEventState(frame.data.state);
    else if (frame.type === "note") notes.add(frame.data);
    else if (frame.type === "caption") captions.apply(frame.data);
    else if (frame.type === "stage") stagePanel.load(frame.data);
    else if (store.apply(frame)) renderSoon();
  },
  onStatus: connectionBanner($("#conn-banner")),
  staff: true,
}).start();

window.addEventListener("beforeunload", (event) => {
  if (publisher) event.preventDefault();
});
renderControls();
// An event that is over needs no camera: the page offers the recording instead.
if (eventState === "ended" || eventState === "archived") closeStudio();
else enableCamera();
