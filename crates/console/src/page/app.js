// The therapist's page: one WebSocket to the console (docs/protocol.md §4.4,
// §4.5), every session subscribed, the selected one drawn in full.
// Drawing happens in one requestAnimationFrame loop, only when something
// changed; messages only update state and mark it dirty.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
// `?replay=<session id>`: this page replays that session (every part joined) instead of steering.
const replayOf = new URLSearchParams(location.search).get("replay");
const $ = (id) => document.getElementById(id);
const RING_CAPACITY = 1 << 18; // 48 min at 90 Hz per session
/** The display rate frame rates are shown against (and capped at). */
const DISPLAY_HZ = 90;

const state = { ws: null, connected: false, sessions: new Map(), order: [], current: null, requestId: 0,
  replay: null, dirty: true, pending: new Map(), tokenRefused: false,
  // The pages open on the console (this one is `me`), and this page's name.
  pages: [], me: null, name: localStorage.getItem("trinvis.name") || "" };

/** What the page knows of one session. */
class SessionView {
  constructor(info) {
    this.info = info; this.ring = new Ring(RING_CAPACITY); this.last = null; this.suds = []; this.markers = [];
    this.log = []; this.suggestion = null; this.stepEnteredAt = null; this.prediction = null; this.outcome = null;
    this.awaySince = null; this.droppedFrames = 0; this.samples = 0; this.subscribed = false; this.automatic = false;
    // Avoidance (detected by the console): the episode on screen until acknowledged, and how many there were.
    this.avoidance = null; this.avoidanceEpisodes = 0; this.awaitingSuds = null; this.lastChange = null;
    this.reset();
  }
  /** What only the console's history or live messages fill in. */
  reset() {
    this.inSafe = false; this.pausedAtStep = null; this.onStepOf = null; this.onStep = 0; this.prevSample = null;
    this.lastSeq = -1; this.lastCommandBy = null; this.gapS = 2.5; this.visits = new Map(); this.safeScenes = 0;
    this.notes = 0; this.headsetGone = false; this.startedAt = null; this.endedAt = null;
  }
  stepCount() { return this.info.steps && this.info.steps.length ? this.info.steps.length : 10; }
  clear() {
    this.ring.clear(); this.last = null; this.suds = []; this.markers = []; this.log = []; this.suggestion = null;
    this.stepEnteredAt = null; this.prediction = null; this.outcome = null; this.awaySince = null; this.droppedFrames = 0;
    this.avoidance = null; this.avoidanceEpisodes = 0; this.awaitingSuds = null; this.lastChange = null;
    this.automatic = false; this.samples = 0; this.reset();
  }
}

// Frame-time statistics for the performance check (tests/browser.rs reads them).
const stats = window.trinvisStats = {
  frames: 0, draws: 0, samples: 0, messages: 0, deltas: [], drawMs: [],
  // Mirror frames received per session, and pictures shown (decoded) in the page.
  mirrorFrames: {}, mirrorShown: 0,
  summary() {
    const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : 0; };
    return { frames: this.frames, draws: this.draws, samples: this.samples, messages: this.messages,
      frame_p50_ms: pct(this.deltas, 0.5), frame_p95_ms: pct(this.deltas, 0.95), frame_max_ms: Math.max(0, ...this.deltas),
      draw_p50_ms: pct(this.drawMs, 0.5), draw_p95_ms: pct(this.drawMs, 0.95), draw_max_ms: Math.max(0, ...this.drawMs) };
  },
  reset() { this.frames = 0; this.draws = 0; this.samples = 0; this.messages = 0; this.deltas = []; this.drawMs = []; },
};

// ---- the socket -------------------------------------------------------------

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const path = replayOf ? `/ws/replay?session=${encodeURIComponent(replayOf)}&token=` : "/ws/browser?token=";
  const ws = new WebSocket(`${proto}//${location.host}${path}${encodeURIComponent(token)}`, "trinvis.v1");
  state.ws = ws;
  let opened = false;
  ws.onopen = () => {
    opened = true;
    state.connected = true; state.tokenRefused = false;
    for (const s of state.sessions.values()) s.subscribed = false;
    sayWhoIAm();
    send({ type: "list_recordings" });
    loadHeadsets();
    renderConsoleLink();
  };
  ws.onclose = () => {
    state.connected = false; state.ws = null;
    renderConsoleLink();
    if (opened) return setTimeout(connect, 1000);
    // Refused before it opened: a WebSocket cannot tell why, the page's own
    // URL can. 401 means the console was started with new tokens.
    fetch(location.href, { method: "HEAD", cache: "no-store" }).then((r) => {
      state.tokenRefused = r.status === 401; renderConsoleLink();
    }).catch(() => {}).finally(() => setTimeout(connect, state.tokenRefused ? 5000 : 1000));
  };
  ws.binaryType = "arraybuffer";
  ws.onmessage = (e) => {
    stats.messages++;
    if (typeof e.data === "string") receive(JSON.parse(e.data)); else onMirrorFrame(e.data);
  };
}
function send(message) { if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(message)); }

/**
 * Sends a command with its intent: the target level this page saw when the
 * therapist decided. The console passes the same intent on once (a
 * double-click, a repeated key, another page), and a raise of more than
 * one step only with `confirmed` (the therapist said yes in a question).
 */
function command(c, sessionId = state.current, confirmed = false) {
  if (!sessionId) return;
  if (!state.connected) return toast("The console is not connected; nothing was sent.", true);
  const s = state.sessions.get(sessionId);
  const id = ++state.requestId;
  state.pending.set(id, c.type);
  const request = { type: "command", session_id: sessionId, request_id: id, command: c };
  if (s && s.last) request.basis = s.last.target_level;
  if (confirmed) request.confirmed = true;
  send(request);
}
/** Tells the console who this page is and which session it shows. */
function sayWhoIAm() { send({ type: "page", name: state.name || undefined, viewing: state.current || undefined }); }

function receive(m) {
  switch (m.type) {
    case "sessions": return onSessions(m.sessions);
    case "telemetry": return onTelemetry(m.session_id, m.batch.samples);
    case "events": return onEvents(m.session_id, m.batch.events);
    case "command_result": {
      const what = state.pending.get(m.request_id) || "command";
      state.pending.delete(m.request_id);
      // A second click of the same thing was not sent again: that is the guard working, not a failure.
      if (m.code === "duplicate") return toast(`${what.replace(/_/g, " ")}: sent once (the same came twice)`);
      if (!m.ok) toast(`${what.replace(/_/g, " ")} refused: ${m.error || m.code}`, true);
      return;
    }
    case "history": return onHistory(m);
    case "notice": return onNotice(m.session_id, m.notice);
    case "pages": state.pages = m.pages; state.me = m.you; state.dirty = true; return renderSessions();
    case "recordings": return renderRecordings(m.recordings);
    case "replay_status": return onReplayStatus(m);
    case "dropped": return log(m.session_id, null, `the console left out ${m.telemetry_batches} telemetry batches for this page`);
    case "error": return toast(`The console refused a message: ${m.message}`, true);
  }
}

// ---- the mirror: what the patient sees (docs/protocol.md §10) ------------------

/** A binary message: "TVMB", the session id, then the headset's frame. */
function onMirrorFrame(buffer) {
  const v = new DataView(buffer), bytes = new Uint8Array(buffer);
  if (buffer.byteLength < 6 || String.fromCharCode(...bytes.subarray(0, 4)) !== "TVMB") return;
  const idLength = v.getUint16(4, true);
  const id = new TextDecoder().decode(bytes.subarray(6, 6 + idLength));
  const f = 6 + idLength; // the frame: its header, then the JPEG
  if (buffer.byteLength < f + 36 || String.fromCharCode(...bytes.subarray(f, f + 4)) !== "TVMF") return;
  const headerLength = v.getUint16(f + 6, true), boxes = [];
  for (let i = 0, n = bytes[f + 32]; i < n; i++) {
    const at = f + 36 + 8 * i;
    boxes.push([0, 2, 4, 6].map((k) => v.getUint16(at + k, true)));
  }
  const s = state.sessions.get(id);
  if (!s) return;
  stats.mirrorFrames[id] = (stats.mirrorFrames[id] || 0) + 1;
  // Only the newest picture is kept; it is decoded only when its session is shown.
  s.mirror = { jpeg: bytes.subarray(f + headerLength), sessionUs: Number(v.getBigUint64(f + 16, true)),
    width: v.getUint16(f + 24, true), height: v.getUint16(f + 26, true), number: v.getUint32(f + 28, true),
    boxes, receivedAt: performance.now(), shown: false };
  if (id === state.current) state.dirty = true;
}

let mirrorUrl = null, mirrorShownFor = null;
/** The selected session's picture, its age and whether it is live. */
function drawMirror(s, offline, ended) {
  const info = s.info, m = s.mirror, box = $("mirror-box").querySelector(".mirror-frame");
  const img = $("mirror-img"), none = $("mirror-none"), age = $("mirror-age"), outline = $("mirror-outline");
  const rate = info.mirror_fps;
  const select = $("mirror-rate");
  // A replay has no rate to set, nor a headset that sends no picture.
  select.parentElement.hidden = rate == null || !!state.replay;
  select.disabled = ended;
  if (rate != null && document.activeElement !== select) select.value = String(rate);
  if (m && (!m.shown || mirrorShownFor !== info.session_id)) {
    if (mirrorUrl) URL.revokeObjectURL(mirrorUrl);
    mirrorUrl = URL.createObjectURL(new Blob([m.jpeg], { type: "image/jpeg" }));
    img.src = mirrorUrl; m.shown = true; mirrorShownFor = info.session_id; stats.mirrorShown++;
  }
  // Age: on the session clock against the newest telemetry, and on this page's clock since it came.
  const interval = rate ? 1 / rate : 1;
  const bySession = m && s.last ? (s.last.session_us - m.sessionUs) / 1e6 : 0;
  let old, stale, why = "";
  if (state.replay) {
    // A recording holds a picture a second: the one at or before the playhead.
    old = bySession; stale = !m || Math.abs(old) > 2.5;
    if (!m) why = "This recording holds no picture of the patient's view up to here.";
    else if (stale) why = `No picture recorded within ${Math.floor(Math.abs(old))} s of here.`;
  } else {
    old = m ? Math.max(bySession, (performance.now() - m.receivedAt) / 1000) : Infinity;
    stale = !m || offline || ended || rate === 0 || old > Math.max(1.5, 3 * interval);
    if (rate == null) why = "This headset sends no picture (it runs headless, or is older than the mirror).";
    else if (!m) why = rate === 0 ? "Mirror off: choose a rate to see what the patient sees." : offline ? "No picture from the headset: it is disconnected." : "No picture from the headset yet.";
    else if (ended) why = "The session has ended: this is its last picture.";
    else if (offline) why = `No picture from the headset: disconnected. Last picture ${Math.floor(old)} s old.`;
    else if (rate === 0) why = "Mirror off: this was the last picture.";
    else if (stale) why = `No new picture for ${Math.floor(old)} s: the picture is ${Math.floor(old)} s old.`;
  }
  img.hidden = !m; box.classList.toggle("stale", stale);
  none.hidden = !why; text("mirror-none", why);
  text("mirror-age", !m ? "" : state.replay ? `recorded at ${clock(m.sessionUs / 1e6)}` : stale ? `${Math.floor(old)} s old` : "live");
  age.className = "mirror-age" + (m && stale ? " stale" : "");
  // The stimulus outline, in the picture's own pixels.
  const showOutline = m && $("mirror-outline-on").checked && m.boxes.length > 0;
  // An <svg> has no `hidden` property of its own: the attribute it is.
  outline.toggleAttribute("hidden", !showOutline);
  if (showOutline) {
    outline.setAttribute("viewBox", `0 0 ${m.width} ${m.height}`);
    outline.replaceChildren(...m.boxes.map(([x0, y0, x1, y1]) => svg("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0 })));
  }
}

function onSessions(list) {
  // Keys 1…9 follow the order headsets first connected: a newcomer goes last.
  list = [...list].sort((a, b) => a.started.localeCompare(b.started) || a.session_id.localeCompare(b.session_id));
  state.order = list.map((i) => i.session_id);
  // Sessions the console no longer lists (it was restarted without them, or
  // they ended long ago) leave the page; a vanished selection moves on.
  const listed = new Set(state.order);
  for (const id of [...state.sessions.keys()]) if (!listed.has(id)) state.sessions.delete(id);
  if (state.current && !listed.has(state.current)) state.current = null;
  for (const info of list) {
    let s = state.sessions.get(info.session_id);
    if (!s) { s = new SessionView(info); state.sessions.set(info.session_id, s); }
    s.info = info;
    // The console answers a subscription with the session's history, then live messages.
    if (!s.subscribed) { send({ type: "subscribe", session_id: info.session_id }); s.subscribed = true; }
  }
  if (!state.current && list.length) select(list[0].session_id);
  renderSessions(); renderTicks(); state.dirty = true;
}

function onTelemetry(id, samples) {
  const s = state.sessions.get(id);
  if (!s || !samples.length) return;
  let taken = 0;
  for (const sample of samples) {
    // A sample resent after a reconnect is already here.
    if (s.prevSample && sample.session_us <= s.prevSample.session_us) continue;
    taken++;
    s.ring.push(sample);
    // Time on step counts running time only (as the report does): not
    // pauses, not the safe scene, not the steps the safe scene fades through.
    if (sample.state === "running") {
      if (s.startedAt == null) s.startedAt = sample.session_us / 1e6;
      if (sample.step !== s.onStepOf) { s.onStepOf = sample.step; s.onStep = 0; }
      else if (s.prevSample && s.prevSample.state === "running") s.onStep += Math.max(0, sample.session_us - s.prevSample.session_us) / 1e6;
    }
    s.prevSample = sample;
    s.droppedFrames += sample.dropped_frames;
    // Looking away, for the alert's "for N s" (the console decides what is an episode).
    if (sample.gaze_on_stimulus || sample.state !== "running") s.awaySince = null;
    else if (s.awaySince == null) s.awaySince = sample.session_us / 1e6;
    s.last = sample;
  }
  s.samples += taken; stats.samples += taken;
  state.dirty = true;
}

/**
 * A session so far, from the console: drawn as a page open since the start
 * would have drawn it. Samples, events and notices are taken in time order
 * (a sample before an event at the same time), through the same functions
 * as live messages.
 */
function onHistory(h) {
  const s = state.sessions.get(h.session_id);
  if (!s) return;
  s.clear();
  s.gapS = Math.max(2.5, (3 * h.spacing_us) / 1e6);
  const items = [];
  for (const x of h.samples) items.push([x.session_us, 0, x]);
  for (const x of h.events) items.push([x.at_us, 1, x]);
  for (const x of h.notices) items.push([x.at_us, 2, x]);
  items.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  s.restoring = true;
  let run = [];
  const flush = () => { if (run.length) onTelemetry(h.session_id, run); run = []; };
  for (const [, kind, x] of items) {
    if (kind === 0) { run.push(x); continue; }
    flush();
    if (kind === 1) onEvents(h.session_id, [x]); else onNotice(h.session_id, x);
  }
  flush();
  s.restoring = false;
  s.logDirty = true; state.dirty = true;
}

/** Something the console saw: a link change, a page's command, an alert. */
function onNotice(id, n) {
  const s = state.sessions.get(id);
  if (!s) return;
  const t = n.at_us / 1e6;
  switch (n.kind) {
    case "headset_left":
      s.headsetGone = true;
      log(id, t, s.endedAt != null ? "Headset left after the end" : "Headset disconnected");
      if (s.endedAt == null) s.markers.push({ t, kind: "marker", label: "headset disconnected" });
      break;
    case "headset_back": s.headsetGone = false; log(id, t, "Headset reconnected"); break;
    case "command":
      s.lastCommandBy = { page: n.page, by: n.by };
      log(id, t, `${whoSent(n)}: ${commandWords(n.command, s)}`);
      break;
    case "avoidance":
      s.avoidanceEpisodes = Math.max(s.avoidanceEpisodes, n.episode);
      s.avoidance = { since: n.since_us / 1e6, episode: n.episode };
      log(id, t, `Avoidance, episode ${n.episode}: looked away from the stimulus for 5 s or more`);
      break;
    case "acknowledged":
      if (s.avoidance && s.avoidance.episode <= n.episode) s.avoidance = null;
      log(id, t, `Avoidance episode ${n.episode} acknowledged by ${n.page === state.me ? "you" : n.by}`);
      break;
  }
  state.dirty = true;
}

/** "You (page 3)", or the other page's name. */
function whoSent(n) { return n.page === state.me ? "You" : n.page === 0 ? "The console" : n.by; }

/** A command as a clinician reads it. */
function commandWords(c, s) {
  switch (c.type) {
    case "set_level": return `set the target to ${c.level.toFixed(1)}`;
    case "go_to_step": return `go to step ${c.step}`;
    case "record_suds": return `entered SUDS ${c.value} said aloud`;
    case "marker": return `marker “${c.label}”`;
    case "note": return "added a note";
    case "prediction": return "saved a prediction";
    case "outcome": return "saved an outcome";
    case "set_automatic": return `automatic mode ${c.on ? "on" : "off"}`;
    case "request_suds": return "asked for a SUDS rating";
    case "safe_scene": return "sent the safe scene";
    default: return c.type.replace(/_/g, " ");
  }
}

function onEvents(id, events) {
  const s = state.sessions.get(id);
  if (!s) return;
  for (const e of events) {
    // An event resent after a reconnect is already here.
    if (e.seq <= s.lastSeq && e.by !== "console") continue;
    s.lastSeq = Math.max(s.lastSeq, e.seq);
    const t = e.at_us / 1e6;
    // Behind the safe scene the level fades down through the steps: those
    // are not visits, and the prediction of the step left stands; the log
    // says one line on the way in and one on the way out.
    const hidden = s.inSafe && ["step_entered", "step_left", "level_settled"].includes(e.type)
      || s.inSafe && e.type === "target_changed" && e.by === "safety";
    switch (e.type) {
      case "suds_recorded": {
        const step = s.inSafe ? null : s.last ? s.last.step : null;
        s.suds.push({ t, value: e.value, by: e.by, step });
        if (step != null) {
          const v = s.visits.get(step) || { peak: e.value, final: e.value };
          v.peak = Math.max(v.peak, e.value); v.final = e.value; s.visits.set(step, v);
        }
        s.awaitingSuds = null; break;
      }
      case "suds_requested": s.awaitingSuds = t; break;
      case "marker": s.markers.push({ t, kind: "marker", label: e.label }); break;
      case "note": s.markers.push({ t, kind: "note", label: e.text }); s.notes++; break;
      // Safety shows on the chart where it happened.
      case "panic": s.markers.push({ t, kind: "marker", label: "PANIC" }); break;
      case "safe_scene_entered":
        s.markers.push({ t, kind: "marker", label: `safe scene (${e.cause.replace(/_/g, " ")})` });
        // The SUDS line stops here: a rating is not carried through the safe scene.
        s.suds.push({ t, value: null });
        if (!s.inSafe) s.safeScenes++;
        s.pausedAtStep = s.onStepOf || (s.last && s.last.step) || null; s.inSafe = true; break;
      case "state_changed":
        if (e.from === "safe_scene" || e.to === "ended") s.inSafe = false;
        if (e.to === "ended") s.endedAt = t;
        if (e.from === "waiting" && s.startedAt == null) s.startedAt = t;
        break;
      case "focus_lost": s.markers.push({ t, kind: "marker", label: "headset off or system menu: paused" }); break;
      case "suggestion_raised": s.suggestion = { step: e.step, reason: e.reason }; break;
      case "suggestion_withdrawn": s.suggestion = null; break;
      case "step_entered":
        // A prediction saved while approaching this step stays with it.
        if (!s.inSafe) { s.stepEnteredAt = t; if (s.prediction && s.prediction.step !== e.step) s.prediction = null; s.outcome = null; }
        break;
      case "prediction": s.prediction = { step: e.step, text: e.text }; break;
      case "outcome": s.outcome = { step: e.step, text: e.text }; break;
      case "automatic_mode": s.automatic = e.on; break;
      case "target_changed": if (s.suggestion && e.to >= s.suggestion.step) s.suggestion = null; break;
    }
    if (hidden) continue;
    const said = describe(e, s);
    if (["target_changed", "step_entered", "safe_scene_entered", "state_changed", "panic"].includes(e.type)) s.lastChange = { t, text: said };
    log(id, t, said);
  }
  state.dirty = true;
}

const WHO = { therapist: "by the therapist", automatic: "by automatic mode", safety: "by the safety rules", patient: "by the patient", console: "after the end" };
const CAUSE = { therapist: "sent by you", panic: "the patient pressed panic", link_loss: "the console link was lost" };
const STATE_WORDS = { waiting: "waiting", running: "running", paused: "paused", safe_scene: "in the safe scene", ended: "ended" };
/** An event in the words a clinician reads. */
function describe(e, s) {
  const title = (n) => { const st = s && s.info.steps && s.info.steps[n - 1]; return st ? ` · ${st.title}` : ""; };
  // A therapist's change names the page whose command caused it.
  const by = (b) => b === "therapist" && s && s.lastCommandBy ? ` (by ${s.lastCommandBy.page === state.me ? "you" : s.lastCommandBy.by})`
    : WHO[b] ? ` (${WHO[b]})` : "";
  switch (e.type) {
    case "state_changed":
      if (e.to === "running" && e.from === "waiting") return `Session started${by(e.by)}`;
      if (e.to === "running" && e.from === "safe_scene") return `Left the safe scene: exposure resumed${by(e.by)}`;
      if (e.to === "running") return `Exposure resumed${by(e.by)}`;
      if (e.to === "ended") return `Session ended${by(e.by)}`;
      return `Session ${STATE_WORDS[e.to] || e.to}${by(e.by)}`;
    case "safe_scene_entered": return `Safe scene: ${CAUSE[e.cause] || e.cause}`;
    case "target_changed": return `Target ${e.to > e.from ? "raised" : "lowered"} from ${e.from.toFixed(1)} to ${e.to.toFixed(1)}${by(e.by)}`;
    case "level_settled": return `The scene reached level ${e.level.toFixed(1)}`;
    case "step_entered": return `Step ${e.step}${title(e.step)}`;
    case "step_left": return `Left step ${e.stats.step}`;
    case "suggestion_raised": return `Suggested: step ${e.step}${title(e.step)}. ${e.reason}`;
    case "suggestion_withdrawn": return `Suggestion of step ${e.step} withdrawn`;
    case "suds_requested": return e.by === "therapist" ? `Asked for a SUDS rating${by(e.by)}` : e.by === "step_arrival" ? "Asked for a SUDS rating (arrival on the step)" : "Asked for a SUDS rating (interval)";
    case "suds_recorded": return `SUDS ${e.value}${e.by === "patient" ? " (patient)" : e.by === "therapist" ? ` (said aloud${by(e.by).replace(" (by", ", entered by").replace(")", "")})` : by(e.by)}`;
    case "panic": return "The patient pressed PANIC";
    case "heart_rate_baseline": return `Resting heart rate ${Math.round(e.bpm)} bpm`;
    case "focus_lost": return "Headset off or system menu: paused";
    case "focus_restored": return "Headset back on";
    case "link_lost": return "The headset lost the console";
    case "link_restored": return "The headset reached the console again";
    case "automatic_mode": return `Automatic mode ${e.on ? "on" : "off"}`;
    case "marker": return `Marker: ${e.label}${e.by === "console" ? " (after the end)" : ""}`;
    case "note": return `Note: ${e.text}${e.by === "console" ? " (after the end)" : ""}`;
    case "prediction": return `Prediction for step ${e.step}: ${e.text}`;
    case "outcome": return `Outcome of step ${e.step}: ${e.text}${e.by === "console" ? " (after the end)" : ""}`;
  }
  const rest = Object.entries(e).filter(([k]) => !["seq", "at_us", "type", "stats"].includes(k))
    .map(([k, v]) => `${k} ${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(2) : v}`).join(", ");
  return `${e.type.replace(/_/g, " ")}${rest ? ": " + rest : ""}`;
}

function log(id, t, text) {
  const s = state.sessions.get(id);
  if (!s) return;
  s.log.push({ t, text });
  if (s.log.length > 500) s.log.splice(0, s.log.length - 500);
  s.logDirty = true; state.dirty = true;
}

function onReplayStatus(m) {
  const first = !state.replay;
  const s = state.sessions.get(m.session_id);
  if (s && state.replay && state.replay.generation !== m.generation) s.clear();
  state.replay = m;
  if (first) {
    $("mode").hidden = false; $("timeline").hidden = false; $("pairing").hidden = true; document.body.classList.add("replay");
    document.title = `Replay · ${m.file || "Trinvis"}`;
    text("mode", `replay of ${m.file || "a recording"}`);
  }
  renderTimeline();
}

// ---- rendering --------------------------------------------------------------

function select(id) { const changed = state.current !== id; state.current = id; if (changed) sayWhoIAm(); renderSessions(); renderTicks(); const s = state.sessions.get(id); if (s) s.logDirty = true; state.dirty = true; }

function renderConsoleLink() {
  const el = $("console-link");
  el.textContent = state.connected ? "console connected" : state.tokenRefused ? "token refused" : "console disconnected: reconnecting…";
  el.className = "pill " + (state.connected ? "ok" : "bad");
  document.body.classList.toggle("console-offline", !state.connected);
  state.dirty = true;
}

function renderSessions() {
  const ul = $("sessions");
  ul.replaceChildren();
  if (!state.order.length) { ul.innerHTML = '<li class="muted">No headset connected yet.</li>'; return; }
  state.order.forEach((id, i) => {
    const s = state.sessions.get(id), info = s.info;
    const li = document.createElement("li");
    li.className = "session" + (id === state.current ? " active" : "") + (info.link !== "connected" ? " offline" : "");
    li.dataset.sessionId = id;
    li.innerHTML = '<div class="line"><b><span class="num"></span><span class="code"></span></b><span class="scenario muted"></span></div>' +
      '<div class="line"><span class="st"></span><span class="link"></span></div>';
    li.querySelector(".num").textContent = i < 9 ? String(i + 1) : "";
    li.querySelector(".code").textContent = info.patient_code;
    li.querySelector(".scenario").textContent = info.scenario.id;
    li.querySelector(".st").textContent = where(s, true);
    // Another page shows this session too.
    const others = othersOn(id);
    if (others.length) { const o = document.createElement("div"); o.className = "line others"; o.textContent = `also open: ${others.join(", ")}`; li.append(o); }
    const link = state.replay ? "replay" : info.link === "connected"
      ? `connected${info.rtt_us != null ? ` · ${(info.rtt_us / 1000).toFixed(1)} ms` : ""}` : info.state === "ended" ? "headset left" : "disconnected";
    li.querySelector(".link").textContent = link;
    li.onclick = () => select(id);
    ul.appendChild(li);
  });
}

/** The other pages that show session `id`, by name. */
function othersOn(id) { return state.pages.filter((p) => p.id !== state.me && p.viewing === id).map((p) => p.name); }

/** Where the session stands, in the header's words (short: for the sidebar). */
function where(s, short) {
  const info = s.info, last = s.last, n = s.stepCount();
  const ended = info.state === "ended" || (last && last.state === "ended");
  const title = (k) => { const st = k && info.steps && info.steps[k - 1]; return st && !short ? " · " + st.title : ""; };
  if (ended) return `ended${s.onStepOf ? `, reached step ${highestStep(s)} of ${n}` : ""}`;
  if (last && last.state === "safe_scene") return short ? `safe place · paused at step ${s.pausedAtStep || "–"}`
    : `Safe place — exposure paused at step ${s.pausedAtStep || "–"} of ${n}${title(s.pausedAtStep)}`;
  if (!last) return short ? info.state.replace("_", " ") : "–";
  if (short) return `${last.state.replace("_", " ")} · step ${last.step}`;
  return `${last.step} of ${n}${title(last.step)}`;
}
function highestStep(s) { let k = 0; for (const step of s.visits.keys()) k = Math.max(k, step); return Math.max(k, s.onStepOf || 0); }

/** A link that opens the replay of a session (every part joined) in a new tab. */
function replayLink(sessionId) {
  const a = document.createElement("a");
  a.className = "replay-link"; a.textContent = "replay"; a.target = "_blank"; a.rel = "noopener";
  a.href = `/?token=${encodeURIComponent(token)}&replay=${encodeURIComponent(sessionId)}`;
  a.title = "Replay this session in a new tab, all its parts joined";
  return a;
}

function renderRecordings(list) {
  const ul = $("recordings");
  ul.replaceChildren();
  if (!list.length) { ul.innerHTML = '<li class="muted">none yet</li>'; return; }
  for (const r of list.slice(0, 30)) {
    const li = document.createElement("li");
    li.innerHTML = "<span></span><span class=\"muted\"></span>";
    // "20261130T145934Z-592c15ab-part2.mcap" reads "30 Nov 14:59 · 592c15ab · part 2": what
    // tells two files of one session apart (a part, a recovered copy) is never cut off.
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})\d{2}Z-([0-9a-f]+)(.*)\.mcap$/.exec(r.name);
    const month = m && ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][Number(m[2]) - 1];
    const extra = m && m[7].replace(/^-part(\d+)/, " · part $1").replace(/^\.recovered/, " · recovered copy").replace(/^-/, " · ");
    li.firstChild.textContent = m ? `${Number(m[3])} ${month} ${m[4]}:${m[5]} · ${m[6]}${extra}` : r.name;
    li.firstChild.title = `${r.name}\n${r.modified}`;
    li.lastChild.textContent = r.bytes > 1e6 ? `${(r.bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(r.bytes / 1e3)} kB`;
    // The session's id is the name up to its part number: replay opens the whole session.
    const id = /^(\d{8}T\d{6}Z-[0-9a-f]+)(-part\d+)?\.mcap$/.exec(r.name);
    if (id && !state.replay) li.lastChild.append(" ", replayLink(id[1]));
    ul.appendChild(li);
  }
}

function renderTicks() {
  const s = state.sessions.get(state.current);
  const ticks = $("ticks");
  ticks.replaceChildren();
  if (!s) return;
  const n = s.stepCount();
  $("dial").max = String(n);
  for (let i = 1; i <= n; i++) {
    const span = document.createElement("span");
    const step = s.info.steps && s.info.steps[i - 1];
    span.style.left = `${((i - 1) / (n - 1)) * 100}%`;
    span.textContent = String(i);
    span.title = step ? `step ${i}: ${step.title}` : `step ${i}`;
    span.dataset.step = String(i);
    ticks.appendChild(span);
  }
}

function renderTimeline() {
  const r = state.replay;
  if (!r) return;
  $("play").textContent = r.playing ? "❚❚" : "▶";
  if (document.activeElement !== $("scrub")) $("scrub").value = String(r.duration_us ? Math.round((r.position_us / r.duration_us) * 1000) : 0);
  $("speed").value = String(r.speed);
  $("position").textContent = `${clock(r.position_us / 1e6)} / ${clock(r.duration_us / 1e6)}`;
}

let lastFrame = 0;
function frame(now) {
  if (lastFrame) { stats.deltas.push(now - lastFrame); if (stats.deltas.length > 5000) stats.deltas.shift(); }
  lastFrame = now; stats.frames++;
  if (state.dirty) {
    const t0 = performance.now();
    state.dirty = false;
    draw();
    stats.draws++; stats.drawMs.push(performance.now() - t0);
    if (stats.drawMs.length > 5000) stats.drawMs.shift();
  }
  requestAnimationFrame(frame);
}

function text(id, value) { const el = $(id); if (el.textContent !== value) el.textContent = value; }

function draw() {
  // The sidebar says what the header says: redrawn when a session's words change.
  const sidebar = state.order.map((id) => { const x = state.sessions.get(id); return x ? where(x, true) + othersOn(id).join() : ""; }).join("|");
  if (sidebar !== state.sidebar) { state.sidebar = sidebar; renderSessions(); }
  const s = state.sessions.get(state.current);
  $("empty").hidden = !!s; $("session").hidden = !s;
  if (!s) return;
  const info = s.info, last = s.last, live = !state.replay;
  const ended = info.state === "ended" || (last && last.state === "ended");
  // An ended session's headset leaves: that is the end, not a failure.
  const offline = live && info.link !== "connected" && !ended;
  const safe = !ended && last && last.state === "safe_scene";
  const t = last ? last.session_us / 1e6 : NaN;
  text("clock", clock(t));
  text("patient", `${info.patient_code} · ${info.scenario.id}`);
  const shown = ended ? "ended" : offline ? "offline" : (last ? last.state : info.state);
  const st = $("state"); st.className = "state " + shown; text("state", shown.replace("_", " "));
  const step = last ? last.step : null, title = step && info.steps && info.steps[step - 1];
  text("step", where(s, false)); $("step").title = $("step").textContent;
  // Frozen while paused or in the safe scene: it counts running time only.
  text("on-step", s.onStepOf != null && last && last.state !== "waiting" ? clock(s.onStep) : "–");
  // The latest rating (the safe scene's break in the line is not one).
  let lastSuds = null;
  for (let k = s.suds.length - 1; k >= 0 && !lastSuds; k--) if (s.suds[k].value != null) lastSuds = s.suds[k];
  text("suds", lastSuds ? String(lastSuds.value) : "–");
  // How old the rating is, and whether one was asked for and not yet given.
  text("suds-age", s.awaitingSuds != null && !ended ? `awaiting answer · ${ago(t - s.awaitingSuds).replace(" ago", "")}`
    : lastSuds ? `${ago(t - lastSuds.t)}` : "");
  $("suds-age").className = "sub" + (s.awaitingSuds != null && !ended ? " waiting" : "");
  // A heart rate is current only while the headset is connected.
  const hrStale = live && info.link !== "connected";
  text("hr", last && last.heart_rate != null ? `${Math.round(last.heart_rate)} bpm${hrStale ? " (last known)" : ""}` : "–");
  $("hr").classList.toggle("stale", hrStale);
  // Gaze on stimulus over the last 10 s of samples.
  let on = 0, n = 0;
  for (let k = s.ring.length - 1; k >= 0 && n < 900 && s.ring.at("t", k) > t - 10; k--, n++) on += s.ring.at("gaze", k);
  // The stimulus is out of view behind the safe scene: no gaze figure then.
  // Before the start there is no stimulus to look at: no gaze figure then either.
  text("gaze", safe || ended || !last || last.state === "waiting" ? "–" : n ? `${Math.round((on / n) * 100)} %` : "–");
  const banner = $("banner");
  if (state.tokenRefused) { banner.hidden = false; banner.className = "banner"; text("banner", "The console refuses this page's token: it was started with new tokens (--new-tokens). Open the therapist URL it printed; what you see here is stale."); }
  else if (!state.connected) { banner.hidden = false; banner.className = "banner"; text("banner", "The console connection is lost: what you see is stale. Reconnecting…"); }
  else if (offline) { banner.hidden = false; banner.className = "banner warn"; text("banner", `Headset of ${info.patient_code} disconnected: commands cannot reach it. It eases the patient to the safe scene by itself if the link stays lost.`); }
  else if (ended && live) { banner.hidden = false; banner.className = "banner done"; text("banner", `Session of ${info.patient_code} ended. Notes, markers and the outcome can still be added below.`); }
  else banner.hidden = true;
  const a = s.avoidance;
  $("alert").hidden = !a || ended || !live;
  if (a) {
    const away = s.awaySince != null && Math.abs(s.awaySince - a.since) < 1 && last ? t - s.awaySince : null;
    text("alert-text", `Avoidance, episode ${a.episode} this session: ${away != null ? `looking away from the stimulus for ${Math.floor(away)} s` : `looked away at ${clock(a.since)}, now back`}.`);
  }
  // What the patient sees now, and the last thing that changed it.
  const sees = ended ? "the end of the session (the safe place)" : safe ? "the safe place" : last && last.state === "waiting" ? "the waiting room"
    : last ? `step ${step}${title ? " · " + title.title : ""} at level ${last.applied_level.toFixed(1)}${last.state === "paused" ? " (paused)" : ""}` : "–";
  text("sees", `Patient sees ${sees}${s.lastChange ? ` · last change ${ago(t - s.lastChange.t)}: ${s.lastChange.text}` : ""}`); $("sees").title = $("sees").textContent;
  // The course's proposal for where to start, until the therapist takes it or picks another.
  const proposal = info.proposed_start;
  // Gone once taken, declined, or the target already stands at or above it (after a page reload too).
  const reached = proposal && proposal.step > 1 && last && last.target_level >= proposal.step;
  $("proposal").hidden = !proposal || s.proposalDone || ended || reached;
  if (proposal && !s.proposalDone) {
    const pt = info.steps && info.steps[proposal.step - 1];
    const why = proposal.reason.charAt(0).toUpperCase() + proposal.reason.slice(1);
    text("proposal-text", `The course proposes to start from step ${proposal.step}${pt ? " (“" + pt.title + "”)" : ""}. ${why}.`);
    text("proposal-accept", `Start from step ${proposal.step}`);
  }
  $("suggestion").hidden = !s.suggestion;
  if (s.suggestion) {
    const st2 = info.steps && info.steps[s.suggestion.step - 1];
    text("suggestion-text", `Suggested: step ${s.suggestion.step}${st2 ? " · " + st2.title : ""}. ${s.suggestion.reason}`);
  }
  if (last) {
    if (document.activeElement !== $("dial")) $("dial").value = String(last.target_level);
    text("target", last.target_level.toFixed(2)); text("applied", last.applied_level.toFixed(2));
    for (const span of $("ticks").children) span.classList.toggle("current", Number(span.dataset.step) === last.step);
    const aim = Math.round(last.target_level), aimed = info.steps && info.steps[aim - 1];
    text("dial-title", aimed ? `target step ${aim}: ${aimed.title}` : "");
  }
  $("automatic").checked = s.automatic;
  $("auto-pill").hidden = !(s.automatic && live && !ended);
  // A prediction belongs to the step being approached while the target stands above the step shown.
  const aimStep = last ? Math.max(last.step, Math.min(s.stepCount(), Math.floor(last.target_level + 1e-9))) : 1;
  text("prediction-step", last && !safe ? `step ${aimStep}${aimStep > last.step ? " (being approached)" : ""}` : "this step");
  text("outcome-step", last && !safe ? `step ${last.step}` : "this step");
  text("prediction-now", s.prediction ? `(saved for step ${s.prediction.step}: “${s.prediction.text}”)` : "");
  text("outcome-now", s.outcome ? `(saved for step ${s.outcome.step}: “${s.outcome.text}”)` : "");
  // Other pages on this session.
  const others = othersOn(info.session_id);
  $("others").hidden = !others.length || !live;
  text("others", others.length ? `also open in another window: ${others.join(", ")}` : "");
  drawSummary(s, ended && live);
  // Each control only when its command can be carried out now.
  const now = last ? last.state : info.state;
  const can = !live || offline || ended ? () => false : (states) => !states || states.includes(now);
  const rules = { start: ["waiting"], pause: ["running"], resume: ["paused", "safe_scene"] };
  for (const el of document.querySelectorAll("main button[data-cmd], #stop, #dial, #suds-form button, #automatic"))
    el.disabled = !can(rules[el.id]);
  // Notes, markers, prediction and outcome go to the record after the end too.
  for (const el of document.querySelectorAll("#marker, #note-form button, #prediction-form button, #outcome-form button"))
    el.disabled = !live || (offline && !ended);
  // Comfort and link.
  let frameSum = 0, frames = 0;
  for (let k = s.ring.length - 1; k >= 0 && frames < 90; k--, frames++) frameSum += s.ring.at("frame_ms", k);
  // Never more than the display shows: a frame counted early is not a faster display.
  text("fps", frames && frameSum ? `${Math.min(DISPLAY_HZ, Math.round(1000 / (frameSum / frames)))} / ${DISPLAY_HZ} fps` : "–");
  text("dropped", String(s.droppedFrames));
  text("link", state.replay ? "replay" : ended && info.link !== "connected" ? "left after the end" : info.link);
  $("safe").disabled = live && ended;
  text("rtt", info.rtt_us != null ? `${(info.rtt_us / 1000).toFixed(1)} ms` : "–");
  // The offset itself is between two unrelated clocks; its drift since the first estimate is what tells.
  if (info.offset_us != null && s.firstOffset == null) s.firstOffset = info.offset_us;
  const drift = info.offset_us != null ? (info.offset_us - s.firstOffset) / 1e3 : null;
  text("offset", drift != null ? `${drift >= 0 ? "+" : ""}${drift.toFixed(1)} ms since connect` : "–");
  text("samples", String(s.samples));
  drawChart($("chart"), s);
  drawMap($("map"), s);
  drawMirror(s, offline, ended);
  if (s.logDirty) {
    s.logDirty = false;
    const box = $("log");
    box.replaceChildren(...s.log.slice(-200).reverse().map((l) => {
      const div = document.createElement("div");
      div.innerHTML = '<span class="t"></span><span></span>';
      div.firstChild.textContent = l.t == null ? "" : clock(l.t);
      div.lastChild.textContent = l.text;
      return div;
    }));
  }
}

/** The end of a session: what happened, and the report one click away. */
function drawSummary(s, show) {
  $("summary").hidden = !show;
  if (!show || s.summaryFor === s.lastSeq + ":" + s.log.length) return;
  s.summaryFor = s.lastSeq + ":" + s.log.length;
  const end = s.endedAt != null ? s.endedAt : s.last ? s.last.session_us / 1e6 : 0;
  const length = s.startedAt != null ? clock(end - s.startedAt) : "–";
  const steps = [...s.visits.entries()].sort((a, b) => a[0] - b[0]);
  text("summary-line", `${length} from the start · reached step ${highestStep(s) || "–"} of ${s.stepCount()} · ` +
    `${s.safeScenes} safe scene${s.safeScenes === 1 ? "" : "s"} · ${s.notes} note${s.notes === 1 ? "" : "s"}`);
  const rows = steps.map(([step, v]) => {
    const tr = document.createElement("tr"), title = s.info.steps && s.info.steps[step - 1];
    for (const c of [`step ${step}${title ? " · " + title.title : ""}`, `${v.peak} → ${v.final}`]) tr.insertCell().textContent = c;
    return tr;
  });
  $("summary-steps").replaceChildren(...rows);
  $("summary-none").hidden = rows.length > 0;
  $("summary-report").href = `/report?token=${encodeURIComponent(token)}&session=${encodeURIComponent(s.info.session_id)}`;
}

/** "12 s ago", "3:05 ago": how long ago, on the session clock. */
function ago(seconds) {
  if (!(seconds >= 0)) return "just now";
  return seconds < 60 ? `${Math.floor(seconds)} s ago` : `${clock(seconds)} ago`;
}

function toast(message, bad) {
  const div = document.createElement("div");
  div.className = "toast" + (bad ? " bad" : "");
  div.textContent = message;
  $("toasts").appendChild(div);
  setTimeout(() => div.remove(), 6000);
}

// ---- controls ---------------------------------------------------------------

function safeScene() {
  const s = state.sessions.get(state.current);
  if (state.replay) return toast("This is a replay: nothing reaches a headset.");
  if (s && s.info.link !== "connected") return toast("The headset is not connected; it eases the patient to the safe scene by itself when the link stays lost.", true);
  command({ type: "safe_scene" });
}
function setLevel(level, confirmed = false) {
  const s = state.sessions.get(state.current);
  if (!s) return;
  command({ type: "set_level", level: Math.min(s.stepCount(), Math.max(1, Math.round(level * 10) / 10)) }, state.current, confirmed);
}
function pauseOrResume() {
  const s = state.sessions.get(state.current);
  if (state.replay) return replay({ action: state.replay.playing ? "pause" : "play" });
  if (!s || !s.last) return;
  command({ type: s.last.state === "running" ? "pause" : s.last.state === "waiting" ? "start" : "resume" });
}
function replay(control) { send({ type: "replay", ...control }); }

$("safe").onclick = () => { closeDialogs(); safeScene(); };
document.querySelectorAll("button[data-cmd]").forEach((b) => { b.onclick = () => command({ type: b.dataset.cmd }); });
/**
 * Asks a yes-or-no question in a dialog; `yes` runs on the second button,
 * `no` otherwise. Never modal: the safe scene (button and S) stays within
 * reach while it is open, and closes it unanswered.
 */
function ask(question, yesLabel, yes, no) {
  $("question-text").textContent = question; $("question-yes").textContent = yesLabel;
  $("question").onclose = () => { if ($("question").returnValue === "yes") yes(); else if (no) no(); state.dirty = true; };
  $("question").returnValue = ""; $("question").show(); $("question-no").focus();
}
/** Closes every open question unanswered (the safe scene came first). */
function closeDialogs() { for (const d of [$("question"), $("confirm")]) if (d.open) d.close("cancel"); }
function dialogOpen() { return $("question").open || $("confirm").open; }
// A click or drag on the dial raises the target by one step at most; more
// is asked first, naming the step (a click near the end is not a decision
// to take the patient to the hardest step). Lowering is never held up.
$("dial").onchange = () => {
  const s = state.sessions.get(state.current);
  if (!s) return;
  // The dial moves in whole steps (its `step` is 1); half steps are the arrow keys'.
  const want = Math.round(parseFloat($("dial").value)), from = s.last ? s.last.target_level : 1;
  if (want - from <= 1 + 1e-9) return setLevel(want);
  const title = s.info.steps && s.info.steps[want - 1];
  ask(`Raise the target from ${from.toFixed(1)} to step ${want} of ${s.stepCount()}${title ? ", “" + title.title + "”" : ""}? That is ${(want - from).toFixed(1)} steps at once.`,
    `Raise to step ${want}`, () => setLevel(want, true), () => { $("dial").value = String(from); });
};
$("automatic").onchange = () => {
  const on = $("automatic").checked;
  $("automatic").checked = !on; // until the headset says it changed
  if (!on) return command({ type: "set_automatic", on: false });
  ask("Switch automatic mode on? The advance rules will raise the patient's step by themselves when their ratings allow; you can still lower it, pause or send the safe scene at any time.",
    "Switch automatic on", () => command({ type: "set_automatic", on: true }));
};
$("stop").onclick = () => { $("confirm").returnValue = ""; $("confirm").show(); $("confirm-no").focus(); };
$("confirm").onclose = () => { if ($("confirm").returnValue === "stop") command({ type: "stop" }); };
// After Enter the keys steer the session again (S is the safe scene, not an "s").
const onSubmit = (id, make) => { $(id).onsubmit = (e) => { e.preventDefault(); make(); if (document.activeElement) document.activeElement.blur(); }; };
// In the notes box Enter saves and leaves it too; Shift+Enter starts a new line.
$("note-text").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("note-form").requestSubmit(); }
});
onSubmit("suds-form", () => {
  const value = Number($("suds-value").value);
  if ($("suds-value").value === "" || !Number.isInteger(value) || value < 0 || value > 100) return toast("A SUDS rating is a whole number from 0 to 100.", true);
  command({ type: "record_suds", value }); $("suds-value").value = "";
});
onSubmit("marker-form", () => { command({ type: "marker", label: $("marker-label").value.trim() || "marker" }); $("marker-label").value = ""; });
onSubmit("note-form", () => { const text = $("note-text").value.trim(); if (text) { command({ type: "note", text }); $("note-text").value = ""; } });
onSubmit("prediction-form", () => { const text = $("prediction-text").value.trim(); if (text) { command({ type: "prediction", text }); $("prediction-text").value = ""; } });
onSubmit("outcome-form", () => { const text = $("outcome-text").value.trim(); if (text) { command({ type: "outcome", text }); $("outcome-text").value = ""; } });
// Acknowledged in the console: every page hears who did it.
$("alert-ack").onclick = () => {
  const s = state.sessions.get(state.current);
  if (s && s.avoidance) send({ type: "acknowledge", session_id: s.info.session_id, episode: s.avoidance.episode });
};
$("my-name").value = state.name;
$("my-name").onchange = () => { state.name = $("my-name").value.trim().slice(0, 64); localStorage.setItem("trinvis.name", state.name); sayWhoIAm(); };
// ---- pairing ----------------------------------------------------------------

/** GET (no body) or POST (a JSON body) to the console's API; rejects with its error text. */
async function api(path, body) {
  const init = body === undefined ? { cache: "no-store" }
    : { method: "POST", cache: "no-store", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(`${path}?token=${encodeURIComponent(token)}`, init);
  let data = {};
  try { data = await r.json(); } catch { /* a refusal in plain text */ }
  if (!r.ok) throw new Error(data.error || `the console answered ${r.status}`);
  return data;
}
function loadHeadsets() {
  if (state.replay) return;
  api("/api/headsets").then((d) => {
    renderHeadsets(d.headsets);
    text("pair-waiting", d.waiting.length ? `Waiting with a code: ${d.waiting.join(", ")}` : "");
    text("pair-fingerprint", d.fingerprint ? `This console's certificate, SHA-256: ${d.fingerprint} (a paired headset prints the one it saw)` : "");
  }).catch(() => {});
}
function renderHeadsets(list) {
  const ul = $("headsets");
  ul.replaceChildren();
  if (!list.length) { const li = document.createElement("li"); li.className = "muted"; li.textContent = "none yet"; ul.append(li); return; }
  for (const h of list) {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = h.headset_id; name.title = `credential ${h.id}, paired ${h.paired}`;
    const revoke = document.createElement("button");
    revoke.className = "small"; revoke.textContent = "Revoke"; revoke.dataset.credential = h.id;
    revoke.onclick = () => ask(`Revoke the credential of “${h.headset_id}” (${h.id})? It is disconnected at once and must be paired again.`,
      "Revoke", () => api("/api/headsets/revoke", { id: h.id }).then(() => { toast(`${h.headset_id}: credential revoked`); loadHeadsets(); })
        .catch((e) => toast(e.message, true)));
    li.append(name, revoke); ul.append(li);
  }
}
$("pair-code").oninput = () => { $("pair-result").textContent = ""; };
onSubmit("pair-form", () => {
  const code = $("pair-code").value.replace(/\s/g, "");
  const result = $("pair-result");
  if (!/^[0-9]{6}$/.test(code)) { result.className = "small-print bad"; result.textContent = "A pairing code is six digits, as the headset shows it."; return; }
  api("/api/pair", { code }).then((d) => {
    result.className = "small-print good"; result.textContent = `Paired “${d.paired.headset_id}”: it connects now.`;
    $("pair-code").value = ""; loadHeadsets();
  }).catch((e) => { result.className = "small-print bad"; result.textContent = e.message; });
});
$("proposal-accept").onclick = () => {
  const s = state.sessions.get(state.current);
  if (!s || !s.info.proposed_start) return;
  // Clicking the proposal is the therapist's answer to it: a confirmed raise.
  command({ type: "go_to_step", step: s.info.proposed_start.step }, state.current, true); s.proposalDone = true; state.dirty = true;
};
$("proposal-other").onclick = () => { const s = state.sessions.get(state.current); if (s) s.proposalDone = true; state.dirty = true; };

// ---- patients -----------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, parent) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (parent) parent.append(el);
  return el;
}
/** Peak and last SUDS per step, one line pair per session (older lighter). */
function courseChart(course) {
  const W = 520, H = 190, L = 34, R = 10, T = 10, B = 28;
  const steps = Math.max(2, ...course.sessions.flatMap((s) => s.steps.map((r) => r.step)));
  const x = (step) => L + ((step - 1) / (steps - 1)) * (W - L - R), y = (suds) => T + (1 - suds / 100) * (H - T - B);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "course-chart", role: "img", "aria-label": "peak and last SUDS per step across sessions" });
  for (const v of [0, 50, 100]) {
    svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }, chart);
    svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, chart).textContent = v;
  }
  for (let step = 1; step <= steps; step++) svg("text", { x: x(step), y: H - 10, "text-anchor": "middle" }, chart).textContent = step;
  svg("text", { x: L - 6, y: H - 10, "text-anchor": "end", class: "axis" }, chart).textContent = "step";
  const n = course.sessions.length;
  course.sessions.forEach((session, i) => {
    const shade = n === 1 ? 1 : 0.35 + 0.65 * (i / (n - 1));
    const colour = `rgba(45, 95, 168, ${shade.toFixed(2)})`;
    const rated = session.steps.filter((r) => r.suds_peak != null);
    for (const [key, dash] of [["suds_peak", ""], ["suds_final", "4 3"]]) {
      const pts = rated.filter((r) => r[key] != null).map((r) => `${x(r.step)},${y(r[key])}`).join(" ");
      if (pts) svg("polyline", { points: pts, fill: "none", stroke: colour, "stroke-width": 2, "stroke-dasharray": dash }, chart);
    }
    for (const r of rated) {
      svg("circle", { cx: x(r.step), cy: y(r.suds_peak), r: 3.5, fill: colour }, chart);
      if (r.suds_final != null) svg("circle", { cx: x(r.step), cy: y(r.suds_final), r: 3.5, fill: "#fff", stroke: colour, "stroke-width": 1.5 }, chart);
    }
  });
  return chart;
}
function renderPatients(data) {
  const root = $("patients");
  root.replaceChildren();
  if (!data.kept) { const p = document.createElement("p"); p.className = "muted"; p.textContent = "This console keeps no course index (it has no data folder)."; root.append(p); return; }
  if (!data.patients.length) { const p = document.createElement("p"); p.className = "muted"; p.textContent = "No sessions indexed yet: they appear as sessions end (or after `trinvis index RECORDINGS`)."; root.append(p); return; }
  for (const patient of data.patients) {
    for (const course of patient.courses) {
      const card = document.createElement("article"); card.className = "patient"; card.dataset.patient = patient.code;
      const h = document.createElement("h3"); h.textContent = `${patient.code} · ${course.scenario_id} ${course.scenario_version} · ${course.sessions.length} session${course.sessions.length === 1 ? "" : "s"}`;
      card.append(h, courseChart(course));
      const table = document.createElement("table"); table.className = "sessions-table";
      const head = table.insertRow(); for (const c of ["#", "started", "length", "steps seen", "highest", "mastered (SUDS halved)", "notes", ""]) { const th = document.createElement("th"); th.textContent = c; head.append(th); }
      course.sessions.forEach((session, i) => {
        const row = table.insertRow();
        const mastered = session.steps.filter((r) => r.halved).map((r) => r.step).join(", ") || "–";
        const cells = [String(i + 1), session.started.replace("T", " ").replace(/:\d\dZ$/, " UTC"), (session.duration_us < 60e6 ? "< 1 min" : `${Math.round(session.duration_us / 60e6)} min`), session.steps.map((r) => r.step).join(", ") || "–", String(session.highest_step || "–"), mastered, String(session.notes)];
        for (const c of cells) row.insertCell().textContent = c;
        const links = row.insertCell();
        const report = document.createElement("a");
        report.href = `/report?token=${encodeURIComponent(token)}&session=${encodeURIComponent(session.session_id)}`;
        report.target = "_blank"; report.rel = "noopener"; report.textContent = "report";
        links.append(report, " ", replayLink(session.session_id));
      });
      card.append(table); root.append(card);
    }
  }
}
function loadPatients() { api("/api/patients").then(renderPatients).catch((e) => toast(e.message, true)); }
function showPatients(on) {
  $("patients-view").hidden = !on; $("view").hidden = on;
  $("patients-button").setAttribute("aria-pressed", String(on)); $("patients-button").classList.toggle("on", on);
  if (on) loadPatients();
}
$("patients-button").onclick = () => showPatients($("patients-view").hidden);
$("patients-refresh").onclick = loadPatients;
$("refresh-recordings").onclick = () => send({ type: "list_recordings" });
$("play").onclick = () => replay({ action: state.replay && state.replay.playing ? "pause" : "play" });
$("speed").onchange = () => replay({ action: "speed", speed: Number($("speed").value) });
$("scrub").onchange = () => { if (state.replay) replay({ action: "seek", position_us: Math.round((Number($("scrub").value) / 1000) * state.replay.duration_us) }); };

/**
 * The keys. S is the safe scene from every state of the page: with a
 * question open (which it closes unanswered), with focus on the dial, a
 * button, a list, a checkbox or the rating box. Only in a box for words
 * (notes, marker, prediction, outcome, a name, a pairing code) does S type
 * an "s": Esc leaves such a box (so does Enter), then S works.
 */
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const el = document.activeElement, tag = el ? el.tagName : "";
  const words = tag === "TEXTAREA" || (tag === "INPUT" && !["number", "range", "checkbox", "radio", "button", "submit"].includes(el.type));
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (key === "Escape") {
    if (dialogOpen()) { e.preventDefault(); closeDialogs(); } else if (words || tag === "INPUT" || tag === "SELECT") el.blur();
    return;
  }
  if (words) return;
  if (key === "s") { e.preventDefault(); if (!e.repeat) { closeDialogs(); safeScene(); } return; }
  // The rating box and the lists keep their own keys; a question waits for its answer.
  if (dialogOpen() || tag === "SELECT" || (tag === "INPUT" && el.type === "number")) return;
  // Holding a key down is one press: a repeat never steps on.
  if (e.repeat && !["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"].includes(key)) { e.preventDefault(); return; }
  const s = state.sessions.get(state.current);
  const handled = {
    " ": pauseOrResume,
    ArrowUp: () => s && s.last && setLevel(s.last.target_level + 0.5),
    ArrowDown: () => s && s.last && setLevel(s.last.target_level - 0.5),
    n: () => command({ type: "next_step" }),
    p: () => command({ type: "previous_step" }),
    a: () => command({ type: "accept_suggestion" }),
    q: () => command({ type: "request_suds" }),
    r: () => $("suds-value").focus(),
    m: () => $("marker-label").focus(),
    ArrowLeft: () => state.replay && replay({ action: "seek", position_us: Math.max(0, state.replay.position_us - 10e6) }),
    ArrowRight: () => state.replay && replay({ action: "seek", position_us: state.replay.position_us + 10e6 }),
  }[key] || (/^[1-9]$/.test(key) && (() => { const id = state.order[Number(key) - 1]; if (id) select(id); }));
  if (handled) { e.preventDefault(); handled(); }
});
window.addEventListener("resize", () => { state.dirty = true; });
$("mirror-rate").onchange = () => { if (state.current) send({ type: "mirror", session_id: state.current, fps: Number($("mirror-rate").value) }); };
$("mirror-outline-on").onchange = () => { state.dirty = true; };
// The mirror's age moves even when nothing else does.
setInterval(() => { const s = state.sessions.get(state.current); if (s && s.mirror) state.dirty = true; }, 500);
setInterval(() => { if (state.connected) send({ type: "list_recordings" }); }, 15000);
// Headsets that wait with a code show up within seconds.
setInterval(() => { if (state.connected) loadHeadsets(); }, 3000);

connect();
requestAnimationFrame(frame);
