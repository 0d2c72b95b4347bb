//! `GET /api/v1/version`: which Limen answers, and the database schema it runs on (for scripts
//! that check an upgrade went through).

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::auth::extract::Caller;
use crate::db::migrations::{binary_schema, RELEASE};
use crate::db::Db;
use crate::error::{report, ApiResult};

#[derive(Debug, Serialize)]
pub struct Version {
    /// The release, e.g. `0.1.0`.
    pub version: &'static str,
    /// The newest database schema this binary knows.
    pub schema: String,
    /// The schema the database is at (the same, once started).
    pub database_schema: Option<String>,
}

pub async fn version(State(db): State<Db>, Caller(_caller): Caller) -> ApiResult<Json<Version>> {
    let state = db.schema_state().await.map_err(report)?;
    Ok(Json(Version {
        version: RELEASE,
        schema: binary_schema(),
        database_schema: state.database_schema,
    }))
}
