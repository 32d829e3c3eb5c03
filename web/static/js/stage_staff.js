// The stage for staff, on the studio and the moderator console: every member (experts' cameras, screen
// shares, viewers brought on air) with their own low-latency monitor (WHEP `?member=`: experts see and hear
// each other, a moderator checks a viewer backstage), on / off air, mute, cut; the layout; raised hands with
// their question, invitations. The server decides (staff only, 409 stage_full at the 5th on air); this page
// only asks and shows what the `stage` frame says.
import { api, el, errorMessage, fmt, t, toast } from "./common.js";
import { WhepSession } from "./webrtc.js";

const LAYOUTS = ["speaker", "grid", "slides"];
// Autoplay with sound may be refused (no click on the page yet): then play muted and offer a button.
const AUTOPLAY_CHECK_MS = 1500;
// A monitor's watchdog (class Monitor) looks this often at what its session received.
const WATCH_MS = 1000;
// Connected, the member sending (not "silent" on the stage), yet no audio packet and no decoded video
// frame for this long: the session is stuck (once in CI under heavy CPU load the moderator never heard a
// guest in 40 s, the connection "connected" or "disconnected" all along), so start a new one. Browsers send
// audio every 20 ms and the server asks for a keyframe when a monitor joins: a few seconds is never a pause.
const NO_MEDIA_MS = 6000;
// ICE "disconnected" mends itself after a blip; Chromium says "failed" only after ~30 s. Past this, a new
// session is quicker.
const DISCONNECTED_MS = 5000;
// Never connected this long after the offer went out (a DTLS handshake lost under load; the server gives
// up on it at 30 s and cannot tell the page): start again.
const CONNECT_MS = 15000;
// Between attempts: RETRY_MIN_MS, doubled each time, at most RETRY_MAX_MS (a member gone for good costs a
// request every 16 s until the stage frame removes them); back to the minimum once media flows.
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 16000;

/** A small level meter on a stream's audio; `onLevel(0..1)` about ten times a second. Returns a stop function. */
export function levelMeter(stream, onLevel) {
  const [track] = stream.getAudioTracks();
  if (!track || !window.AudioContext) return () => {};
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const data = new Uint8Array(analyser.fftSize);
  const timer = setInterval(() => {
    if (context.state === "suspended") context.resume().catch(() => {});
    analyser.getByteTimeDomainData(data);
    let peak = 0;
    for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
    onLevel(peak / 128);
  }, 100);
  return () => {
    clearInterval(timer);
    context.close().catch(() => {});
  };
}

/**
 * One member seen and heard over WHEP (`?member=`), with a watchdog: a session that is connected but
 * receives nothing while the member sends, sits "disconnected", never connects, or fails is replaced by a
 * new one, with a growing pause between attempts. The tile says "Connecting…" until media first arrives
 * and "Reconnecting…" while a replacement is on its way. A member who publishes again after a silence
 * (a new source) gets a new session at once; one who re-publishes is a new member (a new Monitor).
 */
class Monitor {
  constructor(slug, member) {
    this.slug = slug;
    this.memberId = member.id;
    this.member = member;
    const label = member.name || t[`stage.kind.${member.kind}`];
    // Pictures muted (always allowed to play), the voice in an element of its own.
    this.video = el("video", { autoplay: true, playsinline: true, "aria-label": label });
    this.video.muted = true;
    this.audio = el("audio", { autoplay: true });
    this.hear = el("button", { type: "button", class: "button small hear", text: t["stage.hear"], hidden: true, onclick: () => this.unmute() });
    this.bar = el("span", {});
    this.meter = el("span", { class: "meter", role: "meter", "aria-label": t["stage.level"], "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0" }, this.bar);
    this.voiceOnly = el("p", { class: "voice-only", text: t["stage.no_video"], hidden: member.video });
    this.link = el("p", { class: "link-state", role: "status" });
    this.tile = el("div", { class: "stage-tile", "data-level": "0" }, this.video, this.voiceOnly, this.link, this.audio, this.meter, this.hear);
    this.session = null;
    this.stopMeter = () => {};
    this.closed = false;
    this.attempts = 0; // sessions started since media last flowed
    this.pending = null; // the timer of the next attempt
    this.checking = false;
    this.show("connecting");
    this.watchdog = setInterval(() => this.watch(), WATCH_MS);
    this.start();
  }

  /** connecting | reconnecting | playing, on the tile (data-link) and in words. */
  show(state) {
    this.tile.dataset.link = state;
    this.link.hidden = state === "playing";
    if (state === "connecting") this.link.textContent = t["stage.monitor.connecting"];
    if (state === "reconnecting") this.link.textContent = t["stage.monitor.reconnecting"];
  }

  /** The member as the latest `stage` frame shows them. */
  update(member) {
    const was = this.member;
    this.member = member;
    this.voiceOnly.hidden = member.video;
    if (was.silent && !member.silent) this.restart(); // sending again: a new source, a fresh session
  }

  async start() {
    this.pending = null;
    if (this.closed) return;
    const session = new WhepSession(this.slug, this.memberId);
    this.session = session;
    // What the watchdog knows of this session: when it began, connected, last received anything.
    this.watched = { since: performance.now(), connected: null, disconnected: null, flowing: null, seen: null };
    this.attempts += 1;
    try {
      await session.start(
        this.video,
        (state) => {
          if ((state === "failed" || state === "closed") && this.session === session) this.restart();
        },
        { audio: this.audio },
      );
      if (this.session !== session) return;
      this.watchAudio(session);
      setTimeout(() => this.checkAutoplay(), AUTOPLAY_CHECK_MS);
    } catch {
      if (this.session === session) this.restart();
    }
  }

  /** Drop the current session and start another after a pause that grows with each attempt. */
  restart() {
    if (this.closed || this.pending) return;
    const old = this.session;
    this.session = null;
    if (old) old.stop();
    // The old session's stream goes with it: the meter then waits for the new one's track instead of
    // measuring an ended one (a new session's start can resolve before its track arrives).
    this.stopMeter();
    this.stopMeter = () => {};
    this.audio.srcObject = null;
    this.video.srcObject = null;
    this.show("reconnecting");
    const pause = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.max(0, this.attempts - 1));
    this.pending = setTimeout(() => this.start(), pause);
  }

  /** The watchdog (every WATCH_MS): is media arriving, is the connection alive? */
  async watch() {
    const session = this.session;
    if (this.closed || !session || !session.pc || this.checking) return;
    this.checking = true;
    try {
      const got = await session.received();
      if (this.session !== session || !got) return;
      const now = performance.now();
      const seen = this.watched;
      const count = got.audioPackets + got.videoFrames;
      if (count > (seen.seen ?? 0)) {
        seen.flowing = now;
        this.attempts = 0;
        this.show("playing");
      }
      seen.seen = count;
      const pc = session.pc;
      const state = pc ? pc.connectionState : "closed";
      if (state === "connected") {
        seen.connected ??= now;
        seen.disconnected = null;
        const sending = !this.member.silent && (this.member.audio || this.member.video);
        if (sending && now - Math.max(seen.connected, seen.flowing ?? 0) > NO_MEDIA_MS) this.restart();
      } else if (state === "disconnected") {
        seen.disconnected ??= now;
        if (now - seen.disconnected > DISCONNECTED_MS) this.restart();
      } else if (state === "new" || state === "connecting") {
        if (seen.connected === null && now - seen.since > CONNECT_MS) this.restart();
      }
    } catch {
      // stats of a connection closing under us: the next look decides
    } finally {
      this.checking = false;
    }
  }

  /** The level of the member's voice, once its track is here. */
  watchAudio(session) {
    if (this.closed || this.session !== session) return;
    this.stopMeter();
    this.stopMeter = () => {};
    const stream = this.audio.srcObject;
    if (!stream || !stream.getAudioTracks().length) {
      setTimeout(() => this.watchAudio(session), 500);
      return;
    }
    this.stopMeter = levelMeter(stream, (level) => {
      const percent = Math.round(Math.min(100, level * 160));
      this.bar.style.width = `${percent}%`;
      this.tile.dataset.level = String(percent);
      this.meter.setAttribute("aria-valuenow", String(percent));
    });
  }

  /** Sound needs a click on a page that has had none: offer a button meanwhile. */
  checkAutoplay() {
    if (this.closed || !this.audio.srcObject) return;
    this.hear.hidden = !this.audio.paused;
  }

  unmute() {
    this.audio.play().catch(() => {});
    this.hear.hidden = true;
  }

  stop() {
    this.closed = true;
    clearInterval(this.watchdog);
    clearTimeout(this.pending);
    this.pending = null;
    this.stopMeter();
    const session = this.session;
    this.session = null;
    if (session) session.stop();
    this.video.srcObject = null;
    this.audio.srcObject = null;
  }
}

export class StagePanel {
  /**
   * root: the panel's element (with [data-stage=…] slots, see studio.html / moderate.html).
   * watch(member): whether this page opens a monitor of that member.
   * mine(): ids of this page's own members (never monitored: we hear ourselves through no one).
   * host(stage): whether this page controls the stage (the server checks the role either way).
   */
  constructor(root, base, slug, { watch, mine = () => new Set(), host = () => true }) {
    this.root = root;
    this.base = base;
    this.slug = slug;
    this.watch = watch;
    this.mine = mine;
    this.host = host;
    this.stage = null;
    this.monitors = new Map(); // member id → Monitor
    this.rows = new Map(); // member id → <li>
    this.slot = (name) => root.querySelector(`[data-stage="${name}"]`);
    this.onChange = () => {};
    this.closed = false;
  }

  load(stage) {
    if (!stage) return;
    this.stage = stage;
    this.render();
    this.onChange(stage);
  }

  member(id) {
    return this.stage ? this.stage.members.find((m) => m.id === id) || null : null;
  }

  async call(method, path, body) {
    try {
      const out = await api(method, `${this.base}/stage${path}`, body);
      if (out && out.members) this.load(out);
      return true;
    } catch (err) {
      toast(errorMessage(err), "error");
      return false;
    }
  }

  invite(questionId, camera = false) {
    return this.call("POST", "/invitations", { question_id: questionId, camera }).then((ok) => ok && toast(t["stage.invited_done"], "ok"));
  }

  render() {
    const stage = this.stage;
    if (!stage) return;
    const focusKey = document.activeElement && this.root.contains(document.activeElement) ? document.activeElement.dataset.key : null;
    const host = this.host(stage);
    const mine = this.mine();
    this.root.dataset.host = host ? "true" : "false";
    const onAir = stage.members.filter((m) => m.on_air).length;
    this.slot("count").textContent = fmt("stage.count", { n: onAir, max: stage.max_on_air });
    this.slot("hint").textContent = host ? t["stage.host_hint"] : t["stage.not_host"];

    // The layout: three toggle buttons (Tab to reach, Enter or Space to choose).
    this.slot("layout").replaceChildren(
      ...LAYOUTS.map((layout) =>
        el("button", {
          type: "button",
          class: "button small",
          "data-key": `layout-${layout}`,
          "data-layout": layout,
          "aria-pressed": stage.layout === layout ? "true" : "false",
          disabled: !host,
          text: t[`stage.layout.${layout}`],
          onclick: () => this.call("PATCH", "", { layout }),
        }),
      ),
    );

    // Members: a row each, its monitor kept across renders (a new <video> would reconnect).
    const list = this.slot("members");
    const seen = new Set();
    for (const member of stage.members) {
      seen.add(member.id);
      let monitor = this.monitors.get(member.id);
      if (monitor && mine.has(member.id)) {
        // Our own session, known as ours only once its WHIP answer came (after the frame, at times).
        monitor.stop();
        this.monitors.delete(member.id);
        monitor = null;
      }
      if (!monitor && !this.closed && this.watch(member) && !mine.has(member.id)) {
        monitor = new Monitor(this.slug, member);
        this.monitors.set(member.id, monitor);
      } else if (monitor) {
        monitor.update(member);
      }
      let row = this.rows.get(member.id);
      if (!row) {
        row = el("li", { class: "stage-member", "data-member": member.id });
        this.rows.set(member.id, row);
      }
      row.dataset.kind = member.kind;
      row.dataset.onAir = member.on_air ? "true" : "false";
      const body = this.memberBody(member, host, mine.has(member.id), stage);
      const tile = monitor ? monitor.tile : null;
      row.replaceChildren(...(tile ? [tile] : []), body);
      if (row.parentNode !== list || list.children[stage.members.indexOf(member)] !== row) list.append(row);
    }
    for (const [id, row] of this.rows) {
      if (seen.has(id)) continue;
      row.remove();
      this.rows.delete(id);
    }
    for (const [id, monitor] of this.monitors) {
      if (seen.has(id)) continue;
      monitor.stop();
      this.monitors.delete(id);
    }
    this.slot("empty").hidden = stage.members.length > 0;

    const hands = this.slot("hands");
    if (hands) {
      hands.replaceChildren(...(stage.hands || []).map((hand) => this.handItem(hand)));
      this.slot("hands-empty").hidden = (stage.hands || []).length > 0;
      const joined = new Set(stage.members.filter((m) => m.kind === "guest").map((m) => m.participant_id));
      const waiting = (stage.grants || []).filter((g) => !joined.has(g.participant_id));
      this.slot("grants").replaceChildren(...waiting.map((grant) => this.grantItem(grant)));
      this.slot("grants-box").hidden = waiting.length === 0;
    }
    if (focusKey) {
      const again = this.root.querySelector(`[data-key="${focusKey}"]`);
      if (again && !again.disabled) again.focus();
    }
  }

  memberBody(member, host, own, stage) {
    const name = member.name || (member.kind === "guest" ? t["stage.anonymous"] : t[`stage.kind.${member.kind}`]);
    const chips = [
      el("span", { class: `chip ${member.on_air ? "chip-answering" : "chip-muted"}`, "data-role": "state", text: member.on_air ? t["stage.on_air"] : t["stage.backstage"] }),
      member.muted ? el("span", { class: "chip chip-pending", text: t["stage.muted"] }) : null,
      member.silent ? el("span", { class: "chip chip-rejected", text: t["stage.silent"] }) : null,
      !member.video ? el("span", { class: "chip chip-muted", text: t["stage.no_video"] }) : null,
      stage.speaker === member.id ? el("span", { class: "chip chip-ok", text: t["stage.speaker_now"] }) : null,
    ];
    const who = el(
      "p",
      { class: "stage-who" },
      el("strong", { text: name + (own ? t["stage.you"] : "") }),
      el("span", { class: "muted", text: ` · ${t[`stage.kind.${member.kind}`]}${member.organisation ? ` · ${member.organisation}` : ""}` }),
    );
    const question = member.question_id && this.questionText ? this.questionText(member.question_id) : "";
    const key = (what) => `${what}-${member.id}`;
    const path = `/members/${encodeURIComponent(member.id)}`;
    const actions = el("div", { class: "actions" });
    if (host) {
      actions.append(
        member.on_air
          ? el("button", { type: "button", class: "button small", "data-key": key("off"), "data-role": "off-air", text: t["stage.take_off"], onclick: () => this.call("PATCH", path, { on_air: false }) })
          : el("button", { type: "button", class: "button live small", "data-key": key("on"), "data-role": "on-air", text: t["stage.put_on_air"], onclick: () => this.call("PATCH", path, { on_air: true }) }),
      );
      if (member.audio) {
        actions.append(
          el("button", {
            type: "button",
            class: "button small",
            "data-key": key("mute"),
            "data-role": "mute",
            "aria-pressed": member.muted ? "true" : "false",
            text: member.muted ? t["stage.unmute"] : t["stage.mute"],
            onclick: () => this.call("PATCH", path, { muted: !member.muted }),
          }),
        );
      }
      if (member.on_air && stage.layout === "speaker" && stage.speaker !== member.id && member.kind !== "screen") {
        actions.append(el("button", { type: "button", class: "button ghost small", "data-key": key("speaker"), "data-role": "speaker", text: t["stage.make_speaker"], onclick: () => this.call("PATCH", "", { layout: "speaker", speaker: member.id }) }));
      }
      if (member.kind === "guest") {
        actions.append(el("button", { type: "button", class: "button danger small", "data-key": key("cut"), "data-role": "cut", text: t["stage.cut"], onclick: () => this.call("DELETE", path).then((ok) => ok && this.dropMember(member.id)) }));
      }
    }
    return el("div", { class: "stage-body" }, el("div", { class: "chips" }, ...chips), who, question ? el("p", { class: "q-text small", text: fmt("stage.question", { text: question }) }) : null, actions);
  }

  /** A cut answers 204 (no stage in the body): the frame follows, but the row goes at once. */
  dropMember(id) {
    if (!this.stage) return;
    this.load({ ...this.stage, members: this.stage.members.filter((m) => m.id !== id) });
  }

  handItem(hand) {
    const who = hand.name ? `${hand.name}${hand.organisation ? ` · ${hand.organisation}` : ""}` : t["stage.anonymous"];
    const key = (what) => `${what}-hand-${hand.question_id}`;
    return el(
      "li",
      { class: "stage-hand", "data-question": hand.question_id },
      el("p", { class: "q-text", text: hand.text }),
      el("p", { class: "muted small", text: who }),
      el(
        "div",
        { class: "actions" },
        el("button", { type: "button", class: "button live small", "data-key": key("invite"), "data-role": "invite", text: t["stage.invite"], onclick: () => this.invite(hand.question_id, false) }),
        el("button", { type: "button", class: "button small", "data-key": key("camera"), "data-role": "invite-camera", text: t["stage.invite_camera"], onclick: () => this.invite(hand.question_id, true) }),
        el("button", { type: "button", class: "button ghost small", "data-key": key("dismiss"), "data-role": "dismiss", text: t["stage.dismiss"], onclick: () => this.call("DELETE", `/hands/${hand.question_id}`).then(() => this.refresh()) }),
      ),
    );
  }

  grantItem(grant) {
    const who = grant.name || t["stage.anonymous"];
    const question = grant.question_id && this.questionText ? this.questionText(grant.question_id) : "";
    return el(
      "li",
      { class: "stage-hand", "data-participant": grant.participant_id },
      el("p", {}, el("strong", { text: who }), el("span", { class: "muted", text: grant.organisation ? ` · ${grant.organisation}` : "" })),
      question ? el("p", { class: "q-text small", text: question }) : null,
      el(
        "div",
        { class: "actions" },
        el("button", { type: "button", class: "button ghost small", "data-key": `withdraw-${grant.participant_id}`, "data-role": "withdraw", text: t["stage.withdraw"], onclick: () => this.call("DELETE", `/invitations/${grant.participant_id}`).then(() => this.refresh()) }),
      ),
    );
  }

  async refresh() {
    try {
      this.load(await api("GET", `${this.base}/stage`));
    } catch {
      // the next frame brings it
    }
  }

  /** The event is over (or the page leaves the stage): no monitor now, and none opened later. */
  stopAll() {
    this.closed = true;
    for (const monitor of this.monitors.values()) monitor.stop();
    this.monitors.clear();
  }
}
