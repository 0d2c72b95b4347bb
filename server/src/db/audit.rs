//! Queries on `audit_log`.

use app::auth::Outcome;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::audit_log;
use super::stored::Stored;
use super::DbError;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditRow {
    pub username: Option<String>,
    pub address: Option<String>,
    pub action: String,
    pub target: Option<String>,
    #[diesel(serialize_as = Stored<Outcome>)]
    pub outcome: Outcome,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub username: Option<String>,
    pub address: Option<String>,
    pub action: String,
    pub target: Option<String>,
    #[diesel(deserialize_as = Stored<Outcome>)]
    pub outcome: Outcome,
    pub detail: Option<String>,
}

pub fn audit_insert(conn: &mut PgConnection, row: &NewAuditRow) -> Result<(), DbError> {
    diesel::insert_into(audit_log::table)
        .values(row.clone())
        .execute(conn)?;
    Ok(())
}

/// Newest first: `limit` entries older than `before`, of `username` only if given.
pub fn audit_page(
    conn: &mut PgConnection,
    username: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRow>, DbError> {
    let mut query = audit_log::table
        .select(AuditRow::as_select())
        .order(audit_log::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(username) = username {
        query = query.filter(audit_log::username.eq(username.to_string()));
    }
    if let Some(before) = before {
        query = query.filter(audit_log::id.lt(before));
    }
    Ok(query.load(conn)?)
}
