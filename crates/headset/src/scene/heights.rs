//! Heights: a balcony, a glass lift or a roof edge above a city. The patient
//! stands at the railing looking out and down; the floor reaches from their
//! feet to the edge, their own building's façade falls away below it storey
//! by storey, and the city spreads to the hazy horizon: blocks with window
//! façades and roofs, streets with moving cars, trees.
//!
//! What makes height felt is plausibility and the near field, not
//! photo-realism (Gromer et al. 2018, 2019): so the effort is in what
//! stereo shows best, close by (the slab's edge, a railing of posts and
//! balusters one could lean on, the glass floor's beams, the glass lift's
//! frame), and in cues of scale below (windows a storey apart, cars and
//! trees of known size). Everything on the ground hangs from one root the
//! height moves, so a new height is one transform.

use std::f32::consts::{FRAC_PI_2, PI};

use bevy::prelude::*;
use scenario::EnvironmentKind;

use super::kit::{Kit, cube, hash, sun};
use super::{Environment, Feared, Layer, Look, ParamReader, Placement, Surroundings};
use crate::audio::Mix;
use crate::telemetry::Stimulus;

/// The heights environment.
#[derive(Debug)]
pub struct Heights;

/// The parameters, typed.
#[derive(Clone, Copy, Debug)]
pub struct View {
    glass_lift: bool,
    height_m: f32,
    edge_distance_m: f32,
    railing_height_m: f32,
    glass_floor: bool,
    wind: f32,
    sway: f32,
}

/// A part of the heights scene.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub enum Part {
    /// Never moved.
    Fixed,
    /// The city: the ground and all on it, `height_m` below the patient.
    City,
    /// Car number n, driving along its street.
    Car(u32),
    /// Storey n (0 just below the patient's floor) of the patient's own
    /// building's façade, under the edge.
    Storey(u32),
    /// The floor under the patient (opaque or glass).
    Floor {
        /// The glass one.
        glass: bool,
    },
    /// A steel beam under the glass floor, n of [`BEAMS`].
    Beam(u32),
    /// The railing's top rail.
    Rail,
    /// A railing post (n of 4) or baluster (n ≥ 4).
    Baluster(u32),
    /// A glass wall of the lift: left, right or front.
    LiftGlass(u8),
    /// The lift's steel frame (shown with the glass).
    LiftFrame,
    /// The point below the edge the patient fears.
    Drop,
}

/// Storeys of the patient's building drawn under the edge (3.5 m each).
const STOREYS: u32 = 60;
/// A storey's height, metres.
const STOREY_M: f32 = 3.5;
/// The city's grid: blocks every 70 m, out to 10 blocks each way.
const GRID_M: f32 = 70.0;
const REACH: i32 = 10;
/// Cars on the streets.
const CARS: u32 = 120;
/// Beams under the glass floor.
const BEAMS: u32 = 8;
/// Balusters in the railing (after its 4 posts).
const BALUSTERS: u32 = 26;

impl Environment for Heights {
    const KIND: EnvironmentKind = EnvironmentKind::Heights;
    type View = View;
    type Part = Part;

    fn view(p: &mut ParamReader) -> View {
        View {
            // Balcony, rooftop and bridge share the open edge; the lift adds glass walls.
            glass_lift: p.choice("setting") == "glass_lift",
            height_m: p.number("height_m"),
            edge_distance_m: p.number("edge_distance_m"),
            railing_height_m: p.number("railing_height_m"),
            glass_floor: p.flag("glass_floor"),
            wind: p.number("wind"),
            sway: p.number("sway"),
        }
    }

    /// Standing a step back from the edge, looking out and down over it.
    fn placement() -> Placement {
        Placement::standing(Vec3::new(0.0, 1.6, 0.0), Vec3::new(0.0, 1.6 - 4.7, -6.0))
    }

    fn spawn(commands: &mut Commands, kit: &mut Kit, layer: Layer) {
        city(commands, kit, layer);
        // The patient's own building: one storey of façade per part, so its
        // windows stay a storey apart at every height.
        let wall = kit.facade(Color::srgb(0.78, 0.74, 0.68), 3.5, 1.0);
        for n in 0..STOREYS {
            let id = kit.spawn_with(
                commands,
                cube(14.0, STOREY_M, 10.0),
                wall.clone(),
                Transform::default(),
                Part::Storey(n),
                layer,
            );
            commands.entity(id).insert(Feared);
        }
        // The floor: a concrete slab with a visible edge, or glass on beams.
        let floor = Color::srgb(0.55, 0.52, 0.48);
        let glass = Color::srgba(0.7, 0.85, 0.95, 0.22);
        kit.spawn(commands, cube(3.0, 0.25, 1.0), floor, Transform::default(), Part::Floor { glass: false }, layer);
        kit.spawn(commands, cube(3.0, 0.03, 1.0), glass, Transform::default(), Part::Floor { glass: true }, layer);
        let steel = Color::srgb(0.3, 0.31, 0.33);
        for n in 0..BEAMS {
            kit.spawn(commands, cube(3.0, 0.12, 0.08), steel, Transform::default(), Part::Beam(n), layer);
        }
        // The railing: a top rail on four posts, balusters between.
        let metal = Color::srgb(0.2, 0.2, 0.22);
        kit.spawn(commands, cube(3.04, 0.05, 0.07), metal, Transform::default(), Part::Rail, layer);
        for n in 0..4 + BALUSTERS {
            let (w, d) = if n < 4 { (0.06, 0.06) } else { (0.018, 0.018) };
            kit.spawn(commands, cube(w, 1.0, d), metal, Transform::default(), Part::Baluster(n), layer);
        }
        // The wall behind the patient.
        let back = Color::srgb(0.7, 0.66, 0.6);
        kit.spawn(commands, cube(6.0, 4.0, 0.3), back, Transform::from_xyz(0.0, 1.5, 2.2), Part::Fixed, layer);
        // The glass lift: three walls of glass in a steel frame.
        let pane = Color::srgba(0.75, 0.9, 1.0, 0.18);
        for (w, side) in [(0.04, 0u8), (0.04, 1), (3.0, 2)] {
            let depth = if side == 2 { 0.04 } else { 1.0 };
            kit.spawn(commands, cube(w, 2.6, depth), pane, Transform::default(), Part::LiftGlass(side), layer);
        }
        for (x, z) in [(-1.5, 2.0), (1.5, 2.0), (-1.5, 0.0), (1.5, 0.0)] {
            let post = Transform::from_xyz(x, 1.3, z);
            kit.spawn(commands, cube(0.08, 2.6, 0.08), steel, post, Part::LiftFrame, layer);
        }
        kit.spawn(commands, cube(3.1, 0.12, 4.2), steel, Transform::from_xyz(0.0, 2.66, 0.0), Part::LiftFrame, layer);
        commands.spawn((Transform::default(), Visibility::Visible, Part::Drop, Stimulus, layer));
        sun(commands, layer, Vec3::new(20.0, 40.0, 10.0), 9_000.0);
    }

    fn pose(v: &View, part: Part, t: f32, transform: &mut Transform) -> bool {
        let edge = v.edge_distance_m;
        // The slab sways with the wind when the scenario asks for it.
        let sway = Quat::from_rotation_z((t * 0.7).sin() * 0.01 * v.sway);
        match part {
            Part::Fixed => true,
            Part::City => {
                transform.translation.y = -v.height_m;
                true
            }
            Part::Car(i) => {
                *transform = car(i, t);
                true
            }
            Part::Storey(n) => {
                // The façade's front at the edge, the building behind it.
                let top = -0.25 - n as f32 * STOREY_M;
                transform.translation = Vec3::new(0.0, top - STOREY_M / 2.0, -edge + 5.0);
                top > -v.height_m
            }
            Part::Floor { glass } => {
                let thick = if glass { 0.03 } else { 0.25 };
                transform.translation = Vec3::new(0.0, -thick / 2.0, (2.0 - edge) / 2.0);
                transform.scale = Vec3::new(1.0, 1.0, 2.0 + edge);
                transform.rotation = sway;
                glass == v.glass_floor
            }
            Part::Beam(n) => {
                let z = 2.0 - (2.0 + edge) * (n as f32 + 0.5) / BEAMS as f32;
                transform.translation = Vec3::new(0.0, -0.1, z);
                transform.rotation = sway;
                v.glass_floor
            }
            Part::Rail => {
                let h = v.railing_height_m;
                transform.translation = Vec3::new(0.0, h, -edge + 0.04);
                h >= 0.05
            }
            Part::Baluster(n) => {
                let h = v.railing_height_m;
                let x =
                    if n < 4 { -1.47 + n as f32 * 0.98 } else { -1.4 + (n - 4) as f32 * 2.8 / (BALUSTERS - 1) as f32 };
                transform.translation = Vec3::new(x, h / 2.0, -edge + 0.04);
                transform.scale.y = h.max(0.01);
                h >= 0.05
            }
            Part::LiftGlass(side) => {
                transform.translation = match side {
                    0 => Vec3::new(-1.5, 1.3, (2.0 - edge) / 2.0),
                    1 => Vec3::new(1.5, 1.3, (2.0 - edge) / 2.0),
                    _ => Vec3::new(0.0, 1.3, -edge),
                };
                if side < 2 {
                    transform.scale.z = 2.0 + edge;
                }
                v.glass_lift
            }
            Part::LiftFrame => v.glass_lift,
            Part::Drop => {
                transform.translation = Vec3::new(0.0, -v.height_m, -edge - 1.0);
                true
            }
        }
    }

    fn look(_: &View, _: f32) -> Look {
        Look {
            sky: Color::srgb(0.6, 0.72, 0.85),
            brightness: 1.0,
            haze_m: Some(4000.0),
            surroundings: Surroundings::Sky,
        }
    }

    fn mix(v: &View) -> Mix {
        // Wind rises with the height (a third per decade above 3 m) and with
        // the scenario's own wind.
        let height = (v.height_m.max(3.0) / 3.0).log10() / 3.0;
        Mix { wind: (0.15 + height * 0.5 + v.wind * 0.5).min(1.0), ..Mix::default() }
    }
}

/// The city under a root the height moves: ground, streets, blocks with
/// window façades and roofs, trees, cars.
fn city(commands: &mut Commands, kit: &mut Kit, layer: Layer) {
    let root = commands.spawn((Transform::default(), Visibility::Visible, Part::City, Feared, layer)).id();
    let fixed = |kit: &mut Kit, commands: &mut Commands, mesh: Mesh, color: Color, at: Transform| {
        kit.child(commands, root, mesh, color, at, Part::Fixed, layer);
    };
    // The ground reaches the horizon: 8 km across.
    let ground = Color::srgb(0.35, 0.38, 0.33);
    fixed(kit, commands, cube(8000.0, 0.2, 8000.0), ground, Transform::from_xyz(0.0, -0.1, 0.0));
    // Streets between the blocks, both ways.
    let asphalt = Color::srgb(0.2, 0.2, 0.21);
    let span = 2.0 * REACH as f32 * GRID_M + GRID_M;
    for k in -REACH..REACH {
        let c = (k as f32 + 0.5) * GRID_M;
        fixed(kit, commands, cube(span, 0.1, 12.0), asphalt, Transform::from_xyz(0.0, 0.02, c));
        fixed(kit, commands, cube(12.0, 0.1, span), asphalt, Transform::from_xyz(c, 0.03, 0.0));
    }
    // Blocks: a storey count from a fixed hash (every run shows the same
    // city), lower towards the edge of town; three shades of façade.
    let shades = [0.62, 0.72, 0.84].map(|s| Color::srgb(s, s * 0.97, s * 0.92));
    let classes = [3.0f32, 5.0, 7.0, 10.0, 14.0, 19.0, 25.0, 32.0];
    let roof = Color::srgb(0.3, 0.3, 0.32);
    for gx in -REACH..=REACH {
        for gz in -REACH..=REACH {
            if gx == 0 && gz == 0 {
                continue;
            }
            let seed = ((gx + 50) * 101 + gz + 50) as u64;
            let ring = (gx.abs().max(gz.abs()) as f32) / REACH as f32;
            let class = ((hash(seed, 0) * (1.2 - ring) * classes.len() as f32) as usize).min(classes.len() - 1);
            let storeys = classes[class];
            let h = storeys * STOREY_M;
            let (x, z) = (gx as f32 * GRID_M, gz as f32 * GRID_M);
            let shade = shades[(hash(seed, 1) * shades.len() as f32) as usize % shades.len()];
            let facade = kit.facade(shade, 10.0, storeys);
            let block = Transform::from_xyz(x, h / 2.0, z).with_scale(Vec3::new(1.0, h, 1.0));
            let id = kit.spawn_with(commands, cube(40.0, 1.0, 40.0), facade, block, Part::Fixed, layer);
            commands.entity(id).insert(ChildOf(root));
            fixed(kit, commands, cube(40.6, 0.6, 40.6), roof, Transform::from_xyz(x, h + 0.3, z));
            // Plant on the roof: lift housing and ventilation.
            let (px, pz) = (x + 12.0 * (hash(seed, 2) - 0.5), z + 12.0 * (hash(seed, 3) - 0.5));
            fixed(
                kit,
                commands,
                cube(6.0, 2.5, 8.0),
                Color::srgb(0.5, 0.5, 0.5),
                Transform::from_xyz(px, h + 1.85, pz),
            );
        }
    }
    // Trees along the streets near the patient's building and in its court.
    let (bark, leaves) = (Color::srgb(0.3, 0.22, 0.15), [Color::srgb(0.22, 0.38, 0.18), Color::srgb(0.3, 0.45, 0.2)]);
    let mut n = 0u64;
    for k in -3..3 {
        let c = (k as f32 + 0.5) * GRID_M;
        for step in -14..=14 {
            let along = step as f32 * 15.0 + 7.0;
            for (x, z) in [(along, c + 8.0), (c - 8.0, along)] {
                n += 1;
                let size = 0.8 + 0.4 * hash(n, 7);
                fixed(
                    kit,
                    commands,
                    Cylinder::new(0.25, 4.0).mesh().resolution(6).into(),
                    bark,
                    Transform::from_xyz(x, 2.0, z),
                );
                let crown = Transform::from_xyz(x, 4.0 + 2.5 * size, z).with_scale(Vec3::splat(size));
                fixed(kit, commands, Sphere::new(3.0).mesh().uv(8, 6), leaves[(n % 2) as usize], crown);
            }
        }
    }
    // Cars: a body and a cabin each, in five colours.
    let paints = [(0.7, 0.1, 0.1), (0.9, 0.9, 0.9), (0.1, 0.1, 0.12), (0.2, 0.3, 0.6), (0.6, 0.6, 0.62)];
    for i in 0..CARS {
        let (r, g, b) = paints[i as usize % paints.len()];
        let car = kit.child(
            commands,
            root,
            cube(1.9, 1.0, 4.4),
            Color::srgb(r, g, b),
            Transform::default(),
            Part::Car(i),
            layer,
        );
        let cabin = Transform::from_xyz(0.0, 0.75, 0.2);
        kit.child(commands, car, cube(1.7, 0.6, 2.3), Color::srgb(0.15, 0.18, 0.22), cabin, Part::Fixed, layer);
    }
}

/// Car `i` at time `t`: on its street and lane, at its speed, round and
/// round the town.
fn car(i: u32, t: f32) -> Transform {
    let seed = u64::from(i) + 5000;
    let street = ((hash(seed, 0) * 6.0) as i32 - 3) as f32 + 0.5;
    let along_x = hash(seed, 1) < 0.5;
    let way = if hash(seed, 2) < 0.5 { 1.0 } else { -1.0 };
    let speed = 8.0 + 7.0 * hash(seed, 3);
    let span = 2.0 * REACH as f32 * GRID_M;
    let at = (hash(seed, 4) * span + way * speed * t).rem_euclid(span) - span / 2.0;
    let lane = street * GRID_M + way * 3.0;
    let (position, heading) = if along_x {
        (Vec3::new(at, 0.55, lane), way * FRAC_PI_2)
    } else {
        (Vec3::new(lane, 0.55, at), if way > 0.0 { PI } else { 0.0 })
    };
    Transform::from_translation(position).with_rotation(Quat::from_rotation_y(heading))
}
