//! `trinvis soak [--headsets N] [--minutes M] [--every-minutes K]`: a
//! developer check, not part of the test run. The real console, recording,
//! with N simulated headsets in real time (`trinvis sim --console`) for M
//! minutes, as sessions of K minutes back to back (a clinic's day: one
//! session after another on each headset).
//!
//! Why cycles: an open recording keeps its chunk index in memory until it
//! closes (MCAP writes the index at the end; about 300 bytes per one-second
//! chunk, 1 MB per session-hour), so memory rightly grows while sessions run
//! and falls when they end. A leak is growth that survives the end of the
//! sessions. So the figures are taken at the same point of every cycle,
//! one minute in with every headset connected. The first cycle warms up
//! (the allocator reaches the high-water mark of a whole cycle's indexes,
//! and ended sessions fill their grace period in the list); the second
//! cycle's figures are the baseline, each later cycle's are compared with
//! it, and the soak fails when memory, threads or open file descriptors
//! grew by more than 5 %.
//! At the end (one minute into a last, short cycle) it stops the console
//! with SIGTERM and reads every recording (the `recording` crate) to check
//! that each was finished.

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::console_proc::{self, ConsoleProcess, Figures, growth};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Simulated headsets, each its own synthetic patient.
    #[arg(long, default_value_t = 20)]
    headsets: u32,
    /// Length of the soak, minutes (a last minute is added for the end's figures).
    #[arg(long, default_value_t = 120.0)]
    minutes: f64,
    /// Length of each session, minutes: the figures are taken once per session cycle.
    #[arg(long, default_value_t = 10.0)]
    every_minutes: f64,
    /// The scenario the headsets run (relative to the current folder: run
    /// from the clone's root, as `./x soak` does).
    #[arg(long, default_value = "scenarios/heights.ron")]
    scenario: PathBuf,
}

const WARM_UP: Duration = Duration::from_secs(60);
/// The most any figure may grow from the baseline to the end, per cent.
const LIMIT: f64 = 5.0;

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if !(args.minutes > 1.0 && args.minutes <= 7.0 * 24.0 * 60.0) {
        anyhow::bail!("--minutes must be above 1 (the warm-up) and at most a week, got {}", args.minutes);
    }
    if !(args.every_minutes > 0.0 && args.every_minutes.is_finite()) {
        anyhow::bail!("--every-minutes must be above 0, got {}", args.every_minutes);
    }
    if !(1..=1000).contains(&args.headsets) {
        anyhow::bail!("--headsets must be between 1 and 1000, got {}", args.headsets);
    }
    let scenario = std::fs::canonicalize(&args.scenario).with_context(|| {
        format!(
            "reading {} (scenarios are found from the current folder; run from the clone's root)",
            args.scenario.display()
        )
    })?;
    let dir = console_proc::temp_dir("soak");
    let mut console = ConsoleProcess::start(&dir)?;
    println!(
        "soak: console pid {} on {}, {} headsets running {} for {} min, a report every {} min",
        console.pid(),
        console.addr,
        args.headsets,
        args.scenario.display(),
        args.minutes,
        args.every_minutes
    );
    println!("  console log: {}; recordings: {}", console.log.display(), console.recordings.display());
    let started = Instant::now();
    let at_start = console.figures().context("the console's /proc entry")?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let sim_log = dir.join("sim.log");
    let cycle = Duration::from_secs_f64(args.every_minutes * 60.0);
    let cycles = (args.minutes / args.every_minutes).ceil().max(1.0) as u32;

    println!(
        "\n{:>8}  {:>11} {:>8} {:>8}  {:>8} {:>8} {:>8}  headsets",
        "minute", "VmRSS kB", "threads", "fds", "+RSS", "+threads", "+fds"
    );
    println!("{}", line(started, &at_start, None, "start (before the headsets)"));

    // With fewer than two cycles there is no warm-up cycle: the first is the baseline.
    let baseline_cycle = u32::from(cycles >= 2);
    let mut base = None;
    let mut last = at_start;
    let mut sim = None;
    for i in 0..=cycles {
        // The last cycle only needs its first minute: the end's figures.
        let minutes = if i == cycles { args.every_minutes.max(2.0) } else { args.every_minutes };
        let cycle_start = Instant::now();
        let mut child = spawn_sim(&scenario, &console, args.headsets, minutes, &sim_log)?;
        // A minute in, and every headset connected (a minute more at most).
        wait(cycle_start + WARM_UP, &mut console, &mut child)?;
        let mut connected = runtime.block_on(connected_count(&console));
        let deadline = Instant::now() + WARM_UP;
        while connected < args.headsets && Instant::now() < deadline {
            wait(Instant::now() + Duration::from_secs(5), &mut console, &mut child)?;
            connected = runtime.block_on(connected_count(&console));
        }
        if connected < args.headsets {
            stop_sim(&mut child);
            let stopped = console.stop()?;
            println!(
                "soak: only {connected} of {} headsets connected in cycle {}; console {stopped}",
                args.headsets,
                i + 1
            );
            println!("  logs in {}", dir.display());
            return Ok(ExitCode::from(1));
        }
        last = console.figures().context("the console's /proc entry")?;
        let what = if i < baseline_cycle {
            "warm-up"
        } else if i == baseline_cycle {
            "baseline"
        } else if i == cycles {
            "end"
        } else {
            ""
        };
        if i == baseline_cycle {
            base = Some(last);
        }
        let note = format!("{connected}/{} connected, session cycle {} minute 1 {what}", args.headsets, i + 1);
        println!("{}", line(started, &last, base.as_ref(), note.trim_end()));
        if i == cycles {
            sim = Some(child);
            break;
        }
        // The sessions end by themselves; the next cycle starts as they do.
        let end_by = cycle_start + cycle + WARM_UP;
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if Instant::now() > end_by {
                stop_sim(&mut child);
                break;
            }
            if let Some(status) = console.exited() {
                anyhow::bail!("the console exited during the soak ({status}); its log: {}", console.log.display());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    let base = base.unwrap_or(at_start);
    let mut sim = sim.context("no session cycle ran")?;

    // The end: stop the console first, with every headset still connected,
    // as a service manager would.
    let log = console.log.clone();
    let recordings = console.recordings.clone();
    let stopped = console.stop()?;
    stop_sim(&mut sim);
    let panics = console_proc::panics(&log);
    let files = console_proc::recording_files(&recordings);
    // Each recording read as the tools read it: finished (summary and end
    // magic) or not, and its telemetry counted.
    let (mut complete, mut unfinished, mut unreadable, mut telemetry) = (0, 0, 0, 0u64);
    for file in &files {
        match recording::Recording::open(file) {
            Ok(r) => {
                if r.complete {
                    complete += 1
                } else {
                    unfinished += 1
                }
                telemetry += r.channel(recording::Channel::Telemetry).count() as u64;
            }
            Err(_) => unreadable += 1,
        }
    }

    let mut checks: Vec<(String, bool, String)> = Vec::new();
    for (what, b, e) in
        [("VmRSS", base.rss_kb, last.rss_kb), ("threads", base.threads, last.threads), ("open fds", base.fds, last.fds)]
    {
        let g = growth(b, e);
        checks.push((format!("{what} grew at most {LIMIT} %"), g <= LIMIT, format!("{b} -> {e} ({g:+.1} %)")));
    }
    checks.push(("console stopped cleanly on SIGTERM".into(), stopped.clean(), stopped.to_string()));
    checks.push((
        "every recording finished".into(),
        !files.is_empty() && complete == files.len(),
        format!(
            "{} files, {complete} complete, {unfinished} not finished, {unreadable} unreadable; {telemetry} telemetry messages",
            files.len()
        ),
    ));
    checks.push((
        "no \"panicked\" in the console log".into(),
        panics.is_empty(),
        if panics.is_empty() { "none".into() } else { format!("{} line(s), first below", panics.len()) },
    ));
    println!("\nchecks after {:.1} min", started.elapsed().as_secs_f64() / 60.0);
    for (what, ok, detail) in &checks {
        println!("  {what:<36} {:<4}  {detail}", if *ok { "ok" } else { "FAIL" });
    }
    for line in panics.iter().take(5) {
        println!("  panic: {line}");
    }
    let failed = checks.iter().filter(|(_, ok, _)| !ok).count();
    if failed == 0 {
        let _ = std::fs::remove_dir_all(&dir);
        println!("soak: all {} checks passed", checks.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("soak: {failed} check(s) failed; logs and recordings are in {}", dir.display());
        Ok(ExitCode::from(1))
    }
}

/// One report line: minute, figures, growth against the baseline.
fn line(started: Instant, now: &Figures, base: Option<&Figures>, note: &str) -> String {
    let pct = |b: u64, n: u64| base.map_or_else(|| "-".to_owned(), |_| format!("{:+.1} %", growth(b, n)));
    let b = base.copied().unwrap_or(*now);
    format!(
        "{:>8.1}  {:>11} {:>8} {:>8}  {:>8} {:>8} {:>8}  {note}",
        started.elapsed().as_secs_f64() / 60.0,
        now.rss_kb,
        now.threads,
        now.fds,
        pct(b.rss_kb, now.rss_kb),
        pct(b.threads, now.threads),
        pct(b.fds, now.fds)
    )
}

/// Sleeps until `until`, failing when the console or the headsets stopped.
fn wait(until: Instant, console: &mut ConsoleProcess, sim: &mut Child) -> anyhow::Result<()> {
    while Instant::now() < until {
        if let Some(status) = console.exited() {
            stop_sim(sim);
            anyhow::bail!("the console exited during the soak ({status}); its log: {}", console.log.display());
        }
        if let Ok(Some(status)) = sim.try_wait() {
            anyhow::bail!("the simulated headsets exited during the soak ({status})");
        }
        std::thread::sleep(until.saturating_duration_since(Instant::now()).min(Duration::from_secs(1)));
    }
    Ok(())
}

/// N simulated headsets running one session of `minutes` each.
fn spawn_sim(
    scenario: &std::path::Path,
    console: &ConsoleProcess,
    headsets: u32,
    minutes: f64,
    log: &std::path::Path,
) -> anyhow::Result<Child> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let err = out.try_clone()?;
    Command::new(crate::trinvis()?)
        .arg("sim")
        .arg("--scenario")
        .arg(scenario)
        .args(["--auto", "--console", &format!("ws://{}", console.addr), "--token", &console.headset_token])
        .args(["--patients", &headsets.to_string(), "--minutes", &minutes.to_string()])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .context("starting the simulated headsets")
}

fn stop_sim(sim: &mut Child) {
    let _ = sim.kill();
    let _ = sim.wait();
}

/// Sessions the console lists as connected (0 when it cannot be asked).
async fn connected_count(console: &ConsoleProcess) -> u32 {
    match console.sessions().await {
        Ok(list) => list.iter().filter(|s| s["link"] == "connected").count() as u32,
        Err(e) => {
            eprintln!("soak: no session list: {e:#}");
            0
        }
    }
}
