#!/usr/bin/env bash
# Builds the release binary (target/release/limen) and the dashboard assets (target/site), then
# precompresses the assets so the server can send .br/.gz as they are.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
# --split: pages behind `Lazy` routes go into WASM chunks of their own, loaded when visited.
log "build: cargo leptos build --release --split"
cargo leptos build --release --split

# The browser libraries of the console, graph and API documentation pages (npm, from vendor/'s lock file; installed
# when missing or stale), served from the site as they are: noVNC's ES modules need core/ and
# vendor/ side by side; uPlot is one ES module and its stylesheet. Copied afresh each time, so an
# upgrade leaves no old file behind.
bash scripts/deps.sh vendor
vendor=vendor/node_modules
novnc="$vendor/@novnc/novnc"
rm -rf target/site/novnc target/site/xterm target/site/uplot target/site/swagger-ui
mkdir -p target/site/novnc target/site/xterm target/site/uplot target/site/swagger-ui
cp -R "$novnc/core" "$novnc/vendor" "$novnc/LICENSE.txt" target/site/novnc/
cp "$vendor/@xterm/xterm/lib/xterm.mjs" "$vendor/@xterm/xterm/css/xterm.css" target/site/xterm/
cp "$vendor/@xterm/xterm/LICENSE" target/site/xterm/LICENSE-xterm
cp "$vendor/@xterm/addon-fit/lib/addon-fit.mjs" target/site/xterm/
cp "$vendor/@xterm/addon-fit/LICENSE" target/site/xterm/LICENSE-addon-fit
cp "$vendor/uplot/dist/uPlot.esm.js" "$vendor/uplot/dist/uPlot.min.css" "$vendor/uplot/LICENSE" target/site/uplot/
swagger="$vendor/swagger-ui-dist"
cp "$swagger/swagger-ui-bundle.js" "$swagger/swagger-ui.css" "$swagger/LICENSE" "$swagger/NOTICE" \
  target/site/swagger-ui/

# Precompressed copies, which the server sends as they are to browsers that accept them.
while IFS= read -r -d '' asset; do
  gzip -9 -k -f "$asset"
  brotli -q 11 -k -f "$asset"
done < <(find target/site/pkg target/site/novnc target/site/xterm target/site/uplot \
  target/site/swagger-ui target/site/console.js target/site/graphs.js target/site/graphs.css \
  target/site/api-docs.js \
  -type f \( -name '*.js' -o -name '*.mjs' -o -name '*.wasm' -o -name '*.css' \) -print0)
