//! `trinvis console [--bind ADDR] [--recordings DIR] [--data DIR] [--new-tokens] [--cert PEM --key PEM]`

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on. Loopback (the default) serves plain HTTP and WS
    /// to this machine only; any other address (`0.0.0.0:7450` for the
    /// clinic's network) serves HTTPS and WSS only.
    #[arg(long, default_value = "127.0.0.1:7450")]
    bind: SocketAddr,
    /// The clinic's own certificate (PEM, leaf first) instead of the one the
    /// console makes itself in its data folder; needs --key.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Serve HTTPS and WSS on loopback too (off loopback they are always on).
    #[arg(long)]
    tls: bool,
    /// Folder for session recordings (created if missing).
    #[arg(long, default_value = "recordings")]
    recordings: PathBuf,
    /// Folder for what the console keeps between runs: its tokens and its
    /// session table, so that after a restart the open page and every
    /// headset reconnect by themselves and each session goes on under its
    /// id (created if missing, readable by you only). Default: `console-data`
    /// beside the recordings folder.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Make new tokens instead of reusing the saved ones: every open page
    /// and every headset must then be given the new ones.
    #[arg(long)]
    new_tokens: bool,
    /// Therapist token (default: the saved one, made at the first start).
    #[arg(long, env = "TRINVIS_THERAPIST_TOKEN", hide_env_values = true)]
    therapist_token: Option<String>,
    /// Headset token (default: the saved one, made at the first start).
    #[arg(long, env = "TRINVIS_HEADSET_TOKEN", hide_env_values = true)]
    headset_token: Option<String>,
    /// Sessions listed at once (connected or waiting for their headset); a
    /// headset beyond it is refused while every listed one is connected.
    #[arg(long, default_value_t = 32)]
    max_sessions: usize,
    /// Longest time between two closed chunks of a recording, ms. For
    /// benchmarks of sped-up simulations; the default keeps a killed console
    /// from losing more than a second.
    #[arg(long, default_value_t = 1000, hide = true)]
    flush_interval_ms: u64,
    /// Record a picture of what the patient sees (the mirror) at most
    /// every this many seconds; 0 records none. Pages get every picture.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    mirror_record_every: f64,
}

/// The tokens a console keeps between runs (`<data>/tokens.json`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Tokens {
    therapist: String,
    headset: String,
}

/// The saved tokens, or new ones (saved) at the first start or with `--new-tokens`.
fn saved_tokens(data: &std::path::Path, new: bool) -> anyhow::Result<Tokens> {
    let path = data.join("tokens.json");
    if !new && let Ok(bytes) = std::fs::read(&path) {
        let tokens: Tokens = serde_json::from_slice(&bytes).with_context(|| {
            format!("reading {} (delete it, or start with --new-tokens, to make new tokens)", path.display())
        })?;
        anyhow::ensure!(
            tokens.therapist.len() >= 8 && tokens.headset.len() >= 8,
            "{}: a token shorter than 8 characters (start with --new-tokens to make new ones)",
            path.display()
        );
        return Ok(tokens);
    }
    let tokens = Tokens { therapist: console::new_token(), headset: console::new_token() };
    console::table::create_private_dir(data).with_context(|| format!("creating {}", data.display()))?;
    console::table::write_private(&path, &serde_json::to_vec_pretty(&tokens)?)
        .with_context(|| format!("saving the tokens in {}", path.display()))?;
    Ok(tokens)
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut config = console::Config::new(args.recordings.clone());
    config.report = Some(report);
    let data = args.data.clone().unwrap_or_else(|| {
        args.recordings.parent().map_or_else(|| PathBuf::from("console-data"), |p| p.join("console-data"))
    });
    let tokens = saved_tokens(&data, args.new_tokens)?;
    config.therapist_token = tokens.therapist;
    config.headset_token = tokens.headset;
    config.data = Some(data.clone());
    for (given, slot) in
        [(&args.therapist_token, &mut config.therapist_token), (&args.headset_token, &mut config.headset_token)]
    {
        if let Some(t) = given {
            // A short token is guessable, an empty one opens the door to anyone.
            anyhow::ensure!(t.len() >= 8, "tokens must have at least 8 characters");
            slot.clone_from(t);
        }
    }
    config.flush_interval = std::time::Duration::from_millis(args.flush_interval_ms.max(1));
    anyhow::ensure!(args.max_sessions >= 1, "--max-sessions must be at least 1");
    config.max_sessions = args.max_sessions;
    anyhow::ensure!(
        args.mirror_record_every.is_finite() && (0.0..=3600.0).contains(&args.mirror_record_every),
        "--mirror-record-every: seconds from 0 (record none) to 3600, got {}",
        args.mirror_record_every
    );
    config.mirror_record_every =
        (args.mirror_record_every > 0.0).then(|| std::time::Duration::from_secs_f64(args.mirror_record_every));
    if args.tls || args.cert.is_some() || !args.bind.ip().is_loopback() {
        let identity = match (&args.cert, &args.key) {
            (Some(cert), Some(key)) => console::tls::from_files(cert, key)?,
            _ => console::tls::load_or_create(&data, &certificate_names(args.bind))?,
        };
        config.tls = Some(identity);
    }
    return_freed_memory();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(args.bind).await.with_context(|| format!("listening on {}", args.bind))?;
        let addr = listener.local_addr()?;
        // Listen for the signals before anyone can know the address: a
        // SIGTERM that came first would otherwise kill the process outright.
        let stop = stop_signal().context("listening for SIGTERM")?;
        let (http, ws) = if config.tls.is_some() { ("https", "wss") } else { ("http", "ws") };
        // An unspecified address is not one to browse to: name this machine.
        let shown = if addr.ip().is_unspecified() {
            format!("{}:{}", host_name().unwrap_or_else(|| "THIS-MACHINE".into()), addr.port())
        } else {
            addr.to_string()
        };
        println!("Trinvis console on {http}://{shown}");
        println!("  therapist:     {http}://{shown}/?token={}", config.therapist_token);
        println!("  headset token: {}", config.headset_token);
        println!(
            "  headsets:      {ws}://{shown}  (a headset started without a token shows a code: pair it on the page)"
        );
        if let Some(identity) = &config.tls {
            println!("  certificate:   {}", identity.cert.display());
            println!("  fingerprint:   SHA-256 {}", identity.fingerprint);
            println!("                 (the browser's certificate warning shows it: compare before you accept)");
        }
        println!("  recordings:    {}", args.recordings.display());
        println!("  kept between runs (tokens, sessions to resume): {}", data.display());
        println!("Press Ctrl-C (or send SIGTERM) to stop; open recordings are closed cleanly.");
        console::serve(listener, config, stop).await.context("serving")?;
        // Whoever read our output may be gone by now (Ctrl-C reaches the
        // whole process group): a closed pipe is no reason to panic.
        let _ = writeln!(std::io::stdout(), "console stopped; recordings closed");
        Ok(ExitCode::SUCCESS)
    })
}

/// This machine's name, from the kernel.
fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    Some(name.trim().to_owned()).filter(|n| !n.is_empty())
}

/// The names a self-made certificate is for: this machine's name (and
/// `NAME.local` for mDNS) and the bound address when it is a real one.
fn certificate_names(bind: SocketAddr) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(host) = host_name() {
        names.push(format!("{host}.local"));
        names.push(host);
    }
    if !bind.ip().is_unspecified() {
        names.push(bind.ip().to_string());
    }
    names
}

/// Resolves at Ctrl-C or at SIGTERM (what `kill`, systemd and container
/// runtimes send): both close the recordings cleanly. The handlers are in
/// place when this returns.
#[cfg(unix)]
fn stop_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?);
    Ok(async move {
        tokio::select! {
            _ = int.recv() => tracing::info!("Ctrl-C: stopping"),
            _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        }
    })
}

#[cfg(not(unix))]
fn stop_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Each open recording holds a zstd compression context of about 3 MB
/// (allocated lazily; a few hundred kB of it are touched). glibc serves
/// such blocks with their own mappings, until the first is freed: then it
/// raises its threshold and serves the next ones from its arenas, where
/// each new context touches pages an earlier one left, and freed pages are
/// not given back. A console that runs for days, opening and closing
/// recordings, then creeps up in memory towards the size of every context
/// it ever held (`./x soak` under load: +23 % to +43 % in 12 minutes).
/// A fixed threshold keeps large blocks in their own mappings: freed at
/// once, and resident only where written.
///
/// Small blocks stay in the arenas, and a burst (a backlog while the
/// machine is busy) leaves free pages between live blocks that glibc never
/// returns by itself (+5.6 % in a 30-minute soak beside a full test run);
/// every 10 s `malloc_trim` hands whole free pages back (it walks the free
/// lists only: well under a millisecond for a console's heap).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_freed_memory() {
    // SAFETY: mallopt takes two integers and only changes the allocator's
    // settings; called before the runtime starts its threads.
    #[allow(unsafe_code, reason = "glibc's mallopt has no safe wrapper")]
    let set = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
    if set != 1 {
        tracing::debug!("mallopt(M_MMAP_THRESHOLD) was refused; memory may creep up over days");
    }
    let spawned = std::thread::Builder::new().name("malloc-trim".into()).spawn(|| {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(10));
            // SAFETY: malloc_trim takes an integer and only returns unused
            // pages of the allocator's own heaps; it is thread-safe.
            #[allow(unsafe_code, reason = "glibc's malloc_trim has no safe wrapper")]
            unsafe {
                libc::malloc_trim(0);
            }
        }
    });
    if let Err(e) = spawned {
        tracing::debug!("cannot start the thread that returns freed memory: {e}");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_freed_memory() {}

/// `/report`'s renderer: the research report, without a scenario file
/// (the console knows the steps only from the recording).
fn report(data: &research::SessionData, visits: &[research::steps::Visit]) -> String {
    outputs::report::html(data, visits, None)
}
