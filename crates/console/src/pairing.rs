//! Pairing headsets and the credentials they get.
//!
//! A headset without credentials opens `/ws/pair` and gets a six-digit code
//! (valid two minutes) to show; the therapist types it into the page
//! (`POST /api/pair`); the console then issues that headset a credential of
//! its own and sends it down the waiting connection. Credentials are kept
//! in `<data>/headsets.json` as SHA-256 hashes only, listed on the page and
//! revocable there; revoking one closes its headset's connection.
//!
//! Invariants: a code is compared in constant time against every pending
//! code (no early exit), five wrong codes lock pairing for a minute, at
//! most [`MAX_PENDING`] codes are pending at once, and a credential's
//! secret is never stored or logged.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{oneshot, watch};

use crate::auth::{new_token, short_id, token_matches};

/// How long a code is valid.
pub const CODE_LIFETIME: Duration = Duration::from_secs(120);
/// Wrong codes in a row before pairing locks.
pub const WRONG_CODES: u32 = 5;
/// How long pairing stays locked.
pub const LOCKOUT: Duration = Duration::from_secs(60);
/// Headsets waiting with a code at once.
pub const MAX_PENDING: usize = 16;
/// Headsets waiting with a code at once from one address.
pub const MAX_PENDING_PER_ADDRESS: usize = 2;
/// Pairing sockets open at once (before and while waiting with a code).
pub const MAX_SOCKETS: usize = 64;

/// One issued credential, as stored and listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issued {
    /// Public name (`h-` and 8 hex characters).
    pub id: String,
    /// The headset it was issued to.
    pub headset_id: String,
    /// When, RFC 3339 UTC.
    pub paired: String,
    /// SHA-256 of the secret, hex; the secret itself is not kept.
    #[serde(rename = "secret_sha256")]
    secret_hash: String,
}

/// What the page sees of a credential (no hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Listed {
    /// Public name.
    pub id: String,
    /// The headset.
    pub headset_id: String,
    /// When it paired.
    pub paired: String,
}

/// A headset waiting with a code.
struct Pending {
    code: String,
    headset_id: String,
    address: std::net::IpAddr,
    expires: Instant,
    deliver: oneshot::Sender<protocol::Paired>,
}

#[derive(Default)]
struct Guard {
    wrong: u32,
    locked_until: Option<Instant>,
}

/// Why a typed code was not taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not six digits.
    Malformed,
    /// No headset waits with this code; `left` more tries before the lock.
    Wrong {
        /// Tries left.
        left: u32,
    },
    /// Too many wrong codes: try again after this long.
    Locked(Duration),
    /// The credential could not be saved.
    Storage(String),
    /// The headset left before its credential reached it.
    Gone(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Malformed => write!(f, "a pairing code is six digits"),
            Refused::Wrong { left } => write!(
                f,
                "no headset shows this code (it may have expired: the headset shows a new one); {left} more tries, \
                 then pairing locks for a minute"
            ),
            Refused::Locked(left) => {
                write!(f, "too many wrong codes: pairing is locked for {} more seconds", left.as_secs().max(1))
            }
            Refused::Storage(e) => write!(f, "the console cannot save the credential: {e}"),
            Refused::Gone(headset) => write!(
                f,
                "“{headset}” stopped waiting before its credential reached it: nothing was paired; it shows a new code when it asks again"
            ),
        }
    }
}

/// Pending codes, the lock, and the issued credentials.
#[derive(Debug)]
pub(crate) struct Pairing {
    pending: Mutex<Vec<Pending>>,
    guard: Mutex<Guard>,
    issued: Mutex<Vec<Issued>>,
    path: Option<PathBuf>,
    /// Moves whenever a credential is revoked: connections check theirs.
    pub revoked: watch::Sender<u64>,
    /// Pairing sockets open now.
    pub sockets: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("headset_id", &self.headset_id).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").field("wrong", &self.wrong).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Six random digits, without modulo bias.
fn new_code() -> String {
    loop {
        let mut bytes = [0u8; 4];
        getrandom::fill(&mut bytes).expect("the operating system's random source works");
        let n = u32::from_le_bytes(bytes);
        // 4_294_000_000 is the largest multiple of 10^6 below 2^32.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

impl Pairing {
    /// The credentials kept in `<data>/headsets.json` (none without a data folder).
    pub(crate) fn new(data: Option<&std::path::Path>) -> std::io::Result<Pairing> {
        let path = data.map(|d| d.join("headsets.json"));
        let issued = match &path {
            Some(path) => match std::fs::read(path) {
                Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                    std::io::Error::other(format!(
                        "{}: {e} (the paired headsets' credentials; fix or delete it, then pair them again)",
                        path.display()
                    ))
                })?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(std::io::Error::other(format!("{}: {e}", path.display()))),
            },
            None => Vec::new(),
        };
        Ok(Pairing {
            pending: Mutex::default(),
            guard: Mutex::default(),
            issued: Mutex::new(issued),
            path,
            revoked: watch::channel(0).0,
            sockets: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// A code for `headset_id` at `address`, and where its credential will
    /// arrive; `None` when [`MAX_PENDING`] headsets already wait, or
    /// [`MAX_PENDING_PER_ADDRESS`] from this address.
    pub(crate) fn request(
        &self,
        headset_id: &str,
        address: std::net::IpAddr,
    ) -> Option<(String, oneshot::Receiver<protocol::Paired>)> {
        let mut pending = lock(&self.pending);
        let now = Instant::now();
        pending.retain(|p| p.expires > now && !p.deliver.is_closed());
        let from_here = pending.iter().filter(|p| p.address == address).count();
        if pending.len() >= MAX_PENDING || from_here >= MAX_PENDING_PER_ADDRESS {
            return None;
        }
        let code = loop {
            let code = new_code();
            if !pending.iter().any(|p| p.code == code) {
                break code;
            }
        };
        let (deliver, arrives) = oneshot::channel();
        pending.push(Pending {
            code: code.clone(),
            headset_id: headset_id.to_owned(),
            address,
            expires: now + CODE_LIFETIME,
            deliver,
        });
        Some((code, arrives))
    }

    /// The therapist typed `code`: the waiting headset gets a credential.
    /// Returns the credential as listed. Writes the credentials file: call
    /// it off the network tasks.
    pub(crate) fn enter(&self, code: &str) -> Result<Listed, Refused> {
        let now = Instant::now();
        // One critical section for the lock, the comparison and the count:
        // codes typed at the same moment cannot slip past the lockout.
        let mut guard = lock(&self.guard);
        if let Some(until) = guard.locked_until {
            if until > now {
                return Err(Refused::Locked(until - now));
            }
            guard.locked_until = None;
        }
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Refused::Malformed);
        }
        let found = {
            let mut pending = lock(&self.pending);
            pending.retain(|p| p.expires > now && !p.deliver.is_closed());
            // Every pending code is compared, each in constant time.
            let mut hit = None;
            for (i, p) in pending.iter().enumerate() {
                if token_matches(code, &p.code) {
                    hit = Some(i);
                }
            }
            hit.map(|i| pending.swap_remove(i))
        };
        let Some(found) = found else {
            guard.wrong += 1;
            if guard.wrong >= WRONG_CODES {
                guard.wrong = 0;
                guard.locked_until = Some(now + LOCKOUT);
                tracing::warn!("{WRONG_CODES} wrong pairing codes: pairing locked for {LOCKOUT:?}");
                return Err(Refused::Locked(LOCKOUT));
            }
            return Err(Refused::Wrong { left: WRONG_CODES - guard.wrong });
        };
        guard.wrong = 0;
        drop(guard);
        let secret = new_token();
        let issued = Issued {
            id: format!("h-{}", short_id()),
            headset_id: found.headset_id.clone(),
            paired: crate::rfc3339(crate::unix_us()),
            secret_hash: hash(&secret),
        };
        let listed =
            Listed { id: issued.id.clone(), headset_id: issued.headset_id.clone(), paired: issued.paired.clone() };
        // Stored before it is sent, so the headset's first connection finds it.
        {
            let mut all = lock(&self.issued);
            all.push(issued);
            if let Err(e) = self.save(&all) {
                all.pop();
                return Err(Refused::Storage(e));
            }
        }
        if found.deliver.send(protocol::Paired { credential_id: listed.id.clone(), credential: secret }).is_err() {
            // The headset left meanwhile: no credential nobody holds.
            let mut all = lock(&self.issued);
            all.retain(|i| i.id != listed.id);
            let _ = self.save(&all);
            return Err(Refused::Gone(listed.headset_id));
        }
        tracing::info!(headset = %listed.headset_id, credential = %listed.id, "headset paired");
        Ok(listed)
    }

    /// The credential `token` is, if any, and the headset it was issued to
    /// (checked against all, each in constant time).
    pub(crate) fn verify(&self, token: &str) -> Option<(String, String)> {
        let given = hash(token);
        let mut found = None;
        for issued in lock(&self.issued).iter() {
            if token_matches(&given, &issued.secret_hash) {
                found = Some((issued.id.clone(), issued.headset_id.clone()));
            }
        }
        found
    }

    /// Whether credential `id` is still valid.
    pub(crate) fn valid(&self, id: &str) -> bool {
        lock(&self.issued).iter().any(|i| i.id == id)
    }

    /// The headsets waiting with a valid code, by name.
    pub(crate) fn waiting(&self) -> Vec<String> {
        let now = Instant::now();
        lock(&self.pending)
            .iter()
            .filter(|p| p.expires > now && !p.deliver.is_closed())
            .map(|p| p.headset_id.clone())
            .collect()
    }

    /// Every credential, oldest first.
    pub(crate) fn list(&self) -> Vec<Listed> {
        lock(&self.issued)
            .iter()
            .map(|i| Listed { id: i.id.clone(), headset_id: i.headset_id.clone(), paired: i.paired.clone() })
            .collect()
    }

    /// Revokes credential `id`; false when there is none.
    pub(crate) fn revoke(&self, id: &str) -> Result<bool, String> {
        let mut all = lock(&self.issued);
        let Some(at) = all.iter().position(|i| i.id == id) else { return Ok(false) };
        let removed = all.remove(at);
        if let Err(e) = self.save(&all) {
            all.insert(at, removed);
            return Err(e);
        }
        drop(all);
        tracing::info!(credential = %id, headset = %removed.headset_id, "credential revoked");
        self.revoked.send_modify(|n| *n += 1);
        Ok(true)
    }

    fn save(&self, all: &[Issued]) -> Result<(), String> {
        let Some(path) = &self.path else { return Ok(()) };
        let bytes = serde_json::to_vec_pretty(all).map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent() {
            crate::table::create_private_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        crate::table::write_private(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// One headset's `/ws/pair` connection: its request, its code, then its
/// credential once the therapist typed the code, or close code 4000 when
/// the code expired (the headset asks again).
pub(crate) async fn run(
    hub: std::sync::Arc<crate::hub::Hub>,
    mut socket: axum::extract::ws::WebSocket,
    address: std::net::IpAddr,
) {
    use axum::extract::ws::Message;
    use protocol::{HeadsetToPairing, PairCode, PairingToHeadset, decode, encode};

    use crate::socket::{Incoming, close, receive};

    let first = tokio::time::timeout(hub.config.hello_timeout, receive(&mut socket)).await;
    let request = match first {
        Ok(Incoming::Text(text)) => match decode::<HeadsetToPairing>(&text) {
            Ok(HeadsetToPairing::PairRequest(request)) => request,
            Err(e) => return close(&mut socket, 1008, &format!("expected pair_request: {e}")).await,
        },
        Ok(Incoming::Refused(code, reason)) => return close(&mut socket, code, &reason).await,
        Ok(Incoming::Binary(_)) => return close(&mut socket, 1003, "text messages only").await,
        Ok(_) => return,
        Err(_) => return close(&mut socket, 1008, "no pair_request in time").await,
    };
    let Some((code, arrives)) = hub.pairing.request(&request.headset_id, address) else {
        return close(&mut socket, 1013, "too many headsets are waiting to pair; try again in two minutes").await;
    };
    tracing::debug!(headset = %request.headset_id, %address, "a headset waits to pair (its code is in its view)");
    let shown = PairingToHeadset::PairCode(PairCode { code, expires_in_s: CODE_LIFETIME.as_secs() as u32 });
    if socket.send(Message::Text(encode(&shown).into())).await.is_err() {
        return;
    }
    let mut stop = hub.stop.clone();
    let expired = tokio::time::sleep(CODE_LIFETIME);
    tokio::pin!(expired, arrives);
    loop {
        tokio::select! {
            paired = &mut arrives => {
                if let Ok(paired) = paired {
                    let message = PairingToHeadset::Paired(paired);
                    if socket.send(Message::Text(encode(&message).into())).await.is_ok() {
                        close(&mut socket, 1000, "paired").await;
                    }
                }
                return;
            }
            () = &mut expired => return close(&mut socket, protocol::CODE_EXPIRED, "the code expired").await,
            incoming = receive(&mut socket) => match incoming {
                Incoming::Gone => return,
                Incoming::Refused(code, reason) => return close(&mut socket, code, &reason).await,
                Incoming::Text(_) => return close(&mut socket, 1008, "one pair_request per connection").await,
                Incoming::Binary(_) => return close(&mut socket, 1003, "text messages only").await,
                Incoming::Alive => {}
            },
            _ = stop.changed() => return close(&mut socket, 1001, "the console is shutting down").await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_code_pairs_its_headset_once_and_the_credential_verifies() {
        let pairing = Pairing::new(None).unwrap();
        let here = std::net::IpAddr::from([127, 0, 0, 1]);
        let (code, mut arrives) = pairing.request("vr-pc-2", here).unwrap();
        assert_eq!(code.len(), 6);
        let listed = pairing.enter(&code).unwrap();
        let paired = arrives.try_recv().unwrap();
        assert_eq!(paired.credential_id, listed.id);
        assert_eq!(pairing.verify(&paired.credential), Some((listed.id.clone(), "vr-pc-2".to_owned())));
        assert_eq!(pairing.verify("0123456789abcdef0123456789abcdef"), None);
        // The code is spent.
        assert!(matches!(pairing.enter(&code), Err(Refused::Wrong { .. })));
        assert!(pairing.revoke(&listed.id).unwrap());
        assert_eq!(pairing.verify(&paired.credential), None);
    }

    #[test]
    fn one_address_may_not_hold_every_code_and_a_headset_that_left_gets_nothing() {
        let pairing = Pairing::new(None).unwrap();
        let (a, b) = (std::net::IpAddr::from([10, 0, 0, 9]), std::net::IpAddr::from([10, 0, 0, 10]));
        let _held: Vec<_> = (0..MAX_PENDING_PER_ADDRESS).map(|_| pairing.request("x", a).unwrap()).collect();
        assert!(pairing.request("x", a).is_none(), "one address took more than its share");
        let (code, arrives) = pairing.request("left", b).unwrap();
        drop(arrives);
        assert!(matches!(pairing.enter(&code), Err(Refused::Wrong { .. })), "a code whose headset left is not pending");
        assert!(pairing.list().is_empty());
    }

    #[test]
    fn five_wrong_codes_lock_pairing_even_for_the_right_one() {
        let pairing = Pairing::new(None).unwrap();
        let (code, _arrives) = pairing.request("vr-pc-2", std::net::IpAddr::from([127, 0, 0, 1])).unwrap();
        let wrong = if code == "000000" { "000001" } else { "000000" };
        for left in (1..WRONG_CODES).rev() {
            assert_eq!(pairing.enter(wrong), Err(Refused::Wrong { left }));
        }
        assert!(matches!(pairing.enter(wrong), Err(Refused::Locked(_))));
        assert!(matches!(pairing.enter(&code), Err(Refused::Locked(_))), "the lock holds for the right code too");
        assert!(matches!(pairing.enter("12345"), Err(Refused::Locked(_))));
    }

    #[test]
    fn credentials_are_kept_as_hashes_and_survive_a_restart() {
        let dir = std::env::temp_dir().join(format!("trinvis-pairing-{}", new_token()));
        let pairing = Pairing::new(Some(&dir)).unwrap();
        let (code, mut arrives) = pairing.request("vr-pc-2", std::net::IpAddr::from([127, 0, 0, 1])).unwrap();
        pairing.enter(&code).unwrap();
        let secret = arrives.try_recv().unwrap().credential;
        let text = std::fs::read_to_string(dir.join("headsets.json")).unwrap();
        assert!(!text.contains(&secret), "the secret itself is stored");
        let again = Pairing::new(Some(&dir)).unwrap();
        assert!(again.verify(&secret).is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
