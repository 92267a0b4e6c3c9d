//! What both socket handlers share: reading one text message with the
//! protocol's size limit, and closing with a reason the peer gets to see.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{Stream, StreamExt};

/// What arrived on a socket.
pub(crate) enum Incoming {
    /// A text message within the size limit.
    Text(String),
    /// A binary message within the mirror frame's size limit (only headsets
    /// send them: mirror frames, docs/protocol.md §10).
    Binary(axum::body::Bytes),
    /// A control frame or other sign of life.
    Alive,
    /// The peer sent something the connection closes on: this close code and reason.
    Refused(u16, String),
    /// The peer is gone (closed or errored).
    Gone,
}

/// How long a closing connection keeps reading, so that the peer gets the
/// close frame before the TCP connection ends (closing a socket with unread
/// data makes the kernel reset it, and the reset can overtake the close).
pub(crate) const CLOSE_DRAIN: Duration = Duration::from_secs(2);

/// Reads the next frame and applies the size limit.
pub(crate) async fn receive<S>(stream: &mut S) -> Incoming
where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    match stream.next().await {
        Some(Ok(Message::Text(text))) => {
            if text.len() > protocol::MAX_MESSAGE_BYTES {
                let reason = format!("message of {} bytes; the limit is {}", text.len(), protocol::MAX_MESSAGE_BYTES);
                return Incoming::Refused(1009, reason);
            }
            Incoming::Text(text.as_str().to_owned())
        }
        Some(Ok(Message::Binary(bytes))) => {
            if bytes.len() > protocol::mirror::MAX_FRAME_BYTES {
                let limit = protocol::mirror::MAX_FRAME_BYTES;
                Incoming::Refused(1009, format!("binary message of {} bytes; the limit is {limit}", bytes.len()))
            } else {
                Incoming::Binary(bytes)
            }
        }
        Some(Err(e)) => refusal(e).map_or(Incoming::Gone, |(code, reason)| Incoming::Refused(code, reason)),
        Some(Ok(Message::Close(_))) | None => Incoming::Gone,
        Some(Ok(_)) => Incoming::Alive,
    }
}

/// The close a socket error deserves: the peer broke the rules of
/// WebSocket (1002), sent invalid UTF-8 as text (1007) or a message beyond
/// what the transport takes (1009). `None` when the peer is simply gone.
fn refusal(e: axum::Error) -> Option<(u16, String)> {
    use tokio_tungstenite::tungstenite::Error;
    use tokio_tungstenite::tungstenite::error::ProtocolError;
    let inner = e.into_inner();
    match inner.downcast_ref::<Error>()? {
        Error::Utf8(_) => Some((1007, "a text frame that is not valid UTF-8".into())),
        Error::Capacity(_) => Some((1009, "message too big".into())),
        Error::Protocol(
            ProtocolError::ResetWithoutClosingHandshake
            | ProtocolError::SendAfterClosing
            | ProtocolError::ReceivedAfterClosing,
        ) => None,
        Error::Protocol(p) => Some((1002, format!("a frame against the WebSocket protocol: {p}"))),
        _ => None,
    }
}

pub(crate) fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// Sends a close frame, then reads and discards until the peer's close (or
/// [`CLOSE_DRAIN`]), so the peer sees the code and reason.
pub(crate) async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    if socket.send(close_frame(code, reason)).await.is_ok() {
        drain(socket).await;
    }
}

/// Reads and discards until the peer's close frame, the end, or [`CLOSE_DRAIN`].
pub(crate) async fn drain<S>(stream: &mut S)
where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let _ = tokio::time::timeout(CLOSE_DRAIN, async {
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}
