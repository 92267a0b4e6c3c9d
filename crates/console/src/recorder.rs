//! Recordings are written by a small pool of threads (two by default), so
//! file IO never stalls the network tasks and a console with many sessions
//! does not hold a thread per session. Each session's file goes to one
//! thread of the pool. Chunks close at least every `flush_interval`; after
//! each flush the thread publishes the highest sequence number handed to
//! the operating system, which is what the console acknowledges to the
//! headset.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use recording::{Channel, Metadata, Writer};
use tokio::sync::watch;

type FileWriter = Writer<std::io::BufWriter<std::fs::File>>;

enum Job {
    Open(Box<Open>),
    Message {
        file: u64,
        channel: Channel,
        log_us: u64,
        publish_us: u64,
        data: Vec<u8>,
        seq: Option<u64>,
    },
    Finish {
        file: u64,
        done: Option<mpsc::Sender<()>>,
    },
    /// Close every file still open, say so, and end the thread.
    Stop(mpsc::Sender<()>),
}

struct Open {
    file: u64,
    writer: FileWriter,
    flushed: watch::Sender<u64>,
    alive: Arc<AtomicBool>,
    interval: Duration,
    name: String,
    path: PathBuf,
}

/// The recorder threads.
#[derive(Debug)]
pub(crate) struct Pool {
    workers: Vec<mpsc::Sender<Job>>,
    next: AtomicU64,
}

impl Pool {
    /// Starts `threads` recorder threads (at least one).
    /// Each file closed whole is reported on `closed` (the course index).
    pub(crate) fn new(threads: usize, closed: Option<mpsc::Sender<PathBuf>>) -> std::io::Result<Pool> {
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let (tx, rx) = mpsc::channel();
            let closed = closed.clone();
            std::thread::Builder::new().name(format!("recorder-{i}")).spawn(move || run(&rx, closed.as_ref()))?;
            workers.push(tx);
        }
        Ok(Pool { workers, next: AtomicU64::new(1) })
    }

    /// Closes every file (those whose handles were dropped and are still
    /// being closed too) and ends the threads; returns when all is on disk.
    /// Jobs are taken in order, so everything sent before is written first.
    pub(crate) fn stop(&self) {
        let waits: Vec<mpsc::Receiver<()>> = self
            .workers
            .iter()
            .filter_map(|tx| {
                let (done, wait) = mpsc::channel();
                tx.send(Job::Stop(done)).ok().map(|()| wait)
            })
            .collect();
        for wait in waits {
            let _ = wait.recv();
        }
    }

    /// Creates the file (on the caller's thread, so a failure is known at
    /// once) and hands it to a recorder thread.
    pub(crate) fn start(
        &self,
        path: &Path,
        metadata: &Metadata,
        flush_interval: Duration,
    ) -> Result<Recorder, recording::Error> {
        let writer = Writer::create(path, metadata)?;
        let file = self.next.fetch_add(1, Ordering::Relaxed);
        let tx = self.workers[(file as usize) % self.workers.len()].clone();
        let (flushed_tx, flushed) = watch::channel(0);
        let alive = Arc::new(AtomicBool::new(true));
        let open = Open {
            file,
            writer,
            flushed: flushed_tx,
            alive: alive.clone(),
            interval: flush_interval,
            name: path.display().to_string(),
            path: path.to_owned(),
        };
        tx.send(Job::Open(Box::new(open)))
            .map_err(|_| recording::Error::Io(std::io::Error::other("the recorder threads have stopped")))?;
        Ok(Recorder { file, tx: Some(tx), flushed, alive })
    }
}

/// Handle to one session's recording. Dropping it closes the file in the
/// background; [`Recorder::finish`] closes it and waits.
#[derive(Debug)]
pub(crate) struct Recorder {
    file: u64,
    tx: Option<mpsc::Sender<Job>>,
    flushed: watch::Receiver<u64>,
    alive: Arc<AtomicBool>,
}

impl Recorder {
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
        let job = Job::Message { file: self.file, channel, log_us, publish_us, data, seq };
        self.alive() && self.tx.as_ref().is_some_and(|tx| tx.send(job).is_ok())
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
        if let Some(tx) = self.tx.take() {
            let (done, wait) = mpsc::channel();
            if tx.send(Job::Finish { file: self.file, done: Some(done) }).is_ok() {
                let _ = wait.recv();
            }
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Job::Finish { file: self.file, done: None });
        }
    }
}

/// How often a thread wakes to take what arrived. Waking per message
/// would cost a context switch per telemetry batch on the network's cores.
const POLL: Duration = Duration::from_millis(50);

struct File {
    writer: FileWriter,
    flushed: watch::Sender<u64>,
    alive: Arc<AtomicBool>,
    interval: Duration,
    name: String,
    path: PathBuf,
    highest_seq: u64,
    dirty: bool,
    deadline: Instant,
}

impl File {
    fn fail(&self, what: &str, e: &recording::Error) {
        tracing::error!(recording = self.name, "{what} failed, this file stops here: {e}");
        self.alive.store(false, Ordering::Relaxed);
    }

    fn finish(self, closed: Option<&mpsc::Sender<PathBuf>>) {
        let (name, flushed, alive, highest) = (self.name, self.flushed, self.alive, self.highest_seq);
        match self.writer.finish() {
            Ok(_) => {
                let _ = flushed.send(highest);
                tracing::info!(recording = name, "recording closed");
                if let Some(closed) = closed {
                    let _ = closed.send(self.path);
                }
            }
            Err(e) => {
                tracing::error!(recording = name, "closing failed, this file stops here: {e}");
                alive.store(false, Ordering::Relaxed);
            }
        }
    }
}

fn run(rx: &mpsc::Receiver<Job>, closed: Option<&mpsc::Sender<PathBuf>>) {
    let mut files: HashMap<u64, File> = HashMap::new();
    loop {
        loop {
            match rx.try_recv() {
                Ok(Job::Open(open)) => {
                    let Open { file, writer, flushed, alive, interval, name, path } = *open;
                    let deadline = Instant::now() + interval;
                    let f =
                        File { writer, flushed, alive, interval, name, path, highest_seq: 0, dirty: false, deadline };
                    files.insert(file, f);
                }
                Ok(Job::Message { file, channel, log_us, publish_us, data, seq }) => {
                    let Some(f) = files.get_mut(&file) else { continue };
                    if let Err(e) = f.writer.write_at(channel, log_us, publish_us, &data) {
                        f.fail("writing", &e);
                        files.remove(&file);
                        continue;
                    }
                    f.highest_seq = f.highest_seq.max(seq.unwrap_or(0));
                    f.dirty = true;
                }
                Ok(Job::Finish { file, done }) => {
                    if let Some(f) = files.remove(&file) {
                        f.finish(closed);
                    }
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
                Ok(Job::Stop(done)) => {
                    files.into_values().for_each(|f| f.finish(closed));
                    let _ = done.send(());
                    return;
                }
                Err(mpsc::TryRecvError::Disconnected) => {
                    // The pool is gone: close whatever is still open.
                    files.into_values().for_each(|f| f.finish(closed));
                    return;
                }
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        let now = Instant::now();
        let mut failed = Vec::new();
        for (id, f) in &mut files {
            if now < f.deadline {
                continue;
            }
            f.deadline = now + f.interval;
            if f.dirty {
                if let Err(e) = f.writer.flush() {
                    f.fail("flushing", &e);
                    failed.push(*id);
                    continue;
                }
                f.dirty = false;
                let _ = f.flushed.send(f.highest_seq);
            }
        }
        for id in failed {
            files.remove(&id);
        }
        let next = files.values().map(|f| f.deadline).min().unwrap_or(now + POLL);
        std::thread::sleep(POLL.min(next.saturating_duration_since(Instant::now())).max(Duration::from_millis(1)));
    }
}
