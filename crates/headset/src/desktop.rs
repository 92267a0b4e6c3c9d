//! The desktop window: the fallback renderer and the way most development
//! happens. Mouse look (right button), keys for the patient and, without a
//! console, for a local therapist; the SUDS prompt; the safe-scene fade; and
//! lower render settings on a software adapter.

use std::path::PathBuf;

use bevy::input::mouse::AccumulatedMouseMotion;
use bevy::prelude::*;
use bevy::render::renderer::RenderAdapterInfo;
use bevy::window::{PrimaryWindow, WindowResolution};
use session::{Command, PatientInput, State};

use crate::HeadsetSystems;
use crate::engine::{Drive, Engine, PatientAction, TherapistCommand};
use crate::prompt::{PromptHidden, Rating};
use crate::telemetry::Head;

/// The digit keys 0 to 9, in order (tens of a rating, tenths of a replay).
pub const DIGITS: [KeyCode; 10] = [
    KeyCode::Digit0,
    KeyCode::Digit1,
    KeyCode::Digit2,
    KeyCode::Digit3,
    KeyCode::Digit4,
    KeyCode::Digit5,
    KeyCode::Digit6,
    KeyCode::Digit7,
    KeyCode::Digit8,
    KeyCode::Digit9,
];

/// Adds the window, the renderer and the input plugins.
/// With `whole_frames`, shaders compile before their first frame instead of
/// in the background: a saved or timed frame is then always the whole scene,
/// however busy the machine (in a session that would stall the first fade
/// instead). In the background, lavapipe on two cores draws nothing of a
/// scene for its first 40 frames or so, and those frames are quick.
pub fn add_window_plugins(app: &mut App, whole_frames: bool) {
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: "Trinvis".into(),
                    resolution: WindowResolution::new(1280, 720),
                    ..default()
                }),
                ..default()
            })
            .set(bevy::render::RenderPlugin { synchronous_pipeline_compilation: whole_frames, ..default() }),
    );
}

/// The window's camera, keys, prompt and fade.
#[derive(Debug)]
pub struct DesktopPlugin {
    /// Without a console, the window's keys steer the session too.
    pub local_therapist: bool,
    /// A recording drives the scene: the keys play, pause, seek and change speed.
    pub replay: bool,
}

/// `--screenshot DIR --frames N`: save frames as PNG files, then quit.
#[derive(Resource, Clone, Debug)]
pub struct Screenshots {
    /// Where the PNG files go.
    pub dir: PathBuf,
    /// How many frames to run before the shot.
    pub frames: u32,
    /// File name stem.
    pub name: String,
    /// Also save `stimulus-mask.png`: the same frame, white where the
    /// stimulus is drawn and black elsewhere (`--stimulus-mask`).
    pub mask: bool,
}

/// `--gallery DIR`: every step of the scenario in turn, `DIR/step-NN.png`
/// each after `frames` frames at that step, then quit. The gallery drives
/// the scene's level itself (as a replay does), on a fixed clock of 30
/// frames a second, so the same tree draws the same pictures.
#[derive(Resource, Clone, Debug)]
pub struct Gallery {
    /// Where the PNG files go.
    pub dir: PathBuf,
    /// The scenario's steps.
    pub steps: usize,
    /// Frames at each step before its picture.
    pub frames: u32,
}

/// `--measure N`: time N frames after a warm-up, print the numbers, quit.
#[derive(Resource, Clone, Debug)]
pub struct Measure {
    /// Frames to time.
    pub frames: u32,
    /// Frames to skip first (pipelines compile, the window settles).
    pub warmup: u32,
}

/// `--full-quality`: keep the full window and MSAA even on a software
/// adapter, as on a GPU (to measure what the lowering saves).
#[derive(Resource, Clone, Copy, Debug)]
pub struct FullQuality;

#[derive(Resource, Debug)]
struct LocalTherapist;

#[derive(Component, Debug)]
struct Fade;

#[derive(Component, Debug)]
struct Prompt;

#[derive(Component, Debug)]
struct Status;

impl Plugin for DesktopPlugin {
    fn build(&self, app: &mut App) {
        if self.local_therapist {
            app.insert_resource(LocalTherapist);
        }
        app.insert_resource(ClearColor(Color::srgb(0.1, 0.1, 0.1)))
            .insert_resource(GlobalAmbientLight {
                color: Color::WHITE,
                brightness: crate::scene::surroundings::FILL_CD_M2,
                ..default()
            })
            .add_systems(Startup, (camera_and_overlay, choose_tier).chain().after(crate::scene::spawn))
            .add_systems(Update, fade.in_set(HeadsetSystems::Observe));
        if self.replay {
            app.add_systems(Update, crate::replay::replay_keys.in_set(HeadsetSystems::Input))
                .add_systems(Update, replay_status.in_set(HeadsetSystems::Observe));
        } else {
            app.add_systems(Update, (look, keys, prompt_keys).in_set(HeadsetSystems::Input))
                .add_systems(Update, (prompt_view, status).in_set(HeadsetSystems::Observe));
        }
        app.add_systems(Last, screenshot.run_if(resource_exists::<Screenshots>))
            .add_systems(Last, gallery.run_if(resource_exists::<Gallery>))
            .add_systems(Last, measure.run_if(resource_exists::<Measure>));
    }
}

/// Where `--screenshot` is: running up to the frame, saving the picture,
/// painting the mask, saving the mask.
#[derive(Debug, Default)]
enum Shot {
    #[default]
    Running,
    Picture(std::sync::Arc<std::sync::atomic::AtomicBool>),
    Painted(u32),
    Mask(std::sync::Arc<std::sync::atomic::AtomicBool>),
}

/// Counts frames, takes the shot (and the mask), and quits once they are on
/// disk. Time stops at the picture, so the mask shows the same frame.
#[allow(clippy::too_many_arguments, reason = "Bevy injects system parameters")]
fn screenshot(
    shots: Res<Screenshots>,
    mut frames: Local<u32>,
    mut stage: Local<Shot>,
    mut time: ResMut<Time<Virtual>>,
    mut commands: Commands,
    mut exit: MessageWriter<AppExit>,
    mut paint: crate::scene::MaskPainter,
) {
    use std::sync::atomic::Ordering;

    let mut shoot = |file: String| save_window(&mut commands, shots.dir.join(file));
    *frames += 1;
    *stage = match std::mem::take(&mut *stage) {
        Shot::Running if *frames >= shots.frames => {
            time.pause();
            Shot::Picture(shoot(format!("{}.png", shots.name)))
        }
        Shot::Picture(done) if done.load(Ordering::Relaxed) => {
            if !shots.mask {
                exit.write(AppExit::Success);
                return;
            }
            paint.paint();
            Shot::Painted(*frames)
        }
        // A few frames for the new materials to reach the renderer.
        Shot::Painted(at) if *frames >= at + 3 => Shot::Mask(shoot("stimulus-mask.png".into())),
        Shot::Mask(done) if done.load(Ordering::Relaxed) => {
            exit.write(AppExit::Success);
            Shot::Mask(done)
        }
        other => other,
    };
}

/// What the window's camera draws this frame, counted from what Bevy
/// found visible to it: the triangles of its meshes, and its batches (one
/// per distinct mesh and material, which Bevy draws as one instanced
/// call; shadow passes, the sky and the overlay not counted). A GPU's
/// cost grows with both, so they stand in for frame time where there is
/// no GPU to time.
#[derive(bevy::ecs::system::SystemParam)]
pub struct DrawCounts<'w, 's> {
    cameras: Query<'w, 's, &'static bevy::camera::visibility::VisibleEntities, With<Camera3d>>,
    parts: Query<'w, 's, (&'static Mesh3d, &'static MeshMaterial3d<StandardMaterial>)>,
    meshes: Option<Res<'w, Assets<Mesh>>>,
}

impl std::fmt::Debug for DrawCounts<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DrawCounts").finish_non_exhaustive()
    }
}

impl DrawCounts<'_, '_> {
    /// Batches (draw calls) and triangles in view.
    pub fn now(&self) -> (usize, u64) {
        let Some(meshes) = self.meshes.as_ref() else { return (0, 0) };
        let mut batches = std::collections::HashSet::new();
        let mut triangles = 0u64;
        for visible in &self.cameras {
            for entity in visible.iter(std::any::TypeId::of::<Mesh3d>()) {
                let Ok((mesh, material)) = self.parts.get(*entity) else { continue };
                batches.insert((mesh.0.id(), material.0.id()));
                triangles += meshes.get(&mesh.0).map_or(0, |m| match m.try_indices_option() {
                    Ok(Some(indices)) => indices.len() as u64 / 3,
                    _ => m.count_vertices() as u64 / 3,
                });
            }
        }
        (batches.len(), triangles)
    }
}

/// Saves the window's next frame as the PNG file `path`; the flag turns
/// true once it is on disk.
fn save_window(commands: &mut Commands, path: PathBuf) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};

    use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured, save_to_disk};
    let flag = std::sync::Arc::new(AtomicBool::new(false));
    let done = flag.clone();
    let mut save = save_to_disk(path);
    commands.spawn(Screenshot::primary_window()).observe(move |event: On<ScreenshotCaptured>| {
        save(event);
        done.store(true, Ordering::Relaxed);
    });
    flag
}

/// Where the gallery is: the step in view, frames at it, and the picture
/// being saved.
#[derive(Debug, Default)]
struct GalleryAt {
    step: usize,
    frames: u32,
    saving: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// Shows each step in turn and saves its picture once the step has run
/// `frames` frames; quits after the last.
fn gallery(
    setting: Res<Gallery>,
    mut at: Local<GalleryAt>,
    mut drive: ResMut<Drive>,
    counts: DrawCounts,
    mut commands: Commands,
    mut exit: MessageWriter<AppExit>,
) {
    use std::sync::atomic::Ordering;

    if let Some(done) = &at.saving {
        if !done.load(Ordering::Relaxed) {
            return;
        }
        at.saving = None;
        at.step += 1;
        at.frames = 0;
    }
    at.step = at.step.max(1);
    if at.step > setting.steps {
        exit.write(AppExit::Success);
        return;
    }
    drive.set_if_neq(Drive { level: at.step as f64, safe_blend: 0.0 });
    at.frames += 1;
    if at.frames >= setting.frames {
        let (batches, triangles) = counts.now();
        println!("step {} draws {batches} triangles {triangles}", at.step);
        at.saving = Some(save_window(&mut commands, setting.dir.join(format!("step-{:02}.png", at.step))));
    }
}

/// Frame times from the real clock; prints `frames N mean_ms X p50_ms X
/// p95_ms X max_ms X draws N triangles N` ([`DrawCounts`] of the last
/// frame) on standard output, then quits. With the mirror on
/// (`--mirror FPS`), a second line: `mirror fps N captured N encoded N
/// skipped N mean_jpeg_kb X`.
#[allow(clippy::too_many_arguments, reason = "Bevy injects system parameters")]
fn measure(
    time: Res<Time<Real>>,
    setting: Res<Measure>,
    counts: DrawCounts,
    mirror: Option<Res<crate::mirror::Mirror>>,
    fixed: Option<Res<crate::mirror::FixedRate>>,
    mut seen: Local<u32>,
    mut times: Local<Vec<f64>>,
    mut exit: MessageWriter<AppExit>,
) {
    *seen += 1;
    if *seen <= setting.warmup {
        return;
    }
    times.push(time.delta_secs_f64() * 1000.0);
    if times.len() as u32 >= setting.frames {
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
        let (batches, triangles) = counts.now();
        println!(
            "frames {} mean_ms {mean:.2} p50_ms {:.2} p95_ms {:.2} max_ms {:.2} draws {batches} triangles {triangles}",
            sorted.len(),
            at(0.5),
            at(0.95),
            at(1.0)
        );
        if let (Some(mirror), Some(fixed)) = (mirror, fixed) {
            use std::sync::atomic::Ordering::Relaxed;
            let s = &mirror.stats;
            let encoded = s.encoded.load(Relaxed);
            println!(
                "mirror fps {} captured {} encoded {encoded} skipped {} mean_jpeg_kb {:.1}",
                fixed.0,
                s.captured.load(Relaxed),
                s.skipped.load(Relaxed),
                s.jpeg_bytes.load(Relaxed) as f64 / 1024.0 / encoded.max(1) as f64
            );
        }
        exit.write(AppExit::Success);
    }
}

fn camera_and_overlay(
    mut commands: Commands,
    head: Query<Entity, With<Head>>,
    shots: Option<Res<Screenshots>>,
    gallery: Option<Res<Gallery>>,
) {
    if let Ok(head) = head.single() {
        commands.entity(head).insert((
            Camera3d::default(),
            Projection::from(PerspectiveProjection { fov: 80f32.to_radians(), ..default() }),
            crate::mirror::MirrorView,
        ));
    }
    // The fade to the safe scene: a full-window veil, its opacity from the engine.
    commands.spawn((
        Node {
            position_type: PositionType::Absolute,
            width: Val::Percent(100.0),
            height: Val::Percent(100.0),
            ..default()
        },
        BackgroundColor(Color::srgba(0.55, 0.7, 0.6, 0.0)),
        GlobalZIndex(10),
        Fade,
    ));
    commands.spawn((
        Node {
            position_type: PositionType::Absolute,
            width: Val::Percent(100.0),
            top: Val::Percent(35.0),
            justify_content: JustifyContent::Center,
            ..default()
        },
        GlobalZIndex(20),
        children![(Text::new(""), TextFont::from_font_size(34.0), TextColor(Color::WHITE), Prompt)],
    ));
    // A screenshot shows the patient's picture alone, without the status line.
    if shots.is_some() || gallery.is_some() {
        return;
    }
    commands.spawn((
        Node { position_type: PositionType::Absolute, left: Val::Px(10.0), bottom: Val::Px(8.0), ..default() },
        GlobalZIndex(20),
        children![(Text::new(""), TextFont::from_font_size(15.0), TextColor(Color::srgba(1.0, 1.0, 1.0, 0.8)), Status)],
    ));
}

/// The window's quality tier, chosen at start from the adapter.
///
/// | | `Gpu` | `Software` (lavapipe, llvmpipe, WARP) |
/// | --- | --- | --- |
/// | window | 1280x720 | 640x360 |
/// | MSAA | 4x | off |
/// | sun shadows | 2 cascades to 80 m | off |
/// | tonemapping, haze (distance fog) | on | on |
/// | image-based lighting (surroundings' cube maps) | on | on |
///
/// Tonemapping, haze and the surroundings' light stay on both: they are
/// part of the picture (the city fading into the haze, a room lit from all
/// sides), and cost little beside shading itself. `--full-quality` keeps
/// the GPU tier on a software adapter, to measure what the lowering saves.
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// A GPU: everything.
    Gpu,
    /// A CPU rasteriser: every frame is precious.
    Software,
}

/// Chooses the [`Tier`] and applies it; on a software adapter, says so once.
fn choose_tier(
    info: Option<Res<RenderAdapterInfo>>,
    mut cameras: Query<Entity, With<Camera3d>>,
    mut windows: Query<&mut Window, With<PrimaryWindow>>,
    mut suns: Query<&mut DirectionalLight>,
    full: Option<Res<FullQuality>>,
    mut commands: Commands,
) {
    let software = info.as_ref().is_some_and(|info| format!("{:?}", info.device_type) == "Cpu");
    let tier = if software && full.is_none() { Tier::Software } else { Tier::Gpu };
    commands.insert_resource(tier);
    let Some(info) = info.filter(|_| software) else { return };
    if tier == Tier::Gpu {
        warn!("software renderer ({}): keeping the GPU tier (1280x720, MSAA) as asked (--full-quality)", info.name);
        return;
    }
    warn!("software renderer ({}): software tier, 640x360 without MSAA or shadows, to stay usable", info.name);
    for camera in &mut cameras {
        commands.entity(camera).insert(Msaa::Off);
    }
    for mut window in &mut windows {
        window.resolution.set_physical_resolution(640, 360);
    }
    for mut sun in &mut suns {
        sun.shadow_maps_enabled = false;
    }
}

fn look(
    motion: Res<AccumulatedMouseMotion>,
    buttons: Res<ButtonInput<MouseButton>>,
    mut head: Query<&mut Transform, With<Head>>,
) {
    if !buttons.pressed(MouseButton::Right) || motion.delta == Vec2::ZERO {
        return;
    }
    let Ok(mut head) = head.single_mut() else { return };
    let (yaw, pitch, _) = head.rotation.to_euler(EulerRot::YXZ);
    let yaw = yaw - motion.delta.x * 0.003;
    let pitch = (pitch - motion.delta.y * 0.003).clamp(-1.4, 1.4);
    head.rotation = Quat::from_euler(EulerRot::YXZ, yaw, pitch, 0.0);
}

/// Escape is the panic button; with no console, the therapist's keys too.
fn keys(
    keys: Res<ButtonInput<KeyCode>>,
    local: Option<Res<LocalTherapist>>,
    engine: Res<Engine>,
    rating: Res<Rating>,
    mut actions: MessageWriter<PatientAction>,
    mut commands: MessageWriter<TherapistCommand>,
) {
    if keys.just_pressed(KeyCode::Escape) {
        actions.write(PatientAction(PatientInput::Panic));
    }
    if local.is_none() || rating.open {
        return;
    }
    let state = engine.session.state();
    let level = engine.session.target_level();
    let command = if keys.just_pressed(KeyCode::Space) {
        Some(match state {
            State::Waiting => Command::Start,
            State::Running => Command::Pause,
            _ => Command::Resume,
        })
    } else if keys.just_pressed(KeyCode::ArrowUp) {
        Some(Command::SetLevel { level: level + 0.5 })
    } else if keys.just_pressed(KeyCode::ArrowDown) {
        Some(Command::SetLevel { level: level - 0.5 })
    } else if keys.just_pressed(KeyCode::KeyN) {
        Some(Command::NextStep)
    } else if keys.just_pressed(KeyCode::KeyP) {
        Some(Command::PreviousStep)
    } else if keys.just_pressed(KeyCode::KeyA) {
        Some(Command::AcceptSuggestion)
    } else if keys.just_pressed(KeyCode::KeyS) {
        Some(Command::SafeScene)
    } else if keys.just_pressed(KeyCode::KeyQ) {
        Some(Command::RequestSuds)
    } else {
        None
    };
    if let Some(command) = command {
        commands.write(TherapistCommand { command, console_id: None });
    }
}

/// In the SUDS prompt, arrows move the rating by 5, digits set tens, Enter
/// answers.
fn prompt_keys(keys: Res<ButtonInput<KeyCode>>, mut rating: ResMut<Rating>, mut actions: MessageWriter<PatientAction>) {
    if !rating.open {
        return;
    }
    if keys.just_pressed(KeyCode::ArrowRight) || keys.just_pressed(KeyCode::ArrowUp) {
        rating.nudge(5);
    }
    if keys.just_pressed(KeyCode::ArrowLeft) || keys.just_pressed(KeyCode::ArrowDown) {
        rating.nudge(-5);
    }
    for (tens, key) in DIGITS.iter().enumerate() {
        if keys.just_pressed(*key) {
            rating.value = (tens as u8) * 10;
        }
    }
    if keys.just_pressed(KeyCode::Enter) {
        actions.write(PatientAction(PatientInput::Suds { value: rating.answer() }));
    }
}

fn prompt_view(rating: Res<Rating>, hidden: Option<Res<PromptHidden>>, mut text: Query<&mut Text, With<Prompt>>) {
    for mut text in &mut text {
        text.0 = if rating.open && hidden.is_none() {
            format!("How anxious are you right now?\n{} / 100\n(arrows to change, Enter to answer)", rating.value)
        } else {
            String::new()
        };
    }
}

/// The veil is opaque half-way through the fade, when the scenes swap.
fn fade(drive: Res<Drive>, mut veil: Query<&mut BackgroundColor, With<Fade>>) {
    let blend = drive.safe_blend as f32;
    let alpha = 1.0 - (2.0 * blend - 1.0).abs();
    for mut color in &mut veil {
        color.0 = Color::srgba(0.55, 0.7, 0.6, alpha);
    }
}

fn replay_status(
    replay: Res<crate::replay::Replay>,
    playhead: Res<crate::replay::Playhead>,
    mut text: Query<&mut Text, With<Status>>,
) {
    use crate::replay::clock;
    let frame = replay.at(playhead.at_us);
    let (_, last) = replay.span();
    let line = format!(
        "replay {} {}  {} / {}  x{}  step {}, level {:.2}, {}   Space play/pause, Left/Right 10 s, Up/Down speed, 0-9 seek",
        replay.patient_code,
        if playhead.playing { ">" } else { "||" },
        clock(playhead.at_us),
        clock(last),
        playhead.speed,
        frame.step,
        frame.level,
        format!("{:?}", frame.state).to_lowercase(),
    );
    for mut text in &mut text {
        if text.0 != line {
            text.0.clone_from(&line);
        }
    }
}

fn status(
    engine: Res<Engine>,
    local: Option<Res<LocalTherapist>>,
    pairing: Option<Res<crate::pairing::PairingCode>>,
    mut text: Query<&mut Text, With<Status>>,
) {
    if let Some(code) = pairing.as_ref().and_then(|p| p.0.as_deref()) {
        let (a, b) = code.split_at(code.len().min(3));
        let line = format!("Pair this headset: type {a} {b} into the console page's \"Pair a headset\" box");
        for mut text in &mut text {
            if text.0 != line {
                text.0.clone_from(&line);
            }
        }
        return;
    }
    let s = &engine.session;
    let keys = if local.is_some() {
        "   Space start/pause, Up/Down level, N/P step, A accept, S safe, Q ask SUDS, Esc panic"
    } else {
        "   Esc: panic"
    };
    let line = format!(
        "{}, step {} of {}, level {:.2} (target {:.2}){}",
        s.state(),
        s.step(),
        s.scenario().step_count(),
        s.applied_level(),
        s.target_level(),
        keys
    );
    for mut text in &mut text {
        if text.0 != line {
            text.0.clone_from(&line);
        }
    }
}
