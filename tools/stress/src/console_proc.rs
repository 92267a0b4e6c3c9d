//! The real console as a child process, for the developer checks `trinvis
//! fuzz` and `trinvis soak`: this same binary's `console` on a free
//! loopback port, its log in a file, its memory, threads and open files read
//! from /proc, its session list read through a browser socket, and a stop
//! by SIGTERM as a service manager would send it.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// A running console started by [`ConsoleProcess::start`].
#[derive(Debug)]
pub struct ConsoleProcess {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub therapist_token: String,
    pub headset_token: String,
    pub recordings: PathBuf,
    /// Its stderr: the tracing log (`RUST_LOG=info`) and any panic message.
    pub log: PathBuf,
    stdout: Option<std::thread::JoinHandle<Vec<String>>>,
}

/// How the console ended after [`ConsoleProcess::stop`].
#[derive(Debug)]
pub struct Stopped {
    pub status: ExitStatus,
    /// It did not stop within the grace time and was killed.
    pub forced: bool,
    pub took: Duration,
    /// It printed that its recordings were closed.
    pub said_closed: bool,
}

impl Stopped {
    /// Exit code 0 after SIGTERM, on its own, recordings closed.
    pub fn clean(&self) -> bool {
        self.status.success() && !self.forced && self.said_closed
    }
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} after {:.1} s", self.status, self.took.as_secs_f64())?;
        if self.forced {
            write!(f, ", killed: it did not stop on SIGTERM")?;
        } else if !self.said_closed {
            write!(f, ", without saying that its recordings were closed")?;
        }
        Ok(())
    }
}

/// Resident memory, threads and open file descriptors of a process.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    pub rss_kb: u64,
    pub threads: u64,
    pub fds: u64,
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VmRSS {} kB, {} threads, {} open fds", self.rss_kb, self.threads, self.fds)
    }
}

impl ConsoleProcess {
    /// Starts `trinvis console` on `127.0.0.1:0` with fresh tokens, its
    /// recordings and log under `dir`.
    pub fn start(dir: &Path) -> anyhow::Result<ConsoleProcess> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let recordings = dir.join("recordings");
        let log = dir.join("console.log");
        let therapist_token = token();
        let headset_token = token();
        let exe = crate::trinvis()?;
        let stderr = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = Command::new(exe)
            .args(["console", "--bind", "127.0.0.1:0", "--therapist-token", &therapist_token])
            .args(["--headset-token", &headset_token, "--recordings"])
            .arg(&recordings)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("starting the console")?;
        let stdout = child.stdout.take().context("the console's output")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let Some(addr) = first.trim().strip_prefix("Trinvis console on http://").map(str::to_owned) else {
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            anyhow::bail!("the console did not start (first line {first:?}); its log:\n{text}");
        };
        // Keep reading, or the console dies writing to a closed pipe.
        let stdout = std::thread::spawn(move || lines.map_while(Result::ok).collect());
        Ok(ConsoleProcess { child, addr, therapist_token, headset_token, recordings, log, stdout: Some(stdout) })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The console's figures now; `None` once it is gone.
    pub fn figures(&self) -> Option<Figures> {
        figures(self.pid())
    }

    /// Whether it exited by itself (it should not).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `GET /health`: the status code and body, or why there was none.
    pub fn health(&self) -> Result<(u16, String), String> {
        let timeout = Duration::from_secs(5);
        let addr = self.addr.parse().map_err(|e| format!("{}: {e}", self.addr))?;
        let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
        write!(stream, "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.addr)
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&answer);
        let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("no HTTP status")?;
        let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).trim().to_owned();
        Ok((status, body))
    }

    /// SIGTERM, then waits up to 20 s for it to stop (and kills it after that).
    pub fn stop(mut self) -> anyhow::Result<Stopped> {
        let started = Instant::now();
        let pid = self.pid().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().context("running kill -TERM")?;
        anyhow::ensure!(sent.success() || self.exited().is_some(), "kill -TERM {pid} failed");
        let mut forced = false;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if started.elapsed() > Duration::from_secs(20) {
                forced = true;
                let _ = self.child.kill();
                break self.child.wait()?;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let took = started.elapsed();
        let printed = self.stdout.take().and_then(|t| t.join().ok()).unwrap_or_default();
        let said_closed = printed.iter().any(|l| l.contains("recordings closed"));
        Ok(Stopped { status, forced, took, said_closed })
    }

    /// The session list, as a browser gets it on connecting.
    pub async fn sessions(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut socket = connect(&self.addr, Endpoint::Browser, &self.therapist_token, true).await?;
        let list = tokio::time::timeout(Duration::from_secs(5), async {
            while let Some(message) = socket.next().await {
                if let Message::Text(text) = message? {
                    let value: serde_json::Value = serde_json::from_str(text.as_str())?;
                    if value["type"] == "sessions" {
                        return Ok(value["sessions"].as_array().cloned().unwrap_or_default());
                    }
                }
            }
            anyhow::bail!("the browser socket closed before the session list")
        })
        .await
        .context("no session list within 5 s")?;
        let _ = socket.close(None).await;
        list
    }
}

impl Drop for ConsoleProcess {
    fn drop(&mut self) {
        // Only when a check gave up early: never leave the console behind.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Lines of a console log that report a panic, each with the line after
/// it (the panic's message).
pub fn panics(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("panicked"))
        .map(|(i, l)| match lines.get(i + 1) {
            Some(next) => format!("{l} / {next}"),
            None => (*l).to_owned(),
        })
        .collect()
}

/// `/proc/PID/status` (VmRSS, Threads) and `/proc/PID/fd`.
pub fn figures(pid: u32) -> Option<Figures> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some(Figures { rss_kb: field("VmRSS:")?, threads: field("Threads:")?, fds })
}

/// The console's two WebSocket endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Headset,
    Browser,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Headset => "/ws/headset",
            Endpoint::Browser => "/ws/browser",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Headset => "headset",
            Endpoint::Browser => "browser",
        }
    }
}

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a socket as the protocol asks: subprotocol `trinvis.v1`, and for
/// a browser the page's `Origin` (when `origin`).
pub async fn connect(addr: &str, endpoint: Endpoint, token: &str, origin: bool) -> anyhow::Result<Socket> {
    let mut request = format!("ws://{addr}{}?token={token}", endpoint.path()).into_client_request()?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(protocol::SUBPROTOCOL));
    if origin && endpoint == Endpoint::Browser {
        request.headers_mut().insert("Origin", HeaderValue::from_str(&format!("http://{addr}"))?);
    }
    let (socket, _) = tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(request))
        .await
        .context("no WebSocket handshake within 5 s")??;
    Ok(socket)
}

/// Growth from `base` to `now`, per cent.
pub fn growth(base: u64, now: u64) -> f64 {
    if base == 0 { 0.0 } else { (now as f64 - base as f64) / base as f64 * 100.0 }
}

/// The recording files (`.mcap`) in `dir`, sorted by name.
pub fn recording_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "mcap"));
    files.sort();
    files
}

/// A fresh folder under the system's temporary one.
pub fn temp_dir(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("trinvis-{what}-{}-{}", std::process::id(), now_s()))
}

/// Seconds since the Unix epoch.
fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A token for a console this tool starts on loopback for itself: 128 bits
/// from the clock and the process id (a test's secret, not a clinic's).
fn token() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut rng = patient::Rng::new((nanos as u64) ^ u64::from(std::process::id()).rotate_left(32));
    format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64())
}
