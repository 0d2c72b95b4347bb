//! Resource statistics (issue: graphs and metrics). The collector task
//! (`background/collector.rs`) reads every host once a period in one bulk libvirt call; each
//! round goes through [`Stats::record`]:
//!
//! - `sampler.rs`: counters of two rounds → rates (CPU %, bytes and operations per second);
//! - `history.rs`: the last hour in memory at full resolution;
//! - the per-minute means into PostgreSQL (`db/stats.rs`), kept for the retention;
//! - the round to the live streams (a VM page's graph, the host page) and the cards' gauges to
//!   the event stream.

pub mod exported;
pub mod history;
pub mod sampler;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use app::stats::{Gauge, HostStatsPoint, StatsRange, VmStatsPoint};
use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::db::{stats as minutes, Db, DbError};
use history::History;
use sampler::Round;

/// What Limen records of the VMs on `host` that their statistics need (owner, role, vCPUs…).
pub async fn managed_on(db: &Db, host: &str) -> Result<Vec<sampler::VmLabels>, DbError> {
    let host = host.to_string();
    db.run(move |conn| {
        Ok(crate::db::vms::vm_list(conn)?
            .into_iter()
            .filter(|row| row.host == host)
            .map(|row| sampler::VmLabels {
                uuid: row.uuid,
                name: row.name,
                owner: row.owner,
                role: row.role,
                vcpus: u32::try_from(row.vcpus).unwrap_or(1),
                memory_mib: u64::try_from(row.memory_mib).unwrap_or(0),
            })
            .collect())
    })
    .await
}

/// The cards' gauges of the latest round, with each VM's owner (who may see it).
pub type Gauges = Vec<(Uuid, Option<String>, Gauge)>;

/// How a range's points are spaced: `step_secs` apart, except those before `stored_until`
/// (the stored per-minute means, on the hour after a restart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub step_secs: i64,
    pub stored_until: i64,
}

pub struct Stats {
    period_secs: u64,
    history: Mutex<History>,
    /// The latest round of each host: capacity and the Prometheus series read it.
    latest: Mutex<HashMap<String, Arc<Round>>>,
    rounds: broadcast::Sender<Arc<Round>>,
    gauges: watch::Sender<Arc<Gauges>>,
}

impl Stats {
    pub fn new(period_secs: u64) -> Self {
        Self {
            period_secs: period_secs.max(1),
            history: Mutex::new(History::new(period_secs)),
            latest: Mutex::new(HashMap::new()),
            // A live stream more than a few rounds behind skips to the newest.
            rounds: broadcast::channel(8).0,
            gauges: watch::channel(Arc::new(Vec::new())).0,
        }
    }

    pub fn period_secs(&self) -> u64 {
        self.period_secs
    }

    fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps a round and sends it to whoever watches.
    pub fn record(&self, round: Round) {
        let round = Arc::new(round);
        self.history().push(&round);
        self.latest().insert(round.host.clone(), Arc::clone(&round));
        self.publish_gauges();
        // Nobody watching is fine.
        let _ = self.rounds.send(round);
    }

    /// A host's round failed (libvirt unreachable): what its last round said is no longer
    /// current, for `/metrics` or the cards.
    pub fn forget(&self, host: &str) {
        if self.latest().remove(host).is_some() {
            self.publish_gauges();
        }
    }

    fn latest(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Round>>> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every host's latest gauges, as one list.
    fn publish_gauges(&self) {
        let gauges = self
            .latest()
            .values()
            .flat_map(|round| round.gauges())
            .collect();
        self.gauges.send_replace(Arc::new(gauges));
    }

    /// Every round from now on (a VM page's or the host page's live stream).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Round>> {
        self.rounds.subscribe()
    }

    /// The latest gauges, changed with every round (the event stream's `vm_gauges`).
    pub fn gauges(&self) -> watch::Receiver<Arc<Gauges>> {
        self.gauges.subscribe()
    }

    /// Every host's latest round.
    pub fn latest_all(&self) -> Vec<Arc<Round>> {
        self.latest().values().cloned().collect()
    }

    /// (bytes, series) of the in-memory hour.
    pub fn memory(&self) -> (usize, usize) {
        let history = self.history();
        (history.bytes(), history.series())
    }

    /// The means of the minute starting at `minute` (unix seconds) into the database: every
    /// VM of `host` (as its latest round has them) with points in it, and the host.
    pub async fn write_minute(&self, db: &Db, host: &str, minute: i64) -> Result<usize, DbError> {
        let Some(at) = DateTime::<Utc>::from_timestamp(minute, 0) else {
            return Ok(0);
        };
        let on_host: std::collections::HashSet<Uuid> = self
            .latest()
            .get(host)
            .map(|round| {
                round
                    .managed
                    .iter()
                    .map(|(labels, _)| labels.uuid)
                    .collect()
            })
            .unwrap_or_default();
        let (vms, host_point) = {
            let history = self.history();
            let vms: Vec<_> = history
                .vm_minute(minute)
                .into_iter()
                .filter(|(vm, _)| on_host.contains(vm))
                .collect();
            (vms, history.host_minute(host, minute))
        };
        let rows: Vec<_> = vms
            .into_iter()
            .map(|(vm, point)| minutes::VmMinute {
                vm,
                minute: at,
                point,
            })
            .collect();
        let host = host.to_string();
        db.run(move |conn| {
            let written = minutes::insert_vm_minutes(conn, &rows)?;
            if let Some(point) = host_point {
                minutes::insert_host_minute(conn, &host, at, &point)?;
            }
            Ok(written)
        })
        .await
    }

    /// A VM's points over `range` ending `now`: the last hour from memory at full resolution
    /// (with the database's minutes before the first point in memory, after a restart), longer
    /// ranges from the database's minutes averaged over the range's buckets.
    pub async fn vm_points(
        &self,
        db: &Db,
        vm: Uuid,
        range: StatsRange,
        now: DateTime<Utc>,
    ) -> Result<(Timing, Vec<VmStatsPoint>), DbError> {
        let from = now.timestamp() - range.seconds();
        if range == StatsRange::Hour {
            let recent = self.history().vm_since(vm, from);
            let until = recent.first().map_or(now.timestamp(), |point| point.at);
            let mut points = self
                .stored(
                    db,
                    from,
                    whole_minutes_before(until),
                    60,
                    move |conn, from, to, bucket| minutes::vm_buckets(conn, vm, from, to, bucket),
                )
                .await?;
            points.extend(recent);
            let timing = Timing {
                step_secs: self.period_secs as i64,
                stored_until: until,
            };
            return Ok((timing, points));
        }
        let bucket = range.bucket_seconds();
        let points = self
            .stored(
                db,
                from,
                now.timestamp(),
                bucket,
                move |conn, from, to, bucket| minutes::vm_buckets(conn, vm, from, to, bucket),
            )
            .await?;
        let timing = Timing {
            step_secs: bucket,
            stored_until: now.timestamp(),
        };
        Ok((timing, points))
    }

    /// The host's points over `range`, like [`Stats::vm_points`].
    pub async fn host_points(
        &self,
        db: &Db,
        host: &str,
        range: StatsRange,
        now: DateTime<Utc>,
    ) -> Result<(Timing, Vec<HostStatsPoint>), DbError> {
        let from = now.timestamp() - range.seconds();
        let key = host.to_string();
        let query = move |conn: &mut diesel::PgConnection, from, to, bucket| {
            minutes::host_buckets(conn, &key, from, to, bucket)
        };
        if range == StatsRange::Hour {
            let recent = self.history().host_since(host, from);
            let until = recent.first().map_or(now.timestamp(), |point| point.at);
            let mut points = self
                .stored(db, from, whole_minutes_before(until), 60, query)
                .await?;
            points.extend(recent);
            let timing = Timing {
                step_secs: self.period_secs as i64,
                stored_until: until,
            };
            return Ok((timing, points));
        }
        let bucket = range.bucket_seconds();
        let points = self
            .stored(db, from, now.timestamp(), bucket, query)
            .await?;
        let timing = Timing {
            step_secs: bucket,
            stored_until: now.timestamp(),
        };
        Ok((timing, points))
    }

    /// The stored minutes in `[from, to)` (unix seconds), averaged over `bucket` seconds.
    async fn stored<T, Q>(
        &self,
        db: &Db,
        from: i64,
        to: i64,
        bucket: i64,
        query: Q,
    ) -> Result<Vec<T>, DbError>
    where
        T: Send + 'static,
        Q: FnOnce(
                &mut diesel::PgConnection,
                DateTime<Utc>,
                DateTime<Utc>,
                i64,
            ) -> Result<Vec<T>, DbError>
            + Send
            + 'static,
    {
        let (Some(from), Some(to)) = (
            DateTime::<Utc>::from_timestamp(from, 0),
            DateTime::<Utc>::from_timestamp(to, 0),
        ) else {
            return Ok(Vec::new());
        };
        if from >= to {
            return Ok(Vec::new());
        }
        db.run(move |conn| query(conn, from, to, bucket)).await
    }
}

/// The end (exclusive, as a minute's start) of the stored minutes the hour shows before its
/// first point in memory `first`: only minutes over by then. The minute `first` falls in is
/// stored once it is over (while the collector keeps running): shown too, it would be drawn
/// twice, as a mean and as its points.
fn whole_minutes_before(first: i64) -> i64 {
    first - 59
}
