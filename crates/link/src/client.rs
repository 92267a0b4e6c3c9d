//! The link task: connect, hello, resend, then relay both ways until the
//! connection drops; reconnect with backoff; stop when the [`crate::Link`]
//! is dropped, after a last attempt to deliver what is buffered.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::{
    CommandAck, CommandMessage, ConsoleToHeadset, EventBatch, HeadsetToConsole, Hello, Pong, Sample, TelemetryBatch,
    decode, encode,
};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;

use crate::tls::{Seen, Socket};
use crate::{LinkConfig, Outgoing, Shared};

/// How long a connection attempt (TCP, WebSocket handshake, welcome) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Telemetry waits at most this long for a batch to fill.
const BATCH_INTERVAL: Duration = Duration::from_millis(100);
/// Most bytes of events in one message: a quarter of the console's limit.
const EVENT_BATCH_BYTES: usize = protocol::MAX_MESSAGE_BYTES / 4;
/// After the link is dropped, how long the task keeps trying to deliver.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(3);

/// Numbered messages not yet acknowledged, oldest first.
struct Buffer {
    items: VecDeque<(u64, String)>,
    next_seq: u64,
    capacity: usize,
}

impl Buffer {
    fn push(&mut self, shared: &Shared, make: impl FnOnce(u64) -> HeadsetToConsole) -> (u64, String) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let text = encode(&make(seq));
        self.items.push_back((seq, text.clone()));
        if self.items.len() > self.capacity {
            self.items.pop_front();
            shared.lost_messages.fetch_add(1, Ordering::Relaxed);
        }
        shared.sent_seq.store(seq, Ordering::Relaxed);
        shared.unacked.store(self.items.len() as u64, Ordering::Relaxed);
        (seq, text)
    }

    fn ack(&mut self, shared: &Shared, up_to: u64) {
        while self.items.front().is_some_and(|(seq, _)| *seq <= up_to) {
            self.items.pop_front();
        }
        shared.acked.fetch_max(up_to, Ordering::Relaxed);
        shared.unacked.store(self.items.len() as u64, Ordering::Relaxed);
    }

    fn oldest(&self) -> u64 {
        self.items.front().map_or(self.next_seq, |(seq, _)| *seq)
    }
}

struct Task {
    config: LinkConfig,
    outgoing: mpsc::Receiver<Outgoing>,
    commands: mpsc::UnboundedSender<CommandMessage>,
    shared: Arc<Shared>,
    buffer: Buffer,
    samples: Vec<Sample>,
    batch_due: Option<Instant>,
    session_id: Option<String>,
    /// The console's secret for resuming `session_id` (from `welcome`).
    resume_token: Option<String>,
    closing: bool,
    /// What the last TLS handshake showed of the console's certificate.
    seen: Arc<std::sync::Mutex<Seen>>,
}

pub(crate) async fn run(
    config: LinkConfig,
    outgoing: mpsc::Receiver<Outgoing>,
    commands: mpsc::UnboundedSender<CommandMessage>,
    shared: Arc<Shared>,
) {
    let buffer = Buffer { items: VecDeque::new(), next_seq: 1, capacity: config.resend_capacity.max(1) };
    let mut task = Task {
        config,
        outgoing,
        commands,
        shared,
        buffer,
        samples: Vec::new(),
        batch_due: None,
        session_id: None,
        resume_token: None,
        closing: false,
        seen: Arc::default(),
    };
    if crate::pair::normalise_console(&task.config.console).starts_with("wss://") && task.config.fingerprint.is_none() {
        tracing::warn!("link: no pinned certificate fingerprint: any console certificate is taken");
    }
    let mut backoff = task.config.reconnect_min;
    let mut first = true;
    let mut drain_deadline: Option<Instant> = None;
    let mut last_failure: Option<String> = None;
    loop {
        if task.closing {
            let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN_TIMEOUT);
            task.flush_batch();
            if task.buffer.items.is_empty() || Instant::now() >= deadline {
                return;
            }
        }
        match task.connect().await {
            Ok(mut socket) => {
                if !first {
                    task.shared.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                first = false;
                backoff = task.config.reconnect_min;
                if last_failure.take().is_some() {
                    tracing::info!("link: connected to the console again");
                }
                task.shared.unauthorised.store(false, Ordering::Relaxed);
                task.shared.connected.store(true, Ordering::Relaxed);
                let outcome = task.relay(&mut socket, drain_deadline).await;
                task.shared.connected.store(false, Ordering::Relaxed);
                // A frame of this connection is old by the next one.
                task.shared.mirror_fps.store(0, Ordering::Relaxed);
                let _ = task.shared.mirror.take();
                let _ = socket.close(None).await;
                if let Err(e) = outcome {
                    tracing::debug!("link: connection ended: {e}");
                }
            }
            // A console that is not the one this headset paired with: never
            // talk to it, and say why.
            Err(e) if task.seen.lock().is_ok_and(|s| s.mismatch.is_some()) => {
                tracing::error!("link: refusing the console: {e}");
                if let Ok(mut refused) = task.shared.refused.lock() {
                    *refused = Some(e);
                }
                return;
            }
            // Said once per kind of failure, not at every retry.
            Err(e) => {
                if last_failure.as_deref() != Some(e.as_str()) {
                    tracing::warn!("link: cannot connect to the console: {e}; trying again");
                } else {
                    tracing::debug!("link: cannot connect: {e}");
                }
                last_failure = Some(e);
            }
        }
        if task.closing && drain_deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        // Wait before the next attempt, taking what the caller sends meanwhile.
        let wake = Instant::now() + backoff;
        backoff = (backoff * 2).min(task.config.reconnect_max);
        while !task.closing {
            tokio::select! {
                // Offline, everything numbered waits in the buffer for the next connection.
                item = task.outgoing.recv() => { let _ = task.take(item); }
                () = sleep_until(wake) => break,
                () = sleep_until(task.batch_due.unwrap_or(wake)), if task.batch_due.is_some() => task.flush_batch(),
            }
        }
    }
}

impl Task {
    /// Connects, says hello, waits for the welcome and resends what the
    /// console lacks.
    async fn connect(&mut self) -> Result<Socket, String> {
        let base = crate::pair::normalise_console(&self.config.console);
        let url = format!("{base}/ws/headset?token={}", self.config.token);
        let mut socket =
            timeout(CONNECT_TIMEOUT, crate::tls::connect(&url, self.config.fingerprint.as_deref(), &self.seen))
                .await
                .map_err(|_| "timed out".to_owned())?
                .map_err(|e| {
                    if e.contains(" 401 ") {
                        self.shared.unauthorised.store(true, Ordering::Relaxed);
                        "the console refused this headset's credential or token (revoked, or the console was \
                     restarted with --new-tokens? pair the headset again, or give it the token it prints now)"
                            .to_owned()
                    } else {
                        e
                    }
                })?;
        let hello = HeadsetToConsole::Hello(Hello {
            headset_id: self.config.headset_id.clone(),
            app: self.config.app.clone(),
            scenario: self.config.scenario.clone(),
            patient_code: self.config.patient_code.clone(),
            session_id: self.session_id.clone(),
            resume_token: self.resume_token.clone(),
            resume_from: self.buffer.oldest(),
            headset_us: self.config.clock.now_us(),
            session_epoch_us: self.config.session_epoch_us,
            steps: self.config.steps.clone(),
            mirror: self.config.mirror,
        });
        socket.send(Message::text(encode(&hello))).await.map_err(|e| e.to_string())?;
        let welcome = timeout(CONNECT_TIMEOUT, async {
            loop {
                match socket.next().await {
                    Some(Ok(Message::Text(text))) => match decode::<ConsoleToHeadset>(text.as_str()) {
                        Ok(ConsoleToHeadset::Welcome(w)) => return Ok(w),
                        Ok(ConsoleToHeadset::Error(e)) => return Err(format!("console refused: {}", e.message)),
                        _ => {}
                    },
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err("closed before welcome".to_owned()),
                }
            }
        })
        .await
        .map_err(|_| "no welcome in time".to_owned())??;
        if let Ok(mut id) = self.shared.session_id.lock() {
            *id = Some(welcome.session_id.clone());
        }
        // Frames only to a console that asked for them: an older one closes
        // the connection on a binary message.
        let fps = if self.config.mirror { welcome.mirror_fps.unwrap_or(0) } else { 0 };
        self.shared.mirror_fps.store(fps, Ordering::Relaxed);
        self.session_id = Some(welcome.session_id);
        self.resume_token = Some(welcome.resume_token).filter(|t| !t.is_empty());
        self.buffer.ack(&self.shared, welcome.acked);
        for (_, text) in &self.buffer.items {
            socket.send(Message::text(text.clone())).await.map_err(|e| e.to_string())?;
        }
        Ok(socket)
    }

    /// Relays until the connection drops or, when closing, everything is acknowledged.
    async fn relay(&mut self, socket: &mut Socket, drain_deadline: Option<Instant>) -> Result<(), String> {
        let mut last_heard = Instant::now();
        loop {
            if self.closing {
                self.flush_batch_into(socket).await?;
                if self.buffer.items.is_empty() || drain_deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(());
                }
            }
            let far = Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                item = self.outgoing.recv(), if !self.closing => {
                    for text in self.take(item) {
                        socket.send(Message::text(text)).await.map_err(|e| e.to_string())?;
                    }
                }
                () = sleep_until(last_heard + self.config.silence_timeout) => {
                    return Err(format!("the console was silent for {:?}", self.config.silence_timeout));
                }
                () = sleep_until(self.batch_due.unwrap_or(far)), if self.batch_due.is_some() => {
                    self.flush_batch_into(socket).await?;
                }
                () = sleep_until(drain_deadline.unwrap_or(far)), if drain_deadline.is_some() => return Ok(()),
                // A frame is sent whole before the next select: at most one
                // is ever on its way, and numbered messages wait at most for it.
                () = self.shared.mirror.ready(), if !self.closing => {
                    if let Some(frame) = self.shared.mirror.take()
                        && self.shared.mirror_fps.load(Ordering::Relaxed) > 0
                    {
                        socket.send(Message::binary(frame)).await.map_err(|e| e.to_string())?;
                        self.shared.mirror.sent();
                    }
                }
                incoming = socket.next() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        last_heard = Instant::now();
                        self.receive(socket, text.as_str()).await?;
                    }
                    Some(Ok(Message::Close(_))) | None => return Err("closed by the console".to_owned()),
                    Some(Ok(_)) => last_heard = Instant::now(),
                    Some(Err(e)) => return Err(e.to_string()),
                },
            }
        }
    }

    /// Takes one item from the caller; returns a message to send now, if any.
    fn take(&mut self, item: Option<Outgoing>) -> Vec<String> {
        match item {
            None => {
                self.closing = true;
                Vec::new()
            }
            Some(Outgoing::Sample(sample)) => {
                self.samples.push(*sample);
                self.batch_due.get_or_insert_with(|| Instant::now() + BATCH_INTERVAL);
                if self.samples.len() >= self.config.batch_samples {
                    self.batch().into_iter().collect()
                } else {
                    Vec::new()
                }
            }
            Some(Outgoing::Events(events)) => {
                // Samples taken before these events go first, keeping the order.
                let mut out: Vec<String> = self.batch().into_iter().collect();
                // Stay well inside the console's message limit, however many events came.
                let mut chunk = Vec::new();
                let mut size = 0;
                for event in events {
                    let n = serde_json::to_string(&event).map_or(0, |t| t.len());
                    if size + n > EVENT_BATCH_BYTES && !chunk.is_empty() {
                        out.push(self.number_events(std::mem::take(&mut chunk)));
                        size = 0;
                    }
                    size += n;
                    chunk.push(event);
                }
                if !chunk.is_empty() {
                    out.push(self.number_events(chunk));
                }
                out
            }
            Some(Outgoing::Ack { id, result }) => {
                let (ok, error) = match result {
                    Ok(()) => (true, None),
                    Err(e) => (false, Some(e)),
                };
                vec![
                    self.buffer
                        .push(&self.shared, |seq| HeadsetToConsole::CommandAck(CommandAck { seq, id, ok, error }))
                        .1,
                ]
            }
        }
    }

    fn number_events(&mut self, events: Vec<protocol::SessionEvent>) -> String {
        self.buffer.push(&self.shared, |seq| HeadsetToConsole::Events(EventBatch { seq, events })).1
    }

    /// Numbers the pending samples as one message (kept in the buffer).
    fn batch(&mut self) -> Option<String> {
        self.batch_due = None;
        if self.samples.is_empty() {
            return None;
        }
        let samples = std::mem::take(&mut self.samples);
        Some(self.buffer.push(&self.shared, |seq| HeadsetToConsole::Telemetry(TelemetryBatch { seq, samples })).1)
    }

    fn flush_batch(&mut self) {
        let _ = self.batch();
    }

    async fn flush_batch_into(&mut self, socket: &mut Socket) -> Result<(), String> {
        if let Some(text) = self.batch() {
            socket.send(Message::text(text)).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn receive(&mut self, socket: &mut Socket, text: &str) -> Result<(), String> {
        match decode::<ConsoleToHeadset>(text) {
            Ok(ConsoleToHeadset::Command(command)) => {
                let _ = self.commands.send(command);
            }
            Ok(ConsoleToHeadset::Ack(ack)) => self.buffer.ack(&self.shared, ack.up_to),
            Ok(ConsoleToHeadset::Ping(ping)) => {
                let pong = HeadsetToConsole::Pong(Pong {
                    id: ping.id,
                    console_us: ping.console_us,
                    headset_us: self.config.clock.now_us(),
                });
                socket.send(Message::text(encode(&pong))).await.map_err(|e| e.to_string())?;
                if let (Some(offset), Some(rtt)) = (ping.offset_us, ping.rtt_us) {
                    self.shared.offset_us.store(offset, Ordering::Relaxed);
                    self.shared.rtt_us.store(rtt, Ordering::Relaxed);
                    self.shared.has_clock.store(true, Ordering::Relaxed);
                }
            }
            Ok(ConsoleToHeadset::Mirror(rate)) if self.config.mirror => {
                self.shared.mirror_fps.store(rate.fps, Ordering::Relaxed);
            }
            Ok(ConsoleToHeadset::Mirror(_)) => {}
            Ok(ConsoleToHeadset::Error(e)) => tracing::warn!("console refused a message: {}", e.message),
            Ok(ConsoleToHeadset::Welcome(_)) => {}
            Err(e) => tracing::warn!("console sent something unreadable: {e}"),
        }
        Ok(())
    }
}
