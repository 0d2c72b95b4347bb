//! `limen`: config → tracing → database (migrations, fail hard) → libvirt → router → serve with
//! graceful shutdown.

use axum::serve::ListenerExt;
use clap::Parser;
use server::audit::{AuditLog, Entry};
use server::cli::{Cli, Command, HostCommand, UserCommand};
use server::config::{Config, LogFormat};
use server::db::{Db, DbError};
use server::error::chain;
use server::reconcile::Mode;
use server::state::AppState;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// How long `limen serve` waits at start for a database that does not accept connections yet.
const DATABASE_PATIENCE: Duration = Duration::from_secs(30);

fn main() -> ! {
    let code = run();
    // The database pool opens connections on threads of its own, and one may be mid-handshake
    // now; letting C's exit handlers run would tear OpenSSL down under it (a crash at exit,
    // seen here). Everything of ours is finished and flushed, so leave without them.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` ends the process at once; no Rust state is relied on after it.
    unsafe { libc::_exit(code) }
}

fn run() -> i32 {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        use std::io::Write;
        // A closed pipe (`limen openapi | head`) is the reader's choice, not a failure.
        let _ = writeln!(
            std::io::stdout(),
            "{}",
            server::api::openapi::document_json()
        );
        return 0;
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("limen: {}", chain(&error));
            return 1;
        }
    };
    init_logging(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the async runtime");
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            // Printed above, before the settings are read: it needs none.
            Command::Openapi => Ok(()),
            Command::Migrate => migrate(config).await.map(drop),
            Command::Reconcile => reconcile(config).await,
            Command::Doctor { json } => doctor(config, json).await,
            Command::Backup { file } => backup(config, file).await,
            Command::Restore { file } => restore(config, file).await,
            Command::User(UserCommand::Add {
                name,
                admin,
                password_stdin,
            }) => add_user(config, name, admin, password_stdin).await,
            Command::Host(HostCommand::Add { name, uri }) => add_host(config, name, uri).await,
            Command::Host(HostCommand::List) => list_hosts(config).await,
            #[cfg(feature = "failpoints")]
            Command::SagaExample { kind, setup_only } => {
                saga_example(config, &kind, setup_only).await
            }
        }
    });
    // A blocking call still waiting (libvirt or PostgreSQL that never answered `limen doctor`)
    // must not keep the process from exiting once the command is done.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => 0,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("limen: {message}");
            }
            1
        }
    }
}

/// Logs go to stderr (stdout is for what a command prints: `limen reconcile`'s report, `limen
/// doctor --json`), as text lines or one JSON object per line.
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("LIMEN_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => lines.init(),
        LogFormat::Json => lines.json().flatten_event(true).init(),
    }
}

async fn migrate(config: Config) -> Result<Db, String> {
    migrate_within(config, Duration::ZERO).await
}

/// Applies the migrations, waiting up to `patience` for a database that does not accept
/// connections yet (a service started with PostgreSQL, which may still be starting).
async fn migrate_within(config: Config, patience: Duration) -> Result<Db, String> {
    let db = Db::connect(&config.database_url).map_err(|e| chain(&e))?;
    let deadline = tokio::time::Instant::now() + patience;
    let applied = loop {
        match db.migrate().await {
            Ok(applied) => break applied,
            Err(DbError::Unavailable(_)) if tokio::time::Instant::now() < deadline => {
                tracing::info!("waiting for the database to accept connections");
                // The pool retries by itself; this only paces the next attempt.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e @ DbError::Unavailable(_)) => {
                return Err(format!(
                    "{} (is the database at LIMEN_DATABASE_URL up? `limen doctor` checks)",
                    chain(&e)
                ))
            }
            Err(e) => return Err(chain(&e)),
        }
    };
    for version in &applied {
        tracing::info!(%version, "migration applied");
    }
    tracing::info!(applied = applied.len(), "database schema is current");
    Ok(db)
}

async fn serve(config: Config) -> Result<(), String> {
    if let Some(file) = &config.file {
        tracing::info!(file = %file.display(), "settings file read");
    }
    let db = migrate_within(config.clone(), DATABASE_PATIENCE).await?;
    // Two servers on one database would undo each other's operations as "cut off".
    let _server_lock = db
        .try_server_lock()
        .await
        .map_err(|e| chain(&e))?
        .ok_or("another Limen server is already using this database")?;
    let state = server::build_state(&config, db)?;
    server::load_hosts(&state, &config).await?;
    // Holding the lock: no other server writes into the libraries now.
    state
        .vms
        .remove_abandoned_uploads()
        .map_err(|e| format!("cannot tidy the ISO library: {e}"))?;
    // Operations a crash cut off are finished or undone before anything else happens.
    let recovered = state
        .vms
        .sagas()
        .recover()
        .await
        .map_err(|e| format!("recovering unfinished operations failed: {}", chain(&e)))?;
    if !recovered.is_empty() {
        tracing::info!(count = recovered.len(), "unfinished operations recovered");
    }
    for host in state.hosts.all() {
        match host.ping().await {
            Ok(()) => {
                tracing::info!(host = %host.key(), uri = %host.uri(), "libvirt connected")
            }
            // Not fatal: /readyz says so, and calls reconnect when libvirt comes back.
            Err(error) => {
                tracing::warn!(host = %host.key(), error = %chain(&error), "libvirt is not reachable yet")
            }
        }
    }
    let certificate = server::tls::load(&config).map_err(|e| chain(&e))?;
    if let Some(certificate) = &certificate {
        tracing::info!(
            certificate = %certificate.cert_path.display(),
            self_signed = certificate.self_signed,
            "HTTPS certificate SHA-256 fingerprint {} (compare it with the one your browser shows)",
            certificate.fingerprint
        );
    }
    let setup_token = state
        .accounts
        .issue_setup_token()
        .await
        .map_err(|e| e.message)?;
    if let Some(token) = setup_token {
        tracing::warn!(
            "No admin exists yet. Open {}://{}/setup and enter the one-time setup token {token} \
             (or run `limen user add NAME --admin`). The token changes at every start until an \
             admin exists.",
            if certificate.is_some() {
                "https"
            } else {
                "http"
            },
            config.listen
        );
    }
    let tcp = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let scheme = if certificate.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(
        "Limen is serving {scheme}://{} (data in {}, libvirt {})",
        config.listen,
        config.data_dir.display(),
        config.libvirt_uri
    );
    let shutdown = state.shutdown.clone();
    let background = state.clone();
    // The one place background work starts: the monitors, the reconciler.
    let periods = server::background::Periods {
        reconcile_secs: config.reconcile_secs,
        snapshot_sweep_secs: config.snapshot_sweep_secs,
        stats_secs: config.stats_secs,
        stats_retention_days: config.stats_retention_days,
    };
    server::background::start(state.vms.sagas(), periods, &shutdown);
    let app = server::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let graceful = {
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            // Ends event streams and background tasks, so open connections can finish.
            shutdown.cancel();
        }
    };
    let served = match certificate {
        Some(certificate) => {
            let listener = server::tls::TlsListener::start(
                tcp,
                certificate.server_config,
                config.public_url.clone(),
                shutdown.clone(),
            )
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?
            // Nothing to tap (the listener set TCP_NODELAY); axum gives the peer address to
            // handlers for tapped listeners of any kind.
            .tap_io(|_| {});
            axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
        }
        None => {
            // Consoles are interactive: without this, the tail of a screen update or an echoed
            // key can wait for the browser's delayed acknowledgement (up to 40 ms) behind Nagle.
            let listener = tcp.tap_io(|tcp| {
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!("TCP_NODELAY not set on a connection: {error}");
                }
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
        }
    };
    served.map_err(|e| format!("server error: {e}"))?;
    stop_background(&background).await;
    drop(_server_lock);
    tracing::info!("Limen stopped");
    Ok(())
}

/// Stops the background work, detached operations and consoles, waits for them (a minute at
/// most), and closes the libvirt connections, so that nothing still talks to libvirt or
/// PostgreSQL when the process exits.
async fn stop_background(state: &AppState) {
    state.shutdown.cancel();
    state.tasks.close();
    // Bounded: what has not ended within a minute is left to the recovery at the next start.
    if tokio::time::timeout(Duration::from_secs(60), state.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("detached work still running after a minute; stopping without it");
    }
    for host in state.hosts.all() {
        host.disconnect();
    }
}

/// `limen reconcile`: one reconcile against the configured database and libvirt. It repairs
/// only if no server is running; beside a server (which alone writes records and carries out
/// operations) it only reports.
async fn reconcile(config: Config) -> Result<(), String> {
    let db = migrate(config.clone()).await?;
    let lock = db.try_server_lock().await.map_err(|e| chain(&e))?;
    let mode = if lock.is_some() {
        Mode::Repair
    } else {
        tracing::info!(
            "a Limen server is running: unfinished operations are listed, not touched, and no \
             record is written (the report says what the server will correct)"
        );
        Mode::ReportOnly
    };
    let state = server::build_state(&config, db)?;
    server::load_hosts(&state, &config).await?;
    let result = server::reconcile::reconcile(state.vms.sagas(), mode)
        .await
        .map_err(server::error::report);
    let entry = Entry::anonymous(None, "reconcile.run")
        .detail(format!(
            "by `limen reconcile` (system user {})",
            system_user()
        ))
        .outcome(&result);
    AuditLog::new(state.db.clone()).record(entry).await;
    let report = result.map_err(|e| e.message)?;
    stop_background(&state).await;
    drop(lock);
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

/// `limen doctor`: every check, as lines for a person or one JSON object; exit 1 on a failure.
async fn doctor(config: Config, json: bool) -> Result<(), String> {
    let report = server::doctor::run(&config).await;
    if json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print!("{}", report.to_text());
    }
    if report.ok {
        Ok(())
    } else if json {
        // The JSON said it all; only the exit status is left to tell.
        Err(String::new())
    } else {
        Err("some checks failed (see above)".into())
    }
}

/// `limen backup FILE`: beside a running server too (the rows are read in one snapshot).
async fn backup(config: Config, file: std::path::PathBuf) -> Result<(), String> {
    let db = Db::connect(&config.database_url).map_err(|e| chain(&e))?;
    let state = db.schema_state().await.map_err(|e| chain(&e))?;
    if let Some(refusal) = state.ahead() {
        return Err(refusal);
    }
    let state = server::build_state(&config, db)?;
    server::load_hosts(&state, &config).await?;
    let manifest = server::backup::create(&state.db, &state.hosts, &file)
        .await
        .map_err(|e| format!("the backup failed: {}", chain(&e)))?;
    let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
    println!(
        "wrote {}: {rows} rows in {} tables, {} VM definitions (schema {}). The VMs' disks are not in it: back up {} with the host's tools.",
        file.display(),
        manifest.tables.len(),
        manifest.domains.len(),
        manifest.schema,
        config.data_dir.join("disks").display()
    );
    if !manifest.hosts_unreachable.is_empty() {
        eprintln!(
            "warning: the host(s) {} could not be reached: their VMs' records are in the backup, their definitions are not (back up again once they are reachable).",
            manifest.hosts_unreachable.join(", ")
        );
    }
    let entry = Entry::anonymous(None, "backup.create")
        .detail(format!("by `limen backup` (system user {})", system_user()));
    AuditLog::new(state.db.clone()).record(entry).await;
    stop_background(&state).await;
    Ok(())
}

/// `limen restore FILE`: onto an empty database with no server running, then a reconcile.
async fn restore(config: Config, file: std::path::PathBuf) -> Result<(), String> {
    let db = Db::connect(&config.database_url).map_err(|e| chain(&e))?;
    let lock = db
        .try_server_lock()
        .await
        .map_err(|e| chain(&e))?
        .ok_or("a Limen server is using this database: stop it first")?;
    let state = server::build_state(&config, db)?;
    // The hosts come from the archive: the local host's row is written after (the database
    // must be empty for the restore).
    let report = server::backup::restore(&state.db, &state.hosts, &config.data_dir, &file)
        .await
        .map_err(|e| format!("the restore failed, nothing was written: {}", chain(&e)))?;
    server::load_hosts(&state, &config).await?;
    let reconciled = server::reconcile::reconcile(state.vms.sagas(), Mode::Repair)
        .await
        .map_err(|e| format!("restored, but the reconcile failed: {}", chain(&e)))?;
    let entry = Entry::anonymous(None, "backup.restore").detail(format!(
        "by `limen restore` (system user {}), from Limen {} (schema {})",
        system_user(),
        report.limen_version,
        report.schema
    ));
    AuditLog::new(state.db.clone()).record(entry).await;
    stop_background(&state).await;
    drop(lock);
    let failed = report.domains_failed.len();
    let json = serde_json::json!({ "restore": report, "reconcile": reconciled });
    println!(
        "{}",
        serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?
    );
    if failed > 0 {
        return Err(format!(
            "the database is restored, but {failed} VM(s) could not be defined again (see              domains_failed above): their definitions are in the archive as domains/<uuid>.xml;              read them, then `virsh define` them and run `limen reconcile`"
        ));
    }
    Ok(())
}

/// `limen user add`: creates a user in the configured database (the one `make run` wrote to
/// `.limen/limen.toml`), with a password from the terminal or stdin.
async fn add_user(
    config: Config,
    name: String,
    admin: bool,
    from_stdin: bool,
) -> Result<(), String> {
    use app::auth::{CreateUserRequest, Quota, Role};
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let first = rpassword::prompt_password(format!("Password for {name}: "))
            .map_err(|e| format!("cannot read the password: {e} (use --password-stdin)"))?;
        let second = rpassword::prompt_password("Repeat it: ")
            .map_err(|e| format!("cannot read the password: {e}"))?;
        if first != second {
            return Err("the two passwords differ".into());
        }
        first
    };
    let db = migrate(config).await?;
    let request = CreateUserRequest {
        username: name,
        password,
        role: if admin { Role::Admin } else { Role::User },
        quota: Quota::default(),
    };
    let result = server::auth::create_user_directly(&db, &request).await;
    let entry = Entry::anonymous(None, "user.create")
        .target(request.username.clone())
        .detail(format!(
            "role={}, by `limen user add`",
            request.role.as_str()
        ))
        .outcome(&result);
    AuditLog::new(db).record(entry).await;
    let user = result.map_err(|e| e.message)?;
    println!("created {} {}", user.user.role.as_str(), user.user.username);
    Ok(())
}

/// `limen host add NAME URI`, as an admin would in the dashboard; audited as the command.
async fn add_host(config: Config, name: String, uri: String) -> Result<(), String> {
    let db = migrate(config.clone()).await?;
    let state = server::build_state(&config, db)?;
    server::load_hosts(&state, &config).await?;
    let request = app::hosts::AddHostRequest { name, uri };
    let entry = Entry::anonymous(None, "host.add")
        .target(request.name.to_ascii_lowercase())
        .detail(format!(
            "{}, by `limen host add` (system user {})",
            request.uri,
            system_user()
        ));
    let result = state.vms.add_host_directly(request).await;
    AuditLog::new(state.db.clone())
        .record(entry.outcome(&result))
        .await;
    let host = result.map_err(|e| e.message)?;
    println!("added host {} ({})", host.name, host.key);
    Ok(())
}

/// `limen host list`: every host as the API's admin view has it, one JSON object per line.
async fn list_hosts(config: Config) -> Result<(), String> {
    let db = migrate(config.clone()).await?;
    let state = server::build_state(&config, db)?;
    server::load_hosts(&state, &config).await?;
    for host in state.vms.hosts_directly().await.map_err(|e| e.message)? {
        println!(
            "{}",
            serde_json::to_string(&host).map_err(|e| e.to_string())?
        );
    }
    Ok(())
}

/// `limen saga-example KIND` (tests only): the registered saga's example, set up, printed and
/// run here, so a failpoint can abort this process after any step.
#[cfg(feature = "failpoints")]
async fn saga_example(config: Config, kind: &str, setup_only: bool) -> Result<(), String> {
    use std::io::Write;
    let registered =
        server::ops::registry::find(kind).ok_or_else(|| format!("no saga kind {kind:?}"))?;
    let db = migrate(config.clone()).await?;
    let state = server::build_state(&config, db)?;
    server::load_hosts(&state, &config).await?;
    let sagas = state.vms.sagas();
    let params = registered.example(sagas).await?;
    println!("{params}");
    let _ = std::io::stdout().flush();
    if !setup_only {
        let leftovers = registered
            .execute(sagas, &params)
            .await
            .map_err(|failure| chain(&failure))?;
        println!("{}", serde_json::json!({ "leftovers": leftovers }));
    }
    stop_background(&state).await;
    Ok(())
}

/// Who ran a command, as the system knows them (for the audit log).
fn system_user() -> String {
    std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self").map_or("unknown".into(), |m| format!("uid {}", m.uid()))
        })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate()).expect("cannot watch SIGTERM");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}
