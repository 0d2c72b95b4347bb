//! Test support: a fresh PostgreSQL database per test, cloned from a migrated template
//! (as crates.io's test database does), and the real router served on an ephemeral port.
//!
//! Needs `LIMEN_TEST_DATABASE_URL` (a database on a server where the role may CREATE DATABASE);
//! `make test` sets it from `scripts/postgres.sh limen_test`.
#![allow(dead_code)]

pub mod contract;
pub mod guest;
pub mod process;
pub mod sse;
pub mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use app::auth::{CreateUserRequest, LoginRequest, Quota, Role};
use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::MigrationHarness;
use server::config::{Config, DomainTypeSetting};
use server::db::{Db, MIGRATIONS};
use uuid::Uuid;

fn base_url() -> String {
    std::env::var("LIMEN_TEST_DATABASE_URL").expect(
        "LIMEN_TEST_DATABASE_URL is not set: run `make test`, or export the URL that \
         `scripts/postgres.sh limen_test` prints",
    )
}

/// `postgres://…/name` with the database name replaced.
fn url_for(database: &str) -> String {
    let base = base_url();
    let (server, _) = base.rsplit_once('/').expect("a database URL ends in /NAME");
    format!("{server}/{database}")
}

/// The template name carries a hash of the migrations, so a schema change makes a new one.
fn template_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
        let mut files: Vec<_> = walk(PathBuf::from(dir));
        files.sort();
        for file in files {
            file.to_string_lossy().hash(&mut hasher);
            std::fs::read(&file).unwrap().hash(&mut hasher);
        }
        format!("limen_template_{:016x}", hasher.finish())
    })
}

fn walk(dir: PathBuf) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Creates the migrated template once per server (an advisory lock serializes test binaries).
fn ensure_template(admin: &mut PgConnection) {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let name = template_name();
        diesel::sql_query("SELECT pg_advisory_lock(7461657)")
            .execute(admin)
            .unwrap();
        let exists: i64 = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
        ))
        .get_result::<Count>(admin)
        .unwrap()
        .n;
        if exists == 0 {
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(admin)
                .unwrap();
            let mut conn = PgConnection::establish(&url_for(name)).unwrap();
            conn.run_pending_migrations(MIGRATIONS).unwrap();
        }
        diesel::sql_query("SELECT pg_advisory_unlock(7461657)")
            .execute(admin)
            .unwrap();
    });
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A database of its own, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn new() -> Self {
        let mut admin = PgConnection::establish(&base_url()).expect("connect to the test server");
        ensure_template(&mut admin);
        let name = format!("limen_test_{}", Uuid::new_v4().simple());
        diesel::sql_query(format!(
            "CREATE DATABASE {name} TEMPLATE {}",
            template_name()
        ))
        .execute(&mut admin)
        .unwrap();
        Self {
            url: url_for(&name),
            name,
        }
    }

    /// An empty database, without Limen's schema.
    pub fn empty() -> Self {
        let mut admin = PgConnection::establish(&base_url()).expect("connect to the test server");
        let name = format!("limen_test_{}", Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap();
        Self {
            url: url_for(&name),
            name,
        }
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).unwrap()
    }

    /// `state` of every operation, oldest first.
    pub fn operation_states(&self) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct State {
            #[diesel(sql_type = diesel::sql_types::Text)]
            state: String,
        }
        diesel::sql_query("SELECT state FROM operations ORDER BY created_at")
            .load::<State>(&mut self.connect())
            .unwrap()
            .into_iter()
            .map(|row| row.state)
            .collect()
    }

    pub fn count_vms(&self) -> i64 {
        self.count("SELECT count(*) AS n FROM vms")
    }

    /// Runs SQL statements (to set up what only a crash or another process would leave).
    pub fn execute(&self, sql: &str) {
        use diesel::connection::SimpleConnection;
        self.connect().batch_execute(sql).unwrap();
    }

    /// The `n` a counting query (`SELECT count(*) AS n …`) answers.
    pub fn count(&self, query: &str) -> i64 {
        diesel::sql_query(query)
            .get_result::<Count>(&mut self.connect())
            .unwrap()
            .n
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&base_url()) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("limen-test-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn test_config(database_url: &str, data_dir: &TempDir, libvirt_uri: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: database_url.to_string(),
        libvirt_uri: libvirt_uri.to_string(),
        domain_type: DomainTypeSetting::Qemu,
        data_dir: data_dir.0.clone(),
        reconcile_secs: 60,
        console_autostart: true,
        iso_upload_max_mb: 64,
        image_copy_mb_per_s: 0,
        max_snapshots_per_vm: 20,
        snapshot_sweep_secs: 10,
        stats_secs: 5,
        stats_retention_days: 30,
        metrics_token: None,
        ssh_keyfile: None,
        session_hours: 168,
        secure_cookie: false,
        public_url: None,
        trusted_proxies: Vec::new(),
        site_root: data_dir.0.join("site"),
        tls: server::config::TlsSetting::Off,
        log_format: server::config::LogFormat::Text,
        failpoint: None,
        file: None,
    }
}

/// The real router on 127.0.0.1:0 with a fresh database and data directory.
pub struct TestApp {
    pub addr: SocketAddr,
    /// Sends the admin's token with every request (what most tests need).
    pub client: reqwest::Client,
    /// The admin's bearer token (user `admin`).
    pub admin_token: String,
    /// The accounts service (to make users without going through HTTP).
    pub accounts: std::sync::Arc<server::auth::AccountService>,
    pub db: TestDb,
    pub data_dir: TempDir,
    pub libvirt_uri: String,
    /// The app's saga runner and its context (to drive steps or recovery directly).
    pub sagas: server::ops::Sagas,
    /// The VM service (for what only tests do to it, e.g. expiring console tickets).
    pub vms: std::sync::Arc<server::service::VmService>,
    /// Cancelled when the test app is dropped: its monitor and event streams stop.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Responses that broke the API's description (`contract.rs`): the test fails on any.
    pub violations: contract::Violations,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let violations = std::mem::take(&mut *self.violations.lock().unwrap());
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "the server answered outside its API description (server/src/api/openapi):\n  {}",
                violations.join("\n  ")
            );
        }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(TestDb::new(), "test:///default").await
    }

    pub async fn spawn_with(db: TestDb, libvirt_uri: &str) -> Self {
        Self::spawn_configured(db, libvirt_uri, |_| {}).await
    }

    /// With the test configuration changed by `change` first.
    pub async fn spawn_configured(
        db: TestDb,
        libvirt_uri: &str,
        change: impl FnOnce(&mut Config),
    ) -> Self {
        let data_dir = TempDir::new();
        let mut config = test_config(&db.url, &data_dir, libvirt_uri);
        change(&mut config);
        Self::serve(config, db, data_dir, false).await
    }

    /// With a failpoint (`KIND.STEP:error`) armed in the sagas.
    pub async fn spawn_with_failpoint(failpoint: &str) -> Self {
        let db = TestDb::new();
        let data_dir = TempDir::new();
        let mut config = test_config(&db.url, &data_dir, "test:///default");
        config.failpoint = Some(failpoint.to_string());
        Self::serve(config, db, data_dir, false).await
    }

    /// With a database URL that points nowhere (for "database down" tests).
    pub async fn spawn_without_database() -> Self {
        let data_dir = TempDir::new();
        let db = TestDb::new();
        let config = test_config(
            "postgres://limen:x@127.0.0.1:1/none",
            &data_dir,
            "test:///default",
        );
        Self::serve(config, db, data_dir, true).await
    }

    async fn serve(config: Config, db: TestDb, data_dir: TempDir, skip_migrations: bool) -> Self {
        let pool = Db::connect(&config.database_url).unwrap();
        if !skip_migrations {
            pool.migrate().await.unwrap();
        }
        let state = server::build_state(&config, pool).unwrap();
        // A database left unmigrated on purpose has no hosts table.
        let loaded = server::load_hosts(&state, &config).await;
        assert!(skip_migrations || loaded.is_ok(), "{loaded:?}");
        // As `limen serve` does, but without the periodic reconciler: tests reconcile when
        // they mean to.
        server::background::start_monitors(
            state.vms.sagas(),
            config.snapshot_sweep_secs,
            &state.shutdown,
        );
        let sagas = state.vms.sagas().clone();
        let vms = state.vms.clone();
        let shutdown = state.shutdown.clone();
        let accounts = state.accounts.clone();
        let admin_token = if skip_migrations {
            String::new()
        } else {
            make_user(&accounts, ADMIN, Role::Admin, Quota::default()).await
        };
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let violations = contract::Violations::default();
        let checked = contract::checked(server::router(state), violations.clone());
        tokio::spawn(async move {
            let app = checked.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            client: client_with_token(&admin_token),
            admin_token,
            accounts,
            db,
            data_dir,
            libvirt_uri: config.libvirt_uri,
            sagas,
            vms,
            shutdown,
            violations,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// What the sagas run against.
    pub fn cx(&self) -> &server::context::Context {
        self.sagas.context()
    }

    /// The one host the app manages (`local`).
    pub fn host(&self) -> std::sync::Arc<server::host::Host> {
        self.cx().hosts.local()
    }

    /// A new user with a session; returns a client that sends its token.
    pub async fn user(&self, username: &str, role: Role, quota: Quota) -> reqwest::Client {
        client_with_token(&make_user(&self.accounts, username, role, quota).await)
    }

    pub fn disk_files(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.data_dir.0.join("disks")) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// A libvirt connection of the test's own, to look at (or tamper with) the hypervisor.
    pub fn libvirt(&self) -> virt::connect::Connect {
        virt::connect::Connect::open(Some(&self.libvirt_uri)).unwrap()
    }

    pub fn domain_exists(&self, name: &str) -> bool {
        self.libvirt().lookup_domain_by_name(name).is_ok()
    }

    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client.delete(self.url(path)).send().await.unwrap()
    }

    /// Creates the smallest VM (1 vCPU, 64 MiB, a 1 GiB disk) named `name`; returns its UUID.
    pub async fn create_small_vm(&self, name: &str) -> String {
        let body = serde_json::json!({ "name": name, "cpu": 1, "memory": 64, "disk_size": 1 });
        let vm: serde_json::Value = self.post_for_json("/api/v1/vms", body).await;
        vm["uuid"].as_str().expect("created").to_string()
    }

    /// POST JSON and parse the JSON answer (whatever its status).
    pub async fn post_for_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> T {
        self.post_json(path, body).await.json().await.unwrap()
    }

    /// GET and parse the JSON body.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.get(path).await.json().await.unwrap()
    }
}

/// The admin every `TestApp` has, and the password of every test user.
pub const ADMIN: &str = "admin";
pub const PASSWORD: &str = "correct horse battery";

/// Creates a user (password [`PASSWORD`]).
pub async fn create_user(
    accounts: &server::auth::AccountService,
    username: &str,
    role: Role,
    quota: Quota,
) {
    let request = CreateUserRequest {
        username: username.into(),
        password: PASSWORD.into(),
        role,
        quota,
    };
    server::auth::create_user_directly(accounts.db(), &request)
        .await
        .unwrap();
}

/// Creates a user and logs them in; returns the session token.
pub async fn make_user(
    accounts: &server::auth::AccountService,
    username: &str,
    role: Role,
    quota: Quota,
) -> String {
    use app::ports::AccountPort;
    create_user(accounts, username, role, quota).await;
    let login = LoginRequest {
        username: username.into(),
        password: PASSWORD.into(),
    };
    accounts.login(login, None).await.unwrap().token
}

/// GET `url` as `client`'s caller and parse the JSON answer (whatever its status).
pub async fn get_json_as<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: String,
) -> T {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// POST JSON to `url` as `client`'s caller and parse the JSON answer (whatever its status).
pub async fn post_json_as<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: String,
    body: serde_json::Value,
) -> T {
    client
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A client that sends `Authorization: Bearer TOKEN` with every request.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if !token.is_empty() {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Every entry of a library directory, hidden ones (a partial file) included, by name.
pub fn library_entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// How many files the base-image library in `data_dir` holds: (visible, hidden). The names
/// differ from run to run; what a saga leaves behind does not.
pub fn image_counts(data_dir: &std::path::Path) -> (usize, usize) {
    let entries = library_entries(&data_dir.join("images"));
    let hidden = entries.iter().filter(|name| name.starts_with('.')).count();
    (entries.len() - hidden, hidden)
}

/// Writes an ISO 9660 image of `len` bytes (at least 40 KiB) at `path`: zeros with a volume
/// descriptor's `CD001` signature where ISO 9660 puts it (byte 32,769).
pub fn write_iso(path: &std::path::Path, len: usize) {
    let mut bytes = vec![0u8; len.max(40 * 1024)];
    bytes[32_768] = 1;
    bytes[32_769..32_774].copy_from_slice(b"CD001");
    std::fs::write(path, bytes).unwrap();
}

/// A VM name no other test uses (the test driver's state is shared within a process).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", &Uuid::new_v4().simple().to_string()[..8])
}
