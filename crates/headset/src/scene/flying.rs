//! Flying: the patient sits in an aircraft cabin, in an aisle, middle or
//! window seat of their row, among passengers. The windows show the sky, the
//! clouds, a storm or the night; turbulence shakes the cabin (never the
//! patient's head); an anxious neighbour fidgets and turns to them.

use std::f32::consts::FRAC_PI_2;

use bevy::prelude::*;
use scenario::EnvironmentKind;

use super::kit::{Kit, cube, hash, sun};
use super::people::{self, Arms, Bone, Posture};
use super::{Environment, Feared, Layer, Look, ParamReader, Placement, Surroundings};
use crate::audio::Mix;
use crate::telemetry::Stimulus;

/// The flying environment.
#[derive(Debug)]
pub struct Flying;

/// Seats in the cabin: 10 rows of six.
pub const PASSENGERS: u32 = 60;

/// Seat positions across the cabin: window, middle, aisle | aisle, middle, window.
const SEATS_X: [f32; 6] = [-1.3, -0.85, -0.4, 0.4, 0.85, 1.3];

/// The parameters, typed.
#[derive(Clone, Copy, Debug)]
pub struct View {
    /// Nose up or down with the phase of the flight, radians.
    pitch: f32,
    /// At the gate or taxiing: the tarmac and the terminal outside.
    on_ground: bool,
    /// How hard the engines work in this phase, 0 to 1.
    thrust: f32,
    turbulence: f32,
    occupancy: f32,
    /// The patient's seat: 0 window, 1 middle, 2 aisle (index into `SEATS_X`).
    seat: usize,
    row: u32,
    night: bool,
    outside: Outside,
    engine_noise: f32,
    anxious_passenger: bool,
}

/// What the windows show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outside {
    /// Blue sky.
    Clear,
    /// White cloud.
    Cloudy,
    /// Dark storm cloud.
    Storm,
    /// A clear or cloudy night.
    Night,
    /// A stormy night: dark cloud, faintly lit.
    NightStorm,
}

/// A part of the cabin.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub enum Part {
    /// Never moved (moves with the cabin).
    Fixed,
    /// The cabin that turbulence shakes.
    Cabin,
    /// A window pane showing this outside.
    /// Cloud n, drifting past below and beside the aircraft: white, or
    /// dark in a storm.
    Cloud(u32, bool),
    /// The ground: tarmac at the gate, land far below in flight.
    Ground,
    /// The terminal, seen from the gate and the taxiway.
    Terminal,
    /// Passenger number n.
    Passenger(u32),
    /// A bone of passenger n.
    PassengerBody(u32, Bone),
    /// The anxious passenger next to the patient.
    Neighbour,
    /// The anxious passenger's head, turning to the patient.
    NeighbourBody(Bone),
}

impl Environment for Flying {
    const KIND: EnvironmentKind = EnvironmentKind::Flying;
    type View = View;
    type Part = Part;

    fn view(p: &mut ParamReader) -> View {
        let phase = p.choice("phase");
        let on_ground = matches!(phase, "gate" | "boarding" | "taxi");
        let (pitch, thrust) = match phase {
            "gate" => (0.0, 0.1),
            "boarding" => (0.0, 0.25),
            "taxi" => (0.0, 0.5),
            "takeoff" => (0.17, 1.0),
            "descent" | "landing" => (-0.05, 0.8),
            _ => (0.0, 0.7),
        };
        let turbulence = p.number("turbulence");
        let occupancy = p.number("occupancy");
        let seat = match p.choice("seat") {
            "window" => 0,
            "middle" => 1,
            _ => 2,
        };
        let row = p.count("row");
        let night = p.flag("night");
        let weather = p.choice("weather");
        View {
            pitch,
            on_ground,
            thrust,
            turbulence,
            occupancy,
            seat,
            row,
            night,
            outside: match weather {
                "storm" if night => Outside::NightStorm,
                _ if night => Outside::Night,
                "storm" => Outside::Storm,
                "cloudy" => Outside::Cloudy,
                _ => Outside::Clear,
            },
            engine_noise: p.number("engine_noise"),
            anxious_passenger: p.flag("anxious_passenger"),
        }
    }

    /// Seated, looking past the seat row ahead towards the windows.
    fn placement() -> Placement {
        Placement::seated(Vec3::new(0.0, 1.15, 0.0), Vec3::new(-1.5, 1.0, -2.2))
    }

    fn spawn(commands: &mut Commands, kit: &mut Kit, layer: Layer) {
        let cabin = commands.spawn((Transform::default(), Visibility::Visible, Part::Cabin, layer)).id();
        let floor = Transform::from_xyz(0.0, 0.0, -10.0);
        kit.child(commands, cabin, cube(3.6, 0.1, 30.0), Color::srgb(0.3, 0.3, 0.35), floor, Part::Fixed, layer);
        let ceiling = Transform::from_xyz(0.0, 2.2, -10.0);
        kit.child(commands, cabin, cube(3.6, 0.1, 30.0), Color::srgb(0.9, 0.9, 0.88), ceiling, Part::Fixed, layer);
        // The right wall is whole; the left has a window in every row:
        // a wall under and over the windows, pillars between them.
        let lining = Color::srgb(0.88, 0.88, 0.85);
        let wall = Transform::from_xyz(1.85, 1.1, -10.0);
        kit.child(commands, cabin, cube(0.1, 2.2, 30.0), lining, wall, Part::Fixed, layer);
        let below = Transform::from_xyz(-1.85, 0.55, -10.0);
        kit.child(commands, cabin, cube(0.1, 1.1, 30.0), lining, below, Part::Fixed, layer);
        let above = Transform::from_xyz(-1.85, 1.85, -10.0);
        kit.child(commands, cabin, cube(0.1, 0.7, 30.0), lining, above, Part::Fixed, layer);
        for row in 0..16 {
            let pillar = Transform::from_xyz(-1.85, 1.3, 1.0 - WINDOW_AHEAD - row as f32 * 0.85 + 0.425);
            kit.child(commands, cabin, cube(0.1, 0.4, 0.6), lining, pillar, Part::Fixed, layer);
        }
        // Outside: the wing and its engine, fixed to the cabin.
        let white = Color::srgb(0.86, 0.87, 0.9);
        // The wing root spans the rows just ahead of the patient's, so the
        // window seat looks out over it.
        let wing = Transform::from_xyz(-9.0, 0.85, -2.4)
            .with_rotation(Quat::from_rotation_y(-0.3) * Quat::from_rotation_z(0.07));
        kit.child(commands, cabin, cube(14.0, 0.3, 3.6), white, wing, Part::Fixed, layer);
        let tip = Transform::from_xyz(-15.8, 1.7, -4.6).with_rotation(Quat::from_rotation_y(-0.3));
        kit.child(commands, cabin, cube(0.15, 1.6, 1.2), white, tip, Part::Fixed, layer);
        let nacelle = Transform::from_xyz(-6.0, -0.1, -1.5).with_rotation(Quat::from_rotation_x(FRAC_PI_2));
        kit.child(commands, cabin, Cylinder::new(0.9, 3.6), Color::srgb(0.75, 0.76, 0.8), nacelle, Part::Fixed, layer);
        // Clouds, the ground and the terminal stay in the world: the cabin
        // shakes against them, as a real one does.
        for i in 0..CLOUDS {
            for storm in [false, true] {
                let colour = if storm { Color::srgb(0.35, 0.36, 0.4) } else { Color::srgb(0.95, 0.95, 0.97) };
                kit.spawn(
                    commands,
                    Sphere::new(1.0).mesh().uv(10, 6),
                    colour,
                    Transform::default(),
                    Part::Cloud(i, storm),
                    layer,
                );
            }
        }
        kit.spawn(
            commands,
            cube(20_000.0, 1.0, 20_000.0),
            Color::srgb(0.3, 0.32, 0.3),
            Transform::default(),
            Part::Ground,
            layer,
        );
        let terminal = Transform::from_xyz(-70.0, 4.0, -20.0);
        kit.spawn(commands, cube(20.0, 12.0, 160.0), Color::srgb(0.6, 0.62, 0.66), terminal, Part::Terminal, layer);
        // Overhead bins along both sides, and the carpet of the aisle.
        for x in [-1.55, 1.55] {
            let bins = Transform::from_xyz(x, 1.9, -10.0);
            kit.child(commands, cabin, cube(0.55, 0.4, 30.0), Color::srgb(0.82, 0.82, 0.8), bins, Part::Fixed, layer);
        }
        let aisle = Transform::from_xyz(0.0, 0.06, -10.0);
        kit.child(commands, cabin, cube(0.6, 0.02, 30.0), Color::srgb(0.32, 0.2, 0.28), aisle, Part::Fixed, layer);
        for row in 0..15 {
            let z = 1.0 - row as f32 * 0.85;
            for x in SEATS_X {
                let back = Transform::from_xyz(x, 0.6, z + 0.3);
                kit.child(
                    commands,
                    cabin,
                    cube(0.42, 0.9, 0.12),
                    Color::srgb(0.15, 0.25, 0.5),
                    back,
                    Part::Fixed,
                    layer,
                );
            }
            // The window: a point the patient's gaze is measured to, and a
            // pane for each kind of outside.
            let window = Transform::from_xyz(-1.79, 1.3, z - WINDOW_AHEAD);
            let anchor = commands
                .spawn((window, Visibility::Visible, Part::Fixed, Stimulus, Feared, layer, ChildOf(cabin)))
                .id();
            // A lighter plastic surround, as on an airliner's wall.
            // A lighter plastic bezel round the opening, rounded off at the
            // corners, as on an airliner's wall.
            let plastic = Color::srgb(0.95, 0.95, 0.93);
            for (y, z, h, w) in
                [(0.2, 0.0, 0.04, 0.3), (-0.2, 0.0, 0.04, 0.3), (0.0, 0.14, 0.36, 0.04), (0.0, -0.14, 0.36, 0.04)]
            {
                let bar = Transform::from_xyz(0.03, y, z);
                kit.child(commands, anchor, cube(0.04, h, w), plastic, bar, Part::Fixed, layer);
            }
            for (y, z) in [(0.16, 0.1), (0.16, -0.1), (-0.16, 0.1), (-0.16, -0.1)] {
                let corner = Transform::from_xyz(0.03, y, z).with_rotation(Quat::from_rotation_x(if y * z > 0.0 {
                    0.8
                } else {
                    -0.8
                }));
                kit.child(commands, anchor, cube(0.04, 0.04, 0.09), plastic, corner, Part::Fixed, layer);
            }
            // Glass, so that the wing, the clouds and the weather show.
            let glass = Color::srgba(0.8, 0.88, 0.95, 0.12);
            kit.child(commands, anchor, cube(0.02, 0.35, 0.25), glass, Transform::default(), Part::Fixed, layer);
        }
        // Passengers, seated, in seats scattered through the cabin so that a
        // half-full flight is half full everywhere. Row 0 is the patient's.
        for i in 0..PASSENGERS {
            let (row, seat) = passenger_seat(i);
            let hips = Transform::from_xyz(SEATS_X[seat], HIPS_Y, 0.15 - row as f32 * 0.85);
            let root =
                commands.spawn((hips, Visibility::Visible, Part::Passenger(i), Feared, layer, ChildOf(cabin))).id();
            let clothes = people::clothes(i + 3);
            people::spawn(commands, kit, layer, root, clothes, |b| Part::PassengerBody(i, b), Part::Fixed);
        }
        // The anxious neighbour: fidgeting, rocking, glancing at the patient.
        let root = commands
            .spawn((Transform::default(), Visibility::Visible, Part::Neighbour, Feared, layer, ChildOf(cabin)))
            .id();
        let clothes = people::Clothes { top: Color::srgb(0.55, 0.35, 0.15), ..people::clothes(1) };
        people::spawn(commands, kit, layer, root, clothes, Part::NeighbourBody, Part::Fixed);
        sun(commands, layer, Vec3::new(-10.0, 6.0, 2.0), 9_000.0);
    }

    fn pose(v: &View, part: Part, t: f32, transform: &mut Transform) -> bool {
        let neighbour_seat = if v.seat == 2 { 1 } else { v.seat + 1 };
        match part {
            Part::Fixed => true,
            Part::Cabin => {
                // Turbulence moves the cabin around the patient, never the
                // patient's head.
                let shake = v.turbulence;
                transform.rotation = Quat::from_rotation_x(v.pitch + shake * 0.03 * (t * 7.3).sin())
                    * Quat::from_rotation_z(shake * 0.04 * (t * 5.1).sin());
                transform.translation.y = shake * 0.05 * (t * 11.0).sin();
                // The patient sits in their seat, in their row.
                transform.translation.x = -SEATS_X[v.seat];
                transform.translation.z = (v.row as f32 - 12.0) * -0.02;
                true
            }
            Part::Cloud(i, storm) => {
                let shown = match v.outside {
                    Outside::Cloudy | Outside::Night => !storm,
                    Outside::Storm | Outside::NightStorm => storm,
                    Outside::Clear => false,
                };
                *transform = cloud(i, v, t);
                shown
            }
            Part::Ground => {
                transform.translation.y = if v.on_ground { -3.3 } else { -2500.0 };
                true
            }
            Part::Terminal => v.on_ground,
            Part::Passenger(i) => {
                // Nobody sits in the patient's own seat, nor in the anxious
                // neighbour's when there is one.
                let seat = passenger_seat(i);
                (i as f32) < v.occupancy * PASSENGERS as f32
                    && seat != (0, v.seat)
                    && !(v.anxious_passenger && seat == (0, neighbour_seat))
            }
            Part::PassengerBody(i, bone) => people::pose(bone, &passenger(v, i, t), transform),
            Part::Neighbour => {
                transform.translation = Vec3::new(SEATS_X[neighbour_seat], HIPS_Y, 0.15);
                v.anxious_passenger
            }
            Part::NeighbourBody(bone) => {
                // Rocking forward and back, hands restless, glancing at the
                // patient, then away, then back.
                let to_patient = if neighbour_seat > v.seat { 1.0 } else { -1.0 };
                let posture = Posture {
                    seated: true,
                    breath: (t * 2.2).sin(),
                    lean: -0.12 + 0.12 * (t * 2.3).sin(),
                    sway: 0.05 * (t * 1.1).sin(),
                    look: Vec2::new(to_patient * (0.7 + 0.5 * (t * 0.7).sin()), -0.1),
                    arms: Arms::Fidget(t),
                };
                people::pose(bone, &posture, transform)
            }
        }
    }

    fn look(v: &View, _: f32) -> Look {
        let sky = match v.outside {
            Outside::Night => Color::srgb(0.02, 0.02, 0.06),
            Outside::NightStorm => Color::srgb(0.08, 0.08, 0.11),
            Outside::Storm => Color::srgb(0.25, 0.27, 0.3),
            Outside::Cloudy => Color::srgb(0.7, 0.74, 0.8),
            Outside::Clear => Color::srgb(0.55, 0.7, 0.9),
        };
        // Cabin lights dimmed at night.
        Look { sky, brightness: if v.night { 0.5 } else { 1.0 }, haze_m: None, surroundings: Surroundings::Apartment }
    }

    fn mix(v: &View) -> Mix {
        let engine = (v.thrust * (0.4 + 0.6 * v.engine_noise) + 0.3 * v.turbulence).min(1.0);
        Mix { engine, murmur: 0.4 * v.occupancy, ..Mix::default() }
    }
}

/// How far ahead of its row's seats each window is, metres: the window
/// seat's own window is then ahead to the side, where a seated patient
/// looks out over the wing.
const WINDOW_AHEAD: f32 = 0.45;

/// Clouds outside.
const CLOUDS: u32 = 40;

/// Cloud `i` at time `t`: a flattened puff beside and below the aircraft,
/// drifting back past the windows as the aircraft flies (slowly on the
/// ground, where they are far overhead).
fn cloud(i: u32, v: &View, t: f32) -> Transform {
    let r = |n: u64| hash(u64::from(i) + 900, n);
    let span = 1600.0;
    let speed = if v.on_ground { 2.0 } else { 70.0 };
    let z = (r(0) * span + speed * t).rem_euclid(span) - span / 2.0;
    let x = -30.0 - 500.0 * r(1);
    let y = if v.on_ground { 600.0 + 200.0 * r(2) } else { -180.0 + 200.0 * r(2) };
    let size = 15.0 + 35.0 * r(3);
    Transform::from_xyz(x, y, z).with_scale(Vec3::new(size * 1.6, size * 0.45, size))
}

/// A seated passenger's hips over the cabin floor, metres.
const HIPS_Y: f32 = 0.55;

/// How passenger `i` sits: breathing, shifting, looking about now and then,
/// some reading their phone; more restless in turbulence.
fn passenger(v: &View, i: u32, t: f32) -> Posture {
    let r = |n: u64| hash(u64::from(i) + 101, n);
    let about = (t * (0.1 + 0.1 * r(0)) + 9.0 * r(1)).sin();
    let reading = r(2) < 0.3;
    Posture {
        seated: true,
        breath: (t * std::f32::consts::TAU / (3.5 + r(3)) + 6.0 * r(4)).sin(),
        lean: 0.08,
        sway: (0.03 + 0.05 * v.turbulence) * (t * (0.4 + v.turbulence) + 6.0 * r(5)).sin(),
        look: if reading { Vec2::new(0.0, -0.5) } else { Vec2::new(0.9 * about * about * about, 0.05) },
        arms: if reading { Arms::Phone } else { Arms::Rest },
    }
}

/// Passenger `i`'s row (0 = the patient's) and seat (index into `SEATS_X`):
/// a stride through the cabin's 60 seats, so any share of them is spread out.
fn passenger_seat(i: u32) -> (u32, usize) {
    let slot = (i * 37) % PASSENGERS;
    (slot / 6, (slot % 6) as usize)
}
