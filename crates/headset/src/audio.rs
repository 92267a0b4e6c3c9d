//! Sound with kira: ambience synthesised in code, nothing loaded from files.
//!
//! Five voices, each a small noise synthesiser: wind (grows with height and
//! the scenario's `wind`), crowd murmur (audience size, people in the lift),
//! cabin and engine noise (flight phase, `engine_noise`, turbulence), spider
//! rustle (count and activity) and a calm surf for the safe scene. [`mix`]
//! turns the parameters shown this frame into the voices' loudness; the frame
//! writes it into shared atomics and the audio thread eases toward it, so the
//! frame never waits on audio. Murmur and rustle come from the nearest
//! stimulus (a spatial track); wind, engine and surf surround the patient.
//!
//! With no audio device (CI, headless) the app runs on kira's mock backend,
//! says so once in the log, and carries on silent.

use std::f32::consts::TAU;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bevy::prelude::*;
use kira::backend::mock::{MockBackend, MockBackendSettings};
use kira::info::Info;
use kira::sound::{Sound, SoundData};
use kira::track::{SpatialTrackBuilder, SpatialTrackHandle};
use kira::{AudioManager, AudioManagerSettings, DefaultBackend, Frame, Tween};
use scenario::{EnvironmentKind, Params};

use crate::HeadsetSystems;
use crate::engine::Drive;
use crate::scene::Shown;
use crate::telemetry::{Head, Stimulus};

/// How loud each voice is, 0 to 1.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Mix {
    /// Wind around the patient.
    pub wind: f32,
    /// Voices of an audience or of people nearby.
    pub murmur: f32,
    /// Cabin air and engines.
    pub engine: f32,
    /// Legs on paper and wood.
    pub rustle: f32,
    /// Soft surf and air of the safe scene.
    pub calm: f32,
}

impl Mix {
    const VOICES: usize = 5;

    fn to_array(self) -> [f32; Self::VOICES] {
        [self.wind, self.murmur, self.engine, self.rustle, self.calm]
    }

    fn from_array(a: [f32; Self::VOICES]) -> Mix {
        Mix { wind: a[0], murmur: a[1], engine: a[2], rustle: a[3], calm: a[4] }
    }
}

/// The voices' loudness for the parameters shown, with the safe scene faded
/// in by `safe_blend` (0 = scenario, 1 = safe scene).
pub fn mix(params: &Params, safe_blend: f64) -> Mix {
    // Each environment's own mix (in its module under `scene`).
    let scene = crate::scene::mix(params);
    let blend = safe_blend.clamp(0.0, 1.0) as f32;
    let mut voices = scene.to_array().map(|v| v.clamp(0.0, 1.0) * (1.0 - blend));
    let calm = if params.kind() == EnvironmentKind::Safe { scene.calm.max(0.5) } else { 0.5 };
    voices[4] = (voices[4] + calm * blend).min(1.0);
    Mix::from_array(voices)
}

/// The mix the frame asks for, read by the audio thread without locks.
#[derive(Debug, Default)]
pub struct Controls([AtomicU32; Mix::VOICES]);

impl Controls {
    /// Asks for `mix`.
    pub fn set(&self, mix: Mix) {
        for (slot, v) in self.0.iter().zip(mix.to_array()) {
            slot.store(v.to_bits(), Ordering::Relaxed);
        }
    }

    /// The mix last asked for.
    pub fn get(&self) -> Mix {
        Mix::from_array(std::array::from_fn(|i| f32::from_bits(self.0[i].load(Ordering::Relaxed))))
    }
}

/// Which voices a sound plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Voices {
    /// Wind, engine and surf: all around the patient.
    Surround,
    /// Murmur and rustle: from the stimulus.
    Stimulus,
}

impl Voices {
    fn plays(self, voice: usize) -> bool {
        match self {
            Voices::Surround => matches!(voice, 0 | 2 | 4),
            Voices::Stimulus => matches!(voice, 1 | 3),
        }
    }
}

/// The synthesiser: noise, filters and envelopes, one sample at a time.
#[derive(Debug)]
pub struct Ambience {
    controls: Arc<Controls>,
    voices: Voices,
    /// The loudness reached, easing toward the controls.
    gains: [f32; Mix::VOICES],
    rng: u64,
    t: f64,
    wind: f32,
    murmur_low: f32,
    murmur_high: f32,
    brown: f32,
    crackle: f32,
    crackle_gain: f32,
    previous_noise: f32,
    surf: f32,
}

impl Ambience {
    /// A synthesiser playing `voices` at the loudness in `controls`.
    pub fn new(controls: Arc<Controls>, voices: Voices, seed: u64) -> Ambience {
        Ambience {
            controls,
            voices,
            gains: [0.0; Mix::VOICES],
            rng: seed | 1,
            t: 0.0,
            wind: 0.0,
            murmur_low: 0.0,
            murmur_high: 0.0,
            brown: 0.0,
            crackle: 0.0,
            crackle_gain: 0.0,
            previous_noise: 0.0,
            surf: 0.0,
        }
    }

    /// White noise in -1..1 (xorshift).
    fn noise(&mut self) -> f32 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    /// Fills `out` with `dt` seconds between frames.
    pub fn render(&mut self, out: &mut [Frame], dt: f64) {
        let target = self.controls.get().to_array();
        let dtf = dt as f32;
        // One-pole coefficient for a cut-off frequency in Hz.
        let pole = |hz: f32| 1.0 - (-TAU * hz * dtf).exp();
        // Loudness eases over a quarter of a second: no clicks when the level moves.
        let ease = 1.0 - (-dtf / 0.25).exp();
        let (murmur_low_pole, murmur_high_pole, surf_pole) = (pole(250.0), pole(900.0), pole(400.0));
        for frame in out.iter_mut() {
            for (i, gain) in self.gains.iter_mut().enumerate() {
                let goal = if self.voices.plays(i) { target[i] } else { 0.0 };
                *gain += (goal - *gain) * ease;
            }
            let [wind_gain, murmur_gain, engine_gain, rustle_gain, calm_gain] = self.gains;
            let t = self.t as f32;
            let white = self.noise();
            let mut sample = 0.0;
            if wind_gain > 1e-4 {
                // Gusts: two slow waves open and close a low-pass filter.
                let gust = 0.6 + 0.4 * (TAU * 0.13 * t).sin() * (TAU * 0.07 * t + 1.0).sin();
                self.wind += (white - self.wind) * pole(150.0 + 500.0 * gust * wind_gain);
                sample += self.wind * 2.5 * gust * wind_gain;
            }
            if murmur_gain > 1e-4 {
                // A speech band of noise, shaped by six talkers' syllables.
                self.murmur_low += (white - self.murmur_low) * murmur_low_pole;
                self.murmur_high += (white - self.murmur_high) * murmur_high_pole;
                let band = self.murmur_high - self.murmur_low;
                let talkers: f32 = (0..6)
                    .map(|k| {
                        let k = k as f32;
                        let syllable = (TAU * (2.7 + 0.45 * k) * t + k * 1.7).sin().max(0.0);
                        let phrase = 0.5 + 0.5 * (TAU * (0.21 + 0.05 * k) * t + k).sin();
                        syllable * syllable * phrase
                    })
                    .sum();
                sample += band * talkers * 0.9 * murmur_gain;
            }
            if engine_gain > 1e-4 {
                // Brown-noise rumble under a hum with two harmonics.
                self.brown = (self.brown + white * 0.02) * 0.998;
                let hum = (TAU * 48.0 * t).sin() * 0.25 + (TAU * 96.0 * t).sin() * 0.2 + (TAU * 192.0 * t).sin() * 0.08;
                sample += (self.brown * 2.0 + hum) * engine_gain;
            }
            if rustle_gain > 1e-4 {
                // Sparse crackles: each a burst of high-passed noise a few ms long.
                let rate = 60.0 * rustle_gain;
                if (self.noise() * 0.5 + 0.5) < rate * dtf {
                    self.crackle = 1.0;
                    self.crackle_gain = 0.3 + 0.7 * (self.noise() * 0.5 + 0.5);
                }
                self.crackle *= (-dtf / 0.004).exp();
                let high = white - self.previous_noise;
                sample += high * self.crackle * self.crackle_gain * 0.6 * rustle_gain.sqrt();
            }
            if calm_gain > 1e-4 {
                // Surf: soft noise swelling every ten seconds.
                self.surf += (white - self.surf) * surf_pole;
                let swell = 0.5 + 0.5 * (TAU * 0.1 * t).sin();
                sample += self.surf * 1.5 * swell * swell * calm_gain;
            }
            self.previous_noise = white;
            self.t += dt;
            *frame = Frame::from_mono(sample.tanh() * 0.5);
        }
    }
}

impl Sound for Ambience {
    fn process(&mut self, out: &mut [Frame], dt: f64, _info: &Info) {
        self.render(out, dt);
    }

    fn finished(&self) -> bool {
        // Plays until the manager goes with the app.
        false
    }
}

/// Starts an [`Ambience`] on a track.
struct AmbienceData(Ambience);

impl SoundData for AmbienceData {
    type Error = ();
    type Handle = ();

    fn into_sound(self) -> Result<(Box<dyn Sound>, ()), ()> {
        Ok((Box::new(self.0), ()))
    }
}

/// The audio output: a device, or kira's silent mock backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The system's default device; the mock backend when there is none.
    Device,
    /// The mock backend (headless and tests).
    Mock,
}

/// Plays the ambience and keeps it following the scene.
#[derive(Debug)]
pub struct AudioPlugin {
    /// Where the sound goes.
    pub output: Output,
}

/// The mix asked for this frame, and which backend plays it.
#[derive(Resource, Clone, Debug)]
pub struct AudioState {
    /// Shared with the audio thread.
    pub controls: Arc<Controls>,
    /// Whether a device plays it (false: the mock backend).
    pub device: bool,
}

/// The manager and its handles live on the main thread.
struct Playing {
    _manager: Manager,
    listener: kira::listener::ListenerHandle,
    stimulus: SpatialTrackHandle,
}

#[allow(clippy::large_enum_variant, reason = "one per app, held for its whole life")]
enum Manager {
    Device(AudioManager<DefaultBackend>),
    Mock(AudioManager<MockBackend>),
}

fn v(p: Vec3) -> mint::Vector3<f32> {
    mint::Vector3 { x: p.x, y: p.y, z: p.z }
}

impl Plugin for AudioPlugin {
    fn build(&self, app: &mut App) {
        let controls = Arc::new(Controls::default());
        let device = match self.output {
            Output::Device => match AudioManager::<DefaultBackend>::new(AudioManagerSettings::default()) {
                Ok(manager) => Some(Manager::Device(manager)),
                Err(e) => {
                    info!("audio: no output device ({e}); running on kira's mock backend, silent");
                    None
                }
            },
            Output::Mock => {
                info!("audio: headless; running on kira's mock backend, silent");
                None
            }
        };
        let is_device = device.is_some();
        let manager = device.or_else(|| {
            let settings = AudioManagerSettings {
                backend_settings: MockBackendSettings { sample_rate: 48_000 },
                ..AudioManagerSettings::default()
            };
            AudioManager::<MockBackend>::new(settings).ok().map(Manager::Mock)
        });
        app.insert_resource(AudioState { controls: controls.clone(), device: is_device });
        let Some(manager) = manager else {
            warn!("audio: could not start kira; the session runs without sound");
            return;
        };
        match start(manager, &controls) {
            Ok(playing) => {
                app.insert_non_send(playing);
            }
            Err(e) => warn!("audio: {e}; the session runs without sound"),
        }
        app.add_systems(Update, follow.in_set(HeadsetSystems::Observe));
    }
}

fn start(mut manager: Manager, controls: &Arc<Controls>) -> Result<Playing, String> {
    let surround = AmbienceData(Ambience::new(controls.clone(), Voices::Surround, 0x9E37_79B9_7F4A_7C15));
    let from_stimulus = AmbienceData(Ambience::new(controls.clone(), Voices::Stimulus, 0xD1B5_4A32_D192_ED03));
    let builder = SpatialTrackBuilder::new().distances((1.0, 40.0));
    let error = |e: &dyn std::fmt::Display| e.to_string();
    let (listener, mut stimulus) = match &mut manager {
        Manager::Device(m) => {
            m.play(surround).map_err(|e| error(&e))?;
            let listener =
                m.add_listener(v(Vec3::ZERO), mint::Quaternion::from([0.0, 0.0, 0.0, 1.0])).map_err(|e| error(&e))?;
            let track = m.add_spatial_sub_track(&listener, v(Vec3::NEG_Z), builder).map_err(|e| error(&e))?;
            (listener, track)
        }
        Manager::Mock(m) => {
            m.play(surround).map_err(|e| error(&e))?;
            let listener =
                m.add_listener(v(Vec3::ZERO), mint::Quaternion::from([0.0, 0.0, 0.0, 1.0])).map_err(|e| error(&e))?;
            let track = m.add_spatial_sub_track(&listener, v(Vec3::NEG_Z), builder).map_err(|e| error(&e))?;
            (listener, track)
        }
    };
    stimulus.play(from_stimulus).map_err(|e| error(&e))?;
    Ok(Playing { _manager: manager, listener, stimulus })
}

/// Every frame: the mix follows the scene, the listener the head, the
/// stimulus track the nearest stimulus.
fn follow(
    shown: Res<Shown>,
    drive: Res<Drive>,
    state: Res<AudioState>,
    playing: Option<NonSendMut<Playing>>,
    head: Query<&GlobalTransform, With<Head>>,
    stimuli: Query<(&GlobalTransform, &Visibility), With<Stimulus>>,
) {
    // The parameters the scene worked out this frame (it runs before Observe).
    state.controls.set(mix(&shown.params, drive.safe_blend));
    let (Some(mut playing), Ok(head)) = (playing, head.single()) else { return };
    let (_, rotation, position) = head.to_scale_rotation_translation();
    let nearest = stimuli
        .iter()
        .filter(|(_, visibility)| **visibility != Visibility::Hidden)
        .map(|(t, _)| t.translation())
        .min_by(|a, b| a.distance_squared(position).total_cmp(&b.distance_squared(position)));
    let now = Tween { duration: std::time::Duration::from_millis(20), ..Tween::default() };
    playing.listener.set_position(v(position), now);
    playing.listener.set_orientation(mint::Quaternion::from(rotation.to_array()), now);
    if let Some(at) = nearest {
        playing.stimulus.set_position(v(at), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scenario::ParamValue;

    fn rms(controls: Mix, voices: Voices) -> f32 {
        let shared = Arc::new(Controls::default());
        shared.set(controls);
        let mut synth = Ambience::new(shared, voices, 7);
        let mut out = vec![Frame::ZERO; 48_000];
        // One second to settle, one to measure.
        synth.render(&mut out, 1.0 / 48_000.0);
        synth.render(&mut out, 1.0 / 48_000.0);
        (out.iter().map(|f| f.left * f.left).sum::<f32>() / out.len() as f32).sqrt()
    }

    #[test]
    fn each_voice_sounds_and_grows_with_its_loudness() {
        let voices = [
            (Mix { wind: 1.0, ..Mix::default() }, Voices::Surround),
            (Mix { murmur: 1.0, ..Mix::default() }, Voices::Stimulus),
            (Mix { engine: 1.0, ..Mix::default() }, Voices::Surround),
            (Mix { rustle: 1.0, ..Mix::default() }, Voices::Stimulus),
            (Mix { calm: 1.0, ..Mix::default() }, Voices::Surround),
        ];
        for (loud, on) in voices {
            let quiet = Mix::from_array(loud.to_array().map(|v| v * 0.2));
            let (loud_rms, quiet_rms) = (rms(loud, on), rms(quiet, on));
            assert!(loud_rms > 0.01, "{loud:?} is silent: rms {loud_rms}");
            assert!(loud_rms > quiet_rms * 1.5, "{loud:?}: {loud_rms} vs {quiet_rms} at a fifth");
            assert!(rms(Mix::default(), on) < 1e-6);
        }
    }

    #[test]
    fn a_sound_plays_only_its_own_voices() {
        assert!(rms(Mix { wind: 1.0, ..Mix::default() }, Voices::Stimulus) < 1e-6);
        assert!(rms(Mix { rustle: 1.0, ..Mix::default() }, Voices::Surround) < 1e-6);
    }

    fn params(kind: EnvironmentKind, set: &[(&str, ParamValue)]) -> Params {
        set.iter().fold(Params::defaults(kind), |p, (name, value)| p.with(name, *value).unwrap())
    }

    use ParamValue::{Choice, Count, Number};

    #[test]
    fn the_mix_follows_the_stimulus() {
        let low = mix(&params(EnvironmentKind::Heights, &[("height_m", Number(3.0))]), 0.0);
        let high = mix(&params(EnvironmentKind::Heights, &[("height_m", Number(150.0))]), 0.0);
        assert!(high.wind > low.wind + 0.2, "{low:?} -> {high:?}");
        let few = mix(&params(EnvironmentKind::PublicSpeaking, &[("audience", Count(3))]), 0.0);
        let many = mix(&params(EnvironmentKind::PublicSpeaking, &[("audience", Count(150))]), 0.0);
        assert!(many.murmur > few.murmur * 3.0, "{few:?} -> {many:?}");
        let gate = mix(&params(EnvironmentKind::Flying, &[]), 0.0);
        let takeoff = mix(&params(EnvironmentKind::Flying, &[("phase", Choice("takeoff"))]), 0.0);
        assert!(takeoff.engine > gate.engine * 3.0, "{gate:?} -> {takeoff:?}");
        let still = mix(&params(EnvironmentKind::Spiders, &[("count", Count(1)), ("activity", Number(0.0))]), 0.0);
        let busy = mix(&params(EnvironmentKind::Spiders, &[("count", Count(20)), ("activity", Number(1.0))]), 0.0);
        assert!(busy.rustle > still.rustle * 5.0, "{still:?} -> {busy:?}");
    }

    #[test]
    fn the_safe_scene_replaces_the_stimulus_sound() {
        let p = params(EnvironmentKind::Heights, &[("height_m", Number(150.0)), ("wind", Number(1.0))]);
        let safe = mix(&p, 1.0);
        assert_eq!(safe.wind, 0.0);
        assert!(safe.calm >= 0.5);
        let half = mix(&p, 0.5);
        assert!(half.wind < mix(&p, 0.0).wind && half.wind > 0.0);
    }
}
