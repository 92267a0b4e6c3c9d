//! Spiders: the patient sits at a long table; a glass bowl with the spiders
//! comes closer step by step, then the spiders are out on the table and
//! finally at the patient's hands. `realism` turns a round brown cartoon
//! with stick legs into a dark two-part body with thick legs and hair.

use bevy::prelude::*;
use scenario::EnvironmentKind;

use super::kit::{Kit, cube, sun};
use super::{Environment, Feared, Layer, Look, ParamReader, Placement, Surroundings};
use crate::audio::Mix;
use crate::telemetry::Stimulus;

/// The spiders environment.
#[derive(Debug)]
pub struct Spiders;

/// The most spiders the schema allows.
pub const SPIDERS: u32 = 50;

/// Where the patient's hands rest on the table (z, metres).
pub const HANDS_Z: f32 = -0.35;

/// The parameters, typed.
#[derive(Clone, Copy, Debug)]
pub struct View {
    count: u32,
    size_m: f32,
    distance_m: f32,
    activity: f32,
    contained: bool,
    realism: f32,
}

/// A part of the spiders scene.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub enum Part {
    /// Never moved.
    Fixed,
    /// The bowl's lid.
    Lid,
    /// The bowl.
    Bowl,
    /// Spider number n (the whole spider: its size, place and heading).
    Spider(u32),
    /// A spider's body: the realistic one (dark, two parts) or the cartoon.
    Body {
        /// The realistic one.
        realistic: bool,
    },
    /// A leg segment of this length (leg spans), thicker with realism.
    Leg(f32),
    /// A bristle, shown from a middling realism on.
    Hair,
}

impl Environment for Spiders {
    const KIND: EnvironmentKind = EnvironmentKind::Spiders;
    type View = View;
    type Part = Part;

    fn view(p: &mut ParamReader) -> View {
        View {
            count: p.count("count"),
            size_m: p.number("size_cm") / 100.0,
            distance_m: p.number("distance_m"),
            activity: p.number("activity"),
            contained: p.flag("contained"),
            realism: p.number("realism"),
        }
    }

    /// Seated at the table, looking down the table: the hands resting on it
    /// at the bottom of the view, its far end at the top.
    fn placement() -> Placement {
        Placement::seated(Vec3::new(0.0, 1.2, 0.15), Vec3::new(0.0, 0.75, -1.0))
    }

    fn spawn(commands: &mut Commands, kit: &mut Kit, layer: Layer) {
        let wood = Color::srgb(0.45, 0.35, 0.28);
        kit.spawn(commands, cube(8.0, 0.1, 8.0), wood, Transform::from_xyz(0.0, -0.05, -2.0), Part::Fixed, layer);
        let wall = Color::srgb(0.82, 0.8, 0.74);
        kit.spawn(commands, cube(8.0, 3.0, 0.2), wall, Transform::from_xyz(0.0, 1.5, -6.0), Part::Fixed, layer);
        let table = Color::srgb(0.55, 0.4, 0.25);
        kit.spawn(commands, cube(1.6, 0.06, 5.0), table, Transform::from_xyz(0.0, 0.74, -2.6), Part::Fixed, layer);
        // A large glass bowl, 50 cm across, and its lid.
        let glass = Color::srgba(0.8, 0.9, 1.0, 0.3);
        let bowl = kit.spawn(commands, Cylinder::new(0.25, 0.3), glass, Transform::default(), Part::Bowl, layer);
        let lid = Color::srgba(0.8, 0.9, 1.0, 0.5);
        let lid = kit.spawn(commands, Cylinder::new(0.26, 0.015), lid, Transform::default(), Part::Lid, layer);
        commands.entity(bowl).insert(Feared);
        commands.entity(lid).insert(Feared);
        for i in 0..SPIDERS {
            spider(commands, kit, layer, i);
        }
        sun(commands, layer, Vec3::new(2.0, 6.0, 3.0), 9_000.0);
    }

    fn pose(v: &View, part: Part, t: f32, transform: &mut Transform) -> bool {
        match part {
            Part::Fixed => true,
            Part::Bowl | Part::Lid => {
                // The bowl comes closer with the level; once the spiders are
                // out it stays at the far end of the table, open.
                let d = if v.contained { v.distance_m.max(0.3) } else { 1.2 };
                transform.translation = Vec3::new(0.0, 0.92, HANDS_Z - d);
                if part == Part::Lid {
                    transform.translation.y = 1.075;
                    return v.contained;
                }
                true
            }
            Part::Spider(i) => {
                let phase = i as f32 * 2.399;
                let d = v.distance_m;
                // Contained spiders stay in the bowl; free ones spread around
                // a point `distance_m` from the patient's hands, walking.
                let (centre, spread) = if v.contained {
                    (Vec3::new(0.0, 0.78, HANDS_Z - d.max(0.3)), 0.12)
                } else {
                    (Vec3::new(0.0, 0.77, HANDS_Z - d), 0.05 + 0.025 * (i as f32).sqrt())
                };
                let a = v.activity;
                let wander = a * 0.05 * Vec3::new((t * (1.0 + a) + phase).sin(), 0.0, (t * 0.8 + phase * 1.3).cos());
                let ring = spread * Vec3::new(phase.cos(), 0.0, phase.sin());
                transform.translation = centre + ring + wander;
                transform.scale = Vec3::splat(v.size_m.max(0.001));
                transform.rotation = Quat::from_rotation_y(phase + t * a);
                i < v.count
            }
            Part::Body { realistic } => realistic == (v.realism >= 0.5),
            Part::Leg(length) => {
                // Stick legs for a cartoon, thick ones for a real spider.
                let thick = 0.6 + 1.2 * v.realism;
                transform.scale = Vec3::new(length, thick, thick);
                true
            }
            Part::Hair => {
                transform.scale = Vec3::splat(0.5 + v.realism);
                v.realism >= 0.35
            }
        }
    }

    fn look(_: &View) -> Look {
        Look {
            sky: Color::srgb(0.08, 0.08, 0.09),
            brightness: 1.0,
            haze_m: None,
            surroundings: Surroundings::Apartment,
        }
    }

    fn mix(v: &View) -> Mix {
        let count = (v.count as f32 / 10.0).min(1.0);
        let muffled = if v.contained { 0.35 } else { 1.0 };
        Mix { rustle: count * (0.2 + 0.8 * v.activity) * muffled, ..Mix::default() }
    }
}

/// A segment from `a` to `b` (leg spans), for a mesh one unit long along x.
fn segment(a: Vec3, b: Vec3) -> (Transform, f32) {
    let length = a.distance(b);
    let rotation = Quat::from_rotation_arc(Vec3::X, (b - a).normalize_or(Vec3::X));
    (Transform::from_translation((a + b) / 2.0).with_rotation(rotation), length)
}

/// Spider `i`: a root the pose moves and scales to its leg span, with both
/// bodies, eight legs of two segments, pedipalps, eyes and bristles. The
/// root is the stimulus telemetry measures.
fn spider(commands: &mut Commands, kit: &mut Kit, layer: Layer, i: u32) {
    let root =
        commands.spawn((Transform::default(), Visibility::Visible, Part::Spider(i), Stimulus, Feared, layer)).id();
    let dark = Color::srgb(0.09, 0.065, 0.05);
    let cartoon = Color::srgb(0.5, 0.33, 0.18);
    // The realistic body: cephalothorax in front, a larger abdomen behind.
    let body = kit.child(
        commands,
        root,
        Sphere::new(0.08).mesh().uv(12, 8),
        dark,
        Transform::from_xyz(0.0, 0.07, -0.06).with_scale(Vec3::new(1.0, 0.7, 1.15)),
        Part::Body { realistic: true },
        layer,
    );
    let abdomen = Transform::from_xyz(0.0, 0.03, 0.2).with_scale(Vec3::new(1.0, 0.95, 1.1));
    kit.child(commands, body, Sphere::new(0.12).mesh().uv(12, 8), dark, abdomen, Part::Fixed, layer);
    for x in [-0.025, 0.025] {
        let eye = Transform::from_xyz(x, 0.04, -0.07);
        kit.child(commands, body, Sphere::new(0.012).mesh().uv(6, 4), Color::BLACK, eye, Part::Fixed, layer);
    }
    // Bristles on the abdomen, pointing out and back.
    for b in 0..8 {
        let angle = b as f32 * 0.8;
        let at = Vec3::new(angle.cos() * 0.1, 0.08 + (b % 3) as f32 * 0.02, 0.2 + angle.sin() * 0.1);
        let hair = Transform::from_translation(at)
            .with_rotation(Quat::from_rotation_arc(Vec3::Y, (at - Vec3::new(0.0, 0.03, 0.2)).normalize()));
        kit.child(commands, root, cube(0.006, 0.06, 0.006), dark, hair, Part::Hair, layer);
    }
    // The cartoon: one round brown body.
    let round = Transform::from_xyz(0.0, 0.08, 0.05);
    kit.child(
        commands,
        root,
        Sphere::new(0.13).mesh().uv(12, 8),
        cartoon,
        round,
        Part::Body { realistic: false },
        layer,
    );
    // Eight legs, four a side, each a femur up to the knee and a tibia down
    // to the foot; pedipalps in front.
    let leg_colour = Color::srgb(0.1, 0.07, 0.05);
    for side in [-1.0f32, 1.0] {
        for k in 0..4 {
            let z = -0.08 + k as f32 * 0.05;
            let spread = (k as f32 - 1.5) * 0.45;
            let out = Vec3::new(side * spread.cos(), 0.0, spread.sin());
            let hip = Vec3::new(side * 0.05, 0.07, z);
            let knee = hip + out * 0.22 + Vec3::Y * 0.1;
            let foot = hip + out * 0.48 - Vec3::Y * 0.07;
            for (a, b) in [(hip, knee), (knee, foot)] {
                let (t, length) = segment(a, b);
                kit.child(commands, root, cube(1.0, 0.018, 0.018), leg_colour, t, Part::Leg(length), layer);
            }
        }
        let (t, length) = segment(Vec3::new(side * 0.02, 0.06, -0.12), Vec3::new(side * 0.05, 0.02, -0.2));
        kit.child(commands, root, cube(1.0, 0.018, 0.018), leg_colour, t, Part::Leg(length), layer);
    }
}
