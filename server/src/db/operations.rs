//! Queries on `operations`: the saga log.

use chrono::Utc;
use diesel::prelude::*;
use uuid::Uuid;

use super::models::OperationRow;
use super::schema::operations;
use super::stored::{names_where, OperationState, Stored};
use super::DbError;

pub fn op_insert(
    conn: &mut PgConnection,
    id: Uuid,
    kind: &str,
    vm: Uuid,
    params: serde_json::Value,
) -> Result<(), DbError> {
    diesel::insert_into(operations::table)
        .values((
            operations::id.eq(id),
            operations::kind.eq(kind),
            operations::vm_uuid.eq(vm),
            operations::params.eq(params),
        ))
        .execute(conn)?;
    Ok(())
}

/// Appends `step` to the started steps (once).
pub fn op_step_started(conn: &mut PgConnection, id: Uuid, step: &str) -> Result<(), DbError> {
    diesel::sql_query(
        "UPDATE operations SET steps_started = array_append(steps_started, $2), updated_at = now() \
         WHERE id = $1 AND NOT ($2 = ANY(steps_started))",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<diesel::sql_types::Text, _>(step)
    .execute(conn)?;
    Ok(())
}

pub fn op_set_state(
    conn: &mut PgConnection,
    id: Uuid,
    state: OperationState,
    error: Option<&str>,
) -> Result<(), DbError> {
    diesel::update(operations::table.find(id))
        .set((
            operations::state.eq(Stored(state)),
            operations::error.eq(error),
            operations::updated_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The operation's state now (`None`: no such operation).
pub fn op_state(conn: &mut PgConnection, id: Uuid) -> Result<Option<OperationState>, DbError> {
    Ok(operations::table
        .find(id)
        .select(operations::state)
        .first::<Stored<OperationState>>(conn)
        .optional()?
        .map(|stored| stored.0))
}

/// Operations cut off before they finished (by a crash, or a database outage), oldest first.
pub fn op_unfinished(conn: &mut PgConnection) -> Result<Vec<OperationRow>, DbError> {
    Ok(operations::table
        .filter(operations::state.eq_any(names_where(
            &OperationState::ALL,
            OperationState::is_unfinished,
        )))
        .order(operations::created_at.asc())
        .select(OperationRow::as_select())
        .load(conn)?)
}
