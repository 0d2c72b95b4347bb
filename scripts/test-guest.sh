#!/usr/bin/env bash
# Builds a tiny real guest for the tests, from Debian packages only: Debian's cloud kernel plus an
# initramfs of busybox whose init powers off when the ACPI power button is pressed (so
# `shutdown` completes, and libvirt's ACPI reboot works), reboots on Ctrl+Alt+Del (saying
# "limen-guest: ctrl-alt-del" first), and runs a shell on the serial port (the serial console
# tests type into it) and one on the screen's first console (the console page's "Paste text"
# types into it). The kernel logs to the screen and to the serial port. Its init loads the
# virtio block driver, so the guest sees its disk as /dev/vda (/sys/block/vda/size: the media
# tests watch an online resize from inside). Packed by grub-mkrescue into a hybrid image that
# boots both as a CD-ROM (OUT/limen-guest.iso) and as a disk (OUT/limen-guest.qcow2, a base
# image for copy-on-write clones).
# Two more ISOs hold only a GRUB menu, shown on the screen and on the serial port, with an
# hour's timeout: OUT/limen-menu.iso (entry "Limen Test Installer") and OUT/limen-rescue.iso
# (entry "Limen Rescue Shell"), so a test reads through the serial console which media booted.
#   scripts/test-guest.sh [OUT_DIR]    (idempotent: does nothing if this version of it is there)
# OUT_DIR defaults to the state dir's test-guest/ (.limen/state/test-guest): the real_guest tests
# boot these files, so QEMU (user libvirt-qemu) must be able to read them where they are. Each
# file is built aside and moved into place, so a test booting the old one never reads half a file.
source "$(dirname "$0")/lib.sh"
if [[ -n "${1:-}" ]]; then OUT=$1; else prepare_state_dir; OUT="$STATE_DIR/test-guest"; fi
# The guest's version: this script's own text. A changed script builds the guest again.
version=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
outputs=(limen-guest.iso limen-guest.qcow2 limen-menu.iso limen-rescue.iso)
built() {
  local file
  for file in "${outputs[@]}"; do [[ -f "$OUT/$file" ]] || return 1; done
  [[ "$(cat "$OUT/version" 2>/dev/null)" == "$version" ]]
}
built && exit 0
log "test guest: building from Debian's cloud kernel and busybox"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$OUT"

pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image/{print $2; exit}')
[[ -n "$pkg" ]] || die "no linux-image-cloud-amd64 package known to apt"
(cd "$work" && apt-get download "$pkg" 2>/dev/null)
dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
modules=$(echo "$work"/kernel/lib/modules/*/kernel)

root="$work/initramfs"
mkdir -p "$root"/{bin,dev,proc,sys,lib/modules}
cp /bin/busybox "$root/bin/busybox"
cp "$modules/drivers/acpi/button.ko" "$modules/drivers/input/evdev.ko" "$root/lib/modules/"
# The virtio block driver and what it needs, in the order init loads them (each after the ones
# it depends on). A module the kernel has built in has no file: skipped.
for module in virtio/virtio_ring virtio/virtio virtio/virtio_pci_modern_dev \
  virtio/virtio_pci_legacy_dev virtio/virtio_pci block/virtio_blk; do
  name=${module##*/}
  if [[ -f "$modules/drivers/$module.ko" ]]; then
    cp "$modules/drivers/$module.ko" "$root/lib/modules/"
    echo "$name" >> "$root/lib/modules/order"
  else
    grep -q "/$name.ko\$" "$modules/../modules.builtin" || die "the kernel has no $name module"
  fi
done
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
insmod /lib/modules/button.ko
insmod /lib/modules/evdev.ko
for module in $(cat /lib/modules/order 2>/dev/null); do insmod "/lib/modules/$module.ko"; done
echo "limen-guest: booted"
echo "limen-guest: booted" > /dev/tty0
# Ctrl+Alt+Del is a signal to init (not an immediate reset): say so, then reboot.
echo 0 > /proc/sys/kernel/ctrl-alt-del
trap 'echo "limen-guest: ctrl-alt-del"; reboot -f' INT
# A shell on the serial port, and one on the screen (the first virtual console, where the
# keyboard types), each again whenever it exits.
(while :; do setsid sh -i </dev/ttyS0 >/dev/ttyS0 2>&1; done) &
(while :; do setsid sh -i </dev/tty1 >/dev/tty1 2>&1; done) &
# Watch every "Power Button" input device (one watcher each, retried if its node is not there
# yet); any event from one means: power off now.
watch() {
  while ! dd if="$1" bs=24 count=1 >/dev/null 2>&1; do sleep 1; done
  echo "limen-guest: power button"
  poweroff -f
}
for input in /sys/class/input/input*; do
  [ "$(cat "$input/name")" = "Power Button" ] || continue
  for event in "$input"/event*; do
    watch "/dev/input/${event##*/}" &
  done
done
# PID 1 must never exit; it waits in `wait`, which a signal (Ctrl+Alt+Del) interrupts.
while :; do sleep 3600 & wait $!; done
INIT
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$work/initrd.gz"

iso="$work/iso"
mkdir -p "$iso/boot/grub"
cp "$work"/kernel/boot/vmlinuz-* "$iso/boot/vmlinuz"
cp "$work/initrd.gz" "$iso/boot/initrd.gz"
cat > "$iso/boot/grub/grub.cfg" <<'CFG'
set timeout=0
menuentry "limen-guest" {
  linux /boot/vmlinuz console=tty0 console=ttyS0
  initrd /boot/initrd.gz
}
CFG
grub-mkrescue -o "$work/limen-guest.iso" "$iso" >/dev/null 2>&1
qemu-img convert -q -f raw -O qcow2 "$work/limen-guest.iso" "$work/limen-guest.qcow2"

# menu_iso FILE TITLE: an ISO whose GRUB shows a menu (first entry TITLE) for an hour, on the
# screen and on the first serial port.
menu_iso() {
  local dir="$work/${1%.iso}"
  mkdir -p "$dir/boot/grub"
  cat > "$dir/boot/grub/grub.cfg" <<CFG
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=3600
menuentry "$2" {
  echo "$1: $2 chosen"
  halt
}
menuentry "Power off" {
  halt
}
CFG
  grub-mkrescue -o "$work/$1" "$dir" >/dev/null 2>&1
}
menu_iso limen-menu.iso "Limen Test Installer"
menu_iso limen-rescue.iso "Limen Rescue Shell"

for file in "${outputs[@]}"; do
  cp "$work/$file" "$OUT/.$file.new"
  chmod 644 "$OUT/.$file.new"
  mv -f "$OUT/.$file.new" "$OUT/$file"
done
echo "$version" > "$OUT/version"
log "test guest: ${outputs[*]} in $OUT"
