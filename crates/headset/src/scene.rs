//! The environments, built procedurally from primitives (no downloaded
//! assets), and kept in step with the applied level: every frame the
//! engine's parameters move, show and hide the parts, so the scene changes
//! live without reloading. Behind the safe-scene fade the calm meadow
//! replaces the scenario.
//!
//! Without a renderer (headless) the same entities exist with transforms and
//! visibility, so tests and telemetry see the same scene.

use std::f32::consts::{FRAC_PI_2, PI, TAU};

use bevy::prelude::*;
use scenario::{EnvironmentKind, Params};

use crate::HeadsetSystems;
use crate::engine::{Drive, Engine};
use crate::telemetry::{Head, Stimulus};

/// Builds and updates the scene.
#[derive(Debug)]
pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, spawn).add_systems(Update, apply.in_set(HeadsetSystems::Scene));
    }
}

/// The stimulus parameters shown this frame (what the patient sees).
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub struct Shown {
    /// The parameters.
    pub params: Params,
    /// Whether the safe scene is up.
    pub safe: bool,
}

/// Where a part belongs: the scenario or the safe scene.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// Shown while the scenario is.
    Scenario,
    /// Shown behind the safe-scene fade.
    Safe,
}

/// What a part is, so the level can move it.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub enum Part {
    /// Static: never moved.
    Fixed,
    /// Heights: the ground far below.
    Ground,
    /// Heights: a building around the atrium, with its height.
    Building(f32),
    /// Heights: the floor under the patient (opaque or glass).
    Floor { glass: bool },
    /// Heights: the railing at the edge.
    Railing,
    /// Heights: glass walls of the lift.
    LiftGlass,
    /// Heights: the point below the edge the patient fears.
    Drop,
    /// Spiders: the bowl's lid.
    Lid,
    /// Spiders: the bowl.
    Bowl,
    /// Spiders: spider number n.
    Spider(u32),
    /// Speaking: listener number n.
    Listener(u32),
    /// Speaking: the room's floor, scaled by room size.
    Hall,
    /// Speaking: a wall of the room (0 left, 1 right, 2 back, 3 front).
    HallWall(u8),
    /// Flying: the cabin that turbulence shakes.
    Cabin,
    /// Flying: a window.
    Window,
    /// Flying: passenger number n.
    Passenger(u32),
    /// Lift: wall 0 left, 1 right, 2 back, 3 front.
    Wall(u8),
    /// Lift: the doors.
    Doors,
    /// Lift: person number n.
    Person(u32),
    /// The main light, dimmed by `light` or `night`.
    Lamp,
    /// Safe: the breathing guide.
    Breath,
    /// Safe: the ground of a setting (0 meadow, 1 beach, 2 forest).
    SafeGround(u8),
    /// Safe: a tree (not on the beach; more of them in the forest).
    Tree(u8),
    /// Safe: the sea, on the beach.
    Sea,
}

const SPIDERS: u32 = 50;
const LISTENERS: u32 = 200;
const PASSENGERS: u32 = 60;
const PEOPLE: u32 = 12;

/// Meshes and materials when there is a renderer; nothing headless. Equal
/// meshes and equal colours share one asset, so the renderer draws the 150
/// listeners or 60 passengers as a few instanced batches, not one draw each.
struct Kit<'w> {
    meshes: Option<ResMut<'w, Assets<Mesh>>>,
    materials: Option<ResMut<'w, Assets<StandardMaterial>>>,
    mesh_cache: std::collections::HashMap<MeshKey, Handle<Mesh>>,
    material_cache: std::collections::HashMap<[u32; 4], Handle<StandardMaterial>>,
}

/// A mesh's vertex count and bounds: equal for the same primitive at the
/// same size, different for every other shape this scene builds.
type MeshKey = (usize, [u32; 6]);

fn mesh_key(mesh: &Mesh) -> MeshKey {
    use bevy::camera::primitives::MeshAabb;
    let bounds = mesh.compute_aabb().map_or([0; 6], |b| {
        let (min, max) = (b.min(), b.max());
        [min.x, min.y, min.z, max.x, max.y, max.z].map(f32::to_bits)
    });
    (mesh.count_vertices(), bounds)
}

impl Kit<'_> {
    /// Spawns a part; with a renderer it gets a mesh and a material.
    fn spawn(
        &mut self,
        commands: &mut Commands,
        mesh: impl Into<Mesh>,
        color: Color,
        transform: Transform,
        part: Part,
        layer: Layer,
    ) -> Entity {
        let mut entity = commands.spawn((transform, Visibility::Visible, part, layer));
        if let (Some(meshes), Some(materials)) = (self.meshes.as_mut(), self.materials.as_mut()) {
            let mesh = mesh.into();
            let mesh = self.mesh_cache.entry(mesh_key(&mesh)).or_insert_with(|| meshes.add(mesh)).clone();
            let material = self
                .material_cache
                .entry(color.to_linear().to_f32_array().map(f32::to_bits))
                .or_insert_with(|| {
                    materials.add(StandardMaterial {
                        base_color: color,
                        alpha_mode: if color.alpha() < 1.0 { AlphaMode::Blend } else { AlphaMode::Opaque },
                        perceptual_roughness: 0.8,
                        ..default()
                    })
                })
                .clone();
            entity.insert((Mesh3d(mesh), MeshMaterial3d(material)));
        }
        entity.id()
    }
}

fn cube(x: f32, y: f32, z: f32) -> Mesh {
    Cuboid::new(x, y, z).into()
}

/// Builds the scenario's scene and the safe scene (a Startup system).
pub fn spawn(
    mut commands: Commands,
    engine: Res<Engine>,
    meshes: Option<ResMut<Assets<Mesh>>>,
    materials: Option<ResMut<Assets<StandardMaterial>>>,
) {
    let mut kit = Kit { meshes, materials, mesh_cache: default(), material_cache: default() };
    let kind = engine.session.scenario().environment;
    // Where the patient's head starts: seated at the table or in the cabin,
    // standing at the railing, the lectern or in the lift.
    let head = match kind {
        EnvironmentKind::Heights => Transform::from_xyz(0.0, 1.6, 0.0).looking_at(Vec3::new(0.0, -2.0, -6.0), Vec3::Y),
        EnvironmentKind::Spiders => {
            Transform::from_xyz(0.0, 1.25, 0.15).looking_at(Vec3::new(0.0, 0.75, -0.9), Vec3::Y)
        }
        EnvironmentKind::PublicSpeaking => {
            Transform::from_xyz(0.0, 1.65, 0.0).looking_at(Vec3::new(0.0, 1.0, -6.0), Vec3::Y)
        }
        EnvironmentKind::Flying => Transform::from_xyz(0.0, 1.15, 0.0).looking_at(Vec3::new(-1.5, 1.2, -3.0), Vec3::Y),
        EnvironmentKind::Lift => Transform::from_xyz(0.0, 1.65, 0.3).looking_at(Vec3::new(0.0, 1.4, -2.0), Vec3::Y),
        EnvironmentKind::Safe => Transform::from_xyz(0.0, 1.6, 0.0).looking_at(Vec3::new(0.0, 1.2, -5.0), Vec3::Y),
    };
    commands.spawn((head, Visibility::Visible, Head));
    match kind {
        EnvironmentKind::Heights => heights(&mut commands, &mut kit),
        EnvironmentKind::Spiders => spiders(&mut commands, &mut kit),
        EnvironmentKind::PublicSpeaking => speaking(&mut commands, &mut kit),
        EnvironmentKind::Flying => flying(&mut commands, &mut kit),
        EnvironmentKind::Lift => lift(&mut commands, &mut kit),
        EnvironmentKind::Safe => meadow(&mut commands, &mut kit, Layer::Scenario),
    }
    if kind != EnvironmentKind::Safe {
        meadow(&mut commands, &mut kit, Layer::Safe);
    }
    let params = engine.session.params();
    commands.insert_resource(Shown { params, safe: false });
}

fn lamp(commands: &mut Commands, layer: Layer, at: Vec3, illuminance: f32) {
    commands.spawn((
        DirectionalLight { illuminance, shadow_maps_enabled: false, ..default() },
        Transform::from_translation(at).looking_at(Vec3::ZERO, Vec3::Y),
        Visibility::Visible,
        Part::Lamp,
        layer,
    ));
}

fn heights(commands: &mut Commands, kit: &mut Kit) {
    let s = Layer::Scenario;
    kit.spawn(commands, cube(200.0, 0.2, 200.0), Color::srgb(0.35, 0.38, 0.33), Transform::default(), Part::Ground, s);
    // Buildings around the courtyard, their bases on the ground.
    for (i, (x, z, h)) in [
        (-14.0, -18.0, 60.0),
        (12.0, -22.0, 90.0),
        (-20.0, 6.0, 40.0),
        (22.0, 2.0, 120.0),
        (0.0, -40.0, 150.0),
        (-30.0, -30.0, 70.0),
    ]
    .into_iter()
    .enumerate()
    {
        let shade = 0.45 + 0.07 * i as f32;
        kit.spawn(
            commands,
            cube(9.0, 1.0, 9.0),
            Color::srgb(shade, shade, shade * 1.05),
            Transform::from_xyz(x, 0.0, z),
            Part::Building(h),
            s,
        );
    }
    kit.spawn(
        commands,
        cube(3.0, 0.1, 1.0),
        Color::srgb(0.55, 0.52, 0.48),
        Transform::default(),
        Part::Floor { glass: false },
        s,
    );
    kit.spawn(
        commands,
        cube(3.0, 0.1, 1.0),
        Color::srgba(0.7, 0.85, 0.95, 0.25),
        Transform::default(),
        Part::Floor { glass: true },
        s,
    );
    kit.spawn(commands, cube(3.0, 1.0, 0.06), Color::srgb(0.25, 0.25, 0.28), Transform::default(), Part::Railing, s);
    // The wall behind the patient, and the lift's glass around them.
    kit.spawn(
        commands,
        cube(6.0, 4.0, 0.3),
        Color::srgb(0.7, 0.66, 0.6),
        Transform::from_xyz(0.0, 1.5, 2.2),
        Part::Fixed,
        s,
    );
    for (x, z, w, d) in [(-1.5, 0.0, 0.04, 4.0), (1.5, 0.0, 0.04, 4.0), (0.0, -2.0, 3.0, 0.04)] {
        kit.spawn(
            commands,
            cube(w, 2.6, d),
            Color::srgba(0.75, 0.9, 1.0, 0.18),
            Transform::from_xyz(x, 1.3, z),
            Part::LiftGlass,
            s,
        );
    }
    commands.spawn((Transform::default(), Visibility::Visible, Part::Drop, Stimulus, s));
    lamp(commands, s, Vec3::new(20.0, 40.0, 10.0), 9_000.0);
}

fn spiders(commands: &mut Commands, kit: &mut Kit) {
    let s = Layer::Scenario;
    kit.spawn(
        commands,
        cube(8.0, 0.1, 8.0),
        Color::srgb(0.45, 0.35, 0.28),
        Transform::from_xyz(0.0, -0.05, -2.0),
        Part::Fixed,
        s,
    );
    kit.spawn(
        commands,
        cube(8.0, 3.0, 0.2),
        Color::srgb(0.82, 0.8, 0.74),
        Transform::from_xyz(0.0, 1.5, -6.0),
        Part::Fixed,
        s,
    );
    kit.spawn(
        commands,
        cube(1.6, 0.06, 5.0),
        Color::srgb(0.55, 0.4, 0.25),
        Transform::from_xyz(0.0, 0.74, -2.6),
        Part::Fixed,
        s,
    );
    kit.spawn(
        commands,
        Cylinder::new(0.14, 0.16),
        Color::srgba(0.8, 0.9, 1.0, 0.3),
        Transform::default(),
        Part::Bowl,
        s,
    );
    kit.spawn(
        commands,
        Cylinder::new(0.15, 0.015),
        Color::srgba(0.8, 0.9, 1.0, 0.5),
        Transform::default(),
        Part::Lid,
        s,
    );
    for i in 0..SPIDERS {
        let body = kit.spawn(
            commands,
            Sphere::new(0.5).mesh().uv(12, 8),
            Color::srgb(0.12, 0.08, 0.06),
            Transform::default(),
            Part::Spider(i),
            s,
        );
        commands.entity(body).insert(Stimulus);
        // Eight legs, bent outward, as children of the body.
        for leg in 0..8 {
            let side = if leg < 4 { -1.0 } else { 1.0 };
            let angle = (leg % 4) as f32 * 0.45 - 0.7;
            let t = Transform::from_xyz(side * 0.75, -0.15, angle * 0.6)
                .with_rotation(Quat::from_rotation_y(angle) * Quat::from_rotation_z(side * 0.5));
            let id = kit.spawn(commands, cube(1.2, 0.08, 0.08), Color::srgb(0.1, 0.07, 0.05), t, Part::Fixed, s);
            commands.entity(id).insert(ChildOf(body));
        }
    }
    lamp(commands, s, Vec3::new(2.0, 6.0, 3.0), 6_000.0);
}

fn speaking(commands: &mut Commands, kit: &mut Kit) {
    let s = Layer::Scenario;
    kit.spawn(commands, cube(1.0, 0.1, 1.0), Color::srgb(0.4, 0.3, 0.25), Transform::default(), Part::Hall, s);
    for w in 0..4u8 {
        kit.spawn(
            commands,
            cube(1.0, 1.0, 1.0),
            Color::srgb(0.78, 0.76, 0.7),
            Transform::default(),
            Part::HallWall(w),
            s,
        );
    }
    kit.spawn(
        commands,
        cube(0.7, 1.1, 0.5),
        Color::srgb(0.35, 0.22, 0.15),
        Transform::from_xyz(0.0, 0.55, -0.5),
        Part::Fixed,
        s,
    );
    for i in 0..LISTENERS {
        let body = kit.spawn(
            commands,
            Capsule3d::new(0.22, 0.6),
            Color::srgb(0.3, 0.45, 0.6),
            Transform::default(),
            Part::Listener(i),
            s,
        );
        let head = kit.spawn(
            commands,
            Sphere::new(0.13).mesh().uv(12, 8),
            Color::srgb(0.85, 0.7, 0.6),
            Transform::from_xyz(0.0, 0.55, 0.0),
            Part::Fixed,
            s,
        );
        // Eyes show where a listener looks.
        let eyes = kit.spawn(
            commands,
            cube(0.14, 0.03, 0.02),
            Color::srgb(0.05, 0.05, 0.05),
            Transform::from_xyz(0.0, 0.03, -0.12),
            Part::Fixed,
            s,
        );
        commands.entity(head).insert((ChildOf(body), Stimulus));
        commands.entity(eyes).insert(ChildOf(head));
    }
    lamp(commands, s, Vec3::new(-3.0, 8.0, 4.0), 7_000.0);
}

fn flying(commands: &mut Commands, kit: &mut Kit) {
    let s = Layer::Scenario;
    let cabin = commands.spawn((Transform::default(), Visibility::Visible, Part::Cabin, s)).id();
    let child = |commands: &mut Commands, kit: &mut Kit, mesh: Mesh, color: Color, t: Transform, part: Part| {
        let id = kit.spawn(commands, mesh, color, t, part, s);
        commands.entity(id).insert(ChildOf(cabin));
        id
    };
    child(
        commands,
        kit,
        cube(3.6, 0.1, 30.0),
        Color::srgb(0.3, 0.3, 0.35),
        Transform::from_xyz(0.0, 0.0, -10.0),
        Part::Fixed,
    );
    child(
        commands,
        kit,
        cube(3.6, 0.1, 30.0),
        Color::srgb(0.9, 0.9, 0.88),
        Transform::from_xyz(0.0, 2.2, -10.0),
        Part::Fixed,
    );
    for x in [-1.85, 1.85] {
        child(
            commands,
            kit,
            cube(0.1, 2.2, 30.0),
            Color::srgb(0.88, 0.88, 0.85),
            Transform::from_xyz(x, 1.1, -10.0),
            Part::Fixed,
        );
    }
    for row in 0..15 {
        let z = 1.0 - row as f32 * 0.85;
        for x in SEATS_X {
            child(
                commands,
                kit,
                cube(0.42, 0.9, 0.12),
                Color::srgb(0.15, 0.25, 0.5),
                Transform::from_xyz(x, 0.6, z + 0.3),
                Part::Fixed,
            );
        }
        let window = child(
            commands,
            kit,
            cube(0.02, 0.35, 0.25),
            Color::srgb(0.6, 0.8, 1.0),
            Transform::from_xyz(-1.79, 1.3, z),
            Part::Window,
        );
        commands.entity(window).insert(Stimulus);
    }
    // Passengers: a torso in clothes and a head above the seat backs, in
    // seats scattered through the cabin so that a half-full flight is half
    // full everywhere. Row 0 is the patient's.
    let clothes = [(0.25, 0.3, 0.45), (0.5, 0.2, 0.2), (0.2, 0.35, 0.25), (0.55, 0.5, 0.4), (0.15, 0.15, 0.18)];
    let skin = [(0.87, 0.7, 0.58), (0.6, 0.43, 0.32), (0.4, 0.28, 0.2), (0.95, 0.8, 0.68)];
    for i in 0..PASSENGERS {
        let (row, seat) = passenger_seat(i);
        let (x, z) = (SEATS_X[seat], 0.15 - row as f32 * 0.85);
        let (r, g, b) = clothes[i as usize % clothes.len()];
        let torso = Transform::from_xyz(x, 0.78, z);
        child(commands, kit, Capsule3d::new(0.17, 0.3).into(), Color::srgb(r, g, b), torso, Part::Passenger(i));
        let (r, g, b) = skin[(i as usize / 3) % skin.len()];
        let head = Transform::from_xyz(x, 1.2, z);
        child(commands, kit, Sphere::new(0.1).into(), Color::srgb(r, g, b), head, Part::Passenger(i));
    }
    lamp(commands, s, Vec3::new(-10.0, 6.0, 2.0), 6_000.0);
}

/// Seat positions across the cabin: window, middle, aisle | aisle, middle, window.
const SEATS_X: [f32; 6] = [-1.3, -0.85, -0.4, 0.4, 0.85, 1.3];

/// Passenger `i`'s row (0 = the patient's) and seat (index into [`SEATS_X`]):
/// a stride through the cabin's 60 seats, so any share of them is spread out.
fn passenger_seat(i: u32) -> (u32, usize) {
    let slot = (i * 37) % PASSENGERS;
    (slot / 6, (slot % 6) as usize)
}

fn lift(commands: &mut Commands, kit: &mut Kit) {
    let s = Layer::Scenario;
    kit.spawn(
        commands,
        cube(6.0, 0.1, 6.0),
        Color::srgb(0.3, 0.3, 0.32),
        Transform::from_xyz(0.0, -0.05, 0.0),
        Part::Fixed,
        s,
    );
    kit.spawn(
        commands,
        cube(6.0, 0.1, 6.0),
        Color::srgb(0.75, 0.75, 0.72),
        Transform::from_xyz(0.0, 2.35, 0.0),
        Part::Fixed,
        s,
    );
    for w in 0..4u8 {
        let id = kit.spawn(
            commands,
            cube(1.0, 2.4, 1.0),
            Color::srgb(0.62, 0.6, 0.56),
            Transform::default(),
            Part::Wall(w),
            s,
        );
        commands.entity(id).insert(Stimulus);
    }
    kit.spawn(commands, cube(1.0, 2.2, 0.05), Color::srgb(0.7, 0.72, 0.75), Transform::default(), Part::Doors, s);
    // The landing seen through open doors.
    kit.spawn(
        commands,
        cube(8.0, 3.0, 0.2),
        Color::srgb(0.55, 0.5, 0.45),
        Transform::from_xyz(0.0, 1.5, -5.0),
        Part::Fixed,
        s,
    );
    for i in 0..PEOPLE {
        kit.spawn(
            commands,
            Capsule3d::new(0.2, 1.2),
            Color::srgb(0.35, 0.3, 0.45),
            Transform::default(),
            Part::Person(i),
            s,
        );
    }
    commands.spawn((
        PointLight { intensity: 400_000.0, range: 10.0, shadow_maps_enabled: false, ..default() },
        Transform::from_xyz(0.0, 2.2, 0.0),
        Visibility::Visible,
        Part::Lamp,
        s,
    ));
}

fn meadow(commands: &mut Commands, kit: &mut Kit, layer: Layer) {
    for (i, color) in
        [Color::srgb(0.35, 0.6, 0.3), Color::srgb(0.86, 0.8, 0.6), Color::srgb(0.3, 0.38, 0.22)].into_iter().enumerate()
    {
        kit.spawn(
            commands,
            cube(300.0, 0.1, 300.0),
            color,
            Transform::from_xyz(0.0, -0.05, 0.0),
            Part::SafeGround(i as u8),
            layer,
        );
    }
    kit.spawn(
        commands,
        cube(300.0, 0.1, 150.0),
        Color::srgb(0.2, 0.45, 0.7),
        Transform::from_xyz(0.0, -0.02, -90.0),
        Part::Sea,
        layer,
    );
    let trees = [
        (-6.0, -12.0),
        (5.0, -15.0),
        (12.0, -8.0),
        (-14.0, -4.0),
        (2.0, -25.0),
        (-3.0, -7.0),
        (8.0, -5.0),
        (-9.0, -18.0),
        (15.0, -20.0),
        (-18.0, -10.0),
    ];
    for (i, (x, z)) in trees.into_iter().enumerate() {
        let trunk = kit.spawn(
            commands,
            Cylinder::new(0.25, 3.0),
            Color::srgb(0.4, 0.28, 0.18),
            Transform::from_xyz(x, 1.5, z),
            Part::Tree(i as u8),
            layer,
        );
        let crown = kit.spawn(
            commands,
            Sphere::new(1.8).mesh().uv(16, 10),
            Color::srgb(0.2, 0.45, 0.22),
            Transform::from_xyz(0.0, 2.3, 0.0),
            Part::Fixed,
            layer,
        );
        commands.entity(crown).insert(ChildOf(trunk));
    }
    kit.spawn(
        commands,
        Sphere::new(0.25).mesh().uv(24, 16),
        Color::srgba(0.8, 0.9, 1.0, 0.6),
        Transform::from_xyz(0.0, 1.5, -2.5),
        Part::Breath,
        layer,
    );
    lamp(commands, layer, Vec3::new(5.0, 20.0, 10.0), 10_000.0);
}

/// Each frame: the level's parameters onto the parts, and the safe scene
/// swapped in behind the fade's darkest point.
#[allow(clippy::too_many_arguments, reason = "Bevy injects system parameters")]
fn apply(
    time: Res<Time>,
    engine: Res<Engine>,
    drive: Res<Drive>,
    mut shown: ResMut<Shown>,
    mut parts: Query<(&Part, &Layer, &mut Transform, &mut Visibility)>,
    mut suns: Query<(&Part, &mut DirectionalLight)>,
    mut bulbs: Query<(&Part, &mut PointLight)>,
    clear: Option<ResMut<ClearColor>>,
) {
    let scenario = engine.session.scenario();
    let params = scenario.params_at(drive.level);
    let safe = drive.safe_blend >= 0.5;
    let safe_scene = scenario.safety.safe_scene;
    *shown = Shown { params, safe };
    let t = time.elapsed_secs();
    let kind = params.kind();
    let n = |name: &str| params.number(name) as f32;
    let flag = |name: &str| params.number(name) > 0.5;
    let choice = |name: &str| match params.get(name) {
        Some(scenario::ParamValue::Choice(c)) => c,
        _ => "",
    };
    // Width of the speaking room, metres.
    let room = match choice("room") {
        "auditorium" => 24.0,
        "classroom" => 11.0,
        _ => 6.0,
    };
    let brightness = match kind {
        EnvironmentKind::Lift | EnvironmentKind::Safe => n("light").max(0.05),
        EnvironmentKind::Flying if flag("night") => 0.35,
        _ => 1.0,
    };
    for (part, layer, mut transform, mut visibility) in &mut parts {
        let in_view = match layer {
            Layer::Scenario => !safe || kind == EnvironmentKind::Safe,
            Layer::Safe => safe,
        };
        let mut show = in_view;
        let layer_params_kind = if *layer == Layer::Safe { EnvironmentKind::Safe } else { kind };
        match (layer_params_kind, *part) {
            (EnvironmentKind::Heights, Part::Ground) => transform.translation.y = -n("height_m") - 0.1,
            (EnvironmentKind::Heights, Part::Building(h)) => {
                transform.translation.y = -n("height_m") + h / 2.0;
                transform.scale.y = h;
            }
            (EnvironmentKind::Heights, Part::Floor { glass }) => {
                let edge = n("edge_distance_m");
                transform.translation = Vec3::new(0.0, -0.05, (2.0 - edge) / 2.0);
                transform.scale = Vec3::new(1.0, 1.0, 2.0 + edge);
                show &= glass == flag("glass_floor");
                // The platform moves with the wind when the scenario asks for sway.
                transform.rotation = Quat::from_rotation_z((t * 0.7).sin() * 0.01 * n("sway"));
            }
            (EnvironmentKind::Heights, Part::Railing) => {
                let h = n("railing_height_m");
                transform.translation = Vec3::new(0.0, h / 2.0, -n("edge_distance_m"));
                transform.scale.y = h.max(0.01);
                show &= h >= 0.05;
            }
            (EnvironmentKind::Heights, Part::LiftGlass) => show &= choice("setting") == "glass_lift",
            (EnvironmentKind::Heights, Part::Drop) => {
                transform.translation = Vec3::new(0.0, -n("height_m"), -n("edge_distance_m") - 1.0)
            }
            (EnvironmentKind::Spiders, Part::Bowl | Part::Lid) => {
                // The bowl comes closer with the level; once the spiders are
                // out it stays at the far end of the table, open.
                let d = if flag("contained") { n("distance_m").max(0.2) } else { 1.2 };
                transform.translation = Vec3::new(0.0, 0.85, -0.35 - d);
                if *part == Part::Lid {
                    transform.translation.y = 0.93;
                    show &= flag("contained");
                }
            }
            (EnvironmentKind::Spiders, Part::Spider(i)) => {
                let count = params.number("count") as u32;
                show &= i < count;
                let size = n("size_cm") / 100.0;
                let activity = n("activity");
                let phase = i as f32 * 2.399;
                let d = n("distance_m");
                // Contained spiders stay in the bowl; free ones spread around
                // a point `distance_m` from the patient's hand, walking.
                let (centre, spread) = if flag("contained") {
                    (Vec3::new(0.0, 0.79, -0.35 - d.max(0.2)), 0.09)
                } else {
                    (Vec3::new(0.0, 0.78, -0.35 - d), 0.05 + 0.025 * (i as f32).sqrt())
                };
                let wander = activity
                    * 0.05
                    * Vec3::new((t * (1.0 + activity) + phase).sin(), 0.0, (t * 0.8 + phase * 1.3).cos());
                let ring = spread * Vec3::new(phase.cos(), 0.0, phase.sin());
                transform.translation = centre + ring + wander;
                transform.scale = Vec3::new(size * 0.45, size * 0.25, size * 0.6);
                transform.rotation = Quat::from_rotation_y(phase + t * activity);
            }
            (EnvironmentKind::PublicSpeaking, Part::Hall) => {
                transform.scale = Vec3::new(room, 1.0, room + 4.0);
                transform.translation = Vec3::new(0.0, -0.05, -room / 2.0);
            }
            (EnvironmentKind::PublicSpeaking, Part::HallWall(w)) => {
                let size = room;
                let (depth, height) = (size + 4.0, if size > 20.0 { 8.0 } else { 3.2 });
                let (pos, scale) = match w {
                    0 => (Vec3::new(-size / 2.0, height / 2.0, -depth / 2.0 + 2.0), Vec3::new(0.2, height, depth)),
                    1 => (Vec3::new(size / 2.0, height / 2.0, -depth / 2.0 + 2.0), Vec3::new(0.2, height, depth)),
                    2 => (Vec3::new(0.0, height / 2.0, -depth + 2.0), Vec3::new(size, height, 0.2)),
                    _ => (Vec3::new(0.0, height / 2.0, 2.0), Vec3::new(size, height, 0.2)),
                };
                transform.translation = pos;
                transform.scale = scale;
            }
            (EnvironmentKind::PublicSpeaking, Part::Listener(i)) => {
                let audience = params.number("audience") as u32;
                show &= i < audience;
                let per_row = ((audience as f32).sqrt() * 1.6).ceil().max(3.0) as u32;
                let (row, seat) = (i / per_row, i % per_row);
                let x = (seat as f32 - (per_row as f32 - 1.0) / 2.0) * 0.75;
                let z = -n("speaker_distance_m") - row as f32 * 1.0;
                transform.translation = Vec3::new(x, 0.5, z);
                // The first share of the audience looks at the speaker; the
                // rest look away; hostile listeners lean back, arms crossed.
                let attentive = (i as f32) < n("attention") * audience as f32;
                let toward = (-x).atan2(-z) + PI;
                let away = toward + if i % 2 == 0 { 1.1 } else { -1.1 };
                let fidget = (t * 0.5 + i as f32).sin() * 0.05;
                transform.rotation = Quat::from_rotation_y(if attentive { toward + fidget } else { away + fidget })
                    * Quat::from_rotation_x(-0.25 * n("hostility"));
                if flag("questions") && i % 7 == 3 {
                    transform.translation.y += 0.08 * (t * 2.0 + i as f32).sin().max(0.0);
                }
            }
            (EnvironmentKind::Flying, Part::Cabin) => {
                let shake = n("turbulence");
                let pitch = match choice("phase") {
                    "takeoff" => 0.17,
                    "descent" | "landing" => -0.05,
                    _ => 0.0,
                };
                transform.rotation = Quat::from_rotation_x(pitch + shake * 0.03 * (t * 7.3).sin())
                    * Quat::from_rotation_z(shake * 0.04 * (t * 5.1).sin());
                transform.translation.y = shake * 0.05 * (t * 11.0).sin();
                // The patient's seat: aisle, middle or window, in their row.
                let x = match choice("seat") {
                    "window" => 1.3,
                    "middle" => 0.85,
                    _ => 0.4,
                };
                transform.translation.x = x;
                transform.translation.z = (n("row") - 12.0) * -0.02;
            }
            (EnvironmentKind::Flying, Part::Passenger(i)) => {
                // Nobody sits in the patient's own seat.
                let own = match choice("seat") {
                    "window" => 0,
                    "middle" => 1,
                    _ => 2,
                };
                show &= (i as f32) < n("occupancy") * PASSENGERS as f32 && passenger_seat(i) != (0, own);
            }
            (EnvironmentKind::Lift, Part::Wall(w)) => {
                let (wd, dp) = (n("width_m"), n("depth_m"));
                let (pos, scale) = match w {
                    0 => (Vec3::new(-wd / 2.0, 1.2, -dp / 2.0 + 0.5), Vec3::new(0.05, 1.0, dp)),
                    1 => (Vec3::new(wd / 2.0, 1.2, -dp / 2.0 + 0.5), Vec3::new(0.05, 1.0, dp)),
                    2 => (Vec3::new(0.0, 1.2, 0.5), Vec3::new(wd, 1.0, 0.05)),
                    _ => (Vec3::new(0.0, 1.2, -dp + 0.5), Vec3::new(wd, 1.0, 0.05)),
                };
                transform.translation = pos;
                transform.scale = scale;
                // The front wall is the door frame; its middle is the doors.
                show &= w != 3 || !flag("doors_open");
            }
            (EnvironmentKind::Lift, Part::Doors) => {
                transform.translation = Vec3::new(0.0, 1.1, -n("depth_m") + 0.52);
                transform.scale.x = n("width_m") * 0.6;
                show &= !flag("doors_open");
            }
            (EnvironmentKind::Lift, Part::Person(i)) => {
                let people = params.number("people") as u32;
                show &= i < people;
                let (wd, dp) = (n("width_m"), n("depth_m"));
                let (col, row) = ((i % 3) as f32, (i / 3) as f32);
                transform.translation = Vec3::new((col - 1.0) * wd / 3.5, 0.8, 0.2 - (row + 1.0) * dp / 5.0);
                transform.rotation = Quat::from_rotation_y(if i % 2 == 0 { 0.0 } else { FRAC_PI_2 });
            }
            (EnvironmentKind::Safe, Part::SafeGround(g)) => show &= g == safe_setting(&params, *layer, safe_scene),
            (EnvironmentKind::Safe, Part::Sea) => show &= safe_setting(&params, *layer, safe_scene) == 1,
            (EnvironmentKind::Safe, Part::Tree(i)) => {
                show &= match safe_setting(&params, *layer, safe_scene) {
                    1 => false,
                    2 => true,
                    _ => i < 5,
                };
            }
            (EnvironmentKind::Safe, Part::Breath) => {
                let guide = if *layer == Layer::Safe { 0.6 } else { n("breathing_guide") };
                show &= guide >= 0.05;
                // Six breaths a minute.
                let breath = 1.0 + 0.35 * (t * TAU / 10.0).sin();
                transform.scale = Vec3::splat(breath);
            }
            _ => {}
        }
        // Written only when it changes, so that Bevy does not re-propagate
        // the visibility of every part on every frame.
        visibility.set_if_neq(if show { Visibility::Inherited } else { Visibility::Hidden });
    }
    for (part, mut light) in &mut suns {
        if *part == Part::Lamp {
            light.illuminance = 9_000.0 * if safe { 1.0 } else { brightness };
        }
    }
    for (part, mut light) in &mut bulbs {
        if *part == Part::Lamp {
            light.intensity = 600_000.0 * brightness * brightness;
        }
    }
    if let Some(mut clear) = clear {
        let sky = match (safe, kind) {
            (true, _) | (false, EnvironmentKind::Safe) => Color::srgb(0.55, 0.75, 0.95),
            (false, EnvironmentKind::Heights) => Color::srgb(0.6, 0.72, 0.85),
            (false, EnvironmentKind::Flying) if flag("night") => Color::srgb(0.02, 0.02, 0.06),
            (false, EnvironmentKind::Flying) if choice("weather") == "storm" => Color::srgb(0.25, 0.27, 0.3),
            (false, EnvironmentKind::Flying) => Color::srgb(0.55, 0.7, 0.9),
            _ => Color::srgb(0.08, 0.08, 0.09),
        };
        if clear.0 != sky {
            clear.0 = sky;
        }
    }
}

/// The safe scene's setting: the scenario's own for a calm scenario, else
/// the scenario's `safe_scene`, as 0 meadow, 1 beach, 2 forest.
fn safe_setting(params: &Params, layer: Layer, safe_scene: &str) -> u8 {
    let name = match (layer, params.get("setting")) {
        (Layer::Scenario, Some(scenario::ParamValue::Choice(c))) => c,
        _ => safe_scene,
    };
    match name {
        "beach" => 1,
        "forest" => 2,
        _ => 0,
    }
}
