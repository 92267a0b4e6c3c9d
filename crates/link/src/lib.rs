//! The headset's side of the live link: a WebSocket client to the console
//! that never blocks its caller (the render loop or the simulator).
//!
//! The caller pushes telemetry samples, session events and command results
//! into a bounded queue and polls for commands; a task on its own thread (or
//! on a runtime the caller owns) batches, numbers and sends them. Every
//! numbered message stays in a resend buffer until the console acknowledges
//! it, so a cut link loses nothing: after a reconnect (with backoff) the
//! headset says `hello` with its session id and resends what the console
//! does not have.
//!
//! ```no_run
//! use link::{Clock, Link, LinkConfig};
//! # fn scenario_ref() -> protocol::ScenarioRef { unimplemented!() }
//! let clock = Clock::new();
//! let config = LinkConfig::new("ws://127.0.0.1:7450", "TOKEN", "quest-3-lab-2", "P-0042", scenario_ref(), clock.clone());
//! let mut link = Link::start(config);
//! while let Some(command) = link.poll_command() {
//!     link.ack_command(command.id, Ok(()));
//! }
//! ```
//!
//! Architecture invariant: no call on [`Link`] waits on the network; when
//! the queue is full, telemetry is dropped and counted, never the caller
//! held up.

mod bridge;
mod client;
mod convert;
pub mod pair;
pub mod tls;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::{CommandMessage, Sample, ScenarioRef, SessionEvent, StepInfo};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

pub use bridge::Bridge;
pub use convert::{command_from_wire, event_to_wire, state_to_wire};

/// The headset's monotonic clock, in microseconds from an arbitrary start.
/// Telemetry's `t_us`, pongs and the session epoch all use it.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock starting now (at 1 s, so no reading is ever 0).
    pub fn new() -> Clock {
        Clock { start: Instant::now() }
    }

    /// Microseconds since the clock started, plus one second.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX).saturating_add(1_000_000)
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

/// Identifies a scenario file for `hello`: its id, version and the SHA-256
/// of its text.
pub fn scenario_ref(scenario: &scenario::Scenario, text: &str) -> ScenarioRef {
    let digest = Sha256::digest(text.as_bytes());
    ScenarioRef {
        id: scenario.id.clone(),
        version: scenario.version.clone(),
        sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// How to reach the console and who this headset is.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// The console's base address, `ws://host:port` (or `http://`).
    pub console: String,
    /// The headset token the console printed, or this headset's own
    /// credential from pairing.
    pub token: String,
    /// For `wss://`: the SHA-256 fingerprint of the console's certificate
    /// (`AB:CD:…`, see [`tls::normalise_fingerprint`]); a console showing
    /// another is refused for good ([`LinkInfo::refused`]). `None` takes any.
    pub fingerprint: Option<String>,
    /// This headset.
    pub headset_id: String,
    /// App name and version.
    pub app: String,
    /// Pseudonymous patient code.
    pub patient_code: String,
    /// The scenario.
    pub scenario: ScenarioRef,
    /// The scenario's steps, sent in `hello` so the console can label its
    /// dial; empty by default.
    pub steps: Vec<StepInfo>,
    /// The headset clock.
    pub clock: Clock,
    /// Headset clock at session time 0.
    pub session_epoch_us: u64,
    /// Samples per telemetry message (also sent every 100 ms).
    pub batch_samples: usize,
    /// Most messages kept for resending; past it the oldest are lost (and
    /// the console records the gap). The default holds 30 minutes at 90 Hz.
    pub resend_capacity: usize,
    /// Items the caller may queue before samples are dropped.
    pub queue_capacity: usize,
    /// First wait before reconnecting; it doubles up to `reconnect_max`.
    pub reconnect_min: Duration,
    /// Longest wait before reconnecting.
    pub reconnect_max: Duration,
    /// A console silent this long (it pings every 2 s) is taken as gone,
    /// even when the network never said so: the connection is dropped and
    /// the session engine hears that the link is lost.
    pub silence_timeout: Duration,
    /// This headset renders and can send mirror frames ([`Link::mirror`]);
    /// said in `hello`. False by default (a headless headset has no picture).
    pub mirror: bool,
}

impl LinkConfig {
    /// Defaults for a headset at 90 Hz.
    pub fn new(
        console: &str,
        token: &str,
        headset_id: &str,
        patient_code: &str,
        scenario: ScenarioRef,
        clock: Clock,
    ) -> LinkConfig {
        LinkConfig {
            console: console.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            fingerprint: None,
            headset_id: headset_id.to_owned(),
            app: concat!("trinvis-link ", env!("CARGO_PKG_VERSION")).to_owned(),
            patient_code: patient_code.to_owned(),
            scenario,
            steps: Vec::new(),
            session_epoch_us: clock.now_us(),
            clock,
            batch_samples: 9,
            resend_capacity: 20_000,
            queue_capacity: 8_192,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(2),
            silence_timeout: Duration::from_secs(6),
            mirror: false,
        }
    }
}

/// What the caller hands the link.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Sample(Box<Sample>),
    Events(Vec<SessionEvent>),
    Ack { id: u64, result: Result<(), String> },
}

/// Counters and state shared with the task.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub connected: AtomicBool,
    pub session_id: Mutex<Option<String>>,
    pub acked: AtomicU64,
    pub sent_seq: AtomicU64,
    pub unacked: AtomicU64,
    pub reconnects: AtomicU64,
    pub dropped_samples: AtomicU64,
    pub lost_messages: AtomicU64,
    pub rtt_us: AtomicU64,
    pub offset_us: AtomicI64,
    pub has_clock: AtomicBool,
    pub refused: Mutex<Option<String>>,
    pub unauthorised: AtomicBool,
    /// The mirror rate the console asked for on this connection (0: none).
    pub mirror_fps: AtomicU8,
    pub mirror: Arc<MirrorSlot>,
}

/// The newest mirror frame waiting to be sent: one at most, each new frame
/// replacing the last (latest wins), so a slow network never builds a queue.
#[derive(Debug, Default)]
pub(crate) struct MirrorSlot {
    frame: Mutex<Option<Vec<u8>>>,
    ready: tokio::sync::Notify,
    replaced: AtomicU64,
    sent: AtomicU64,
}

impl MirrorSlot {
    pub(crate) fn take(&self) -> Option<Vec<u8>> {
        self.frame.lock().ok().and_then(|mut f| f.take())
    }

    pub(crate) async fn ready(&self) {
        self.ready.notified().await;
    }

    pub(crate) fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }
}

/// Hands mirror frames to the link from any thread (the headset's encoder).
#[derive(Clone, Debug)]
pub struct MirrorSender {
    slot: Arc<MirrorSlot>,
    shared: Arc<Shared>,
}

impl MirrorSender {
    /// Offers a frame (a whole binary message, see
    /// [`protocol::mirror::FrameHeader::encode`]): it replaces one still
    /// waiting, and is not sent at all when the console asked for none.
    pub fn send(&self, frame: Vec<u8>) {
        if self.shared.mirror_fps.load(Ordering::Relaxed) == 0 || !self.shared.connected.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut waiting) = self.slot.frame.lock()
            && waiting.replace(frame).is_some()
        {
            self.slot.replaced.fetch_add(1, Ordering::Relaxed);
        }
        self.slot.ready.notify_one();
    }

    /// The rate the console asks for now, frames a second (0: send none).
    pub fn fps(&self) -> u8 {
        self.shared.mirror_fps.load(Ordering::Relaxed)
    }
}

/// A snapshot of the link, for the headset's status display and telemetry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// Connected and welcomed.
    pub connected: bool,
    /// The console's session id, once welcomed.
    pub session_id: Option<String>,
    /// Highest sequence number the console acknowledged.
    pub acked: u64,
    /// Highest sequence number given out.
    pub sent_seq: u64,
    /// Messages waiting for acknowledgement.
    pub unacked: u64,
    /// Connections after the first.
    pub reconnects: u64,
    /// Samples dropped because the caller's queue was full.
    pub dropped_samples: u64,
    /// Messages dropped from a full resend buffer.
    pub lost_messages: u64,
    /// Round-trip time the console measured, µs.
    pub rtt_us: Option<u64>,
    /// `headset clock - console clock` as the console estimated it, µs.
    pub offset_us: Option<i64>,
    /// Why the link gave up for good: the console's certificate was not the
    /// pinned one. The link no longer tries; the session goes on offline.
    pub refused: Option<String>,
    /// The console refused the token or credential (401) at the last
    /// attempt: revoked, or never known there. The link keeps trying.
    pub unauthorised: bool,
    /// Mirror frames sent, and replaced by a newer one before they could be.
    pub mirror_sent: u64,
    /// Mirror frames replaced while waiting (the network was slower than the rate).
    pub mirror_replaced: u64,
}

/// The headset's link to the console.
#[derive(Debug)]
pub struct Link {
    outgoing: mpsc::Sender<Outgoing>,
    commands: mpsc::UnboundedReceiver<CommandMessage>,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Link {
    /// Starts the link on a thread of its own.
    pub fn start(config: LinkConfig) -> Link {
        let (mut link, task) = Link::parts(config);
        link.thread = std::thread::Builder::new()
            .name("trinvis-link".into())
            .spawn(move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime.block_on(task),
                Err(e) => tracing::error!("the link cannot start its runtime: {e}"),
            })
            .ok();
        link
    }

    /// Starts the link as a task on the caller's runtime.
    pub fn start_on(runtime: &tokio::runtime::Handle, config: LinkConfig) -> Link {
        let (link, task) = Link::parts(config);
        runtime.spawn(task);
        link
    }

    fn parts(config: LinkConfig) -> (Link, impl Future<Output = ()> + Send + 'static) {
        let (outgoing, outgoing_rx) = mpsc::channel(config.queue_capacity.max(1));
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let task = client::run(config, outgoing_rx, commands_tx, shared.clone());
        (Link { outgoing, commands, shared, thread: None }, task)
    }

    /// Queues a telemetry sample; false (and counted) when the queue is full.
    pub fn push_sample(&self, sample: Sample) -> bool {
        let ok = self.outgoing.try_send(Outgoing::Sample(Box::new(sample))).is_ok();
        if !ok {
            self.shared.dropped_samples.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Queues session events. Events are never dropped: a full queue makes
    /// this wait until there is room, which only happens when the link task
    /// has stopped reading, i.e. after shutdown.
    pub fn push_events(&self, events: Vec<SessionEvent>) {
        if events.is_empty() {
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(item)) = self.outgoing.try_send(Outgoing::Events(events)) {
            // Queue full of samples: make room rather than lose an event.
            let _ = self.outgoing.blocking_send_or_drop(item);
        }
    }

    /// Reports what became of command `id`.
    pub fn ack_command(&self, id: u64, result: Result<(), String>) {
        if let Err(mpsc::error::TrySendError::Full(item)) = self.outgoing.try_send(Outgoing::Ack { id, result }) {
            let _ = self.outgoing.blocking_send_or_drop(item);
        }
    }

    /// The next command from the console, if one arrived.
    pub fn poll_command(&mut self) -> Option<CommandMessage> {
        self.commands.try_recv().ok()
    }

    /// Whether the console is reachable now.
    pub fn connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// A snapshot of the link's state and counters.
    pub fn info(&self) -> LinkInfo {
        let s = &self.shared;
        let has_clock = s.has_clock.load(Ordering::Relaxed);
        LinkInfo {
            connected: s.connected.load(Ordering::Relaxed),
            session_id: s.session_id.lock().ok().and_then(|id| id.clone()),
            acked: s.acked.load(Ordering::Relaxed),
            sent_seq: s.sent_seq.load(Ordering::Relaxed),
            unacked: s.unacked.load(Ordering::Relaxed),
            reconnects: s.reconnects.load(Ordering::Relaxed),
            dropped_samples: s.dropped_samples.load(Ordering::Relaxed),
            lost_messages: s.lost_messages.load(Ordering::Relaxed),
            rtt_us: has_clock.then(|| s.rtt_us.load(Ordering::Relaxed)),
            offset_us: has_clock.then(|| s.offset_us.load(Ordering::Relaxed)),
            refused: s.refused.lock().ok().and_then(|r| r.clone()),
            unauthorised: s.unauthorised.load(Ordering::Relaxed),
            mirror_sent: s.mirror.sent.load(Ordering::Relaxed),
            mirror_replaced: s.mirror.replaced.load(Ordering::Relaxed),
        }
    }

    /// The mirror rate the console asks for now, frames a second; 0 when
    /// it asks for none, is not connected, or is too old to take frames.
    pub fn mirror_fps(&self) -> u8 {
        if self.connected() { self.shared.mirror_fps.load(Ordering::Relaxed) } else { 0 }
    }

    /// Where mirror frames go, for a thread that encodes them.
    pub fn mirror(&self) -> MirrorSender {
        MirrorSender { slot: self.shared.mirror.clone(), shared: self.shared.clone() }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Closing the queue tells the task to send what it has and stop.
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.outgoing, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sending that must not lose the item, used only when the queue is full.
trait SendOrDrop {
    fn blocking_send_or_drop(&self, item: Outgoing) -> Result<(), ()>;
}

impl SendOrDrop for mpsc::Sender<Outgoing> {
    fn blocking_send_or_drop(&self, item: Outgoing) -> Result<(), ()> {
        // Inside a runtime `blocking_send` would panic; there, spawn the send.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let tx = self.clone();
                handle.spawn(async move {
                    let _ = tx.send(item).await;
                });
                Ok(())
            }
            Err(_) => self.blocking_send(item).map_err(|_| ()),
        }
    }
}
