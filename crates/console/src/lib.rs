//! The Trinvis console: one port serving the therapist's page and two
//! WebSocket endpoints, one for headsets and one for browsers. It routes
//! commands from browsers to headsets and their results back, fans
//! telemetry and events out to the browsers that subscribed, and records
//! every session to `recordings/<UTC start>-<id>.mcap`.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:7450").await?;
//! let config = console::Config::new("recordings".into());
//! println!("therapist: http://127.0.0.1:7450/?token={}", config.therapist_token);
//! console::serve(listener, config, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! Architecture invariant: the console never blocks a network task on the
//! disk (recordings are written by a small pool of threads), never drops an
//! event, a command or an acknowledgement, and never trusts a peer: every
//! message is size-checked, parsed into protocol types and range-checked
//! before anything acts on it; every resource a peer can make the console
//! hold (sessions, queued bytes, connections still in their HTTP phase) has
//! a bound, and every phase of a connection a deadline.

mod auth;
mod browser;
mod course;
mod door;
mod headset;
mod hub;
mod memory;
mod pairing;
mod queue;
mod recorder;
pub mod replay;
mod socket;
pub mod table;
mod time;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use auth::{new_token, token_matches};
pub use time::{rfc3339, unix_us};

use crate::hub::Hub;

/// How the console runs. [`Config::new`] makes fresh random tokens.
#[derive(Clone, Debug)]
pub struct Config {
    /// The browser's token: part of the therapist URL.
    pub therapist_token: String,
    /// The headsets' token.
    pub headset_token: String,
    /// Where recordings go; created if missing.
    pub recordings: PathBuf,
    /// Where the console keeps its session table (`sessions.json`), so that
    /// after a restart every headset resumes its session under the same id;
    /// created if missing, readable by the user only. `None`: nothing is
    /// kept, and headsets of earlier sessions start new ones.
    pub data: Option<PathBuf>,
    /// TLS: HTTPS and WSS only. Required on any address beyond loopback
    /// ([`serve`] refuses to start there without it); `None` on loopback
    /// serves plain HTTP and WS.
    pub tls: Option<tls::Identity>,
    /// How often each peer is pinged.
    pub ping_interval: Duration,
    /// A peer silent this long is dropped.
    pub peer_timeout: Duration,
    /// A headset must say hello within this time of its upgrade.
    pub hello_timeout: Duration,
    /// A connection must send a whole HTTP request head within this time
    /// (also each later request on a kept-alive connection).
    pub header_timeout: Duration,
    /// Connections from one address still in their HTTP phase (not yet
    /// upgraded to a WebSocket) at once; more are closed at accept.
    pub max_http_per_address: usize,
    /// Sessions the console lists at once. A new session beyond it takes the
    /// place of the one whose headset left longest ago; when every
    /// session's headset is connected, it is refused.
    pub max_sessions: usize,
    /// An ended session leaves the list this long after its headset left.
    pub ended_grace: Duration,
    /// A session whose headset left without ending it waits this long for
    /// the headset to come back, then leaves the list (its file is closed).
    pub disconnected_grace: Duration,
    /// Commands a browser may send at once.
    pub command_burst: u32,
    /// Commands per second a browser may send in the long run.
    pub commands_per_s: f64,
    /// Telemetry messages a slow browser's queue holds before the oldest go.
    pub browser_queue: usize,
    /// Bytes a browser's queue holds: telemetry goes first; when messages
    /// that must arrive alone pass it, the browser is disconnected (1008).
    pub browser_queue_bytes: usize,
    /// Threads that write recordings, shared by all sessions.
    pub recorder_threads: usize,
    /// Longest time between two closed chunks of a recording.
    pub flush_interval: Duration,
    /// A command without an answer this long fails for its sender.
    pub command_timeout: Duration,
    /// Record a mirror frame at most this often (`foxglove.CompressedImage`
    /// on `/mirror`); `None` records none. Browsers get every frame.
    pub mirror_record_every: Option<Duration>,
    /// The same command (with the same basis) for a session within this
    /// time of the last one passed on is refused as a duplicate.
    pub duplicate_window: Duration,
    /// Draws a session's report for `/report` (the `trinvis` binary gives
    /// `outputs::report`'s, so this crate builds without plotters); `None`
    /// answers 501.
    pub report: Option<ReportRenderer>,
}

/// Draws a session's HTML report from its data and visits.
pub type ReportRenderer = fn(&research::SessionData, &[research::steps::Visit]) -> String;

impl Config {
    /// Defaults with new random tokens.
    pub fn new(recordings: PathBuf) -> Config {
        Config {
            therapist_token: new_token(),
            headset_token: new_token(),
            recordings,
            data: None,
            tls: None,
            ping_interval: Duration::from_secs(2),
            peer_timeout: Duration::from_secs(10),
            hello_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(5),
            max_http_per_address: 32,
            max_sessions: 32,
            ended_grace: Duration::from_secs(5 * 60),
            disconnected_grace: Duration::from_secs(30 * 60),
            command_burst: 20,
            commands_per_s: 10.0,
            browser_queue: 1024,
            browser_queue_bytes: 32 << 20,
            recorder_threads: 2,
            flush_interval: Duration::from_secs(1),
            command_timeout: Duration::from_secs(10),
            mirror_record_every: Some(Duration::from_secs(1)),
            duplicate_window: Duration::from_millis(1500),
            report: None,
        }
    }
}

/// Serves on `listener` until `shutdown` completes, then closes every
/// connection and every recording.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, config, None, shutdown).await
}

/// Serves a recording instead of headsets: the same page and browser socket,
/// one session fed from `timeline`, moved by the browsers' `replay`
/// messages; commands are refused. `config.recordings` is only listed.
pub async fn serve_replay(
    listener: TcpListener,
    config: Config,
    timeline: replay::Timeline,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, config, Some(timeline), shutdown).await
}

async fn serve_with(
    listener: TcpListener,
    config: Config,
    timeline: Option<replay::Timeline>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    if !address.ip().is_loopback() && config.tls.is_none() {
        return Err(std::io::Error::other(format!(
            "{address} is beyond this machine: the console serves it only with TLS (health data must not travel in clear)"
        )));
    }
    if timeline.is_none() {
        std::fs::create_dir_all(&config.recordings)?;
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let replay = timeline.map(|t| Arc::new(replay::Replay::new(t)));
    let hub = Arc::new(Hub::new(config, stop_rx.clone(), replay.clone())?);
    let replaying = replay.map(|replay| tokio::spawn(replay::run(hub.clone(), replay)));
    let app = Router::new()
        .route("/", get(page))
        .route("/app.js", get(|| asset("text/javascript; charset=utf-8", include_str!("page/app.js"))))
        .route("/charts.js", get(|| asset("text/javascript; charset=utf-8", include_str!("page/charts.js"))))
        .route("/style.css", get(|| asset("text/css; charset=utf-8", include_str!("page/style.css"))))
        .route("/health", get(|| async { "ok" }))
        .route("/ws/headset", get(headset_socket))
        .route("/ws/pair", get(pair_socket))
        .route("/api/pair", post(pair_code))
        .route("/api/headsets", get(headsets))
        .route("/api/headsets/revoke", post(revoke))
        .route("/api/patients", get(patients))
        .route("/report", get(report))
        .route("/ws/browser", get(browser_socket))
        .route("/ws/replay", get(replay_socket))
        .with_state(hub.clone());
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let sweeper = tokio::spawn(sweep(hub.clone()));
    door::serve(listener, app, &hub.config, stop_rx).await;
    sweeper.abort();
    if let Some(replaying) = replaying {
        replaying.abort();
    }
    // Every socket task has been told to close; give them a moment to say
    // so to their peers and hand back their sessions, then close the files.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while Arc::strong_count(&hub) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let recorders = hub.finish_all();
    // Files whose sessions ended a moment ago may still be closing on their
    // recorder thread: the pool's stop waits for those too.
    let _ = tokio::task::spawn_blocking(move || {
        recorders.into_iter().for_each(recorder::Recorder::finish);
        hub.recorders.stop();
        hub.stop_saving();
        // Every file is closed: index the last of them.
        if let Some(course) = &hub.course {
            course.finish();
        }
    })
    .await;
    Ok(())
}

/// Lets sessions whose headset is long gone leave the list, once a second.
async fn sweep(hub: Arc<Hub>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        hub.sweep();
    }
}

/// The query string as name-value pairs, names repeated as given.
type TokenQuery = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// Exactly one `token`, and the right one: a query that cannot be read, has
/// no token, or names it twice is unauthorised (401), never a 400 that
/// tells a prober something about the request.
fn authorised(query: &TokenQuery, expected: &str) -> bool {
    let Ok(Query(pairs)) = query else { return false };
    let mut tokens = pairs.iter().filter(|(name, _)| name == "token");
    match (tokens.next(), tokens.next()) {
        (Some((_, token)), None) => token_matches(token, expected),
        _ => false,
    }
}

/// The one `token` of the query, if there is exactly one.
fn single_token(query: &TokenQuery) -> Option<&str> {
    let Ok(Query(pairs)) = query else { return None };
    let mut tokens = pairs.iter().filter(|(name, _)| name == "token");
    match (tokens.next(), tokens.next()) {
        (Some((_, token)), None) => Some(token),
        _ => None,
    }
}

fn refuse(status: StatusCode, text: &str) -> Response {
    (status, format!("{text}\n")).into_response()
}

async fn page(State(hub): State<Arc<Hub>>, ConnectInfo(peer): ConnectInfo<SocketAddr>, query: TokenQuery) -> Response {
    if !authorised(&query, &hub.config.therapist_token) {
        log_refusal(&hub, peer, "the therapist page");
        return refuse(
            StatusCode::UNAUTHORIZED,
            "wrong or missing token: open the therapist URL that `trinvis console` printed",
        );
    }
    ([(header::CACHE_CONTROL, "no-store")], Html(include_str!("page/index.html"))).into_response()
}

/// The page's scripts and style: no patient data in them, so no token; no
/// caching, so a console upgrade never runs with an old script.
async fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-store")], body).into_response()
}

/// Whether the client asked for our subprotocol.
fn offers_subprotocol(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == protocol::SUBPROTOCOL)
}

#[allow(clippy::result_large_err, reason = "a refusal is a response, made once per connection attempt")]
fn upgrade(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    headers: &HeaderMap,
) -> Result<WebSocketUpgrade, Response> {
    let ws = ws.map_err(IntoResponse::into_response)?;
    if !offers_subprotocol(headers) {
        return Err(refuse(StatusCode::BAD_REQUEST, "ask for the WebSocket subprotocol trinvis.v1"));
    }
    // The transport takes up to 1 MiB so that an oversized message can be
    // answered with close code 1009; the protocol's limit is checked on each.
    Ok(ws.protocols([protocol::SUBPROTOCOL]).max_message_size(1 << 20).max_frame_size(1 << 20))
}

/// Logs a connection refused for its token: the address and what it asked
/// for, never the token. One line per address and minute, so a prober
/// cannot flood the log.
fn log_refusal(hub: &Hub, peer: SocketAddr, what: &str) {
    let worth = hub.refusals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).worth_logging(peer.ip());
    if worth {
        tracing::warn!(
            address = %peer.ip(),
            "refused {what}: wrong or missing token (after `trinvis console --new-tokens`, \
             give headsets the new headset token and open the new therapist URL)"
        );
    }
}

async fn headset_socket(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    query: TokenQuery,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // The shared headset token (scripts, tests) or a headset's own credential.
    let credential = if authorised(&query, &hub.config.headset_token) {
        None
    } else if let Some(issued) = single_token(&query).and_then(|t| hub.pairing.verify(t)) {
        Some(issued)
    } else {
        log_refusal(&hub, peer, "a headset");
        return refuse(StatusCode::UNAUTHORIZED, "wrong, revoked or missing headset credential");
    };
    match upgrade(ws, &headers) {
        Ok(ws) => ws.on_upgrade(move |socket| headset::run(hub, socket, credential)),
        Err(response) => response,
    }
}

/// A page's socket (`/ws/browser`, `/ws/replay`): the therapist token, and
/// only this console's own origin. A page from another site must not drive
/// a patient's session with the therapist's browser.
#[allow(clippy::result_large_err, reason = "a refusal is a response, made once per connection attempt")]
fn page_socket_allowed(
    hub: &Hub,
    peer: SocketAddr,
    query: &TokenQuery,
    headers: &HeaderMap,
    what: &str,
) -> Result<(), Response> {
    if !authorised(query, &hub.config.therapist_token) {
        log_refusal(hub, peer, what);
        return Err(refuse(StatusCode::UNAUTHORIZED, "wrong or missing token"));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        let own = [format!("http://{host}"), format!("https://{host}")];
        if !own.iter().any(|o| origin.as_bytes() == o.as_bytes()) {
            return Err(refuse(StatusCode::FORBIDDEN, "this origin may not connect to the console"));
        }
    }
    Ok(())
}

async fn browser_socket(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    query: TokenQuery,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Err(refused) = page_socket_allowed(&hub, peer, &query, &headers, "a therapist page's connection") {
        return refused;
    }
    match upgrade(ws, &headers) {
        Ok(ws) => ws.on_upgrade(move |socket| browser::run(hub, socket)),
        Err(response) => response,
    }
}

/// A page replays one session of the recordings folder, all its parts
/// joined (`/?token=…&replay=<session id>` opens it): a private replay for
/// this connection, as `trinvis replay` serves one, with its own timeline;
/// nothing reaches a headset. Checked like the browser socket.
async fn replay_socket(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    query: TokenQuery,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Err(refused) = page_socket_allowed(&hub, peer, &query, &headers, "a therapist page's replay") {
        return refused;
    }
    let session = match &query {
        Ok(Query(pairs)) => pairs.iter().find(|(k, _)| k == "session").map(|(_, v)| v.clone()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    if !replay::valid_session_id(&session) {
        return refuse(StatusCode::BAD_REQUEST, "name the session to replay: ?session=<session id>");
    }
    let dir = hub.config.recordings.clone();
    let id = session.clone();
    let joined = tokio::task::spawn_blocking(move || replay::join_parts(&dir, &id)).await;
    let (recording, parts) = match joined {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => return refuse(StatusCode::NOT_FOUND, &format!("no recording of session {session} here")),
        Ok(Err(e)) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, &format!("reading session {session}: {e}")),
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "reading the recording failed"),
    };
    let name = if parts > 1 { format!("{session} ({parts} parts)") } else { format!("{session}.mcap") };
    let timeline = replay::Timeline::new(&recording, &name);
    match upgrade(ws, &headers) {
        Ok(ws) => ws.on_upgrade(move |socket| private_replay(hub, socket, timeline)),
        Err(response) => response,
    }
}

/// Runs a replay for one page: a hub of its own in replay mode (no data
/// folder, no headsets), stopped when the page goes or the console stops.
async fn private_replay(hub: Arc<Hub>, socket: axum::extract::ws::WebSocket, timeline: replay::Timeline) {
    let mut config = hub.config.clone();
    config.data = None;
    config.recorder_threads = 1;
    let (stop_tx, stop_rx) = watch::channel(false);
    let replay = Arc::new(replay::Replay::new(timeline));
    let private = match Hub::new(config, stop_rx, Some(replay.clone())) {
        Ok(private) => Arc::new(private),
        Err(e) => {
            tracing::error!("cannot start a replay: {e}");
            return;
        }
    };
    let playing = tokio::spawn(replay::run(private.clone(), replay));
    let mut console_stop = hub.stop.clone();
    let forward = tokio::spawn(async move {
        let _ = console_stop.changed().await;
        let _ = stop_tx.send(true);
    });
    browser::run(private.clone(), socket).await;
    forward.abort();
    playing.abort();
    let _ = tokio::task::spawn_blocking(move || private.recorders.stop()).await;
}

/// A headset without credentials asks for a pairing code. No token: the
/// code itself, typed by the therapist, is what lets it in.
async fn pair_socket(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    use std::sync::atomic::Ordering;
    if hub.replay.is_some() {
        return refuse(StatusCode::CONFLICT, "this console replays a recording: no headsets");
    }
    let ws = match upgrade(ws, &headers) {
        Ok(ws) => ws.max_message_size(4096),
        Err(response) => return response,
    };
    // Anyone may ask for a code: the sockets that may be open at once are few.
    if hub.pairing.sockets.fetch_add(1, Ordering::Relaxed) >= pairing::MAX_SOCKETS {
        hub.pairing.sockets.fetch_sub(1, Ordering::Relaxed);
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "too many headsets are pairing; try again in two minutes");
    }
    ws.on_upgrade(move |socket| async move {
        pairing::run(hub.clone(), socket, peer.ip()).await;
        hub.pairing.sockets.fetch_sub(1, Ordering::Relaxed);
    })
}

/// Lets the therapist's token through; anything else is refused (401) and
/// logged as a refusal of `what`.
#[allow(clippy::result_large_err, reason = "a refusal is a response, made once per request")]
fn therapist_only(hub: &Hub, peer: SocketAddr, query: &TokenQuery, what: &str) -> Result<(), Response> {
    if authorised(query, &hub.config.therapist_token) {
        return Ok(());
    }
    log_refusal(hub, peer, what);
    Err(refuse(StatusCode::UNAUTHORIZED, "wrong or missing token"))
}

/// `{"error": …}` with `status`.
fn json_error(status: StatusCode, error: impl std::fmt::Display) -> Response {
    json(status, &serde_json::json!({ "error": error.to_string() }))
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], value.to_string())
        .into_response()
}

/// The page's "Pair a headset" box: `{"code":"123456"}`.
async fn pair_code(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    query: TokenQuery,
    body: String,
) -> Response {
    if let Err(refused) = therapist_only(&hub, peer, &query, "a pairing code") {
        return refused;
    }
    let code = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(|c| c.trim().replace(' ', "")));
    // Writes the credentials file: off the network task.
    let entering = hub.clone();
    let result = tokio::task::spawn_blocking(move || entering.pairing.enter(code.as_deref().unwrap_or(""))).await;
    match result {
        Ok(Ok(listed)) => json(StatusCode::OK, &serde_json::json!({ "paired": listed })),
        Ok(Err(refused)) => {
            let status = match refused {
                pairing::Refused::Malformed => StatusCode::BAD_REQUEST,
                pairing::Refused::Wrong { .. } => StatusCode::FORBIDDEN,
                pairing::Refused::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
                pairing::Refused::Gone(_) => StatusCode::CONFLICT,
                pairing::Refused::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            json_error(status, refused)
        }
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// The paired headsets' credentials.
async fn headsets(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    query: TokenQuery,
) -> Response {
    if let Err(refused) = therapist_only(&hub, peer, &query, "the list of headsets") {
        return refused;
    }
    let fingerprint = hub.config.tls.as_ref().map(|t| t.fingerprint.clone());
    json(
        StatusCode::OK,
        &serde_json::json!({ "headsets": hub.pairing.list(), "waiting": hub.pairing.waiting(), "fingerprint": fingerprint }),
    )
}

/// Revokes a credential: `{"id":"h-…"}`; its headset is disconnected.
async fn revoke(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    query: TokenQuery,
    body: String,
) -> Response {
    if let Err(refused) = therapist_only(&hub, peer, &query, "a revocation") {
        return refused;
    }
    let id = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("id").and_then(|c| c.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let (revoking, wanted) = (hub.clone(), id.clone());
    match tokio::task::spawn_blocking(move || revoking.pairing.revoke(&wanted)).await {
        Ok(Ok(true)) => json(StatusCode::OK, &serde_json::json!({ "revoked": id })),
        Ok(Ok(false)) => json_error(StatusCode::NOT_FOUND, format!("no credential {id}")),
        Ok(Err(e)) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Every patient's course (the Patients view).
async fn patients(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    query: TokenQuery,
) -> Response {
    if let Err(refused) = therapist_only(&hub, peer, &query, "the patients") {
        return refused;
    }
    let Some(index) = &hub.course else {
        return json(StatusCode::OK, &serde_json::json!({ "patients": [], "kept": false }));
    };
    let db = index.db();
    let listed =
        tokio::task::spawn_blocking(move || db.lock().unwrap_or_else(std::sync::PoisonError::into_inner).patients())
            .await;
    match listed {
        Ok(Ok(patients)) => json(StatusCode::OK, &serde_json::json!({ "patients": patients, "kept": true })),
        Ok(Err(e)) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// A session's report (`?session=ID`), made from its recording files now.
async fn report(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    query: TokenQuery,
) -> Response {
    if let Err(refused) = therapist_only(&hub, peer, &query, "a report") {
        return refused;
    }
    let session = match &query {
        Ok(Query(pairs)) => pairs.iter().find(|(name, _)| name == "session").map(|(_, v)| v.clone()),
        Err(_) => None,
    };
    let (Some(session), Some(index)) = (session, &hub.course) else {
        return refuse(StatusCode::NOT_FOUND, "no such session in the course index");
    };
    let Some(render) = hub.config.report else {
        return refuse(StatusCode::NOT_IMPLEMENTED, "this console was started without a report renderer");
    };
    let (db, recordings) = (index.db(), hub.config.recordings.clone());
    let made = tokio::task::spawn_blocking(move || -> Result<Option<String>, String> {
        let files = db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .files_of(&session)
            .map_err(|e| e.to_string())?;
        let Some(files) = files else { return Ok(None) };
        // Names from the index, never paths: nothing outside the recordings folder.
        let paths: Vec<PathBuf> = files
            .iter()
            .filter(|f| !f.contains('/') && !f.contains('\\') && !f.starts_with('.'))
            .map(|f| recordings.join(f))
            .collect();
        let data = research::load_session(&paths).map_err(|e| e.to_string())?;
        let visits = research::steps::visits(&data, None);
        Ok(Some(render(&data, &visits)))
    })
    .await;
    match made {
        Ok(Ok(Some(page))) => ([(header::CACHE_CONTROL, "no-store")], Html(page)).into_response(),
        Ok(Ok(None)) => refuse(StatusCode::NOT_FOUND, "no such session in the course index"),
        Ok(Err(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &format!("the report could not be made: {e}")),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
