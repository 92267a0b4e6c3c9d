//! One thread per session writes its recording, so file IO never stalls the
//! network tasks. Chunks close at least every `flush_interval`; after each
//! flush the thread publishes the highest sequence number handed to the
//! operating system, which is what the console acknowledges to the headset.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use recording::{Channel, Metadata, Writer};
use tokio::sync::watch;

enum Item {
    Message { channel: Channel, log_us: u64, publish_us: u64, data: Vec<u8>, seq: Option<u64> },
    Finish,
}

/// Handle to a session's recorder thread.
#[derive(Debug)]
pub(crate) struct Recorder {
    tx: mpsc::Sender<Item>,
    flushed: watch::Receiver<u64>,
    thread: Option<std::thread::JoinHandle<()>>,
    alive: Arc<AtomicBool>,
}

impl Recorder {
    /// Creates the file and starts the thread.
    pub(crate) fn start(
        path: &Path,
        metadata: &Metadata,
        flush_interval: Duration,
    ) -> Result<Recorder, recording::Error> {
        let writer = Writer::create(path, metadata)?;
        let (tx, rx) = mpsc::channel();
        let (flushed_tx, flushed) = watch::channel(0);
        let name = path.display().to_string();
        let alive = Arc::new(AtomicBool::new(true));
        let thread_alive = alive.clone();
        let thread = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || run(writer, rx, flushed_tx, thread_alive, flush_interval, &name))
            .map_err(recording::Error::Io)?;
        Ok(Recorder { tx, flushed, thread: Some(thread), alive })
    }

    /// Appends a message; `seq` is the headset's sequence number it belongs
    /// to. False once the file can no longer be written (disk full, …).
    pub(crate) fn write(
        &self,
        channel: Channel,
        log_us: u64,
        publish_us: u64,
        data: Vec<u8>,
        seq: Option<u64>,
    ) -> bool {
        self.alive() && self.tx.send(Item::Message { channel, log_us, publish_us, data, seq }).is_ok()
    }

    /// Whether the file is still being written.
    pub(crate) fn alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed)
    }

    /// Receives the highest sequence number on disk, after every flush.
    pub(crate) fn flushed(&self) -> watch::Receiver<u64> {
        self.flushed.clone()
    }

    /// Writes the index and closes the file; returns when done.
    pub(crate) fn finish(mut self) {
        let _ = self.tx.send(Item::Finish);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How often the thread wakes to take what arrived. Waking per message
/// would cost a context switch per telemetry batch on the network's cores.
const POLL: Duration = Duration::from_millis(50);

fn run(
    mut writer: Writer<std::io::BufWriter<std::fs::File>>,
    rx: mpsc::Receiver<Item>,
    flushed: watch::Sender<u64>,
    alive: Arc<AtomicBool>,
    interval: Duration,
    name: &str,
) {
    let mut highest_seq = 0u64;
    let mut dirty = false;
    let mut deadline = Instant::now() + interval;
    let fail = |what: &str, e: recording::Error| {
        tracing::error!(recording = name, "{what} failed, this file stops here: {e}");
        alive.store(false, Ordering::Relaxed);
    };
    loop {
        let mut finish = false;
        loop {
            match rx.try_recv() {
                Ok(Item::Message { channel, log_us, publish_us, data, seq }) => {
                    if let Err(e) = writer.write_at(channel, log_us, publish_us, &data) {
                        return fail("writing", e);
                    }
                    highest_seq = highest_seq.max(seq.unwrap_or(0));
                    dirty = true;
                }
                Ok(Item::Finish) | Err(mpsc::TryRecvError::Disconnected) => {
                    finish = true;
                    break;
                }
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        if finish {
            match writer.finish() {
                Ok(_) => {
                    let _ = flushed.send(highest_seq);
                    tracing::info!(recording = name, "recording closed");
                }
                Err(e) => fail("closing", e),
            }
            return;
        }
        let now = Instant::now();
        if now >= deadline {
            deadline = now + interval;
            if dirty {
                if let Err(e) = writer.flush() {
                    return fail("flushing", e);
                }
                dirty = false;
                let _ = flushed.send(highest_seq);
            }
        }
        std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())).max(Duration::from_millis(1)));
    }
}
