//! Pairing a headset with a console, and the credential it keeps after.
//!
//! [`pair`] asks the console for a six-digit code, hands it to the caller
//! to show (in the headset, in the window, on stdout), and waits until the
//! therapist types it into the page; codes that expire are replaced. The
//! result, [`Credentials`], holds the headset's own credential and the
//! fingerprint of the certificate the console showed (trust on first use):
//! every later connection pins it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::{HeadsetToPairing, PairRequest, PairingToHeadset, decode, encode};
use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::Message;

use crate::tls::{self, Seen};

/// What a paired headset keeps (a JSON file readable by its user only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// The console it paired with, `wss://host:port`.
    pub console: String,
    /// The name it paired under.
    pub headset_id: String,
    /// The credential's public name, as the console's page lists it.
    pub credential_id: String,
    /// The secret: the `token` of its connections.
    pub credential: String,
    /// The console certificate's SHA-256 fingerprint; `None` over plain
    /// `ws://` (loopback).
    pub fingerprint: Option<String>,
}

impl Credentials {
    /// The credentials in `path`; `Ok(None)` when there is no such file.
    pub fn load(path: &Path) -> Result<Option<Credentials>, String> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("{}: {e} (delete the file to pair this headset again)", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// Writes them to `path` (replacing it whole), readable by the user only.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("{}: {e}", path.display());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let text = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        let tmp = path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        std::io::Write::write_all(&mut options.open(&tmp).map_err(fail)?, &text).map_err(fail)?;
        std::fs::rename(&tmp, path).map_err(fail)
    }
}

/// A code to show, and how long it lasts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Code {
    /// Six digits.
    pub code: String,
    /// How long the console keeps it.
    pub valid_for: Duration,
    /// The fingerprint of the console's certificate (over TLS), to show
    /// beside the code so the therapist can compare it with the console's.
    pub fingerprint: Option<String>,
}

impl Code {
    /// What a headset prints when it shows the code (tests read the first
    /// line's `Pairing code: NNNNNN`): the code, where to type it, and the
    /// console's fingerprint when there is one.
    pub fn announcement(&self) -> String {
        let mut text = format!(
            "Pairing code: {}  (type it into the console page's \"Pair a headset\" box; valid {} s)",
            self.code,
            self.valid_for.as_secs()
        );
        if let Some(fingerprint) = &self.fingerprint {
            text.push_str(&format!("\n  console certificate: SHA-256 {fingerprint}"));
        }
        text
    }
}

/// Pairs with the console at `console` (`ws://` or `wss://`, no path):
/// calls `show` with each code (a new one when the last expired) and
/// returns once the therapist typed it. A console that cannot be reached,
/// is busy pairing others or restarts is asked again (with backoff); gives
/// up when the console shows another certificate than the first one, when
/// it refuses pairing otherwise, or when `cancel` says so between tries.
pub async fn pair(
    console: &str,
    headset_id: &str,
    mut show: impl FnMut(&Code) + Send,
    cancel: impl Fn() -> bool + Send,
) -> Result<Credentials, String> {
    let base = normalise_console(console);
    let seen = Arc::new(Mutex::new(Seen::default()));
    // Trust on first use: the certificate of the first connection is the
    // one every later connection of this pairing must show.
    let mut pinned: Option<String> = None;
    let mut backoff = Duration::from_secs(1);
    let mut said: Option<String> = None;
    loop {
        if cancel() {
            return Err("pairing cancelled".into());
        }
        // A console not yet up, or busy pairing others: keep asking.
        let opened = async {
            let mut socket = tls::connect(&format!("{base}/ws/pair"), pinned.as_deref(), &seen).await?;
            let request = HeadsetToPairing::PairRequest(PairRequest { headset_id: headset_id.to_owned() });
            socket.send(Message::text(encode(&request))).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(socket)
        }
        .await;
        let mut socket = match opened {
            Ok(socket) => socket,
            Err(e) if seen.lock().is_ok_and(|s| s.mismatch.is_some()) => return Err(e),
            Err(e) => {
                if said.as_deref() != Some(e.as_str()) {
                    tracing::warn!("pairing: cannot reach the console ({e}); trying again");
                    said = Some(e);
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        backoff = Duration::from_secs(1);
        let fingerprint = seen.lock().ok().and_then(|s| s.fingerprint.clone());
        pinned.clone_from(&fingerprint);
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => match decode::<PairingToHeadset>(text.as_str()) {
                    Ok(PairingToHeadset::PairCode(code)) => show(&Code {
                        code: code.code,
                        valid_for: Duration::from_secs(code.expires_in_s.into()),
                        fingerprint: fingerprint.clone(),
                    }),
                    Ok(PairingToHeadset::Paired(paired)) => {
                        let _ = socket.close(None).await;
                        return Ok(Credentials {
                            console: base,
                            headset_id: headset_id.to_owned(),
                            credential_id: paired.credential_id,
                            credential: paired.credential,
                            fingerprint,
                        });
                    }
                    Err(e) => return Err(format!("the console sent something unreadable: {e}")),
                },
                // 4000: the code expired; 1013: too many waiting; 1001: the
                // console is shutting down (a restart). Ask again.
                Some(Ok(Message::Close(Some(frame))))
                    if [protocol::CODE_EXPIRED, 1013, 1001].contains(&u16::from(frame.code)) =>
                {
                    if u16::from(frame.code) != protocol::CODE_EXPIRED {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    break;
                }
                Some(Ok(Message::Close(frame))) => {
                    let why = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                    return Err(format!("the console ended pairing: {why}"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("the console closed the connection".into()),
            }
        }
    }
}

/// A console's address as credentials name it: `ws://` or `wss://`, no
/// trailing slash.
pub fn normalise_console(console: &str) -> String {
    console.trim_end_matches('/').replacen("http://", "ws://", 1).replacen("https://", "wss://", 1)
}

/// [`pair`] on a runtime of its own, for callers without one.
pub fn pair_blocking(
    console: &str,
    headset_id: &str,
    show: impl FnMut(&Code) + Send,
    cancel: impl Fn() -> bool + Send,
) -> Result<Credentials, String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(pair(console, headset_id, show, cancel))
}

/// Where a headset keeps its credentials by default: `$XDG_DATA_HOME/trinvis`
/// or `~/.local/share/trinvis` (the current folder without a home).
pub fn data_folder() -> std::path::PathBuf {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    std::env::var_os("XDG_DATA_HOME")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(".local/share")))
        .map_or_else(|| std::path::PathBuf::from("."), |d| d.join("trinvis"))
}

/// Pairing and connecting, for a headset: the credentials in `path` when
/// they are for `console`, else a new pairing (saved there). Returns the
/// token and pinned fingerprint for [`crate::LinkConfig`].
pub fn credentials_for(
    path: &Path,
    console: &str,
    headset_id: &str,
    show: impl FnMut(&Code) + Send,
) -> Result<Credentials, String> {
    let console = normalise_console(console);
    if let Some(saved) = Credentials::load(path)? {
        if saved.console == console {
            return Ok(saved);
        }
        tracing::info!("{}: paired with {}, not {console}: pairing again", path.display(), saved.console);
    }
    let credentials = pair_blocking(&console, headset_id, show, || false)?;
    credentials.save(path)?;
    Ok(credentials)
}
