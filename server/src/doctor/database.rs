//! The database: reachable, migrated, and not ahead of the binary.

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::sql_types::{Bool, Double};
use diesel::{Connection, RunQueryDsl};

use super::Check;
use crate::db::migrations::{self, SchemaState};
use crate::db::Db;
use crate::error::chain;

const PATIENCE: Duration = Duration::from_secs(15);

/// What the database check learns beyond its verdict, for the checks after it.
pub struct Findings {
    pub check: Check,
    /// The database's clock minus ours, in seconds (None: not asked).
    pub clock_skew_secs: Option<f64>,
    /// A Limen server holds this database's server lock.
    pub server_running: bool,
}

pub async fn check(url: &str) -> Findings {
    let owned = url.to_string();
    let answer = tokio::time::timeout(
        PATIENCE,
        tokio::task::spawn_blocking(move || inspect(&owned)),
    )
    .await;
    let failed = |check: Check| Findings {
        check,
        clock_skew_secs: None,
        server_running: false,
    };
    let (state, skew, server_running) = match answer {
        Ok(Ok(Ok(found))) => found,
        Ok(Ok(Err(message))) => {
            let (summary, advice) = explain(&message);
            return failed(
                Check::failed("database", summary)
                    .detail(format!("{}: {message}", redact(url)))
                    .advice(advice),
            );
        }
        Ok(Err(join)) => return failed(Check::failed("database", join.to_string())),
        Err(_) => {
            return failed(
                Check::failed("database", "the database does not answer")
                    .detail(format!(
                        "{}: no answer within {} s",
                        redact(url),
                        PATIENCE.as_secs()
                    ))
                    .advice(
                        "check that PostgreSQL runs and database_url's host and port are right",
                    ),
            )
        }
    };
    let detail = format!(
        "{}: schema {}, Limen {} knows up to {}",
        redact(url),
        state.database_schema.as_deref().unwrap_or("(empty)"),
        migrations::RELEASE,
        migrations::binary_schema()
    );
    let check = if let Some(refusal) = state.ahead() {
        Check::failed("database", "the database is newer than this binary")
            .detail(refusal)
            .advice("run the newer Limen, or restore a backup onto an empty database")
    } else if state.database_schema.is_none() {
        Check::ok(
            "database",
            "the database answers and is empty: Limen sets it up at start",
        )
        .detail(detail)
    } else if !state.pending.is_empty() {
        Check::ok(
            "database",
            format!(
                "the database answers; {} migration(s) will be applied at the next start",
                state.pending.len()
            ),
        )
        .detail(detail)
        .advice("take a backup first: limen backup FILE")
    } else {
        Check::ok("database", "the database answers and its schema is current").detail(detail)
    };
    Findings {
        check,
        clock_skew_secs: Some(skew),
        server_running,
    }
}

fn inspect(url: &str) -> Result<(SchemaState, f64, bool), String> {
    // A host that drops packets would hold libpq for minutes without a connect timeout.
    let separator = if url.contains('?') { '&' } else { '?' };
    let bounded = if url.contains("connect_timeout=") {
        url.to_string()
    } else {
        format!("{url}{separator}connect_timeout=10")
    };
    let mut conn = PgConnection::establish(&bounded).map_err(|e| scrub(&e.to_string(), url))?;
    let state = SchemaState::read(&mut conn).map_err(|e| chain(&e))?;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Double)]
        skew: f64,
        #[diesel(sql_type = Bool)]
        running: bool,
    }
    let before = chrono::Utc::now();
    // The server lock is an advisory lock on key 0x006c_696d_656e ("limen"): its high and low
    // halves are the lock's classid and objid.
    let row: Row = diesel::sql_query(
        "SELECT extract(epoch FROM clock_timestamp())::float8 AS skew, \
         EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 108 \
                 AND objid = 1768777070 AND objsubid = 1 AND granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) \
         AS running",
    )
    .get_result(&mut conn)
    .map_err(|e| scrub(&e.to_string(), url))?;
    let after = chrono::Utc::now();
    let ours = (before.timestamp_micros() + after.timestamp_micros()) as f64 / 2e6;
    Ok((state, row.skew - ours, row.running))
}

/// libpq's message, turned into what it means and what to do.
fn explain(message: &str) -> (String, String) {
    let lower = message.to_lowercase();
    if lower.contains("connection refused") || lower.contains("no such file or directory") {
        (
            "PostgreSQL does not accept connections (is it running?)".into(),
            "start it: systemctl start postgresql (pg_lsclusters shows Debian's clusters)".into(),
        )
    } else if lower.contains("password authentication failed") || lower.contains("no password") {
        (
            "the database refuses Limen's password".into(),
            "check the password in database_url (make install wrote it to /etc/limen/limen.toml)"
                .into(),
        )
    } else if lower.contains("does not exist") {
        (
            "the database or its role does not exist".into(),
            "create them: runuser -u postgres -- createuser -P limen && runuser -u postgres -- createdb -O limen limen"
                .into(),
        )
    } else if lower.contains("could not translate host name")
        || lower.contains("timeout")
        || lower.contains("timed out")
    {
        (
            "the database host cannot be reached".into(),
            "check database_url's host and port".into(),
        )
    } else {
        (
            "the database cannot be reached".into(),
            "check database_url; `psql \"$URL\"` shows the same error".into(),
        )
    }
}

/// A database URL with its password hidden (for the detail line): in the user part and in a
/// `password=` parameter.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".into();
    };
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => rest.to_string(),
    };
    let rest = match rest.split_once('?') {
        Some((place, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            format!("{place}?{}", query.join("&"))
        }
        None => rest,
    };
    format!("{scheme}://{rest}")
}

/// libpq's message with any piece of the URL's password taken out (a parse error can quote it).
fn scrub(message: &str, url: &str) -> String {
    let secrets = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .into_iter()
        .flat_map(|rest| {
            let userinfo = rest.rsplit_once('@').map(|(u, _)| u).unwrap_or("");
            let from_user = userinfo.split_once(':').map(|(_, p)| p.to_string());
            let from_query = rest.split_once('?').and_then(|(_, q)| {
                q.split('&')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.eq_ignore_ascii_case("password"))
                    .map(|(_, v)| v.to_string())
            });
            from_user.into_iter().chain(from_query)
        })
        .filter(|secret| !secret.is_empty());
    secrets.fold(message.to_string(), |text, secret| {
        text.replace(&secret, "***")
    })
}

/// The server's own pool answers, and the schema is not ahead of it.
pub async fn readiness(db: &Db) -> Check {
    match db.schema_state().await {
        Ok(state) if state.ahead().is_some() => {
            Check::failed("database", "the database is newer than this binary")
        }
        Ok(_) => Check::ok("database", "the database answers"),
        Err(error) => {
            tracing::warn!(error = %chain(&error), "readiness: the database does not answer");
            Check::failed("database", "the database does not answer")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        assert_eq!(
            redact("postgres://limen:s3cret@127.0.0.1:5432/limen"),
            "postgres://limen:***@127.0.0.1:5432/limen"
        );
        assert!(!redact("postgres://a:b:c@d/e").contains("b:c"));
        assert_eq!(
            redact("postgres://limen@h/limen?password=s3cret&sslmode=require"),
            "postgres://limen@h/limen?password=***&sslmode=require"
        );
        assert_eq!(
            scrub("invalid token \"s3cret%\"", "postgres://u:s3cret%@h/d"),
            "invalid token \"***\""
        );
        assert_eq!(
            explain("connection refused").0,
            "PostgreSQL does not accept connections (is it running?)"
        );
    }
}
