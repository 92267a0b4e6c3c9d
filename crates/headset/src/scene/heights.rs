//! Heights: a balcony, a glass lift or a roof edge above a city. The patient
//! stands at the railing looking out and down; the floor reaches from their
//! feet to the edge, their own building's façade falls away below it, and
//! the ground with its blocks spreads to the horizon.

use bevy::prelude::*;
use scenario::EnvironmentKind;

use super::kit::{Kit, cube, sun};
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
    /// The ground far below.
    Ground,
    /// A block of the city, with its height.
    Building(f32),
    /// The façade of the patient's own building, under the edge.
    Facade,
    /// The floor under the patient (opaque or glass).
    Floor {
        /// The glass one.
        glass: bool,
    },
    /// The railing at the edge.
    Railing,
    /// The glass walls of the lift.
    LiftGlass,
    /// The point below the edge the patient fears.
    Drop,
}

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

    /// Standing, looking out and 38° down: over the railing at the ground.
    fn placement() -> Placement {
        Placement::standing(Vec3::new(0.0, 1.6, 0.0), Vec3::new(0.0, 1.6 - 4.7, -6.0))
    }

    fn spawn(commands: &mut Commands, kit: &mut Kit, layer: Layer) {
        // The ground reaches the horizon: 8 km across.
        let ground = Color::srgb(0.35, 0.38, 0.33);
        // The drop: the ground, the city on it and the patient's own façade.
        let id = kit.spawn(commands, cube(8000.0, 0.2, 8000.0), ground, Transform::default(), Part::Ground, layer);
        commands.entity(id).insert(Feared);
        // Blocks of the city on a grid of streets 150 m apart, out to 1.2 km, leaving the
        // courtyard below the patient open. Heights from a fixed hash, so
        // every run shows the same city; four shades, so four instanced
        // batches draw them all.
        let shades = [0.42, 0.5, 0.58, 0.66].map(|s| Color::srgb(s, s, s * 1.05));
        for gx in -8i32..=8 {
            for gz in -8i32..=8 {
                if gx.abs() <= 1 && gz.abs() <= 1 {
                    continue;
                }
                let hash = (gx.wrapping_mul(73_856_093) ^ gz.wrapping_mul(19_349_663)).unsigned_abs();
                // Fewer and lower blocks towards the edge of town.
                let ring = (gx.abs().max(gz.abs()) as f32) / 8.0;
                let height = 12.0 + (hash % 100) as f32 * (1.4 - ring);
                let (x, z) = (gx as f32 * 150.0, gz as f32 * 150.0);
                let shade = shades[(hash / 100) as usize % shades.len()];
                let id = kit.spawn(
                    commands,
                    cube(50.0, 1.0, 50.0),
                    shade,
                    Transform::from_xyz(x, 0.0, z),
                    Part::Building(height),
                    layer,
                );
                commands.entity(id).insert(Feared);
            }
        }
        let facade = kit.spawn(
            commands,
            cube(14.0, 1.0, 10.0),
            Color::srgb(0.62, 0.58, 0.52),
            Transform::default(),
            Part::Facade,
            layer,
        );
        commands.entity(facade).insert(Feared);
        let floor = Color::srgb(0.55, 0.52, 0.48);
        let glass = Color::srgba(0.7, 0.85, 0.95, 0.25);
        kit.spawn(commands, cube(3.0, 0.1, 1.0), floor, Transform::default(), Part::Floor { glass: false }, layer);
        kit.spawn(commands, cube(3.0, 0.1, 1.0), glass, Transform::default(), Part::Floor { glass: true }, layer);
        let railing = Color::srgb(0.25, 0.25, 0.28);
        kit.spawn(commands, cube(3.0, 1.0, 0.06), railing, Transform::default(), Part::Railing, layer);
        // The wall behind the patient, and the lift's glass around them.
        kit.spawn(
            commands,
            cube(6.0, 4.0, 0.3),
            Color::srgb(0.7, 0.66, 0.6),
            Transform::from_xyz(0.0, 1.5, 2.2),
            Part::Fixed,
            layer,
        );
        for (x, z, w, d) in [(-1.5, 0.0, 0.04, 4.0), (1.5, 0.0, 0.04, 4.0), (0.0, -2.0, 3.0, 0.04)] {
            kit.spawn(
                commands,
                cube(w, 2.6, d),
                Color::srgba(0.75, 0.9, 1.0, 0.18),
                Transform::from_xyz(x, 1.3, z),
                Part::LiftGlass,
                layer,
            );
        }
        commands.spawn((Transform::default(), Visibility::Visible, Part::Drop, Stimulus, layer));
        sun(commands, layer, Vec3::new(20.0, 40.0, 10.0), 9_000.0);
    }

    fn pose(v: &View, part: Part, t: f32, transform: &mut Transform) -> bool {
        let edge = v.edge_distance_m;
        match part {
            Part::Fixed => true,
            Part::Ground => {
                transform.translation.y = -v.height_m - 0.1;
                true
            }
            Part::Building(h) => {
                transform.translation.y = -v.height_m + h / 2.0;
                transform.scale.y = h;
                true
            }
            Part::Facade => {
                // The patient's own building, its front at the edge.
                transform.translation = Vec3::new(0.0, -v.height_m / 2.0 - 0.1, -edge + 5.0);
                transform.scale.y = v.height_m;
                true
            }
            Part::Floor { glass } => {
                transform.translation = Vec3::new(0.0, -0.05, (2.0 - edge) / 2.0);
                transform.scale = Vec3::new(1.0, 1.0, 2.0 + edge);
                // The platform moves with the wind when the scenario asks for sway.
                transform.rotation = Quat::from_rotation_z((t * 0.7).sin() * 0.01 * v.sway);
                glass == v.glass_floor
            }
            Part::Railing => {
                let h = v.railing_height_m;
                transform.translation = Vec3::new(0.0, h / 2.0, -edge);
                transform.scale.y = h.max(0.01);
                h >= 0.05
            }
            Part::LiftGlass => v.glass_lift,
            Part::Drop => {
                transform.translation = Vec3::new(0.0, -v.height_m, -edge - 1.0);
                true
            }
        }
    }

    fn look(_: &View) -> Look {
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
