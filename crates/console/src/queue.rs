//! A browser's outgoing queue, bounded in messages and in bytes.
//!
//! Mirror frames wait beside it, one per session at most: a newer frame
//! replaces the one waiting (latest wins), and every text message goes out
//! before any frame, so pictures never delay telemetry, events or results.
//!
//! When it is full, the oldest telemetry item goes first and is counted per
//! session, so the browser can be told what it missed. Snapshots (the
//! session list, the recordings list, a replay's status) are coalesced: a
//! newer one replaces one still waiting, so asking again and again costs
//! nothing. Events and command results are never dropped; a browser so far
//! behind that they alone pass the byte bound is disconnected (1008) rather
//! than let the console's memory grow: it reconnects and starts afresh.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use axum::body::Bytes;

use tokio::sync::Notify;

#[derive(Debug, PartialEq)]
enum Kind {
    /// Must arrive.
    Keep,
    /// Telemetry of this session: may be dropped.
    Telemetry(String),
    /// A snapshot of this kind: a newer one replaces it.
    Latest(&'static str),
}

#[derive(Debug)]
struct Item {
    text: String,
    kind: Kind,
}

#[derive(Debug, Default)]
struct Inner {
    items: VecDeque<Item>,
    bytes: usize,
    dropped: BTreeMap<String, u64>,
    /// The newest mirror frame of each session not yet sent.
    mirror: BTreeMap<String, Bytes>,
    /// Mirror frames replaced before they could be sent.
    mirror_replaced: u64,
    closed: bool,
    overflowed: bool,
}

/// What [`Outbox::pop`] found.
#[derive(Debug, PartialEq)]
pub(crate) enum Next {
    /// A message to send.
    Send(String),
    /// A mirror frame to send (binary).
    Frame(Bytes),
    /// Closed by the console: the browser went or the console stops.
    Closed,
    /// Messages that must arrive passed the byte bound: disconnect.
    Overflowed,
}

/// One browser's queue.
#[derive(Debug)]
pub(crate) struct Outbox {
    inner: Mutex<Inner>,
    notify: Notify,
    capacity: usize,
    max_bytes: usize,
}

impl Outbox {
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Outbox {
        Outbox { inner: Mutex::new(Inner::default()), notify: Notify::new(), capacity: capacity.max(1), max_bytes }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a message that must arrive.
    pub(crate) fn push(&self, text: String) {
        self.push_item(Item { text, kind: Kind::Keep });
    }

    /// Queues telemetry of `session_id`, which may be dropped under load.
    pub(crate) fn push_telemetry(&self, session_id: &str, text: String) {
        self.push_item(Item { text, kind: Kind::Telemetry(session_id.to_owned()) });
    }

    /// Queues a snapshot of `kind` (`sessions`, …), replacing one still waiting.
    pub(crate) fn push_latest(&self, kind: &'static str, text: String) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        let waiting = inner.items.iter().position(|it| it.kind == Kind::Latest(kind));
        if let Some(i) = waiting {
            let old = std::mem::replace(&mut inner.items[i].text, text);
            inner.bytes = inner.bytes - old.len() + inner.items[i].text.len();
            return;
        }
        drop(inner);
        self.push_item(Item { text, kind: Kind::Latest(kind) });
    }

    /// Offers a mirror frame of `session_id`, replacing one still waiting.
    pub(crate) fn push_frame(&self, session_id: &str, frame: Bytes) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        if inner.mirror.insert(session_id.to_owned(), frame).is_some() {
            inner.mirror_replaced += 1;
        }
        drop(inner);
        self.notify.notify_one();
    }

    /// Frames replaced before they were sent, since the start.
    #[cfg(test)]
    pub(crate) fn frames_replaced(&self) -> u64 {
        self.lock().mirror_replaced
    }

    fn push_item(&self, item: Item) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        let telemetry = matches!(item.kind, Kind::Telemetry(_));
        while inner.items.len() >= self.capacity || inner.bytes + item.text.len() > self.max_bytes {
            let oldest = inner.items.iter().position(|it| matches!(it.kind, Kind::Telemetry(_)));
            match oldest.and_then(|i| inner.items.remove(i)) {
                Some(old) => {
                    inner.bytes -= old.text.len();
                    if let Kind::Telemetry(session) = old.kind {
                        *inner.dropped.entry(session).or_default() += 1;
                    }
                }
                None if telemetry => {
                    // Full of messages that must arrive: the new sample is the one to go.
                    if let Kind::Telemetry(session) = item.kind {
                        *inner.dropped.entry(session).or_default() += 1;
                    }
                    return;
                }
                None if inner.bytes + item.text.len() > self.max_bytes => {
                    inner.overflowed = true;
                    inner.closed = true;
                    inner.items.clear();
                    inner.bytes = 0;
                    drop(inner);
                    self.notify.notify_one();
                    return;
                }
                // Over the count but within the bytes: must-arrive messages stay.
                None => break,
            }
        }
        inner.bytes += item.text.len();
        inner.items.push_back(item);
        drop(inner);
        self.notify.notify_one();
    }

    /// The next message, waiting for one.
    pub(crate) async fn pop(&self) -> Next {
        loop {
            let notified = self.notify.notified();
            {
                let mut inner = self.lock();
                if inner.overflowed {
                    return Next::Overflowed;
                }
                if let Some(item) = inner.items.pop_front() {
                    inner.bytes -= item.text.len();
                    return Next::Send(item.text);
                }
                if let Some((_, frame)) = inner.mirror.pop_first() {
                    return Next::Frame(frame);
                }
                if inner.closed {
                    return Next::Closed;
                }
            }
            notified.await;
        }
    }

    /// Bytes waiting to be sent.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Telemetry counts dropped since the last call, per session.
    pub(crate) fn take_dropped(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut self.lock().dropped)
    }

    pub(crate) fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.mirror.clear();
        drop(inner);
        self.notify.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn texts(q: &Outbox, n: usize) -> Vec<String> {
        let mut got = Vec::new();
        for _ in 0..n {
            match q.pop().await {
                Next::Send(t) => got.push(t),
                other => panic!("expected a message, got {other:?}"),
            }
        }
        got
    }

    #[tokio::test]
    async fn drops_oldest_telemetry_first_and_never_other_messages() {
        let q = Outbox::new(3, 1 << 20);
        q.push_telemetry("s", "t1".into());
        q.push("e1".into());
        q.push_telemetry("s", "t2".into());
        q.push_telemetry("s", "t3".into()); // drops t1
        q.push("e2".into()); // drops t2
        q.push("e3".into()); // drops t3
        q.push("e4".into()); // nothing droppable left: kept past the count
        q.push_telemetry("s", "t4".into()); // full of must-arrive messages: t4 goes
        assert_eq!(texts(&q, 4).await, ["e1", "e2", "e3", "e4"]);
        assert_eq!(q.take_dropped().get("s"), Some(&4));
        assert!(q.take_dropped().is_empty());
        assert_eq!(q.bytes(), 0);
        q.close();
        assert_eq!(q.pop().await, Next::Closed);
    }

    #[tokio::test]
    async fn mirror_frames_are_latest_wins_and_go_after_every_text() {
        let q = Outbox::new(100, 1 << 20);
        q.push_frame("a", Bytes::from_static(b"a1"));
        q.push_telemetry("a", "t1".into());
        for i in 2..=50 {
            q.push_frame("a", Bytes::from(format!("a{i}")));
        }
        q.push_frame("b", Bytes::from_static(b"b1"));
        q.push("e1".into());
        assert_eq!(q.frames_replaced(), 49);
        assert_eq!(texts(&q, 2).await, ["t1", "e1"], "text first, in order");
        assert_eq!(q.pop().await, Next::Frame(Bytes::from_static(b"a50")), "only the newest of a");
        assert_eq!(q.pop().await, Next::Frame(Bytes::from_static(b"b1")));
        q.push_frame("a", Bytes::from_static(b"a51"));
        q.close();
        assert_eq!(q.pop().await, Next::Closed, "a closed queue drops its frames");
    }

    #[tokio::test]
    async fn snapshots_coalesce_and_bytes_are_bounded() {
        let q = Outbox::new(100, 10);
        q.push_latest("sessions", "s1".into());
        q.push("e1".into());
        for i in 2..1000 {
            q.push_latest("sessions", format!("s{i}"));
        }
        q.push_telemetry("a", "tttt".into());
        q.push_telemetry("a", "uuuu".into()); // 10 bytes would be passed: tttt goes
        assert_eq!(q.bytes(), 4 + 2 + 4);
        assert_eq!(texts(&q, 3).await, ["s999", "e1", "uuuu"]);
        assert_eq!(q.take_dropped().get("a"), Some(&1));
        // Must-arrive messages past the byte bound: the browser is let go.
        q.push("0123456789".into());
        q.push("x".into());
        assert_eq!(q.pop().await, Next::Overflowed);
        q.push("after".into());
        assert_eq!(q.pop().await, Next::Overflowed, "nothing more is queued");
    }
}
