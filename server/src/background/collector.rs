//! The statistics collector of one host: every period, one bulk libvirt call for every
//! domain's counters and one for the host's, turned into points ([`Sampler`]) and recorded
//! ([`Stats::record`]); at each new minute the last one's means go to the database, and every
//! hour the minutes older than the retention are deleted.
//!
//! The period is a clock, not a wait for state: nothing waits on it, and libvirt's events stay
//! the source of every VM's state.
//!
//! [`Stats::record`]: crate::stats::Stats::record

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::db::stats as minutes;
use crate::error::chain;
use crate::host::node::filesystem_space;
use crate::host::Host;
use crate::stats::managed_on;
use crate::stats::sampler::Sampler;

/// Minutes older than the retention are deleted this often.
const PRUNE_EVERY_SECS: i64 = 3_600;

/// Runs until `shutdown`.
pub async fn run(
    cx: Context,
    host: Arc<Host>,
    period: Duration,
    retention_days: u32,
    shutdown: CancellationToken,
) {
    let mut sampler = Sampler::default();
    let mut ticks = tokio::time::interval(period);
    // A round that took longer than the period (libvirt busy) is not made up for.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    // The last minute whose means were written (the minute Limen started in is written too,
    // with what it has).
    let mut written: Option<i64> = None;
    let mut pruned: Option<i64> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let started = Instant::now();
        let at = match collect(&cx, &host, &mut sampler).await {
            Ok(round) => {
                let at = round.at;
                cx.stats.record(round);
                crate::metrics::stats_round(started.elapsed());
                at
            }
            // An unreachable host is the monitor's to report; its graphs have a gap, and what
            // its last round said is not shown as current.
            Err(error) => {
                tracing::debug!(host = host.key().as_str(), %error, "no statistics this round");
                cx.stats.forget(host.key().as_str());
                continue;
            }
        };
        // The minutes ended since the last round (normally none or one; after a pause, such
        // as a suspended laptop, at most the last hour's, which is what memory holds).
        let minute = at - at.rem_euclid(60);
        let first = written.map_or(minute, |last| (last + 60).max(minute - 3_600));
        written = Some(first - 60);
        for done in (first..minute).step_by(60) {
            match cx
                .stats
                .write_minute(&cx.db, host.key().as_str(), done)
                .await
            {
                Ok(_) => written = Some(done),
                // Tried again next round (the minute stays in memory for the hour).
                Err(error) => {
                    tracing::warn!(error = %chain(&error), "could not store a minute of statistics");
                    break;
                }
            }
        }
        if pruned.is_none_or(|then| at - then >= PRUNE_EVERY_SECS) {
            pruned = Some(at);
            prune(&cx, at, retention_days).await;
        }
    }
}

/// One round: the counters of every domain and of the host, and Limen's records of the host
/// (public for the benchmark).
pub async fn collect(
    cx: &Context,
    host: &Arc<Host>,
    sampler: &mut Sampler,
) -> Result<crate::stats::sampler::Round, String> {
    let counters = host.domain_counters().await.map_err(|e| chain(&e))?;
    // The moment the counters were read: rates divide by the time between two of these.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let node = host.node_counters().await.ok();
    let key = host.key().as_str().to_string();
    let managed = managed_on(&cx.db, &key).await.map_err(|e| chain(&e))?;
    let space = filesystem_space(cx.disks.dir());
    Ok(sampler.round(&key, now, counters, node, space, managed))
}

async fn prune(cx: &Context, now: i64, retention_days: u32) {
    let before = chrono::DateTime::<chrono::Utc>::from_timestamp(
        now - i64::from(retention_days) * 86_400,
        0,
    );
    let Some(before) = before else { return };
    match cx.db.run(move |conn| minutes::prune(conn, before)).await {
        Ok(0) => {}
        Ok(rows) => tracing::info!(rows, "deleted statistics older than the retention"),
        Err(error) => tracing::warn!(error = %chain(&error), "could not prune old statistics"),
    }
}
