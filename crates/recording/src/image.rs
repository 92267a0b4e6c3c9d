//! The mirror channel's messages: `foxglove.CompressedImage` in JSON, the
//! JPEG as base64 (JSON has no bytes). Written by the console, read by
//! replay, reports and exports; Foxglove and Python's `mcap` read them as
//! they are.
//!
//! ```
//! let jpeg = [0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9];
//! let json = recording::image::compressed_image(1_795_688_100_250_000, 12_000_000, &jpeg, &[[1, 2, 3, 4]]);
//! let back = recording::image::read(&json).unwrap();
//! assert_eq!((back.session_us, back.jpeg, back.stimulus), (Some(12_000_000), jpeg.to_vec(), vec![[1, 2, 3, 4]]));
//! ```

use serde::Deserialize;

/// The `frame_id` of every mirror picture.
pub const FRAME_ID: &str = "patient_view";

/// The JSON message for a JPEG taken at `unix_us` (console clock) and
/// session time `session_us`, with the boxes (`x0, y0, x1, y1`, pixels)
/// around the feared stimulus in it.
pub fn compressed_image(unix_us: u64, session_us: u64, jpeg: &[u8], stimulus: &[[u16; 4]]) -> Vec<u8> {
    let (sec, nsec) = (unix_us / 1_000_000, (unix_us % 1_000_000) * 1000);
    let boxes = serde_json::to_string(stimulus).unwrap_or_else(|_| "[]".into());
    let mut out = Vec::with_capacity(jpeg.len() * 4 / 3 + 200);
    out.extend_from_slice(
        format!(
            r#"{{"timestamp":{{"sec":{sec},"nsec":{nsec}}},"frame_id":"{FRAME_ID}","format":"jpeg","session_us":{session_us},"stimulus":{boxes},"data":""#
        )
        .as_bytes(),
    );
    encode_base64(jpeg, &mut out);
    out.extend_from_slice(b"\"}");
    out
}

/// A mirror picture read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    /// Session time, µs, when the message has it.
    pub session_us: Option<u64>,
    /// The image file.
    pub jpeg: Vec<u8>,
    /// Its format (`jpeg`).
    pub format: String,
    /// Boxes around the feared stimulus, `x0, y0, x1, y1` in pixels.
    pub stimulus: Vec<[u16; 4]>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    session_us: Option<u64>,
    data: String,
    format: String,
    #[serde(default)]
    stimulus: Vec<[u16; 4]>,
}

/// Reads a mirror message; `None` when it is not one (or its data is not base64).
pub fn read(json: &[u8]) -> Option<Picture> {
    let raw: Raw = serde_json::from_slice(json).ok()?;
    Some(Picture {
        session_us: raw.session_us,
        jpeg: decode_base64(&raw.data)?,
        format: raw.format,
        stimulus: raw.stimulus,
    })
}

/// A JPEG file's width and height, from its frame header (SOF marker).
pub fn jpeg_size(jpeg: &[u8]) -> Option<(u16, u16)> {
    let mut at = 2;
    while at + 9 < jpeg.len() {
        if jpeg[at] != 0xFF {
            return None;
        }
        let marker = jpeg[at + 1];
        let length = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        // SOF0 to SOF15, less DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&marker) && ![0xC4, 0xC8, 0xCC].contains(&marker) {
            let height = u16::from_be_bytes([jpeg[at + 5], jpeg[at + 6]]);
            let width = u16::from_be_bytes([jpeg[at + 7], jpeg[at + 8]]);
            return Some((width, height));
        }
        at += 2 + length;
    }
    None
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4).
pub fn encode_base64(bytes: &[u8], out: &mut Vec<u8>) {
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        let sextet = |shift: u32| ALPHABET[((n >> shift) & 63) as usize];
        out.extend_from_slice(&[sextet(18), sextet(12)]);
        out.push(if chunk.len() > 1 { sextet(6) } else { b'=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { b'=' });
    }
}

/// Decodes standard base64 with or without padding; `None` on any other byte.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let value = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|v| v as u32);
    for chunk in text.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i as u32);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648() {
        // The test vectors of RFC 4648 §10.
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = Vec::new();
            encode_base64(plain.as_bytes(), &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), coded);
            assert_eq!(decode_base64(coded).unwrap(), plain.as_bytes());
        }
        assert_eq!(decode_base64("Zm9v!"), None);
        let all: Vec<u8> = (0..=255).collect();
        let mut out = Vec::new();
        encode_base64(&all, &mut out);
        assert_eq!(decode_base64(std::str::from_utf8(&out).unwrap()).unwrap(), all);
    }

    #[test]
    fn the_message_is_foxgloves_compressed_image() {
        let json = compressed_image(1_795_688_100_250_000, 42, &[0xFF, 0xD8, 0xFF, 0xD9], &[]);
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["timestamp"]["sec"], 1_795_688_100u64);
        assert_eq!(value["timestamp"]["nsec"], 250_000_000u64);
        assert_eq!(value["frame_id"], FRAME_ID);
        assert_eq!(value["format"], "jpeg");
        assert_eq!(value["data"], "/9j/2Q==");
        assert_eq!(value["session_us"], 42);
        assert_eq!(value["stimulus"], serde_json::json!([]));
    }

    #[test]
    fn a_jpegs_size_is_read_from_its_frame_header() {
        // SOI, an APP0 segment of 4 bytes, then SOF0 of a 480x270 picture.
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0x0E, 0x01, 0xE0, 0x03,
            0xFF, 0xD9,
        ];
        assert_eq!(jpeg_size(&jpeg), Some((480, 270)));
        assert_eq!(jpeg_size(&[0xFF, 0xD8, 0x00]), None);
    }
}
