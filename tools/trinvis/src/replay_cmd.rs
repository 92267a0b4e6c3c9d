//! `trinvis replay FILE [--bind ADDR] [--speed X]`: a console serving a
//! recording on the therapist's page, with a timeline instead of headsets.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use protocol::ReplayControl;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recording (`.mcap`) to replay.
    file: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7451")]
    bind: SocketAddr,
    /// Speed to start at, 1 to 16 (the page changes it).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Start playing at once instead of paused at the beginning.
    #[arg(long)]
    play: bool,
    /// Therapist token (default: a new random one).
    #[arg(long, env = "TRINVIS_THERAPIST_TOKEN", hide_env_values = true)]
    therapist_token: Option<String>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut recording =
        recording::Recording::open(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let mut name = args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // A session a console resumed after a restart lies in parts beside it: all of them play, as one.
    let id = recording.metadata.session_id.clone();
    let dir = args.file.parent().map(PathBuf::from).unwrap_or_default();
    if console::replay::valid_session_id(&id)
        && let Ok(Some((joined, parts))) = console::replay::join_parts(&dir, &id)
        && parts > 1
    {
        recording = joined;
        name = format!("{id} ({parts} parts)");
    }
    let mut timeline = console::replay::Timeline::new(&recording, &name);
    anyhow::ensure!(
        timeline.duration_us() > 0,
        "{}: no telemetry or events to replay (`trinvis inspect` shows what it holds)",
        args.file.display()
    );
    timeline
        .control(&ReplayControl::Speed { speed: args.speed }, std::time::Duration::ZERO)
        .map_err(|e| anyhow::anyhow!("--speed: {e}"))?;
    if args.play {
        let _ = timeline.control(&ReplayControl::Play, std::time::Duration::ZERO);
    }
    let folder = args.file.parent().map(PathBuf::from).unwrap_or_default();
    let mut config = console::Config::new(folder);
    if let Some(t) = &args.therapist_token {
        anyhow::ensure!(t.len() >= 8, "tokens must have at least 8 characters");
        config.therapist_token.clone_from(t);
    }
    if !recording.complete {
        tracing::warn!("{} was cut short; replaying what it holds", args.file.display());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(args.bind).await.with_context(|| format!("listening on {}", args.bind))?;
        let addr = listener.local_addr()?;
        println!(
            "Replaying {} ({:.0} s, patient {}, {})",
            args.file.display(),
            timeline.duration_us() as f64 / 1e6,
            timeline.info.patient_code,
            timeline.info.scenario.id
        );
        println!("  therapist: http://{addr}/?token={}", config.therapist_token);
        println!("Press Ctrl-C to stop.");
        console::serve_replay(listener, config, timeline, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
        Ok(ExitCode::SUCCESS)
    })
}
