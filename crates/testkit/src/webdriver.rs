//! A tiny WebDriver client for the browser tests: chromedriver's HTTP/JSON
//! API over a plain `TcpStream` (one request per connection, blocking).
//! Enough for navigating, finding elements, clicking, typing, running a
//! script and taking screenshots; no dependency beyond serde_json.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium and its driver, found on this machine.
#[derive(Debug)]
pub struct Browser {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()))
}

impl Browser {
    /// Chromium and chromedriver (`TRINVIS_CHROMIUM`, `TRINVIS_CHROMEDRIVER`, or
    /// on PATH). When missing: fails if `TRINVIS_REQUIRE_BROWSER` is set,
    /// otherwise says so and returns `None`, so the test is skipped.
    pub fn find() -> Option<Browser> {
        let from_env = |var: &str| std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_file());
        let chromium =
            from_env("TRINVIS_CHROMIUM").or_else(|| which(&["chromium", "chromium-browser", "google-chrome"]));
        let chromedriver = from_env("TRINVIS_CHROMEDRIVER").or_else(|| which(&["chromedriver"]));
        match (chromium, chromedriver) {
            (Some(chromium), Some(chromedriver)) => Some(Browser { chromium, chromedriver }),
            (chromium, driver) => {
                let missing = [(chromium.is_none(), "chromium"), (driver.is_none(), "chromedriver")]
                    .iter()
                    .filter(|(m, _)| *m)
                    .map(|(_, n)| *n)
                    .collect::<Vec<_>>()
                    .join(" and ");
                assert!(
                    std::env::var_os("TRINVIS_REQUIRE_BROWSER").is_none(),
                    "{missing} required here (TRINVIS_REQUIRE_BROWSER is set): `apt-get install chromium chromium-driver`"
                );
                crate::skipped(&format!(
                    "{missing} not found (`apt-get install chromium chromium-driver`; ./x test installs them)"
                ));
                None
            }
        }
    }

    /// Starts chromedriver and a headless Chromium session with a fresh profile.
    pub fn start(&self, width: u32, height: u32) -> Driver {
        self.start_with(width, height, false)
    }

    /// As [`Browser::start`]; with `accept_insecure_certs` the browser takes
    /// a self-signed certificate, as a therapist does after comparing its
    /// fingerprint.
    pub fn start_with(&self, width: u32, height: u32, accept_insecure_certs: bool) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let process = Command::new(&self.chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.chromedriver.display()));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let profile = std::env::temp_dir().join(format!("trinvis-chromium-{}-{port}", std::process::id()));
        let mut driver = Driver { addr, process, session: String::new(), profile: profile.clone() };
        let deadline = Instant::now() + Duration::from_secs(20);
        while driver.call("GET", "/status", None).ok().and_then(|v| v["value"]["ready"].as_bool()) != Some(true) {
            assert!(Instant::now() < deadline, "chromedriver did not become ready within 20 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        // Without the background-networking flags Chromium floods a closed network.
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "acceptInsecureCerts": accept_insecure_certs,
            "goog:chromeOptions": {"binary": self.chromium, "args": args}}}});
        let answer = driver.call("POST", "/session", Some(&capabilities)).unwrap();
        driver.session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver gave no session: {answer}"))
            .to_owned();
        driver
    }
}

/// One browser session. Closed, with its driver, when dropped.
#[derive(Debug)]
pub struct Driver {
    addr: SocketAddr,
    process: Child,
    session: String,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Driver {
    /// One HTTP request; the JSON answer, or the WebDriver error as text.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let mut stream = TcpStream::connect(self.addr).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
        // chromedriver keeps the connection open whatever the request says:
        // read the header, then exactly Content-Length bytes.
        let mut response = Vec::new();
        let mut buf = [0u8; 65536];
        let header_end = loop {
            if let Some(i) = response.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed before the header ended".into());
            }
            response.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&response[..header_end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .ok_or("no Content-Length in the answer")?;
        while response.len() < header_end + length {
            let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed before the body ended".into());
            }
            response.extend_from_slice(&buf[..n]);
        }
        let body = String::from_utf8_lossy(&response[header_end..header_end + length]).into_owned();
        let value: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if head.starts_with("http/1.1 200") { Ok(value) } else { Err(value["value"].to_string()) }
    }

    fn session_call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body).unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(&json!({ "url": url })));
    }

    /// The first element matching a CSS selector, if any.
    pub fn find(&self, css: &str) -> Option<String> {
        let path = format!("/session/{}/element", self.session);
        let answer = self.call("POST", &path, Some(&json!({"using": "css selector", "value": css}))).ok()?;
        answer["value"][ELEMENT].as_str().map(str::to_owned)
    }

    pub fn element(&self, css: &str) -> String {
        self.find(css).unwrap_or_else(|| panic!("no element {css}"))
    }

    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.session_call("POST", &format!("/element/{id}/click"), Some(&json!({})));
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.session_call("POST", &format!("/element/{id}/value"), Some(&json!({ "text": text })));
    }

    pub fn text(&self, css: &str) -> String {
        let Some(id) = self.find(css) else { return String::new() };
        self.session_call("GET", &format!("/element/{id}/text"), None).as_str().unwrap_or_default().to_owned()
    }

    /// Clicks inside an element at a fraction of its width from its left edge (0..1), at mid height.
    pub fn click_at(&self, css: &str, fraction: f64) {
        let id = self.element(css);
        let rect = self.session_call("GET", &format!("/element/{id}/rect"), None);
        let width = rect["width"].as_f64().unwrap_or(0.0);
        let x = ((fraction - 0.5) * width).round() as i64;
        let origin = json!({ ELEMENT: id });
        let actions = json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "origin": origin, "x": x, "y": 0},
                        {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]});
        self.session_call("POST", "/actions", Some(&actions));
    }

    /// A double click in the middle of an element: two presses, as a mouse makes them.
    pub fn double_click(&self, css: &str) {
        let origin = json!({ ELEMENT: self.element(css) });
        let actions = json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "origin": origin, "x": 0, "y": 0},
                        {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0},
                        {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]});
        self.session_call("POST", "/actions", Some(&actions));
    }

    /// Gives an element the keyboard focus.
    pub fn focus(&self, css: &str) {
        self.script(&format!("document.querySelector('{css}').focus(); return null;"));
    }

    /// Sets the window's outer size.
    pub fn resize(&self, width: u32, height: u32) {
        self.session_call("POST", "/window/rect", Some(&json!({"width": width, "height": height})));
    }

    /// Presses a key on the page (as a person would, on whatever has focus).
    pub fn press(&self, key: &str) {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard",
            "actions": [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]});
        self.session_call("POST", "/actions", Some(&actions));
    }

    /// Runs a script (`return …;`) and gives its result.
    pub fn script(&self, script: &str) -> Value {
        self.session_call("POST", "/execute/sync", Some(&json!({"script": script, "args": []})))
    }

    /// Waits up to `timeout` for `check` to hold, then panics with `what`.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut check: impl FnMut(&Driver) -> bool) {
        let deadline = Instant::now() + timeout;
        while !check(self) {
            if Instant::now() >= deadline {
                let body = self.text("body");
                let shot = std::env::temp_dir().join("trinvis-browser-failure.png");
                self.screenshot(&shot);
                panic!("waited {timeout:?} for {what}; screenshot {}; the page says:\n{body}", shot.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG of the window.
    pub fn screenshot(&self, path: &Path) {
        let data = self.session_call("GET", "/screenshot", None);
        let bytes = base64_decode(data.as_str().unwrap_or_default());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes_padded_and_unpadded_text() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk"), b"hi");
    assert_eq!(base64_decode("YWJj"), b"abc");
}
