//! Public speaking: the patient stands at a lectern facing an audience in a
//! meeting room, a classroom or an auditorium. Listeners look at the
//! speaker or away, lean back when hostile, and raise a hand for questions.

use std::f32::consts::PI;

use bevy::prelude::*;
use scenario::EnvironmentKind;

use super::kit::{Kit, cube, sun};
use super::{Environment, Feared, Layer, Look, ParamReader, Placement, Surroundings};
use crate::audio::Mix;
use crate::telemetry::Stimulus;

/// The public-speaking environment.
#[derive(Debug)]
pub struct Speaking;

/// The most listeners the schema allows.
pub const LISTENERS: u32 = 200;

/// The parameters, typed.
#[derive(Clone, Copy, Debug)]
pub struct View {
    room_m: f32,
    /// Seats in a row, and seats in all, for the room.
    seats: (u32, u32),
    audience: u32,
    attention: f32,
    hostility: f32,
    questions: bool,
    speaker_distance_m: f32,
}

/// A part of the speaking scene.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub enum Part {
    /// Never moved.
    Fixed,
    /// Listener number n.
    Listener(u32),
    /// The room's floor, scaled by the room's size.
    Hall,
    /// A wall of the room (0 left, 1 right, 2 back, 3 front).
    HallWall(u8),
    /// Chair number n, facing the speaker: the room's seats, empty or taken.
    Chair(u32),
}

impl Environment for Speaking {
    const KIND: EnvironmentKind = EnvironmentKind::PublicSpeaking;
    type View = View;
    type Part = Part;

    fn view(p: &mut ParamReader) -> View {
        // Width of the room, metres, and its seats: a row's, and all.
        let (room_m, seats) = match p.choice("room") {
            "auditorium" => (24.0, (20, LISTENERS)),
            "classroom" => (11.0, (8, 32)),
            _ => (6.0, (4, 8)),
        };
        View {
            room_m,
            seats,
            audience: p.count("audience"),
            attention: p.number("attention"),
            hostility: p.number("hostility"),
            questions: p.flag("questions"),
            speaker_distance_m: p.number("speaker_distance_m"),
        }
    }

    /// Standing behind the lectern, looking at the rows.
    fn placement() -> Placement {
        Placement::standing(Vec3::new(0.0, 1.65, 0.0), Vec3::new(0.0, 1.0, -6.0))
    }

    fn spawn(commands: &mut Commands, kit: &mut Kit, layer: Layer) {
        kit.spawn(commands, cube(1.0, 0.1, 1.0), Color::srgb(0.4, 0.3, 0.25), Transform::default(), Part::Hall, layer);
        for w in 0..4u8 {
            let wall = Color::srgb(0.78, 0.76, 0.7);
            kit.spawn(commands, cube(1.0, 1.0, 1.0), wall, Transform::default(), Part::HallWall(w), layer);
        }
        let lectern = Transform::from_xyz(0.0, 0.55, -0.5);
        kit.spawn(commands, cube(0.7, 1.1, 0.5), Color::srgb(0.35, 0.22, 0.15), lectern, Part::Fixed, layer);
        // The seats the audience sits in, empty ones too: even an empty room
        // faces the speaker with its rows of chairs.
        let (cloth, frame) = (Color::srgb(0.45, 0.12, 0.12), Color::srgb(0.2, 0.2, 0.22));
        for i in 0..LISTENERS {
            let chair = kit.spawn(commands, cube(0.46, 0.06, 0.44), cloth, Transform::default(), Part::Chair(i), layer);
            let back = Transform::from_xyz(0.0, 0.28, -0.21);
            kit.child(commands, chair, cube(0.46, 0.5, 0.05), cloth, back, Part::Fixed, layer);
            let leg = Transform::from_xyz(0.0, -0.22, 0.0);
            kit.child(commands, chair, cube(0.06, 0.42, 0.06), frame, leg, Part::Fixed, layer);
            commands.entity(chair).insert(Feared);
        }
        for i in 0..LISTENERS {
            let body = kit.spawn(
                commands,
                Capsule3d::new(0.22, 0.6),
                Color::srgb(0.3, 0.45, 0.6),
                Transform::default(),
                Part::Listener(i),
                layer,
            );
            commands.entity(body).insert(Feared);
            let skin = Color::srgb(0.85, 0.7, 0.6);
            let head_at = Transform::from_xyz(0.0, 0.55, 0.0);
            let head = kit.child(commands, body, Sphere::new(0.13).mesh().uv(12, 8), skin, head_at, Part::Fixed, layer);
            commands.entity(head).insert(Stimulus);
            // Eyes show where a listener looks.
            let eyes = Transform::from_xyz(0.0, 0.03, -0.12);
            kit.child(commands, head, cube(0.14, 0.03, 0.02), Color::srgb(0.05, 0.05, 0.05), eyes, Part::Fixed, layer);
        }
        sun(commands, layer, Vec3::new(-3.0, 8.0, 4.0), 9_000.0);
    }

    fn pose(v: &View, part: Part, t: f32, transform: &mut Transform) -> bool {
        let room = v.room_m;
        match part {
            Part::Fixed => true,
            Part::Hall => {
                transform.scale = Vec3::new(room, 1.0, room + 4.0);
                transform.translation = Vec3::new(0.0, -0.05, -room / 2.0);
                true
            }
            Part::HallWall(w) => {
                let (depth, height) = (room + 4.0, if room > 20.0 { 8.0 } else { 3.2 });
                let (pos, scale) = match w {
                    0 => (Vec3::new(-room / 2.0, height / 2.0, -depth / 2.0 + 2.0), Vec3::new(0.2, height, depth)),
                    1 => (Vec3::new(room / 2.0, height / 2.0, -depth / 2.0 + 2.0), Vec3::new(0.2, height, depth)),
                    2 => (Vec3::new(0.0, height / 2.0, -depth + 2.0), Vec3::new(room, height, 0.2)),
                    _ => (Vec3::new(0.0, height / 2.0, 2.0), Vec3::new(room, height, 0.2)),
                };
                transform.translation = pos;
                transform.scale = scale;
                true
            }
            Part::Chair(i) => {
                let (x, z) = seat(v, i);
                transform.translation = Vec3::new(x, 0.45 + rake(v, i), z);
                // Turned to face the speaker.
                transform.rotation = Quat::from_rotation_y((-x).atan2(-z) + PI);
                i < v.seats.1
            }
            Part::Listener(i) => {
                let audience = v.audience;
                let (x, z) = seat(v, i);
                transform.translation = Vec3::new(x, 0.5 + rake(v, i), z);
                // The first share of the audience looks at the speaker; the
                // rest look away; hostile listeners lean back, arms crossed.
                let attentive = (i as f32) < v.attention * audience as f32;
                let toward = (-x).atan2(-z) + PI;
                let away = toward + if i % 2 == 0 { 1.1 } else { -1.1 };
                let fidget = (t * 0.5 + i as f32).sin() * 0.05;
                transform.rotation = Quat::from_rotation_y(if attentive { toward + fidget } else { away + fidget })
                    * Quat::from_rotation_x(-0.25 * v.hostility);
                if v.questions && i % 7 == 3 {
                    transform.translation.y += 0.08 * (t * 2.0 + i as f32).sin().max(0.0);
                }
                i < audience
            }
        }
    }

    fn look(_: &View) -> Look {
        Look { sky: Color::srgb(0.08, 0.08, 0.09), brightness: 1.0, haze_m: None, surroundings: Surroundings::Hall }
    }

    fn mix(v: &View) -> Mix {
        let crowd = (v.audience as f32 / 200.0).sqrt();
        Mix { murmur: crowd * (0.6 + 0.4 * v.hostility), ..Mix::default() }
    }
}

/// Where seat `i` is: rows of the room's width from `speaker_distance_m`
/// back, front rows first, each row centred on the lectern.
fn seat(v: &View, i: u32) -> (f32, f32) {
    let per_row = v.seats.0;
    let (row, place) = (i / per_row, i % per_row);
    let x = (place as f32 - (per_row as f32 - 1.0) / 2.0) * 0.75;
    (x, -v.speaker_distance_m - row as f32)
}

/// How high row `i`'s seat is raised: an auditorium's rows rise towards the
/// back, so every listener sees the speaker (and the speaker sees them all).
fn rake(v: &View, i: u32) -> f32 {
    if v.seats.1 > 100 { (i / v.seats.0) as f32 * 0.45 } else { 0.0 }
}
