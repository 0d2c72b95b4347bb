//! `limen`: config → tracing → database (migrations, fail hard) → libvirt → router → serve with
//! graceful shutdown.

use std::process::ExitCode;

use clap::Parser;
use server::cli::{Cli, Command};
use server::config::Config;
use server::db::Db;
use server::error::chain;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("LIMEN_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("limen: {}", chain(&error));
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the async runtime");
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate(config).await.map(drop),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("limen: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(config: Config) -> Result<Db, String> {
    let db = Db::connect(&config.database_url).map_err(|e| chain(&e))?;
    let applied = db
        .migrate()
        .await
        .map_err(|e| format!("{} (is the database at LIMEN_DATABASE_URL up?)", chain(&e)))?;
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
    let db = migrate(config.clone()).await?;
    let state = server::build_state(&config, db)?;
    // Operations a crash cut off are finished or undone before anything else happens.
    let recovered = server::ops::recover(state.vms.context())
        .await
        .map_err(|e| format!("recovering unfinished operations failed: {e}"))?;
    if !recovered.is_empty() {
        tracing::info!(count = recovered.len(), "unfinished operations recovered");
    }
    match state.host.ping().await {
        Ok(()) => tracing::info!(uri = %config.libvirt_uri, "libvirt connected"),
        // Not fatal: /readyz says so, and calls reconnect when libvirt comes back.
        Err(error) => tracing::warn!(error = %chain(&error), "libvirt is not reachable yet"),
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    tracing::info!(
        "Limen is serving http://{} (data in {}, libvirt {})",
        config.listen,
        config.data_dir.display(),
        config.libvirt_uri
    );
    axum::serve(listener, server::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    tracing::info!("Limen stopped");
    Ok(())
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
