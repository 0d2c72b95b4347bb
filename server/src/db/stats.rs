//! Queries on `vm_stats` and `host_stats`: the per-minute averages of the resource statistics.
//! Written once a minute in one statement per table (a row per running VM), read back averaged
//! over a range's buckets, pruned by age.

use app::stats::{HostStatsPoint, VmStatsPoint};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{
    Array, BigInt, Double, Float4, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use uuid::Uuid;

use super::DbError;

/// One VM's averages over one minute.
#[derive(Debug, Clone, PartialEq)]
pub struct VmMinute {
    pub vm: Uuid,
    pub minute: DateTime<Utc>,
    pub point: VmStatsPoint,
}

fn column(points: &[VmMinute], field: fn(&VmStatsPoint) -> Option<f64>) -> Vec<Option<f32>> {
    points
        .iter()
        .map(|row| field(&row.point).map(|value| value as f32))
        .collect()
}

/// Writes the minutes (a minute written again is replaced); rows of VMs no longer recorded are
/// skipped, not an error (a VM deleted while its last minute was averaged; the key share lock
/// holds off a delete between that check and the insert).
pub fn insert_vm_minutes(conn: &mut PgConnection, rows: &[VmMinute]) -> Result<usize, DbError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let written = diesel::sql_query(
        "INSERT INTO vm_stats (vm_uuid, minute, cpu_percent, memory_kib, memory_used_kib, \
             disk_read_bps, disk_write_bps, disk_read_iops, disk_write_iops, net_rx_bps, net_tx_bps) \
         SELECT s.* FROM unnest($1::uuid[], $2::timestamptz[], $3::real[], $4::real[], $5::real[], \
             $6::real[], $7::real[], $8::real[], $9::real[], $10::real[], $11::real[]) \
             AS s(vm_uuid, minute, cpu_percent, memory_kib, memory_used_kib, disk_read_bps, \
                  disk_write_bps, disk_read_iops, disk_write_iops, net_rx_bps, net_tx_bps) \
         WHERE EXISTS (SELECT 1 FROM vms WHERE vms.uuid = s.vm_uuid FOR KEY SHARE) \
         ON CONFLICT (vm_uuid, minute) DO UPDATE SET cpu_percent = EXCLUDED.cpu_percent, \
             memory_kib = EXCLUDED.memory_kib, memory_used_kib = EXCLUDED.memory_used_kib, \
             disk_read_bps = EXCLUDED.disk_read_bps, disk_write_bps = EXCLUDED.disk_write_bps, \
             disk_read_iops = EXCLUDED.disk_read_iops, disk_write_iops = EXCLUDED.disk_write_iops, \
             net_rx_bps = EXCLUDED.net_rx_bps, net_tx_bps = EXCLUDED.net_tx_bps",
    )
    .bind::<Array<SqlUuid>, _>(rows.iter().map(|row| row.vm).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(rows.iter().map(|row| row.minute).collect::<Vec<_>>())
    .bind::<Array<Nullable<Float4>>, _>(column(rows, |p| p.cpu_percent))
    .bind::<Array<Nullable<Float4>>, _>(column(rows, |p| p.memory_kib))
    .bind::<Array<Nullable<Float4>>, _>(column(rows, |p| p.memory_used_kib))
    .bind::<Array<Nullable<Float4>>, _>(column(rows, |p| p.disk_read_bps))
    .bind::<Array<Nullable<Float4>>, _>(column(rows, |p| p.disk_write_bps))
    .bind::<Array<Nullable<Float4>>, _>(column(rows, |p| p.disk_read_iops))
    .bind::<Array<Nullable<Float4>>, _>(column(rows, |p| p.disk_write_iops))
    .bind::<Array<Nullable<Float4>>, _>(column(rows, |p| p.net_rx_bps))
    .bind::<Array<Nullable<Float4>>, _>(column(rows, |p| p.net_tx_bps))
    .execute(conn)?;
    Ok(written)
}

/// Writes one host's minute (replacing one already written).
pub fn insert_host_minute(
    conn: &mut PgConnection,
    host: &str,
    minute: DateTime<Utc>,
    point: &HostStatsPoint,
) -> Result<(), DbError> {
    diesel::sql_query(
        "INSERT INTO host_stats (host, minute, cpu_percent, memory_total_kib, memory_used_kib, \
             disk_free_bytes, disk_total_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (host, minute) DO UPDATE SET cpu_percent = EXCLUDED.cpu_percent, \
             memory_total_kib = EXCLUDED.memory_total_kib, \
             memory_used_kib = EXCLUDED.memory_used_kib, \
             disk_free_bytes = EXCLUDED.disk_free_bytes, \
             disk_total_bytes = EXCLUDED.disk_total_bytes",
    )
    .bind::<Text, _>(host)
    .bind::<Timestamptz, _>(minute)
    .bind::<Nullable<Float4>, _>(point.cpu_percent.map(|v| v as f32))
    .bind::<Nullable<Float4>, _>(point.memory_total_kib.map(|v| v as f32))
    .bind::<Nullable<Float4>, _>(point.memory_used_kib.map(|v| v as f32))
    .bind::<Nullable<Double>, _>(point.disk_free_bytes)
    .bind::<Nullable<Double>, _>(point.disk_total_bytes)
    .execute(conn)?;
    Ok(())
}

#[derive(QueryableByName)]
struct VmBucket {
    #[diesel(sql_type = BigInt)]
    at: i64,
    #[diesel(sql_type = Nullable<Double>)]
    cpu_percent: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    memory_kib: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    memory_used_kib: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    disk_read_bps: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    disk_write_bps: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    disk_read_iops: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    disk_write_iops: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    net_rx_bps: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    net_tx_bps: Option<f64>,
}

/// One VM's minutes in `[from, to)`, averaged over buckets of `bucket_secs` (labelled by their
/// start), oldest first.
pub fn vm_buckets(
    conn: &mut PgConnection,
    vm: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_secs: i64,
) -> Result<Vec<VmStatsPoint>, DbError> {
    let rows: Vec<VmBucket> = diesel::sql_query(
        "SELECT extract(epoch FROM date_bin(make_interval(secs => $4), minute, \
                 'epoch'::timestamptz))::bigint AS at, \
             avg(cpu_percent)::float8 AS cpu_percent, avg(memory_kib)::float8 AS memory_kib, \
             avg(memory_used_kib)::float8 AS memory_used_kib, \
             avg(disk_read_bps)::float8 AS disk_read_bps, \
             avg(disk_write_bps)::float8 AS disk_write_bps, \
             avg(disk_read_iops)::float8 AS disk_read_iops, \
             avg(disk_write_iops)::float8 AS disk_write_iops, \
             avg(net_rx_bps)::float8 AS net_rx_bps, avg(net_tx_bps)::float8 AS net_tx_bps \
         FROM vm_stats WHERE vm_uuid = $1 AND minute >= $2 AND minute < $3 \
         GROUP BY 1 ORDER BY 1",
    )
    .bind::<SqlUuid, _>(vm)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .bind::<Double, _>(bucket_secs as f64)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| VmStatsPoint {
            at: row.at,
            cpu_percent: row.cpu_percent,
            memory_kib: row.memory_kib,
            memory_used_kib: row.memory_used_kib,
            disk_read_bps: row.disk_read_bps,
            disk_write_bps: row.disk_write_bps,
            disk_read_iops: row.disk_read_iops,
            disk_write_iops: row.disk_write_iops,
            net_rx_bps: row.net_rx_bps,
            net_tx_bps: row.net_tx_bps,
        })
        .collect())
}

#[derive(QueryableByName)]
struct HostBucket {
    #[diesel(sql_type = BigInt)]
    at: i64,
    #[diesel(sql_type = Nullable<Double>)]
    cpu_percent: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    memory_total_kib: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    memory_used_kib: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    disk_free_bytes: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    disk_total_bytes: Option<f64>,
}

/// One host's minutes in `[from, to)`, averaged over buckets of `bucket_secs`.
pub fn host_buckets(
    conn: &mut PgConnection,
    host: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket_secs: i64,
) -> Result<Vec<HostStatsPoint>, DbError> {
    let rows: Vec<HostBucket> = diesel::sql_query(
        "SELECT extract(epoch FROM date_bin(make_interval(secs => $4), minute, \
                 'epoch'::timestamptz))::bigint AS at, \
             avg(cpu_percent)::float8 AS cpu_percent, \
             avg(memory_total_kib)::float8 AS memory_total_kib, \
             avg(memory_used_kib)::float8 AS memory_used_kib, \
             avg(disk_free_bytes) AS disk_free_bytes, avg(disk_total_bytes) AS disk_total_bytes \
         FROM host_stats WHERE host = $1 AND minute >= $2 AND minute < $3 \
         GROUP BY 1 ORDER BY 1",
    )
    .bind::<Text, _>(host)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .bind::<Double, _>(bucket_secs as f64)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| HostStatsPoint {
            at: row.at,
            cpu_percent: row.cpu_percent,
            memory_total_kib: row.memory_total_kib,
            memory_used_kib: row.memory_used_kib,
            disk_free_bytes: row.disk_free_bytes,
            disk_total_bytes: row.disk_total_bytes,
        })
        .collect())
}

/// Deletes the minutes older than `before`; returns how many rows went.
pub fn prune(conn: &mut PgConnection, before: DateTime<Utc>) -> Result<usize, DbError> {
    let vms = diesel::sql_query("DELETE FROM vm_stats WHERE minute < $1")
        .bind::<Timestamptz, _>(before)
        .execute(conn)?;
    let hosts = diesel::sql_query("DELETE FROM host_stats WHERE minute < $1")
        .bind::<Timestamptz, _>(before)
        .execute(conn)?;
    Ok(vms + hosts)
}
