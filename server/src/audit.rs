//! The audit log (SPEC §9): every mutating action, whoever asked and however it went, is
//! written here by the service layer, so REST and server functions are recorded alike.

use std::net::IpAddr;

use app::auth::{AuditEntry, Outcome, Principal};
use app::error::AppError;

use crate::db::audit::{AuditRow, NewAuditRow};
use crate::db::Db;
use crate::error::chain;

#[derive(Clone)]
pub struct AuditLog {
    db: Db,
}

/// One entry, built up by the caller and then recorded.
#[derive(Debug, Clone)]
pub struct Entry {
    username: Option<String>,
    address: Option<IpAddr>,
    action: &'static str,
    target: Option<String>,
    outcome: Outcome,
    detail: Option<String>,
}

impl Entry {
    /// What was done (`vm.start`, …): the kind of the operation metrics too.
    pub fn action(&self) -> &'static str {
        self.action
    }

    /// An action by a logged-in caller.
    pub fn by(caller: &Principal, action: &'static str) -> Self {
        Self {
            username: Some(caller.username.clone()),
            address: caller.address,
            ..Self::anonymous(None, action)
        }
    }

    /// An action by nobody logged in (a login attempt, the first-admin setup, the command line,
    /// Limen itself).
    pub fn anonymous(address: Option<IpAddr>, action: &'static str) -> Self {
        Self {
            username: None,
            address,
            action,
            target: None,
            outcome: Outcome::Success,
            detail: None,
        }
    }

    /// Who acted, when that became known during the action (a successful login).
    pub fn user(mut self, username: &str) -> Self {
        self.username = Some(username.to_string());
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(bounded(target.into()));
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(bounded(detail.into()));
        self
    }

    /// Success, or failure with the error's code and sentence as the detail.
    pub fn outcome<T>(mut self, result: &Result<T, AppError>) -> Self {
        if let Err(error) = result {
            self.outcome = Outcome::Failure;
            let code = serde_json::to_value(error.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let reason = format!("{code}: {}", error.message);
            self.detail = Some(bounded(match self.detail.take() {
                Some(detail) => format!("{detail}; {reason}"),
                None => reason,
            }));
        }
        self
    }
}

/// Targets and details are kept short: they may carry what a client sent (a login's username).
const MAX_TEXT: usize = 256;

fn bounded(text: String) -> String {
    // PostgreSQL text cannot hold NUL, and a log reader should not meet terminal escapes:
    // control characters (a hostile name's) are written as escapes.
    let mut text = if text.chars().any(char::is_control) {
        text.chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_default().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect()
    } else {
        text
    };
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

impl AuditLog {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Writes the entry. An audit write that fails is logged, not raised: the action it
    /// describes has already happened and its caller must hear how it went.
    pub async fn record(&self, entry: Entry) {
        let row = NewAuditRow {
            username: entry.username,
            address: entry.address.map(|a| a.to_string()),
            action: entry.action.to_string(),
            target: entry.target,
            outcome: entry.outcome,
            detail: entry.detail,
        };
        tracing::info!(
            user = row.username.as_deref().unwrap_or("-"),
            action = %row.action,
            target = row.target.as_deref().unwrap_or("-"),
            outcome = row.outcome.as_str(),
            "audit"
        );
        let result = self
            .db
            .run(move |conn| crate::db::audit::audit_insert(conn, &row))
            .await;
        if let Err(error) = result {
            tracing::error!(error = %chain(&error), "could not write an audit entry");
        }
    }
}

pub fn to_entry(row: AuditRow) -> AuditEntry {
    AuditEntry {
        id: row.id,
        at: row.at,
        username: row.username,
        address: row.address,
        action: row.action,
        target: row.target,
        outcome: row.outcome,
        detail: row.detail,
    }
}
