//! Pairing (`/ws/pair`): a headset without credentials asks for a code,
//! shows it to the patient's therapist, who types it into the console's
//! page; the console then gives that headset a credential of its own.
//! One request per connection; the code lives until `expires_in_s` or the
//! connection closes, whichever comes first.

use serde::{Deserialize, Serialize};

use crate::limits::{HEADSET_ID_BYTES, OutOfRange, Validate, fail};

/// The close code of a pairing connection whose code expired: the headset
/// asks for a new one.
pub const CODE_EXPIRED: u16 = 4000;

/// Headset → console on `/ws/pair`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HeadsetToPairing {
    /// Give me a code to show.
    PairRequest(PairRequest),
}

/// Who asks to pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairRequest {
    /// The headset, as its `hello` will name it (1 to 128 bytes).
    pub headset_id: String,
}

/// Console → headset on `/ws/pair`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PairingToHeadset {
    /// The code to show: six digits.
    PairCode(PairCode),
    /// The therapist typed the code: this headset's credential.
    Paired(Paired),
}

/// A pairing code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairCode {
    /// Six decimal digits.
    pub code: String,
    /// Seconds the code stays valid.
    pub expires_in_s: u32,
}

/// A headset's own credential: the `token` of its `/ws/headset` connections.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paired {
    /// The credential's public name, as the page lists it.
    pub credential_id: String,
    /// The secret (32 hex characters), shown once and stored by the headset.
    pub credential: String,
}

impl Validate for HeadsetToPairing {
    fn validate(&self) -> Result<(), OutOfRange> {
        let HeadsetToPairing::PairRequest(request) = self;
        if !HEADSET_ID_BYTES.contains(&request.headset_id.len()) {
            return fail(|| "headset_id".into(), format!("{} bytes; 1 to 128 accepted", request.headset_id.len()));
        }
        Ok(())
    }
}

impl Validate for PairingToHeadset {
    fn validate(&self) -> Result<(), OutOfRange> {
        Ok(())
    }
}

/// A certificate's SHA-256 digest in the form the console prints and a
/// headset pins: 32 pairs of upper-case hex, `AB:CD:…`. Both ends make it
/// here, so they always agree.
pub fn fingerprint_text(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// A fingerprint in any usual spelling (colons or spaces or none, either
/// case) in the console's form; `None` unless it is 32 bytes of hex.
pub fn normalise_fingerprint(text: &str) -> Option<String> {
    let hex: String = text.chars().filter(|c| !matches!(c, ':' | ' ')).collect::<String>().to_ascii_uppercase();
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(hex.as_bytes().chunks(2).map(|p| String::from_utf8_lossy(p).into_owned()).collect::<Vec<_>>().join(":"))
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::testing::check;

    #[test]
    fn snapshot_and_round_trip() {
        check(
            &HeadsetToPairing::PairRequest(PairRequest { headset_id: "vr-pc-room-2".into() }),
            expect![[r#"
                {
                  "type": "pair_request",
                  "headset_id": "vr-pc-room-2"
                }"#]],
        );
        check(
            &PairingToHeadset::PairCode(PairCode { code: "042917".into(), expires_in_s: 120 }),
            expect![[r#"
                {
                  "type": "pair_code",
                  "code": "042917",
                  "expires_in_s": 120
                }"#]],
        );
        check(
            &PairingToHeadset::Paired(Paired {
                credential_id: "h-3f9a".into(),
                credential: "0123456789abcdef0123456789abcdef".into(),
            }),
            expect![[r#"
                {
                  "type": "paired",
                  "credential_id": "h-3f9a",
                  "credential": "0123456789abcdef0123456789abcdef"
                }"#]],
        );
        assert!(crate::decode::<HeadsetToPairing>(r#"{"type":"pair_request","headset_id":""}"#).is_err());
    }
}
