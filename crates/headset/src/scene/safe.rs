//! The safe place: a meadow, a beach or a forest, with a slow breathing
//! guide. It is a scenario of its own (relaxation practice) and, behind
//! every other scenario's fade, the safe scene.

use std::f32::consts::TAU;

use bevy::prelude::*;
use scenario::EnvironmentKind;

use super::kit::{Kit, cube, sun};
use super::{Environment, Layer, Look, ParamReader, Placement, Surroundings};
use crate::audio::Mix;

/// The safe place.
#[derive(Debug)]
pub struct Safe;

/// The parameters, typed.
#[derive(Clone, Copy, Debug)]
pub struct View {
    /// 0 meadow, 1 beach, 2 forest.
    setting: u8,
    light: f32,
    ambience: f32,
    breathing_guide: f32,
}

/// A part of the safe place.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub enum Part {
    /// Never moved.
    Fixed,
    /// The breathing guide.
    Breath,
    /// The ground of a setting (0 meadow, 1 beach, 2 forest).
    Ground(u8),
    /// A tree (not on the beach; more of them in the forest).
    Tree(u8),
    /// The sea, on the beach.
    Sea,
}

fn setting(name: &str) -> u8 {
    match name {
        "beach" => 1,
        "forest" => 2,
        _ => 0,
    }
}

/// The safe scene behind another scenario's fade: the scenario's
/// `safe_scene`, in full light, with the breathing guide.
pub fn safe_layer(safe_scene: &str) -> View {
    View { setting: setting(safe_scene), light: 1.0, ambience: 0.5, breathing_guide: 0.6 }
}

impl Environment for Safe {
    const KIND: EnvironmentKind = EnvironmentKind::Safe;
    type View = View;
    type Part = Part;

    fn view(p: &mut ParamReader) -> View {
        View {
            setting: setting(p.choice("setting")),
            light: p.number("light"),
            ambience: p.number("ambience"),
            breathing_guide: p.number("breathing_guide"),
        }
    }

    /// Standing in the open, looking at the breathing guide and beyond.
    fn placement() -> Placement {
        Placement::standing(Vec3::new(0.0, 1.6, 0.0), Vec3::new(0.0, 1.2, -5.0))
    }

    fn spawn(commands: &mut Commands, kit: &mut Kit, layer: Layer) {
        let grounds = [Color::srgb(0.35, 0.6, 0.3), Color::srgb(0.86, 0.8, 0.6), Color::srgb(0.3, 0.38, 0.22)];
        for (i, color) in grounds.into_iter().enumerate() {
            let at = Transform::from_xyz(0.0, -0.05, 0.0);
            kit.spawn(commands, cube(300.0, 0.1, 300.0), color, at, Part::Ground(i as u8), layer);
        }
        let sea = Transform::from_xyz(0.0, -0.02, -90.0);
        kit.spawn(commands, cube(300.0, 0.1, 150.0), Color::srgb(0.2, 0.45, 0.7), sea, Part::Sea, layer);
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
            let bark = Color::srgb(0.4, 0.28, 0.18);
            let at = Transform::from_xyz(x, 1.5, z);
            let trunk = kit.spawn(commands, Cylinder::new(0.25, 3.0), bark, at, Part::Tree(i as u8), layer);
            let leaves = Color::srgb(0.2, 0.45, 0.22);
            let crown = Transform::from_xyz(0.0, 2.3, 0.0);
            kit.child(commands, trunk, Sphere::new(1.8).mesh().uv(16, 10), leaves, crown, Part::Fixed, layer);
        }
        let guide = Color::srgba(0.8, 0.9, 1.0, 0.6);
        let at = Transform::from_xyz(0.0, 1.5, -2.5);
        kit.spawn(commands, Sphere::new(0.25).mesh().uv(24, 16), guide, at, Part::Breath, layer);
        sun(commands, layer, Vec3::new(5.0, 20.0, 10.0), 9_000.0);
    }

    fn pose(v: &View, part: Part, t: f32, transform: &mut Transform) -> bool {
        match part {
            Part::Fixed => true,
            Part::Ground(g) => g == v.setting,
            Part::Sea => v.setting == 1,
            Part::Tree(i) => match v.setting {
                1 => false,
                2 => true,
                _ => i < 5,
            },
            Part::Breath => {
                // Six breaths a minute.
                transform.scale = Vec3::splat(1.0 + 0.35 * (t * TAU / 10.0).sin());
                v.breathing_guide >= 0.05
            }
        }
    }

    fn look(v: &View, _: f32) -> Look {
        Look {
            sky: Color::srgb(0.55, 0.75, 0.95),
            brightness: v.light.max(0.05),
            haze_m: Some(600.0),
            surroundings: Surroundings::Park,
        }
    }

    fn mix(v: &View) -> Mix {
        Mix { calm: v.ambience, ..Mix::default() }
    }

    fn safe_layer_view(safe_scene: &'static str) -> Option<View> {
        Some(safe_layer(safe_scene))
    }
}
