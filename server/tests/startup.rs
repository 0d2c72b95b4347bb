//! Building the state starts nothing — no task, no event callbacks, no monitor writing records
//! — so a command-line run beside a server never works behind it. Only `background::start`
//! (what `limen serve` calls) starts the background work, and a shutdown ends it.

mod common;

use common::{test_config, TempDir, TestDb};
use server::db::Db;

#[tokio::test]
async fn building_the_state_starts_nothing_and_serve_starts_the_background() {
    let db = TestDb::new();
    let data_dir = TempDir::new();
    let config = test_config(&db.url, &data_dir, "test:///default");
    let pool = Db::connect(&config.database_url).unwrap();
    pool.migrate().await.unwrap();

    let state = server::build_state(&config, pool).unwrap();
    assert!(
        state.tasks.is_empty(),
        "no task runs after building the state"
    );
    assert!(state.hosts.all().iter().all(|host| !host.is_watched()));

    let periods = server::background::Periods {
        reconcile_secs: 0,
        snapshot_sweep_secs: 10,
        stats_secs: 5,
        stats_retention_days: 30,
    };
    server::background::start(state.vms.sagas(), periods, &state.shutdown);
    assert!(state.hosts.all().iter().all(|host| host.is_watched()));
    // A monitor per host and the reconciler (the password warm-up may be done already).
    assert!(state.tasks.len() >= 2, "{} tasks", state.tasks.len());

    state.shutdown.cancel();
    state.tasks.close();
    tokio::time::timeout(std::time::Duration::from_secs(15), state.tasks.wait())
        .await
        .expect("the background work ends at shutdown");
}
