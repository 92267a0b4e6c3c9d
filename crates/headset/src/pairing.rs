//! Pairing in the headset: a headset started with `--console URL` and no
//! token or saved credential asks the console for a six-digit code and
//! shows it in the view, head-locked in front of the patient as seven-
//! segment digits (so it reads the same in the headset and in the window),
//! in the window's status line, and on stdout (headless). Once the
//! therapist typed it into the page, the credential and the console's
//! certificate fingerprint are saved and the link starts.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use link::pair::{Code, Credentials};

use crate::telemetry::Head;

/// What the pairing thread has got so far.
#[derive(Debug, Default)]
enum Progress {
    #[default]
    Asking,
    Code(Code),
    Paired(Credentials),
    Failed(String),
}

/// Pairing under way: the thread's progress, shared.
#[derive(Resource, Debug)]
pub struct Pairing {
    progress: Arc<Mutex<Progress>>,
    credentials: PathBuf,
    shown: Option<String>,
}

/// The code to show now (`None` once paired); the window's status line reads it.
#[derive(Resource, Debug, Default, Clone, PartialEq, Eq)]
pub struct PairingCode(pub Option<String>);

/// The credentials once paired: the console plugin starts its link with them.
#[derive(Message, Debug, Clone)]
pub struct PairedWith(pub Credentials);

impl Pairing {
    /// Starts pairing with `console` on a thread of its own.
    pub fn start(console: &str, headset_id: &str, credentials: PathBuf) -> Pairing {
        let progress = Arc::new(Mutex::new(Progress::Asking));
        let (shared, console, headset_id) = (progress.clone(), console.to_owned(), headset_id.to_owned());
        let spawned = std::thread::Builder::new().name("trinvis-pairing".into()).spawn(move || {
            let showing = shared.clone();
            let result = link::pair::pair_blocking(
                &console,
                &headset_id,
                |code| {
                    if let Ok(mut p) = showing.lock() {
                        *p = Progress::Code(code.clone());
                    }
                },
                || false,
            );
            if let Ok(mut p) = shared.lock() {
                *p = match result {
                    Ok(credentials) => Progress::Paired(credentials),
                    Err(e) => Progress::Failed(e),
                };
            }
        });
        if let Err(e) = spawned {
            *progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Progress::Failed(e.to_string());
        }
        Pairing { progress, credentials, shown: None }
    }
}

/// Shows the pairing code and hands over the credentials.
#[derive(Debug)]
pub struct PairingPlugin;

impl Plugin for PairingPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<PairingCode>()
            .add_message::<PairedWith>()
            .add_systems(Startup, spawn_panel.after(crate::scene::spawn))
            .add_systems(Update, (follow, show).chain().in_set(crate::HeadsetSystems::Input));
    }
}

/// The panel in front of the head.
#[derive(Component, Debug)]
struct Panel;

/// One segment of one digit.
#[derive(Component, Debug)]
struct Segment {
    digit: usize,
    index: usize,
}

/// Segments a..g (top, top right, bottom right, bottom, bottom left, top
/// left, middle) lit for each decimal digit.
pub const SEGMENTS: [[bool; 7]; 10] = {
    const T: bool = true;
    const F: bool = false;
    [
        [T, T, T, T, T, T, F],
        [F, T, T, F, F, F, F],
        [T, T, F, T, T, F, T],
        [T, T, T, T, F, F, T],
        [F, T, T, F, F, T, T],
        [T, F, T, T, F, T, T],
        [T, F, T, T, T, T, T],
        [T, T, T, F, F, F, F],
        [T, T, T, T, T, T, T],
        [T, T, T, T, F, T, T],
    ]
};

/// Digit width and height in the view, metres at 0.9 m.
const W: f32 = 0.05;
const H: f32 = 0.09;
const STROKE: f32 = 0.011;

fn spawn_panel(
    mut commands: Commands,
    head: Query<Entity, With<Head>>,
    meshes: Option<ResMut<Assets<Mesh>>>,
    materials: Option<ResMut<Assets<StandardMaterial>>>,
) {
    let (Ok(head), Some(mut meshes), Some(mut materials)) = (head.single(), meshes, materials) else { return };
    let unlit = |materials: &mut Assets<StandardMaterial>, color: Color| {
        materials.add(StandardMaterial { base_color: color, unlit: true, ..default() })
    };
    let panel = commands.spawn((Transform::from_xyz(0.0, 0.05, -0.9), Visibility::Hidden, Panel, ChildOf(head))).id();
    commands.spawn((
        Mesh3d(meshes.add(Cuboid::new(0.58, 0.17, 0.005))),
        MeshMaterial3d(unlit(&mut materials, Color::srgb(0.08, 0.1, 0.14))),
        Transform::from_xyz(0.0, 0.0, -0.01),
        ChildOf(panel),
    ));
    let lit = unlit(&mut materials, Color::srgb(0.55, 0.9, 1.0));
    let across = meshes.add(Cuboid::new(W, STROKE, 0.004));
    let down = meshes.add(Cuboid::new(STROKE, H / 2.0, 0.004));
    // a, b, c, d, e, f, g: where each segment sits in its digit.
    let places = [
        (0.0, H / 2.0, true),
        (W / 2.0, H / 4.0, false),
        (W / 2.0, -H / 4.0, false),
        (0.0, -H / 2.0, true),
        (-W / 2.0, -H / 4.0, false),
        (-W / 2.0, H / 4.0, false),
        (0.0, 0.0, true),
    ];
    for digit in 0..6 {
        // Two groups of three, as the page's box reads it aloud.
        let x = (digit as f32 - 2.5) * (W + 0.03) + if digit < 3 { -0.02 } else { 0.02 };
        for (index, (sx, sy, horizontal)) in places.iter().enumerate() {
            commands.spawn((
                Mesh3d(if *horizontal { across.clone() } else { down.clone() }),
                MeshMaterial3d(lit.clone()),
                Transform::from_xyz(x + sx, *sy, 0.0),
                Visibility::Hidden,
                Segment { digit, index },
                ChildOf(panel),
            ));
        }
    }
}

/// Reads the thread's progress: a new code is printed and shown; the
/// credentials are saved and handed on.
fn follow(
    mut pairing: Option<ResMut<Pairing>>,
    mut code: ResMut<PairingCode>,
    mut paired: MessageWriter<PairedWith>,
    mut commands: Commands,
) {
    let Some(pairing) = pairing.as_deref_mut() else { return };
    // Read and, for an outcome, taken under one lock: the thread may write
    // its outcome at any moment, and a code put back must never cover it.
    let progress = {
        let mut progress = pairing.progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*progress {
            Progress::Asking => return,
            Progress::Code(shown) => Progress::Code(shown.clone()),
            Progress::Paired(_) | Progress::Failed(_) => std::mem::take(&mut *progress),
        }
    };
    match progress {
        Progress::Asking => {}
        Progress::Code(shown) => {
            if pairing.shown.as_deref() != Some(shown.code.as_str()) {
                println!("{}", shown.announcement());
                pairing.shown = Some(shown.code.clone());
                code.set_if_neq(PairingCode(Some(shown.code)));
            }
        }
        Progress::Paired(credentials) => {
            match credentials.save(&pairing.credentials) {
                Ok(()) => info!(
                    "paired as {}; credential kept in {}",
                    credentials.credential_id,
                    pairing.credentials.display()
                ),
                Err(e) => error!("paired, but the credential cannot be kept ({e}): pair again at the next start"),
            }
            println!("Paired with the console as {}.", credentials.credential_id);
            code.set_if_neq(PairingCode(None));
            paired.write(PairedWith(credentials));
            commands.remove_resource::<Pairing>();
        }
        Progress::Failed(e) => {
            error!("pairing failed: {e}");
            println!("Pairing failed: {e}");
            code.set_if_neq(PairingCode(None));
            commands.remove_resource::<Pairing>();
        }
    }
}

/// Lights the segments of the code being shown.
fn show(
    code: Res<PairingCode>,
    mut panel: Query<&mut Visibility, (With<Panel>, Without<Segment>)>,
    mut segments: Query<(&Segment, &mut Visibility), Without<Panel>>,
) {
    if !code.is_changed() {
        return;
    }
    let digits: Vec<usize> =
        code.0.as_deref().unwrap_or("").bytes().map(|b| usize::from(b.wrapping_sub(b'0'))).collect();
    let on = digits.len() == 6 && digits.iter().all(|d| *d < 10);
    for mut v in &mut panel {
        v.set_if_neq(if on { Visibility::Inherited } else { Visibility::Hidden });
    }
    for (segment, mut v) in &mut segments {
        let lit = on && SEGMENTS[digits[segment.digit]][segment.index];
        v.set_if_neq(if lit { Visibility::Inherited } else { Visibility::Hidden });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_digit_lights_its_own_segments() {
        let count = |d: usize| SEGMENTS[d].iter().filter(|s| **s).count();
        assert_eq!((0..10).map(count).collect::<Vec<_>>(), [6, 2, 5, 5, 4, 5, 6, 3, 7, 6]);
        for (a, lit_a) in SEGMENTS.iter().enumerate() {
            for (b, lit_b) in SEGMENTS.iter().enumerate().take(a) {
                assert_ne!(lit_a, lit_b, "{a} and {b} look alike");
            }
        }
    }
}
