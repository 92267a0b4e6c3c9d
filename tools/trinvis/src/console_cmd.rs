//! `trinvis console [--bind ADDR] [--recordings DIR]`

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on. Loopback unless you mean otherwise: there is no
    /// TLS yet, so anything else exposes health data to the network.
    #[arg(long, default_value = "127.0.0.1:7450")]
    bind: SocketAddr,
    /// Folder for session recordings (created if missing).
    #[arg(long, default_value = "recordings")]
    recordings: PathBuf,
    /// Therapist token (default: a new random one each start).
    #[arg(long, env = "TRINVIS_THERAPIST_TOKEN", hide_env_values = true)]
    therapist_token: Option<String>,
    /// Headset token (default: a new random one each start).
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
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut config = console::Config::new(args.recordings.clone());
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
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(args.bind).await.with_context(|| format!("listening on {}", args.bind))?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            tracing::warn!("listening on {addr}, beyond this machine, without TLS: use only on a network you trust");
        }
        // Listen for the signals before anyone can know the address: a
        // SIGTERM that came first would otherwise kill the process outright.
        let stop = stop_signal().context("listening for SIGTERM")?;
        println!("Trinvis console on http://{addr}");
        println!("  therapist:     http://{addr}/?token={}", config.therapist_token);
        println!("  headset token: {}", config.headset_token);
        println!("  headsets:      ws://{addr}  (trinvis sim --console ws://{addr} --token {})", config.headset_token);
        println!("  recordings:    {}", args.recordings.display());
        println!("Press Ctrl-C (or send SIGTERM) to stop; open recordings are closed cleanly.");
        console::serve(listener, config, stop).await.context("serving")?;
        // Whoever read our output may be gone by now (Ctrl-C reaches the
        // whole process group): a closed pipe is no reason to panic.
        let _ = writeln!(std::io::stdout(), "console stopped; recordings closed");
        Ok(ExitCode::SUCCESS)
    })
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
