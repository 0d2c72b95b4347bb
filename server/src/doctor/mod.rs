//! `limen doctor`: each thing that would otherwise reach a user as "unknown reason", checked and
//! said in words with what to do. The same checks (those that make sense inside a running
//! server) give `/readyz` its answer.
//!
//! A check has a `summary` anyone may read (it names no path, address or daemon message: `/readyz`
//! is public) and a `detail` and `advice` for the admin at the host's shell.

mod certificate;
mod data_dir;
mod database;
mod kvm;
mod libvirt;
mod system;

use std::time::Instant;

use serde::Serialize;

use crate::config::Config;
use crate::db::Db;
use crate::host::Hosts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Works, but worth knowing (software emulation only, little disk left).
    Warning,
    /// Limen (or its VMs) will not work until this is fixed.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// A stable name scripts can look for: `libvirt`, `kvm`, `data_dir`, `database`, …
    pub name: &'static str,
    pub status: Status,
    /// What was found, in words (no paths or addresses).
    pub summary: String,
    /// The particulars: paths, versions, the daemon's own message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

impl Check {
    fn new(name: &'static str, status: Status, summary: impl Into<String>) -> Self {
        Self {
            name,
            status,
            summary: summary.into(),
            detail: None,
            advice: None,
        }
    }

    fn ok(name: &'static str, summary: impl Into<String>) -> Self {
        Self::new(name, Status::Ok, summary)
    }

    fn warning(name: &'static str, summary: impl Into<String>) -> Self {
        Self::new(name, Status::Warning, summary)
    }

    fn failed(name: &'static str, summary: impl Into<String>) -> Self {
        Self::new(name, Status::Failed, summary)
    }

    fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    fn advice(mut self, advice: impl Into<String>) -> Self {
        self.advice = Some(advice.into());
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// No check failed.
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    fn of(checks: Vec<Check>) -> Self {
        Self {
            ok: checks.iter().all(|c| c.status != Status::Failed),
            checks,
        }
    }

    /// The report for a terminal: one line per check, its particulars and advice indented.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for check in &self.checks {
            let mark = match check.status {
                Status::Ok => "ok  ",
                Status::Warning => "WARN",
                Status::Failed => "FAIL",
            };
            text.push_str(&format!("[{mark}] {:<11} {}\n", check.name, check.summary));
            if let Some(detail) = &check.detail {
                text.push_str(&format!("       {:<11} {detail}\n", ""));
            }
            if let Some(advice) = &check.advice {
                text.push_str(&format!("       {:<11} → {advice}\n", ""));
            }
        }
        text.push_str(if self.ok {
            "Everything Limen needs is in place.\n"
        } else {
            "Limen will not work properly until the failed checks are fixed.\n"
        });
        text
    }
}

/// Every check, against the configuration (no server needed; beside a running one it only
/// reads).
pub async fn run(config: &Config) -> Report {
    let libvirt = libvirt::check(&config.libvirt_uri);
    let database = database::check(&config.database_url);
    let (libvirt, database) = tokio::join!(libvirt, database);
    let mut checks = vec![libvirt];
    checks.push(kvm::check(config.domain_type, &config.libvirt_uri));
    checks.push(data_dir::check(&config.data_dir, &config.libvirt_uri));
    checks.push(system::disk_space(&config.data_dir));
    checks.push(database.check);
    checks.push(system::clock(database.clock_skew_secs));
    checks.push(system::listen(config.listen, database.server_running));
    checks.push(certificate::check(config));
    Report::of(checks)
}

/// The checks a running server answers `/readyz` with: its database and libvirt connections,
/// the data dir and its free space. One computation at a time (the file checks run on the
/// blocking pool): callers that arrive meanwhile share the next result, which was begun after
/// they asked — a flood of probes costs one round at a time, and no answer is older than its
/// question.
pub async fn readiness(db: &Db, hosts: &Hosts, config: &ReadinessConfig) -> Report {
    let asked = Instant::now();
    let mut latest = config.latest.lock().await;
    if let Some((started, report)) = latest.as_ref() {
        if *started >= asked {
            return report.clone();
        }
    }
    let started = Instant::now();
    let files = {
        let (data_dir, uri) = (config.data_dir.clone(), config.libvirt_uri.clone());
        tokio::task::spawn_blocking(move || {
            (
                data_dir::check(&data_dir, &uri),
                system::disk_space(&data_dir),
            )
        })
    };
    let (database, libvirt, files) =
        tokio::join!(database::readiness(db), libvirt::readiness(hosts), files);
    let (data_dir, mut disk_space) = files.unwrap_or_else(|_| {
        let lost = || Check::failed("data_dir", "the data directory could not be checked");
        (
            lost(),
            Check::warning("disk_space", "the free space could not be read"),
        )
    });
    // A full disk is for the admin to fix through the dashboard (delete VMs, ISOs): it does not
    // make the server unready.
    if disk_space.status == Status::Failed {
        disk_space.status = Status::Warning;
    }
    let report = Report::of(vec![database, libvirt, data_dir, disk_space]);
    *latest = Some((started, report.clone()));
    report
}

/// What `/readyz` needs of the configuration, and its latest answer.
#[derive(Debug)]
pub struct ReadinessConfig {
    pub data_dir: std::path::PathBuf,
    pub libvirt_uri: String,
    latest: tokio::sync::Mutex<Option<(Instant, Report)>>,
}

impl ReadinessConfig {
    pub fn new(data_dir: std::path::PathBuf, libvirt_uri: String) -> Self {
        Self {
            data_dir,
            libvirt_uri,
            latest: tokio::sync::Mutex::new(None),
        }
    }
}
