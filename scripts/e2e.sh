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
cd end2end
npx playwright test "$@"
