//! What the tests on real QEMU guests share (real_media.rs, real_snapshots.rs): the test media,
//! REST calls checked for their status, and the guest's serial console as a shell to ask.
//!
//! The media come from `scripts/test-guest.sh`, in `LIMEN_TEST_GUEST_DIR`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::process::virsh;
use super::ws::{connect, next, send, Connected, Socket};
use super::TestApp;

pub const GIB: u64 = 1 << 30;
/// What the test guest's init prints once its kernel runs.
pub const BOOTED: &str = "limen-guest: booted";
/// How long a TCG guest may take to show something; boots take ~1 s (GRUB) to ~5 s (Linux).
pub const BOOT_LIMIT: Duration = Duration::from_secs(90);

pub fn guest_dir() -> PathBuf {
    std::env::var("LIMEN_TEST_GUEST_DIR")
        .expect("LIMEN_TEST_GUEST_DIR is not set: run `make test`, or scripts/test-guest.sh DIR and export it")
        .into()
}

/// Copies each `(library, file)` of the test media into that library of the app.
pub fn stock_libraries(app: &TestApp, files: &[(&str, &str)]) {
    let guest = guest_dir();
    for (library, file) in files {
        let dir = app.data_dir.0.join(library);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(guest.join(file), dir.join(file)).unwrap_or_else(|error| {
            panic!(
                "{file} from {}: {error} (run scripts/test-guest.sh)",
                guest.display()
            )
        });
    }
}

/// Logs a step with the time since the test began (the wall time of each boot shows).
pub fn step(began: Instant, what: &str) {
    eprintln!("[{:>6.1}s] {what}", began.elapsed().as_secs_f32());
}

/// The REST calls the tests make, each checked for its status.
pub struct Api<'a> {
    pub app: &'a TestApp,
}

impl Api<'_> {
    pub async fn post(&self, path: &str, body: Value, status: u16) -> Value {
        let response = self.app.post_json(path, body).await;
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "POST {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// POST with no body at all.
    pub async fn post_empty(&self, path: &str, status: u16) -> Value {
        let response = self
            .app
            .client
            .post(self.app.url(path))
            .send()
            .await
            .unwrap();
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "POST {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn get(&self, path: &str) -> Value {
        let response = self.app.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Creates a VM (201); returns its UUID and the answer.
    pub async fn create(&self, body: Value) -> (String, Value) {
        let vm = self.post("/api/v1/vms", body, 201).await;
        (vm["uuid"].as_str().expect("created").to_string(), vm)
    }

    pub async fn vm(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/vms/{id}")).await
    }

    pub async fn act(&self, id: &str, action: &str) -> Value {
        self.post(
            &format!("/api/v1/vms/{id}/action"),
            json!({ "action": action }),
            200,
        )
        .await
    }

    pub async fn disk(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/vms/{id}/disk")).await
    }

    /// Asks for the VM's disk to be `size_gb` GiB; `status` is the answer expected.
    pub async fn resize(&self, id: &str, size_gb: u64, status: u16) -> Value {
        self.post(
            &format!("/api/v1/vms/{id}/disk/resize"),
            json!({ "size_gb": size_gb }),
            status,
        )
        .await
    }

    pub async fn delete(&self, id: &str) {
        let response = self.app.delete(&format!("/api/v1/vms/{id}")).await;
        assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
    }
}

/// Opens the VM's serial console (a stopped VM is started by it, with autostart on, before the
/// console connects: the guest's output from its first line).
pub async fn serial(app: &TestApp, id: &str) -> Socket {
    let url = format!("ws://{}/api/v1/vms/{id}/serial", app.addr);
    let bearer = format!("Bearer {}", app.admin_token);
    match connect(&url, &[("authorization", bearer.as_str())]).await {
        Connected::Open(socket, _) => *socket,
        Connected::Refused(status, body) => panic!("serial console refused {status}: {body}"),
    }
}

/// `tag=DIGITS=` in `text`: the answer to [`guest_query`]'s command (the typed command echoes
/// as `tag=$(…)=`, without digits).
pub fn tagged_number(text: &str, tag: &str) -> Option<u64> {
    let prefix = format!("{tag}=");
    text.match_indices(&prefix).find_map(|(at, _)| {
        let rest = &text[at + prefix.len()..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        (digits > 0 && rest[digits..].starts_with('=')).then(|| rest[..digits].parse().unwrap())
    })
}

/// Types `echo TAG=$(COMMAND)=` into the guest's serial shell and reads the number it prints;
/// types again every 3 s while nothing answers (the shell may not listen yet), so COMMAND must
/// be idempotent. A fresh tag per call, so a late answer to an earlier question is never taken
/// for this one's. Returns the number and everything the console showed meanwhile.
pub async fn guest_query(serial: &mut Socket, command: &str) -> (u64, String) {
    static ASKED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let tag = format!(
        "q{}",
        ASKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let line = format!("echo {tag}=$({command})=\n");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut text = String::new();
    while Instant::now() < deadline {
        send(serial, line.as_bytes()).await;
        let typed = Instant::now();
        while typed.elapsed() < Duration::from_secs(3) {
            let wait = Duration::from_secs(3).saturating_sub(typed.elapsed());
            let Ok(message) = tokio::time::timeout(wait, next(serial, BOOT_LIMIT)).await else {
                break;
            };
            match message {
                Some(Message::Binary(bytes)) => text.push_str(&String::from_utf8_lossy(&bytes)),
                Some(Message::Ping(_) | Message::Pong(_)) => {}
                other => panic!("{command}: the serial console said {other:?}\nso far: {text}"),
            }
            if let Some(number) = tagged_number(&text, &tag) {
                return (number, text);
            }
        }
    }
    panic!("the guest's shell never answered {command:?}; so far:\n{text}");
}

/// libvirt's view of the disk's size (`virsh domblkinfo`), in bytes.
pub fn libvirt_capacity(name: &str) -> u64 {
    let info = virsh(&["domblkinfo", name, "vda"]);
    info.lines()
        .find_map(|line| line.strip_prefix("Capacity:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no capacity in {info}"))
}
