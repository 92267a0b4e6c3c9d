//! What the console keeps for the therapist's pages (docs/protocol.md §4.6):
//! a session's `history` on subscribe, the console's own `notice`s (link
//! changes, who sent which command, alerts and who acknowledged them), and
//! the pages open on the console (`page`, `pages`).

use serde::{Deserialize, Serialize};

use crate::{Command, Sample, SessionEvent};

/// Everything a page open since the start would have received for one
/// session, sent first to every page that subscribes (a first open, a
/// reload, a reconnect after a console restart). Live messages follow it,
/// none missing and none twice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The session.
    pub session_id: String,
    /// Telemetry, thinned to at most a few samples a second (one every
    /// `spacing_us` or more), in order.
    pub samples: Vec<Sample>,
    /// Time between kept samples, µs of session time.
    pub spacing_us: u64,
    /// Every event of the session's log so far, in order.
    pub events: Vec<SessionEvent>,
    /// Every notice so far, in order.
    pub notices: Vec<Notice>,
}

/// Something the console itself saw happen to a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Session time, µs (the console's estimate for what it saw itself).
    pub at_us: u64,
    /// What happened.
    #[serde(flatten)]
    pub what: NoticeKind,
}

/// Kinds of notice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoticeKind {
    /// The headset's connection closed.
    HeadsetLeft,
    /// A headset connection took the session up (again).
    HeadsetBack,
    /// A page sent a command that the console passed to the headset.
    Command {
        /// The page that sent it (`pages[].id`).
        page: u64,
        /// Its name, as shown to every page.
        by: String,
        /// What it asked.
        command: Command,
    },
    /// The patient looked away from the stimulus long enough to count as
    /// avoidance; numbered per session, across console restarts.
    Avoidance {
        /// 1, 2, …
        episode: u32,
        /// When looking away began, session µs.
        since_us: u64,
    },
    /// A therapist acknowledged an alert.
    Acknowledged {
        /// The avoidance episode.
        episode: u32,
        /// The page that acknowledged it (`pages[].id`).
        page: u64,
        /// Its name.
        by: String,
    },
}

/// A page says who it is and which session it shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageHello {
    /// The therapist's name for this page, if they gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The session it shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewing: Option<String>,
}

/// The pages open on this console, sent to each page when one opens,
/// closes or changes what it shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pages {
    /// This page's id.
    pub you: u64,
    /// Every page, this one included.
    pub pages: Vec<PageInfo>,
}

/// One open page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageInfo {
    /// Unique in this console run.
    pub id: u64,
    /// Its name: the therapist's, or "page N".
    pub name: String,
    /// The session it shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewing: Option<String>,
}

/// A therapist acknowledges an alert of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledge {
    /// The session.
    pub session_id: String,
    /// The avoidance episode.
    pub episode: u32,
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
            &ConsoleToBrowser::Notice {
                session_id: "s1".into(),
                notice: Notice {
                    at_us: 12_000_000,
                    what: NoticeKind::Command { page: 3, by: "Anna".into(), command: Command::NextStep },
                },
            },
            expect![[r#"
                {
                  "type": "notice",
                  "session_id": "s1",
                  "notice": {
                    "at_us": 12000000,
                    "kind": "command",
                    "page": 3,
                    "by": "Anna",
                    "command": {
                      "type": "next_step"
                    }
                  }
                }"#]],
        );
        check(
            &ConsoleToBrowser::History(History {
                session_id: "s1".into(),
                samples: vec![],
                spacing_us: 250_000,
                events: vec![],
                notices: vec![
                    Notice { at_us: 5, what: NoticeKind::HeadsetLeft },
                    Notice { at_us: 9, what: NoticeKind::Avoidance { episode: 2, since_us: 4 } },
                ],
            }),
            expect![[r#"
                {
                  "type": "history",
                  "session_id": "s1",
                  "samples": [],
                  "spacing_us": 250000,
                  "events": [],
                  "notices": [
                    {
                      "at_us": 5,
                      "kind": "headset_left"
                    },
                    {
                      "at_us": 9,
                      "kind": "avoidance",
                      "episode": 2,
                      "since_us": 4
                    }
                  ]
                }"#]],
        );
        check(
            &BrowserToConsole::Page(PageHello { name: Some("Anna".into()), viewing: Some("s1".into()) }),
            expect![[r#"
                {
                  "type": "page",
                  "name": "Anna",
                  "viewing": "s1"
                }"#]],
        );
        check(
            &ConsoleToBrowser::Pages(Pages {
                you: 4,
                pages: vec![PageInfo { id: 4, name: "page 4".into(), viewing: None }],
            }),
            expect![[r#"
                {
                  "type": "pages",
                  "you": 4,
                  "pages": [
                    {
                      "id": 4,
                      "name": "page 4"
                    }
                  ]
                }"#]],
        );
        check(
            &BrowserToConsole::Acknowledge(Acknowledge { session_id: "s1".into(), episode: 1 }),
            expect![[r#"
            {
              "type": "acknowledge",
              "session_id": "s1",
              "episode": 1
            }"#]],
        );
    }
}
