//! PostgreSQL through diesel. diesel's API is synchronous, so every query runs on tokio's
//! blocking pool through [`Db::run`] with a connection from an r2d2 pool: the async runtime never
//! waits on the database, and we use diesel's mature sync API rather than a second async stack.

pub mod audit;
pub mod models;
pub mod operations;
pub mod schema;
pub mod users;
pub mod vms;

use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

pub type PgPool = Pool<ConnectionManager<PgConnection>>;
pub type DbConn = PooledConnection<ConnectionManager<PgConnection>>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("the database is unreachable")]
    Unavailable(#[source] diesel::r2d2::PoolError),
    #[error("a database query failed")]
    Query(#[from] diesel::result::Error),
    #[error("applying database migrations failed")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("a database task was cancelled")]
    Join(#[from] tokio::task::JoinError),
}

impl DbError {
    /// The foreign key named `constraint` was violated.
    pub fn is_foreign_key_violation(&self, constraint: &str) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        matches!(self, DbError::Query(Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info))
            if info.constraint_name() == Some(constraint))
    }

    /// The unique constraint named `constraint` was violated.
    pub fn is_unique_violation(&self, constraint: &str) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        matches!(self, DbError::Query(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info))
            if info.constraint_name() == Some(constraint))
    }
}

/// The advisory lock key of a running server ("limen" in ASCII).
const SERVER_LOCK_KEY: i64 = 0x006c_696d_656e;

/// The server lock, held by the connection inside: keep the guard for as long as the lock is
/// needed (the server: for life). The lock ends with the process.
pub struct ServerLock {
    _conn: PooledConnection<ConnectionManager<PgConnection>>,
}

#[derive(Clone)]
pub struct Db {
    pool: PgPool,
}

impl Db {
    /// Builds the pool without waiting for the database: `/readyz` reports it until it answers.
    pub fn connect(url: &str) -> Result<Self, DbError> {
        let pool = Pool::builder()
            .max_size(16)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(3))
            .build_unchecked(ConnectionManager::new(url));
        Ok(Self { pool })
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(DbError::Unavailable)?;
            f(&mut conn)
        })
        .await?
    }

    /// Applies pending migrations; returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<String>, DbError> {
        self.run(|conn| {
            let applied = conn
                .run_pending_migrations(MIGRATIONS)
                .map_err(DbError::Migration)?;
            Ok(applied.iter().map(ToString::to_string).collect())
        })
        .await
    }

    /// Takes the lock that says "a Limen server works on this database", held by a connection
    /// set aside for as long as the returned guard lives (PostgreSQL releases it if the
    /// process dies). `None`: another process holds it.
    pub async fn try_server_lock(&self) -> Result<Option<ServerLock>, DbError> {
        use diesel::sql_types::Bool;
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Locked {
            #[diesel(sql_type = Bool)]
            locked: bool,
        }
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(DbError::Unavailable)?;
            let locked: Locked = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
                .bind::<diesel::sql_types::BigInt, _>(SERVER_LOCK_KEY)
                .get_result(&mut conn)?;
            Ok(locked.locked.then_some(ServerLock { _conn: conn }))
        })
        .await?
    }

    pub async fn ping(&self) -> Result<(), DbError> {
        use diesel::RunQueryDsl;
        self.run(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
        .await
    }
}
