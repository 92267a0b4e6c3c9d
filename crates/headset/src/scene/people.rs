//! People: articulated figures shared by the audience, the passengers and
//! the people in the lift. A figure is a small skeleton of bones (hips,
//! chest, head, upper arms, forearms, thighs, shins), each a part with
//! its own mesh, posed every frame from a [`Posture`]: breathing, weight
//! shifts, leaning, where the head looks, and what the arms do (resting,
//! crossed, a hand raised, holding a phone, fidgeting).
//!
//! Behaviour matters more than fidelity for an audience (Pertaub, Slater
//! and Barker 2002): crude figures that look away, cross their arms, lean
//! back or whisper make a speaker anxious. So the figures stay simple
//! (few triangles, shared meshes, so hundreds draw as instanced batches),
//! and their behaviour comes from the scenario's parameters.
//!
//! A figure's root is its hips: standing at 0.95 m, seated 0.1 m over the
//! seat. It faces −z; its right is +x.

use std::f32::consts::{FRAC_PI_2, PI};

use bevy::prelude::*;

use super::Layer;
use super::kit::{Kit, cube};

/// Left or right.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The figure's left (−x).
    Left,
    /// The figure's right (+x).
    Right,
}

impl Side {
    fn sign(self) -> f32 {
        match self {
            Side::Left => -1.0,
            Side::Right => 1.0,
        }
    }
}

/// A bone of a figure, or a prop it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bone {
    /// The pelvis (the root's child; sways the whole body).
    Hips,
    /// The chest and belly: breathing and leaning.
    Chest,
    /// The head: where the figure looks.
    Head,
    /// An upper arm, from the shoulder.
    UpperArm(Side),
    /// A forearm and hand, from the elbow.
    Forearm(Side),
    /// A thigh, from the hip joint.
    Thigh(Side),
    /// A shin and foot, from the knee.
    Shin(Side),
    /// A phone in the right hand, shown while the figure looks at it.
    Phone,
}

/// What the arms do.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Arms {
    /// Hanging at the sides (standing) or hands on the lap (seated).
    #[default]
    Rest,
    /// Crossed over the chest: closed, unimpressed.
    Crossed,
    /// One hand up: a question.
    Raised(Side),
    /// Both hands before the chest, holding a phone.
    Phone,
    /// Restless hands, rubbing and gripping; the value is the time.
    Fidget(f32),
}

/// How a figure holds itself this frame.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Posture {
    /// Seated (thighs forward, shins down) or standing.
    pub seated: bool,
    /// The breath, −1 (out) to 1 (in).
    pub breath: f32,
    /// Leaning back (positive) or forward, radians, at the waist.
    pub lean: f32,
    /// Weight shifted sideways, radians (positive: leaning to its left).
    pub sway: f32,
    /// The head turned (positive: to its left) and tilted (positive: up).
    pub look: Vec2,
    /// The arms.
    pub arms: Arms,
}

/// A figure's colours.
#[derive(Clone, Copy, Debug)]
pub struct Clothes {
    /// Shirt, jumper or jacket.
    pub top: Color,
    /// Trousers or skirt.
    pub legs: Color,
    /// Skin.
    pub skin: Color,
    /// Hair.
    pub hair: Color,
}

/// Clothes for person `n`: varied, everyday, repeatable.
pub fn clothes(n: u32) -> Clothes {
    const TOPS: [(f32, f32, f32); 8] = [
        (0.15, 0.2, 0.35),
        (0.55, 0.12, 0.12),
        (0.2, 0.35, 0.25),
        (0.75, 0.72, 0.65),
        (0.1, 0.1, 0.12),
        (0.4, 0.45, 0.55),
        (0.6, 0.45, 0.2),
        (0.35, 0.2, 0.4),
    ];
    const LEGS: [(f32, f32, f32); 4] = [(0.12, 0.14, 0.22), (0.08, 0.08, 0.09), (0.35, 0.3, 0.25), (0.25, 0.25, 0.28)];
    const SKIN: [(f32, f32, f32); 5] =
        [(0.93, 0.76, 0.65), (0.8, 0.6, 0.47), (0.6, 0.42, 0.3), (0.4, 0.27, 0.19), (0.88, 0.7, 0.58)];
    const HAIR: [(f32, f32, f32); 5] =
        [(0.1, 0.07, 0.05), (0.3, 0.2, 0.1), (0.6, 0.5, 0.3), (0.05, 0.05, 0.05), (0.5, 0.5, 0.5)];
    let pick = |(r, g, b): (f32, f32, f32)| Color::srgb(r, g, b);
    let n = n as usize;
    Clothes {
        top: pick(TOPS[(n * 5 + 3) % TOPS.len()]),
        legs: pick(LEGS[(n * 3 + 1) % LEGS.len()]),
        skin: pick(SKIN[(n * 7 + 2) % SKIN.len()]),
        hair: pick(HAIR[(n * 11 + 4) % HAIR.len()]),
    }
}

/// Where each bone hangs from its parent (metres).
fn offset(bone: Bone) -> Vec3 {
    match bone {
        Bone::Hips => Vec3::ZERO,
        Bone::Chest => Vec3::new(0.0, 0.05, 0.0),
        Bone::Head => Vec3::new(0.0, 0.53, 0.0),
        Bone::UpperArm(side) => Vec3::new(side.sign() * 0.21, 0.46, 0.0),
        Bone::Forearm(_) => Vec3::new(0.0, -0.3, 0.0),
        Bone::Thigh(side) => Vec3::new(side.sign() * 0.1, -0.05, 0.0),
        Bone::Shin(_) => Vec3::new(0.0, -0.45, 0.0),
        Bone::Phone => Vec3::new(0.0, -0.3, -0.02),
    }
}

/// Spawns a figure's bones under `root` (its hips), each with `part(bone)`
/// as its part and its meshes under it as `still` parts (posed with their
/// bone, never on their own); returns the head, the point gaze is
/// measured to.
pub fn spawn<P: Component + Copy>(
    commands: &mut Commands,
    kit: &mut Kit,
    layer: Layer,
    root: Entity,
    clothes: Clothes,
    part: impl Fn(Bone) -> P,
    still: P,
) -> Entity {
    let capsule = |r: f32, l: f32| -> Mesh { Capsule3d::new(r, l).mesh().latitudes(6).longitudes(10).build() };
    let ball = |r: f32| -> Mesh { Sphere::new(r).mesh().uv(10, 6) };
    let bone = |commands: &mut Commands, parent: Entity, b: Bone| -> Entity {
        let id = commands.spawn((Transform::from_translation(offset(b)), Visibility::Inherited, part(b), layer)).id();
        commands.entity(id).insert(ChildOf(parent));
        id
    };
    let fixed = || Transform::default();
    let shoes = Color::srgb(0.08, 0.07, 0.07);
    let hips = bone(commands, root, Bone::Hips);
    kit.child(commands, hips, cube(0.34, 0.2, 0.22), clothes.legs, fixed(), still, layer);
    let chest = bone(commands, hips, Bone::Chest);
    let torso = Transform::from_xyz(0.0, 0.26, 0.0).with_scale(Vec3::new(1.0, 1.0, 0.62));
    kit.child(commands, chest, capsule(0.19, 0.2), clothes.top, torso, still, layer);
    let head = bone(commands, chest, Bone::Head);
    kit.child(commands, head, Cylinder::new(0.05, 0.1), clothes.skin, fixed(), still, layer);
    let skull = Transform::from_xyz(0.0, 0.14, 0.0).with_scale(Vec3::new(0.85, 1.05, 1.0));
    kit.child(commands, head, ball(0.11), clothes.skin, skull, still, layer);
    let hair = Transform::from_xyz(0.0, 0.17, 0.025).with_scale(Vec3::new(0.9, 0.9, 1.0));
    kit.child(commands, head, ball(0.112), clothes.hair, hair, still, layer);
    for x in [-0.035, 0.035] {
        let eye = Transform::from_xyz(x, 0.15, -0.095);
        kit.child(commands, head, ball(0.014), Color::srgb(0.05, 0.04, 0.04), eye, still, layer);
    }
    let nose = Transform::from_xyz(0.0, 0.12, -0.105);
    kit.child(commands, head, cube(0.025, 0.04, 0.03), clothes.skin, nose, still, layer);
    for side in [Side::Left, Side::Right] {
        let upper = bone(commands, chest, Bone::UpperArm(side));
        let sleeve = Transform::from_xyz(0.0, -0.14, 0.0);
        kit.child(commands, upper, capsule(0.052, 0.2), clothes.top, sleeve, still, layer);
        let fore = bone(commands, upper, Bone::Forearm(side));
        let arm = Transform::from_xyz(0.0, -0.12, 0.0);
        kit.child(commands, fore, capsule(0.043, 0.18), clothes.top, arm, still, layer);
        let hand = Transform::from_xyz(0.0, -0.27, 0.0).with_scale(Vec3::new(0.8, 1.2, 0.5));
        kit.child(commands, fore, ball(0.05), clothes.skin, hand, still, layer);
        if side == Side::Right {
            let phone = bone(commands, fore, Bone::Phone);
            let dark = Color::srgb(0.05, 0.05, 0.07);
            kit.child(commands, phone, cube(0.075, 0.01, 0.15), dark, fixed(), still, layer);
        }
        let thigh = bone(commands, hips, Bone::Thigh(side));
        let upper_leg = Transform::from_xyz(0.0, -0.22, 0.0);
        kit.child(commands, thigh, capsule(0.078, 0.3), clothes.legs, upper_leg, still, layer);
        let shin = bone(commands, thigh, Bone::Shin(side));
        let lower_leg = Transform::from_xyz(0.0, -0.2, 0.0);
        kit.child(commands, shin, capsule(0.06, 0.3), clothes.legs, lower_leg, still, layer);
        let shoe = Transform::from_xyz(0.0, -0.44, -0.05);
        kit.child(commands, shin, cube(0.1, 0.08, 0.26), shoes, shoe, still, layer);
    }
    head
}

/// Poses `bone` for `posture`: its joint's rotation (and the chest's
/// breathing). False hides it (the phone, unless it is being looked at).
pub fn pose(bone: Bone, posture: &Posture, transform: &mut Transform) -> bool {
    let p = posture;
    transform.translation = offset(bone);
    transform.rotation = match bone {
        Bone::Hips => Quat::from_rotation_z(-0.3 * p.sway),
        Bone::Chest => {
            transform.translation.y += 0.006 * p.breath;
            Quat::from_rotation_z(p.sway) * Quat::from_rotation_x(p.lean + 0.015 * p.breath)
        }
        Bone::Head => Quat::from_rotation_y(p.look.x) * Quat::from_rotation_x(p.look.y - 0.5 * p.lean),
        Bone::UpperArm(side) => {
            let (forward, out, twist) = arm(p, side).0;
            Quat::from_rotation_z(side.sign() * out) * Quat::from_rotation_y(twist) * Quat::from_rotation_x(forward)
        }
        Bone::Forearm(side) => {
            let (bend, across) = arm(p, side).1;
            Quat::from_rotation_y(side.sign() * across) * Quat::from_rotation_x(bend)
        }
        Bone::Thigh(side) => {
            if p.seated {
                // Knees a little apart.
                Quat::from_rotation_y(-side.sign() * 0.08) * Quat::from_rotation_x(FRAC_PI_2)
            } else {
                Quat::from_rotation_z(side.sign() * 0.03 - 0.3 * p.sway)
            }
        }
        Bone::Shin(_) => {
            if p.seated {
                Quat::from_rotation_x(-FRAC_PI_2 + 0.15)
            } else {
                Quat::IDENTITY
            }
        }
        Bone::Phone => Quat::from_rotation_x(-0.3),
    };
    bone != Bone::Phone || p.arms == Arms::Phone
}

/// One arm's joint angles: the upper arm's (forward, out, twist) and the
/// forearm's (bend, across the body).
#[allow(clippy::type_complexity, reason = "two joints' angles")]
fn arm(p: &Posture, side: Side) -> ((f32, f32, f32), (f32, f32)) {
    let rest = if p.seated { ((0.1, 0.12, 0.0), (1.0, 0.1)) } else { ((0.05, 0.1, 0.0), (0.15, 0.0)) };
    match p.arms {
        Arms::Rest => rest,
        Arms::Crossed => ((0.4, -0.15, 0.0), (1.75, 1.45)),
        Arms::Raised(up) if up == side => ((PI - 0.25, 0.15, 0.0), (0.35, 0.0)),
        Arms::Raised(_) => rest,
        Arms::Phone => ((0.3, 0.1, 0.0), (1.45, 0.45)),
        Arms::Fidget(t) => {
            let s = side.sign();
            let rub = (t * 5.0 + s).sin();
            ((0.25 + 0.08 * rub, 0.15, 0.0), (1.35 + 0.2 * (t * 3.3).sin(), 0.55 + 0.15 * rub))
        }
    }
}

/// The head's turn and tilt that look from a head at `from` (facing
/// `facing` radians about y) at `at`.
pub fn look_at(from: Vec3, facing: f32, at: Vec3) -> Vec2 {
    let to = Quat::from_rotation_y(-facing) * (at - from);
    let turn = (-to.x).atan2(-to.z);
    let tilt = to.y.atan2(Vec2::new(to.x, to.z).length());
    Vec2::new(turn.clamp(-1.4, 1.4), tilt.clamp(-0.6, 0.6))
}

/// How far over the hips a figure's eyes are, upright.
pub const EYES_OVER_HIPS: f32 = 0.05 + 0.53 + 0.15;

#[cfg(test)]
mod tests {
    use super::*;

    /// The world position of a point `p` of `bone`'s frame for a figure at
    /// the origin, following the chain of bones.
    fn world(posture: &Posture, chain: &[Bone], p: Vec3) -> Vec3 {
        let mut m = Mat4::IDENTITY;
        for &b in chain {
            let mut t = Transform::default();
            pose(b, posture, &mut t);
            m *= t.to_matrix();
        }
        m.transform_point3(p)
    }

    fn hand(posture: &Posture, side: Side) -> Vec3 {
        world(
            posture,
            &[Bone::Hips, Bone::Chest, Bone::UpperArm(side), Bone::Forearm(side)],
            Vec3::new(0.0, -0.27, 0.0),
        )
    }

    #[test]
    fn a_raised_hand_is_above_the_head_and_crossed_arms_cross() {
        let seated = Posture { seated: true, ..default() };
        let raised = Posture { arms: Arms::Raised(Side::Right), ..seated };
        let head = world(&seated, &[Bone::Hips, Bone::Chest, Bone::Head], Vec3::new(0.0, 0.14, 0.0));
        assert!(hand(&raised, Side::Right).y > head.y + 0.1, "raised {} vs head {}", hand(&raised, Side::Right), head);
        assert!(hand(&raised, Side::Left).y < head.y - 0.4);
        let crossed = Posture { arms: Arms::Crossed, ..seated };
        let (l, r) = (hand(&crossed, Side::Left), hand(&crossed, Side::Right));
        assert!(l.x > 0.0 && r.x < 0.0, "each hand is on the other side: {l} {r}");
        assert!(l.y > 0.2 && l.z < 0.0, "at the chest, in front: {l}");
    }

    #[test]
    fn seated_hands_rest_on_the_lap_and_standing_feet_reach_the_floor() {
        let seated = Posture { seated: true, ..default() };
        let h = hand(&seated, Side::Left);
        assert!(h.z < -0.15 && (0.0..0.25).contains(&h.y), "a hand on the lap: {h}");
        let standing = Posture::default();
        let foot = world(
            &standing,
            &[Bone::Hips, Bone::Thigh(Side::Left), Bone::Shin(Side::Left)],
            Vec3::new(0.0, -0.44, 0.0),
        );
        assert!((foot.y + 0.91).abs() < 0.05, "the sole 0.95 m under the hips: {foot}");
    }

    #[test]
    fn looking_at_a_point_turns_the_head_to_it() {
        let look = look_at(Vec3::ZERO, 0.0, Vec3::new(-1.0, 0.0, -1.0));
        assert!((look.x - PI / 4.0).abs() < 1e-4 && look.y.abs() < 1e-4, "{look}");
        let p = Posture { look, ..default() };
        let nose = world(&p, &[Bone::Hips, Bone::Chest, Bone::Head], Vec3::new(0.0, 0.12, -0.105));
        let centre = world(&p, &[Bone::Hips, Bone::Chest, Bone::Head], Vec3::new(0.0, 0.12, 0.0));
        let facing = (nose - centre).normalize();
        assert!(facing.x < -0.6 && facing.z < -0.6, "the nose points at the point: {facing}");
    }

    #[test]
    fn the_phone_shows_only_while_held() {
        let mut t = Transform::default();
        assert!(!pose(Bone::Phone, &Posture::default(), &mut t));
        assert!(pose(Bone::Phone, &Posture { arms: Arms::Phone, ..default() }, &mut t));
    }
}
