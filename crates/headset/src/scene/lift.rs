//! Lift (claustrophobia): the patient stands in a lift car whose size,
//! light and crowd vary. Above the doors a floor indicator shows the ride: a
//! light that crosses it in `ride_s` seconds, and halts half-way when the
//! car stops between floors.

use std::f32::consts::FRAC_PI_2;

use bevy::prelude::*;
use scenario::EnvironmentKind;

use super::kit::{Kit, bulb, cube, hash};
use super::people::{self, Arms, Bone, Posture};
use super::{Environment, Feared, Layer, Look, ParamReader, Placement, Surroundings};
use crate::audio::Mix;
use crate::telemetry::Stimulus;

/// The lift environment.
#[derive(Debug)]
pub struct Lift;

/// The most people the schema allows.
pub const PEOPLE: u32 = 12;

/// Seconds the doors stay at a floor between rides.
const AT_FLOOR_S: f32 = 4.0;

/// Width of the floor indicator, metres.
const INDICATOR_M: f32 = 0.5;

/// The parameters, typed.
#[derive(Clone, Copy, Debug)]
pub struct View {
    width_m: f32,
    depth_m: f32,
    ride_s: f32,
    people: u32,
    light: f32,
    doors_open: bool,
    stops_between_floors: bool,
    flicker: bool,
}

impl View {
    /// How far through the ride the car is at `t`, 0 to 1: rides of
    /// `ride_s` seconds with a few seconds at each floor; a car that stops
    /// between floors holds half-way for a third of the ride.
    pub fn ride_progress(&self, t: f32) -> f32 {
        if self.ride_s <= 0.0 {
            return 0.0;
        }
        let hold = if self.stops_between_floors { self.ride_s / 3.0 } else { 0.0 };
        let at = t % (self.ride_s + hold + AT_FLOOR_S);
        let half = self.ride_s / 2.0;
        let moving = if at < half {
            at
        } else if at < half + hold {
            half
        } else {
            at - hold
        };
        (moving / self.ride_s).min(1.0)
    }
}

/// A part of the lift.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub enum Part {
    /// Never moved.
    Fixed,
    /// A wall: 0 left, 1 right, 2 back, 3 front.
    Wall(u8),
    /// The doors.
    Doors(u8),
    /// A handrail along the left (0) or right (1) wall.
    Handrail(u8),
    /// The button panel beside the doors.
    Buttons,
    /// Person number n: the figure's root, at its hips.
    Person(u32),
    /// A bone of person n.
    Body(u32, Bone),
    /// The floor indicator's panel above the doors.
    Indicator,
    /// The indicator's light, crossing the panel during the ride.
    IndicatorLight,
}

impl Environment for Lift {
    const KIND: EnvironmentKind = EnvironmentKind::Lift;
    type View = View;
    type Part = Part;

    fn view(p: &mut ParamReader) -> View {
        View {
            width_m: p.number("width_m"),
            depth_m: p.number("depth_m"),
            ride_s: p.number("ride_s"),
            people: p.count("people"),
            light: p.number("light"),
            doors_open: p.flag("doors_open"),
            stops_between_floors: p.flag("stops_between_floors"),
            flicker: p.flag("flicker"),
        }
    }

    /// Standing at the back of the car, facing the doors.
    fn placement() -> Placement {
        Placement::standing(Vec3::new(0.0, 1.65, 0.3), Vec3::new(0.0, 1.4, -2.0))
    }

    fn spawn(commands: &mut Commands, kit: &mut Kit, layer: Layer) {
        // Floor and ceiling reach the landing wall (z = −5), so the open
        // doors show the landing's floor, not a dark gap.
        let floor = Transform::from_xyz(0.0, -0.05, -1.0);
        kit.spawn(commands, cube(6.0, 0.1, 8.0), Color::srgb(0.3, 0.3, 0.32), floor, Part::Fixed, layer);
        let ceiling = Transform::from_xyz(0.0, 2.35, -1.0);
        kit.spawn(commands, cube(6.0, 0.1, 8.0), Color::srgb(0.75, 0.75, 0.72), ceiling, Part::Fixed, layer);
        // Brushed steel walls and doors.
        let steel = kit.steel(Color::srgb(0.72, 0.7, 0.66));
        for w in 0..4u8 {
            let id = kit.spawn_with(
                commands,
                cube(1.0, 2.4, 1.0),
                steel.clone(),
                Transform::default(),
                Part::Wall(w),
                layer,
            );
            commands.entity(id).insert((Stimulus, Feared));
        }
        let doors = kit.steel(Color::srgb(0.78, 0.79, 0.8));
        for side in 0..2u8 {
            let leaf = kit.spawn_with(
                commands,
                cube(1.0, 2.2, 0.05),
                doors.clone(),
                Transform::default(),
                Part::Doors(side),
                layer,
            );
            commands.entity(leaf).insert(Feared);
        }
        // A handrail along each side wall, and the button panel by the doors.
        for side in 0..2u8 {
            let rail = Color::srgb(0.55, 0.55, 0.57);
            kit.spawn(commands, cube(0.04, 0.04, 1.0), rail, Transform::default(), Part::Handrail(side), layer);
        }
        let panel = kit.spawn(
            commands,
            cube(0.02, 0.5, 0.16),
            Color::srgb(0.2, 0.2, 0.22),
            Transform::default(),
            Part::Buttons,
            layer,
        );
        for b in 0..8 {
            let at = Transform::from_xyz(-0.012, 0.18 - (b / 2) as f32 * 0.1, -0.035 + (b % 2) as f32 * 0.07)
                .with_rotation(Quat::from_rotation_z(FRAC_PI_2));
            let lit = if b == 0 { Color::srgb(1.0, 0.75, 0.3) } else { Color::srgb(0.75, 0.75, 0.78) };
            kit.child(commands, panel, Cylinder::new(0.018, 0.01), lit, at, Part::Fixed, layer);
        }
        let panel = Color::srgb(0.05, 0.05, 0.06);
        kit.spawn(commands, cube(INDICATOR_M, 0.08, 0.02), panel, Transform::default(), Part::Indicator, layer);
        let lit = Color::srgb(1.0, 0.55, 0.1);
        kit.spawn(commands, cube(0.04, 0.05, 0.02), lit, Transform::default(), Part::IndicatorLight, layer);
        // The landing seen through open doors.
        let landing = Transform::from_xyz(0.0, 1.5, -5.0);
        kit.spawn(commands, cube(8.0, 3.0, 0.2), Color::srgb(0.55, 0.5, 0.45), landing, Part::Fixed, layer);
        for i in 0..PEOPLE {
            let root = commands.spawn((Transform::default(), Visibility::Visible, Part::Person(i), Feared, layer)).id();
            let clothes = people::clothes(i + 11);
            people::spawn(commands, kit, layer, root, clothes, |b| Part::Body(i, b), Part::Fixed);
        }
        bulb(commands, layer, Vec3::new(0.0, 2.2, 0.0), 600_000.0, 10.0);
    }

    fn pose(v: &View, part: Part, t: f32, transform: &mut Transform) -> bool {
        let (wd, dp) = (v.width_m, v.depth_m);
        // The front wall, with the doors, and the indicator above them.
        let front = -dp + 0.5;
        match part {
            Part::Fixed => true,
            Part::Wall(w) => {
                let (pos, scale) = match w {
                    0 => (Vec3::new(-wd / 2.0, 1.2, -dp / 2.0 + 0.5), Vec3::new(0.05, 1.0, dp)),
                    1 => (Vec3::new(wd / 2.0, 1.2, -dp / 2.0 + 0.5), Vec3::new(0.05, 1.0, dp)),
                    2 => (Vec3::new(0.0, 1.2, 0.5), Vec3::new(wd, 1.0, 0.05)),
                    _ => (Vec3::new(0.0, 1.2, front), Vec3::new(wd, 1.0, 0.05)),
                };
                transform.translation = pos;
                transform.scale = scale;
                // The front wall is the door frame; its middle is the doors.
                w != 3 || !v.doors_open
            }
            Part::Doors(side) => {
                // Two leaves meeting in the middle, a seam between them.
                let s = if side == 0 { -1.0 } else { 1.0 };
                transform.translation = Vec3::new(s * (wd * 0.15 + 0.004), 1.1, front + 0.02);
                transform.scale.x = wd * 0.3 - 0.008;
                !v.doors_open
            }
            Part::Handrail(side) => {
                let s = if side == 0 { -1.0 } else { 1.0 };
                transform.translation = Vec3::new(s * (wd / 2.0 - 0.06), 0.92, -dp / 2.0 + 0.5);
                transform.scale.z = dp * 0.8;
                true
            }
            Part::Buttons => {
                transform.translation = Vec3::new(wd / 2.0 - 0.035, 1.15, front + 0.3);
                true
            }
            Part::Indicator => {
                transform.translation = Vec3::new(0.0, 2.22, front + 0.05);
                true
            }
            Part::IndicatorLight => {
                let x = (v.ride_progress(t) - 0.5) * (INDICATOR_M - 0.04);
                transform.translation = Vec3::new(x, 2.22, front + 0.065);
                true
            }
            Part::Person(i) => {
                let (col, row) = ((i % 3) as f32, (i / 3) as f32);
                transform.translation = Vec3::new((col - 1.0) * wd / 3.5, 0.95, 0.2 - (row + 1.0) * dp / 5.0);
                // Most face the doors; some stand turned, shoulder on.
                transform.rotation = Quat::from_rotation_y(if i % 3 == 1 { FRAC_PI_2 * 0.8 } else { 0.0 });
                i < v.people
            }
            Part::Body(i, bone) => {
                // Standing still as people in lifts do: breathing, shifting
                // weight, eyes on the indicator, now and then a glance back.
                let r = |n: u64| hash(u64::from(i) + 301, n);
                let glance = (t * (0.12 + 0.08 * r(0)) + 9.0 * r(1)).sin() > 0.9;
                let posture = Posture {
                    seated: false,
                    breath: (t * std::f32::consts::TAU / (3.2 + r(2)) + 6.0 * r(3)).sin(),
                    lean: 0.0,
                    sway: 0.035 * (t * (0.25 + 0.1 * r(4)) + 6.0 * r(5)).sin(),
                    look: if glance {
                        Vec2::new(if i % 2 == 0 { 1.3 } else { -1.3 }, -0.1)
                    } else {
                        Vec2::new(0.0, 0.25)
                    },
                    arms: if r(6) < 0.25 { Arms::Phone } else { Arms::Rest },
                };
                people::pose(bone, &posture, transform)
            }
        }
    }

    fn look(v: &View, t: f32) -> Look {
        Look {
            sky: Color::srgb(0.08, 0.08, 0.09),
            brightness: (v.light * flicker(v, t)).max(0.05),
            haze_m: None,
            surroundings: Surroundings::Lobby,
        }
    }

    fn mix(v: &View) -> Mix {
        // The car's ventilation hum, and the breathing and murmur of the
        // people pressed in with the patient.
        let hum = if v.stops_between_floors { 0.15 } else { 0.3 };
        Mix { engine: hum, murmur: (v.people as f32 / 12.0) * 0.6, ..Mix::default() }
    }
}

/// The light's share at time `t`: steady, or, when the step says the light
/// flickers, a failing tube's: mostly on, with dips and brief dark
/// stutters in tenths of a second, irregular but the same every session.
fn flicker(v: &View, t: f32) -> f32 {
    if !v.flicker {
        return 1.0;
    }
    let slot = (t.max(0.0) * 10.0) as u64;
    let burst = hash(7, slot / 20) < 0.35;
    let r = hash(11, slot);
    if burst && r < 0.45 {
        0.08
    } else if r < 0.06 {
        0.4
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::{View, flicker};

    fn view(ride_s: f32, stops: bool) -> View {
        View {
            width_m: 2.0,
            depth_m: 2.0,
            ride_s,
            people: 0,
            light: 1.0,
            doors_open: false,
            stops_between_floors: stops,
            flicker: false,
        }
    }

    #[test]
    fn the_indicator_crosses_in_the_ride_time_and_holds_when_the_car_stops() {
        let ride = view(10.0, false);
        assert_eq!(ride.ride_progress(0.0), 0.0);
        assert_eq!(ride.ride_progress(5.0), 0.5);
        assert_eq!(ride.ride_progress(10.0), 1.0);
        assert_eq!(ride.ride_progress(12.0), 1.0, "at the floor");
        assert_eq!(ride.ride_progress(14.0), 0.0, "the next ride");
        // A longer ride is slower.
        assert_eq!(view(60.0, false).ride_progress(5.0), 5.0 / 60.0);
        // Stopped between floors: half-way for a third of the ride.
        let stuck = view(30.0, true);
        assert_eq!(stuck.ride_progress(15.0), 0.5);
        assert_eq!(stuck.ride_progress(24.0), 0.5);
        assert!((stuck.ride_progress(35.0) - 25.0 / 30.0).abs() < 1e-6);
        // No ride: the car stands.
        assert_eq!(view(0.0, false).ride_progress(7.0), 0.0);
    }

    #[test]
    fn the_light_flickers_only_where_the_step_says_so() {
        let steady = view(10.0, false);
        assert!((0..3000).all(|i| flicker(&steady, i as f32 * 0.05) == 1.0));
        let failing = View { flicker: true, ..steady };
        let shares: Vec<f32> = (0..3000).map(|i| flicker(&failing, i as f32 * 0.05)).collect();
        let dark = shares.iter().filter(|s| **s < 0.1).count() as f32 / shares.len() as f32;
        let on = shares.iter().filter(|s| **s == 1.0).count() as f32 / shares.len() as f32;
        assert!((0.03..0.3).contains(&dark), "dark {dark} of the time");
        assert!(on > 0.6, "mostly on ({on})");
        let changes = shares.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(changes > 100, "it flickers: {changes} changes in 150 s");
        assert_eq!(flicker(&failing, 42.42), flicker(&failing, 42.42), "the same every session");
    }
}
