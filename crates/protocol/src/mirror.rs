//! The mirror: a low-rate JPEG copy of what the patient sees, for the
//! therapist (docs/protocol.md §10).
//!
//! Frames travel as binary WebSocket messages, beside the JSON messages and
//! never numbered or resent: each frame replaces the one before, so a slow
//! peer drops frames and never builds a queue. A headset says in `hello`
//! that it can send frames (`mirror: true`); it sends them only to a
//! console that asked for a rate in `welcome` or `mirror` (an older
//! console, which closes on binary messages, asks for none). The rate is the
//! therapist's: `mirror` from a browser, passed on to the headset.
//!
//! ```
//! use protocol::mirror::{Frame, FrameHeader};
//! let header = FrameHeader { t_us: 7, session_us: 3, width: 2, height: 1, number: 1, stimulus: Vec::new(), xr: false };
//! let jpeg = [0xFF, 0xD8, 0xFF, 0xD9];
//! let bytes = header.encode(&jpeg);
//! let frame = Frame::parse(&bytes).unwrap();
//! assert_eq!((frame.header, frame.jpeg), (header, &jpeg[..]));
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// The frame rates a therapist may choose, frames a second; 0 is off.
pub const RATES: [u8; 4] = [0, 2, 5, 10];

/// The rate a session starts with.
pub const DEFAULT_RATE: u8 = 5;

/// Largest mirror message, header included, bytes. A frame of 480x270 at
/// the headset's quality is 10 to 30 kB.
pub const MAX_FRAME_BYTES: usize = 192 * 1024;

/// Largest width or height of a frame, pixels.
pub const MAX_SIDE: u16 = 1024;

/// The first four bytes of a frame from a headset.
pub const FRAME_MAGIC: [u8; 4] = *b"TVMF";

/// The first four bytes of a frame the console forwards to a browser.
pub const BROWSER_MAGIC: [u8; 4] = *b"TVMB";

/// Bytes of a version 1 frame header before its stimulus boxes (8 bytes
/// each); readers take the JPEG from the header's own `header_len`, so
/// later versions can add fields.
pub const HEADER_LEN: usize = 36;

/// Most stimulus boxes a frame carries.
pub const MAX_BOXES: usize = 16;

/// `mirror`, console → headset: send frames at this rate from now on.
/// Browser → console: the therapist's choice for a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorRate {
    /// The session (browser → console only; absent towards the headset).
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "crate::null_as_default")]
    pub session_id: String,
    /// Frames a second: one of [`RATES`]; 0 stops the frames.
    pub fps: u8,
}

/// A rectangle of a frame, pixels from the top left, `x0 < x1`, `y0 < y1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x0: u16,
    /// Top edge.
    pub y0: u16,
    /// Right edge (exclusive).
    pub x1: u16,
    /// Bottom edge (exclusive).
    pub y1: u16,
}

/// What a frame says of itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Headset clock when the picture was rendered, µs (the clock of `Sample::t_us`).
    pub t_us: u64,
    /// Session time of the picture, µs.
    pub session_us: u64,
    /// Width of the JPEG, pixels.
    pub width: u16,
    /// Height of the JPEG, pixels.
    pub height: u16,
    /// Frames this headset sent in the session, from 1.
    pub number: u32,
    /// Where the feared stimulus lies in the picture: a bounding box per
    /// feared thing in view (a spider, the drop, a listener), at most
    /// [`MAX_BOXES`]; empty when none is in view.
    pub stimulus: Vec<Rect>,
    /// The left eye of a headset (else a window's view).
    pub xr: bool,
}

/// A frame as received: its header and the JPEG bytes it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The header.
    pub header: FrameHeader,
    /// The JPEG file, from its SOI marker to its EOI marker.
    pub jpeg: &'a [u8],
}

/// Why bytes are not a mirror frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Larger than [`MAX_FRAME_BYTES`]: the connection closes with 1009.
    TooBig(usize),
    /// Anything else: named.
    Malformed(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooBig(n) => write!(f, "a mirror frame of {n} bytes; the limit is {MAX_FRAME_BYTES}"),
            FrameError::Malformed(why) => write!(f, "not a mirror frame: {why}"),
        }
    }
}

impl std::error::Error for FrameError {}

const FLAG_XR: u8 = 1;

impl FrameHeader {
    /// The binary message: this header, then `jpeg` (boxes past
    /// [`MAX_BOXES`] are left out).
    pub fn encode(&self, jpeg: &[u8]) -> Vec<u8> {
        let boxes = &self.stimulus[..self.stimulus.len().min(MAX_BOXES)];
        let header_len = HEADER_LEN + 8 * boxes.len();
        let mut out = Vec::with_capacity(header_len + jpeg.len());
        out.extend_from_slice(&FRAME_MAGIC);
        out.push(1);
        out.push(if self.xr { FLAG_XR } else { 0 });
        out.extend_from_slice(&(header_len as u16).to_le_bytes());
        out.extend_from_slice(&self.t_us.to_le_bytes());
        out.extend_from_slice(&self.session_us.to_le_bytes());
        out.extend_from_slice(&self.width.to_le_bytes());
        out.extend_from_slice(&self.height.to_le_bytes());
        out.extend_from_slice(&self.number.to_le_bytes());
        out.extend_from_slice(&[boxes.len() as u8, 0, 0, 0]);
        for r in boxes {
            for v in [r.x0, r.y0, r.x1, r.y1] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out.extend_from_slice(jpeg);
        out
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

impl<'a> Frame<'a> {
    /// Reads and checks a frame: magic, version, sizes, the stimulus box
    /// inside the picture, times in range, and JPEG start and end markers.
    pub fn parse(bytes: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        let bad = |why: String| Err(FrameError::Malformed(why));
        if bytes.len() > MAX_FRAME_BYTES {
            return Err(FrameError::TooBig(bytes.len()));
        }
        if bytes.len() < HEADER_LEN {
            return bad(format!("{} bytes, shorter than the {HEADER_LEN}-byte header", bytes.len()));
        }
        if bytes[0..4] != FRAME_MAGIC {
            return bad(format!("bytes 0-3 are {:02X?}, expected \"TVMF\"", &bytes[0..4]));
        }
        if bytes[4] != 1 {
            return bad(format!("version {} at byte 4; this console reads version 1", bytes[4]));
        }
        let flags = bytes[5];
        let header_len = usize::from(u16_at(bytes, 6));
        if header_len < HEADER_LEN || header_len > bytes.len() {
            return bad(format!("header_len {header_len} at byte 6: must be {HEADER_LEN} to the message's length"));
        }
        let t_us = u64_at(bytes, 8);
        let session_us = u64_at(bytes, 16);
        for (name, v) in [("t_us", t_us), ("session_us", session_us)] {
            if !crate::limits::TIME_US.contains(&v) {
                return bad(format!("{name}: {v} is outside 0 to {}", crate::limits::MAX_SAFE_INTEGER));
            }
        }
        let (width, height) = (u16_at(bytes, 24), u16_at(bytes, 26));
        if !(1..=MAX_SIDE).contains(&width) || !(1..=MAX_SIDE).contains(&height) {
            return bad(format!("{width}x{height} pixels: each side must be 1 to {MAX_SIDE}"));
        }
        let number = u32::from_le_bytes([bytes[28], bytes[29], bytes[30], bytes[31]]);
        let boxes = usize::from(bytes[32]);
        if boxes > MAX_BOXES || HEADER_LEN + 8 * boxes > header_len {
            return bad(format!(
                "{boxes} stimulus boxes at byte 32: at most {MAX_BOXES}, within header_len {header_len}"
            ));
        }
        let mut stimulus = Vec::with_capacity(boxes);
        for i in 0..boxes {
            let at = HEADER_LEN + 8 * i;
            let r = Rect {
                x0: u16_at(bytes, at),
                y0: u16_at(bytes, at + 2),
                x1: u16_at(bytes, at + 4),
                y1: u16_at(bytes, at + 6),
            };
            if r.x0 >= r.x1 || r.y0 >= r.y1 || r.x1 > width || r.y1 > height {
                return bad(format!(
                    "stimulus box {i}, ({}, {})-({}, {}), is not inside the {width}x{height} picture",
                    r.x0, r.y0, r.x1, r.y1
                ));
            }
            stimulus.push(r);
        }
        let jpeg = &bytes[header_len..];
        if jpeg.len() < 4 || jpeg[..2] != [0xFF, 0xD8] || jpeg[jpeg.len() - 2..] != [0xFF, 0xD9] {
            return bad("the picture is not a JPEG file (FF D8 … FF D9)".into());
        }
        let header = FrameHeader { t_us, session_us, width, height, number, stimulus, xr: flags & FLAG_XR != 0 };
        Ok(Frame { header, jpeg })
    }
}

/// The message the console sends a browser for a frame of `session_id`:
/// `"TVMB"`, the id's length (u16, little-endian), the id, then the
/// headset's frame as it came.
pub fn for_browser(session_id: &str, frame: &[u8]) -> Vec<u8> {
    let id = session_id.as_bytes();
    let mut out = Vec::with_capacity(6 + id.len() + frame.len());
    out.extend_from_slice(&BROWSER_MAGIC);
    out.extend_from_slice(&(id.len().min(usize::from(u16::MAX)) as u16).to_le_bytes());
    out.extend_from_slice(&id[..id.len().min(usize::from(u16::MAX))]);
    out.extend_from_slice(frame);
    out
}

/// Reads a browser's frame message back: the session id and the frame.
pub fn from_browser(bytes: &[u8]) -> Option<(&str, &[u8])> {
    if bytes.len() < 6 || bytes[..4] != BROWSER_MAGIC {
        return None;
    }
    let n = usize::from(u16_at(bytes, 4));
    let id = std::str::from_utf8(bytes.get(6..6 + n)?).ok()?;
    Some((id, &bytes[6 + n..]))
}

/// Whether `fps` is a rate a therapist may choose.
pub fn valid_rate(fps: u8) -> bool {
    RATES.contains(&fps)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JPEG: [u8; 6] = [0xFF, 0xD8, 1, 2, 0xFF, 0xD9];

    fn header() -> FrameHeader {
        FrameHeader {
            t_us: 5_000_000,
            session_us: 1_250_000,
            width: 480,
            height: 270,
            number: 12,
            stimulus: vec![Rect { x0: 100, y0: 50, x1: 200, y1: 120 }, Rect { x0: 0, y0: 0, x1: 480, y1: 270 }],
            xr: true,
        }
    }

    fn error(bytes: &[u8]) -> String {
        Frame::parse(bytes).unwrap_err().to_string()
    }

    #[test]
    fn a_frame_round_trips_and_its_layout_is_the_documented_one() {
        let bytes = header().encode(&JPEG);
        assert_eq!(bytes.len(), HEADER_LEN + 16 + JPEG.len());
        // docs/protocol.md §10.2, byte by byte.
        assert_eq!(&bytes[0..4], b"TVMF");
        assert_eq!(bytes[4], 1, "version");
        assert_eq!(bytes[5], 1, "flags: xr");
        assert_eq!(u16_at(&bytes, 6), 52, "header_len");
        assert_eq!(u64_at(&bytes, 8), 5_000_000);
        assert_eq!(u64_at(&bytes, 16), 1_250_000);
        assert_eq!((u16_at(&bytes, 24), u16_at(&bytes, 26)), (480, 270));
        assert_eq!(&bytes[28..32], &12u32.to_le_bytes());
        assert_eq!(&bytes[32..36], &[2, 0, 0, 0], "two boxes");
        assert_eq!(
            [u16_at(&bytes, 36), u16_at(&bytes, 38), u16_at(&bytes, 40), u16_at(&bytes, 42)],
            [100, 50, 200, 120]
        );
        assert_eq!(&bytes[52..], &JPEG);
        let frame = Frame::parse(&bytes).unwrap();
        assert_eq!(frame.header, header());
        assert_eq!(frame.jpeg, JPEG);
        let plain = FrameHeader { stimulus: Vec::new(), xr: false, ..header() };
        assert_eq!(Frame::parse(&plain.encode(&JPEG)).unwrap().header, plain);
        let many = FrameHeader { stimulus: vec![Rect { x0: 1, y0: 1, x1: 2, y1: 2 }; 40], ..header() };
        assert_eq!(Frame::parse(&many.encode(&JPEG)).unwrap().header.stimulus.len(), MAX_BOXES);
    }

    #[test]
    fn a_longer_header_of_a_later_version_is_skipped() {
        let plain = FrameHeader { stimulus: Vec::new(), ..header() };
        let mut bytes = plain.encode(&[]);
        bytes[6..8].copy_from_slice(&40u16.to_le_bytes());
        bytes.extend_from_slice(&[9, 9, 9, 9]);
        bytes.extend_from_slice(&JPEG);
        assert_eq!(Frame::parse(&bytes).unwrap().jpeg, JPEG);
    }

    #[test]
    fn bad_frames_are_named() {
        let good = header().encode(&JPEG);
        assert_eq!(error(&good[..10]), "not a mirror frame: 10 bytes, shorter than the 36-byte header");
        let mut b = good.clone();
        b[0] = b'X';
        assert!(error(&b).contains("bytes 0-3 are"), "{}", error(&b));
        let mut b = good.clone();
        b[4] = 2;
        assert_eq!(error(&b), "not a mirror frame: version 2 at byte 4; this console reads version 1");
        let mut b = good.clone();
        b[6..8].copy_from_slice(&9000u16.to_le_bytes());
        assert!(error(&b).contains("header_len 9000"), "{}", error(&b));
        let mut b = good.clone();
        b[32] = 9;
        assert_eq!(error(&b), "not a mirror frame: 9 stimulus boxes at byte 32: at most 16, within header_len 52");
        let b = FrameHeader { width: 0, ..header() }.encode(&JPEG);
        assert_eq!(error(&b), "not a mirror frame: 0x270 pixels: each side must be 1 to 1024");
        let b = FrameHeader { height: 2000, ..header() }.encode(&JPEG);
        assert!(error(&b).contains("480x2000"));
        let b = FrameHeader { stimulus: vec![Rect { x0: 10, y0: 10, x1: 481, y1: 20 }], ..header() }.encode(&JPEG);
        assert_eq!(
            error(&b),
            "not a mirror frame: stimulus box 0, (10, 10)-(481, 20), is not inside the 480x270 picture"
        );
        let b = FrameHeader { t_us: u64::MAX, ..header() }.encode(&JPEG);
        assert!(error(&b).starts_with("not a mirror frame: t_us: 18446744073709551615 is outside"), "{}", error(&b));
        let b = header().encode(b"GIF89a");
        assert_eq!(error(&b), "not a mirror frame: the picture is not a JPEG file (FF D8 … FF D9)");
        let big = header().encode(&vec![0; MAX_FRAME_BYTES]);
        assert_eq!(Frame::parse(&big), Err(FrameError::TooBig(MAX_FRAME_BYTES + HEADER_LEN + 16)));
    }

    #[test]
    fn rate_messages_snapshot_and_round_trip() {
        use expect_test::expect;

        use crate::testing::check;
        use crate::{BrowserToConsole, ConsoleToHeadset};
        check(
            &BrowserToConsole::Mirror(MirrorRate { session_id: "20261207T101500Z-5f3a".into(), fps: 10 }),
            expect![[r#"
                {
                  "type": "mirror",
                  "session_id": "20261207T101500Z-5f3a",
                  "fps": 10
                }"#]],
        );
        check(
            &ConsoleToHeadset::Mirror(MirrorRate { session_id: String::new(), fps: 2 }),
            expect![[r#"
            {
              "type": "mirror",
              "fps": 2
            }"#]],
        );
        let e = crate::decode::<BrowserToConsole>(r#"{"type":"mirror","session_id":"s","fps":7}"#).unwrap_err();
        assert_eq!(e.message, "fps: 7 is not one of [0, 2, 5, 10] frames a second");
        let e = crate::decode::<ConsoleToHeadset>(
            r#"{"type":"welcome","session_id":"s","acked":0,"console":"c","mirror_fps":3}"#,
        )
        .unwrap_err();
        assert_eq!(e.message, "mirror_fps: 3 is not one of [0, 2, 5, 10] frames a second");
    }

    #[test]
    fn the_browser_wrapping_names_the_session() {
        let frame = header().encode(&JPEG);
        let wrapped = for_browser("20261207T101500Z-5f3a", &frame);
        assert_eq!(&wrapped[..4], b"TVMB");
        assert_eq!(from_browser(&wrapped), Some(("20261207T101500Z-5f3a", &frame[..])));
        assert_eq!(from_browser(&frame), None);
    }
}
