//! `ack`: the console has stored everything up to a sequence number.

use serde::{Deserialize, Serialize};

/// Everything with `seq <= up_to` that reached the console is in the
/// recording; the headset may forget it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Highest sequence number handed to the operating system after a flush.
    /// Numbers that never arrived (a resend buffer overflowed) are noted as a
    /// gap in the recording and not waited for.
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
