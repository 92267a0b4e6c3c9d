//! The mirror: a low-resolution JPEG copy of what the patient sees, at the
//! rate the therapist chose, for the console's page (docs/protocol.md §10).
//!
//! No frame waits for it. At the rate's ticks the app asks the renderer
//! for a copy of the patient's view (the window; the left eye in a
//! headset) with Bevy's screenshot, which reads the picture back
//! asynchronously; the pixels go to a worker thread that shrinks them to
//! [`WIDTH`] pixels wide, encodes a JPEG and hands it to the link, which
//! sends only the newest. At most [`IN_FLIGHT`] copies are on their way at
//! a time (a read-back takes a frame or two): a slow read-back or encoder
//! skips ticks rather than queueing them.
//!
//! With each picture go the boxes around the feared things in view
//! ([`crate::scene::Feared`]), so the page can outline the stimulus.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc;

use bevy::camera::RenderTarget;
use bevy::camera::primitives::Aabb;
use bevy::camera::visibility::ViewVisibility;
use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use protocol::mirror::{FrameHeader, Rect};

use crate::engine::Engine;
use crate::scene::Feared;
use crate::telemetry::HeadsetClock;

/// Width of a mirror picture, pixels (its height keeps the view's shape).
pub const WIDTH: u32 = 480;

/// JPEG quality: enough to tell a spider from a shadow at 480 pixels.
pub const QUALITY: u8 = 70;

/// Copies asked of the renderer and not yet with the encoder, at most: a
/// read-back arrives a frame or two after its frame, so at a low frame
/// rate (a software renderer) one at a time would halve the rate.
pub const IN_FLIGHT: u32 = 2;

/// Sends the patient's view to the console at the rate it asks for.
#[derive(Debug)]
pub struct MirrorPlugin {
    /// The left eye of a headset (else the window).
    pub xr: bool,
}

/// The camera whose picture the mirror copies: the window's, or the left
/// eye's in a headset.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct MirrorView;

/// A rate that holds whatever the console says: `--measure` with
/// `--mirror FPS` times the whole capture and encoding without a console
/// (the frames go nowhere).
#[derive(Resource, Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedRate(pub u8);

/// Counters, for `--measure` and tests.
#[derive(Debug, Default)]
pub struct MirrorStats {
    /// Copies asked of the renderer.
    pub captured: AtomicU64,
    /// Pictures encoded and handed on.
    pub encoded: AtomicU64,
    /// Bytes of those JPEG files.
    pub jpeg_bytes: AtomicU64,
    /// Copies that arrived while the encoder was busy (dropped).
    pub skipped: AtomicU64,
}

/// The mirror's state in the app.
#[derive(Resource, Debug)]
pub struct Mirror {
    jobs: mpsc::SyncSender<Job>,
    /// Copies asked for that have not reached the encoder yet.
    in_flight: Arc<AtomicU32>,
    /// When the next copy is due, real time in seconds.
    due_s: Option<f64>,
    /// Since when [`IN_FLIGHT`] copies have been on their way.
    full_since: Option<f64>,
    number: u32,
    xr: bool,
    /// Counters.
    pub stats: Arc<MirrorStats>,
}

/// A copy on its way to the encoder.
struct Job {
    image: Image,
    header: FrameHeader,
    /// Stimulus boxes in fractions of the view (0 to 1).
    boxes: Vec<[f32; 4]>,
    /// Where the frame goes.
    sink: Sink,
}

/// Where encoded frames go.
#[derive(Clone, Debug)]
enum Sink {
    Link(link::MirrorSender),
    Nowhere,
}

impl Plugin for MirrorPlugin {
    fn build(&self, app: &mut App) {
        let stats = Arc::new(MirrorStats::default());
        // Two jobs wait at most; the app drops a copy rather than queue it.
        let (jobs, receive) = mpsc::sync_channel::<Job>(2);
        let worker_stats = stats.clone();
        let spawned = std::thread::Builder::new()
            .name("trinvis-mirror".into())
            .spawn(move || encode_loop(&receive, &worker_stats));
        if let Err(e) = spawned {
            warn!("mirror: no encoder thread ({e}); the console gets no pictures");
        }
        app.insert_resource(Mirror {
            jobs,
            in_flight: Arc::default(),
            due_s: None,
            full_since: None,
            number: 0,
            xr: self.xr,
            stats,
        })
        .add_systems(Last, capture);
    }
}

/// The rate now: fixed, or the console's (0 without a link).
fn rate(fixed: Option<&FixedRate>, console: Option<&crate::console::ConsoleLink>) -> u8 {
    match (fixed, console) {
        (Some(FixedRate(fps)), _) => *fps,
        (None, Some(console)) => console.link.mirror_fps(),
        (None, None) => 0,
    }
}

/// At the rate's ticks, asks the renderer for a copy of the patient's view.
#[allow(clippy::too_many_arguments, reason = "Bevy injects system parameters")]
fn capture(
    mut mirror: ResMut<Mirror>,
    fixed: Option<Res<FixedRate>>,
    console: Option<Res<crate::console::ConsoleLink>>,
    time: Res<Time<Real>>,
    clock: Option<Res<HeadsetClock>>,
    engine: Res<Engine>,
    cameras: Query<(&Camera, &GlobalTransform, Option<&RenderTarget>), With<MirrorView>>,
    feared: Query<Entity, With<Feared>>,
    children: Query<&Children>,
    parts: Query<(&Aabb, &GlobalTransform, &ViewVisibility)>,
    mut commands: Commands,
) {
    let fps = rate(fixed.as_deref(), console.as_deref());
    if fps == 0 {
        mirror.due_s = None;
        return;
    }
    let (now, interval) = (time.elapsed_secs_f64(), 1.0 / f64::from(fps));
    if mirror.in_flight.load(Ordering::Acquire) >= IN_FLIGHT {
        // A copy the renderer never delivers (a window being closed) must
        // not stop the mirror for good.
        let since = *mirror.full_since.get_or_insert(now);
        if now - since > 2.0 {
            warn_once!("mirror: the renderer delivered no copy of the view for 2 s; asking again");
            mirror.in_flight.store(0, Ordering::Release);
            mirror.full_since = None;
        }
        return;
    }
    mirror.full_since = None;
    if mirror.due_s.is_some_and(|due| now < due) {
        return;
    }
    // Ticks keep their own pace whatever the frame rate (at 7 frames a
    // second, 5 a second is every other frame, then the next); a tick
    // missed by more than an interval is let go, not made up.
    mirror.due_s = Some(match mirror.due_s {
        Some(due) if now - due < interval => due + interval,
        _ => now + interval,
    });
    let Some((camera, camera_at, target)) = cameras.iter().next() else { return };
    let Some(size) = camera.logical_viewport_size().filter(|s| s.x >= 1.0 && s.y >= 1.0) else { return };
    let sink = match (&fixed, &console) {
        (None, Some(console)) => Sink::Link(console.link.mirror()),
        _ => Sink::Nowhere,
    };
    mirror.number += 1;
    let session_us = u64::try_from(engine.now.as_micros()).unwrap_or(u64::MAX);
    let header = FrameHeader {
        t_us: clock.map_or(session_us, |c| c.epoch_us.saturating_add(session_us)),
        session_us,
        width: 0,
        height: 0,
        number: mirror.number,
        stimulus: Vec::new(),
        xr: mirror.xr,
    };
    let boxes = stimulus_boxes(camera, camera_at, size, &feared, &children, &parts);
    mirror.in_flight.fetch_add(1, Ordering::AcqRel);
    mirror.stats.captured.fetch_add(1, Ordering::Relaxed);
    let screenshot = match target {
        Some(target) => Screenshot(target.clone()),
        None => Screenshot::primary_window(),
    };
    let (jobs, in_flight, stats) = (mirror.jobs.clone(), mirror.in_flight.clone(), mirror.stats.clone());
    let mut job = Some((header, boxes, sink));
    commands.spawn(screenshot).observe(move |event: On<ScreenshotCaptured>| {
        in_flight.fetch_sub(1, Ordering::AcqRel);
        let Some((header, boxes, sink)) = job.take() else { return };
        let job = Job { image: event.image.clone(), header, boxes, sink };
        if jobs.try_send(job).is_err() {
            stats.skipped.fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// The boxes around each feared thing in view, as fractions of the view:
/// the corners of its parts' bounds projected onto the screen.
fn stimulus_boxes(
    camera: &Camera,
    camera_at: &GlobalTransform,
    size: Vec2,
    feared: &Query<Entity, With<Feared>>,
    children: &Query<&Children>,
    parts: &Query<(&Aabb, &GlobalTransform, &ViewVisibility)>,
) -> Vec<[f32; 4]> {
    let mut boxes = Vec::new();
    for root in feared {
        let mut lo = Vec2::splat(f32::INFINITY);
        let mut hi = Vec2::splat(f32::NEG_INFINITY);
        for entity in std::iter::once(root).chain(children.iter_descendants(root)) {
            let Ok((aabb, at, visible)) = parts.get(entity) else { continue };
            if !visible.get() {
                continue;
            }
            let (c, e) = (Vec3::from(aabb.center), Vec3::from(aabb.half_extents));
            for corner in 0..8 {
                let sign = Vec3::new(
                    if corner & 1 == 0 { -1.0 } else { 1.0 },
                    if corner & 2 == 0 { -1.0 } else { 1.0 },
                    if corner & 4 == 0 { -1.0 } else { 1.0 },
                );
                let world = at.transform_point(c + e * sign);
                // Corners behind the eye do not project; the others bound what shows.
                if let Ok(p) = camera.world_to_viewport(camera_at, world) {
                    lo = lo.min(p);
                    hi = hi.max(p);
                }
            }
        }
        let (lo, hi) = ((lo / size).clamp(Vec2::ZERO, Vec2::ONE), (hi / size).clamp(Vec2::ZERO, Vec2::ONE));
        if hi.x - lo.x > 0.005 && hi.y - lo.y > 0.005 {
            boxes.push([lo.x, lo.y, hi.x, hi.y]);
        }
    }
    boxes
}

/// The encoder thread: shrink, encode, hand on; until the app is gone.
fn encode_loop(jobs: &mpsc::Receiver<Job>, stats: &MirrorStats) {
    while let Ok(job) = jobs.recv() {
        let sink = job.sink.clone();
        let Some((frame, jpeg_len)) = encode(job) else { continue };
        stats.encoded.fetch_add(1, Ordering::Relaxed);
        stats.jpeg_bytes.fetch_add(jpeg_len as u64, Ordering::Relaxed);
        if let Sink::Link(link) = sink {
            link.send(frame);
        }
    }
}

/// The frame message for a copy of the view, and its JPEG's length.
fn encode(job: Job) -> Option<(Vec<u8>, usize)> {
    use bevy::render::render_resource::TextureFormat;
    let Job { image, mut header, boxes, .. } = job;
    let (w, h) = (image.width(), image.height());
    let bgra = match image.texture_descriptor.format {
        TextureFormat::Bgra8Unorm | TextureFormat::Bgra8UnormSrgb => true,
        TextureFormat::Rgba8Unorm | TextureFormat::Rgba8UnormSrgb => false,
        other => {
            warn_once!("mirror: the view's pixels are {other:?}, which the mirror does not encode");
            return None;
        }
    };
    let data = image.data.as_deref()?;
    let (small, sw, sh) = shrink(data, w, h, WIDTH);
    let mut jpeg = Vec::with_capacity(32 * 1024);
    let color = if bgra { jpeg_encoder::ColorType::Bgra } else { jpeg_encoder::ColorType::Rgba };
    let (width, height) = (u16::try_from(sw).ok()?, u16::try_from(sh).ok()?);
    jpeg_encoder::Encoder::new(&mut jpeg, QUALITY).encode(&small, width, height, color).ok()?;
    header.width = width;
    header.height = height;
    header.stimulus = boxes
        .iter()
        .filter_map(|b| {
            let px = |v: f32, side: u16| (v * f32::from(side)).round().clamp(0.0, f32::from(side)) as u16;
            let r = Rect { x0: px(b[0], width), y0: px(b[1], height), x1: px(b[2], width), y1: px(b[3], height) };
            (r.x0 < r.x1 && r.y0 < r.y1).then_some(r)
        })
        .take(protocol::mirror::MAX_BOXES)
        .collect();
    let len = jpeg.len();
    let frame = header.encode(&jpeg);
    (frame.len() <= protocol::mirror::MAX_FRAME_BYTES).then_some((frame, len))
}

/// Shrinks 4-byte pixels to `width` wide (never wider than they are),
/// each output pixel the mean of the source pixels under it.
pub fn shrink(data: &[u8], w: u32, h: u32, width: u32) -> (Vec<u8>, u32, u32) {
    let (w, h) = (w as usize, h as usize);
    if w == 0 || h == 0 || data.len() < w * h * 4 {
        return (Vec::new(), 0, 0);
    }
    let ow = (width as usize).min(w).max(1);
    let oh = ((h * ow + w / 2) / w).max(1);
    let mut out = vec![0u8; ow * oh * 4];
    let span = |o: usize, of: usize, from: usize| {
        let a = o * from / of;
        (a, ((o + 1) * from / of).max(a + 1))
    };
    for oy in 0..oh {
        let (y0, y1) = span(oy, oh, h);
        for ox in 0..ow {
            let (x0, x1) = span(ox, ow, w);
            let mut sum = [0u32; 4];
            for y in y0..y1 {
                let row = &data[(y * w + x0) * 4..(y * w + x1) * 4];
                for px in row.chunks_exact(4) {
                    for (s, v) in sum.iter_mut().zip(px) {
                        *s += u32::from(*v);
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as u32;
            let at = (oy * ow + ox) * 4;
            for (c, s) in sum.iter().enumerate() {
                out[at + c] = ((s + n / 2) / n) as u8;
            }
        }
    }
    (out, ow as u32, oh as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinking_averages_and_keeps_the_shape() {
        // 4x2 pixels: left half black, right half white.
        let mut data = Vec::new();
        for _ in 0..2 {
            for x in 0..4 {
                let v = if x < 2 { 0 } else { 255 };
                data.extend_from_slice(&[v, v, v, 255]);
            }
        }
        let (out, w, h) = shrink(&data, 4, 2, 2);
        assert_eq!((w, h), (2, 1));
        assert_eq!(out, [0, 0, 0, 255, 255, 255, 255, 255]);
        let (same, w, h) = shrink(&data, 4, 2, 480);
        assert_eq!((w, h, same), (4, 2, data.clone()), "never wider than the source");
        let (out, w, h) = shrink(&data, 4, 2, 1);
        assert_eq!((w, h), (1, 1));
        assert_eq!(&out[..3], [128, 128, 128]);
        assert_eq!(shrink(&data[..10], 4, 2, 2).1, 0, "too few bytes: nothing");
    }
}
