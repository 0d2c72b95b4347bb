//! Queries on `users`, `sessions`, `api_tokens` and `quotas`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use app::auth::Role;

use super::schema::{api_tokens, quotas, sessions, users};
use super::stored::Stored;
use super::DbError;

/// The primary key of `users` (a username taken).
pub const USERS_PKEY: &str = "users_pkey";
/// The foreign key from `vms.owner`: a user who owns VMs cannot be deleted.
pub const VMS_OWNER_FKEY: &str = "vms_owner_fkey";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub username: String,
    pub password_hash: String,
    #[diesel(deserialize_as = Stored<Role>)]
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// The dashboard language the user chose, if any (a code the dashboard speaks).
    pub language: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = quotas, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
pub struct QuotaRow {
    pub max_vms: Option<i32>,
    pub max_vcpus: Option<i32>,
    pub max_memory_mib: Option<i64>,
    pub max_disk_gb: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens, check_for_backend(diesel::pg::Pg))]
pub struct TokenRow {
    pub id: Uuid,
    pub username: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What a credential resolves to: the user behind it, if it is valid now.
#[derive(Debug, Clone)]
pub struct Credential {
    pub user: UserRow,
    /// When the session or token stops working (a token may never).
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub fn user_fetch(conn: &mut PgConnection, username: &str) -> Result<Option<UserRow>, DbError> {
    Ok(users::table
        .find(username)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn user_list(conn: &mut PgConnection) -> Result<Vec<UserRow>, DbError> {
    Ok(users::table
        .select(UserRow::as_select())
        .order(users::username.asc())
        .load(conn)?)
}

/// Whether an admin who can log in exists (a disabled one cannot).
pub fn admin_exists(conn: &mut PgConnection) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        users::table
            .filter(users::role.eq(Stored(Role::Admin)))
            .filter(users::disabled.eq(false)),
    ))
    .get_result(conn)?)
}

/// Serializes the changes that could leave no admin (or two first admins): a transaction-scoped
/// advisory lock.
fn lock_admins(conn: &mut PgConnection) -> Result<(), DbError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(7461658)").execute(conn)?;
    Ok(())
}

/// Why a change to a user was not made.
#[derive(Debug)]
pub enum UserChangeError {
    NoSuchUser,
    /// It would leave no admin who can log in.
    LastAdmin,
    Db(DbError),
}

impl From<DbError> for UserChangeError {
    fn from(error: DbError) -> Self {
        UserChangeError::Db(error)
    }
}

impl From<diesel::result::Error> for UserChangeError {
    fn from(error: diesel::result::Error) -> Self {
        UserChangeError::Db(error.into())
    }
}

/// Creates a user with its quota row, in one transaction.
pub fn user_insert(
    conn: &mut PgConnection,
    username: &str,
    password_hash: &str,
    role: Role,
    quota: QuotaRow,
) -> Result<UserRow, DbError> {
    conn.transaction(|conn| {
        let user = diesel::insert_into(users::table)
            .values((
                users::username.eq(username),
                users::password_hash.eq(password_hash),
                users::role.eq(Stored(role)),
            ))
            .returning(UserRow::as_returning())
            .get_result(conn)?;
        diesel::insert_into(quotas::table)
            .values((quotas::username.eq(username), quota))
            .execute(conn)?;
        Ok(user)
    })
}

/// Creates the first admin only if there is still no admin (a transaction-scoped advisory
/// lock makes two concurrent setups one after the other). `None`: an admin exists already.
pub fn first_admin_insert(
    conn: &mut PgConnection,
    username: &str,
    password_hash: &str,
) -> Result<Option<UserRow>, DbError> {
    conn.transaction(|conn| {
        lock_admins(conn)?;
        if admin_exists(conn)? {
            return Ok(None);
        }
        user_insert(
            conn,
            username,
            password_hash,
            Role::Admin,
            QuotaRow::default(),
        )
        .map(Some)
    })
}

/// Applies a change to a user in one transaction. A new password, a disabled account or a
/// changed role ends every open session of the user. Refused if no admin who can log in would
/// be left.
pub fn user_update(
    conn: &mut PgConnection,
    username: &str,
    password_hash: Option<&str>,
    role: Option<Role>,
    disabled: Option<bool>,
    quota: Option<QuotaRow>,
) -> Result<UserRow, UserChangeError> {
    conn.transaction(|conn| {
        lock_admins(conn)?;
        if user_fetch(conn, username)?.is_none() {
            return Err(UserChangeError::NoSuchUser);
        }
        let target = users::table.find(username);
        if let Some(hash) = password_hash {
            diesel::update(target)
                .set(users::password_hash.eq(hash))
                .execute(conn)?;
        }
        if let Some(role) = role {
            diesel::update(target)
                .set(users::role.eq(Stored(role)))
                .execute(conn)?;
        }
        if let Some(disabled) = disabled {
            diesel::update(target)
                .set(users::disabled.eq(disabled))
                .execute(conn)?;
        }
        if let Some(quota) = quota {
            diesel::insert_into(quotas::table)
                .values((quotas::username.eq(username), quota))
                .on_conflict(quotas::username)
                .do_update()
                .set(quota)
                .execute(conn)?;
        }
        if !admin_exists(conn)? {
            return Err(UserChangeError::LastAdmin);
        }
        if password_hash.is_some() || disabled == Some(true) || role.is_some() {
            diesel::delete(sessions::table.filter(sessions::username.eq(username)))
                .execute(conn)?;
        }
        user_fetch(conn, username)?.ok_or(UserChangeError::NoSuchUser)
    })
}

/// Stores the dashboard language a user chose (`None`: none). `false`: no such user.
pub fn user_set_language(
    conn: &mut PgConnection,
    username: &str,
    language: Option<&str>,
) -> Result<bool, DbError> {
    Ok(diesel::update(users::table.find(username))
        .set(users::language.eq(language))
        .execute(conn)?
        == 1)
}

/// Deletes a user (their sessions, tokens and quota go with them). Fails with
/// [`VMS_OWNER_FKEY`] while the user owns VMs; refused if no admin would be left.
pub fn user_delete(conn: &mut PgConnection, username: &str) -> Result<(), UserChangeError> {
    conn.transaction(|conn| {
        lock_admins(conn)?;
        if diesel::delete(users::table.find(username)).execute(conn)? == 0 {
            return Err(UserChangeError::NoSuchUser);
        }
        if !admin_exists(conn)? {
            return Err(UserChangeError::LastAdmin);
        }
        Ok(())
    })
}

pub fn quota_fetch(conn: &mut PgConnection, username: &str) -> Result<QuotaRow, DbError> {
    Ok(quotas::table
        .find(username)
        .select(QuotaRow::as_select())
        .first(conn)
        .optional()?
        .unwrap_or_default())
}

/// What every record a user owns holds, whatever its state.
#[derive(Debug, Clone, Copy, Default, QueryableByName)]
pub struct UsageRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub vms: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub vcpus: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub memory_mib: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub disk_gb: i64,
}

pub fn usage_of(conn: &mut PgConnection, username: &str) -> Result<UsageRow, DbError> {
    // PostgreSQL sums bigints as numeric; the totals fit a bigint, so cast back. A disk counts
    // for its size, or for what its file takes when that is more (internal snapshots).
    Ok(diesel::sql_query(
        "SELECT count(*)::bigint AS vms, \
                coalesce(sum(vcpus), 0)::bigint AS vcpus, \
                coalesce(sum(memory_mib), 0)::bigint AS memory_mib, \
                coalesce(sum(greatest(disk_size_gb, disk_allocated_gb)), 0)::bigint AS disk_gb \
         FROM vms WHERE owner = $1",
    )
    .bind::<diesel::sql_types::Text, _>(username)
    .get_result(conn)?)
}

pub fn session_insert(
    conn: &mut PgConnection,
    token_hash: &str,
    username: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::token_hash.eq(token_hash),
            sessions::username.eq(username),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The user of a live session (not expired, user not disabled).
pub fn session_resolve(
    conn: &mut PgConnection,
    token_hash: &str,
) -> Result<Option<Credential>, DbError> {
    let found: Option<(UserRow, DateTime<Utc>, DateTime<Utc>)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(token_hash))
        .filter(sessions::expires_at.gt(Utc::now()))
        .filter(users::disabled.eq(false))
        .select((
            UserRow::as_select(),
            sessions::expires_at,
            sessions::last_used_at,
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(|(user, expires_at, last_used_at)| Credential {
        user,
        expires_at: Some(expires_at),
        last_used_at: Some(last_used_at),
    }))
}

/// Moves a live session's expiry (renewal) and marks it used. `false`: the session is gone
/// (logged out or expired meanwhile).
pub fn session_renew(
    conn: &mut PgConnection,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let renewed = diesel::update(
        sessions::table
            .find(token_hash)
            .filter(sessions::expires_at.gt(Utc::now())),
    )
    .set((
        sessions::expires_at.eq(expires_at),
        sessions::last_used_at.eq(Utc::now()),
    ))
    .execute(conn)?;
    Ok(renewed == 1)
}

pub fn session_delete(conn: &mut PgConnection, token_hash: &str) -> Result<(), DbError> {
    diesel::delete(sessions::table.find(token_hash)).execute(conn)?;
    Ok(())
}

/// Expired sessions are of no use to anyone: swept whenever a session starts or ends.
pub fn sessions_sweep(conn: &mut PgConnection) -> Result<(), DbError> {
    diesel::delete(sessions::table.filter(sessions::expires_at.lt(Utc::now()))).execute(conn)?;
    Ok(())
}

pub fn token_insert(
    conn: &mut PgConnection,
    id: Uuid,
    username: &str,
    name: &str,
    token_hash: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<TokenRow, DbError> {
    Ok(diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::id.eq(id),
            api_tokens::username.eq(username),
            api_tokens::name.eq(name),
            api_tokens::token_hash.eq(token_hash),
            api_tokens::expires_at.eq(expires_at),
        ))
        .returning(TokenRow::as_returning())
        .get_result(conn)?)
}

pub fn token_list(conn: &mut PgConnection, username: &str) -> Result<Vec<TokenRow>, DbError> {
    Ok(api_tokens::table
        .filter(api_tokens::username.eq(username))
        .select(TokenRow::as_select())
        .order(api_tokens::created_at.desc())
        .load(conn)?)
}

/// The user of a valid token (not expired, user not disabled); its id for "last used".
pub fn token_resolve(
    conn: &mut PgConnection,
    token_hash: &str,
) -> Result<Option<(Uuid, Credential)>, DbError> {
    #[allow(clippy::type_complexity)]
    let found: Option<(UserRow, Uuid, Option<DateTime<Utc>>, Option<DateTime<Utc>>)> =
        api_tokens::table
            .inner_join(users::table)
            .filter(api_tokens::token_hash.eq(token_hash))
            .filter(
                api_tokens::expires_at
                    .is_null()
                    .or(api_tokens::expires_at.gt(Utc::now())),
            )
            .filter(users::disabled.eq(false))
            .select((
                UserRow::as_select(),
                api_tokens::id,
                api_tokens::expires_at,
                api_tokens::last_used_at,
            ))
            .first(conn)
            .optional()?;
    Ok(found.map(|(user, id, expires_at, last_used_at)| {
        (
            id,
            Credential {
                user,
                expires_at,
                last_used_at,
            },
        )
    }))
}

pub fn token_touch(conn: &mut PgConnection, id: Uuid) -> Result<(), DbError> {
    diesel::update(api_tokens::table.find(id))
        .set(api_tokens::last_used_at.eq(Utc::now()))
        .execute(conn)?;
    Ok(())
}

/// The hash of the token removed; `None`: the user has no token with that id.
pub fn token_delete(
    conn: &mut PgConnection,
    username: &str,
    id: Uuid,
) -> Result<Option<String>, DbError> {
    Ok(diesel::delete(
        api_tokens::table
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::username.eq(username)),
    )
    .returning(api_tokens::token_hash)
    .get_result(conn)
    .optional()?)
}

pub fn token_count(conn: &mut PgConnection, username: &str) -> Result<i64, DbError> {
    Ok(api_tokens::table
        .filter(api_tokens::username.eq(username))
        .count()
        .get_result(conn)?)
}
