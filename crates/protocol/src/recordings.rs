//! `list_recordings` and `recordings`: the recording files on the console's disk.

use serde::{Deserialize, Serialize};

/// The recording files in the console's folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingList {
    /// Newest first (by modification time, then by name).
    pub recordings: Vec<RecordingFile>,
}

/// One recording file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingFile {
    /// The file name, e.g. `20261126T101500Z-5f3a9c01.mcap`.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// When it was last written, RFC 3339 UTC to the second.
    pub modified: String,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::testing::check;
    use crate::{BrowserToConsole, ConsoleToBrowser};

    #[test]
    fn snapshot_and_round_trip() {
        check(
            &BrowserToConsole::ListRecordings,
            expect![[r#"
            {
              "type": "list_recordings"
            }"#]],
        );
        check(
            &ConsoleToBrowser::Recordings(RecordingList {
                recordings: vec![RecordingFile {
                    name: "20261126T101500Z-5f3a9c01.mcap".into(),
                    bytes: 1_204_883,
                    modified: "2026-11-26T10:45:12Z".into(),
                }],
            }),
            expect![[r#"
                {
                  "type": "recordings",
                  "recordings": [
                    {
                      "name": "20261126T101500Z-5f3a9c01.mcap",
                      "bytes": 1204883,
                      "modified": "2026-11-26T10:45:12Z"
                    }
                  ]
                }"#]],
        );
    }
}
