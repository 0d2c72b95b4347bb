#!/usr/bin/env bash
# End-to-end tests against target/release/limen (build it first: scripts/build.sh) with a real
# libvirtd and QEMU (TCG) guests. Extra arguments go to `playwright test` (e.g. -g "create").
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/libvirt.sh
prepare_state_dir   # QEMU must reach the e2e data: it lives in the state dir, not the checkout
export LIMEN_E2E_DATABASE_URL LIMEN_E2E_DATA_DIR="$STATE_DIR/e2e-data"
LIMEN_E2E_DATABASE_URL=$(bash scripts/postgres.sh --fresh limen_e2e)
# Leftovers of an interrupted earlier run (e2e VMs are all named e2e-*).
for dom in $(virsh -c qemu:///system list --all --name | grep '^e2e-' || true); do
  virsh -c qemu:///system destroy "$dom" >/dev/null 2>&1 || true
  virsh -c qemu:///system undefine "$dom" --nvram --snapshots-metadata >/dev/null 2>&1 || true
done
# A second real libvirt host on this machine (scripts/second-host.sh: its own libvirtd, sharing
# the files): hosts.spec.ts adds it by this URI, makes VMs on it and migrates them between the two.
export LIMEN_E2E_SECOND_HOST
LIMEN_E2E_SECOND_HOST=$(bash scripts/second-host.sh start)
for dom in $(virsh -c "$LIMEN_E2E_SECOND_HOST" list --all --name | grep '^e2e-' || true); do
  virsh -c "$LIMEN_E2E_SECOND_HOST" destroy "$dom" >/dev/null 2>&1 || true
  virsh -c "$LIMEN_E2E_SECOND_HOST" undefine "$dom" --nvram --snapshots-metadata >/dev/null 2>&1 || true
done
rm -rf "$LIMEN_E2E_DATA_DIR"
mkdir -p "$LIMEN_E2E_DATA_DIR"/{disks,isos,images}
chmod 755 "$LIMEN_E2E_DATA_DIR" "$LIMEN_E2E_DATA_DIR"/{disks,isos,images}

# Test media, made here from Debian packages: a bootable GRUB ISO whose menu waits, drawn on the
# screen and on the serial port (the install tests read it in the serial console), and a base
# image. Made again when its menu changes.
media_src="$STATE_DIR/e2e-media"
grub_cfg='serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=-1
menuentry "Limen e2e installer" { true }'
if [[ ! -f "$media_src/e2e-boot.iso" || "$(cat "$media_src/iso-root/boot/grub/grub.cfg" 2>/dev/null)" != "$grub_cfg" ]]; then
  mkdir -p "$media_src/iso-root/boot/grub"
  printf '%s\n' "$grub_cfg" > "$media_src/iso-root/boot/grub/grub.cfg"
  grub-mkrescue -o "$media_src/e2e-boot.iso" "$media_src/iso-root" >/dev/null 2>&1
fi
cp "$media_src/e2e-boot.iso" "$LIMEN_E2E_DATA_DIR/isos/"
# The test guest (a Linux kernel with a shell on its serial port) for the console tests: built
# once into the state dir (make test builds it before this runs), booted here from the library.
bash scripts/test-guest.sh
cp "$STATE_DIR/test-guest/limen-guest.iso" "$LIMEN_E2E_DATA_DIR/isos/"
# …and as a disk with an operating system on it: "installed", for the install flow's second boot.
cp "$STATE_DIR/test-guest/limen-guest.qcow2" "$LIMEN_E2E_DATA_DIR/images/"
qemu-img create -q -f qcow2 "$LIMEN_E2E_DATA_DIR/images/e2e-base.qcow2" 1G
chmod 644 "$LIMEN_E2E_DATA_DIR"/isos/* "$LIMEN_E2E_DATA_DIR"/images/*
# The admin the tests log in as (the first user of this fresh database).
export LIMEN_E2E_ADMIN=e2e-admin LIMEN_E2E_PASSWORD="e2e-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$LIMEN_E2E_PASSWORD" | LIMEN_CONFIG=/dev/null LIMEN_DATABASE_URL="$LIMEN_E2E_DATABASE_URL" \
  LIMEN_LIBVIRT_URI=qemu:///system LIMEN_DATA_DIR="$LIMEN_E2E_DATA_DIR" \
  target/release/limen user add "$LIMEN_E2E_ADMIN" --admin --password-stdin

# --- HTTPS and a reverse proxy ----------------------------------------------------------------
# Two more servers, started by end2end/playwright.config.ts for tls.spec.ts and proxy.spec.ts:
#  - the INSTALLED Limen (`make install DESTDIR=… PREFIX=/usr`, checked by test-install.sh) with
#    its installed limen.toml (tls = "self-signed"): HTTPS on 127.0.0.1:18556;
#  - target/release/limen in plain HTTP on 127.0.0.1:18558 behind nginx, configured with the
#    README's snippet ("Behind a reverse proxy"): HTTPS on 127.0.0.1:18557.
# Each has a fresh database and data dir of its own (one server per database).
export LIMEN_E2E_HTTPS_PORT=18556 LIMEN_E2E_PROXY_PORT=18557 LIMEN_E2E_UPSTREAM_PORT=18558
# The snippet's `listen 80` server (a redirect to https), on a port of our own.
export LIMEN_E2E_PROXY_HTTP_PORT=18559
install_root="$STATE_DIR/e2e-install"
rm -rf "$install_root"
bash scripts/test-install.sh --keep "$install_root"
export LIMEN_E2E_INSTALLED_BIN="$install_root/usr/bin/limen"
export LIMEN_E2E_INSTALLED_CONFIG="$install_root/etc/limen/limen.toml"
export LIMEN_E2E_INSTALLED_SITE="$install_root/usr/share/limen/site"
export LIMEN_E2E_TLS_DATABASE_URL LIMEN_E2E_PROXY_DATABASE_URL
LIMEN_E2E_TLS_DATABASE_URL=$(bash scripts/postgres.sh --fresh limen_e2e_tls)
LIMEN_E2E_PROXY_DATABASE_URL=$(bash scripts/postgres.sh --fresh limen_e2e_proxy)
export LIMEN_E2E_TLS_DATA_DIR="$STATE_DIR/e2e-tls-data" LIMEN_E2E_PROXY_DATA_DIR="$STATE_DIR/e2e-proxy-data"
for dir in "$LIMEN_E2E_TLS_DATA_DIR" "$LIMEN_E2E_PROXY_DATA_DIR"; do
  rm -rf "$dir"
  mkdir -p "$dir"/{disks,isos,images}
  chmod 755 "$dir" "$dir"/{disks,isos,images}
  # The GRUB ISO whose menu waits on the screen and the serial port: a guest for the consoles.
  cp "$media_src/e2e-boot.iso" "$dir/isos/"
  chmod 644 "$dir/isos/e2e-boot.iso"
done
# The same admin in both databases (the installed binary makes its own).
printf '%s\n' "$LIMEN_E2E_PASSWORD" | LIMEN_CONFIG=/dev/null LIMEN_DATABASE_URL="$LIMEN_E2E_TLS_DATABASE_URL" \
  LIMEN_LIBVIRT_URI=qemu:///system LIMEN_DATA_DIR="$LIMEN_E2E_TLS_DATA_DIR" \
  "$LIMEN_E2E_INSTALLED_BIN" user add "$LIMEN_E2E_ADMIN" --admin --password-stdin
printf '%s\n' "$LIMEN_E2E_PASSWORD" | LIMEN_CONFIG=/dev/null LIMEN_DATABASE_URL="$LIMEN_E2E_PROXY_DATABASE_URL" \
  LIMEN_LIBVIRT_URI=qemu:///system LIMEN_DATA_DIR="$LIMEN_E2E_PROXY_DATA_DIR" \
  target/release/limen user add "$LIMEN_E2E_ADMIN" --admin --password-stdin

# nginx: an instance of our own (its config, prefix, pid file, logs, temp paths and ports), so a
# system nginx, running or not, is never touched; stopped when this script ends.
command -v nginx >/dev/null || die "nginx is missing (the proxy tests need it): run scripts/deps.sh all"
nginx_dir="$STATE_DIR/e2e-nginx"
nginx_conf="$nginx_dir/nginx.conf"
our_nginx() { nginx -q -c "$nginx_conf" -p "$nginx_dir/" -e "$nginx_dir/error.log" "$@"; }
stop_nginx() {
  local pid deadline
  pid=$(cat "$nginx_dir/nginx.pid" 2>/dev/null) || return 0
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == nginx ]] || return 0
  our_nginx -s quit || true
  deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then our_nginx -s stop || true; fi
}
stop_nginx   # one an interrupted earlier run left behind
rm -rf "$nginx_dir"
install -d -m 755 "$nginx_dir" "$nginx_dir/tmp"
# The proxy's certificate, in place of the snippet's Let's Encrypt paths.
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -days 2 \
  -keyout "$nginx_dir/key.pem" -out "$nginx_dir/cert.pem" 2>/dev/null
chmod 600 "$nginx_dir/key.pem"
# The README's snippet as it is, but for its ports, server name, certificate and upstream.
snippet=$(awk '/^```nginx$/ {inside = 1; next} inside && /^```$/ {exit} inside' README.md)
[[ -n $snippet ]] || die "README.md has no nginx block (the reverse-proxy snippet)"
sed -e "s|^\( *listen\) 443 |\1 127.0.0.1:$LIMEN_E2E_PROXY_PORT |" \
  -e "s|^\( *listen\) 80;|\1 127.0.0.1:$LIMEN_E2E_PROXY_HTTP_PORT;|" \
  -e "s|^\( *server_name\) limen\.example\.lan;|\1 localhost;|" \
  -e "s|^\( *ssl_certificate\) .*;|\1 $nginx_dir/cert.pem;|" \
  -e "s|^\( *ssl_certificate_key\) .*;|\1 $nginx_dir/key.pem;|" \
  -e "s|http://127\.0\.0\.1:18443;|http://127.0.0.1:$LIMEN_E2E_UPSTREAM_PORT;|" \
  <<< "$snippet" > "$nginx_dir/limen.conf"
# Every replacement must have happened: a changed snippet fails here, not as a puzzling test.
for expected in "listen 127.0.0.1:$LIMEN_E2E_PROXY_PORT ssl" "listen 127.0.0.1:$LIMEN_E2E_PROXY_HTTP_PORT;" \
  "ssl_certificate $nginx_dir/cert.pem;" "ssl_certificate_key $nginx_dir/key.pem;" \
  "proxy_pass http://127.0.0.1:$LIMEN_E2E_UPSTREAM_PORT;"; do
  grep -qF -- "$expected" "$nginx_dir/limen.conf" \
    || die "the README's nginx snippet changed: no '$expected' after adapting it ($nginx_dir/limen.conf)"
done
if grep -nE '18443|letsencrypt|example\.lan' "$nginx_dir/limen.conf" >&2; then
  die "the README's nginx snippet changed: the lines above were not adapted ($nginx_dir/limen.conf)"
fi
cat > "$nginx_conf" <<CONF
# Made by scripts/e2e.sh: the README's reverse-proxy snippet (limen.conf) in front of the e2e
# Limen on 127.0.0.1:$LIMEN_E2E_UPSTREAM_PORT. All this nginx has is in $nginx_dir.
daemon on;
user www-data;
worker_processes 1;
pid $nginx_dir/nginx.pid;
error_log $nginx_dir/error.log warn;
events { worker_connections 512; }
http {
    access_log $nginx_dir/access.log;
    client_body_temp_path $nginx_dir/tmp/client_body;
    proxy_temp_path $nginx_dir/tmp/proxy;
    fastcgi_temp_path $nginx_dir/tmp/fastcgi;
    uwsgi_temp_path $nginx_dir/tmp/uwsgi;
    scgi_temp_path $nginx_dir/tmp/scgi;
    include $nginx_dir/limen.conf;
}
CONF
our_nginx -t || die "nginx refuses the README's snippet (see above; $nginx_dir/limen.conf)"
trap stop_nginx EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
our_nginx || die "nginx did not start (see $nginx_dir/error.log)"
log "e2e: nginx with the README's snippet: https://localhost:$LIMEN_E2E_PROXY_PORT → 127.0.0.1:$LIMEN_E2E_UPSTREAM_PORT"

cd end2end
# The API's description as `limen openapi` prints it: a standard OpenAPI validator checks it,
# and openapi-typescript makes the types the generated-client test is type-checked against.
mkdir -p generated
../target/release/limen openapi > generated/openapi.json
npx validate-api generated/openapi.json \
  || die "the OpenAPI description is not valid (limen openapi; see above)"
npx openapi-typescript generated/openapi.json --output generated/limen-api.d.ts >/dev/null
npx tsc -p tsconfig.api.json \
  || die "the API client test does not type-check against the description (see above)"
log "e2e: the OpenAPI description is valid and the generated client compiles"
npx playwright test "$@"
