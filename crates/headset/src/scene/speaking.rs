//! Public speaking: the patient stands at a lectern facing an audience in a
//! meeting room, a classroom or an auditorium. Listeners look at the
//! speaker or away, lean back when hostile, and raise a hand for questions.

use std::f32::consts::PI;

use bevy::prelude::*;
use scenario::EnvironmentKind;

use super::kit::{Kit, cube, hash, sun};
use super::people::{self, Arms, Bone, Posture, Side};
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
    /// Listener number n: the figure's root, at its hips.
    Listener(u32),
    /// A bone of listener n.
    Body(u32, Bone),
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
            // The back behind the sitter (the chair faces the speaker along −z).
            let back = Transform::from_xyz(0.0, 0.28, 0.21);
            kit.child(commands, chair, cube(0.46, 0.5, 0.05), cloth, back, Part::Fixed, layer);
            let leg = Transform::from_xyz(0.0, -0.22, 0.0);
            kit.child(commands, chair, cube(0.06, 0.42, 0.06), frame, leg, Part::Fixed, layer);
            commands.entity(chair).insert(Feared);
        }
        for i in 0..LISTENERS {
            let root =
                commands.spawn((Transform::default(), Visibility::Visible, Part::Listener(i), Feared, layer)).id();
            let head = people::spawn(commands, kit, layer, root, people::clothes(i), |b| Part::Body(i, b), Part::Fixed);
            commands.entity(head).insert(Stimulus);
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
                transform.translation = Vec3::new(x, SEAT_Y + rake(v, i), z);
                // Turned to face the speaker.
                transform.rotation = Quat::from_rotation_y((-x).atan2(-z) + PI);
                i < v.seats.1
            }
            Part::Listener(i) => {
                let (x, z) = seat(v, i);
                transform.translation = Vec3::new(x, SEAT_Y + 0.1 + rake(v, i), z);
                // Facing the speaker, as the chair does.
                transform.rotation = Quat::from_rotation_y((-x).atan2(-z) + PI);
                i < v.audience
            }
            Part::Body(i, bone) => i < v.audience && people::pose(bone, &listener(v, i, t), transform),
        }
    }

    fn look(_: &View, _: f32) -> Look {
        Look { sky: Color::srgb(0.08, 0.08, 0.09), brightness: 1.0, haze_m: None, surroundings: Surroundings::Hall }
    }

    fn mix(v: &View) -> Mix {
        let crowd = (v.audience as f32 / 200.0).sqrt();
        Mix { murmur: crowd * (0.6 + 0.4 * v.hostility), ..Mix::default() }
    }
}

/// The seat's height over the floor (its cushion's middle), metres.
const SEAT_Y: f32 = 0.45;

/// Where the speaker's head is, for the listeners' eyes.
const SPEAKER: Vec3 = Vec3::new(0.0, 1.65, 0.0);

/// How listener `i` sits at time `t`, from the room's mood:
///
/// - `attention`: the share who look at the speaker; even they glance away
///   now and then. The others look at a neighbour, about the room, or down
///   at a phone.
/// - `hostility`: the share who sit back with crossed arms, and of those
///   some whisper to a neighbour.
/// - `questions`: every seventh listener raises a hand, for a while.
///
/// Everyone breathes and shifts their weight, each in their own rhythm.
fn listener(v: &View, i: u32, t: f32) -> Posture {
    let r = |n: u64| hash(u64::from(i) + 7, n);
    let (x, z) = seat(v, i);
    let facing = (-x).atan2(-z) + PI;
    let eyes = Vec3::new(x, SEAT_Y + 0.1 + rake(v, i) + people::EYES_OVER_HIPS, z);
    let at_speaker = people::look_at(eyes, facing, SPEAKER);
    let neighbour = if i.is_multiple_of(2) { 1.0 } else { -1.0 };
    let mut p = Posture {
        seated: true,
        breath: (t * std::f32::consts::TAU / (3.5 + r(2)) + 6.0 * r(3)).sin(),
        sway: 0.04 * (t * 0.3 + 6.0 * r(4)).sin(),
        lean: 0.0,
        look: at_speaker,
        arms: Arms::Rest,
    };
    let glance = (t * (0.15 + 0.1 * r(5)) + 10.0 * r(6)).sin() > 0.93;
    if r(0) >= v.attention || glance {
        match (r(7) * 3.0) as u32 {
            0 => p.look = Vec2::new(neighbour, -0.1),
            1 => p.look = Vec2::new(-neighbour * 0.7, 0.3),
            _ => {
                p.look = Vec2::new(0.0, -0.55);
                if !glance {
                    p.arms = Arms::Phone;
                }
            }
        }
    }
    if r(1) < v.hostility {
        p.lean = 0.22;
        if p.arms == Arms::Rest {
            p.arms = Arms::Crossed;
        }
        // Whispering: turned and leaning to the neighbour, for a while.
        if r(8) < 0.4 && (t * 0.2 + 7.0 * r(9)).sin() > 0.3 {
            p.look = Vec2::new(neighbour * 1.2, -0.05);
            p.sway = neighbour * 0.12;
        }
    }
    if v.questions && i % 7 == 3 && (t * 0.08 + r(10)).fract() < 0.6 {
        p.arms = Arms::Raised(Side::Right);
        p.look = at_speaker;
    }
    p
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

#[cfg(test)]
mod tests {
    use super::*;

    fn room(audience: u32, attention: f32, hostility: f32, questions: bool) -> View {
        View { room_m: 11.0, seats: (8, 32), audience, attention, hostility, questions, speaker_distance_m: 3.0 }
    }

    /// Over a minute of frames, the share of listener-frames doing `what`.
    fn share(v: &View, what: impl Fn(&Posture) -> bool) -> f32 {
        let mut n = 0;
        for frame in 0..60 {
            for i in 0..v.audience {
                n += usize::from(what(&listener(v, i, frame as f32)));
            }
        }
        n as f32 / (60 * v.audience) as f32
    }

    #[test]
    fn the_rooms_mood_shows_in_how_listeners_sit() {
        let looks_at_speaker =
            |v: &View| share(v, |p| p.look.x.abs() < 0.5 && p.look.y > -0.3 && !matches!(p.arms, Arms::Phone));
        let (warm, cold) = (room(32, 1.0, 0.0, false), room(32, 0.2, 0.8, false));
        assert!(looks_at_speaker(&warm) > 0.85, "attentive: {}", looks_at_speaker(&warm));
        assert!(looks_at_speaker(&cold) < 0.4, "inattentive: {}", looks_at_speaker(&cold));
        let crossed = |v: &View| share(v, |p| p.arms == Arms::Crossed);
        assert_eq!(crossed(&warm), 0.0);
        assert!(crossed(&cold) > 0.3, "hostile listeners cross their arms: {}", crossed(&cold));
        assert!(share(&cold, |p| p.lean > 0.1) > 0.6, "and lean back");
        assert!(share(&cold, |p| p.arms == Arms::Phone) > 0.1, "some look at their phones");
        let raised = |v: &View| share(v, |p| matches!(p.arms, Arms::Raised(_)));
        assert_eq!(raised(&warm), 0.0);
        assert!(raised(&room(32, 1.0, 0.0, true)) > 0.05, "questions raise hands");
    }
}
