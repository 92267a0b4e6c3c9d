//! `trinvis fuzz [--minutes M] [--seed S] [--clients N]`: a developer check,
//! not part of the test run. Starts the real console, keeps two honest
//! simulated headsets streaming beside it, and lets N clients throw frames
//! of every message kind at both sockets: valid templates of each kind of
//! docs/protocol.md §4 with one to three structure-aware mutations
//! (boundary numbers, nulls, missing fields, wrong types, long strings,
//! duplicate keys, deep nesting) or byte-level damage (truncation, flipped
//! bytes, invalid UTF-8, oversize, binary), plus silent peers, ping storms,
//! abrupt closes, broken WebSocket frames and slow or wrong handshakes.
//!
//! Fails when the console panicked, stopped answering `/health`, lost an
//! honest headset's data, kept a fuzzing connection as `connected`, or did
//! not stop cleanly on SIGTERM. Each client draws from its own SplitMix64
//! generator (seed + index) and plans each connection's frames before it
//! opens it, so a seed gives every client the same frames in the same order
//! (timing aside: how many connections fit in the time, and the ids the
//! console hands out, vary).
//!
//! `./x fuzz` runs it on the dev build: with overflow checks, arithmetic on
//! hostile numbers panics where a release build would wrap silently.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use link::{Clock, Link, LinkConfig, LinkInfo};
use protocol::{Pose, Sample, ScenarioRef, SessionState};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::console_proc::{self, ConsoleProcess, Endpoint, Socket};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long to fuzz, minutes.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Seed: the same seed sends every client the same frames in the same order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fuzzing clients, each with one connection at a time (and at most two
    /// silent ones beside it) and its own generator, seeded with seed + index.
    #[arg(long, default_value_t = 4)]
    clients: u32,
}

/// Honest simulated headsets beside the fuzzing clients.
const HONEST: u32 = 2;
/// How long a frame's answer is waited for (the first `hello`'s: 2 s).
const WINDOW: Duration = Duration::from_millis(30);

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if !(args.minutes > 0.0 && args.minutes <= 24.0 * 60.0) {
        anyhow::bail!("--minutes must be above 0 and at most 1440, got {}", args.minutes);
    }
    if !(1..=64).contains(&args.clients) {
        anyhow::bail!("--clients must be between 1 and 64, got {}", args.clients);
    }
    let dir = console_proc::temp_dir("fuzz");
    let mut console = ConsoleProcess::start(&dir)?;
    println!(
        "fuzz: console pid {} on {}, seed {}, {} client(s), {} honest headsets, {} min",
        console.pid(),
        console.addr,
        args.seed,
        args.clients,
        HONEST,
        args.minutes
    );
    println!("  rerun with: ./x fuzz --seed {} --clients {} --minutes {}", args.seed, args.clients, args.minutes);
    println!("  console log: {}", console.log.display());
    let at_start = console.figures();
    println!("  console at start: {}", show_figures(at_start));

    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.minutes * 60.0);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let outcome = runtime.block_on(fuzz(&console, args, deadline));
    let alive = console.exited().is_none();
    let health = console.health();
    let at_end = console.figures();
    println!("  console at end:   {}", show_figures(at_end));
    let log = console.log.clone();
    let stopped = console.stop()?;
    drop(runtime);
    let panics = console_proc::panics(&log);

    let tally = &outcome.tally;
    print!("{}", tally.table(started.elapsed(), args.seed));

    let mut checks: Vec<(String, bool, String)> = Vec::new();
    checks.push(("console ran through the fuzz".into(), alive, if alive { "yes" } else { "it exited" }.into()));
    checks.push((
        "no \"panicked\" in the console log".into(),
        panics.is_empty(),
        if panics.is_empty() { "none".into() } else { format!("{} panic line(s), first below", panics.len()) },
    ));
    let health_ok = matches!(&health, Ok((200, _)));
    checks.push((
        "GET /health before the stop".into(),
        health_ok,
        match &health {
            Ok((status, body)) => format!("{status} {body}"),
            Err(e) => format!("no answer: {e}"),
        },
    ));
    let honest_ok = outcome.honest.len() == HONEST as usize
        && outcome
            .honest
            .iter()
            .all(|h| h.info.unacked == 0 && h.info.dropped_samples == 0 && h.info.lost_messages == 0);
    let honest_detail = outcome
        .honest
        .iter()
        .map(|h| {
            format!(
                "{}: {} samples + {} command acks, {} unacked, {} dropped, {} lost, {} reconnects",
                h.name,
                h.pushed,
                h.acked_commands,
                h.info.unacked,
                h.info.dropped_samples,
                h.info.lost_messages,
                h.info.reconnects
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    checks.push(("honest headsets lost nothing".into(), honest_ok, honest_detail));
    checks.push(("only the honest sessions say connected".into(), outcome.linger.ok, outcome.linger.detail.clone()));
    checks.push(("console stopped cleanly on SIGTERM".into(), stopped.clean(), stopped.to_string()));

    println!("\nchecks");
    for (what, ok, detail) in &checks {
        println!("  {:<42} {:<4}  {detail}", what, if *ok { "ok" } else { "FAIL" });
    }
    for line in panics.iter().take(5) {
        println!("  panic: {line}");
    }
    let failed = checks.iter().filter(|(_, ok, _)| !ok).count();
    println!("\nseed {}; the same frames again: ./x fuzz --seed {} --clients {}", args.seed, args.seed, args.clients);
    if failed == 0 {
        let _ = std::fs::remove_dir_all(&dir);
        println!("fuzz: all {} checks passed", checks.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("fuzz: {failed} check(s) failed; the console's log and recordings are in {}", dir.display());
        Ok(ExitCode::from(1))
    }
}

fn show_figures(figures: Option<console_proc::Figures>) -> String {
    figures.map_or_else(|| "gone".to_owned(), |f| f.to_string())
}

/// Where the clients aim: only the loopback console this run started.
#[derive(Debug)]
struct Target {
    addr: String,
    headset_token: String,
    therapist_token: String,
}

#[derive(Debug)]
struct Outcome {
    tally: Tally,
    honest: Vec<Honest>,
    linger: Linger,
}

/// The check that no fuzzing connection is still listed as connected.
#[derive(Debug)]
struct Linger {
    ok: bool,
    detail: String,
}

async fn fuzz(console: &ConsoleProcess, args: &Args, deadline: Instant) -> Outcome {
    let target = Arc::new(Target {
        addr: console.addr.clone(),
        headset_token: console.headset_token.clone(),
        therapist_token: console.therapist_token.clone(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let mut honest = JoinSet::new();
    for i in 0..HONEST {
        honest.spawn(honest_headset(target.clone(), i, stop.clone()));
    }
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut clients = JoinSet::new();
    for i in 0..args.clients {
        clients.spawn(client(target.clone(), args.seed.wrapping_add(u64::from(i)), i, deadline, tally.clone()));
    }
    while let Some(result) = clients.join_next().await {
        if let Err(e) = result
            && let Ok(mut t) = tally.lock()
        {
            t.connection("client task", &format!("ended abnormally: {e}"));
        }
    }
    // Every fuzzing socket is closed now; the console has a second to notice.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let listed = console.sessions().await;
    stop.store(true, Ordering::Relaxed);
    let mut headsets = Vec::new();
    while let Some(result) = honest.join_next().await {
        if let Ok(h) = result {
            headsets.push(h);
        }
    }
    headsets.sort_by(|a, b| a.name.cmp(&b.name));
    let honest_ids: BTreeSet<String> = headsets.iter().filter_map(|h| h.info.session_id.clone()).collect();
    let linger = match listed {
        Err(e) => Linger { ok: false, detail: format!("no session list: {e:#}") },
        Ok(list) => {
            let connected: BTreeSet<String> = list
                .iter()
                .filter(|s| s["link"] == "connected")
                .filter_map(|s| s["session_id"].as_str().map(str::to_owned))
                .collect();
            let extra: Vec<&String> = connected.difference(&honest_ids).collect();
            let missing: Vec<&String> = honest_ids.difference(&connected).collect();
            Linger {
                ok: extra.is_empty() && missing.is_empty() && honest_ids.len() == HONEST as usize,
                detail: format!(
                    "{} sessions listed, {} connected; fuzz sessions still connected: {}; honest ones not connected: {}",
                    list.len(),
                    connected.len(),
                    list_or_none(&extra),
                    list_or_none(&missing)
                ),
            }
        }
    };
    let tally = tally.lock().map(|t| t.clone()).unwrap_or_default();
    Outcome { tally, honest: headsets, linger }
}

fn list_or_none(ids: &[&String]) -> String {
    if ids.is_empty() { "none".to_owned() } else { ids.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ") }
}

// ---------------------------------------------------------------------------
// Honest headsets: the reference link, 90 samples a second, commands acked.

#[derive(Debug)]
struct Honest {
    name: String,
    pushed: u64,
    acked_commands: u64,
    info: LinkInfo,
}

async fn honest_headset(target: Arc<Target>, i: u32, stop: Arc<AtomicBool>) -> Honest {
    let clock = Clock::new();
    let name = format!("honest-{}", i + 1);
    let scenario = ScenarioRef { id: "fuzz-honest".into(), version: "1".into(), sha256: "00".repeat(32) };
    let mut config = LinkConfig::new(
        &format!("ws://{}", target.addr),
        &target.headset_token,
        &name,
        &format!("HONEST-{}", i + 1),
        scenario,
        clock,
    );
    config.app = concat!("trinvis-fuzz ", env!("CARGO_PKG_VERSION")).to_owned();
    let mut link = Link::start_on(&tokio::runtime::Handle::current(), config);
    let mut pushed = 0;
    let mut acked_commands = 0;
    let mut ticks = tokio::time::interval(Duration::from_micros(11_111));
    while !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        if link.push_sample(honest_sample(clock.now_us())) {
            pushed += 1;
        }
        while let Some(command) = link.poll_command() {
            link.ack_command(command.id, Ok(()));
            acked_commands += 1;
        }
    }
    // A short drain: everything pushed must be acknowledged.
    let drain = Instant::now() + Duration::from_secs(10);
    while link.info().unacked > 0 && Instant::now() < drain {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Honest { name, pushed, acked_commands, info: link.info() }
}

fn honest_sample(t_us: u64) -> Sample {
    Sample {
        t_us,
        session_us: t_us,
        head: Pose { p: [0.0, 1.6, 0.0], q: [0.0, 0.0, 0.0, 1.0] },
        left_hand: None,
        right_hand: None,
        gaze: [0.0, 0.0, -1.0],
        gaze_on_stimulus: true,
        stimulus_angle_deg: 0.0,
        stimulus_distance_m: None,
        stimulus_p: None,
        state: SessionState::Running,
        target_level: 1.0,
        applied_level: 1.0,
        step: 1,
        safe_blend: 0.0,
        frame_ms: 11.1,
        dropped_frames: 0,
        heart_rate: Some(80.0),
    }
}

// ---------------------------------------------------------------------------
// The generator.

/// The synthetic patient's generator (`patient::Rng`, SplitMix64): a seed
/// means the same numbers on every platform and build.
#[derive(Clone, Debug)]
struct Rng(patient::Rng);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// 0 ≤ x < n (0 when n is 0).
    fn below(&mut self, n: usize) -> usize {
        let x = self.next();
        if n == 0 { 0 } else { (x % n as u64) as usize }
    }

    /// lo ≤ x ≤ hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// A float in [lo, hi), rounded to 3 decimals as a headset would send.
    fn float(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((lo + unit * (hi - lo)) * 1000.0).round() / 1000.0
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        let i = self.below(items.len());
        items.get(i).copied()
    }
}

// ---------------------------------------------------------------------------
// Message kinds and their valid templates (docs/protocol.md §4 and §5).

const COMMANDS: [&str; 17] = [
    "start",
    "set_level",
    "go_to_step",
    "next_step",
    "previous_step",
    "accept_suggestion",
    "pause",
    "resume",
    "safe_scene",
    "stop",
    "request_suds",
    "record_suds",
    "marker",
    "note",
    "prediction",
    "outcome",
    "set_automatic",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Hello,
    Telemetry,
    Events,
    CommandAck,
    Pong,
    ListSessions,
    Subscribe,
    Unsubscribe,
    Command(usize),
    ListRecordings,
    Replay,
}

impl Kind {
    fn label(self) -> String {
        match self {
            Kind::Hello => "hello".into(),
            Kind::Telemetry => "telemetry".into(),
            Kind::Events => "events".into(),
            Kind::CommandAck => "command_ack".into(),
            Kind::Pong => "pong".into(),
            Kind::ListSessions => "list_sessions".into(),
            Kind::Subscribe => "subscribe".into(),
            Kind::Unsubscribe => "unsubscribe".into(),
            Kind::Command(i) => format!("command/{}", COMMANDS.get(i).unwrap_or(&"?")),
            Kind::ListRecordings => "list_recordings".into(),
            Kind::Replay => "replay".into(),
        }
    }

    fn headset(rng: &mut Rng) -> Kind {
        match rng.below(100) {
            0..5 => Kind::Hello,
            5..45 => Kind::Telemetry,
            45..65 => Kind::Events,
            65..80 => Kind::CommandAck,
            _ => Kind::Pong,
        }
    }

    fn browser(rng: &mut Rng) -> Kind {
        let command = rng.below(COMMANDS.len());
        match rng.below(100) {
            0..10 => Kind::ListSessions,
            10..20 => Kind::Subscribe,
            20..25 => Kind::Unsubscribe,
            25..80 => Kind::Command(command),
            80..90 => Kind::ListRecordings,
            _ => Kind::Replay,
        }
    }
}

/// What a client knows between its connections.
#[derive(Debug)]
struct Ctx {
    client: u32,
    /// The fuzzing headset identity changes every 40 headset connections,
    /// so a session numbered to u64::MAX by a mutation does not stay the
    /// only one.
    generation: u64,
    seq: u64,
    main_session: Option<String>,
    /// The secret a resuming hello carries, when the console's welcome gave one.
    resume_token: Option<String>,
    /// Sessions seen in `sessions` lists and welcomes, for browser messages.
    session_ids: Vec<String>,
    last_ping: (u64, u64),
    request_id: u64,
    headset_connections: u64,
}

impl Ctx {
    fn new(client: u32) -> Ctx {
        Ctx {
            client,
            generation: 0,
            seq: 0,
            main_session: None,
            resume_token: None,
            session_ids: Vec::new(),
            last_ping: (1, 1_800_000_000_000_000),
            request_id: 0,
            headset_connections: 0,
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A session id: mostly a known one, sometimes made up. Always two draws.
    fn session_id(&self, rng: &mut Rng) -> String {
        let known = rng.chance(85);
        let i = rng.below(self.session_ids.len().max(1));
        match self.session_ids.get(i) {
            Some(id) if known => id.clone(),
            _ => format!("20260101T000000Z-{:08x}", rng.next() as u32),
        }
    }

    fn remember(&mut self, id: &str) {
        if !self.session_ids.iter().any(|s| s == id) {
            self.session_ids.push(id.to_owned());
            if self.session_ids.len() > 64 {
                self.session_ids.remove(0);
            }
        }
    }
}

/// A valid message of `kind`; for `hello`, also whether it opens or
/// resumes the client's own session.
fn template(kind: Kind, rng: &mut Rng, ctx: &mut Ctx) -> (Value, Option<u64>, bool) {
    let states = ["waiting", "running", "paused", "safe_scene"];
    match kind {
        Kind::Hello => {
            let other = rng.below(10) == 0;
            let other_id = ctx.session_id(rng);
            let (session_id, own) = match (&ctx.main_session, other) {
                (_, true) => (Some(other_id), false),
                (main, false) => (main.clone(), true),
            };
            let mut hello = json!({
                "type": "hello",
                "headset_id": format!("fuzz-{}-{}", ctx.client, ctx.generation),
                "app": concat!("trinvis-fuzz ", env!("CARGO_PKG_VERSION")),
                "scenario": { "id": "heights", "version": "1.0.0", "sha256": "9f2c".repeat(16) },
                "patient_code": format!("FZ-{}-{}", ctx.client, ctx.generation),
                "resume_from": ctx.seq + 1,
                "headset_us": 5_000_000_000u64 + rng.range(0, 1_000_000_000),
                "session_epoch_us": 4_939_000_000u64,
                "steps": [
                    { "id": "ground", "title": "On the ground" },
                    { "id": "balcony", "title": "A first-floor balcony" }
                ]
            });
            if let (Some(id), Some(map)) = (session_id, hello.as_object_mut()) {
                map.insert("session_id".into(), id.into());
                if let (true, Some(token)) = (own, &ctx.resume_token) {
                    map.insert("resume_token".into(), token.clone().into());
                }
            }
            (hello, None, own)
        }
        Kind::Telemetry => {
            let n = rng.range(1, 5);
            let seq = ctx.next_seq();
            let samples: Vec<Value> = (0..n).map(|_| sample(rng, &states)).collect();
            (json!({ "type": "telemetry", "seq": seq, "samples": samples }), None, false)
        }
        Kind::Events => {
            let n = rng.range(1, 3);
            let seq = ctx.next_seq();
            let events: Vec<Value> = (0..n)
                .map(|i| {
                    let base = json!({ "seq": seq * 3 + i, "at_us": rng.range(0, 3_600_000_000) });
                    let mut event = match rng.below(5) {
                        0 => json!({ "type": "state_changed", "from": "waiting", "to": states[rng.below(4) % 4], "by": "therapist" }),
                        1 => json!({ "type": "step_entered", "step": rng.range(1, 8), "id": "balcony" }),
                        2 => json!({ "type": "suds_recorded", "value": rng.range(0, 100), "by": "patient" }),
                        3 => json!({ "type": "marker", "label": "spider moved" }),
                        _ => json!({ "type": "target_changed", "from": 1.0, "to": rng.float(1.0, 8.0), "by": "automatic" }),
                    };
                    if let (Some(e), Some(b)) = (event.as_object_mut(), base.as_object()) {
                        e.extend(b.clone());
                    }
                    event
                })
                .collect();
            (json!({ "type": "events", "seq": seq, "events": events }), None, false)
        }
        Kind::CommandAck => {
            let seq = ctx.next_seq();
            let ok = rng.chance(70);
            let mut ack = json!({ "type": "command_ack", "seq": seq, "id": rng.range(1, 200), "ok": ok });
            if !ok && let Some(map) = ack.as_object_mut() {
                map.insert("error".into(), "no step is suggested".into());
            }
            (ack, None, false)
        }
        Kind::Pong => {
            let (id, console_us) = ctx.last_ping;
            let late = rng.range(0, 2_000_000);
            let pong =
                json!({ "type": "pong", "id": id, "console_us": console_us, "headset_us": 5_000_000_000u64 + late });
            (pong, None, false)
        }
        Kind::ListSessions => (json!({ "type": "list_sessions" }), None, false),
        Kind::ListRecordings => (json!({ "type": "list_recordings" }), None, false),
        Kind::Subscribe | Kind::Unsubscribe => {
            let kind = if kind == Kind::Subscribe { "subscribe" } else { "unsubscribe" };
            (json!({ "type": kind, "session_id": ctx.session_id(rng) }), None, false)
        }
        Kind::Replay => {
            let replay = match rng.below(4) {
                0 => json!({ "type": "replay", "action": "play" }),
                1 => json!({ "type": "replay", "action": "pause" }),
                2 => json!({ "type": "replay", "action": "seek", "position_us": rng.range(0, 3_600_000_000) }),
                _ => json!({ "type": "replay", "action": "speed", "speed": rng.float(1.0, 16.0) }),
            };
            (replay, None, false)
        }
        Kind::Command(i) => {
            let name = COMMANDS.get(i).copied().unwrap_or("start");
            let mut command = json!({ "type": name });
            let field = match name {
                "set_level" => Some(("level", json!(rng.float(0.5, 9.0)))),
                "go_to_step" => Some(("step", json!(rng.range(1, 8)))),
                "record_suds" => Some(("value", json!(rng.range(0, 100)))),
                "marker" => Some(("label", json!("fuzz marker"))),
                "note" | "prediction" | "outcome" => Some(("text", json!("the patient looked down"))),
                "set_automatic" => Some(("on", json!(rng.chance(50)))),
                _ => None,
            };
            if let (Some((key, value)), Some(map)) = (field, command.as_object_mut()) {
                map.insert(key.into(), value);
            }
            ctx.request_id += 1;
            let request_id = ctx.request_id;
            let message = json!({
                "type": "command",
                "session_id": ctx.session_id(rng),
                "request_id": request_id,
                "command": command
            });
            (message, Some(request_id), false)
        }
    }
}

fn sample(rng: &mut Rng, states: &[&str; 4]) -> Value {
    let pose = |rng: &mut Rng| json!({ "p": [rng.float(-1.0, 1.0), rng.float(0.8, 1.9), rng.float(-1.0, 1.0)], "q": [0.0, rng.float(-0.3, 0.3), 0.0, 0.95] });
    json!({
        "t_us": 5_000_000_000u64 + rng.range(0, 3_600_000_000),
        "session_us": rng.range(0, 3_600_000_000),
        "head": pose(rng),
        "left_hand": pose(rng),
        "right_hand": pose(rng),
        "gaze": [0.0, -0.287, -0.958],
        "gaze_on_stimulus": rng.chance(50),
        "stimulus_angle_deg": rng.float(0.0, 180.0),
        "stimulus_distance_m": rng.float(0.1, 30.0),
        "stimulus_p": [rng.float(-5.0, 5.0), rng.float(-30.0, 3.0), rng.float(-5.0, 5.0)],
        "state": states[rng.below(4) % 4],
        "target_level": rng.float(1.0, 8.0),
        "applied_level": rng.float(1.0, 8.0),
        "step": rng.range(1, 8),
        "safe_blend": rng.float(0.0, 1.0),
        "frame_ms": rng.float(5.0, 40.0),
        "dropped_frames": rng.range(0, 3),
        "heart_rate": rng.float(55.0, 160.0)
    })
}

// ---------------------------------------------------------------------------
// Mutations.

/// What goes on the wire: text, text frames that are not UTF-8, binary.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Frame {
    Text(String),
    RawText(Vec<u8>),
    Binary(Vec<u8>),
}

impl Frame {
    fn from_bytes(bytes: Vec<u8>) -> Frame {
        match String::from_utf8(bytes) {
            Ok(text) => Frame::Text(text),
            Err(e) => Frame::RawText(e.into_bytes()),
        }
    }

    fn message(&self) -> Message {
        match self {
            Frame::Text(text) => Message::text(text.clone()),
            Frame::Binary(bytes) => Message::binary(bytes.clone()),
            // tungstenite's text messages are UTF-8 by type; a raw frame is not checked.
            Frame::RawText(bytes) => Message::Frame(WsFrame::message(bytes.clone(), OpCode::Data(Data::Text), true)),
        }
    }

    fn len(&self) -> usize {
        match self {
            Frame::Text(text) => text.len(),
            Frame::RawText(bytes) | Frame::Binary(bytes) => bytes.len(),
        }
    }
}

/// Mutations after which the connection should stay open, and how often
/// each is drawn.
const MUTATIONS: [(&str, u64); 9] = [
    ("boundary", 14),
    ("null", 10),
    ("delete", 10),
    ("wrong_type", 10),
    ("long_string", 8),
    ("duplicate_key", 8),
    ("deep_nesting", 6),
    ("truncate", 8),
    ("flip_bytes", 6),
];
const BYTE_LEVEL: [&str; 6] =
    ["truncate", "flip_bytes", "invalid_utf8/text", "invalid_utf8/binary", "oversize", "binary"];
/// Mutations after which the console closes the connection (byte-level
/// too): kept for a connection's last frame, so the frames before it reach
/// a live socket.
const FATAL: [&str; 4] = ["invalid_utf8/text", "invalid_utf8/binary", "oversize", "binary"];

fn pick_mutation(rng: &mut Rng) -> &'static str {
    let total: u64 = MUTATIONS.iter().map(|(_, w)| w).sum();
    let mut x = rng.next() % total.max(1);
    for (m, w) in MUTATIONS {
        if x < w {
            return m;
        }
        x -= w;
    }
    "null"
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every node below the root, by path.
fn paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                prefix.push(Step::Key(k.clone()));
                out.push(prefix.clone());
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prefix.push(Step::Index(i));
                out.push(prefix.clone());
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get(k.as_str()),
        Step::Index(i) => v.get(*i),
    })
}

fn at_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

/// Raw JSON text to put where a marker string was serialised.
#[derive(Debug, Default)]
struct Raw {
    swaps: Vec<(String, String)>,
}

impl Raw {
    /// A marker value whose serialised form is later replaced by `text`.
    fn marker(&mut self, text: String) -> Value {
        let marker = format!("\u{1}raw{}\u{1}", self.swaps.len());
        self.swaps.push((serde_json::to_string(&marker).unwrap_or_default(), text));
        Value::String(marker)
    }

    fn apply(&self, mut text: String) -> String {
        for (marker, raw) in &self.swaps {
            text = text.replacen(marker.as_str(), raw, 1);
        }
        text
    }
}

fn boundary(rng: &mut Rng, raw: &mut Raw) -> Value {
    match rng.below(18) {
        0 => json!(0),
        1 => json!(1),
        2 => json!(-1),
        3 => json!(u64::MAX),
        4 => json!(u64::MAX - 1),
        5 => json!(1u64 << 53),
        6 => json!(1u64 << 63),
        7 => json!(i64::MIN),
        8 => json!(1e39),
        9 => json!(-1e39),
        10 => json!(3.402_823_5e38),
        11 => json!(1e-45),
        12 => json!(0.5),
        13 => raw.marker("1e400".into()),
        14 => raw.marker("-0".into()),
        15 => raw.marker("123456789012345678901234567890".into()),
        16 => raw.marker("-1e400".into()),
        _ => raw.marker("0.0000000000000000000000000000000000000000000000001".into()),
    }
}

/// Up to 70 000 characters (past the message limit), or 8000 when the
/// connection must survive (escaped, still under 64 KiB).
fn long_string(rng: &mut Rng, fatal: bool) -> String {
    const ALPHABET: [&str; 10] = ["a", "Z", "7", " ", "é", "🕷", "\"", "\\", "\u{0}", "\u{2028}"];
    let n = if rng.chance(50) { rng.range(10, 300) } else { rng.range(301, if fatal { 70_000 } else { 8000 }) };
    let a = rng.below(ALPHABET.len());
    let b = rng.below(ALPHABET.len());
    // Two characters in a pattern the generator picks: cheap, and still escapes.
    (0..n).map(|i| if i % 7 == 3 { ALPHABET[b] } else { ALPHABET[a] }).collect()
}

fn nesting(rng: &mut Rng) -> String {
    let depth = rng.pick(&[64usize, 127, 128, 129, 1000, 10_000, 30_000]).unwrap_or(128);
    if rng.chance(50) {
        "[".repeat(depth) + &"]".repeat(depth)
    } else {
        let depth = depth.min(10_000);
        "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth)
    }
}

/// One to three mutations of `value`; returns their names and the frame.
/// Unless `fatal`, only those after which the connection should stay open.
fn mutate(mut value: Value, rng: &mut Rng, fatal: bool) -> (Vec<&'static str>, Frame) {
    // One mutation in most frames, so that more of them get past the parser.
    let count = match rng.below(100) {
        0..60 => 1,
        60..85 => 2,
        _ => 3,
    };
    let mut applied = Vec::new();
    // At most one byte-level mutation, applied to the serialised text at
    // the end; a fatal frame always has one of those that close.
    let mut byte_level = if fatal { rng.pick(&FATAL) } else { None };
    let mut raw = Raw::default();
    for _ in 0..count {
        let m = pick_mutation(rng);
        if BYTE_LEVEL.contains(&m) {
            byte_level.get_or_insert(m);
            continue;
        }
        mutate_value(&mut value, m, rng, &mut raw, fatal);
        applied.push(m);
    }
    let text = raw.apply(serde_json::to_string(&value).unwrap_or_default());
    let Some(m) = byte_level else { return (applied, Frame::Text(text)) };
    applied.push(m);
    let mut bytes = text.into_bytes();
    let frame = match m {
        "truncate" => {
            bytes.truncate(rng.below(bytes.len()));
            Frame::from_bytes(bytes)
        }
        "flip_bytes" => {
            for _ in 0..rng.range(1, 4) {
                let i = rng.below(bytes.len());
                let bit = 1u8 << rng.below(8);
                if let Some(b) = bytes.get_mut(i) {
                    *b ^= bit;
                }
            }
            Frame::from_bytes(bytes)
        }
        "invalid_utf8/text" | "invalid_utf8/binary" => {
            let bad: &[&[u8]] =
                &[&[0xFF], &[0xC0, 0x80], &[0xED, 0xA0, 0x80], &[0xF4, 0x90, 0x80, 0x80], &[0xE2, 0x82]];
            let seq = bad.get(rng.below(bad.len())).copied().unwrap_or(&[0xFF]);
            let at = rng.below(bytes.len() + 1);
            bytes.splice(at..at, seq.iter().copied());
            if m == "invalid_utf8/text" { Frame::RawText(bytes) } else { Frame::Binary(bytes) }
        }
        "oversize" => {
            let target = rng.pick(&[65_536usize, 65_537, 100_000, 1_048_576, 1_048_577, 2_000_000]).unwrap_or(65_537);
            // `{"pad":"xxx…",` after the opening brace, to exactly `target` bytes.
            let fill = target.saturating_sub(bytes.len() + 9);
            if bytes.first() == Some(&b'{') && fill > 0 {
                let pad = format!("\"pad\":\"{}\",", "x".repeat(fill));
                bytes.splice(1..1, pad.bytes());
            } else {
                bytes.resize(target, b' ');
            }
            Frame::from_bytes(bytes)
        }
        _ => Frame::Binary(bytes),
    };
    let frame = match (fatal, frame) {
        // Text that must not end the connection stays UTF-8.
        (false, Frame::RawText(bytes)) => Frame::Text(String::from_utf8_lossy(&bytes).into_owned()),
        (_, frame) => frame,
    };
    (applied, frame)
}

fn mutate_value(value: &mut Value, m: &str, rng: &mut Rng, raw: &mut Raw, fatal: bool) {
    let mut all = Vec::new();
    paths(value, &mut Vec::new(), &mut all);
    let numbers: Vec<&Vec<Step>> = all.iter().filter(|p| at(value, p).is_some_and(Value::is_number)).collect();
    let pick_any = rng.below(all.len());
    let pick_number = rng.below(numbers.len());
    let path = match m {
        "boundary" => numbers.get(pick_number).copied().or(all.get(pick_any)),
        _ => all.get(pick_any),
    };
    let Some(path) = path.cloned() else { return };
    match m {
        "boundary" => {
            let b = boundary(rng, raw);
            if let Some(v) = at_mut(value, &path) {
                *v = b;
            }
        }
        "null" => {
            if let Some(v) = at_mut(value, &path) {
                *v = Value::Null;
            }
        }
        "delete" => {
            let (last, parent) = match path.split_last() {
                Some((last, parent)) => (last.clone(), parent.to_vec()),
                None => return,
            };
            match (at_mut(value, &parent), last) {
                (Some(Value::Object(map)), Step::Key(k)) => {
                    map.remove(&k);
                }
                (Some(Value::Array(items)), Step::Index(i)) if i < items.len() => {
                    items.remove(i);
                }
                _ => {}
            }
        }
        "wrong_type" => {
            let choices = [json!("x"), json!([]), json!([1, "a"]), json!({}), json!({ "a": 1 }), json!(true), json!(7)];
            let w = choices.get(rng.below(choices.len())).cloned().unwrap_or(Value::Null);
            if let Some(v) = at_mut(value, &path) {
                *v = w;
            }
        }
        "long_string" => {
            let s = long_string(rng, fatal);
            if let Some(v) = at_mut(value, &path) {
                *v = Value::String(s);
            }
        }
        "deep_nesting" => {
            let n = raw.marker(nesting(rng));
            if let Some(v) = at_mut(value, &path) {
                *v = n;
            }
        }
        "duplicate_key" => {
            // The object holding the picked node (the root when it is a top field).
            let parent = path.split_last().map(|(_, p)| p.to_vec()).unwrap_or_default();
            let other = match rng.below(4) {
                0 => json!("dup"),
                1 => Value::Null,
                2 => boundary(rng, raw),
                _ => json!({ "dup": true }),
            };
            if let (Some(Value::Object(map)), Some(Step::Key(k))) = (at_mut(value, &parent), path.last()) {
                // A marker key, serialised and then renamed to `k`: serde_json's
                // maps cannot hold a key twice.
                let marker = format!("\u{1}dup{}\u{1}", raw.swaps.len());
                let serialised = serde_json::to_string(&marker).unwrap_or_default();
                raw.swaps.push((serialised, serde_json::to_string(k).unwrap_or_default()));
                map.insert(marker, other);
            }
        }
        _ => {}
    }
}

/// A frame of `kind`, mutated in `percent` of cases (`fatal`: possibly so
/// that the console closes the connection).
fn plan(kind: Kind, percent: u64, fatal: bool, rng: &mut Rng, ctx: &mut Ctx) -> Planned {
    let (value, request_id, own) = template(kind, rng, ctx);
    let (mutations, frame) = if rng.chance(percent) {
        mutate(value, rng, fatal)
    } else {
        (Vec::new(), Frame::Text(serde_json::to_string(&value).unwrap_or_default()))
    };
    let own_hello = own && mutations.is_empty();
    Planned { kind: kind.label(), mutations, frame, request_id, own_hello }
}

#[derive(Debug)]
struct Planned {
    kind: String,
    mutations: Vec<&'static str>,
    frame: Frame,
    request_id: Option<u64>,
    /// A valid hello for the client's own session: its welcome names it.
    own_hello: bool,
}

// ---------------------------------------------------------------------------
// What was sent and what came back.

#[derive(Clone, Debug, Default)]
struct Row {
    sent: u64,
    mutated: u64,
    outcomes: BTreeMap<String, u64>,
}

impl Row {
    fn summary(&self) -> String {
        let mut outcomes: Vec<(&String, &u64)> = self.outcomes.iter().collect();
        outcomes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut text: Vec<String> = outcomes.iter().take(6).map(|(o, n)| format!("{o} {n}")).collect();
        if outcomes.len() > 6 {
            text.push(format!("+{} more", outcomes.len() - 6));
        }
        text.join(", ")
    }
}

#[derive(Clone, Debug, Default)]
struct Tally {
    frames: u64,
    bytes: u64,
    by_kind: BTreeMap<String, Row>,
    by_mutation: BTreeMap<String, Row>,
    connections: BTreeMap<String, Row>,
    background: BTreeMap<String, u64>,
    /// The first reason text seen for each close code.
    reasons: BTreeMap<u16, String>,
    sessions_opened: BTreeSet<String>,
    strays_ended: u64,
    findings: BTreeMap<String, u64>,
}

impl Tally {
    fn sent(&mut self, p: &Planned) {
        self.frames += 1;
        self.bytes += p.frame.len() as u64;
        let row = self.by_kind.entry(p.kind.clone()).or_default();
        row.sent += 1;
        row.mutated += u64::from(!p.mutations.is_empty());
        let names: Vec<&str> = if p.mutations.is_empty() { vec!["none (valid)"] } else { p.mutations.clone() };
        for m in names {
            self.by_mutation.entry(m.to_owned()).or_default().sent += 1;
        }
    }

    fn outcome(&mut self, kind: &str, mutations: &[&'static str], outcome: &str) {
        *self.by_kind.entry(kind.to_owned()).or_default().outcomes.entry(outcome.to_owned()).or_default() += 1;
        let names: Vec<&str> = if mutations.is_empty() { vec!["none (valid)"] } else { mutations.to_vec() };
        for m in names {
            *self.by_mutation.entry(m.to_owned()).or_default().outcomes.entry(outcome.to_owned()).or_default() += 1;
        }
    }

    fn connection(&mut self, plan: &str, outcome: &str) {
        let row = self.connections.entry(plan.to_owned()).or_default();
        row.sent += 1;
        *row.outcomes.entry(outcome.to_owned()).or_default() += 1;
    }

    fn merge(&mut self, other: Tally) {
        self.frames += other.frames;
        self.bytes += other.bytes;
        for (mine, theirs) in [(&mut self.by_kind, other.by_kind), (&mut self.by_mutation, other.by_mutation)]
            .into_iter()
            .chain([(&mut self.connections, other.connections)])
        {
            for (k, row) in theirs {
                let into = mine.entry(k).or_default();
                into.sent += row.sent;
                into.mutated += row.mutated;
                for (o, n) in row.outcomes {
                    *into.outcomes.entry(o).or_default() += n;
                }
            }
        }
        for (k, n) in other.background {
            *self.background.entry(k).or_default() += n;
        }
        for (k, n) in other.findings {
            *self.findings.entry(k).or_default() += n;
        }
        for (code, reason) in other.reasons {
            self.reasons.entry(code).or_insert(reason);
        }
        self.sessions_opened.extend(other.sessions_opened);
        self.strays_ended += other.strays_ended;
    }

    fn table(&self, took: Duration, seed: u64) -> String {
        let connections: u64 = self.connections.values().map(|r| r.sent).sum();
        let mut out = format!(
            "\nfuzz summary: {} frames ({:.1} MB) over {} connections in {:.0} s, seed {seed}\n",
            self.frames,
            self.bytes as f64 / 1e6,
            connections,
            took.as_secs_f64()
        );
        out += &format!("\n{:<26} {:>8} {:>8}  what came back (most often first)\n", "message kind", "sent", "mutated");
        for (kind, row) in &self.by_kind {
            out += &format!("{kind:<26} {:>8} {:>8}  {}\n", row.sent, row.mutated, row.summary());
        }
        out += &format!("\n{:<26} {:>8}  what came back\n", "mutation", "frames");
        for (m, row) in &self.by_mutation {
            out += &format!("{m:<26} {:>8}  {}\n", row.sent, row.summary());
        }
        out += &format!("\n{:<26} {:>8}  how it ended\n", "connection", "count");
        for (plan, row) in &self.connections {
            out += &format!("{plan:<26} {:>8}  {}\n", row.sent, row.summary());
        }
        out += "\nclose codes seen: ";
        out += &self.reasons.iter().map(|(c, r)| format!("{c} \"{r}\"")).collect::<Vec<_>>().join(", ");
        out += "\nunsolicited messages: ";
        out += &self.background.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ");
        out += &format!(
            "\nsessions opened by fuzzing headsets: {} ({} stray ones ended by the clients)\n",
            self.sessions_opened.len(),
            self.strays_ended
        );
        if !self.findings.is_empty() {
            out += "odd answers from the console: ";
            out += &self.findings.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ");
            out += "\n";
        }
        out
    }
}

// ---------------------------------------------------------------------------
// A client: one connection after another until the time is up.

async fn client(target: Arc<Target>, seed: u64, index: u32, deadline: Instant, shared: Arc<Mutex<Tally>>) {
    let mut rng = Rng(patient::Rng::new(seed));
    let mut ctx = Ctx::new(index);
    let mut tally = Tally::default();
    let mut silent = JoinSet::new();
    while Instant::now() < deadline {
        let endpoint = if rng.chance(50) { Endpoint::Headset } else { Endpoint::Browser };
        match rng.below(100) {
            0..40 => headset_connection(&target, &mut rng, &mut ctx, &mut tally, deadline).await,
            40..78 => browser_connection(&target, &mut rng, &mut ctx, &mut tally, deadline).await,
            78..80 => {
                // Silent peers wait 10 s to be dropped: beside the others, two at most.
                if silent.len() < 2 {
                    let target = target.clone();
                    silent.spawn_blocking(move || raw_silent(&target, endpoint));
                } else {
                    tally.connection("silent (skipped: two waiting)", "-");
                }
            }
            80..84 => ping_storm(&target, endpoint, &mut rng, &mut ctx, &mut tally).await,
            84..91 => abrupt(&target, endpoint, &mut rng, &mut ctx, &mut tally).await,
            91..95 => {
                let plan = handshake_plan(&mut rng);
                let target = target.clone();
                let outcome = tokio::task::spawn_blocking(move || raw_handshake(&target, endpoint, &plan))
                    .await
                    .unwrap_or_else(|e| ("raw handshake".into(), format!("task failed: {e}")));
                tally.connection(&outcome.0, &outcome.1);
            }
            _ => bad_handshake(&target, endpoint, &mut rng, &mut tally).await,
        }
    }
    let give_up = Instant::now() + Duration::from_secs(16);
    while !silent.is_empty() {
        match timeout(give_up.saturating_duration_since(Instant::now()), silent.join_next()).await {
            Ok(Some(Ok((plan, outcome)))) => tally.connection(&plan, &outcome),
            Ok(Some(Err(e))) => tally.connection("silent", &format!("task failed: {e}")),
            Ok(None) | Err(_) => break,
        }
    }
    silent.abort_all();
    if let Ok(mut shared) = shared.lock() {
        shared.merge(tally);
    }
}

/// An open fuzzing socket and what it learnt.
struct Conn {
    socket: Socket,
    closed: bool,
    /// The session the console welcomed this connection into.
    session: Option<String>,
    /// Commands sent and not yet answered: request id → kind, mutations.
    pending: HashMap<u64, (String, Vec<&'static str>)>,
}

impl Conn {
    /// Sends one planned frame and notes what came back within `window`
    /// (and 5 ms after the first answer, for a close that follows an error).
    async fn exchange(&mut self, p: &Planned, window: Duration, ctx: &mut Ctx, tally: &mut Tally) {
        tally.sent(p);
        if let Err(e) = self.socket.send(p.frame.message()).await {
            tally.outcome(&p.kind, &p.mutations, &short_error(&e));
            self.closed = true;
            return;
        }
        if let Some(id) = p.request_id {
            self.pending.insert(id, (p.kind.clone(), p.mutations.clone()));
        }
        let mut answers: Vec<String> = Vec::new();
        let end = Instant::now() + window;
        loop {
            let wait = if answers.is_empty() {
                end.saturating_duration_since(Instant::now())
            } else {
                Duration::from_millis(5)
            };
            let next = match timeout(wait, self.socket.next()).await {
                Err(_) => break,
                Ok(next) => next,
            };
            match next {
                None => {
                    answers.push("eof".into());
                    self.closed = true;
                }
                Some(Err(e)) => {
                    answers.push(short_error(&e));
                    self.closed = true;
                }
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.as_ref().map_or(1005, |f| u16::from(f.code));
                    let reason = frame.as_ref().map(|f| f.reason.to_string()).unwrap_or_default();
                    tally.reasons.entry(code).or_insert(reason);
                    answers.push(format!("close {code}"));
                    self.closed = true;
                }
                Some(Ok(Message::Text(text))) => {
                    if let Some(answer) = self.read(text.as_str(), p, ctx, tally) {
                        answers.push(answer);
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    *tally.findings.entry("binary frame from the console".into()).or_default() += 1;
                    answers.push("binary".into());
                }
                Some(Ok(_)) => *tally.background.entry("ws ping/pong".into()).or_default() += 1,
            }
            if self.closed {
                break;
            }
        }
        if answers.iter().any(|a| a.starts_with("error")) {
            // Refused whole: no command_result will come for it.
            if let Some(id) = p.request_id {
                self.pending.remove(&id);
            }
        }
        if answers.is_empty() && !p.request_id.is_some_and(|id| self.pending.contains_key(&id)) {
            answers.push("silent".into());
        }
        for answer in answers {
            tally.outcome(&p.kind, &p.mutations, &answer);
        }
    }

    /// A text message from the console: an answer to name, or `None` for
    /// one that comes by itself (pings, acks, pushes).
    fn read(&mut self, text: &str, p: &Planned, ctx: &mut Ctx, tally: &mut Tally) -> Option<String> {
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            *tally.findings.entry("text that is not JSON".into()).or_default() += 1;
            return Some("non-JSON text".into());
        };
        let kind = value["type"].as_str().unwrap_or("?").to_owned();
        let background = |tally: &mut Tally| *tally.background.entry(kind.clone()).or_default() += 1;
        match kind.as_str() {
            "welcome" => {
                let id = value["session_id"].as_str().unwrap_or_default().to_owned();
                if p.own_hello {
                    ctx.main_session = Some(id.clone());
                    ctx.resume_token = value["resume_token"].as_str().filter(|t| !t.is_empty()).map(str::to_owned);
                }
                ctx.remember(&id);
                tally.sessions_opened.insert(id.clone());
                self.session = Some(id);
                Some("welcome".into())
            }
            "error" => Some(format!("error {}", value["code"].as_str().unwrap_or("?"))),
            "ping" => {
                ctx.last_ping = (value["id"].as_u64().unwrap_or(0), value["console_us"].as_u64().unwrap_or(0));
                background(tally);
                None
            }
            "sessions" => {
                for s in value["sessions"].as_array().into_iter().flatten() {
                    if let Some(id) = s["session_id"].as_str() {
                        ctx.remember(id);
                    }
                }
                if p.kind == "list_sessions" {
                    Some("sessions".into())
                } else {
                    background(tally);
                    None
                }
            }
            "command_result" => {
                let code = value["code"].as_str().unwrap_or(if value["ok"] == true { "ok" } else { "failed" });
                let answer = format!("command_result {code}");
                let request = value["request_id"].as_u64().unwrap_or(0);
                match self.pending.remove(&request) {
                    // Attributed to the command it answers, however late.
                    Some((kind, mutations)) if Some(request) != p.request_id => {
                        tally.outcome(&kind, &mutations, &answer);
                        None
                    }
                    Some(_) => Some(answer),
                    None => {
                        *tally.background.entry("command_result for a mutated request_id".into()).or_default() += 1;
                        None
                    }
                }
            }
            "recordings" | "replay_status" => Some(kind.clone()),
            "ack" | "telemetry" | "events" | "dropped" | "command" => {
                background(tally);
                None
            }
            _ => {
                *tally.findings.entry(format!("unknown message type {kind}")).or_default() += 1;
                Some(format!("unknown {kind}"))
            }
        }
    }

    /// Closes with a close frame, reading until the console's answer.
    async fn close(mut self, tally: &mut Tally) {
        for (_, (kind, mutations)) in self.pending.drain() {
            tally.outcome(&kind, &mutations, "no command_result while connected");
        }
        if self.closed {
            return;
        }
        let _ = self.socket.close(None).await;
        let _ = timeout(Duration::from_secs(1), async { while self.socket.next().await.is_some() {} }).await;
    }
}

fn short_error(e: &WsError) -> String {
    let text = match e {
        WsError::Io(io) => format!("io error: {:?}", io.kind()),
        WsError::Protocol(p) => format!("protocol error: {p}"),
        other => format!("socket error: {other}"),
    };
    text.chars().take(60).collect()
}

async fn open(target: &Target, endpoint: Endpoint, tally: &mut Tally, plan: &str) -> Option<Socket> {
    let token = match endpoint {
        Endpoint::Headset => &target.headset_token,
        Endpoint::Browser => &target.therapist_token,
    };
    match console_proc::connect(&target.addr, endpoint, token, true).await {
        Ok(socket) => Some(socket),
        Err(e) => {
            tally.connection(
                plan,
                &format!("could not connect: {}", e.to_string().chars().take(50).collect::<String>()),
            );
            None
        }
    }
}

/// A headset socket: mostly a valid hello first, then 5 to 120 frames of
/// headset kinds, 70 % of them mutated, and sometimes a last frame the
/// console must close the connection for.
async fn headset_connection(target: &Target, rng: &mut Rng, ctx: &mut Ctx, tally: &mut Tally, deadline: Instant) {
    ctx.headset_connections += 1;
    let rotate = ctx.headset_connections.is_multiple_of(40);
    let first = match rng.below(100) {
        0..78 => plan(Kind::Hello, 0, false, rng, ctx),
        78..93 => plan(Kind::Hello, 100, false, rng, ctx),
        _ => {
            let kind = Kind::headset(rng);
            plan(kind, 50, false, rng, ctx)
        }
    };
    let n = rng.range(5, 120);
    let mut frames = vec![first];
    for _ in 0..n {
        let kind = Kind::headset(rng);
        frames.push(plan(kind, 70, false, rng, ctx));
    }
    // Four in ten connections end with a frame the console closes them for.
    if rng.chance(40) {
        let kind = Kind::headset(rng);
        frames.push(plan(kind, 100, true, rng, ctx));
    }
    let Some(socket) = open(target, Endpoint::Headset, tally, "headset").await else { return };
    let mut conn = Conn { socket, closed: false, session: None, pending: HashMap::new() };
    for (i, frame) in frames.iter().enumerate() {
        if Instant::now() >= deadline || conn.closed {
            break;
        }
        let window = if i == 0 { Duration::from_secs(2) } else { WINDOW };
        conn.exchange(frame, window, ctx, tally).await;
    }
    // A session this connection opened by accident (a mutated hello that
    // still parsed) is ended, so its recording closes when the socket does.
    let stray = conn.session.is_some() && conn.session != ctx.main_session;
    if !conn.closed && (stray || (rotate && conn.session.is_some())) {
        let end = json!({
            "type": "events",
            "seq": 1u64 << 62,
            "events": [{ "seq": 0, "at_us": 0, "type": "state_changed", "from": "running", "to": "ended", "by": "therapist" }]
        });
        if conn.socket.send(Message::text(end.to_string())).await.is_ok() {
            tally.strays_ended += 1;
        }
    }
    if rotate {
        ctx.generation += 1;
        ctx.main_session = None;
        ctx.resume_token = None;
        ctx.seq = 0;
    }
    let how = if conn.closed { "closed by the console" } else { "closed by the client" };
    tally.connection("headset", how);
    conn.close(tally).await;
}

/// A browser socket: 5 to 120 frames of browser kinds, 70 % mutated, and
/// sometimes a last frame the console must close the connection for.
async fn browser_connection(target: &Target, rng: &mut Rng, ctx: &mut Ctx, tally: &mut Tally, deadline: Instant) {
    let n = rng.range(5, 120);
    let mut frames: Vec<Planned> = (0..n)
        .map(|_| {
            let kind = Kind::browser(rng);
            plan(kind, 70, false, rng, ctx)
        })
        .collect();
    if rng.chance(40) {
        let kind = Kind::browser(rng);
        frames.push(plan(kind, 100, true, rng, ctx));
    }
    let Some(socket) = open(target, Endpoint::Browser, tally, "browser").await else { return };
    let mut conn = Conn { socket, closed: false, session: None, pending: HashMap::new() };
    for frame in &frames {
        if Instant::now() >= deadline || conn.closed {
            break;
        }
        conn.exchange(frame, WINDOW, ctx, tally).await;
    }
    // Commands still in flight get up to a second for their result.
    let wait = Instant::now() + Duration::from_secs(1);
    while !conn.closed && !conn.pending.is_empty() && Instant::now() < wait {
        match timeout(Duration::from_millis(100), conn.socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let idle = Planned {
                    kind: String::new(),
                    mutations: Vec::new(),
                    frame: Frame::Text(String::new()),
                    request_id: None,
                    own_hello: false,
                };
                let _ = conn.read(text.as_str(), &idle, ctx, tally);
            }
            Ok(None | Some(Err(_))) => conn.closed = true,
            _ => {}
        }
    }
    let how = if conn.closed { "closed by the console" } else { "closed by the client" };
    tally.connection("browser", how);
    conn.close(tally).await;
}

/// 200 to 2000 WebSocket pings at once, then a message that must still be
/// answered.
async fn ping_storm(target: &Target, endpoint: Endpoint, rng: &mut Rng, ctx: &mut Ctx, tally: &mut Tally) {
    let plan_name = format!("ping storm/{}", endpoint.name());
    let count = rng.range(200, 2000);
    let payloads: Vec<Vec<u8>> = (0..count)
        .map(|_| {
            let (salt, n) = (rng.next() as u8, rng.range(0, 125));
            (0..n).map(|i| (i as u8) ^ salt).collect()
        })
        .collect();
    let hello = plan(Kind::Hello, 0, false, rng, ctx);
    let Some(mut socket) = open(target, endpoint, tally, &plan_name).await else { return };
    if endpoint == Endpoint::Headset && socket.send(hello.frame.message()).await.is_err() {
        tally.connection(&plan_name, "hello not sent");
        return;
    }
    for payload in payloads {
        if socket.feed(Message::Ping(payload.into())).await.is_err() {
            break;
        }
    }
    let probe = match endpoint {
        Endpoint::Headset => hello.frame.message(),
        Endpoint::Browser => Message::text(r#"{"type":"list_sessions"}"#),
    };
    let _ = socket.send(probe).await;
    let mut pongs = 0u64;
    let mut alive = false;
    let mut ended = None;
    let _ = timeout(Duration::from_secs(3), async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Pong(_)) => pongs += 1,
                // The probe's answer: the session list, or "hello was already received".
                Ok(Message::Text(text))
                    if text.contains("\"sessions\"") && endpoint == Endpoint::Browser
                        || text.contains("out_of_order") && endpoint == Endpoint::Headset =>
                {
                    alive = true;
                }
                Ok(Message::Close(frame)) => {
                    ended = Some(format!("close {}", frame.map_or(1005, |f| u16::from(f.code))));
                }
                Err(e) => ended = Some(short_error(&e)),
                _ => {}
            }
            if alive && pongs >= count || ended.is_some() {
                break;
            }
        }
    })
    .await;
    let outcome = match (ended, alive) {
        (Some(end), _) => end,
        (None, true) if pongs == count => "answered, every ping ponged".into(),
        (None, true) => "answered, some pings ponged".into(),
        (None, false) => "no answer to the probe in 3 s".into(),
    };
    tally.connection(&plan_name, &outcome);
    let _ = socket.close(None).await;
}

/// Frames, then the TCP connection dropped without a close; or a broken
/// WebSocket frame on a raw socket.
async fn abrupt(target: &Target, endpoint: Endpoint, rng: &mut Rng, ctx: &mut Ctx, tally: &mut Tally) {
    let variant = rng.below(10);
    if variant >= 4 {
        let frame = raw_frame_plan(rng);
        let target_addr = target.addr.clone();
        let token = token(target, endpoint).to_owned();
        let (name, outcome) = tokio::task::spawn_blocking(move || raw_bad_frame(&target_addr, endpoint, &token, frame))
            .await
            .unwrap_or_else(|e| ("raw frame".into(), format!("task failed: {e}")));
        tally.connection(&name, &outcome);
        return;
    }
    let n = rng.range(0, 20);
    let mut frames = Vec::new();
    if endpoint == Endpoint::Headset {
        frames.push(plan(Kind::Hello, 0, false, rng, ctx));
    }
    for _ in 0..n {
        let kind = if endpoint == Endpoint::Headset { Kind::headset(rng) } else { Kind::browser(rng) };
        frames.push(plan(kind, 0, false, rng, ctx));
    }
    let name = format!("dropped without close/{}", endpoint.name());
    let Some(mut socket) = open(target, endpoint, tally, &name).await else { return };
    for frame in &frames {
        tally.sent(frame);
        if socket.send(frame.frame.message()).await.is_err() {
            break;
        }
    }
    // Dropping the stream closes the TCP connection with no close frame.
    drop(socket);
    tally.connection(&name, "dropped");
}

fn token(target: &Target, endpoint: Endpoint) -> &str {
    match endpoint {
        Endpoint::Headset => &target.headset_token,
        Endpoint::Browser => &target.therapist_token,
    }
}

/// Handshakes the console must refuse: their HTTP status.
async fn bad_handshake(target: &Target, endpoint: Endpoint, rng: &mut Rng, tally: &mut Tally) {
    let (what, path, token, subprotocol, origin) = match rng.below(6) {
        0 => ("wrong token", endpoint.path(), "not-the-token", Some(protocol::SUBPROTOCOL), None),
        1 => ("no token", endpoint.path(), "", Some(protocol::SUBPROTOCOL), None),
        2 => ("no subprotocol", endpoint.path(), token(target, endpoint), None, None),
        3 => ("subprotocol trinvis.v2", endpoint.path(), token(target, endpoint), Some("trinvis.v2"), None),
        4 => (
            "foreign origin",
            Endpoint::Browser.path(),
            target.therapist_token.as_str(),
            Some(protocol::SUBPROTOCOL),
            Some("http://evil.example"),
        ),
        _ => ("unknown path", "/ws/nothing", token(target, endpoint), Some(protocol::SUBPROTOCOL), None),
    };
    let name = format!("refused handshake/{what}");
    let Ok(mut request) = format!("ws://{}{path}?token={token}", target.addr).into_client_request() else {
        tally.connection(&name, "bad request");
        return;
    };
    if let Some(p) = subprotocol {
        request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(p));
    }
    if let Some(o) = origin {
        request.headers_mut().insert("Origin", HeaderValue::from_static(o));
    }
    let outcome = match timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(request)).await {
        Err(_) => "no answer in 5 s".to_owned(),
        Ok(Ok((mut socket, _))) => {
            let _ = socket.close(None).await;
            "ACCEPTED".to_owned()
        }
        Ok(Err(WsError::Http(response))) => format!("http {}", response.status().as_u16()),
        Ok(Err(e)) => short_error(&e),
    };
    if outcome == "ACCEPTED" {
        *tally.findings.entry(format!("handshake accepted: {what}")).or_default() += 1;
    }
    tally.connection(&name, &outcome);
}

// ---------------------------------------------------------------------------
// Raw sockets: what a WebSocket library will not send.

/// The upgrade request for `endpoint`, as a client would write it.
fn upgrade_request(addr: &str, endpoint: Endpoint, token: &str) -> String {
    format!(
        "GET {}?token={token} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: trinvis.v1\r\n\r\n",
        endpoint.path()
    )
}

/// Opens a WebSocket by hand; returns the stream and what came after the
/// response's head.
fn raw_open(addr: &str, endpoint: Endpoint, token: &str) -> Result<(TcpStream, Vec<u8>), String> {
    let socket_addr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let mut stream = TcpStream::connect_timeout(&socket_addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_millis(500))).map_err(|e| e.to_string())?;
    stream.write_all(upgrade_request(addr, endpoint, token).as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let started = Instant::now();
    let mut chunk = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(5) {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            if !head.starts_with("HTTP/1.1 101") {
                return Err(format!("http {}", head.split_whitespace().nth(1).unwrap_or("?")));
            }
            let rest = buf.split_off(end + 4);
            return Ok((stream, rest));
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err("closed during the handshake".into()),
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("no handshake answer in 5 s".into())
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

/// A client frame: `b0` is FIN, RSV and opcode; `claimed` a length that
/// need not match the payload.
fn raw_frame(b0: u8, payload: &[u8], claimed: Option<u64>, masked: bool) -> Vec<u8> {
    let len = claimed.unwrap_or(payload.len() as u64);
    let mask = if masked { 0x80 } else { 0 };
    let mut out = vec![b0];
    if len < 126 {
        out.push(mask | len as u8);
    } else if len <= 0xFFFF {
        out.push(mask | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    if masked {
        let key = [0x37u8, 0xfa, 0x21, 0x3d];
        out.extend_from_slice(&key);
        out.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// Reads the console's frames until a close, the end, or `limit`.
/// Returns how it ended and how many pings came.
fn raw_watch(stream: &mut TcpStream, mut buf: Vec<u8>, limit: Duration) -> (String, u32) {
    let started = Instant::now();
    let mut pings = 0;
    let mut chunk = [0u8; 8192];
    loop {
        // Every whole frame in the buffer.
        while let Some((opcode, payload, used)) = parse_frame(&buf) {
            if opcode == 0x8 {
                let code = payload.get(..2).map_or(1005, |c| u16::from_be_bytes([c[0], c[1]]));
                return (format!("close {code}"), pings);
            }
            if opcode == 0x9 {
                pings += 1;
            }
            buf.drain(..used);
        }
        if started.elapsed() >= limit {
            return ("still open".into(), pings);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return ("eof".into(), pings),
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return (format!("io error: {:?}", e.kind()), pings),
        }
    }
}

/// One server frame (unmasked) from the front of `buf`: opcode, payload,
/// bytes used.
fn parse_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let b0 = *buf.first()?;
    let b1 = *buf.get(1)?;
    let (len, head) = match b1 & 0x7F {
        126 => (u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])), 4),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let end = head + usize::try_from(len).ok()?;
    Some((b0 & 0x0F, buf.get(head..end)?.to_vec(), end))
}

/// Connects and says nothing: a headset must be closed for no hello, a
/// browser that answers no ping for no sign of life.
fn raw_silent(target: &Target, endpoint: Endpoint) -> (String, String) {
    let name = format!("silent/{}", endpoint.name());
    let started = Instant::now();
    match raw_open(&target.addr, endpoint, token(target, endpoint)) {
        Err(e) => (name, format!("could not connect: {e}")),
        Ok((mut stream, rest)) => {
            let (how, _pings) = raw_watch(&mut stream, rest, Duration::from_secs(15));
            (name, format!("{how} after {} s", started.elapsed().as_secs()))
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum BadFrame {
    Unmasked,
    ReservedOpcode,
    RsvBits,
    FragmentedPing,
    ContinuationFirst,
    LongPing,
    BadCloseCode,
    CutShort,
    HugeLength,
}

fn raw_frame_plan(rng: &mut Rng) -> BadFrame {
    rng.pick(&[
        BadFrame::Unmasked,
        BadFrame::ReservedOpcode,
        BadFrame::RsvBits,
        BadFrame::FragmentedPing,
        BadFrame::ContinuationFirst,
        BadFrame::LongPing,
        BadFrame::BadCloseCode,
        BadFrame::CutShort,
        BadFrame::HugeLength,
    ])
    .unwrap_or(BadFrame::Unmasked)
}

/// A frame against the WebSocket rules; the console should close (1002) or
/// drop the connection, and never stall.
fn raw_bad_frame(addr: &str, endpoint: Endpoint, token: &str, frame: BadFrame) -> (String, String) {
    let name = format!("raw frame/{frame:?}");
    let Ok((mut stream, rest)) = raw_open(addr, endpoint, token) else {
        return (name, "could not connect".into());
    };
    let list = br#"{"type":"list_sessions"}"#;
    let bytes = match frame {
        BadFrame::Unmasked => raw_frame(0x81, list, None, false),
        BadFrame::ReservedOpcode => raw_frame(0x83, list, None, true),
        BadFrame::RsvBits => raw_frame(0xC1, list, None, true),
        BadFrame::FragmentedPing => raw_frame(0x09, b"ping", None, true),
        BadFrame::ContinuationFirst => raw_frame(0x80, list, None, true),
        BadFrame::LongPing => raw_frame(0x89, &[7u8; 126], None, true),
        BadFrame::BadCloseCode => raw_frame(0x88, &999u16.to_be_bytes(), None, true),
        // Announces 1000 bytes, sends 10, then hangs up.
        BadFrame::CutShort => raw_frame(0x81, &list[..10], Some(1000), true),
        BadFrame::HugeLength => raw_frame(0x81, list, Some(1 << 40), true),
    };
    if stream.write_all(&bytes).is_err() {
        return (name, "write failed".into());
    }
    if matches!(frame, BadFrame::CutShort) {
        return (name, "dropped mid-frame".into());
    }
    let (how, _) = raw_watch(&mut stream, rest, Duration::from_secs(3));
    (name, how)
}

#[derive(Clone, Debug)]
enum Handshake {
    /// The upgrade request in small pieces with pauses, stopped at `stop` bytes.
    Slow {
        pieces: Vec<(usize, u64)>,
        stop: usize,
    },
    /// The whole request slowly: it must still open.
    SlowComplete {
        pieces: Vec<(usize, u64)>,
    },
    Garbage(Vec<u8>),
    HugeHeader(usize),
}

fn handshake_plan(rng: &mut Rng) -> Handshake {
    let pieces = |rng: &mut Rng| (0..40).map(|_| (rng.below(20) + 1, rng.range(20, 120))).collect::<Vec<_>>();
    match rng.below(4) {
        0 => {
            let p = pieces(rng);
            Handshake::Slow { stop: rng.range(1, 300) as usize, pieces: p }
        }
        1 => Handshake::SlowComplete { pieces: pieces(rng) },
        2 => Handshake::Garbage((0..rng.range(1, 2000)).map(|_| rng.next() as u8).collect()),
        _ => Handshake::HugeHeader(rng.range(10_000, 1_000_000) as usize),
    }
}

/// Raw HTTP: a slow, partial, garbled or oversized upgrade request.
fn raw_handshake(target: &Target, endpoint: Endpoint, plan: &Handshake) -> (String, String) {
    let request = upgrade_request(&target.addr, endpoint, token(target, endpoint)).into_bytes();
    let (name, bytes, pieces, stop) = match plan {
        Handshake::Slow { pieces, stop } => {
            // Always short of the end: the request never completes.
            let stop = (*stop).min(request.len().saturating_sub(1));
            ("slow partial upgrade", request.clone(), pieces.clone(), stop)
        }
        Handshake::SlowComplete { pieces } => ("slow whole upgrade", request.clone(), pieces.clone(), usize::MAX),
        Handshake::Garbage(bytes) => ("garbage request", bytes.clone(), Vec::new(), usize::MAX),
        Handshake::HugeHeader(n) => {
            let huge =
                format!("GET /ws/headset HTTP/1.1\r\nHost: {}\r\nX-Fuzz: {}\r\n\r\n", target.addr, "h".repeat(*n));
            ("huge header", huge.into_bytes(), Vec::new(), usize::MAX)
        }
    };
    let name = format!("raw http/{name}");
    let Ok(addr) = target.addr.parse() else { return (name, "bad address".into()) };
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
        return (name, "could not connect".into());
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let limit = bytes.len().min(stop);
    let mut at = 0;
    let mut pieces = pieces.into_iter().cycle();
    let started = Instant::now();
    while at < limit && started.elapsed() < Duration::from_secs(6) {
        let (size, pause) = if matches!(plan, Handshake::Slow { .. } | Handshake::SlowComplete { .. }) {
            pieces.next().unwrap_or((limit, 0))
        } else {
            (limit, 0)
        };
        let end = (at + size).min(limit);
        if stream.write_all(bytes.get(at..end).unwrap_or_default()).is_err() {
            return (name, "closed while writing".into());
        }
        at = end;
        std::thread::sleep(Duration::from_millis(pause));
    }
    // What the console says now, within 2 s.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    let waited = Instant::now();
    let how = loop {
        if let Some(line_end) = answer.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(answer.get(..line_end).unwrap_or_default()).into_owned();
            break match line.split_whitespace().nth(1) {
                Some(status) => format!("http {status}"),
                None => "not HTTP".into(),
            };
        }
        if waited.elapsed() > Duration::from_secs(2) {
            break if at < bytes.len() { "waiting (dropped by the client)".into() } else { "no answer".into() };
        }
        match stream.read(&mut chunk) {
            Ok(0) => break "closed".into(),
            Ok(n) => answer.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if is_timeout(&e) => {}
            Err(e) => break format!("io error: {:?}", e.kind()),
        }
    };
    (name, how)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a client would send, without a console: 300 planned frames.
    fn frames(seed: u64) -> Vec<(String, Vec<&'static str>, Frame)> {
        let mut rng = Rng(patient::Rng::new(seed));
        let mut ctx = Ctx::new(0);
        (0..300)
            .map(|i| {
                let kind = if i % 2 == 0 { Kind::headset(&mut rng) } else { Kind::browser(&mut rng) };
                let p = plan(kind, 70, i % 10 == 9, &mut rng, &mut ctx);
                (p.kind, p.mutations, p.frame)
            })
            .collect()
    }

    #[test]
    fn a_seed_means_the_same_frames() {
        assert_eq!(frames(7), frames(7));
        assert_ne!(frames(7), frames(8));
    }

    #[test]
    fn every_kind_and_mutation_comes_up() {
        let all: Vec<_> = (1..=4).flat_map(frames).collect();
        let kinds: BTreeSet<&str> = all.iter().map(|(k, _, _)| k.as_str()).collect();
        assert!(kinds.len() >= 5 + 5 + COMMANDS.len(), "{kinds:?}");
        let mutations: BTreeSet<&str> = all.iter().flat_map(|(_, m, _)| m.iter().copied()).collect();
        for (m, _) in MUTATIONS {
            assert!(mutations.contains(m), "{m} never drawn");
        }
        for m in FATAL {
            assert!(mutations.contains(m), "{m} never drawn");
        }
    }

    #[test]
    fn duplicate_keys_and_deep_nesting_reach_the_text() {
        let mut rng = Rng(patient::Rng::new(3));
        let mut raw = Raw::default();
        let mut value = json!({ "type": "list_sessions" });
        mutate_value(&mut value, "duplicate_key", &mut rng, &mut raw, false);
        let text = raw.apply(value.to_string());
        assert_eq!(text.matches("\"type\":").count(), 2, "{text}");

        let mut raw = Raw::default();
        let mut value = json!({ "type": "subscribe", "session_id": "s1" });
        mutate_value(&mut value, "deep_nesting", &mut rng, &mut raw, false);
        let text = raw.apply(value.to_string());
        assert!(text.contains("[[[[") || text.contains("{\"a\":{\"a\":"), "{text}");
        assert!(!text.contains('\u{1}'), "every marker was replaced: {text}");
    }
}
