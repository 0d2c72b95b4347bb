#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test Limen. Idempotent: each step
# checks first (package installed, tool at the pinned version) and skips what is there.
source "$(dirname "$0")/lib.sh"

CARGO_LEPTOS_VERSION=0.3.11
BINARYEN_VERSION=132.0.0   # Debian's binaryen 108 makes a WASM that fails to hydrate.
APT_PACKAGES=(libvirt-daemon-system libvirt-dev libvirt-clients qemu-system-x86 qemu-utils
  postgresql libpq-dev chromium chromium-driver pkg-config xorriso grub-pc-bin mtools
  busybox-static brotli cpio)
# Only the end-to-end tests need these: nginx as the reverse proxy of README's snippet (started by
# scripts/e2e.sh with a config, ports and pid file of its own, never the system's nginx) and
# openssl for its test certificate.
TEST_APT_PACKAGES=(nginx openssl)

# apt_deps [PACKAGE...]: APT_PACKAGES and the given ones, those not installed yet.
apt_deps() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  # npm installs wasm-opt, the browser libraries of the console and graph pages and Playwright.
  # Any npm will do: a machine with Node from elsewhere (e.g. NodeSource, which bundles npm) keeps
  # its own.
  command -v npm >/dev/null || missing+=(nodejs npm)
  # qemu-utils must match qemu-system's version: some images ship a newer qemu-utils that
  # "Breaks" Debian 12's qemu-system-common.
  local qemu_ver utils_ver
  qemu_ver=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || true)
  utils_ver=$(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null || true)
  if [[ -z "$qemu_ver" || "$qemu_ver" != "$utils_ver" ]]; then
    missing+=(qemu-system-x86 qemu-utils)
  fi
  (( ${#missing[@]} )) || return 0
  log "apt: installing ${missing[*]}"
  [[ $(id -u) == 0 ]] || die "installing Debian packages needs root"
  apt-get update -qq
  local target
  target=$(apt-cache madison qemu-system-x86 | awk 'NR==1{print $3}')
  local args=()
  for pkg in "${missing[@]}"; do
    if [[ $pkg == qemu-utils ]]; then args+=("qemu-utils=$target"); else args+=("$pkg"); fi
  done
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --allow-downgrades "${args[@]}" >/dev/null
}

rust_deps() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown || {
    log "rustup: adding wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown; }

  if [[ "$(cargo leptos --version 2>/dev/null)" != *"$CARGO_LEPTOS_VERSION"* ]]; then
    log "cargo: installing cargo-leptos $CARGO_LEPTOS_VERSION (about 17 minutes on 2 cores)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --ignore-rust-version
  fi

  # The CLI must be exactly the wasm-bindgen version in Cargo.lock.
  local wb
  wb=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print}' "$ROOT/Cargo.lock")
  [[ -n "$wb" ]] || die "wasm-bindgen not found in Cargo.lock"
  if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wb" ]]; then
    log "cargo: installing wasm-bindgen-cli $wb"
    cargo install wasm-bindgen-cli --version "$wb"   # --locked fails for this crate
  fi
}

node_deps() {
  if [[ "$(wasm-opt --version 2>/dev/null)" != *"version ${BINARYEN_VERSION%%.*}"* ]]; then
    log "npm: installing binaryen $BINARYEN_VERSION (wasm-opt)"
    mkdir -p "$TOOLS_DIR"
    (cd "$TOOLS_DIR" && npm install --silent --no-audit --no-fund --prefix . "binaryen@$BINARYEN_VERSION" >/dev/null)
  fi
}

# The browser libraries the console and graph pages load (noVNC, xterm.js, uPlot): pinned in
# vendor/'s lock file, served by Limen itself from the built site, never a CDN. Inputs of the
# build like the crates cargo fetches, not tools of the machine: scripts/build.sh installs them
# (`deps.sh vendor`).
vendor_deps() {
  local lock="$ROOT/vendor/package-lock.json" stamp="$ROOT/vendor/node_modules/.limen-lock"
  if [[ ! -f "$stamp" ]] || ! cmp -s "$lock" "$stamp"; then
    log "npm: installing the browser libraries of the console, graph and API documentation pages (vendor/)"
    # No install scripts: these are files to serve (swagger-ui-dist's would phone home).
    (cd "$ROOT/vendor" && npm ci --ignore-scripts --silent --no-audit --no-fund >/dev/null)
    cp "$lock" "$stamp"
  fi
}

e2e_deps() {
  local lock="$ROOT/end2end/package-lock.json" stamp="$ROOT/end2end/node_modules/.limen-lock"
  if [[ ! -f "$stamp" ]] || ! cmp -s "$lock" "$stamp"; then
    log "npm: installing end2end packages (no browser download: Debian's Chromium is used)"
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund >/dev/null)
    cp "$lock" "$stamp"
  fi
}

case "${1:-all}" in
  run) apt_deps; rust_deps; node_deps ;;
  all) apt_deps "${TEST_APT_PACKAGES[@]}"; rust_deps; node_deps; e2e_deps ;;
  vendor) vendor_deps ;;
  *) die "usage: deps.sh [run|all|vendor]" ;;
esac
