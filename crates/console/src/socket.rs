//! What both socket handlers share: reading one text message with the
//! protocol's size limit, and closing with a reason.

use axum::extract::ws::{CloseFrame, Message, WebSocket};

/// What arrived on a socket.
pub(crate) enum Incoming {
    /// A text message within the size limit.
    Text(String),
    /// A control frame or other sign of life.
    Alive,
    /// The peer is gone (closed, errored, or sent something we closed on).
    Gone,
}

/// Reads the next frame and applies the size limit (closing with 1009).
pub(crate) async fn receive(socket: &mut WebSocket) -> Incoming {
    match socket.recv().await {
        Some(Ok(Message::Text(text))) => {
            if text.len() > protocol::MAX_MESSAGE_BYTES {
                let reason = format!("message of {} bytes; the limit is {}", text.len(), protocol::MAX_MESSAGE_BYTES);
                close(socket, 1009, &reason).await;
                return Incoming::Gone;
            }
            Incoming::Text(text.as_str().to_owned())
        }
        Some(Ok(Message::Binary(bytes))) => {
            let reason = if bytes.len() > protocol::MAX_MESSAGE_BYTES {
                (1009, "message too big")
            } else {
                (1003, "text messages only")
            };
            close(socket, reason.0, reason.1).await;
            Incoming::Gone
        }
        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => Incoming::Gone,
        Some(Ok(_)) => Incoming::Alive,
    }
}

pub(crate) async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame { code, reason: reason.into() };
    let _ = socket.send(Message::Close(Some(frame))).await;
}
