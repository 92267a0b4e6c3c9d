// Per-session sample storage and the canvas drawings (chart, map).
// The ring keeps every sample received (up to its capacity); drawing thins
// them to the canvas width, one min/max pair per pixel column.
"use strict";

/** Columns kept per sample. */
const COLUMNS = ["t", "applied", "target", "hr", "step", "gaze", "frame_ms", "safe"];

class Ring {
  constructor(capacity) {
    this.capacity = capacity;
    this.start = 0;
    this.length = 0;
    this.cols = {};
    for (const c of COLUMNS) this.cols[c] = new Float32Array(capacity);
  }
  clear() { this.start = 0; this.length = 0; }
  push(sample) {
    const i = (this.start + this.length) % this.capacity;
    if (this.length < this.capacity) this.length++; else this.start = (this.start + 1) % this.capacity;
    const c = this.cols;
    c.t[i] = sample.session_us / 1e6;
    c.applied[i] = sample.applied_level;
    c.target[i] = sample.target_level;
    c.hr[i] = sample.heart_rate == null ? NaN : sample.heart_rate;
    c.step[i] = sample.step;
    c.gaze[i] = sample.gaze_on_stimulus ? 1 : 0;
    c.frame_ms[i] = sample.frame_ms;
    c.safe[i] = sample.state === "safe_scene" ? 1 : 0;
  }
  /** Value of column `name` at logical index k (0 = oldest). */
  at(name, k) { return this.cols[name][(this.start + k) % this.capacity]; }
}

const Colors = { grid: "#e3e7ee", text: "#5d6677", suds: "#2d5fa8", target: "#9aa3b2", applied: "#1d2330",
  hr: "#b24a6b", marker: "#b7791f", band: ["#f3f6fa", "#e9eef6"], safe: "#d7efed" };

/** Fits a canvas's backing store to its CSS size; returns the 2D context and size in CSS pixels. */
function fit(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { g, w, h };
}

/** One min/max pair per pixel column over [x0, x1) for a column of the ring. */
function decimate(ring, name, t0, t1, x0, x1) {
  const width = Math.max(1, Math.floor(x1 - x0));
  const mins = new Float32Array(width).fill(NaN), maxs = new Float32Array(width).fill(NaN);
  const span = t1 - t0 || 1;
  for (let k = 0; k < ring.length; k++) {
    const v = ring.at(name, k);
    if (Number.isNaN(v)) continue;
    const x = Math.min(width - 1, Math.floor(((ring.at("t", k) - t0) / span) * width));
    if (x < 0) continue;
    if (!(mins[x] <= v)) mins[x] = v;
    if (!(maxs[x] >= v)) maxs[x] = v;
  }
  return { mins, maxs };
}

/**
 * Draws a decimated series as a line through each column's range; where no
 * sample came for more than `gapPx` columns (the headset was gone), the
 * line stops and starts again: a gap is drawn as a gap.
 */
function drawSeries(g, d, x0, yOf, color, lineWidth, gapPx = Infinity) {
  g.strokeStyle = color; g.lineWidth = lineWidth; g.beginPath();
  let pen = false, lastX = -Infinity, segments = 0;
  for (let x = 0; x < d.mins.length; x++) {
    if (Number.isNaN(d.mins[x])) continue;
    const px = x0 + x + 0.5;
    if (x - lastX > gapPx) pen = false;
    lastX = x;
    if (!pen) { g.moveTo(px, yOf(d.mins[x])); pen = true; segments++; } else g.lineTo(px, yOf(d.mins[x]));
    if (d.maxs[x] !== d.mins[x]) g.lineTo(px, yOf(d.maxs[x]));
  }
  g.stroke();
  return segments;
}

function clock(seconds) {
  if (!Number.isFinite(seconds)) return "–:–";
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? `${h}:${String(m).padStart(2, "0")}` : `${m}`) + `:${String(r).padStart(2, "0")}`;
}

/**
 * The session chart: SUDS (0–100, left axis) with markers, target and
 * applied level over step bands (right axis), heart rate in its own strip.
 */
function drawChart(canvas, s) {
  const { g, w, h } = fit(canvas);
  g.clearRect(0, 0, w, h);
  const left = 40, right = 40, top = 18, hrHeight = 60, gap = 14;
  const x1 = w - right, mainBottom = h - hrHeight - gap - 16, hrTop = mainBottom + gap, hrBottom = h - 16;
  const ring = s.ring;
  if (!ring.length) {
    g.fillStyle = Colors.text; g.font = "13px system-ui"; g.fillText("no telemetry yet", left, top + 20);
    return;
  }
  const t0 = ring.at("t", 0), t1 = Math.max(ring.at("t", ring.length - 1), t0 + 60);
  const xOf = (t) => left + ((t - t0) / (t1 - t0)) * (x1 - left);
  const steps = Math.max(s.stepCount(), 2);
  const levelY = (l) => mainBottom - ((l - 1) / (steps - 1)) * (mainBottom - top);
  const sudsY = (v) => mainBottom - (v / 100) * (mainBottom - top);

  // Step bands: where the shown step changes, from the samples.
  const bands = decimate(ring, "step", t0, t1, left, x1);
  let bandStart = 0, bandStep = bands.mins[0];
  g.font = "11px system-ui";
  const closeBand = (end) => {
    if (Number.isNaN(bandStep)) return;
    g.fillStyle = Colors.band[bandStep % 2];
    g.fillRect(left + bandStart, top, end - bandStart, mainBottom - top);
    if (end - bandStart > 14) { g.fillStyle = Colors.text; g.fillText(String(bandStep), left + bandStart + 3, top - 5); }
  };
  for (let x = 1; x < bands.maxs.length; x++) {
    const v = bands.maxs[x];
    if (!Number.isNaN(v) && v !== bandStep) { closeBand(x); bandStart = x; bandStep = v; }
  }
  closeBand(bands.maxs.length);
  // The safe scene, where it covered the scenario.
  const safe = decimate(ring, "safe", t0, t1, left, x1);
  g.fillStyle = Colors.safe;
  for (let x = 0; x < safe.maxs.length; x++) if (safe.maxs[x] === 1) g.fillRect(left + x, top, 1, mainBottom - top);
  // Columns without samples for longer than this are a gap (history is thinned: its spacing counts).
  const gapPx = (s.gapS || 2.5) / ((t1 - t0) / (x1 - left));

  // Grid and axes.
  g.strokeStyle = Colors.grid; g.lineWidth = 1; g.fillStyle = Colors.text;
  for (let v = 0; v <= 100; v += 25) {
    const y = Math.round(sudsY(v)) + 0.5;
    g.beginPath(); g.moveTo(left, y); g.lineTo(x1, y); g.stroke();
    g.fillText(String(v), 8, y + 4);
  }
  g.save(); g.fillStyle = Colors.suds; g.fillText("SUDS", 4, top - 5); g.restore();
  g.fillText("level", x1 + 6, top - 5);
  for (let l = 1; l <= steps; l += Math.max(1, Math.ceil(steps / 6))) g.fillText(String(l), x1 + 8, levelY(l) + 4);
  const tickEvery = [30, 60, 120, 300, 600, 900, 1800].find((d) => (t1 - t0) / d <= 8) || 3600;
  for (let t = Math.ceil(t0 / tickEvery) * tickEvery; t <= t1; t += tickEvery) {
    const x = Math.round(xOf(t)) + 0.5;
    g.beginPath(); g.moveTo(x, mainBottom); g.lineTo(x, mainBottom + 4); g.stroke();
    g.fillText(clock(t), x - 12, h - 3);
  }

  // Target and applied level.
  drawSeries(g, decimate(ring, "target", t0, t1, left, x1), left, levelY, Colors.target, 1.5, gapPx);
  // Pieces of the line: more than one where telemetry stopped (the browser tests read it).
  s.chartSegments = drawSeries(g, decimate(ring, "applied", t0, t1, left, x1), left, levelY, Colors.applied, 2, gapPx);

  // Markers and notes.
  g.font = "11px system-ui";
  // Labels that would overlap the one before go a line lower (four lines, then round again).
  let lastEnd = -Infinity, row = 0;
  for (const m of s.markers) {
    const x = Math.round(xOf(m.t)) + 0.5;
    if (x < left || x > x1) continue;
    g.strokeStyle = Colors.marker; g.setLineDash(m.kind === "marker" ? [] : [3, 3]);
    g.beginPath(); g.moveTo(x, top); g.lineTo(x, mainBottom); g.stroke(); g.setLineDash([]);
    if (m.kind === "marker") {
      const label = m.label.slice(0, 24);
      row = x + 3 < lastEnd ? (row + 1) % 4 : 0;
      g.fillStyle = Colors.marker; g.fillText(label, x + 3, top + 11 + row * 13);
      lastEnd = Math.max(lastEnd, x + 3 + g.measureText(label).width + 4);
    }
  }

  // SUDS: ratings as points joined by steps; a rating holds until the next
  // one or the safe scene (a `null` entry): never carried through it.
  g.strokeStyle = Colors.suds; g.fillStyle = Colors.suds; g.lineWidth = 2; g.beginPath();
  let prev = null;
  for (const r of s.suds) {
    const x = xOf(r.t);
    if (prev) g.lineTo(x, sudsY(prev.value));
    if (r.value == null) { prev = null; continue; }
    if (prev) g.lineTo(x, sudsY(r.value)); else g.moveTo(x, sudsY(r.value));
    prev = r;
  }
  if (prev) g.lineTo(xOf(ring.at("t", ring.length - 1)), sudsY(prev.value));
  g.stroke();
  for (const r of s.suds) { if (r.value == null) continue; g.beginPath(); g.arc(xOf(r.t), sudsY(r.value), r.by === "therapist" ? 4 : 3, 0, 7); g.fill(); }

  // Heart rate strip.
  const hr = decimate(ring, "hr", t0, t1, left, x1);
  let lo = Infinity, hi = -Infinity;
  for (let x = 0; x < hr.mins.length; x++) if (!Number.isNaN(hr.mins[x])) { lo = Math.min(lo, hr.mins[x]); hi = Math.max(hi, hr.maxs[x]); }
  g.fillStyle = "#faf7f8"; g.fillRect(left, hrTop, x1 - left, hrBottom - hrTop);
  g.fillStyle = Colors.hr; g.fillText("HR", 14, hrTop + 12);
  if (lo < hi || lo === hi) {
    if (lo === hi) { lo -= 5; hi += 5; }
    lo = Math.floor(lo / 10) * 10; hi = Math.ceil(hi / 10) * 10;
    const hrY = (v) => hrBottom - ((v - lo) / (hi - lo)) * (hrBottom - hrTop);
    g.fillText(String(hi), x1 + 6, hrTop + 10); g.fillText(String(lo), x1 + 6, hrBottom);
    drawSeries(g, hr, left, hrY, Colors.hr, 1.5, gapPx);
  }
}

/** Top-down map: x to the right, -z up; 1 m = `scale` px around the patient's start. */
function drawMap(canvas, s) {
  const { g, w, h } = fit(canvas);
  g.clearRect(0, 0, w, h);
  const scale = 50, cx = w / 2, cy = h / 2;
  g.strokeStyle = Colors.grid; g.lineWidth = 1;
  for (let m = -3; m <= 3; m++) {
    g.beginPath(); g.moveTo(cx + m * scale + 0.5, 0); g.lineTo(cx + m * scale + 0.5, h); g.stroke();
    g.beginPath(); g.moveTo(0, cy + m * scale + 0.5); g.lineTo(w, cy + m * scale + 0.5); g.stroke();
  }
  g.fillStyle = Colors.text; g.font = "10px system-ui"; g.fillText("1 m", cx + 3, cy + scale - 3);
  const last = s.last;
  if (!last) return;
  const px = cx + last.head.p[0] * scale, py = cy + last.head.p[2] * scale;
  // Gaze cone (±15°) from the gaze direction projected on the floor.
  const gx = last.gaze[0], gz = last.gaze[2], heading = Math.atan2(gz, gx), half = (15 * Math.PI) / 180;
  g.fillStyle = last.gaze_on_stimulus ? "#2d5fa833" : "#9aa3b233";
  g.beginPath(); g.moveTo(px, py); g.arc(px, py, 3 * scale, heading - half, heading + half); g.closePath(); g.fill();
  // Head direction: the head's forward (-z) turned by its quaternion.
  const [qx, qy, qz, qw] = last.head.q;
  const fx = -(2 * (qx * qz + qw * qy)), fz = -(1 - 2 * (qx * qx + qy * qy));
  g.strokeStyle = Colors.applied; g.lineWidth = 2;
  g.beginPath(); g.moveTo(px, py); g.lineTo(px + fx * 0.6 * scale, py + fz * 0.6 * scale); g.stroke();
  if (last.stimulus_distance_m != null) {
    g.strokeStyle = Colors.marker; g.setLineDash([4, 4]);
    g.beginPath(); g.arc(px, py, last.stimulus_distance_m * scale, 0, 7); g.stroke(); g.setLineDash([]);
  }
  if (last.stimulus_p) {
    // The nearest stimulus (what gaze and distance are measured against).
    const sx = cx + last.stimulus_p[0] * scale, sy = cy + last.stimulus_p[2] * scale;
    g.fillStyle = Colors.marker; g.beginPath();
    g.moveTo(sx, sy - 7); g.lineTo(sx + 7, sy); g.lineTo(sx, sy + 7); g.lineTo(sx - 7, sy); g.closePath(); g.fill();
    g.fillText("stimulus", sx + 9, sy + 3);
  }
  g.fillStyle = Colors.applied; g.beginPath(); g.arc(px, py, 6, 0, 7); g.fill();
  g.fillStyle = Colors.text;
  g.fillText(`${last.stimulus_angle_deg.toFixed(0)}° from the stimulus`, 6, h - 6);
}
