//! `GET /api/v1/version`: which Limen answers, and the database schema it runs on (for scripts
//! that check an upgrade went through).

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::auth::extract::Caller;
use crate::db::migrations::{binary_schema, RELEASE};
use crate::db::Db;
use crate::error::{report, ApiResult};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Version {
    /// The release, e.g. `0.1.0`.
    pub version: &'static str,
    /// The newest database schema this binary knows.
    pub schema: String,
    /// The schema the database is at (the same, once started).
    #[schema(required)]
    pub database_schema: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/version",
    operation_id = "getVersion",
    tag = "meta",
    summary = "Which Limen answers, and its database schema",
    description = "The release of the running server, the newest database schema it knows and \
        the schema the database is at: after an upgrade, the two schemas are the same once the \
        server has migrated the database. Any logged-in user.",
    responses(
        (status = 200, description = "The release and the schemas.", body = Version),
    ),
    extensions(("x-error-codes" = json!([]))),
)]
pub async fn version(State(db): State<Db>, Caller(_caller): Caller) -> ApiResult<Json<Version>> {
    let state = db.schema_state().await.map_err(report)?;
    Ok(Json(Version {
        version: RELEASE,
        schema: binary_schema(),
        database_schema: state.database_schema,
    }))
}
