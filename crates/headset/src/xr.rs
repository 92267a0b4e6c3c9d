//! OpenXR (the `xr` feature): the headset's display, head and hand poses,
//! controller input and session focus, through bevy_mod_openxr.
//!
//! [`probe`] asks, before the app is built, whether an OpenXR runtime
//! answers and has a head-mounted display; the binary falls back to the
//! desktop window (or headless) when it does not, with one line saying why.
//!
//! Controls (any controller with these inputs; suggested bindings for Oculus
//! Touch, Valve Index, HTC Vive and the Khronos simple controller):
//! - panic: B or Y (Index: B; Vive and simple controller: menu);
//! - SUDS prompt: the right thumbstick (Vive: trackpad) moves the rating,
//!   the trigger answers.
//!
//! Losing focus (the system menu is open, the headset was taken off) reaches
//! the session engine as [`PatientInput::Focus`]: a running session pauses
//! and the console sees `focus_lost`. The runtime's session states arrive as
//! [`XrSessionStateSeen`] messages, read by [`FocusPlugin`].
//!
//! The headset's tracking owns the head ([`TrackedHead`]): the scene places
//! the tracked space where the patient belongs, and neither the synthetic
//! patient nor a replay moves the head under a person's eyes.
//!
//! Frame timing in telemetry comes from the runtime ([`display_timing`]):
//! the time between the predicted display times of consecutive frames, and
//! the display periods missed in between.

use std::borrow::Cow;

use bevy::prelude::*;
use bevy_mod_openxr::action_binding::{OxrSendActionBindings, OxrSuggestActionBinding};
use bevy_mod_openxr::action_set_attaching::OxrAttachActionSet;
use bevy_mod_openxr::action_set_syncing::{OxrActionSetSyncSet, OxrSyncActionSet};
use bevy_mod_openxr::openxr_session_running;
use bevy_mod_openxr::poll_events::{OxrEventHandlerExt, OxrEventIn};
use bevy_mod_openxr::resources::OxrInstance;
use bevy_mod_openxr::resources::OxrViews;
use bevy_mod_openxr::session::OxrSession;
use bevy_mod_openxr::spaces::OxrSpaceLocationFlags;
use bevy_mod_xr::camera::XrCamera;
use bevy_mod_xr::session::{XrSessionCreated, XrTracker, XrTrackingRoot, session_available};
use session::PatientInput;

use crate::HeadsetSystems;
use crate::engine::{Drive, PatientAction};
use crate::prompt::Rating;
use crate::telemetry::{DisplayTiming, Hand, Head, TrackedHead, Untracked};

/// Whether an OpenXR runtime answers with a head-mounted display; the reason
/// in words when it does not.
pub fn probe() -> Result<String, String> {
    // Windows links the loader in (as bevy_mod_openxr does there).
    #[cfg(windows)]
    let entry = openxr::Entry::linked();
    // SAFETY: loading the system's OpenXR loader runs its initialisation
    // code; that is what the loader is for, and nothing else is loaded.
    #[cfg(not(windows))]
    #[allow(unsafe_code, reason = "the only way to open the system's OpenXR loader")]
    let entry = unsafe { openxr::Entry::load() }.map_err(|e| format!("no OpenXR loader (libopenxr_loader.so): {e}"))?;
    let info = openxr::ApplicationInfo {
        application_name: "trinvis-headset",
        engine_name: "bevy",
        api_version: openxr::Version::new(1, 0, 0),
        ..Default::default()
    };
    let instance = entry.create_instance(&info, &openxr::ExtensionSet::default(), &[]).map_err(|e| {
        format!("no OpenXR runtime answered ({e}); is SteamVR, Monado or the headset's runtime running?")
    })?;
    let runtime =
        instance.properties().map(|p| format!("{} {}", p.runtime_name, p.runtime_version)).unwrap_or_default();
    instance
        .system(openxr::FormFactor::HEAD_MOUNTED_DISPLAY)
        .map_err(|e| format!("the OpenXR runtime {runtime} has no headset ({e}); is it connected and on?"))?;
    Ok(runtime)
}

/// Adds bevy_mod_openxr's plugins around Bevy's defaults. With a desktop
/// session (X11 or Wayland) the app also has its window; without one (a
/// headset machine with no desktop) it runs with no window at all: no
/// winit, Bevy's loop run as fast as the runtime's frame pacing
/// (`xrWaitFrame`) lets it.
pub fn add_xr_plugins(app: &mut App) {
    let has_display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if has_display {
        app.add_plugins(bevy_mod_openxr::add_xr_plugins(DefaultPlugins));
        return;
    }
    let plugins = DefaultPlugins
        .build()
        .disable::<bevy::winit::WinitPlugin>()
        .set(WindowPlugin {
            primary_window: None,
            // The session ends the app (`--minutes`, or the runtime asking to exit).
            exit_condition: bevy::window::ExitCondition::DontExit,
            ..default()
        })
        .add(bevy::app::ScheduleRunnerPlugin::run_loop(std::time::Duration::ZERO));
    app.add_plugins(bevy_mod_openxr::add_xr_plugins(plugins));
}

/// Head, hands, controllers, focus and frame timing from OpenXR.
#[derive(Debug)]
pub struct XrPlugin {
    /// A replay in the headset: the recording drives the scene, the viewer's
    /// own head is tracked, and the controllers do nothing.
    pub replay: bool,
}

#[derive(Resource)]
struct Actions {
    set: openxr::ActionSet,
    panic: openxr::Action<bool>,
    rating: openxr::Action<openxr::Vector2f>,
    answer: openxr::Action<f32>,
    left: openxr::Action<openxr::Posef>,
    right: openxr::Action<openxr::Posef>,
}

impl Plugin for XrPlugin {
    fn build(&self, app: &mut App) {
        // The same sky and ambient light as the window, so a scene looks
        // the same in the headset as in the screenshots.
        app.insert_resource(ClearColor(Color::srgb(0.1, 0.1, 0.1)))
            .insert_resource(GlobalAmbientLight {
                color: Color::WHITE,
                brightness: crate::scene::surroundings::FILL_CD_M2,
                ..default()
            })
            .insert_resource(TrackedHead)
            .add_systems(Startup, spawn_veil.after(crate::scene::spawn))
            .add_systems(XrSessionCreated, place_tracking_root)
            .add_systems(PreUpdate, display_timing.run_if(openxr_session_running))
            .add_systems(Update, (head_from_eyes.in_set(HeadsetSystems::Input), fade.in_set(HeadsetSystems::Observe)));
        if self.replay {
            return;
        }
        app.add_systems(Update, mirror_the_left_eye);
        app.add_plugins(FocusPlugin)
            .add_systems(Startup, create_actions.run_if(session_available))
            .add_systems(OxrSendActionBindings, suggest_bindings)
            .add_systems(XrSessionCreated, (attach_actions, spawn_hands))
            .add_systems(PreUpdate, sync_actions.before(OxrActionSetSyncSet).run_if(openxr_session_running))
            .add_systems(
                Update,
                (controllers.run_if(openxr_session_running), hands_tracked, show_hands.after(hands_tracked))
                    .in_set(HeadsetSystems::Input),
            )
            .add_oxr_event_handler(session_state);
    }
}

/// An OpenXR session state the runtime reported, in the order it came.
#[derive(Message, Clone, Copy, Debug, PartialEq, Eq)]
pub struct XrSessionStateSeen(pub openxr::SessionState);

/// Turns the runtime's session states into focus for the engine: FOCUSED is
/// focus, any other state after the first FOCUSED (VISIBLE behind the
/// system menu, STOPPING when the headset is taken off) is focus lost.
#[derive(Debug)]
pub struct FocusPlugin;

impl Plugin for FocusPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<XrSessionStateSeen>().add_systems(Update, follow_focus.in_set(HeadsetSystems::Input));
    }
}

fn create_actions(instance: Res<OxrInstance>, mut commands: Commands) {
    let created = (|| -> openxr::Result<Actions> {
        let set = instance.create_action_set("trinvis", "Trinvis", 0)?;
        Ok(Actions {
            panic: set.create_action("panic", "Panic: leave to the safe scene", &[])?,
            rating: set.create_action("rating", "Move the SUDS rating", &[])?,
            answer: set.create_action("answer", "Give the SUDS rating", &[])?,
            left: set.create_action("left_hand", "Left hand", &[])?,
            right: set.create_action("right_hand", "Right hand", &[])?,
            set,
        })
    })();
    match created {
        Ok(actions) => commands.insert_resource(actions),
        Err(e) => error!("xr: could not create the controller actions ({e}); panic is Escape on the desktop only"),
    }
}

fn suggest_bindings(actions: Option<Res<Actions>>, mut bindings: MessageWriter<OxrSuggestActionBinding>) {
    let Some(actions) = actions else { return };
    /// An interaction profile, and its paths for panic, rating and answer.
    type Profile = (&'static str, &'static [&'static str], &'static [&'static str], &'static [&'static str]);
    const TRIGGER: &[&str] = &["/user/hand/right/input/trigger/value"];
    // Every profile also has grip poses for both hands.
    let profiles: [Profile; 4] = [
        (
            "/interaction_profiles/oculus/touch_controller",
            &["/user/hand/right/input/b/click", "/user/hand/left/input/y/click"],
            &["/user/hand/right/input/thumbstick"],
            TRIGGER,
        ),
        (
            "/interaction_profiles/valve/index_controller",
            &["/user/hand/right/input/b/click", "/user/hand/left/input/b/click"],
            &["/user/hand/right/input/thumbstick"],
            TRIGGER,
        ),
        (
            "/interaction_profiles/htc/vive_controller",
            &["/user/hand/right/input/menu/click", "/user/hand/left/input/menu/click"],
            &["/user/hand/right/input/trackpad"],
            TRIGGER,
        ),
        (
            "/interaction_profiles/khr/simple_controller",
            &["/user/hand/right/input/menu/click"],
            &[],
            &["/user/hand/right/input/select/click"],
        ),
    ];
    for (profile, panic, rating, answer) in profiles {
        let mut suggest = |action: openxr::sys::Action, paths: &[&'static str]| {
            if !paths.is_empty() {
                bindings.write(OxrSuggestActionBinding {
                    action,
                    interaction_profile: Cow::Borrowed(profile),
                    bindings: paths.iter().copied().map(Cow::Borrowed).collect(),
                });
            }
        };
        suggest(actions.panic.as_raw(), panic);
        suggest(actions.rating.as_raw(), rating);
        suggest(actions.answer.as_raw(), answer);
        suggest(actions.left.as_raw(), &["/user/hand/left/input/grip/pose"]);
        suggest(actions.right.as_raw(), &["/user/hand/right/input/grip/pose"]);
    }
}

fn attach_actions(actions: Option<Res<Actions>>, mut attach: MessageWriter<OxrAttachActionSet>) {
    if let Some(actions) = actions {
        attach.write(OxrAttachActionSet(actions.set.clone()));
    }
}

fn sync_actions(actions: Option<Res<Actions>>, mut sync: MessageWriter<OxrSyncActionSet>) {
    if let Some(actions) = actions {
        sync.write(OxrSyncActionSet(actions.set.clone()));
    }
}

/// The controllers' grip poses, tracked as [`Hand`] entities.
/// Each hand's grip pose as a tracked space, with a controller drawn in
/// it (seeing one's own hands raises presence: Peperkorn et al. 2016):
/// hidden until the runtime tracks it, and again whenever it loses it.
fn spawn_hands(
    actions: Option<Res<Actions>>,
    session: Res<OxrSession>,
    meshes: Option<ResMut<Assets<Mesh>>>,
    materials: Option<ResMut<Assets<StandardMaterial>>>,
    mut commands: Commands,
) {
    let Some(actions) = actions else { return };
    let model = meshes.zip(materials).map(|(mut meshes, mut materials)| {
        let shell = materials.add(StandardMaterial {
            base_color: Color::srgb(0.16, 0.16, 0.18),
            perceptual_roughness: 0.5,
            ..default()
        });
        let ring = materials.add(StandardMaterial { base_color: Color::srgb(0.75, 0.76, 0.8), ..default() });
        // The grip runs along −z from the palm, tilted forward; the
        // tracking ring sits over the knuckles.
        let grip = meshes.add(Capsule3d::new(0.02, 0.09).mesh().latitudes(6).longitudes(12).build());
        let top = meshes.add(Torus::new(0.03, 0.045).mesh().minor_resolution(6).major_resolution(16).build());
        (shell, ring, grip, top)
    });
    for (action, hand) in [(&actions.left, Hand::Left), (&actions.right, Hand::Right)] {
        match session.create_action_space(action, openxr::Path::NULL, Isometry3d::IDENTITY) {
            Ok(space) => {
                let id = commands.spawn((space, hand, XrTracker, Untracked, Visibility::Hidden)).id();
                if let Some((shell, ring, grip, top)) = &model {
                    let tilt = Quat::from_rotation_x(-0.6);
                    commands.spawn((
                        Mesh3d(grip.clone()),
                        MeshMaterial3d(shell.clone()),
                        Transform::from_rotation(tilt),
                        ChildOf(id),
                    ));
                    commands.spawn((
                        Mesh3d(top.clone()),
                        MeshMaterial3d(ring.clone()),
                        Transform::from_xyz(0.0, 0.04, -0.05).with_rotation(tilt),
                        ChildOf(id),
                    ));
                }
            }
            Err(e) => warn!("xr: no pose for the {hand:?} hand ({e})"),
        }
    }
}

/// A controller shows only while it is tracked: before its first pose it
/// would sit at the tracking origin, and when tracking is lost the runtime
/// leaves it where it was last seen.
fn show_hands(mut hands: Query<(&mut Visibility, Has<Untracked>), With<Hand>>) {
    for (mut visibility, untracked) in &mut hands {
        visibility.set_if_neq(if untracked { Visibility::Hidden } else { Visibility::Inherited });
    }
}

/// A hand counts as tracked while the runtime gives both its position and
/// its orientation, from the second such frame on: the first one's pose
/// reaches the global transform telemetry reads only after this frame.
fn hands_tracked(
    hands: Query<(Entity, &OxrSpaceLocationFlags, Has<Untracked>), With<Hand>>,
    mut valid_before: Local<Vec<Entity>>,
    mut commands: Commands,
) {
    let mut valid_now = Vec::new();
    for (hand, flags, untracked) in &hands {
        let valid = flags.pos_valid() && flags.rot_valid();
        let tracked = valid && valid_before.contains(&hand);
        if valid {
            valid_now.push(hand);
        }
        if tracked && untracked {
            commands.entity(hand).remove::<Untracked>();
        } else if !tracked && !untracked {
            commands.entity(hand).insert(Untracked);
        }
    }
    *valid_before = valid_now;
}

/// The tracked space's floor origin goes where the scene wants the patient,
/// facing the way the scene faces them.
fn place_tracking_root(
    head: Query<&Transform, With<Head>>,
    mut root: Query<&mut Transform, (With<XrTrackingRoot>, Without<Head>)>,
) {
    let (Ok(head), Ok(mut root)) = (head.single(), root.single_mut()) else { return };
    let (yaw, _, _) = head.rotation.to_euler(EulerRot::YXZ);
    root.translation = Vec3::new(head.translation.x, 0.0, head.translation.z);
    root.rotation = Quat::from_rotation_y(yaw);
}

/// The mirror copies the left eye's picture (view 0).
fn mirror_the_left_eye(eyes: Query<(Entity, &XrCamera), Without<crate::mirror::MirrorView>>, mut commands: Commands) {
    for (entity, eye) in &eyes {
        if eye.0 == 0 {
            commands.entity(entity).insert(crate::mirror::MirrorView);
        }
    }
}

/// The head is between the eyes: telemetry, audio and the synthetic patient
/// all read [`Head`]. Until the runtime has located the eyes, the head stays
/// where the scene placed it.
fn head_from_eyes(
    views: Option<Res<OxrViews>>,
    eyes: Query<&GlobalTransform, With<XrCamera>>,
    mut head: Query<&mut Transform, (With<Head>, Without<XrCamera>)>,
) {
    if views.is_none_or(|views| views.is_empty()) {
        return;
    }
    let mut count = 0.0;
    let mut position = Vec3::ZERO;
    let mut rotation = None;
    for eye in &eyes {
        let (_, r, t) = eye.to_scale_rotation_translation();
        position += t;
        rotation.get_or_insert(r);
        count += 1.0;
    }
    let (Some(rotation), Ok(mut head)) = (rotation, head.single_mut()) else { return };
    head.translation = position / count;
    head.rotation = rotation;
}

/// Panic, and the SUDS prompt's thumbstick and trigger.
#[allow(clippy::too_many_arguments, reason = "Bevy injects system parameters")]
fn controllers(
    actions: Option<Res<Actions>>,
    session: Res<OxrSession>,
    time: Res<Time>,
    mut rating: ResMut<Rating>,
    mut panic_held: Local<bool>,
    mut answer_held: Local<bool>,
    mut moved: Local<f32>,
    mut patient: MessageWriter<PatientAction>,
) {
    let Some(actions) = actions else { return };
    let pressed = actions.panic.state(&session, openxr::Path::NULL).is_ok_and(|s| s.current_state);
    if pressed && !*panic_held {
        patient.write(PatientAction(PatientInput::Panic));
    }
    *panic_held = pressed;
    if !rating.open {
        return;
    }
    // Held up or down, the rating moves 5 points every 0.15 s.
    let stick = actions.rating.state(&session, openxr::Path::NULL).map_or(0.0, |s| s.current_state.y);
    *moved += time.delta_secs();
    if stick.abs() > 0.5 && *moved >= 0.15 {
        *moved = 0.0;
        rating.nudge(if stick > 0.0 { 5 } else { -5 });
    }
    let trigger = actions.answer.state(&session, openxr::Path::NULL).map_or(0.0, |s| s.current_state);
    if trigger > 0.8 && !*answer_held {
        patient.write(PatientAction(PatientInput::Suds { value: rating.answer() }));
    }
    *answer_held = trigger > 0.8;
}

/// The safe-scene fade in a headset: a sphere around the head, opaque
/// half-way through the fade, when the scenes swap.
#[derive(Component, Debug)]
struct Veil;

fn spawn_veil(
    mut commands: Commands,
    head: Query<Entity, With<Head>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let Ok(head) = head.single() else { return };
    let material = StandardMaterial {
        base_color: Color::srgba(0.55, 0.7, 0.6, 0.0),
        unlit: true,
        alpha_mode: AlphaMode::Blend,
        cull_mode: None,
        ..default()
    };
    commands.spawn((
        Mesh3d(meshes.add(Sphere::new(0.3))),
        MeshMaterial3d(materials.add(material)),
        Transform::default(),
        Visibility::Hidden,
        Veil,
        ChildOf(head),
    ));
}

fn fade(
    drive: Res<Drive>,
    mut veil: Query<(&MeshMaterial3d<StandardMaterial>, &mut Visibility), With<Veil>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let blend = drive.safe_blend as f32;
    let alpha = 1.0 - (2.0 * blend - 1.0).abs();
    for (material, mut visibility) in &mut veil {
        visibility.set_if_neq(if alpha > 0.001 { Visibility::Inherited } else { Visibility::Hidden });
        if let Some(mut m) = materials.get_mut(&material.0)
            && (m.base_color.alpha() - alpha).abs() > 0.001
        {
            m.base_color.set_alpha(alpha);
        }
    }
}

/// The runtime's session states, passed on as [`XrSessionStateSeen`].
fn session_state(event: OxrEventIn, mut seen: MessageWriter<XrSessionStateSeen>) {
    let openxr::Event::SessionStateChanged(change) = *event else { return };
    info!("xr: session state {:?}", change.state());
    seen.write(XrSessionStateSeen(change.state()));
}

/// Focus lost (system menu, headset off) pauses; focus back is reported.
fn follow_focus(
    mut states: MessageReader<XrSessionStateSeen>,
    mut patient: MessageWriter<PatientAction>,
    mut focused: Local<Option<bool>>,
) {
    for XrSessionStateSeen(state) in states.read() {
        let now = *state == openxr::SessionState::FOCUSED;
        // Before the first FOCUSED there is nothing to lose.
        if focused.is_none() && !now {
            continue;
        }
        if *focused != Some(now) {
            *focused = Some(now);
            patient.write(PatientAction(PatientInput::Focus { focused: now }));
        }
    }
}

/// The runtime's frame timing for telemetry: the time between the
/// predicted display times of this frame and the last, and how many of the
/// display's refreshes that skipped. On a GPU that keeps up it is one
/// refresh (11.1 ms at 90 Hz) and none missed; a frame that takes longer is
/// shown again by the runtime, and the patient sees the missed refreshes.
///
/// The refresh period is the shortest period the runtime has reported or
/// frames have been apart: runtimes such as Monado report the period they
/// pace the app at (a multiple of the refresh, when the app is slow), not
/// the display's own.
pub fn display_timing(
    state: Option<Res<bevy_mod_openxr::resources::OxrFrameState>>,
    mut last: Local<Option<i64>>,
    mut refresh: Local<Option<i64>>,
    timing: Option<ResMut<DisplayTiming>>,
    mut commands: Commands,
) {
    let Some(state) = state else { return };
    let now = state.predicted_display_time.as_nanos();
    let mut shortest = |ns: i64| {
        if ns > 0 {
            *refresh = Some(refresh.map_or(ns, |r| r.min(ns)));
        }
    };
    shortest(state.predicted_display_period.as_nanos());
    if let Some(before) = last.replace(now) {
        shortest(now - before);
        let measured = DisplayTiming::between(before, now, refresh.unwrap_or_default());
        match timing {
            Some(mut timing) => *timing = measured,
            None => commands.insert_resource(measured),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A controller is drawn only while its hand is tracked: hidden before
    /// the first pose, shown once tracked, hidden again when lost.
    #[test]
    fn a_controller_shows_only_while_tracked() {
        let mut app = App::new();
        app.add_systems(Update, show_hands);
        let hand = app.world_mut().spawn((Hand::Left, Untracked, Visibility::Hidden)).id();
        let seen = |app: &App| *app.world().get::<Visibility>(hand).unwrap();
        app.update();
        assert_eq!(seen(&app), Visibility::Hidden);
        app.world_mut().entity_mut(hand).remove::<Untracked>();
        app.update();
        assert_eq!(seen(&app), Visibility::Inherited);
        app.world_mut().entity_mut(hand).insert(Untracked);
        app.update();
        assert_eq!(seen(&app), Visibility::Hidden);
    }
}
