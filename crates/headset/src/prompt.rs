//! The SUDS prompt: opens when the engine asks for a rating (the console or
//! the scenario's timer), holds the rating being chosen, and shows it in the
//! scene as a scale from calm (green) to panic (red) with a marker, head-
//! locked a metre ahead so it is seen in a headset as in a window. Keys
//! (desktop) and thumbstick and trigger (XR) move the marker and answer.

use bevy::prelude::*;
use session::EventKind;

use crate::HeadsetSystems;
use crate::engine::Engine;
use crate::telemetry::Head;

/// The rating being chosen.
#[derive(Resource, Debug, Default)]
pub struct Rating {
    /// Whether the prompt is up.
    pub open: bool,
    /// 0..=100.
    pub value: u8,
    seen: u64,
}

impl Rating {
    /// Moves the rating by `delta`, within 0..=100.
    pub fn nudge(&mut self, delta: i16) {
        self.value = (i16::from(self.value) + delta).clamp(0, 100) as u8;
    }

    /// Closes the prompt with the rating chosen.
    pub fn answer(&mut self) -> u8 {
        self.open = false;
        self.value
    }
}

/// Opens the prompt on request and shows it in the scene.
#[derive(Debug)]
pub struct PromptPlugin;

/// Keeps the scale out of the picture (`--screenshot`: the scene alone).
#[derive(Resource, Clone, Copy, Debug)]
pub struct PromptHidden;

#[derive(Component, Debug)]
struct Scale;

#[derive(Component, Debug)]
struct Marker;

/// Width of the scale in the scene, metres.
const WIDTH: f32 = 0.6;

impl Plugin for PromptPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Rating>()
            .add_systems(Startup, spawn_scale.after(crate::scene::spawn))
            .add_systems(Update, open_on_request.in_set(HeadsetSystems::Scene))
            .add_systems(Update, show.in_set(HeadsetSystems::Observe));
    }
}

fn open_on_request(engine: Res<Engine>, mut rating: ResMut<Rating>) {
    let session = &engine.session;
    for event in session.events_since(rating.seen) {
        match event.kind {
            EventKind::SudsRequested { .. } if !rating.open => {
                rating.open = true;
                rating.value = session.step_stats().suds_last.unwrap_or(50);
            }
            // Answered another way: aloud to the therapist, or by the synthetic patient.
            EventKind::SudsRecorded { .. } => rating.open = false,
            _ => {}
        }
    }
    rating.seen = session.events().len() as u64;
}

fn spawn_scale(
    mut commands: Commands,
    head: Query<Entity, With<Head>>,
    meshes: Option<ResMut<Assets<Mesh>>>,
    materials: Option<ResMut<Assets<StandardMaterial>>>,
) {
    let (Ok(head), Some(mut meshes), Some(mut materials)) = (head.single(), meshes, materials) else { return };
    let tick = meshes.add(Cuboid::new(WIDTH / 11.0 * 0.85, 0.04, 0.01));
    let marker = meshes.add(Cuboid::new(0.02, 0.09, 0.02));
    let unlit = |materials: &mut Assets<StandardMaterial>, color: Color| {
        materials.add(StandardMaterial { base_color: color, unlit: true, ..default() })
    };
    let scale = commands.spawn((Transform::from_xyz(0.0, -0.12, -0.9), Visibility::Hidden, Scale, ChildOf(head))).id();
    for i in 0..=10 {
        // Green through amber to red, one block per ten points.
        let t = i as f32 / 10.0;
        let color = Color::srgb(0.2 + 0.75 * t, 0.75 - 0.5 * t, 0.3 - 0.15 * t);
        commands.spawn((
            Mesh3d(tick.clone()),
            MeshMaterial3d(unlit(&mut materials, color)),
            Transform::from_xyz((t - 0.5) * WIDTH, 0.0, 0.0),
            ChildOf(scale),
        ));
    }
    commands.spawn((
        Mesh3d(marker),
        MeshMaterial3d(unlit(&mut materials, Color::WHITE)),
        Transform::from_xyz(0.0, 0.0, 0.01),
        Marker,
        ChildOf(scale),
    ));
}

fn show(
    rating: Res<Rating>,
    hidden: Option<Res<PromptHidden>>,
    mut scale: Query<&mut Visibility, With<Scale>>,
    mut marker: Query<&mut Transform, With<Marker>>,
) {
    let visibility = if rating.open && hidden.is_none() { Visibility::Inherited } else { Visibility::Hidden };
    for mut v in &mut scale {
        v.set_if_neq(visibility);
    }
    for mut t in &mut marker {
        t.translation.x = (f32::from(rating.value) / 100.0 - 0.5) * WIDTH;
    }
}
