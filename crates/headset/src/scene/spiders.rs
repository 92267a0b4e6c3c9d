//! Spiders: the patient sits at a long table; a glass bowl with the spiders
//! comes closer step by step, then the spiders are out on the table and
//! finally at the patient's hands.
//!
//! What makes a spider feared is built in (Frumento et al. 2024): a thick
//! two-part body, eight legs of four tapered segments, pedipalps, eyes and,
//! with `realism`, hair and dark colour (low realism is a round brown
//! cartoon on thin legs); and spider-like movement: an alternating
//! tetrapod gait with planted feet and two-bone legs ([`gait`]), on curvy
//! paths with pauses and short darts whose share grows with `activity`.
//! Everything is a function of the spider's number and the time, so a
//! session (and its replay) moves the same way every time. Each spider
//! wanders in a cell of its own, so spiders never pass through each other,
//! the bowl or the table's edge ([`cells`]).

use bevy::prelude::*;
use scenario::EnvironmentKind;

use super::kit::{Kit, bulb, cube, sun};
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

/// The table's top (y) and its extent (x from the middle, z near and far).
const TABLE_TOP: f32 = 0.77;
const TABLE_HALF_X: f32 = 0.8;
const TABLE_Z: (f32, f32) = (-0.1, -5.1);

/// The bowl's radius inside its glass, metres.
const BOWL_R: f32 = 0.23;

/// The parameters, typed.
#[derive(Clone, Copy, Debug)]
pub struct View {
    count: u32,
    size_m: f32,
    distance_m: f32,
    activity: f32,
    contained: bool,
    realism: f32,
    /// Each spider's cell ([`cells`]), worked out once per frame.
    cells: [(Vec3, f32); SPIDERS as usize],
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
    /// Segment `segment` (0 coxa, 1 femur, 2 tibia, 3 metatarsus) of leg
    /// `leg` (0–3 left front to back, 4–7 right) of spider `spider`.
    Leg {
        /// The spider.
        spider: u32,
        /// The leg.
        leg: u8,
        /// The segment.
        segment: u8,
    },
    /// A pedipalp of spider n, left (0) or right (1), feeling ahead.
    Palp(u32, u8),
    /// A bristle, shown from a middling realism on.
    Hair,
}

impl Environment for Spiders {
    const KIND: EnvironmentKind = EnvironmentKind::Spiders;
    type View = View;
    type Part = Part;

    fn view(p: &mut ParamReader) -> View {
        let mut view = View {
            count: p.count("count"),
            size_m: p.number("size_cm") / 100.0,
            distance_m: p.number("distance_m"),
            activity: p.number("activity"),
            contained: p.flag("contained"),
            realism: p.number("realism"),
            cells: [(Vec3::ZERO, 0.0); SPIDERS as usize],
        };
        view.cells = cells(&view);
        view
    }

    /// Seated at the table, looking down the table: the hands resting on it
    /// at the bottom of the view, its far end at the top.
    fn placement() -> Placement {
        Placement::seated(Vec3::new(0.0, 1.2, 0.15), Vec3::new(0.0, 0.77, -0.45))
    }

    fn spawn(commands: &mut Commands, kit: &mut Kit, layer: Layer) {
        room(commands, kit, layer);
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
        sun(commands, layer, Vec3::new(2.0, 6.0, 3.0), 6_000.0);
        bulb(commands, layer, Vec3::new(0.0, 2.4, -1.2), 60_000.0, 8.0);
    }

    fn pose(v: &View, part: Part, t: f32, transform: &mut Transform) -> bool {
        match part {
            Part::Fixed => true,
            Part::Bowl | Part::Lid => {
                transform.translation = bowl_centre(v) + Vec3::Y * 0.15;
                if part == Part::Lid {
                    transform.translation.y = TABLE_TOP + 0.305;
                    return v.contained;
                }
                true
            }
            Part::Spider(i) => {
                if i >= v.count {
                    return false;
                }
                let walker = Walker::new(v, i);
                let (at, heading) = walker.body(t);
                transform.translation = at;
                transform.rotation = Quat::from_rotation_y(heading);
                transform.scale = Vec3::splat(v.size_m.max(0.001));
                true
            }
            Part::Body { realistic } => realistic == (v.realism >= 0.5),
            Part::Leg { spider, leg, segment } => {
                if spider >= v.count {
                    return false;
                }
                let walker = Walker::new(v, spider);
                let joints = walker.leg(usize::from(leg), t);
                let (a, b) = (joints[usize::from(segment)], joints[usize::from(segment) + 1]);
                // Stick legs for a cartoon, thick ones for a real spider.
                let thick = 0.6 + 1.2 * v.realism;
                *transform = segment_between(a, b, thick);
                true
            }
            Part::Palp(i, side) => {
                // Feeling ahead, each in its own rhythm, faster when active.
                let s = if side == 0 { -1.0 } else { 1.0 };
                let feel = (t * (2.0 + 4.0 * v.activity) + i as f32 + f32::from(side) * 1.7).sin();
                let tip = Vec3::new(s * (0.05 + 0.01 * feel), 0.04 + 0.015 * feel, -0.21);
                *transform = segment_between(Vec3::new(s * 0.02, gait::BODY_H - 0.01, -0.13), tip, 1.0);
                i < v.count
            }
            Part::Hair => {
                transform.scale = Vec3::splat(0.5 + v.realism);
                v.realism >= 0.35
            }
        }
    }

    fn look(_: &View, _: f32) -> Look {
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

/// The bowl's floor centre: it comes closer with the level; once the
/// spiders are out it stays at the far end, open.
fn bowl_centre(v: &View) -> Vec3 {
    let d = if v.contained { v.distance_m.max(0.3) } else { 1.2 };
    Vec3::new(0.0, TABLE_TOP, HANDS_Z - d)
}

/// The room: floor, four walls, a ceiling, a window with daylight, a shelf,
/// and the long table with its legs.
fn room(commands: &mut Commands, kit: &mut Kit, layer: Layer) {
    let fixed = |kit: &mut Kit, commands: &mut Commands, mesh: Mesh, color: Color, at: Vec3| {
        kit.spawn(commands, mesh, color, Transform::from_translation(at), Part::Fixed, layer);
    };
    let floor = Color::srgb(0.42, 0.33, 0.26);
    fixed(kit, commands, cube(5.0, 0.1, 8.0), floor, Vec3::new(0.0, -0.05, -2.5));
    let wall = Color::srgb(0.8, 0.78, 0.72);
    fixed(kit, commands, cube(5.0, 2.8, 0.1), wall, Vec3::new(0.0, 1.4, -6.5));
    fixed(kit, commands, cube(5.0, 2.8, 0.1), wall, Vec3::new(0.0, 1.4, 1.5));
    fixed(kit, commands, cube(0.1, 2.8, 8.0), wall, Vec3::new(-2.5, 1.4, -2.5));
    // The right wall with a window: wall below and above, the pane between.
    fixed(kit, commands, cube(0.1, 0.9, 8.0), wall, Vec3::new(2.5, 0.45, -2.5));
    fixed(kit, commands, cube(0.1, 0.5, 8.0), wall, Vec3::new(2.5, 2.55, -2.5));
    fixed(kit, commands, cube(0.1, 1.4, 3.0), wall, Vec3::new(2.5, 1.6, -5.0));
    fixed(kit, commands, cube(0.1, 1.4, 2.5), wall, Vec3::new(2.5, 1.6, 0.25));
    fixed(kit, commands, cube(0.05, 1.4, 2.5), Color::srgb(0.75, 0.85, 0.95), Vec3::new(2.56, 1.6, -2.25));
    fixed(kit, commands, cube(0.12, 0.06, 2.5), Color::srgb(0.95, 0.95, 0.93), Vec3::new(2.5, 0.93, -2.25));
    let ceiling = Color::srgb(0.9, 0.9, 0.88);
    fixed(kit, commands, cube(5.0, 0.1, 8.0), ceiling, Vec3::new(0.0, 2.85, -2.5));
    // A lamp shade over the table, a shelf with books on the far wall.
    fixed(kit, commands, Cylinder::new(0.2, 0.18).into(), Color::srgb(0.95, 0.92, 0.8), Vec3::new(0.0, 2.5, -1.2));
    let shelf = Color::srgb(0.35, 0.25, 0.18);
    fixed(kit, commands, cube(1.6, 0.04, 0.3), shelf, Vec3::new(-1.2, 1.5, -6.3));
    for (b, colour) in [(0.18, 0.1, 0.1), (0.15, 0.25, 0.4), (0.6, 0.5, 0.2), (0.2, 0.35, 0.2)].iter().enumerate() {
        let color = Color::srgb(colour.0, colour.1, colour.2);
        fixed(kit, commands, cube(0.06, 0.26, 0.22), color, Vec3::new(-1.7 + b as f32 * 0.08, 1.65, -6.3));
    }
    let table = Color::srgb(0.55, 0.4, 0.25);
    let length = TABLE_Z.0 - TABLE_Z.1;
    let middle = (TABLE_Z.0 + TABLE_Z.1) / 2.0;
    fixed(kit, commands, cube(2.0 * TABLE_HALF_X, 0.06, length), table, Vec3::new(0.0, TABLE_TOP - 0.03, middle));
    for (x, z) in [(-0.7, TABLE_Z.0 - 0.1), (0.7, TABLE_Z.0 - 0.1), (-0.7, TABLE_Z.1 + 0.1), (0.7, TABLE_Z.1 + 0.1)] {
        fixed(kit, commands, cube(0.07, TABLE_TOP - 0.06, 0.07), table, Vec3::new(x, (TABLE_TOP - 0.06) / 2.0, z));
    }
}

/// A segment from `a` to `b` (leg spans) for a mesh one unit long along y,
/// `thick` times its modelled thickness.
fn segment_between(a: Vec3, b: Vec3, thick: f32) -> Transform {
    let along = b - a;
    let rotation = Quat::from_rotation_arc(Vec3::Y, along.normalize_or(Vec3::Y));
    Transform::from_translation((a + b) / 2.0).with_rotation(rotation).with_scale(Vec3::new(
        thick,
        along.length(),
        thick,
    ))
}

/// Spider `i`: a root the pose moves and scales to its leg span, with both
/// bodies, eight legs of four tapered segments (bristled), pedipalps and
/// eyes. The root is the stimulus telemetry measures.
fn spider(commands: &mut Commands, kit: &mut Kit, layer: Layer, i: u32) {
    let root =
        commands.spawn((Transform::default(), Visibility::Visible, Part::Spider(i), Stimulus, Feared, layer)).id();
    let dark = Color::srgb(0.07, 0.05, 0.04);
    let band = Color::srgb(0.2, 0.14, 0.09);
    let cartoon = Color::srgb(0.5, 0.33, 0.18);
    let body_y = gait::BODY_H;
    // The realistic body: cephalothorax in front, a larger hairy abdomen
    // behind on a narrow waist (the pedicel).
    let body = kit.child(
        commands,
        root,
        Sphere::new(0.075).mesh().uv(14, 10),
        dark,
        Transform::from_xyz(0.0, body_y, -0.07).with_scale(Vec3::new(0.95, 0.6, 1.15)),
        Part::Body { realistic: true },
        layer,
    );
    let abdomen = Transform::from_xyz(0.0, 0.04, 0.21).with_scale(Vec3::new(1.0, 0.85, 1.2));
    let abdomen = kit.child(commands, body, Sphere::new(0.11).mesh().uv(14, 10), band, abdomen, Part::Fixed, layer);
    // Eight eyes: two large ones in front, six around them.
    for (x, y, r) in [(-0.018, 0.05, 0.012), (0.018, 0.05, 0.012), (-0.04, 0.045, 0.007), (0.04, 0.045, 0.007)] {
        let eye = Transform::from_xyz(x, y, -0.06);
        kit.child(commands, body, Sphere::new(r).mesh().uv(6, 4), Color::BLACK, eye, Part::Fixed, layer);
    }
    for x in [-0.03f32, -0.01, 0.01, 0.03] {
        let eye = Transform::from_xyz(x, 0.062, -0.045);
        kit.child(commands, body, Sphere::new(0.006).mesh().uv(6, 4), Color::BLACK, eye, Part::Fixed, layer);
    }
    // Bristles all over the abdomen, pointing out and back.
    for b in 0..14 {
        let (around, up) = (b as f32 * 2.399, (b % 4) as f32 * 0.35 - 0.2);
        let out = Vec3::new(around.cos() * up.cos(), up.sin() + 0.3, around.sin() * up.cos()).normalize();
        let hair = Transform::from_translation(out * 0.1)
            .with_rotation(Quat::from_rotation_arc(Vec3::Y, (out + Vec3::Z * 0.6).normalize()));
        kit.child(commands, abdomen, cube(0.005, 0.05, 0.005), dark, hair, Part::Hair, layer);
    }
    // The cartoon: one round brown body.
    let round = Transform::from_xyz(0.0, 0.1, 0.05);
    kit.child(
        commands,
        root,
        Sphere::new(0.13).mesh().uv(12, 8),
        cartoon,
        round,
        Part::Body { realistic: false },
        layer,
    );
    // Eight legs of four tapered segments, thick near the body; the femur
    // and tibia bristled.
    for leg in 0..8u8 {
        for segment in 0..4u8 {
            let (near, far) = gait::RADII[usize::from(segment)];
            let mesh = ConicalFrustum { radius_top: far, radius_bottom: near, height: 1.0 }.mesh().resolution(7);
            let colour = if segment % 2 == 0 { dark } else { band };
            let part = Part::Leg { spider: i, leg, segment };
            let id = kit.child(commands, root, mesh, colour, Transform::default(), part, layer);
            if segment == 1 || segment == 2 {
                // Straight out from the segment, so that its stretch along
                // the leg does not shear them.
                for b in 0..4 {
                    let around = b as f32 * 1.9 + f32::from(segment);
                    let out = Vec3::new(around.cos(), 0.0, around.sin());
                    let hair = Transform::from_translation(out * (near + 0.012) + Vec3::Y * (-0.3 + b as f32 * 0.2))
                        .with_rotation(Quat::from_rotation_arc(Vec3::Y, out));
                    kit.child(commands, id, cube(0.004, 0.03, 0.004), dark, hair, Part::Hair, layer);
                }
            }
        }
    }
    for side in 0..2u8 {
        let mesh = ConicalFrustum { radius_top: 0.008, radius_bottom: 0.014, height: 1.0 }.mesh().resolution(6);
        kit.child(commands, root, mesh, band, Transform::default(), Part::Palp(i, side), layer);
    }
}

/// Spider `i`'s walk in the view: its cell, its pace, its size.
#[derive(Clone, Copy, Debug)]
struct Walker {
    home: Vec3,
    wander: f32,
    size: f32,
    activity: f32,
    seed: u64,
}

impl Walker {
    fn new(v: &View, i: u32) -> Walker {
        let (home, wander) = v.cells[i.min(SPIDERS - 1) as usize];
        Walker { home, wander, size: v.size_m.max(0.001), activity: v.activity, seed: u64::from(i) + 1 }
    }

    /// The path: where the spider is after walking `d` metres and which
    /// way it faces.
    fn at(&self, d: f32) -> (Vec3, f32) {
        let p = gait::path(self.seed, self.wander, d);
        let ahead = gait::path(self.seed, self.wander, d + 0.002) - p;
        (self.home + p, (-ahead.x).atan2(-ahead.z))
    }

    /// Metres walked by time `t`.
    fn distance(&self, t: f32) -> f32 {
        gait::distance(self.seed, self.activity, self.size, t)
    }

    /// The body's place and heading at time `t`.
    fn body(&self, t: f32) -> (Vec3, f32) {
        self.at(self.distance(t))
    }

    /// Leg `leg`'s five joints (hip, coxa's end, knee, ankle, foot) at time
    /// `t`, in the spider's own frame (leg spans).
    fn leg(&self, leg: usize, t: f32) -> [Vec3; 5] {
        let d = self.distance(t);
        let foot = gait::foot(leg, d, self.size, |d| self.at(d));
        let (at, heading) = self.at(d);
        let local = Quat::from_rotation_y(-heading) * (foot - at) / self.size;
        gait::joints(leg, local)
    }
}

/// Each spider's cell: the centre it wanders around and how far it may
/// wander, so that no two spiders ever touch (cells are two spider radii
/// plus two wanders apart), none leaves the table or enters the open bowl,
/// and contained ones stay inside the bowl. Free spiders fill cells nearest
/// the point `distance_m` beyond the hands.
fn cells(v: &View) -> [(Vec3, f32); SPIDERS as usize] {
    let radius = v.size_m.max(0.001) * 0.5;
    let mut out = [(Vec3::ZERO, 0.0); SPIDERS as usize];
    let n = v.count.clamp(1, SPIDERS) as usize;
    if v.contained {
        let centre = bowl_centre(v);
        if n == 1 {
            out[0] = (centre, (BOWL_R - radius).max(0.0));
        } else {
            let ring = BOWL_R * 0.5;
            let room = (ring * (std::f32::consts::PI / n as f32).sin()).min(BOWL_R - ring);
            for (i, cell) in out.iter_mut().enumerate().take(n) {
                let a = i as f32 / n as f32 * std::f32::consts::TAU;
                *cell = (centre + ring * Vec3::new(a.cos(), 0.0, a.sin()), (room - radius).max(0.0));
            }
        }
        return out;
    }
    // Wander far when active, less when crowded (twenty at the hands are
    // a crowd).
    let size = v.size_m.max(0.001);
    let wander = (size * (0.5 + 2.0 * v.activity)).min(0.2 / (n as f32).sqrt()).max(size / 2.0);
    let spacing = 2.0 * (radius + wander);
    let hands = Vec3::new(0.0, TABLE_TOP, HANDS_Z);
    let centre = hands - Vec3::Z * v.distance_m;
    let bowl = bowl_centre(v);
    let margin = radius + wander;
    let mut free: Vec<Vec3> = Vec::new();
    // A hexagonal grid around the centre, nearest cells first.
    let reach = (n as f32).sqrt() as i32 + 3;
    for row in -reach * 2..=reach * 2 {
        for col in -reach * 2..=reach * 2 {
            let x = (col as f32 + if row % 2 == 0 { 0.0 } else { 0.5 }) * spacing;
            let z = row as f32 * spacing * 0.866;
            let at = centre + Vec3::new(x, 0.0, z);
            let on_table =
                at.x.abs() <= TABLE_HALF_X - margin && at.z <= TABLE_Z.0 - margin && at.z >= TABLE_Z.1 + margin;
            let clear_of_bowl = at.distance(bowl) >= 0.25 + margin;
            // None walks around a point nearer the hands than the step says.
            let far_enough = at.distance(hands) >= v.distance_m - 1e-3;
            if on_table && clear_of_bowl && far_enough {
                free.push(at);
            }
        }
    }
    free.sort_by(|a, b| a.distance_squared(centre).total_cmp(&b.distance_squared(centre)));
    for (i, cell) in out.iter_mut().enumerate().take(n) {
        *cell = (free.get(i).copied().unwrap_or(centre), wander);
    }
    out
}

/// The walk, as pure functions of a spider's seed, its size and the time:
/// how far it has walked, where that takes it, and where each foot is.
pub mod gait {
    use bevy::prelude::*;

    /// The body's height over the ground, leg spans.
    pub const BODY_H: f32 = 0.1;
    /// One gait cycle's advance, leg spans.
    pub const STRIDE: f32 = 0.22;
    /// The share of a cycle a foot stands.
    pub const DUTY: f32 = 0.55;
    /// How high a stepping foot lifts, leg spans.
    pub const LIFT: f32 = 0.07;
    /// Each leg's angle from straight out sideways (negative: forward),
    /// front to back.
    const ANGLES: [f32; 4] = [-0.95, -0.35, 0.25, 0.85];
    /// From the hip to the foot at rest, across the ground, leg spans.
    const REACH: f32 = 0.40;
    /// The femur's and the tibia's lengths, leg spans.
    pub const FEMUR: f32 = 0.2;
    /// The tibia's length.
    pub const TIBIA: f32 = 0.19;
    /// Each segment's radius at its body end and at its far end.
    pub const RADII: [(f32, f32); 4] = [(0.016, 0.015), (0.015, 0.012), (0.012, 0.009), (0.009, 0.004)];

    /// Side (−1 left, 1 right) and place (0 front to 3 back) of leg `leg`.
    fn side_and_place(leg: usize) -> (f32, usize) {
        (if leg < 4 { -1.0 } else { 1.0 }, leg % 4)
    }

    /// Where leg `leg` joins the body.
    pub fn hip(leg: usize) -> Vec3 {
        let (side, k) = side_and_place(leg);
        Vec3::new(side * 0.045, BODY_H, -0.1 + k as f32 * 0.035)
    }

    /// Where leg `leg`'s foot rests when the spider stands.
    pub fn rest(leg: usize) -> Vec3 {
        let (side, k) = side_and_place(leg);
        let a = ANGLES[k];
        let hip = hip(leg);
        Vec3::new(hip.x, 0.0, hip.z) + REACH * Vec3::new(side * a.cos(), 0.0, a.sin())
    }

    /// The tetrapod groups: the first and third leg of one side step with
    /// the second and fourth of the other.
    pub fn group(leg: usize) -> usize {
        let (side, k) = side_and_place(leg);
        (k + usize::from(side > 0.0)) % 2
    }

    pub use super::super::kit::hash;

    /// Bouts in a repeating plan: a pause, a walk or a dart each.
    const BOUTS: u64 = 12;

    /// Bout `j`: its length in seconds and how far it goes, metres. Pauses
    /// are most bouts at low activity and few at high, darts the opposite.
    /// Every distance is a whole number of half cycles, so that each bout
    /// ends with all eight feet down.
    pub fn bout(seed: u64, activity: f32, size: f32, j: u64) -> (f32, f32) {
        let (kind, length) = (hash(seed, 2 * j), hash(seed, 2 * j + 1));
        let half = STRIDE * size / 2.0;
        let pause = 0.92 - 0.65 * activity;
        let dart = 0.35 * activity;
        let (seconds, speed) = if kind < pause {
            (0.6 + 2.4 * length, 0.0)
        } else if kind > 1.0 - dart {
            (0.25 + 0.3 * length, size * (3.0 + 6.0 * activity))
        } else {
            (0.8 + 1.5 * length, size * (0.6 + 2.0 * activity))
        };
        let halves = (speed * seconds / half).round();
        let halves = if speed > 0.0 { halves.max(1.0) } else { 0.0 };
        (seconds, halves * half)
    }

    /// Metres walked by time `t`: the plan of bouts repeating, each bout
    /// starting and ending at rest (speed ∝ 1 − cos).
    pub fn distance(seed: u64, activity: f32, size: f32, t: f32) -> f32 {
        let plan: [(f32, f32); BOUTS as usize] = std::array::from_fn(|j| bout(seed, activity, size, j as u64));
        let period: f32 = plan.iter().map(|b| b.0).sum();
        let per_period: f32 = plan.iter().map(|b| b.1).sum();
        let laps = (t.max(0.0) / period).floor();
        let mut left = t.max(0.0) - laps * period;
        let mut walked = laps * per_period;
        for (seconds, metres) in plan {
            if left < seconds {
                let u = left / seconds;
                return walked + metres * (u - (std::f32::consts::TAU * u).sin() / std::f32::consts::TAU);
            }
            left -= seconds;
            walked += metres;
        }
        walked
    }

    /// Where the path takes the body after `d` metres: a wobbly loop
    /// around its cell's centre, within `wander` metres of it, bending in
    /// and out in its own way for every seed and turning either way. Its
    /// radius never comes near zero, so the heading turns smoothly.
    pub fn path(seed: u64, wander: f32, d: f32) -> Vec3 {
        let w = wander.max(0.001);
        let way = if hash(seed, 99) < 0.5 { -1.0 } else { 1.0 };
        let (p1, p2) = (std::f32::consts::TAU * hash(seed, 100), std::f32::consts::TAU * hash(seed, 101));
        let (k1, k2) = (2.0 + (3.0 * hash(seed, 102)).floor(), 3.0 + (2.0 * hash(seed, 103)).floor());
        let angle = way * d / (0.6 * w) + p1;
        let r = 0.7 + 0.18 * (k1 * angle + p2).sin() + 0.1 * (k2 * angle).sin();
        Vec3::new(angle.cos(), 0.0, angle.sin()) * r * w
    }

    /// Leg `leg`'s foot in the world after `d` metres, for a spider of
    /// leg span `size` whose body after `d` metres is `body(d)` (place,
    /// heading). A standing foot stays where it was put down; a stepping
    /// one arcs to where it will stand next.
    pub fn foot(leg: usize, d: f32, size: f32, body: impl Fn(f32) -> (Vec3, f32)) -> Vec3 {
        let cycle = STRIDE * size;
        let offset = 0.5 * group(leg) as f32;
        let (n, phase) = cycle_and_phase(leg, d, size);
        let planted = |n: f32| {
            let (at, heading) = body((n - offset + DUTY / 2.0) * cycle);
            at + Quat::from_rotation_y(heading) * rest(leg) * size
        };
        if phase < DUTY {
            return planted(n);
        }
        let s = (phase - DUTY) / (1.0 - DUTY);
        let (from, to) = (planted(n), planted(n + 1.0));
        let across = s * s * (3.0 - 2.0 * s);
        from.lerp(to, across) + Vec3::Y * LIFT * size * (std::f32::consts::PI * s).sin()
    }

    /// Leg `leg`'s gait cycle after `d` metres and how far into it
    /// (standing below [`DUTY`], stepping above).
    pub fn cycle_and_phase(leg: usize, d: f32, size: f32) -> (f32, f32) {
        let u = d / (STRIDE * size) + 0.5 * group(leg) as f32;
        (u.floor(), u - u.floor())
    }

    /// A leg's joints in the spider's frame, for its foot at `foot`: hip,
    /// the coxa's end, knee, ankle and foot. Femur and tibia bend up to the
    /// knee (two-bone inverse kinematics); the metatarsus comes down to the
    /// foot from above and inside it.
    pub fn joints(leg: usize, foot: Vec3) -> [Vec3; 5] {
        let hip = hip(leg);
        let across = Vec3::new(foot.x - hip.x, 0.0, foot.z - hip.z).normalize_or(Vec3::X);
        let coxa = hip + across * 0.05 + Vec3::Y * 0.01;
        let ankle = foot - across * 0.04 + Vec3::Y * 0.14;
        let to = ankle - coxa;
        let d = to.length().clamp((FEMUR - TIBIA).abs() + 1e-4, FEMUR + TIBIA - 1e-4);
        let u = to.normalize_or(across);
        let bend = (Vec3::Y - u * u.dot(Vec3::Y)).normalize_or(Vec3::Y);
        let cos = ((FEMUR * FEMUR + d * d - TIBIA * TIBIA) / (2.0 * FEMUR * d)).clamp(-1.0, 1.0);
        let knee = coxa + FEMUR * (cos * u + (1.0 - cos * cos).sqrt() * bend);
        // Out of reach, the tibia points at the ankle from the knee.
        let ankle = knee + (ankle - knee).normalize_or(u) * TIBIA.min((ankle - knee).length());
        [hip, coxa, knee, ankle, foot]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(count: u32, size_cm: f32, distance_m: f32, activity: f32, contained: bool) -> View {
        let mut v = View {
            count,
            size_m: size_cm / 100.0,
            distance_m,
            activity,
            contained,
            realism: 1.0,
            cells: [(Vec3::ZERO, 0.0); SPIDERS as usize],
        };
        v.cells = cells(&v);
        v
    }

    /// The scenario's ladder, and the schema's extremes.
    fn views() -> Vec<View> {
        vec![
            view(1, 1.0, 4.0, 0.05, true),
            view(3, 2.5, 0.6, 0.4, true),
            view(3, 3.0, 0.25, 0.5, false),
            view(8, 7.0, 0.0, 0.7, false),
            view(20, 9.0, 0.0, 1.0, false),
            view(SPIDERS, 9.0, 0.0, 1.0, false),
            view(SPIDERS, 3.0, 2.0, 1.0, false),
        ]
    }

    #[test]
    fn spiders_never_touch_each_other_the_bowl_or_the_edge() {
        for v in views() {
            let walkers: Vec<Walker> = (0..v.count).map(|i| Walker::new(&v, i)).collect();
            let radius = v.size_m / 2.0;
            for step in 0..600 {
                let t = step as f32 * 0.25;
                let at: Vec<Vec3> = walkers.iter().map(|w| w.body(t).0).collect();
                for (i, a) in at.iter().enumerate() {
                    for b in &at[i + 1..] {
                        assert!(
                            a.distance(*b) >= 2.0 * radius - 1e-4,
                            "{v:?} t {t}: two spiders {} m apart",
                            a.distance(*b)
                        );
                    }
                    if v.contained {
                        let inside = Vec2::new(a.x, a.z).distance(Vec2::new(0.0, bowl_centre(&v).z));
                        assert!(inside + radius <= BOWL_R + 1e-4, "{v:?} t {t}: out of the bowl ({inside} m)");
                    } else {
                        assert!(a.x.abs() + radius <= TABLE_HALF_X, "{v:?} t {t}: off the table's side at {a}");
                        assert!(a.z + radius <= TABLE_Z.0 && a.z - radius >= TABLE_Z.1, "{v:?}: off the end at {a}");
                        assert!(a.distance(bowl_centre(&v)) >= 0.25 + radius - 1e-4, "{v:?} t {t}: in the bowl");
                    }
                }
            }
        }
    }

    #[test]
    fn free_spiders_come_to_the_hands_when_the_step_says_so() {
        let hands = Vec3::new(0.0, TABLE_TOP, HANDS_Z);
        let mean =
            |v: View| (0..v.count).map(|i| Walker::new(&v, i).home.distance(hands)).sum::<f32>() / v.count as f32;
        let on = view(8, 7.0, 0.0, 0.7, false);
        assert!(Walker::new(&on, 0).home.distance(hands) < 1e-4, "the first spider's walk centres on the hands");
        assert!(mean(on) < 0.4, "on the hands, spiders are {} m from them on average", mean(on));
        let away = view(8, 7.0, 0.5, 0.7, false);
        let nearest = (0..8).map(|i| Walker::new(&away, i).home.distance(hands)).fold(f32::MAX, f32::min);
        assert!((nearest - 0.5).abs() < 1e-3, "half a metre away, the nearest walks around {nearest} m from the hands");
    }

    #[test]
    fn a_standing_foot_stays_put_and_at_least_four_stand() {
        let v = view(3, 6.0, 0.2, 1.0, false);
        let w = Walker::new(&v, 1);
        let (mut checked, mut steps, mut moved) = (0, 0, 0.0f32);
        for frame in 0..3000 {
            let t = frame as f32 / 90.0;
            let (d0, d1) = (w.distance(t), w.distance(t + 1.0 / 90.0));
            let mut down = 0;
            for leg in 0..8 {
                let (a, b) = (gait::cycle_and_phase(leg, d0, w.size), gait::cycle_and_phase(leg, d1, w.size));
                let (f0, f1) = (gait::foot(leg, d0, w.size, |d| w.at(d)), gait::foot(leg, d1, w.size, |d| w.at(d)));
                if a.1 < gait::DUTY {
                    down += 1;
                    assert!((f0.y - TABLE_TOP).abs() < 1e-5, "t {t}: a standing foot off the table");
                    if a.0 == b.0 && b.1 < gait::DUTY {
                        assert!(f0.distance(f1) < 1e-5, "t {t}: leg {leg}'s standing foot slid {} m", f0.distance(f1));
                        checked += 1;
                    }
                } else {
                    steps += 1;
                }
            }
            assert!(down >= 4, "t {t}: only {down} feet down");
            moved = moved.max(w.body(t).0.distance(w.body(0.0).0));
        }
        assert!(checked > 10_000 && steps > 100 && moved > 0.01, "it walked ({moved} m, {steps} stepping feet)");
    }

    #[test]
    fn legs_keep_their_length_and_reach_their_feet() {
        let v = view(8, 7.0, 0.0, 1.0, false);
        let w = Walker::new(&v, 3);
        for step in 0..500 {
            let t = step as f32 * 0.037;
            for leg in 0..8 {
                let j = w.leg(leg, t);
                assert!((j[2].distance(j[1]) - gait::FEMUR).abs() < 1e-3, "femur {}", j[2].distance(j[1]));
                assert!(j[3].distance(j[2]) <= gait::TIBIA + 1e-3);
                assert!(j[4].distance(j[3]) < 0.2, "leg {leg} t {t}: metatarsus {} joints {j:?}", j[4].distance(j[3]));
                assert!(j[2].y > j[1].y, "leg {leg}: the knee bends up");
                // The foot is under the spider's reach, not across the table.
                assert!(Vec2::new(j[4].x, j[4].z).length() < 0.7, "leg {leg}: foot at {}", j[4]);
            }
        }
    }

    #[test]
    fn calm_spiders_sit_still_and_active_ones_pause_dart_and_turn() {
        let moved = |activity: f32| {
            let v = view(1, 3.0, 0.5, activity, false);
            let w = Walker::new(&v, 0);
            let (mut still, mut fast, mut turned, mut path) = (0, 0, 0.0f32, 0.0f32);
            let (mut last, mut heading) = w.body(0.0);
            for step in 1..=1800 {
                let t = step as f32 / 30.0;
                let (at, h) = w.body(t);
                let speed = at.distance(last) * 30.0;
                if speed < 1e-4 {
                    still += 1;
                }
                if speed > 4.0 * v.size_m {
                    fast += 1;
                }
                if speed > 1e-4 {
                    let dh =
                        (h - heading + std::f32::consts::PI).rem_euclid(std::f32::consts::TAU) - std::f32::consts::PI;
                    turned += dh.abs();
                }
                path += at.distance(last);
                (last, heading) = (at, h);
            }
            (still as f32 / 1800.0, fast, turned, path)
        };
        let (calm_still, _, _, calm_path) = moved(0.05);
        let (busy_still, busy_fast, busy_turned, busy_path) = moved(1.0);
        assert!(calm_still > 0.7, "a calm spider is still most of the time ({calm_still})");
        assert!(busy_still > 0.05, "an active one still pauses ({busy_still})");
        assert!(busy_fast > 0, "an active one darts");
        assert!(busy_path > 5.0 * calm_path.max(0.01), "active walks further ({busy_path} vs {calm_path})");
        assert!(busy_turned > 2.0 * std::f32::consts::TAU, "its path curves ({busy_turned} rad in a minute)");
    }

    #[test]
    fn the_same_time_gives_the_same_spider() {
        let v = view(20, 9.0, 0.0, 1.0, false);
        for i in 0..20 {
            let (a, b) = (Walker::new(&v, i), Walker::new(&v, i));
            assert_eq!(a.body(123.4), b.body(123.4));
            assert_eq!(a.leg(5, 77.7), b.leg(5, 77.7));
        }
    }
}
