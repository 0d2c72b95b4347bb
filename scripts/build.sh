#!/usr/bin/env bash
# Builds the release binary (target/release/limen) and the dashboard assets (target/site), then
# precompresses the assets so the server can send .br/.gz as they are.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
# --split: pages behind `Lazy` routes go into WASM chunks of their own, loaded when visited.
log "build: cargo leptos build --release --split"
cargo leptos build --release --split
for asset in target/site/pkg/*.{js,wasm,css}; do
  [[ -f "$asset" ]] || continue
  gzip -9 -k -f "$asset"
  brotli -q 11 -k -f "$asset"
done
