// A viewer on air (连麦), on the viewer page: raise a hand on one's own approved question, be invited by a
// moderator (a notice), allow the microphone (and camera if invited with it) and publish over WHIP — backstage
// first, on air only when a moderator puts them there — with the time left and a leave button. Nobody goes on
// air without a moderator's action: the server refuses to publish without a grant (403), and puts no guest
// on air by itself. The invitation outlives the page and the connection: after a reload (GET …/stage's
// `mine`, on load and on every snapshot) or a dropped session it is offered again until staff withdraw it.
import { api, el, errorMessage, fmt, t, toast } from "./common.js";
import { levelMeter } from "./stage_staff.js";
import { WhipSession } from "./webrtc.js";

export class GuestStage {
  /** panel: the #stage-guest section; onChange(): the page redraws what shows hands (the "mine" list). */
  constructor(panel, base, slug, { onChange = () => {} } = {}) {
    this.panel = panel;
    this.base = base;
    this.slug = slug;
    this.onChange = onChange;
    this.mine = null; // GET …/stage's `mine`
    this.session = null; // WhipSession while publishing
    this.stream = null;
    this.stopMeter = () => {};
    this.busy = false;
    this.message = null; // a line left after it ended ("you have left", "time is up")
    this.remainingAt = null; // [seconds left, performance.now() when the server said so]
    this.refreshing = null;
    this.refreshAgain = false;
    setInterval(() => this.tick(), 1000);
  }

  /** Whether this viewer has anything on the stage (then public `stage` frames are worth a look). */
  involved() {
    return Boolean(this.session || (this.mine && (this.mine.invited || this.mine.member || this.mine.hands.length)));
  }

  hasHand(questionId) {
    return Boolean(this.mine && this.mine.hands.includes(questionId));
  }

  /** GET …/stage (the caller's own state is under `mine`); one at a time, the last call wins. */
  async refresh() {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          const stage = await api("GET", `${this.base}/stage`);
          this.apply(stage.mine || null);
          this.fit(stage);
        } while (this.refreshAgain);
      } catch {
        // the next frame or notice tries again
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Drawn small in the programme (the member's `tile`): send a smaller picture (WhipSession.fit). */
  fit(stage) {
    const session = this.session;
    if (!session || !session.id) return;
    const member = (stage.members || []).find((m) => m.id === session.id);
    if (member) session.fit(member.tile || null);
  }

  apply(mine) {
    const was = this.mine;
    this.mine = mine;
    if (mine && mine.remaining !== null && mine.remaining !== undefined) this.remainingAt = [mine.remaining, performance.now()];
    else this.remainingAt = null;
    // The server let go of our session (a moderator cut us, our time ran out): stop sending. Only once
    // the server has shown it as ours (an answer started before we joined must not end it). Still invited:
    // our connection dropped, and the invitation is offered again (join once more).
    const session = this.session;
    if (session && session.id && mine) {
      if (mine.member === session.id && !session.failed) session.confirmed = true;
      else if (session.confirmed || session.failed) {
        if (mine.invited) this.stop(false, t["stage.dropped"]);
        else this.stop(false, was && was.on_air ? t["stage.ended"] : t["stage.uninvited"]);
      }
    }
    this.render();
    this.onChange();
  }

  /** A public `stage` frame: someone went on or off air. Only viewers on the stage need their own view. */
  onStage() {
    if (this.involved()) this.refresh();
  }

  onNotice(notice) {
    if (notice.type === "stage.invited") {
      this.message = null;
      toast(t["stage.invited_toast"], "ok", 10000);
      this.refresh();
      return true;
    }
    if (notice.type === "stage.uninvited") {
      if (this.session) this.stop(false, t["stage.uninvited"]);
      else toast(t["stage.uninvited"], "warn");
      this.refresh();
      return true;
    }
    return false;
  }

  /** The hand button on one of the viewer's own questions (approved or being answered). */
  handButton(q) {
    const raised = this.hasHand(q.id);
    const invited = this.mine && this.mine.invited;
    if (invited && !raised) return null;
    return el("button", {
      type: "button",
      class: `button small hand-button${raised ? "" : " primary"}`,
      "data-role": "hand",
      "aria-pressed": raised ? "true" : "false",
      text: raised ? t["stage.lower_hand"] : t["stage.raise_hand"],
      onclick: () => this.toggleHand(q.id, raised),
    });
  }

  async toggleHand(questionId, raised) {
    try {
      if (raised) {
        await api("DELETE", `${this.base}/stage/hands/${questionId}`);
        this.apply({ ...this.mine, hands: this.mine.hands.filter((id) => id !== questionId) });
      } else {
        const stage = await api("POST", `${this.base}/stage/hands`, { question_id: questionId });
        this.message = null;
        this.apply(stage.mine);
      }
    } catch (err) {
      toast(errorMessage(err), "error");
    }
  }

  async join() {
    if (this.busy || this.session) return;
    this.busy = true;
    this.message = null;
    this.render();
    const camera = Boolean(this.mine && this.mine.camera);
    try {
      // The browser asks for permission here; its echo cancellation keeps the programme out of our voice.
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
        video: camera ? { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } } : false,
      });
    } catch (err) {
      this.busy = false;
      toast(`${t["stage.mic_error"]} (${err.name})`, "error");
      this.render();
      return;
    }
    const session = new WhipSession(this.slug, "camera");
    this.session = session;
    try {
      await session.start(this.stream, (state) => {
        if ((state === "failed" || state === "closed") && this.session === session) {
          // Ours is dead whatever the server still thinks (it notices within ~30 s): if the invitation
          // stands, `apply` offers it again, and joining again replaces the old session.
          session.failed = true;
          this.refresh();
        }
      });
    } catch (err) {
      this.busy = false;
      this.stop(false, null);
      toast(errorMessage(err), "error");
      this.refresh();
      return;
    }
    this.busy = false;
    this.stopMeter = levelMeter(this.stream, (level) => {
      const bar = this.panel.querySelector(".meter span");
      if (bar) bar.style.width = `${Math.round(Math.min(100, level * 160))}%`;
    });
    await this.refresh();
  }

  async leave() {
    const member = this.session && this.session.id;
    if (member) {
      try {
        // The member's DELETE closes the session on the server (staff's "cut" does the same).
        await api("DELETE", `${this.base}/stage/members/${encodeURIComponent(member)}`);
      } catch {
        // already gone
      }
    }
    this.stop(!member, t["stage.left"]);
    this.refresh();
  }

  /** Stop sending. `release`: DELETE the WHIP session (false: the server already closed it, or the
   * member's DELETE does). */
  stop(release, message) {
    const session = this.session;
    this.session = null;
    this.stopMeter();
    this.stopMeter = () => {};
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    if (session) session.stop({ release });
    if (message) {
      this.message = message;
      toast(message, "info");
    }
    this.render();
  }

  remaining() {
    if (!this.remainingAt) return null;
    const [left, at] = this.remainingAt;
    return Math.max(0, left - (performance.now() - at) / 1000);
  }

  tick() {
    const node = this.panel.querySelector(".remaining");
    const left = this.remaining();
    if (node && left !== null) node.textContent = fmt("stage.remaining", { time: clockText(left) });
  }

  state() {
    const mine = this.mine;
    if (this.session && mine && mine.on_air) return "on_air";
    if (this.session || this.busy) return "backstage";
    if (mine && mine.invited) return "invited";
    if (mine && mine.hands.length) return "hand";
    return this.message ? "ended" : "none";
  }

  render() {
    const state = this.state();
    const panel = this.panel;
    panel.dataset.state = state;
    panel.hidden = state === "none";
    const focused = panel.contains(document.activeElement) ? document.activeElement.dataset.role : null;
    const leave = el("button", { type: "button", class: "button danger", "data-role": "leave", text: t["stage.leave"], onclick: () => this.leave() });
    const meter = el("span", { class: "meter", "aria-label": t["stage.your_mic"], role: "img" }, el("span", {}));
    let body;
    if (state === "on_air") {
      const left = this.remaining();
      body = [
        el("p", { class: "guest-status", text: t["stage.on_air_now"] }),
        left !== null ? el("p", { class: "remaining", role: "timer", text: fmt("stage.remaining", { time: clockText(left) }) }) : null,
        meter,
        el("div", { class: "actions" }, leave),
      ];
    } else if (state === "backstage") {
      body = [
        el("p", { class: "guest-status", text: t["stage.backstage"] }),
        el("p", { class: "small", text: this.busy ? t["stage.connecting"] : t["stage.backstage_text"] }),
        meter,
        el("div", { class: "actions" }, leave),
      ];
    } else if (state === "invited") {
      const camera = Boolean(this.mine.camera);
      body = [
        el("p", { class: "guest-status", text: t["stage.invited_title"] }),
        el("p", { class: "small", text: camera ? t["stage.invited_cam"] : t["stage.invited_mic"] }),
        this.message ? el("p", { class: "small", "data-role": "stage-message", text: this.message }) : null,
        el("div", { class: "actions" }, el("button", { type: "button", class: "button primary", "data-role": "join-stage", text: camera ? t["stage.join_camera"] : t["stage.join"], onclick: () => this.join() })),
      ];
    } else if (state === "hand") {
      body = [el("p", { class: "small", text: t["stage.hand_raised"] })];
    } else {
      body = [el("p", { class: "small", text: this.message || "" })];
    }
    panel.querySelector("[data-slot]").replaceChildren(...body.filter(Boolean));
    if (focused) {
      const again = panel.querySelector(`[data-role="${focused}"]`);
      if (again) again.focus();
    }
  }
}

function clockText(seconds) {
  const s = Math.ceil(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
