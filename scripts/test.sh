#!/usr/bin/env bash
# `make test`: install what is missing, start PostgreSQL and libvirtd, then run every test:
# the clone test (a fresh clone in a 0700 directory prepares a run: scripts/test-clone.sh),
# unit + integration (cargo test; libvirt's test:///default driver, real PostgreSQL) and
# end-to-end (Playwright in Debian's Chromium against the release build, real libvirtd + QEMU).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/deps.sh all
bash scripts/libvirt.sh
bash scripts/test-clone.sh
prepare_state_dir
export LIMEN_TEST_DATABASE_URL LIMEN_TEST_GUEST_DIR="$STATE_DIR/test-guest"
LIMEN_TEST_DATABASE_URL=$(bash scripts/postgres.sh limen_test)
bash scripts/test-guest.sh "$LIMEN_TEST_GUEST_DIR"
# A second libvirt host beside the first (its own libvirtd in private namespaces), for the
# tests of several hosts and migration.
export LIMEN_TEST_SECOND_HOST
LIMEN_TEST_SECOND_HOST=$(bash scripts/second-host.sh start)

log "test: unit and integration (cargo test)"
cargo test --locked -p app -p server

bash scripts/build.sh
# The product build has no failpoints: the tests' hidden subcommand does not exist in it.
refusal=$(target/release/limen saga-example vm_create 2>&1) && die "the release binary ran saga-example"
[[ "$refusal" == *"unrecognized subcommand"* ]] \
  || die "the release binary has the tests' failpoints (see server/Cargo.toml): $refusal"
log "test: make install / make uninstall into a staging root"
bash scripts/test-install.sh
log "test: the dashboard's first load stays within its budget"
bash scripts/first-load.sh
log "test: end-to-end (Playwright)"
bash scripts/e2e.sh
