//! Running the real `limen` binary in tests.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `limen` with a clean environment: this database, data directory, libvirt and port.
pub fn limen(db_url: &str, data_dir: &TempDir, libvirt_uri: &str, port: u16) -> Command {
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
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Polls `/readyz` until it answers 200 (a condition with a deadline, not a fixed wait).
pub fn wait_ready(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("http://127.0.0.1:{port}/readyz");
    loop {
        if reqwest::blocking::get(&url).is_ok_and(|r| r.status().is_success()) {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "limen exited ({status}) before it was ready:\n{}",
                output_of(child)
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

pub fn output_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut text).unwrap();
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut text).unwrap();
    }
    text
}
