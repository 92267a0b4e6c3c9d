//! The environments, one module each, built procedurally from primitives and
//! kept in step with the applied level: every frame the engine's parameters
//! move, show and hide each environment's parts, so the scene changes live
//! without reloading. Behind the safe-scene fade the calm place replaces the
//! scenario.
//!
//! An environment is a type implementing [`Environment`]: where the patient
//! is placed, its parts, how the shown parameters pose them, its sky and
//! light, and its sound mix. It reads its parameters through a typed view
//! ([`ParamReader`]), checked when the scenario loads ([`check`]). Adding one
//! touches its file, [`EnvironmentKind`] with its schema in the scenario
//! crate, and the one line per environment in [`with_environment!`].
//!
//! Without a renderer (headless) the same entities exist with transforms and
//! visibility, so tests and telemetry see the same scene.

pub mod flying;
pub mod heights;
pub mod kit;
pub mod lift;
pub mod people;
pub mod safe;
pub mod speaking;
pub mod spiders;
pub mod surroundings;

use bevy::prelude::*;
use scenario::{EnvironmentKind, ParamValue, Params};
pub use surroundings::Surroundings;

use crate::HeadsetSystems;
use crate::audio::Mix;
use crate::engine::{Drive, Engine};
use crate::telemetry::Head;
pub use kit::Kit;

/// Runs `$body` with `$E` the [`Environment`] type of `$kind`: the one
/// table of environments.
macro_rules! with_environment {
    ($kind:expr, $E:ident => $body:expr) => {
        match $kind {
            EnvironmentKind::Heights => {
                type $E = crate::scene::heights::Heights;
                $body
            }
            EnvironmentKind::Spiders => {
                type $E = crate::scene::spiders::Spiders;
                $body
            }
            EnvironmentKind::PublicSpeaking => {
                type $E = crate::scene::speaking::Speaking;
                $body
            }
            EnvironmentKind::Flying => {
                type $E = crate::scene::flying::Flying;
                $body
            }
            EnvironmentKind::Lift => {
                type $E = crate::scene::lift::Lift;
                $body
            }
            EnvironmentKind::Safe => {
                type $E = crate::scene::safe::Safe;
                $body
            }
        }
    };
}

/// One environment: everything the headset needs to show it.
pub trait Environment: Send + Sync + 'static {
    /// Its kind in the scenario schema.
    const KIND: EnvironmentKind;
    /// Its parameters, typed.
    type View: Copy + Send + Sync + 'static;
    /// What each of its parts is, so the parameters can pose it.
    type Part: Component + Copy;

    /// Reads the parameters. Every schema parameter of [`Self::KIND`] must
    /// be read here (a test checks it), and only through `params`.
    fn view(params: &mut ParamReader) -> Self::View;

    /// Where the patient's head starts, and whether they sit.
    fn placement() -> Placement;

    /// Builds the parts into `layer`.
    fn spawn(commands: &mut Commands, kit: &mut Kit, layer: Layer);

    /// Poses `part` for `view` at time `t` (seconds); false hides it.
    fn pose(view: &Self::View, part: Self::Part, t: f32, transform: &mut Transform) -> bool;

    /// The sky and the light at time `t` (seconds; a flickering lamp
    /// follows it, where the step says so).
    fn look(view: &Self::View, t: f32) -> Look;

    /// The ambience's loudness, before the safe-scene fade.
    fn mix(view: &Self::View) -> Mix;

    /// The view its parts take behind the safe-scene fade (only the safe
    /// place has one).
    fn safe_layer_view(_safe_scene: &'static str) -> Option<Self::View> {
        None
    }

    /// Systems of its own, beyond posing parts (none by default).
    fn extra(_app: &mut App) {}
}

/// Where the environment puts the patient: the head's start, facing the
/// stimulus. The synthetic patient and headset tracking add motion relative
/// to it.
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// The head's position and facing.
    pub head: Transform,
    /// Seated (the aircraft seat, the spider table) or standing.
    pub seated: bool,
}

impl Placement {
    /// Standing with the eyes at `eye`, looking at `at`.
    pub fn standing(eye: Vec3, at: Vec3) -> Placement {
        Placement { head: Transform::from_translation(eye).looking_at(at, Vec3::Y), seated: false }
    }

    /// Seated with the eyes at `eye`, looking at `at`.
    pub fn seated(eye: Vec3, at: Vec3) -> Placement {
        Placement { head: Transform::from_translation(eye).looking_at(at, Vec3::Y), seated: true }
    }
}

/// The sky and the main light of an environment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Look {
    /// The clear colour behind everything.
    pub sky: Color,
    /// The main light's share of its full strength, 0 to 1.
    pub brightness: f32,
    /// Outdoors, how far one can see through the haze, metres: distance
    /// fog in the sky's colour, so a city fades into the horizon instead of
    /// ending at an edge. `None` indoors.
    pub haze_m: Option<f32>,
    /// What surrounds the patient, lighting the scene from every side
    /// (image-based lighting), dimmed with [`Look::brightness`].
    pub surroundings: Surroundings,
}

/// Builds and updates the scene.
#[derive(Debug)]
pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Masked>()
            .init_resource::<surroundings::Loaded>()
            .add_systems(Startup, spawn)
            .add_systems(Update, show.in_set(HeadsetSystems::Scene))
            .add_systems(Update, look.in_set(HeadsetSystems::Scene).after(show));
        for kind in EnvironmentKind::ALL {
            with_environment!(kind, E => {
                app.add_systems(Update, pose::<E>.in_set(HeadsetSystems::Scene).after(show));
                E::extra(app);
            });
        }
    }
}

/// The stimulus parameters shown this frame (what the patient sees).
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub struct Shown {
    /// The parameters.
    pub params: Params,
    /// Whether the safe scene is up.
    pub safe: bool,
}

/// Where a part belongs: the scenario or the safe scene.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// Shown while the scenario is.
    Scenario,
    /// Shown behind the safe-scene fade.
    Safe,
}

/// The feared stimulus, as `--stimulus-mask` draws it: this part and every
/// part under it white, everything else black. (Telemetry's
/// [`crate::telemetry::Stimulus`] is a point to measure gaze and distance
/// to; this is what the patient sees of it.)
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct Feared;

/// Repaints the scene as the stimulus mask: unlit white for [`Feared`] parts
/// and their children, unlit black for the rest, on black, untonemapped.
#[derive(bevy::ecs::system::SystemParam)]
pub struct MaskPainter<'w, 's> {
    parts: Query<'w, 's, (Entity, &'static mut MeshMaterial3d<StandardMaterial>)>,
    parents: Query<'w, 's, &'static ChildOf>,
    feared: Query<'w, 's, (), With<Feared>>,
    materials: Option<ResMut<'w, Assets<StandardMaterial>>>,
    tonemapping: Query<'w, 's, &'static mut bevy::core_pipeline::tonemapping::Tonemapping>,
    clear: Option<ResMut<'w, ClearColor>>,
    masked: ResMut<'w, Masked>,
}

impl std::fmt::Debug for MaskPainter<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskPainter").field("masked", &self.masked.0).finish_non_exhaustive()
    }
}

/// Whether the scene is painted as the stimulus mask (the sky and the
/// lamps then stay as the mask left them).
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Masked(pub bool);

impl MaskPainter<'_, '_> {
    /// Paints the mask.
    pub fn paint(&mut self) {
        self.masked.0 = true;
        let Some(materials) = self.materials.as_mut() else { return };
        let flat = |color: Color| StandardMaterial { base_color: color, unlit: true, fog_enabled: false, ..default() };
        let (white, black) = (materials.add(flat(Color::WHITE)), materials.add(flat(Color::BLACK)));
        for (entity, mut material) in &mut self.parts {
            let feared = std::iter::successors(Some(entity), |e| self.parents.get(*e).ok().map(ChildOf::parent))
                .any(|e| self.feared.contains(e));
            material.0 = if feared { white.clone() } else { black.clone() };
        }
        for mut tonemapping in &mut self.tonemapping {
            *tonemapping = bevy::core_pipeline::tonemapping::Tonemapping::None;
        }
        if let Some(clear) = self.clear.as_mut() {
            clear.0 = Color::BLACK;
        }
    }
}

/// A light whose strength follows the environment's [`Look`]: its full
/// strength (lux for a directional light, lumens for a point light).
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Lamp(pub f32);

/// Reads parameters by name and kind, noting what it could not read: a name
/// the schema lacks, or a value of another kind, is an error [`check`]
/// reports when the scenario loads. Asked to, it also notes the names it
/// read ([`names_read`]); on the frame's path it notes nothing.
#[derive(Debug)]
pub struct ParamReader<'a> {
    params: &'a Params,
    read: Option<Vec<&'static str>>,
    errors: Vec<String>,
}

impl<'a> ParamReader<'a> {
    /// A reader of `params`.
    pub fn new(params: &'a Params) -> ParamReader<'a> {
        ParamReader { params, read: None, errors: Vec::new() }
    }

    fn value(&mut self, name: &'static str, kind: &str) -> Option<ParamValue> {
        if let Some(read) = self.read.as_mut() {
            read.push(name);
        }
        let value = self.params.get(name);
        if value.is_none() {
            self.errors.push(format!(
                "the {} scene reads {kind} `{name}`, which its schema does not have",
                self.params.kind()
            ));
        }
        value
    }

    fn wrong(&mut self, name: &'static str, kind: &str, value: ParamValue) {
        self.errors.push(format!("the {} scene reads `{name}` as {kind}, but it is {value}", self.params.kind()));
    }

    /// A number.
    pub fn number(&mut self, name: &'static str) -> f32 {
        match self.value(name, "a number") {
            Some(ParamValue::Number(x)) => x as f32,
            Some(other) => {
                self.wrong(name, "a number", other);
                0.0
            }
            None => 0.0,
        }
    }

    /// A count.
    pub fn count(&mut self, name: &'static str) -> u32 {
        match self.value(name, "a count") {
            Some(ParamValue::Count(n)) => n,
            Some(other) => {
                self.wrong(name, "a count", other);
                0
            }
            None => 0,
        }
    }

    /// A flag.
    pub fn flag(&mut self, name: &'static str) -> bool {
        match self.value(name, "a flag") {
            Some(ParamValue::Flag(b)) => b,
            Some(other) => {
                self.wrong(name, "a flag", other);
                false
            }
            None => false,
        }
    }

    /// A choice, as its word.
    pub fn choice(&mut self, name: &'static str) -> &'static str {
        match self.value(name, "a choice") {
            Some(ParamValue::Choice(c)) => c,
            Some(other) => {
                self.wrong(name, "a choice", other);
                ""
            }
            None => "",
        }
    }
}

/// Whether the headset's scene for `scenario` reads its parameters as the
/// schema has them: every step's parameters go through the environment's
/// typed view, and the safe place's. An error names the parameter.
pub fn check(scenario: &scenario::Scenario) -> Result<(), String> {
    let mut errors = Vec::new();
    let mut read = |params: &Params| {
        let mut reader = ParamReader::new(params);
        with_environment!(params.kind(), E => { E::view(&mut reader); });
        errors.append(&mut reader.errors);
    };
    for level in 1..=scenario.steps.len() {
        read(&scenario.params_at(level as f64));
    }
    read(&Params::defaults(EnvironmentKind::Safe));
    errors.dedup();
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}

/// The names the environment of `kind` reads, in order, from its defaults.
pub fn names_read(kind: EnvironmentKind) -> Vec<&'static str> {
    let params = Params::defaults(kind);
    let mut reader = ParamReader { read: Some(Vec::new()), ..ParamReader::new(&params) };
    with_environment!(kind, E => { E::view(&mut reader); });
    reader.read.unwrap_or_default()
}

/// The sound mix for `params`, before the safe-scene fade.
pub fn mix(params: &Params) -> Mix {
    with_environment!(params.kind(), E => E::mix(&E::view(&mut ParamReader::new(params))))
}

/// The placement of `kind`'s environment.
pub fn placement(kind: EnvironmentKind) -> Placement {
    with_environment!(kind, E => E::placement())
}

/// Builds the scenario's scene and the safe scene (a Startup system).
pub fn spawn(
    mut commands: Commands,
    engine: Res<Engine>,
    meshes: Option<ResMut<Assets<Mesh>>>,
    materials: Option<ResMut<Assets<StandardMaterial>>>,
    images: Option<ResMut<Assets<Image>>>,
) {
    let mut kit = Kit::new(meshes, materials, images);
    let kind = engine.session.scenario().environment;
    let placement = placement(kind);
    commands.spawn((placement.head, Visibility::Visible, Head));
    commands.insert_resource(placement);
    with_environment!(kind, E => E::spawn(&mut commands, &mut kit, Layer::Scenario));
    if kind != EnvironmentKind::Safe {
        safe::Safe::spawn(&mut commands, &mut kit, Layer::Safe);
    }
    commands.insert_resource(Shown { params: engine.session.params(), safe: false });
}

/// The level's parameters and the fade's side, for this frame.
fn show(engine: Res<Engine>, drive: Res<Drive>, mut shown: ResMut<Shown>) {
    let params = engine.session.scenario().params_at(drive.level);
    shown.set_if_neq(Shown { params, safe: drive.safe_blend >= 0.5 });
}

/// Each frame: the shown parameters onto `E`'s parts, and the safe scene
/// swapped in behind the fade's darkest point.
fn pose<E: Environment>(
    time: Res<Time>,
    engine: Res<Engine>,
    shown: Res<Shown>,
    mut parts: Query<(&E::Part, &Layer, &mut Transform, &mut Visibility)>,
) {
    if parts.is_empty() {
        return;
    }
    let scenario_kind = shown.params.kind();
    let scenario_view = (scenario_kind == E::KIND).then(|| E::view(&mut ParamReader::new(&shown.params)));
    let safe_view = E::safe_layer_view(engine.session.scenario().safety.safe_scene);
    let t = time.elapsed_secs();
    for (part, layer, mut transform, mut visibility) in &mut parts {
        let (in_view, view) = match layer {
            Layer::Scenario => (!shown.safe || scenario_kind == EnvironmentKind::Safe, scenario_view),
            Layer::Safe => (shown.safe, safe_view),
        };
        let mut posed = *transform;
        let show = match view {
            Some(view) => E::pose(&view, *part, t, &mut posed) && in_view,
            None => false,
        };
        // Written only when it changes, so that Bevy does not re-propagate
        // the transforms of the still parts on every frame.
        transform.set_if_neq(posed);
        // Written only when it changes, so that Bevy does not re-propagate
        // the visibility of every part on every frame.
        visibility.set_if_neq(if show { Visibility::Inherited } else { Visibility::Hidden });
    }
}

/// The sky, the haze and the lamps: the scenario's, or the safe place's
/// behind the fade.
#[allow(clippy::too_many_arguments, reason = "Bevy injects system parameters")]
fn look(
    time: Res<Time>,
    engine: Res<Engine>,
    shown: Res<Shown>,
    mut lamps: Query<(&Layer, &mut Visibility), With<Lamp>>,
    mut suns: Query<(&Lamp, &mut DirectionalLight)>,
    mut bulbs: Query<(&Lamp, &mut PointLight)>,
    clear: Option<ResMut<ClearColor>>,
    masked: Res<Masked>,
    mut cameras: Query<(Entity, Option<&mut DistanceFog>), With<Camera3d>>,
    mut lit: Query<(Entity, Option<&mut EnvironmentMapLight>), With<Camera3d>>,
    images: Option<ResMut<Assets<Image>>>,
    mut loaded: ResMut<surroundings::Loaded>,
    mut commands: Commands,
) {
    if masked.0 {
        return;
    }
    let t = time.elapsed_secs();
    // Only the lamps of the scene in view shine.
    for (layer, mut visibility) in &mut lamps {
        let lit = match layer {
            Layer::Scenario => !shown.safe || shown.params.kind() == EnvironmentKind::Safe,
            Layer::Safe => shown.safe,
        };
        visibility.set_if_neq(if lit { Visibility::Inherited } else { Visibility::Hidden });
    }
    let look = if shown.safe && shown.params.kind() != EnvironmentKind::Safe {
        safe::Safe::look(&safe::safe_layer(engine.session.scenario().safety.safe_scene), t)
    } else {
        with_environment!(shown.params.kind(), E => E::look(&E::view(&mut ParamReader::new(&shown.params)), t))
    };
    for (lamp, mut light) in &mut suns {
        let lux = lamp.0 * look.brightness;
        if light.illuminance != lux {
            light.illuminance = lux;
        }
    }
    for (lamp, mut light) in &mut bulbs {
        // A bulb's felt brightness goes with the square of its dimmer.
        let lumens = lamp.0 * look.brightness * look.brightness;
        if light.intensity != lumens {
            light.intensity = lumens;
        }
    }
    surroundings::light(
        look.surroundings,
        look.brightness,
        images.map(ResMut::into_inner),
        &mut loaded,
        &mut lit,
        &mut commands,
    );
    if let Some(mut clear) = clear
        && clear.0 != look.sky
    {
        clear.0 = look.sky;
    }
    for (camera, fog) in &mut cameras {
        match (look.haze_m, fog) {
            (Some(haze), Some(mut fog)) => {
                // The haze changes with the sky (the safe place behind the
                // fade has its own), so the sky's colour says when.
                if fog.color != look.sky {
                    fog.color = look.sky;
                    fog.falloff = FogFalloff::from_visibility(haze);
                }
            }
            (Some(haze), None) => {
                let fog = DistanceFog { color: look.sky, falloff: FogFalloff::from_visibility(haze), ..default() };
                commands.entity(camera).insert(fog);
            }
            (None, Some(_)) => {
                commands.entity(camera).remove::<DistanceFog>();
            }
            (None, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every parameter in the schema is read by its environment (and only
    /// the schema's names are): a parameter a scenario climbs on can never
    /// again be shown by nothing.
    #[test]
    fn every_schema_parameter_is_read_by_its_environment() {
        for kind in EnvironmentKind::ALL {
            let mut read = names_read(kind);
            read.sort_unstable();
            read.dedup();
            let mut schema: Vec<&str> = kind.params().iter().map(|p| p.name).collect();
            schema.sort_unstable();
            assert_eq!(read, schema, "{kind}: names read vs the schema");
        }
    }

    #[test]
    fn a_misspelt_or_mistyped_name_is_an_error_naming_it() {
        let params = Params::defaults(EnvironmentKind::Heights);
        let mut reader = ParamReader::new(&params);
        assert_eq!(reader.number("hieght_m"), 0.0);
        assert_eq!(reader.count("height_m"), 0);
        assert_eq!(reader.errors.len(), 2);
        assert!(reader.errors[0].contains("`hieght_m`") && reader.errors[0].contains("Heights"), "{:?}", reader.errors);
        assert!(reader.errors[1].contains("`height_m` as a count"), "{:?}", reader.errors);
    }

    #[test]
    fn the_shipped_scenarios_pass_the_check() {
        let dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from)
            .join("../../scenarios");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let scenario = scenario::parse(&text, &path.display().to_string()).unwrap();
            check(&scenario).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }

    #[test]
    fn seated_environments_seat_the_patient() {
        for kind in EnvironmentKind::ALL {
            let placement = placement(kind);
            let seated = matches!(kind, EnvironmentKind::Spiders | EnvironmentKind::Flying);
            assert_eq!(placement.seated, seated, "{kind}");
            let eye = placement.head.translation.y;
            assert!(
                if seated { (1.0..1.35).contains(&eye) } else { (1.5..1.8).contains(&eye) },
                "{kind}: eyes at {eye} m"
            );
        }
    }
}
