//! Reaching a console over `ws://` (loopback) or `wss://` (the clinic's
//! network). Over TLS the console's certificate is trusted by its SHA-256
//! fingerprint, pinned when the headset paired (trust on first use): a
//! console whose certificate no longer matches is refused, whatever name
//! or authority it shows. Without a pin (only while pairing) any
//! certificate is taken and its fingerprint noted, to be pinned.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// A byte stream, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A WebSocket to the console, over TCP or TLS.
pub(crate) type Socket = WebSocketStream<Box<dyn Io>>;

/// SHA-256 of a certificate (DER) as `AB:CD:…`, the form the console prints.
pub fn fingerprint(der: &[u8]) -> String {
    protocol::fingerprint_text(&Sha256::digest(der))
}

pub use protocol::normalise_fingerprint;

/// What one TLS connection learnt about the console's certificate.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// The fingerprint the console showed.
    pub fingerprint: Option<String>,
    /// Set when it was not the pinned one: why the connection was refused.
    pub mismatch: Option<String>,
}

/// Checks the console's certificate against the pin; the handshake's
/// signatures are still verified, so only the key's holder passes.
#[derive(Debug)]
struct Pinned {
    pin: Option<String>,
    seen: Arc<Mutex<Seen>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let shown = fingerprint(end_entity);
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.fingerprint = Some(shown.clone());
        match &self.pin {
            Some(pin) if *pin != shown => {
                let why = format!(
                    "the console's certificate has fingerprint {shown}, not the {pin} this headset pinned when it \
                     paired: another machine may be posing as the console. If the clinic replaced the console's \
                     certificate, pair this headset again"
                );
                seen.mismatch = Some(why.clone());
                Err(rustls::Error::General(why))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Opens a WebSocket to `url` (`ws://` or `wss://`, path and query
/// included) with the trinvis subprotocol; over TLS the certificate must
/// match `pin` (any, when `None`), and `seen` says what it was.
pub(crate) async fn connect(url: &str, pin: Option<&str>, seen: &Arc<Mutex<Seen>>) -> Result<Socket, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(protocol::SUBPROTOCOL));
    let uri = request.uri().clone();
    let secure = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        other => return Err(format!("the console's address must start with ws:// or wss://, not {other:?}")),
    };
    let host = uri.host().ok_or("the console's address has no host")?.trim_matches(['[', ']']).to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| e.to_string())?;
    // Commands and pings are small messages that must go at once.
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = if secure {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Pinned { pin: pin.map(str::to_owned), seen: seen.clone(), provider: provider.clone() };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let name = ServerName::try_from(host.clone()).map_err(|e| format!("{host}: {e}"))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.map_err(|e| {
            let seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            seen.mismatch.clone().unwrap_or_else(|| format!("TLS: {e}"))
        })?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let ws_config = WebSocketConfig::default().max_message_size(Some(1 << 20));
    let (socket, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config)).await.map_err(|e| match e {
            tokio_tungstenite::tungstenite::Error::Http(response) => {
                let status = response.status();
                let body = response.body().as_ref().map(|b| String::from_utf8_lossy(b).trim().to_owned());
                format!("the console answered {status}: {}", body.unwrap_or_default())
            }
            e => e.to_string(),
        })?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_read_in_any_usual_spelling() {
        let console = fingerprint(b"certificate");
        assert_eq!(normalise_fingerprint(&console).as_deref(), Some(console.as_str()));
        let bare = console.replace(':', "").to_lowercase();
        assert_eq!(normalise_fingerprint(&bare).as_deref(), Some(console.as_str()));
        assert_eq!(normalise_fingerprint(&bare[2..]), None);
        assert_eq!(normalise_fingerprint(&format!("{}zz", &bare[2..])), None);
    }
}
