//! `trinvis bench-echo`: a bare WebSocket echo server (tungstenite, the
//! library the console runs on, with TCP_NODELAY as the console sets it).
//! `./x bench-live` measures a client's round trip to it beside the
//! console's command round trip: the floor the console is compared with.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(args.bind).await.with_context(|| format!("listening on {}", args.bind))?;
        println!("echo on ws://{}", listener.local_addr()?);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(async move {
                        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                        while let Some(Ok(message)) = ws.next().await {
                            if message.is_text() && ws.send(message).await.is_err() {
                                break;
                            }
                        }
                    });
                }
                _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            }
        }
    })
}
