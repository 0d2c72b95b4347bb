//! HTTPS served by the `limen` binary itself: the self-signed certificate made on first start
//! (its fingerprint in the log, kept across restarts), given PEM files, plain HTTP on the same
//! port redirected, the session cookie `Secure`, and JSON log lines that carry no secret.

mod common;

use std::time::{Duration, Instant};

use common::process::{free_port, limen, output_of, terminate, wait_exit, Running};
use common::{TempDir, TestDb, ADMIN, PASSWORD};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const TEST_DRIVER: &str = "test:///default";

/// A client that trusts exactly this certificate (so its names are checked too).
fn client_trusting(cert_pem: &[u8]) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Waits until the server answers `/readyz` over HTTPS (the certificate is read once it exists).
fn wait_https(port: u16, child: &mut Running, data_dir: &TempDir) -> Vec<u8> {
    let cert_path = data_dir.0.join("tls/cert.pem");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("limen exited ({status}):\n{}", output_of(data_dir));
        }
        if let Ok(pem) = std::fs::read(&cert_path) {
            let ready = client_trusting(&pem)
                .get(format!("https://localhost:{port}/readyz"))
                .send()
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return pem;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no HTTPS answer:\n{}",
            output_of(data_dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn add_admin(db: &TestDb, data_dir: &TempDir, port: u16) {
    use std::io::Write;
    let mut child = limen(&db.url, data_dir, TEST_DRIVER, port)
        .args(["user", "add", ADMIN, "--admin", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(wait_exit(&mut child, Duration::from_secs(20)).success());
}

fn fingerprint_of(pem: &[u8]) -> String {
    let text = std::str::from_utf8(pem).unwrap();
    let base64: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = decode_base64(&base64);
    Sha256::digest(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = text.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= u32::from(value(c)) << (18 - 6 * i);
        }
        out.extend_from_slice(&acc.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn self_signed_https_with_secure_cookies_a_redirect_for_plain_http_and_json_logs() {
    let db = TestDb::new();
    let data_dir = TempDir::new();
    let port = free_port();
    add_admin(&db, &data_dir, port);
    let start = || {
        Running(
            limen(&db.url, &data_dir, TEST_DRIVER, port)
                .env("LIMEN_TLS", "self-signed")
                .env("LIMEN_LOG_FORMAT", "json")
                .arg("serve")
                .spawn()
                .unwrap(),
        )
    };
    let mut server = start();
    let pem = wait_https(port, &mut server, &data_dir);
    let client = client_trusting(&pem);

    // The key is the owner's alone.
    use std::os::unix::fs::PermissionsExt;
    let key_mode = std::fs::metadata(data_dir.0.join("tls/key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);

    // A login over HTTPS gets a Secure cookie without LIMEN_SECURE_COOKIE.
    let login = client
        .post(format!("https://localhost:{port}/api/v1/auth/login"))
        .json(&json!({"username": ADMIN, "password": PASSWORD}))
        .send()
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
    let token = login.json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let version: Value = client
        .get(format!("https://127.0.0.1:{port}/api/v1/version"))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(version["schema"], version["database_schema"]);

    // Plain HTTP on the same port: sent to the same place over HTTPS.
    let plain = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/vms/x?tab=graphs"))
        .send()
        .unwrap();
    assert_eq!(plain.status(), 308);
    assert_eq!(
        plain.headers()["location"],
        format!("https://127.0.0.1:{port}/vms/x?tab=graphs").as_str()
    );

    // The log names the certificate's fingerprint, is JSON throughout, and holds no secret.
    let fingerprint = fingerprint_of(&pem);
    let log = output_of(&data_dir);
    let served: Vec<&str> = log.lines().filter(|l| l.starts_with('{')).collect();
    assert!(!served.is_empty(), "{log}");
    for line in &served {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    assert!(
        served.iter().any(|l| l.contains(&fingerprint)),
        "no {fingerprint} in:\n{log}"
    );
    let password = db.url.split(':').nth(2).unwrap().split('@').next().unwrap();
    for secret in [password, PASSWORD, token.as_str()] {
        assert!(!log.contains(secret), "a secret is in the log:\n{log}");
    }

    // A restart keeps the certificate (browsers accepted it once).
    assert!(terminate(&mut server).success());
    let mut server = start();
    let again = wait_https(port, &mut server, &data_dir);
    assert_eq!(fingerprint_of(&again), fingerprint);
    assert!(terminate(&mut server).success());
}

#[test]
fn given_certificate_files_are_served_and_a_key_of_another_certificate_is_refused() {
    // Made by a first server (self-signed), then handed to others as files.
    let db = TestDb::new();
    let made = TempDir::new();
    let port = free_port();
    let mut server = Running(
        limen(&db.url, &made, TEST_DRIVER, port)
            .env("LIMEN_TLS", "self-signed")
            .arg("serve")
            .spawn()
            .unwrap(),
    );
    let pem = wait_https(port, &mut server, &made);
    assert!(terminate(&mut server).success());
    let other = TempDir::new();
    let mut second = Running(
        limen(&db.url, &other, TEST_DRIVER, port)
            .env("LIMEN_TLS", "self-signed")
            .arg("serve")
            .spawn()
            .unwrap(),
    );
    wait_https(port, &mut second, &other);
    assert!(terminate(&mut second).success());

    let files = TempDir::new();
    let mut given = Running(
        limen(&db.url, &files, TEST_DRIVER, port)
            .env("LIMEN_TLS", "files")
            .env("LIMEN_TLS_CERT", made.0.join("tls/cert.pem"))
            .env("LIMEN_TLS_KEY", made.0.join("tls/key.pem"))
            .arg("serve")
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = client_trusting(&pem);
    while !client
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(given.try_wait().unwrap().is_none(), "{}", output_of(&files));
        assert!(Instant::now() < deadline, "{}", output_of(&files));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !files.0.join("tls").exists(),
        "nothing is made for given files"
    );
    assert!(terminate(&mut given).success());

    let mismatched = TempDir::new();
    let mut refused = limen(&db.url, &mismatched, TEST_DRIVER, free_port())
        .env("LIMEN_TLS", "files")
        .env("LIMEN_TLS_CERT", made.0.join("tls/cert.pem"))
        .env("LIMEN_TLS_KEY", other.0.join("tls/key.pem"))
        .arg("serve")
        .spawn()
        .unwrap();
    let status = wait_exit(&mut refused, Duration::from_secs(30));
    assert!(!status.success());
    let log = output_of(&mismatched);
    assert!(log.contains("cannot be used together"), "{log}");

    let missing = limen(&db.url, &mismatched, TEST_DRIVER, free_port())
        .env("LIMEN_TLS", "files")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let log = output_of(&mismatched);
    assert!(log.contains("LIMEN_TLS_CERT and LIMEN_TLS_KEY"), "{log}");
}
