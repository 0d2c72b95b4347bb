//! The schema's version: which migrations this binary knows, which the database has, and the
//! forward-only upgrade between them. A database migrated by a newer Limen is refused in words
//! (naming both releases) before anything touches it.

use diesel::connection::Connection;
use diesel::migration::{Migration, MigrationSource};
use diesel::pg::{Pg, PgConnection};
use diesel::sql_types::{Nullable, Text};
use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbError;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// This binary's release (the workspace version).
pub const RELEASE: &str = env!("CARGO_PKG_VERSION");

/// Serialises migrations of one database between processes (a service restarting while an
/// admin runs `limen migrate`): "limen-m" in ASCII.
const MIGRATION_LOCK_KEY: i64 = 0x006c_696d_656e_2d6d;

/// The versions of the migrations this binary carries, oldest first.
pub fn known_versions() -> Vec<String> {
    let mut versions: Vec<String> = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .expect("the embedded migrations are readable")
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    versions.sort();
    versions
}

/// The newest schema this binary knows.
pub fn binary_schema() -> String {
    known_versions().pop().unwrap_or_default()
}

/// Where a database stands against this binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaState {
    /// The newest migration applied (None: an empty database).
    pub database_schema: Option<String>,
    /// The release that last migrated it, when the database says.
    pub database_release: Option<String>,
    /// Migrations this binary would apply.
    pub pending: Vec<String>,
    /// Migrations the database has that this binary does not know: a newer Limen made them.
    pub unknown: Vec<String>,
}

impl SchemaState {
    pub fn read(conn: &mut PgConnection) -> Result<Self, DbError> {
        let applied = applied_versions(conn)?;
        let known = known_versions();
        let release = if applied.is_empty() {
            None
        } else {
            release(conn)?
        };
        Ok(Self {
            database_schema: applied.iter().max().cloned(),
            database_release: release,
            pending: known
                .iter()
                .filter(|v| !applied.contains(v))
                .cloned()
                .collect(),
            unknown: applied
                .iter()
                .filter(|v| !known.contains(v))
                .cloned()
                .collect(),
        })
    }

    /// The refusal to use a database a newer Limen migrated, in words.
    pub fn ahead(&self) -> Option<String> {
        if self.unknown.is_empty() {
            return None;
        }
        let (by, run) = match &self.database_release {
            Some(release) => (
                format!("Limen {release}"),
                format!("Limen {release} or newer"),
            ),
            None => ("a newer Limen".to_string(), "that newer Limen".to_string()),
        };
        Some(format!(
            "the database was migrated by {by} (schema {}); this binary is Limen {RELEASE} and \
             knows the schema up to {}. Run {run}, or restore a backup made before the upgrade \
             onto an empty database",
            self.database_schema.as_deref().unwrap_or("?"),
            binary_schema(),
        ))
    }
}

/// Whether the table exists (PostgreSQL plans a query on a missing one as an error, so each
/// optional table is asked about first).
fn table_exists(conn: &mut PgConnection, table: &str) -> Result<bool, DbError> {
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = Nullable<Text>)]
        table: Option<String>,
    }
    let exists: Exists = diesel::sql_query("SELECT to_regclass($1)::text AS table")
        .bind::<Text, _>(table)
        .get_result(conn)?;
    Ok(exists.table.is_some())
}

fn applied_versions(conn: &mut PgConnection) -> Result<Vec<String>, DbError> {
    if !table_exists(conn, "__diesel_schema_migrations")? {
        return Ok(Vec::new());
    }
    // Read directly: diesel's own `applied_migrations` creates its table first, which a
    // read-only transaction (a backup's) refuses.
    #[derive(diesel::QueryableByName)]
    struct Applied {
        #[diesel(sql_type = Text)]
        version: String,
    }
    let applied: Vec<Applied> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations ORDER BY version")
            .load(conn)?;
    Ok(applied.into_iter().map(|a| a.version).collect())
}

fn release(conn: &mut PgConnection) -> Result<Option<String>, DbError> {
    #[derive(diesel::QueryableByName)]
    struct Release {
        #[diesel(sql_type = Nullable<Text>)]
        version: Option<String>,
    }
    if !table_exists(conn, "limen_release")? {
        return Ok(None);
    }
    // Read through JSON: a table of that name in another shape gives no release, not an error.
    let row: Release = diesel::sql_query(
        "SELECT (SELECT to_jsonb(r) ->> 'version' FROM limen_release r LIMIT 1) AS version",
    )
    .get_result(conn)?;
    Ok(row.version)
}

/// A database newer than the binary.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SchemaAhead(pub String);

/// Applies the pending migrations in one transaction (all or none), after checking that the
/// database is not ahead of the binary; records this release. Returns the versions applied.
pub fn migrate(conn: &mut PgConnection) -> Result<Vec<String>, DbError> {
    conn.transaction(|conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK_KEY)
            .execute(conn)?;
        let state = SchemaState::read(conn)?;
        if let Some(refusal) = state.ahead() {
            return Err(DbError::Migration(Box::new(SchemaAhead(refusal))));
        }
        // Inside our transaction diesel runs each migration in a savepoint: a failing one undoes
        // them all.
        let applied: Vec<String> = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(DbError::Migration)?
            .iter()
            .map(ToString::to_string)
            .collect();
        if !applied.is_empty() {
            record_release(conn)?;
        }
        Ok(applied)
    })
}

/// Records this binary as the release that last migrated the database.
pub fn record_release(conn: &mut PgConnection) -> Result<(), DbError> {
    diesel::sql_query(
        "INSERT INTO limen_release (version) VALUES ($1) \
         ON CONFLICT (singleton) DO UPDATE SET version = $1, migrated_at = now()",
    )
    .bind::<Text, _>(RELEASE)
    .execute(conn)?;
    Ok(())
}

/// Applies the migrations up to and including `version`, no further (tests build a database
/// as an older release left it; `limen restore` loads an archive into its own schema).
pub fn migrate_to(conn: &mut PgConnection, version: &str) -> Result<Vec<String>, DbError> {
    // diesel's own reading of the applied versions makes its bookkeeping table first.
    conn.applied_migrations().map_err(DbError::Migration)?;
    let applied = applied_versions(conn)?;
    let mut migrations =
        MigrationSource::<Pg>::migrations(&MIGRATIONS).map_err(DbError::Migration)?;
    migrations.sort_by_key(|m| m.name().version().to_string());
    let mut done = Vec::new();
    for migration in migrations {
        let name = migration.name().version().to_string();
        if name.as_str() > version || applied.contains(&name) {
            continue;
        }
        conn.run_migration(&migration).map_err(DbError::Migration)?;
        done.push(name);
    }
    Ok(done)
}
