//! `ack`: the console has stored everything up to a sequence number.

use serde::{Deserialize, Serialize};

/// Everything with `seq <= up_to` is in the recording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Highest sequence number stored, with none missing below it.
    pub up_to: u64,
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::ConsoleToHeadset;
    use crate::testing::check;

    #[test]
    fn snapshot_and_round_trip() {
        check(
            &ConsoleToHeadset::Ack(Ack { up_to: 44 }),
            expect![[r#"
            {
              "type": "ack",
              "up_to": 44
            }"#]],
        );
    }
}
