//! Project automation, run as `cargo xtask <task>`:
//!
//! - `test`: everything CI runs: formatting, clippy, every test (unit,
//!   integration, doc, property, end to end, benchmarks compiled and run
//!   once), and `trinvis lint` over `scenarios/`.
//! - `demo`: a demo session: the console and three simulated headsets in
//!   real time; prints the therapist URL.
//! - `bench-live`: command round trip (in process, and from another process
//!   while 20 headsets stream, each beside a bare echo), console ingest,
//!   recording size.
//! - `bench`: the criterion benchmarks.
//! - `bench-scenes [--baseline REV]`: frame time of every scene in the
//!   desktop window on this machine's renderer (lavapipe under Xvfb where
//!   there is no GPU), at 1280x720 with MSAA and at the app's own software
//!   settings; with `--baseline`, this tree against REV, side by side.
//! - `assets`: remakes `assets/environment/` (the scenes' image-based
//!   lighting) from the Poly Haven HDRIs in the npm package @pmndrs/assets,
//!   pinned by version and checksum; needs npm and python3. Not in `test`:
//!   the files are committed, and `assets/LICENSES.md` names each source.
//! - `build-times`: cold and warm build times of the workspace's tests, in a
//!   fresh target directory.
//! - `fuzz [--minutes M] [--seed S] [--clients N]`: mutated frames of every
//!   message kind at a console's sockets beside honest headsets (seeded),
//!   dev build so that overflows panic; fails on a panic, lost data or a
//!   connection kept open. Not in `test`.
//! - `soak [--headsets N] [--minutes M] [--every-minutes K]`: simulated
//!   headsets against a recording console for hours (default 20 for 120
//!   minutes); fails when its memory, threads or open files grow over 5 %.
//!   Not in `test`.
//!
//! Plain `std::process::Command`s: no dependencies, so `cargo xtask` builds
//! in seconds on a fresh clone.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let result = match task {
        "test" => test(&args[1..]),
        "demo" => demo(&args[1..]),
        "bench" => bench(&args[1..]),
        "bench-live" => bench_live(),
        "bench-scenes" => bench_scenes(&args[1..]),
        "bench-mirror" => bench_mirror(),
        "build-times" => build_times(),
        "assets" => assets(),
        "screenshots" => screenshots(),
        "fuzz" | "soak" => dev_check(task, &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <test [--allow-skip] | demo | bench [FILTER] | bench-live | bench-scenes [--baseline REV] | bench-mirror | screenshots | assets | build-times \
                 | fuzz [--minutes M] [--seed S] [--clients N] \
                 | soak [--headsets N] [--minutes M] [--every-minutes K] [--scenario FILE]>"
            );
            return ExitCode::from(if task == "help" || task == "--help" { 0 } else { 2 });
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nxtask {task}: {message}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

/// The clone `cargo xtask` was started in: the nearest folder up from the
/// current one with `x` and `Cargo.toml`. Not the folder this binary was
/// built from: clones share one target directory, so `target/debug/xtask`
/// may have been built by another clone.
fn root() -> PathBuf {
    let here = std::env::current_dir().expect("a current directory");
    here.ancestors()
        .find(|dir| dir.join("x").is_file() && dir.join("Cargo.toml").is_file() && dir.join("tools/xtask").is_dir())
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."), Path::to_path_buf)
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(root());
    command
}

/// Runs `command`, echoing it, and fails with `what` when it fails.
fn run(what: &str, command: &mut Command) -> Result {
    println!("\n==> {what}\n    {}", show(command));
    let status = command.status().map_err(|e| format!("{what}: could not start {}: {e}", show(command)))?;
    if status.success() { Ok(()) } else { Err(format!("{what} failed ({status})")) }
}

fn show(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a cargo subcommand (a rustup component) is installed.
fn has_cargo_tool(tool: &str) -> bool {
    cargo().args([tool, "--version"]).output().is_ok_and(|o| o.status.success())
}

/// `./x test`: everything a change must pass. Every group of tests is
/// required: one skipped for want of a tool (Chromium, Xvfb and lavapipe,
/// the OpenXR runtime) fails the run after the count, unless
/// `--allow-skip` accepts it (a machine that cannot install them).
fn test(args: &[String]) -> Result {
    let allow_skip = match args {
        [] => false,
        [flag] if flag == "--allow-skip" => true,
        _ => return Err(format!("unknown arguments {args:?}; `./x test [--allow-skip]`")),
    };
    for (tool, component) in [("fmt", "rustfmt"), ("clippy", "clippy")] {
        if !has_cargo_tool(tool) {
            return Err(format!("`cargo {tool}` is missing; install it with `rustup component add {component}`"));
        }
    }
    run("formatting", cargo().args(["fmt", "--all", "--", "--check"]))?;
    run("clippy", cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]))?;
    run(
        "scenario lint",
        cargo().args(["run", "--quiet", "--locked", "--package", "trinvis", "--", "lint", "scenarios"]),
    )?;
    let python = python_for_tests()?;
    let render = render_packages();
    let browser = browser_packages();
    let xr_runtime = monado();
    let mut counts = [0u64; 3];
    // Tests that return early for want of a tool write their names here
    // (`skipped()` in each test crate): they count as skipped, not passed.
    let skip_log = target_dir().join("skipped-tests.txt");
    let _ = std::fs::remove_file(&skip_log);
    run_tests("doc tests", cargo().args(["test", "--workspace", "--locked", "--doc"]), &mut counts)?;
    run_tests(
        "tests (unit, integration, property, end to end; benchmarks run once)",
        cargo()
            .args(["test", "--workspace", "--all-targets", "--locked"])
            .env("TRINVIS_PYTHON", &python)
            .env("TRINVIS_SKIP_LOG", &skip_log)
            .env("TRINVIS_REQUIRE_PYTHON", "1")
            .envs(render.then_some(("TRINVIS_REQUIRE_RENDER", "1")))
            .envs(browser.then_some(("TRINVIS_REQUIRE_BROWSER", "1")))
            .envs(xr_runtime.iter().flat_map(|manifest| {
                [("TRINVIS_XR_RUNTIME_JSON", manifest.as_os_str()), ("TRINVIS_REQUIRE_XR", "1".as_ref())]
            })),
        &mut counts,
    )?;
    let [passed, failed, ignored] = counts;
    let skips: Vec<String> =
        std::fs::read_to_string(&skip_log).unwrap_or_default().lines().map(str::to_owned).collect();
    let skipped = skips.len() as u64;
    println!("\nxtask test: formatting, clippy and scenario lint clean; every test binary passed");
    for skip in &skips {
        println!("skipped: {skip}");
    }
    // The last line sums every `test result:` line above, for people and CI:
    // a test that returned early for want of a tool is skipped, not passed.
    println!("tests: {} passed, {failed} failed, {} skipped", passed.saturating_sub(skipped), ignored + skipped);
    if skipped > 0 && !allow_skip {
        return Err(format!(
            "{skipped} required tests were skipped (listed above, with the tools they need). \
             Install those tools, or run `./x test --allow-skip` to accept the skips on this machine"
        ));
    }
    Ok(())
}

/// A Python with `mcap`, `websockets`, `duckdb` and Pillow for the tests that read
/// recordings, their pictures and exports and steer sessions as other languages do: a virtual environment under
/// the cache, made once. Installs `python3-venv` with apt when it can.
fn python_for_tests() -> Result<PathBuf> {
    let venv = home_cache().join("python");
    let python = venv.join("bin/python");
    let ready = |p: &Path| {
        Command::new(p).args(["-c", "import mcap, websockets, duckdb, PIL"]).output().is_ok_and(|o| o.status.success())
    };
    if ready(&python) {
        return Ok(python);
    }
    println!("\n==> Python packages for the tests (mcap, websockets, duckdb) into {}", venv.display());
    let make_venv = || Command::new("python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success());
    if !make_venv() {
        let root_user = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if root_user {
            let _ = Command::new("apt-get").args(["update", "-qq"]).status();
            let _ = Command::new("apt-get")
                .args(["install", "-y", "-qq", "python3", "python3-venv"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status();
        }
        if !make_venv() {
            return Err("python3 with its venv module is needed for the recording tests: `apt-get install python3 python3-venv`".into());
        }
    }
    run(
        "pip install",
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "mcap>=1.2",
            "websockets>=12",
            "duckdb>=1.1",
            "pillow>=10",
        ]),
    )?;
    if ready(&python) {
        Ok(python)
    } else {
        Err(format!("{} cannot import mcap, websockets, duckdb and PIL after installing them", python.display()))
    }
}

/// The HDRIs the scenes are lit by: @pmndrs/assets at this version and
/// tarball checksum (sha512: the registry's `dist.integrity`, in hex).
const HDRI_PACKAGE: &str = "@pmndrs/assets@1.7.0";
const HDRI_PACKAGE_SHA512: &str = "cc798a352fb726fbbd2b7cc90507d840a4fd3e7f4842df2cd2afde242dc25caa56a7283a2016be8af37d3600e7f9f0d3d80563521d98459fff19752e7ae01d0a";
/// Which of its HDRIs, by name (`hdri/<name>.exr.js`).
const HDRIS: [&str; 5] = ["sky", "apartment", "hall", "lobby", "park"];

/// `assets`: fetches the HDRI package with npm, checks it, decodes its EXR
/// files (DWAB-compressed, which only OpenEXR's own library reads: the
/// `OpenEXR` Python package, pinned) and writes the cube maps with
/// `tools/xtask/environment_maps.py`.
fn assets() -> Result {
    let work = target_dir().join("assets-work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("hdri")).map_err(|e| format!("{}: {e}", work.display()))?;
    run("npm pack of the HDRIs", Command::new("npm").args(["pack", "--silent", HDRI_PACKAGE]).current_dir(&work))?;
    let tarball = work.join("pmndrs-assets-1.7.0.tgz");
    let sum = Command::new("sha512sum").arg(&tarball).output().map_err(|e| format!("sha512sum: {e}"))?;
    let sum = String::from_utf8_lossy(&sum.stdout).split_whitespace().next().unwrap_or_default().to_owned();
    if sum != HDRI_PACKAGE_SHA512 {
        return Err(format!("{}: sha512 {sum}, expected {HDRI_PACKAGE_SHA512}", tarball.display()));
    }
    run("unpacking", Command::new("tar").arg("xzf").arg(&tarball).current_dir(&work))?;
    // Each HDRI is a JavaScript module holding the EXR file as base64.
    for name in HDRIS {
        let module = work.join(format!("package/hdri/{name}.exr.js"));
        let text = std::fs::read_to_string(&module).map_err(|e| format!("{}: {e}", module.display()))?;
        let encoded = text
            .split_once("base64,")
            .map(|(_, rest)| rest.trim_end().trim_end_matches(';').trim_end_matches(['\'', '"']))
            .ok_or_else(|| format!("{}: no base64 data", module.display()))?;
        let exr = base64(encoded).map_err(|e| format!("{}: {e}", module.display()))?;
        std::fs::write(work.join(format!("hdri/{name}.exr")), exr).map_err(|e| e.to_string())?;
    }
    let venv = work.join("python");
    run("python venv", Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    let python = venv.join("bin/python");
    run(
        "pip install",
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "OpenEXR==3.5.3",
            "numpy==2.4.6",
            "zstandard==0.25.0",
        ]),
    )?;
    run(
        "environment maps",
        Command::new(&python)
            .arg(root().join("tools/xtask/environment_maps.py"))
            .arg(work.join("hdri"))
            .arg(root().join("assets/environment"))
            .args(HDRIS),
    )?;
    println!(
        "
xtask assets: assets/environment/ remade; `git status assets` shows what changed"
    );
    Ok(())
}

/// Standard base64 (with padding), decoded.
fn base64(text: &str) -> Result<Vec<u8>> {
    let value = |c: u8| -> Result<u32> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("not base64: byte {c}")),
        }
        .into())
    };
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let keep = chunk.len() - 1;
        out.extend_from_slice(&n.to_be_bytes()[1..=keep]);
    }
    Ok(out)
}

/// Xvfb and Mesa's software Vulkan (lavapipe) for the render test,
/// installed with apt when running as root. False (with a clear message)
/// when they are missing and cannot be installed: the render test then
/// says it was skipped.
fn render_packages() -> bool {
    let present =
        || Command::new("xvfb-run").arg("--help").output().is_ok() && Path::new("/usr/share/vulkan/icd.d").exists();
    if present() {
        return true;
    }
    let root_user = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root_user {
        println!("\n==> apt-get install xvfb mesa-vulkan-drivers libvulkan1 (for the render test)");
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-qq", "xvfb", "xauth", "mesa-vulkan-drivers", "libvulkan1"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
    }
    if present() {
        return true;
    }
    println!("\nNOTE: xvfb and mesa-vulkan-drivers are missing, so the render test is skipped:");
    println!("      sudo apt-get install xvfb xauth mesa-vulkan-drivers libvulkan1");
    false
}

/// Chromium and chromedriver for the therapist-page tests (tests/browser.rs),
/// installed with apt when running as root. False (with a clear message)
/// when they are missing and cannot be installed: those tests then say they
/// were skipped.
fn browser_packages() -> bool {
    let on_path = |name: &str| Command::new("sh").args(["-c", &format!("command -v {name}")]).output();
    let present = || {
        on_path("chromium").is_ok_and(|o| o.status.success())
            && on_path("chromedriver").is_ok_and(|o| o.status.success())
    };
    if present() {
        return true;
    }
    let root_user = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root_user {
        println!("\n==> apt-get install chromium chromium-driver (for the therapist-page tests)");
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-qq", "chromium", "chromium-driver"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
    }
    if present() {
        return true;
    }
    println!("\nNOTE: chromium and chromedriver are missing, so the therapist-page tests are skipped:");
    println!("      sudo apt-get install chromium chromium-driver");
    false
}

/// A real OpenXR runtime for the XR tests: Monado, built from the source
/// snapshot in `../shared/xr/` (next to the clone) by its own script, which
/// installs its build dependencies with apt, builds once into the cache
/// (about 3 min on 2 cores) and reuses that build. Its manifest, or `None`
/// with a clear message: the XR tests then say they are skipped. A user's
/// own runtime (Monado, SteamVR) is found by the OpenXR loader as usual;
/// this is only for the tests, and `TRINVIS_XR_RUNTIME_JSON` naming a
/// runtime's manifest uses that one instead.
fn monado() -> Option<PathBuf> {
    if let Some(manifest) = std::env::var_os("TRINVIS_XR_RUNTIME_JSON").map(PathBuf::from).filter(|p| p.exists()) {
        println!("\n==> OpenXR runtime for the XR tests: {} (TRINVIS_XR_RUNTIME_JSON)", manifest.display());
        return Some(manifest);
    }
    let script = root().join("../shared/xr/build-monado.sh");
    if !script.exists() {
        println!(
            "\nNOTE: no ../shared/xr/build-monado.sh beside the clone and no TRINVIS_XR_RUNTIME_JSON, \
             so the OpenXR tests are skipped"
        );
        return None;
    }
    println!("\n==> OpenXR runtime for the XR tests: {} (built once, then reused)", script.display());
    let out = Command::new("bash").arg(&script).stderr(std::process::Stdio::inherit()).output();
    let manifest = out
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().last().map(PathBuf::from))
        .filter(|p| p.exists());
    match &manifest {
        Some(path) => println!("    runtime manifest: {}", path.display()),
        None => println!("\nNOTE: Monado could not be built here (see above), so the OpenXR tests are skipped"),
    }
    manifest
}

fn home_cache() -> PathBuf {
    std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from).join(".cache/trinvis")
}

/// Runs a `cargo test` command, passing its output through and adding up its
/// `test result:` lines into `counts` (passed, failed, ignored).
fn run_tests(what: &str, command: &mut Command, counts: &mut [u64; 3]) -> Result {
    use std::io::{BufRead, BufReader};
    println!("\n==> {what}\n    {}", show(command));
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: could not start {}: {e}", show(command)))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            for (i, word) in ["passed", "failed", "ignored"].iter().enumerate() {
                counts[i] += count_before(rest, word);
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() { Ok(()) } else { Err(format!("{what} failed ({status})")) }
}

/// In `ok. 5 passed; 0 failed; …`, the number before `word`.
fn count_before(summary: &str, word: &str) -> u64 {
    summary
        .split(';')
        .find_map(|part| part.trim().trim_start_matches("ok. ").trim_start_matches("FAILED. ").strip_suffix(word))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// A demo session: the console, the headset app (a window where there is a
/// display, headless otherwise) worn by the synthetic patient, and two more
/// simulated headsets; prints the therapist URL.
fn demo(args: &[String]) -> Result {
    use std::io::{BufRead, BufReader};
    let scenario = args.first().map_or("scenarios/heights.ron", String::as_str);
    run(
        "build",
        cargo().args(["build", "--quiet", "--locked", "--package", "trinvis", "--package", "trinvis-headset"]),
    )?;
    let exe = target_dir().join("debug/trinvis");
    let token = random_token()?;
    let mut console = Command::new(&exe)
        .current_dir(root())
        .args(["console", "--bind", "127.0.0.1:7450", "--recordings", "recordings", "--headset-token", &token])
        // A demo starts afresh: the sessions of an earlier demo are not waited for.
        .arg("--data")
        .arg(std::env::temp_dir().join(format!("trinvis-demo-{}", std::process::id())))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the console: {e}"))?;
    let stdout = console.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut therapist = None;
    for line in lines.by_ref() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(url) = line.trim().strip_prefix("therapist:") {
            therapist = Some(url.trim().to_owned());
        }
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    let Some(url) = therapist else {
        let _ = console.wait();
        return Err("the console did not start (is port 7450 in use? see its message above)".into());
    };
    std::thread::spawn(move || lines.for_each(|l| println!("{}", l.unwrap_or_default())));
    let window = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    println!("\n  Open {url} in a browser to watch and steer the sessions.");
    println!(
        "  The headset app runs {scenario} {} worn by the synthetic patient,",
        if window { "in a window" } else { "headless (no display)" }
    );
    println!("  beside two simulated headsets; all in automatic mode, for 30 minutes: they climb by themselves,");
    if window {
        println!("  the page shows the window's picture beside its chart (the mirror: what the patient sees),");
    }
    println!("  and the safe-scene button, pause and the dial still work. Ctrl-C stops.\n");
    let mut headset = Command::new(target_dir().join("debug/trinvis-headset"))
        .current_dir(root())
        .args(["--scenario", scenario, "--console", "ws://127.0.0.1:7450", "--token", &token])
        .args(["--patient", "synthetic", "--patient-code", "DEMO-001", "--auto", "--minutes", "30"])
        .args(["--display", if window { "desktop" } else { "headless" }])
        .spawn()
        .map_err(|e| format!("cannot start the headset: {e}"))?;
    let sim = Command::new(&exe)
        .current_dir(root())
        .args(["sim", "--scenario", scenario, "--console", "ws://127.0.0.1:7450", "--token", &token])
        .args(["--patients", "2", "--seed", "2", "--minutes", "30", "--auto"])
        .status();
    let _ = headset.kill();
    let _ = headset.wait();
    let _ = Command::new("kill").args(["-INT", &console.id().to_string()]).status();
    let _ = console.wait();
    sim.map_err(|e| e.to_string())?;
    println!("\nRecordings are in recordings/: `cargo trinvis inspect recordings/*.mcap`.");
    Ok(())
}

/// 128 random bits from the operating system, as hex.
fn random_token() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).map_err(|e| e.to_string())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn bench(args: &[String]) -> Result {
    let mut command = cargo();
    command.args([
        "bench",
        "--locked",
        "--package",
        "trinvis-scenario",
        "--package",
        "trinvis-session",
        "--package",
        "trinvis-sim",
    ]);
    if !args.is_empty() {
        command.arg("--").args(args);
    }
    run("benchmarks", &mut command)?;
    // Export and seek on a 60-minute recording (the bench records it with
    // the `trinvis` binary, so it lives in that package).
    let mut research = cargo();
    research.args(["bench", "--locked", "--package", "trinvis", "--bench", "research"]);
    if !args.is_empty() {
        research.arg("--").args(args);
    }
    run("research benchmarks", &mut research)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// The live loop measured: command round trip against a bare echo, console
/// ingest with many simulated headsets, recording size per session-hour.
fn bench_live() -> Result {
    run(
        "release build of trinvis and trinvis-stress",
        cargo().args(["build", "--release", "--locked", "--package", "trinvis", "--package", "trinvis-stress"]),
    )?;
    let exe = target_dir().join("release/trinvis");
    run(
        "command round trip",
        cargo().args(["bench", "--locked", "--package", "trinvis-console", "--bench", "round_trip"]),
    )?;
    println!(
        "\n==> console ingest: N simulated headsets at 90 Hz for 30 s, recording on, console and load on this machine"
    );
    println!("{:>9} {:>12} {:>12} {:>10} {:>14}", "headsets", "samples sent", "recorded", "console", "unacked at end");
    for n in [50u32, 100, 200] {
        let (sent, recorded, cpu, unacked) = ingest(&exe, n, 0.5, 1.0, 1000)?;
        println!("{n:>9} {sent:>12} {recorded:>12} {:>9.0}% {unacked:>14}", cpu * 100.0);
    }
    println!("  (console CPU as a share of one core; 100 % = one of this machine's cores busy)");
    println!(
        "\n==> recording size: one 60-minute heights session simulated at 60x, chunks closed every simulated second"
    );
    ingest(&exe, 1, 60.0, 60.0, 1000 / 60)?;
    out_of_process_round_trip(&exe)
}

/// Starts `command`, reads its first line of output and returns the child
/// with the address printed after `marker` (`http://`, `ws://`).
fn spawn_with_address(command: &mut Command, marker: &str) -> Result<(std::process::Child, String)> {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", show(command)))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().ok_or("printed nothing")?.map_err(|e| e.to_string())?;
    // Keep reading what it prints, or it dies writing to a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let address = first.rsplit(marker).next().unwrap_or_default().trim().to_owned();
    Ok((child, address))
}

/// A therapist's command round trip as a browser makes it, from another
/// process (Python's websockets, three connections), to a headset in that
/// process that answers at once, while 20 simulated headsets stream to the
/// console; beside it, the same client against a bare tungstenite echo
/// server (`trinvis-stress bench-echo`) in the same run.
fn out_of_process_round_trip(exe: &Path) -> Result {
    let python = python_for_tests()?;
    let script = root().join("tools/xtask/bench/round_trip.py");
    let measure = |args: &[&str]| -> Result<(f64, f64, u64)> {
        let out = Command::new(&python).arg(&script).args(args).args(["--seconds", "30"]).output();
        let out = out.map_err(|e| format!("{}: {e}", python.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with("round_trip "))
            .ok_or_else(|| format!("round_trip.py printed no result\n{}", String::from_utf8_lossy(&out.stderr)))?;
        let field = |name: &str| -> f64 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN)
        };
        Ok((field("p50_ms"), field("p99_ms"), field("n") as u64))
    };
    println!(
        "\n==> command round trip from another process (Python websockets, 3 browser connections, 30 s), \
         20 simulated headsets streaming; a bare tungstenite echo beside it"
    );
    let dir = std::env::temp_dir().join(format!("trinvis-rtt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (mut console, address) = spawn_with_address(
        Command::new(exe)
            .args(["console", "--bind", "127.0.0.1:0", "--headset-token", "bench-token"])
            .args(["--therapist-token", "bench-therapist", "--data"])
            .arg(dir.join("data"))
            .arg("--recordings")
            .arg(&dir),
        "http://",
    )?;
    let mut sim = Command::new(exe)
        .current_dir(root())
        .args(["sim", "--scenario", "scenarios/heights.ron", "--auto", "--token", "bench-token"])
        .args(["--console", &format!("ws://{address}"), "--patients", "20", "--minutes", "2"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    std::thread::sleep(std::time::Duration::from_secs(3));
    let console_result = measure(&["console", &format!("ws://{address}"), "bench-therapist", "bench-token"]);
    for child in [&mut sim, &mut console] {
        let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let stress = exe.with_file_name("trinvis-stress");
    let (mut echo, echo_address) = spawn_with_address(Command::new(stress).arg("bench-echo"), "ws://")?;
    let echo_result = measure(&["echo", &format!("ws://{echo_address}")]);
    let _ = echo.kill();
    let _ = echo.wait();
    let ((c50, c99, cn), (e50, e99, en)) = (console_result?, echo_result?);
    println!("{:<44} {:>9} {:>9} {:>6}", "", "p50 ms", "p99 ms", "n");
    println!("{:<44} {c50:>9.3} {c99:>9.3} {cn:>6}", "console: command -> headset -> command_result");
    println!("  (the headset answers at once; a real one answers at its next frame, up to 11 ms at 90 Hz)");
    println!("{:<44} {e50:>9.3} {e99:>9.3} {en:>6}", "bare tungstenite echo of the same text");
    println!("{:<44} {:>8.2}x {:>8.2}x", "ratio", c50 / e50, c99 / e99);
    Ok(())
}

/// Whether the headset's window needs Xvfb here (no display), failing when
/// it does and Xvfb or lavapipe is missing.
fn needs_xvfb() -> Result<bool> {
    let xvfb = std::env::var_os("DISPLAY").is_none();
    if xvfb && !render_packages() {
        return Err("no display and no xvfb-run: install xvfb and mesa-vulkan-drivers".into());
    }
    Ok(xvfb)
}

/// `exe` as a command that opens its window: under `xvfb-run` when there is
/// no display, on Vulkan (lavapipe without a GPU).
fn in_window(exe: &Path, xvfb: bool) -> Command {
    let mut command = if xvfb {
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", "-screen 0 1280x720x24"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    command.env("WGPU_BACKEND", "vulkan");
    command
}

/// Builds the headset; returns its binary.
fn build_headset() -> Result<PathBuf> {
    run("build of trinvis-headset", cargo().args(["build", "--locked", "--package", "trinvis-headset"]))?;
    Ok(target_dir().join("debug/trinvis-headset"))
}

/// Every scene at its hardest step, timed in the desktop window: at 1280x720
/// with MSAA (what a GPU gets) and at the app's own software settings
/// (640x360, no MSAA), side by side. Under Xvfb on lavapipe when there is no
/// display; the dev build (dependencies at opt-level 2), since the renderer's
/// own code (Mesa) does the work.
///
/// `./x bench-scenes [--baseline REV]`: each scene's frame time at its
/// hardest step in the window, on this machine's renderer. Without a
/// baseline: full quality against the software settings. With one: the
/// software settings of this tree against REV's, built from a git worktree
/// (into the shared target directory, its binary copied aside), measured
/// alternately in the same run, as a ratio.
fn bench_scenes(args: &[String]) -> Result {
    let baseline = match args {
        [] => None,
        [flag, rev] if flag == "--baseline" => Some(rev.clone()),
        _ => return Err(format!("unknown arguments {args:?}; `./x bench-scenes [--baseline REV]`")),
    };
    let xvfb = needs_xvfb()?;
    let aside = target_dir().join("bench-scenes");
    std::fs::create_dir_all(&aside).map_err(|e| format!("{}: {e}", aside.display()))?;
    // The baseline's name and its binary.
    let base = baseline.map(|rev| build_baseline(&rev, &aside).map(|(exe, dir)| (rev, exe, dir))).transpose()?;
    let exe = build_headset()?;
    let ours = root().join("scenarios");
    let time =
        |exe: &Path, dir: &Path, scene: &str, level: usize, full: bool, frames: &str| -> Result<(f64, f64, f64, f64)> {
            let file = dir.join(format!("{scene}.ron"));
            let mut command = in_window(exe, xvfb);
            command
                .args(["--display", "desktop", "--level", &level.to_string(), "--measure", frames, "--scenario"])
                .arg(&file)
                .args(full.then_some("--full-quality"));
            let out = command.output().map_err(|e| format!("{}: {e}", show(&command)))?;
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text
                .lines()
                .find(|l| l.starts_with("frames "))
                .ok_or_else(|| format!("{scene}: no frame times\n{}", String::from_utf8_lossy(&out.stderr)))?;
            let field = |name: &str| -> f64 {
                let mut words = line.split_whitespace();
                words.find(|w| *w == name).and_then(|_| words.next()).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
            };
            // A baseline from before the counts prints none: NaN.
            Ok((field("mean_ms"), field("p95_ms"), field("draws"), field("triangles")))
        };
    println!("\n==> frame time per scene, hardest step, milliseconds: mean (p95)");
    let (left, right) = match &base {
        Some((rev, _, _)) => (format!("{rev} (software)"), "this tree (software)"),
        None => ("1280x720 MSAA".to_owned(), "software settings"),
    };
    println!("{:<18} {left:>22} {right:>22} {:>8} {:>7} {:>10}", "scene", "ratio", "draws", "triangles");
    let mut worst: f64 = 0.0;
    for scene in ["heights", "spiders", "public-speaking", "flying", "claustrophobia", "safe-place"] {
        let file = root().join("scenarios").join(format!("{scene}.ron"));
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        // The scenario has an id too; a level past the last step is clamped anyway.
        let level = text.matches("id: \"").count().saturating_sub(1).max(1);
        let (a, b) = match &base {
            // Alternately, three runs of 100 frames each, so that both meet
            // the same machine; the median run of each (a software
            // rasteriser on 2 cores is noisy: one run can be twice another).
            Some((_, base, dir)) => {
                let (mut old, mut new) = (Vec::new(), Vec::new());
                for _ in 0..3 {
                    old.push(time(base, dir, scene, level, false, "100")?);
                    new.push(time(&exe, &ours, scene, level, false, "100")?);
                }
                let median = |mut runs: Vec<(f64, f64, f64, f64)>| {
                    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
                    runs[runs.len() / 2]
                };
                (median(old), median(new))
            }
            None => (time(&exe, &ours, scene, level, true, "15")?, time(&exe, &ours, scene, level, false, "40")?),
        };
        let ratio = if base.is_some() { b.0 / a.0 } else { a.0 / b.0 };
        worst = worst.max(ratio);
        println!(
            "{scene:<18} {:>22} {:>22} {:>7.2}x {:>7} {:>10}",
            format!("{:.1} ({:.1})", a.0, a.1),
            format!("{:.1} ({:.1})", b.0, b.1),
            ratio,
            b.2,
            b.3
        );
    }
    if base.is_some() {
        println!("  (ratio: this tree's mean frame time over the baseline's; the largest is {worst:.2}x)");
    } else {
        println!("  (the ratio is how much faster the software settings draw the same scene)");
    }
    println!("  (draws and triangles: what the camera draws at the hardest step, this tree, software settings)");
    Ok(())
}

/// `./x bench-mirror`: what the mirror costs the frame. Three scenes at
/// their hardest step in the window on the software tier (lavapipe under
/// Xvfb without a display), the mirror off against on at 5 and 10 pictures
/// a second (`--mirror N`: the copy of the view, its read-back, shrinking
/// and JPEG encoding, as for a console; the pictures go nowhere), alternate
/// runs of 150 frames, the median run of three each.
fn bench_mirror() -> Result {
    let xvfb = needs_xvfb()?;
    let exe = build_headset()?;
    let run = |scene: &str, level: usize, mirror: Option<&str>| -> Result<(f64, f64, String)> {
        let mut command = in_window(&exe, xvfb);
        command
            .args(["--display", "desktop", "--level", &level.to_string(), "--measure", "150", "--scenario"])
            .arg(root().join("scenarios").join(format!("{scene}.ron")));
        if let Some(fps) = mirror {
            command.args(["--mirror", fps]);
        }
        let out = command.output().map_err(|e| format!("{}: {e}", show(&command)))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = |prefix: &str| text.lines().find(|l| l.starts_with(prefix)).unwrap_or_default().to_owned();
        let frames = line("frames ");
        let field = |name: &str| -> f64 {
            let mut words = frames.split_whitespace();
            words.find(|w| *w == name).and_then(|_| words.next()).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
        };
        if frames.is_empty() {
            return Err(format!("{scene}: no frame times\n{}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok((field("mean_ms"), field("p95_ms"), line("mirror ")))
    };
    println!("\n==> the mirror's cost on the frame, software tier, hardest step, ms: mean (p95) of the median run");
    println!(
        "{:<16} {:>14} {:>14} {:>7} {:>14} {:>7}   pictures at 5/s",
        "scene", "mirror off", "5/s", "ratio", "10/s", "ratio"
    );
    for scene in ["spiders", "heights", "public-speaking"] {
        let file = root().join("scenarios").join(format!("{scene}.ron"));
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let level = text.matches("id: \"").count().saturating_sub(1).max(1);
        let (mut off, mut five, mut ten) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            off.push(run(scene, level, None)?);
            five.push(run(scene, level, Some("5"))?);
            ten.push(run(scene, level, Some("10"))?);
        }
        let median = |mut runs: Vec<(f64, f64, String)>| {
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            runs.swap_remove(runs.len() / 2)
        };
        let (off, five, ten) = (median(off), median(five), median(ten));
        println!(
            "{scene:<16} {:>14} {:>14} {:>6.3}x {:>14} {:>6.3}x   {}",
            format!("{:.1} ({:.1})", off.0, off.1),
            format!("{:.1} ({:.1})", five.0, five.1),
            five.0 / off.0,
            format!("{:.1} ({:.1})", ten.0, ten.1),
            ten.0 / off.0,
            five.2.trim_start_matches("mirror ")
        );
    }
    println!("  (ratio: mean frame time with the mirror over without; the same binary, alternate runs)");
    Ok(())
}

/// `cargo xtask screenshots`: the gallery, `docs/screenshots/<scenario>/step-NN.png`
/// for every step of every scenario in `scenarios/`, drawn by the headset's
/// window on the software tier (lavapipe under Xvfb when there is no display).
fn screenshots() -> Result {
    let xvfb = needs_xvfb()?;
    let exe = build_headset()?;
    let dir = root().join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    let mut index = String::from(
        "# Gallery: every step of every scenario\n\n\
         Made by `cargo xtask screenshots` (`./x screenshots`): the headset's window on the software tier \
         (640x360, lavapipe under Xvfb), from the patient's default head pose, after 20 frames at the step, \
         without the status line.\n\n\
         Draw calls and triangles are what the camera draws at that moment: the meshes Bevy found visible \
         to it, their triangles, and one draw per distinct mesh and material (Bevy draws each such batch \
         as one instanced call; shadow passes not counted).\n",
    );
    for file in files {
        let stem = file.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        let out = root().join("docs/screenshots").join(&stem);
        // A step the scenario no longer has leaves no picture behind.
        if out.exists() {
            std::fs::remove_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        }
        let mut command = in_window(&exe, xvfb);
        command.args(["--display", "desktop", "--frames", "20", "--scenario"]).arg(&file).arg("--gallery").arg(&out);
        println!("\n==> gallery of {stem}\n    {}", show(&command));
        let output = command.output().map_err(|e| format!("{}: {e}", show(&command)))?;
        if !output.status.success() {
            return Err(format!(
                "gallery of {stem} failed ({})\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        // `step N draws D triangles T`, one line per picture.
        let mut rows = Vec::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["step", n, "draws", d, "triangles", t] = words[..] {
                rows.push((n.parse::<u32>().unwrap_or(0), d.to_owned(), t.to_owned()));
            }
        }
        let pictures = std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0);
        if pictures == 0 || pictures != rows.len() {
            return Err(format!("gallery of {stem}: {pictures} pictures, {} counted steps", rows.len()));
        }
        println!("{stem}: {pictures} pictures in {}", out.display());
        index.push_str(&format!("\n## {stem}\n\n| step | picture | draw calls | triangles |\n|---|---|---|---|\n"));
        for (n, draws, triangles) in rows {
            index.push_str(&format!("| {n} | ![{stem} step {n}]({stem}/step-{n:02}.png) | {draws} | {triangles} |\n"));
        }
    }
    let page = root().join("docs/screenshots/gallery.md");
    std::fs::write(&page, index).map_err(|e| format!("{}: {e}", page.display()))?;
    println!("\nthe gallery's index: {}", page.display());
    Ok(())
}

/// Builds `rev`'s headset in a git worktree beside the clone (sharing the
/// target directory, so only the workspace's own crates build) and copies
/// its binary into `aside`, with `rev`'s own scenarios beside it (an older
/// headset refuses a parameter its schema did not have yet): returns both.
fn build_baseline(rev: &str, aside: &Path) -> Result<(PathBuf, PathBuf)> {
    let git = |args: &[&str]| -> Result<String> {
        let out = Command::new("git").args(args).current_dir(root()).output().map_err(|e| format!("git: {e}"))?;
        if !out.status.success() {
            return Err(format!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "--short", &format!("{rev}^{{commit}}")])?;
    let scenarios = aside.join(format!("scenarios-{commit}"));
    std::fs::create_dir_all(&scenarios).map_err(|e| format!("{}: {e}", scenarios.display()))?;
    for name in git(&["ls-tree", "--name-only", &commit, "scenarios/"])?.lines() {
        let text = git(&["show", &format!("{commit}:{name}")])?;
        let file = scenarios.join(Path::new(name).file_name().unwrap_or_default());
        std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    let exe = aside.join(format!("trinvis-headset-{commit}"));
    if exe.exists() {
        println!("\n==> baseline {rev} ({commit}): {} (built before)", exe.display());
        return Ok((exe, scenarios));
    }
    let tree = aside.join(format!("tree-{commit}"));
    let tree_arg = tree.to_string_lossy().into_owned();
    if !tree.exists() {
        git(&["worktree", "add", "--detach", &tree_arg, &commit])?;
    }
    let built = run(
        &format!("build of the baseline {rev} ({commit})"),
        cargo().args(["build", "--locked", "--package", "trinvis-headset"]).current_dir(&tree),
    );
    let copied = built.and_then(|()| {
        std::fs::copy(target_dir().join("debug/trinvis-headset"), &exe).map_err(|e| format!("{}: {e}", exe.display()))
    });
    let _ = git(&["worktree", "remove", "--force", &tree_arg]);
    copied.map(|_| (exe, scenarios))
}

/// Runs a console and `n` simulated headsets; returns samples sent, samples
/// recorded, the console's CPU use (cores) and messages unacknowledged.
fn ingest(exe: &Path, n: u32, minutes: f64, speed: f64, flush_ms: u64) -> Result<(u64, u64, f64, u64)> {
    use std::io::{BufRead, BufReader};
    let dir = std::env::temp_dir().join(format!("trinvis-ingest-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut console = Command::new(exe)
        .args([
            "console",
            "--bind",
            "127.0.0.1:0",
            "--headset-token",
            "bench-token",
            "--flush-interval-ms",
            &flush_ms.to_string(),
            // More headsets than a clinic's default of 32 sessions.
            "--max-sessions",
            "1000",
            "--data",
        ])
        .arg(dir.join("data"))
        .arg("--recordings")
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = console.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().ok_or("console printed nothing")?.map_err(|e| e.to_string())?;
    // Keep reading what the console prints, or it dies writing to a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let address = first.rsplit("http://").next().unwrap_or_default().trim().to_owned();
    let cpu = |pid: u32| -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
        let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|x| x.parse::<f64>().ok()).sum());
        ticks / 100.0
    };
    let cpu_before = cpu(console.id());
    let started = Instant::now();
    let sim = Command::new(exe)
        .current_dir(root())
        .args(["sim", "--scenario", "scenarios/heights.ron", "--auto", "--token", "bench-token"])
        .args(["--console", &format!("ws://{address}"), "--patients", &n.to_string()])
        .args(["--minutes", &minutes.to_string(), "--speed", &speed.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    let wall = started.elapsed().as_secs_f64();
    let console_cpu = (cpu(console.id()) - cpu_before) / wall;
    let _ = Command::new("kill").args(["-INT", &console.id().to_string()]).status();
    let _ = console.wait();
    let text = String::from_utf8_lossy(&sim.stdout);
    let totals = text.lines().rev().find(|l| l.starts_with("samples:")).unwrap_or_default();
    let numbers: Vec<u64> = totals.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    let (sent, unacked) = (numbers.first().copied().unwrap_or(0), numbers.last().copied().unwrap_or(0));
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "mcap"))
        .collect();
    let inspect = Command::new(exe).arg("inspect").args(&files).output().map_err(|e| e.to_string())?;
    let report = String::from_utf8_lossy(&inspect.stdout);
    if n == 1 {
        print!("{report}");
    }
    let recorded = report
        .lines()
        .filter_map(|l| l.trim().strip_prefix("/telemetry"))
        .filter_map(|c| c.trim().parse::<u64>().ok())
        .sum();
    let _ = std::fs::remove_dir_all(&dir);
    Ok((sent, recorded, console_cpu, unacked))
}

/// `fuzz` and `soak`: `trinvis-stress`'s developer checks (beside the
/// `trinvis` binary they start as the console and the headsets), run
/// from the clone's root (scenarios are found from there), with the flags
/// passed through. The fuzz runs the dev build: its overflow checks and
/// debug assertions turn arithmetic on hostile numbers into panics the fuzz
/// sees, where a release build wraps silently (the console of 746bc60
/// panicked 7 times in a one-minute dev-build fuzz, never in release). The
/// soak runs the release build, whose memory is what a clinic runs.
fn dev_check(task: &str, args: &[String]) -> Result {
    let (what, flags, dir): (&str, &[&str], &str) = if task == "fuzz" {
        ("dev build of trinvis and trinvis-stress (overflow checks on)", &[], "debug")
    } else {
        ("release build of trinvis and trinvis-stress", &["--release"], "release")
    };
    run(what, cargo().args(["build", "--locked", "--package", "trinvis", "--package", "trinvis-stress"]).args(flags))?;
    run(
        &format!("trinvis-stress {task}"),
        Command::new(target_dir().join(dir).join("trinvis-stress")).current_dir(root()).arg(task).args(args),
    )
}

fn build_times() -> Result {
    let target = std::env::temp_dir().join(format!("trinvis-build-times-{}", std::process::id()));
    let timed = |what: &str| -> Result<f64> {
        let started = Instant::now();
        run(
            what,
            cargo().env("CARGO_TARGET_DIR", &target).args([
                "test",
                "--workspace",
                "--all-targets",
                "--locked",
                "--no-run",
            ]),
        )?;
        Ok(started.elapsed().as_secs_f64())
    };
    let cold = timed("cold build of all test targets")?;
    let touched = root().join("crates/session/src/lib.rs");
    let text = std::fs::read(&touched).map_err(|e| e.to_string())?;
    std::fs::write(&touched, &text).map_err(|e| e.to_string())?;
    let warm = timed("warm rebuild after touching crates/session/src/lib.rs")?;
    let started = Instant::now();
    run(
        "test run",
        cargo().env("CARGO_TARGET_DIR", &target).args(["test", "--workspace", "--all-targets", "--locked"]),
    )?;
    let test_run = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&target);
    println!(
        "\nbuild times on {} cores: cold {cold:.0} s, warm {warm:.1} s, test run {test_run:.1} s",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::count_before;

    #[test]
    fn reads_cargo_test_summaries() {
        let line = "ok. 12 passed; 3 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.35s";
        assert_eq!(
            [count_before(line, "passed"), count_before(line, "failed"), count_before(line, "ignored")],
            [12, 3, 1]
        );
        assert_eq!(count_before("FAILED. 6 passed; 2 failed; 0 ignored", "failed"), 2);
    }
}
