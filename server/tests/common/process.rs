//! Running the real `limen` binary in tests.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{TempDir, TestDb};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where a test's `limen` writes its output: a file, so a chatty server never blocks on a full
/// pipe nobody reads.
fn log_path(data_dir: &TempDir) -> std::path::PathBuf {
    data_dir.0.join("limen.log")
}

/// `limen` with a clean environment: this database, data directory, libvirt and port.
pub fn limen(db_url: &str, data_dir: &TempDir, libvirt_uri: &str, port: u16) -> Command {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(data_dir))
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_limen"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LIMEN_CONFIG", "/dev/null")
        .env("LIMEN_DATABASE_URL", db_url)
        .env("LIMEN_LIBVIRT_URI", libvirt_uri)
        .env("LIMEN_DOMAIN_TYPE", "qemu")
        .env("LIMEN_DATA_DIR", &data_dir.0)
        .env("LIMEN_LISTEN", format!("127.0.0.1:{port}"))
        .env("NO_COLOR", "1");
    // The second libvirt host, for the migration saga's example.
    if let Ok(uri) = std::env::var("LIMEN_TEST_SECOND_HOST") {
        command.env("LIMEN_TEST_SECOND_HOST", uri);
    }
    command
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log));
    command
}

/// Polls `/readyz` until it answers 200 (a condition with a deadline, not a fixed wait).
pub fn wait_ready(port: u16, child: &mut Child, data_dir: &TempDir) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("http://127.0.0.1:{port}/readyz");
    loop {
        if reqwest::blocking::get(&url).is_ok_and(|r| r.status().is_success()) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "limen exited ({status}) before it was ready:\n{}",
                output_of(data_dir)
            );
        }
        assert!(Instant::now() < deadline, "limen never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the child to exit, up to `limit`; kills it and fails otherwise.
pub fn wait_exit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("limen did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn terminate(child: &mut Child) -> ExitStatus {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_exit(child, Duration::from_secs(15))
}

/// Everything the test's `limen` processes in this data directory printed.
pub fn output_of(data_dir: &TempDir) -> String {
    std::fs::read_to_string(log_path(data_dir)).unwrap_or_default()
}

pub const LIBVIRT: &str = "qemu:///system";

/// A `limen` against the real libvirtd, with its own database, data directory and port.
pub struct Node {
    pub db: TestDb,
    pub data_dir: TempDir,
    pub port: u16,
    /// The admin's session token, made on the first start (`limen user add`, then a login).
    token: std::sync::OnceLock<String>,
}

impl Node {
    pub fn new() -> Self {
        Self {
            db: TestDb::empty(),
            data_dir: TempDir::new(),
            port: free_port(),
            token: std::sync::OnceLock::new(),
        }
    }

    /// `limen user add NAME [--admin] --password-stdin` against this node's database.
    pub fn add_user(&self, name: &str, admin: bool) -> std::process::Output {
        use std::io::Write;
        let mut command = limen(&self.db.url, &self.data_dir, LIBVIRT, self.port);
        command.args(["user", "add", name, "--password-stdin"]);
        if admin {
            command.arg("--admin");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{}", super::PASSWORD).unwrap();
        child.wait_with_output().unwrap()
    }

    /// A client that acts as this node's admin (created on first use).
    pub fn client(&self) -> reqwest::blocking::Client {
        let token = self.token.get_or_init(|| {
            let added = self.add_user(super::ADMIN, true);
            assert!(
                added.status.success(),
                "limen user add: {}",
                String::from_utf8_lossy(&added.stderr)
            );
            let login: Value = reqwest::blocking::Client::new()
                .post(self.url("/api/v1/auth/login"))
                .json(&serde_json::json!({"username": super::ADMIN, "password": super::PASSWORD}))
                .send()
                .unwrap()
                .json()
                .unwrap();
            login["token"].as_str().expect("a login token").to_string()
        });
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        reqwest::blocking::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap()
    }

    pub fn start(&self, failpoint: Option<&str>) -> Running {
        let mut command = limen(&self.db.url, &self.data_dir, LIBVIRT, self.port);
        if let Some(failpoint) = failpoint {
            command.env("LIMEN_FAILPOINT", failpoint);
        }
        let mut child = Running(command.arg("serve").spawn().unwrap());
        wait_ready(self.port, &mut child, &self.data_dir);
        child
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn disk_files(&self) -> usize {
        std::fs::read_dir(self.data_dir.0.join("disks")).map_or(0, |dir| dir.count())
    }

    pub fn list(&self) -> Vec<Value> {
        self.client()
            .get(self.url("/api/v1/vms"))
            .send()
            .unwrap()
            .json()
            .unwrap()
    }
}

/// A `limen` child that is killed if the test ends without stopping it (e.g. on a panic).
pub struct Running(pub Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Names of domains a test created on the real libvirtd; whatever is still there when the test
/// ends (a panic included) is powered off and undefined, so no guest outlives its test.
#[derive(Default)]
pub struct DomainCleanup(pub Vec<String>);

impl Drop for DomainCleanup {
    fn drop(&mut self) {
        virt::error::clear_error_callback();
        let Ok(conn) = virt::connect::Connect::open(Some(LIBVIRT)) else {
            return;
        };
        for name in &self.0 {
            if let Ok(domain) = conn.lookup_domain_by_name(name) {
                remove_for_good(&domain);
            }
        }
    }
}

/// Powers a test's domain off and undefines it, with its snapshots' metadata (libvirt refuses
/// to undefine a domain that has snapshots otherwise).
fn remove_for_good(domain: &virt::domain::Domain) {
    let _ = domain.destroy();
    let _ = domain.undefine_flags(
        virt::sys::VIR_DOMAIN_UNDEFINE_NVRAM | virt::sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
    );
}

/// The process must die from a failpoint's abort, not exit normally.
pub fn expect_abort(child: &mut Child, node: &Node) {
    let status = wait_exit(child, Duration::from_secs(30));
    let output = output_of(&node.data_dir);
    assert!(!status.success(), "limen should have aborted: {output}");
    assert!(output.contains("failpoint"), "{output}");
}

/// Runs `virsh -c qemu:///system ARGS…` (a change behind Limen's back) and returns its output.
pub fn virsh(args: &[&str]) -> String {
    let output = Command::new("virsh")
        .args(["-c", LIBVIRT])
        .args(args)
        .output()
        .expect("virsh runs");
    assert!(
        output.status.success(),
        "virsh {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// UUIDs of domains a test's saga examples made on the real libvirtd; whatever is still there
/// when the test ends is powered off and undefined.
#[derive(Default)]
pub struct UuidCleanup(pub Vec<uuid::Uuid>);

impl Drop for UuidCleanup {
    fn drop(&mut self) {
        virt::error::clear_error_callback();
        // The second host too: a VM may have moved there.
        let second = std::env::var("LIMEN_TEST_SECOND_HOST").ok();
        for uri in std::iter::once(LIBVIRT.to_string()).chain(second) {
            let Ok(conn) = virt::connect::Connect::open(Some(&uri)) else {
                continue;
            };
            for id in &self.0 {
                if let Ok(domain) = conn.lookup_domain_by_uuid(*id) {
                    remove_for_good(&domain);
                }
            }
        }
    }
}
