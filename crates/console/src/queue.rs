//! A browser's outgoing queue: bounded for telemetry, never dropping
//! anything else.
//!
//! When the queue is full, the oldest telemetry item goes first and is
//! counted per session, so the browser can be told what it missed. Events,
//! command results and session lists are kept even past the bound: they are
//! rare, and losing one would mislead the therapist.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Debug)]
struct Item {
    text: String,
    telemetry_of: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    items: VecDeque<Item>,
    dropped: BTreeMap<String, u64>,
    closed: bool,
}

/// One browser's queue.
#[derive(Debug)]
pub(crate) struct Outbox {
    inner: Mutex<Inner>,
    notify: Notify,
    capacity: usize,
}

impl Outbox {
    pub(crate) fn new(capacity: usize) -> Outbox {
        Outbox { inner: Mutex::new(Inner::default()), notify: Notify::new(), capacity: capacity.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a message that must arrive.
    pub(crate) fn push(&self, text: String) {
        self.push_item(Item { text, telemetry_of: None });
    }

    /// Queues telemetry of `session_id`, which may be dropped under load.
    pub(crate) fn push_telemetry(&self, session_id: &str, text: String) {
        self.push_item(Item { text, telemetry_of: Some(session_id.to_owned()) });
    }

    fn push_item(&self, item: Item) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        if inner.items.len() >= self.capacity {
            if let Some(i) = inner.items.iter().position(|it| it.telemetry_of.is_some()) {
                if let Some(old) = inner.items.remove(i).and_then(|it| it.telemetry_of) {
                    *inner.dropped.entry(old).or_default() += 1;
                }
            } else if let Some(session) = &item.telemetry_of {
                // Full of messages that must arrive: the new sample is the one to go.
                *inner.dropped.entry(session.clone()).or_default() += 1;
                return;
            }
        }
        inner.items.push_back(item);
        drop(inner);
        self.notify.notify_one();
    }

    /// The next message, waiting for one; `None` once closed.
    pub(crate) async fn pop(&self) -> Option<String> {
        loop {
            let notified = self.notify.notified();
            {
                let mut inner = self.lock();
                if let Some(item) = inner.items.pop_front() {
                    return Some(item.text);
                }
                if inner.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Telemetry counts dropped since the last call, per session.
    pub(crate) fn take_dropped(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut self.lock().dropped)
    }

    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drops_oldest_telemetry_first_and_never_other_messages() {
        let q = Outbox::new(3);
        q.push_telemetry("s", "t1".into());
        q.push("e1".into());
        q.push_telemetry("s", "t2".into());
        q.push_telemetry("s", "t3".into()); // drops t1
        q.push("e2".into()); // drops t2
        q.push("e3".into()); // drops t3
        q.push("e4".into()); // nothing droppable left: kept past the bound
        q.push_telemetry("s", "t4".into()); // full of must-arrive messages: t4 goes
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(q.pop().await.unwrap());
        }
        assert_eq!(got, ["e1", "e2", "e3", "e4"]);
        assert_eq!(q.take_dropped().get("s"), Some(&4));
        assert!(q.take_dropped().is_empty());
        q.close();
        assert_eq!(q.pop().await, None);
    }
}
