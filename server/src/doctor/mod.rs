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
/// the data dir and its free space.
pub async fn readiness(db: &Db, hosts: &Hosts, config: &ReadinessConfig) -> Report {
    let (database, libvirt) = tokio::join!(database::readiness(db), libvirt::readiness(hosts));
    Report::of(vec![
        database,
        libvirt,
        data_dir::check(&config.data_dir, &config.libvirt_uri),
        system::disk_space(&config.data_dir),
    ])
}

/// What `/readyz` needs of the configuration.
#[derive(Debug, Clone)]
pub struct ReadinessConfig {
    pub data_dir: std::path::PathBuf,
    pub libvirt_uri: String,
}
