#!/usr/bin/env bash
# Benchmark of the statistics collector (issue 13), rerunnable, not part of `make test`:
# 1,000 running domains on libvirt's test driver, each with a record in a fresh database.
# Prints one round's wall time and CPU (per minute, and as a share of one core at the default
# 5 s), the in-memory hour's size for 1,000 VMs, and the database's growth per day.
# Usage: scripts/bench-stats.sh [DOMAINS]
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
domains="${1:-1000}"
LIMEN_BENCH_DATABASE_URL=$(bash scripts/postgres.sh --fresh limen_bench_stats)
export LIMEN_BENCH_DATABASE_URL
cargo bench -q -p server --bench stats -- "$domains"
