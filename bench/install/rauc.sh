# shellcheck shell=bash disable=SC2034  # sourced by bench/run-install.sh, which reads these globals
# RAUC side of bench/run-install.sh (Debian's rauc). Sourced; needs IMG, IMG_BYTES, WORK, PKI.
#
# As a device would run it: `rauc service` (here on a private D-Bus system bus of its own
# dbus-daemon) with two raw slots in regular files, the "custom" bootloader backend (a
# small script keeping the A/B state in files) and slot A as the booted one; the bundle is
# the plain format (a signed squashfs holding the image). `rauc install` is timed from the
# client's start to its exit: signature check over the whole bundle, loop mount of the
# squashfs, image copied into slot B, slot marked. RAUC cannot run without loop devices
# (plain bundles are mounted) and root; when they are missing it is skipped with the reason.

RAUC_DIR=
RAUC_SVC=
RAUC_WHY=
rauc_skip() { RAUC_WHY=$1; return 1; }

rauc_setup() {
    need_pkgs rauc squashfs-tools dbus || rauc_skip "$PKG_WHY" || return 1
    command -v dbus-daemon >/dev/null 2>&1 || rauc_skip "no dbus-daemon" || return 1
    [ "$(id -u)" -eq 0 ] || rauc_skip "needs root (it loop-mounts the bundle)" || return 1
    if [ ! -e /dev/loop-control ] || ! losetup -f >/dev/null 2>&1; then
        rauc_skip "no usable loop device here (/dev/loop-control or a free /dev/loopN is missing; plain bundles are loop-mounted)"
        return 1
    fi
    RAUC_DIR=$WORK/rauc
    local d=$RAUC_DIR
    mkdir -p "$d/content" "$d/slots" "$d/data" "$d/mnt" "$d/bootstate"
    ln "$IMG" "$d/content/rootfs.img" 2>/dev/null || cp "$IMG" "$d/content/rootfs.img"
    printf '[update]\ncompatible=secup-install-bench\nversion=2.0.0\n\n[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=rootfs.img\n' \
        >"$d/content/manifest.raucm"
    rauc bundle --cert="$PKI/signer.cert.pem" --key="$PKI/signer.key.pem" \
        "$d/content" "$d/bundle.raucb" >"$d/bundle.log" 2>&1 ||
        rauc_skip "rauc bundle failed: $(tail -n 2 "$d/bundle.log" | tr '\n' ' ')" || return 1
    truncate -s "$IMG_BYTES" "$d/slots/a.img" "$d/slots/b.img"
    cat >"$d/bootloader.sh" <<'SH'
#!/bin/sh
# RAUC "custom" bootloader backend for the benchmark: primary slot and slot states in files.
s=$(dirname "$0")/bootstate
case "$1" in
    get-primary) cat "$s/primary" 2>/dev/null || echo A ;;
    set-primary) echo "$2" >"$s/primary" ;;
    get-state)   cat "$s/state.$2" 2>/dev/null || echo good ;;
    set-state)   echo "$3" >"$s/state.$2" ;;
    get-current) echo A ;;
    *) exit 1 ;;
esac
SH
    chmod 755 "$d/bootloader.sh"
    cat >"$d/system.conf" <<CONF
[system]
compatible=secup-install-bench
bootloader=custom
mountprefix=$d/mnt
data-directory=$d/data
bundle-formats=plain

[handlers]
bootloader-custom-backend=$d/bootloader.sh

[keyring]
path=$PKI/ca.cert.pem

[slot.rootfs.0]
device=$d/slots/a.img
type=raw
bootname=A

[slot.rootfs.1]
device=$d/slots/b.img
type=raw
bootname=B
CONF
    cat >"$d/bus.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$d/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
XML
    dbus-daemon --config-file="$d/bus.conf" --nofork --nopidfile >"$d/dbus.log" 2>&1 &
    track_pid $!
    local i
    for i in $(seq 50); do [ -S "$d/bus.sock" ] && break; sleep 0.1; done
    [ -S "$d/bus.sock" ] || rauc_skip "private dbus-daemon did not start: $(tail -n 1 "$d/dbus.log")" || return 1
    export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$d/bus.sock"
    rauc --conf="$d/system.conf" service --override-boot-slot=A >"$d/service.log" 2>&1 &
    RAUC_SVC=$!
    track_pid "$RAUC_SVC"
    for i in $(seq 50); do rauc --conf="$d/system.conf" status >/dev/null 2>&1 && break; sleep 0.1; done
    rauc --conf="$d/system.conf" status >/dev/null 2>&1 ||
        rauc_skip "rauc service did not come up: $(tail -n 2 "$d/service.log" | tr '\n' ' ')" || return 1
    # One install that must work before anything is timed.
    rauc --conf="$d/system.conf" install "$d/bundle.raucb" >"$d/install.log" 2>&1 ||
        rauc_skip "rauc install failed: $(grep -a -m1 -i 'error\|fail' "$d/install.log" | cut -c1-160)" || return 1
    cmp -s "$IMG" "$d/slots/b.img" || rauc_skip "after rauc install, slot B does not hold the image" || return 1
    RAUC_VERSION=$(rauc --version 2>&1 | head -n 1)
}

# rauc_run: one timed install -> RAUC_T (s, client start to exit), RAUC_RSS (kB: the
# service's VmHWM, reset before the install through clear_refs).
rauc_run() {
    local t0 t1 d=$RAUC_DIR
    dd if=/dev/zero of="$d/slots/b.img" bs=1M count=1 conv=notrunc,fsync status=none
    echo 5 >"/proc/$RAUC_SVC/clear_refs" 2>/dev/null || true
    t0=$(now)
    rauc --conf="$d/system.conf" install "$d/bundle.raucb" >"$d/install.log" 2>&1 || return 1
    t1=$(now)
    RAUC_T=$(elapsed "$t0" "$t1")
    RAUC_RSS=$(awk '/^VmHWM/ { print $2 }' "/proc/$RAUC_SVC/status" 2>/dev/null)
    # Whatever RAUC left dirty is flushed here, untimed, not in the next tool's measurement.
    sync "$d/slots/b.img"
    cmp -s -n 1048576 "$IMG" "$d/slots/b.img"
}

# rauc_sync_calls: fsync-like calls the service made during one install (strace; untimed)
rauc_sync_calls() {
    command -v strace >/dev/null 2>&1 || { echo "?"; return 0; }
    local d=$RAUC_DIR sp i
    strace -f -qq -e "$SYNC_TRACE" -p "$RAUC_SVC" -o "$d/strace.txt" 2>/dev/null &
    sp=$!
    for i in $(seq 20); do grep -q '^TracerPid:[[:space:]]*[1-9]' "/proc/$RAUC_SVC/status" && break; sleep 0.05; done
    rauc --conf="$d/system.conf" install "$d/bundle.raucb" >/dev/null 2>&1 || true
    kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null
    count_syncs "$d/strace.txt"
}

rauc_cleanup() {
    [ -n "$RAUC_DIR" ] && [ -d "$RAUC_DIR/mnt" ] || return 0
    local m
    awk -v p="$RAUC_DIR/mnt" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
        while IFS= read -r m; do umount "$m" 2>/dev/null || true; done
}
