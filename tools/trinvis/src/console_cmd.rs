//! `trinvis console [--bind ADDR] [--recordings DIR]`

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
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut config = console::Config::new(args.recordings.clone());
    if let Some(t) = &args.therapist_token {
        config.therapist_token = t.clone();
    }
    if let Some(t) = &args.headset_token {
        config.headset_token = t.clone();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(args.bind).await.with_context(|| format!("listening on {}", args.bind))?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            tracing::warn!("listening on {addr}, beyond this machine, without TLS: use only on a network you trust");
        }
        println!("Trinvis console on http://{addr}");
        println!("  therapist:     http://{addr}/?token={}", config.therapist_token);
        println!("  headset token: {}", config.headset_token);
        println!("  headsets:      ws://{addr}  (trinvis sim --console ws://{addr} --token {})", config.headset_token);
        println!("  recordings:    {}", args.recordings.display());
        println!("Press Ctrl-C to stop; open recordings are closed cleanly.");
        console::serve(listener, config, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
        println!("console stopped; recordings closed");
        Ok(ExitCode::SUCCESS)
    })
}
