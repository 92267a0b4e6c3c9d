//! One thread per session writes its recording, so file IO never stalls the
//! network tasks. Chunks close at least every `flush_interval`; after each
//! flush the thread publishes the highest sequence number safely on disk,
//! which is what the console acknowledges to the headset.

use std::path::Path;
use std::sync::mpsc;
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
        let thread = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || run(writer, rx, flushed_tx, flush_interval, &name))
            .map_err(recording::Error::Io)?;
        Ok(Recorder { tx, flushed, thread: Some(thread) })
    }

    /// Appends a message; `seq` is the headset's sequence number it belongs to.
    pub(crate) fn write(&self, channel: Channel, log_us: u64, publish_us: u64, data: Vec<u8>, seq: Option<u64>) {
        // A send fails only after the thread has stopped on a write error,
        // which it has already reported.
        let _ = self.tx.send(Item::Message { channel, log_us, publish_us, data, seq });
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

fn run(
    mut writer: Writer<std::io::BufWriter<std::fs::File>>,
    rx: mpsc::Receiver<Item>,
    flushed: watch::Sender<u64>,
    interval: Duration,
    name: &str,
) {
    let mut highest_seq = 0u64;
    let mut dirty = false;
    let mut deadline = Instant::now() + interval;
    loop {
        let item = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        match item {
            Ok(Item::Message { channel, log_us, publish_us, data, seq }) => {
                if let Err(e) = writer.write_at(channel, log_us, publish_us, &data) {
                    tracing::error!(recording = name, "writing failed, recording stops here: {e}");
                    return;
                }
                highest_seq = highest_seq.max(seq.unwrap_or(0));
                dirty = true;
            }
            Ok(Item::Finish) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                match writer.finish() {
                    Ok(_) => {
                        let _ = flushed.send(highest_seq);
                        tracing::info!(recording = name, "recording closed");
                    }
                    Err(e) => tracing::error!(recording = name, "closing failed: {e}"),
                }
                return;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if Instant::now() >= deadline {
            deadline = Instant::now() + interval;
            if dirty {
                if let Err(e) = writer.flush() {
                    tracing::error!(recording = name, "flushing failed, recording stops here: {e}");
                    return;
                }
                dirty = false;
                let _ = flushed.send(highest_seq);
            }
        }
    }
}
