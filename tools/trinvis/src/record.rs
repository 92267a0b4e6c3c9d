//! `trinvis sim --record FILE`: an offline simulation written as the
//! recording a console would have made of it: the same channels, the same
//! JSON (protocol types, serialised the way the console does), times on
//! one clock (console time = start + session time, clock offset 0), a
//! chunk closed every second of session time.

use std::path::Path;

use anyhow::Context;
use protocol::ScenarioRef;
use recording::{Channel, Metadata, Writer};
use sim::{Simulation, Summary};

/// What the recording says it is.
pub struct Identity {
    pub session_id: String,
    pub patient_code: String,
    pub scenario: ScenarioRef,
    /// The scenario's steps, as a headset lists them in its `hello`.
    pub steps: Vec<protocol::StepInfo>,
    pub started_unix_us: u64,
}

/// Runs the simulation to its end, writing every frame and event to `path`
/// (which must not exist).
pub fn record(simulation: &mut Simulation, rate_hz: f64, path: &Path, identity: Identity) -> anyhow::Result<Summary> {
    let metadata = Metadata {
        session_id: identity.session_id,
        patient_code: identity.patient_code,
        headset_id: "sim".into(),
        headset_app: concat!("trinvis-sim ", env!("CARGO_PKG_VERSION")).into(),
        console_app: concat!("trinvis sim --record ", env!("CARGO_PKG_VERSION")).into(),
        scenario_id: identity.scenario.id,
        scenario_version: identity.scenario.version,
        scenario_sha256: identity.scenario.sha256,
        started: console::rfc3339(identity.started_unix_us),
        started_unix_us: identity.started_unix_us,
        clock_offset_us: 0,
        scenario_steps: if identity.steps.is_empty() { String::new() } else { protocol::encode(&identity.steps) },
        mirror: "off: a simulation has no picture".into(),
    };
    let mut writer = Writer::create(path, &metadata).with_context(|| format!("creating {}", path.display()))?;
    let epoch = identity.started_unix_us;
    let frame_ms = (1000.0 / rate_hz) as f32;
    let mut events_written = 0;
    let mut flushed_s = 0;
    let mut last = None;
    while !simulation.finished() {
        let out = simulation.step();
        let sample = crate::sim_live::sample(&out, simulation.session(), 0, frame_ms);
        let sample = protocol::Sample { t_us: epoch + sample.session_us, ..sample };
        writer.write(Channel::Telemetry, sample.t_us, &serde_json::to_vec(&sample)?)?;
        events_written = write_events(&mut writer, simulation, epoch, events_written)?;
        let second = sample.session_us / 1_000_000;
        if second > flushed_s {
            writer.flush()?;
            flushed_s = second;
        }
        last = Some(out);
    }
    let summary = simulation.finish();
    // One last frame, as a headset sends after the end, then the final events.
    if let Some(out) = &last {
        let sample = crate::sim_live::sample(out, simulation.session(), 0, frame_ms);
        let sample = protocol::Sample { t_us: epoch + sample.session_us, ..sample };
        writer.write(Channel::Telemetry, sample.t_us, &serde_json::to_vec(&sample)?)?;
    }
    write_events(&mut writer, simulation, epoch, events_written)?;
    writer.finish().with_context(|| format!("closing {}", path.display()))?;
    Ok(summary)
}

fn write_events(
    writer: &mut Writer<std::io::BufWriter<std::fs::File>>,
    simulation: &Simulation,
    epoch: u64,
    written: usize,
) -> anyhow::Result<usize> {
    let events = simulation.session().events();
    for event in &events[written..] {
        let wire = link::event_to_wire(event);
        writer.write(Channel::Events, epoch + wire.at_us, &serde_json::to_vec(&wire)?)?;
    }
    Ok(events.len())
}
