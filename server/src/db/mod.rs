//! PostgreSQL through diesel. diesel's API is synchronous, so every query runs on tokio's
//! blocking pool through [`Db::run`] with a connection from an r2d2 pool: the async runtime never
//! waits on the database, and we use diesel's mature sync API rather than a second async stack.

pub mod audit;
pub mod hosts;
pub mod migrations;
pub mod models;
pub mod operations;
pub mod schema;
pub mod snapshots;
pub mod stats;
pub mod stored;
pub mod users;
pub mod vms;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, HandleError, Pool, PooledConnection};

pub use migrations::MIGRATIONS;

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

/// How long a query waits for a connection from a pool that is busy but healthy.
const BUSY_WAIT: Duration = Duration::from_secs(3);
/// The wait is taken in slices, so that a database that refuses connections is noticed within
/// one slice instead of the whole wait.
const SLICE: Duration = Duration::from_millis(200);
/// How long a refused connection attempt counts as "the database is down".
const REFUSAL_MEMORY: Duration = Duration::from_secs(5);

/// Whether PostgreSQL refused the pool's latest attempt to connect, with no success since:
/// told by the pool itself (its error handler and its new-connection hook).
#[derive(Debug, Default)]
struct Reachability {
    refused_at: Mutex<Option<Instant>>,
}

impl Reachability {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.refused_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn refusing(&self) -> bool {
        self.lock().is_some_and(|at| at.elapsed() < REFUSAL_MEMORY)
    }
}

#[derive(Debug)]
struct PoolWatch(Arc<Reachability>);

impl HandleError<diesel::r2d2::Error> for PoolWatch {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        match error {
            // Connecting failed: the database is down, unreachable, full, or refuses us. Said
            // once per outage, with the reason (the pool retries every ~1.5 s).
            diesel::r2d2::Error::ConnectionError(error) => {
                let mut refused_at = self.0.lock();
                if refused_at.is_none() {
                    tracing::warn!(%error, "the database refuses connections");
                }
                *refused_at = Some(Instant::now());
            }
            // A pooled connection failed its check: it is dropped and another one taken.
            diesel::r2d2::Error::QueryError(error) => {
                tracing::debug!(%error, "a pooled database connection was broken");
            }
        }
    }
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for PoolWatch {
    fn on_acquire(&self, _conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        if self.0.lock().take().is_some() {
            tracing::info!("the database accepts connections again");
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    reachability: Arc<Reachability>,
}

impl Db {
    /// Builds the pool without waiting for the database: `/readyz` reports it until it answers.
    pub fn connect(url: &str) -> Result<Self, DbError> {
        let reachability = Arc::new(Reachability::default());
        let pool = Pool::builder()
            .max_size(16)
            .min_idle(Some(1))
            .connection_timeout(BUSY_WAIT)
            .error_handler(Box::new(PoolWatch(Arc::clone(&reachability))))
            .connection_customizer(Box::new(PoolWatch(Arc::clone(&reachability))))
            .build_unchecked(ConnectionManager::new(url));
        Ok(Self { pool, reachability })
    }

    /// A connection from the pool: waits while the pool is busy, but gives up within a slice
    /// when the pool holds no connection and the database refuses new ones (a client hears
    /// "unavailable" at once, not after the whole wait).
    fn checkout(&self) -> Result<DbConn, DbError> {
        let started = Instant::now();
        loop {
            match self.pool.get_timeout(SLICE) {
                Ok(conn) => return Ok(conn),
                Err(error) => {
                    let down = self.pool.state().connections == 0 && self.reachability.refusing();
                    if down || started.elapsed() + SLICE > BUSY_WAIT {
                        return Err(DbError::Unavailable(error));
                    }
                }
            }
        }
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.checkout()?;
            f(&mut conn)
        })
        .await?
    }

    /// Applies pending migrations in one transaction, refusing a database a newer Limen
    /// migrated; returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<String>, DbError> {
        self.run(migrations::migrate).await
    }

    /// Where the database's schema stands against this binary.
    pub async fn schema_state(&self) -> Result<migrations::SchemaState, DbError> {
        self.run(migrations::SchemaState::read).await
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
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.checkout()?;
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
