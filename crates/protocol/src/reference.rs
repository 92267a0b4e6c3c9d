//! Tables of `docs/protocol.md` made from the code: the message kinds of
//! each direction and the error codes. A test compares them with the
//! document, so adding a message or a code without documenting it fails;
//! `UPDATE_DOCS=1 cargo test -p trinvis-protocol` rewrites them.

use serde::de::DeserializeOwned;

use crate::{BrowserToConsole, ConsoleToBrowser, ConsoleToHeadset, ErrorCode, HeadsetToConsole};

/// The names serde accepts for `T`, in declaration order, read from its
/// answer to a name it does not know (serde keeps the list to itself
/// otherwise).
fn names<T: DeserializeOwned>(unknown: &str) -> Vec<String> {
    let Err(e) = serde_json::from_str::<T>(unknown) else { return Vec::new() };
    let text = e.to_string();
    let Some((_, expected)) = text.split_once("expected") else { return Vec::new() };
    expected.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

fn message_names<T: DeserializeOwned>() -> Vec<String> {
    names::<T>(r#"{"type":"\u0001"}"#)
}

/// Every error code, as on the wire, in declaration order.
pub fn error_codes() -> Vec<ErrorCode> {
    names::<ErrorCode>(r#""\u0001""#)
        .iter()
        .filter_map(|name| serde_json::from_str(&format!("\"{name}\"")).ok())
        .collect()
}

impl ErrorCode {
    /// The code as on the wire.
    pub fn as_str(self) -> String {
        serde_json::to_string(&self).unwrap_or_default().trim_matches('"').to_owned()
    }

    /// Where the code is sent, and when: the reference table's row.
    pub fn reference(self) -> (&'static str, &'static str) {
        match self {
            ErrorCode::Malformed => (
                "`error` to headset or browser",
                "not JSON, unknown `type`, a missing field, a wrong type, an unknown field in a command with fields, a number outside its range ([§1.4](#14-accepted-number-ranges)); a `patient_code` that is not pseudonymous (then close 1008)",
            ),
            ErrorCode::OutOfOrder => {
                ("`error` to headset", "a message other than `hello` before the `hello`, or a second `hello`")
            }
            ErrorCode::RateLimited => ("`command_result`", "more commands than the rate limit allows"),
            ErrorCode::NoSuchSession => (
                "`error` to browser, `command_result`",
                "`subscribe`, `unsubscribe` or `command` for a session the console does not know",
            ),
            ErrorCode::HeadsetOffline => {
                ("`command_result`", "the session's headset is not connected, or not taking its messages")
            }
            ErrorCode::CommandFailed => {
                ("`command_result`", "the headset answered `ok: false`, or did not answer within `command_timeout`")
            }
            ErrorCode::Replay => ("`command_result`", "a command to a console that replays a recording"),
            ErrorCode::NotReplay => ("`error` to browser", "a `replay` message to a console that serves live headsets"),
            ErrorCode::TooManySessions => (
                "`error` to headset",
                "a `hello` when the console is at `max_sessions` and every session's headset is connected (then close 1013)",
            ),
            ErrorCode::NoMirror => (
                "`error` to browser",
                "`mirror` for a session whose headset sends no pictures (headless, or an app from before the mirror)",
            ),
            ErrorCode::Duplicate => (
                "`command_result`",
                "the same command with the same `basis` for the same session as the last one passed on, within `duplicate_window` (a double-click, a repeated key, a second page): the first was sent, this one was not",
            ),
            ErrorCode::NeedsConfirmation => (
                "`command_result`",
                "a `set_level` or `go_to_step` that raises the target more than one step above the last known target, without `confirmed: true`",
            ),
        }
    }
}

/// §4.1: the `type` values of each direction.
pub fn message_table() -> String {
    let mut out = String::from("| Direction | `type` values |\n|---|---|\n");
    for (direction, names) in [
        ("headset → console", message_names::<HeadsetToConsole>()),
        ("console → headset", message_names::<ConsoleToHeadset>()),
        ("browser → console", message_names::<BrowserToConsole>()),
        ("console → browser", message_names::<ConsoleToBrowser>()),
    ] {
        let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        out.push_str(&format!("| {direction} | {} |\n", names.join(", ")));
    }
    out
}

/// §7.1: every error code, where it is sent and when.
pub fn error_code_table() -> String {
    let mut out = String::from("| `code` | Sent in | When |\n|---|---|---|\n");
    for code in error_codes() {
        let (sent, when) = code.reference();
        out.push_str(&format!("| `{}` | {sent} | {when} |\n", code.as_str()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replaces what stands between `<!-- generated: NAME -->` and
    /// `<!-- end generated -->` in the document.
    fn check_block(doc: &mut String, name: &str, table: &str) -> Result<(), String> {
        let start_marker = format!("<!-- generated: {name} -->\n");
        let end_marker = "<!-- end generated -->";
        let start =
            doc.find(&start_marker).ok_or(format!("no `{start_marker}` in docs/protocol.md"))? + start_marker.len();
        let end = start + doc[start..].find(end_marker).ok_or(format!("no end marker after {name}"))?;
        if doc[start..end] == *table {
            return Ok(());
        }
        let found = doc[start..end].to_owned();
        doc.replace_range(start..end, table);
        Err(format!("docs/protocol.md's {name} table differs from the code:\n{found}\nshould be:\n{table}"))
    }

    #[test]
    fn the_documents_tables_are_the_codes() {
        let path = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from)
            .join("../../docs/protocol.md");
        let mut doc = std::fs::read_to_string(&path).expect("docs/protocol.md");
        let results = [
            check_block(&mut doc, "messages", &message_table()),
            check_block(&mut doc, "error codes", &error_code_table()),
        ];
        let problems: Vec<String> = results.into_iter().filter_map(Result::err).collect();
        if problems.is_empty() {
            return;
        }
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, doc).expect("write docs/protocol.md");
            return;
        }
        panic!("{}\n(UPDATE_DOCS=1 cargo test -p trinvis-protocol rewrites them)", problems.join("\n"));
    }

    #[test]
    fn every_kind_and_code_is_found() {
        assert_eq!(message_names::<HeadsetToConsole>(), ["hello", "telemetry", "events", "command_ack", "pong"]);
        assert_eq!(error_codes().len(), 12);
        assert_eq!(ErrorCode::TooManySessions.as_str(), "too_many_sessions");
    }
}
