-- Per-minute averages of the resource statistics, kept for `stats_retention_days` (30 by default)
-- so graphs survive a restart; the last hour at full resolution lives in memory only. Rows go
-- with their VM. Pruning deletes by time: a BRIN index on it stays tiny because rows arrive in
-- time order.
CREATE TABLE vm_stats (
    vm_uuid         UUID NOT NULL REFERENCES vms (uuid) ON DELETE CASCADE,
    minute          TIMESTAMPTZ NOT NULL,
    cpu_percent     REAL,
    memory_kib      REAL,
    memory_used_kib REAL,
    disk_read_bps   REAL,
    disk_write_bps  REAL,
    disk_read_iops  REAL,
    disk_write_iops REAL,
    net_rx_bps      REAL,
    net_tx_bps      REAL,
    PRIMARY KEY (vm_uuid, minute)
);
CREATE INDEX vm_stats_minute ON vm_stats USING brin (minute);

CREATE TABLE host_stats (
    host             TEXT NOT NULL,
    minute           TIMESTAMPTZ NOT NULL,
    cpu_percent      REAL,
    memory_total_kib REAL,
    memory_used_kib  REAL,
    disk_free_bytes  DOUBLE PRECISION,
    disk_total_bytes DOUBLE PRECISION,
    PRIMARY KEY (host, minute)
);
CREATE INDEX host_stats_minute ON host_stats USING brin (minute);
