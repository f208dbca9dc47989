# shellcheck shell=bash disable=SC2034  # sourced by bench/run-install.sh, which reads these globals
# secup-agent side of bench/run-install.sh. Sourced; needs AG, AU, IMG, IMG_BYTES, WORK.
#
# The device: one component with two file slots of IMG_BYTES each, the state-file
# bootloader, no health check. It is brought into normal operation first (a small v1 is
# installed, booted and confirmed, so it runs from slot B); that state directory is kept,
# and every timed run starts from a copy of it and installs v2 (the IMG_BYTES image,
# sequence 2) into slot A, as a device in the field would.

SECUP_DIR=
secup_setup() {
    SECUP_DIR=$WORK/secup
    local d=$SECUP_DIR
    mkdir -p "$d/keys" "$d/slots" "$d/state"
    "$AU" keygen --alg esp256 --out "$d/keys/author.pem" >/dev/null || return 1
    "$AU" keygen --alg x25519 --out "$d/keys/device.pem" >/dev/null || return 1
    cat >"$d/device.json" <<JSON
{ "device": { "id": "bench-0001", "key": "keys/device.pem",
              "vendor-domain": "bench.secup.invalid", "class": "install-bench" },
  "state-dir": "state",
  "bootloader": { "type": "statefile", "path": "state/boot" },
  "components": [ { "name": "firmware", "slots": ["slots/a.img", "slots/b.img"],
                    "slot-type": "file", "slot-size": $IMG_BYTES } ],
  "trust": [ { "name": "release", "key": "keys/author.pub.pem" } ] }
JSON
    # Slots exist and are full-size from the start, like the floor's target and the peers' slots.
    truncate -s "$IMG_BYTES" "$d/slots/a.img" "$d/slots/b.img"
    local mk=(--key "$d/keys/author.pem" --vendor-domain bench.secup.invalid --class install-bench -q)
    head -c 65536 "$IMG" >"$d/v1.bin"
    "$AU" create "${mk[@]}" --image "$d/v1.bin" --seq 1 --version 1.0.0 --integrate \
        --out "$d/v1.suit" || return 1
    "$AU" create "${mk[@]}" --image "$IMG" --seq 2 --version 2.0.0 \
        --uri https://bench.secup.invalid/fw-2.bin --out "$d/plain.suit" || return 1
    "$AU" create "${mk[@]}" --image "$IMG" --seq 2 --version 2.0.0 \
        --uri https://bench.secup.invalid/fw-2.enc --encrypt-for "$d/keys/device.pub.pem" \
        --payload-out "$d/fw-2.enc" --out "$d/enc.suit" || return 1
    (
        cd "$d" || exit 1
        "$AG" --config device.json install v1.suit >"$d/prep.log" 2>&1 &&
            "$AG" --config device.json boot >>"$d/prep.log" 2>&1 &&
            "$AG" --config device.json status >>"$d/prep.log" 2>&1 &&
            grep -q 'runs slot B' "$d/prep.log"
    ) || { cat "$d/prep.log" >&2; return 1; }
    cp -a "$d/state" "$d/state.ready"
}

secup_reset() {
    rm -rf "$SECUP_DIR/state" && cp -a "$SECUP_DIR/state.ready" "$SECUP_DIR/state"
}

# secup_args plain|enc -> the install command line (relative to SECUP_DIR)
secup_args() {
    case $1 in
        plain) SECUP_ARGS=(--config device.json install plain.suit --payload "$IMG") ;;
        enc)   SECUP_ARGS=(--config device.json install enc.suit --payload fw-2.enc) ;;
    esac
}

# secup_run plain|enc: one timed install -> SECUP_T (s) and SECUP_RSS (kB, GNU time -v).
secup_run() {
    local t0 t1 rc=0
    secup_reset || die "cannot reset the secup device state"
    secup_args "$1"
    cd "$SECUP_DIR" || die "no $SECUP_DIR"
    t0=$(now)
    /usr/bin/time -v -o "$SECUP_DIR/time.txt" "$AG" "${SECUP_ARGS[@]}" >"$SECUP_DIR/run.log" 2>&1 || rc=$?
    t1=$(now)
    cd "$ROOT" || true
    if [ "$rc" -ne 0 ] || ! grep -q 'installed sequence 2' "$SECUP_DIR/run.log"; then
        cat "$SECUP_DIR/run.log" >&2
        die "secup-agent install ($1) failed (exit $rc)"
    fi
    SECUP_T=$(elapsed "$t0" "$t1")
    SECUP_RSS=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$SECUP_DIR/time.txt")
}

secup_check_slot() {
    cmp -s "$IMG" "$SECUP_DIR/slots/a.img" || die "secup: slot A does not hold the image after install"
}

# secup_rss_detail plain|enc: one more (untimed) install while /proc/PID/status is sampled,
# to tell how much of the peak is the process's own memory (RssAnon) and how much is
# file pages mapped into it (RssFile: mmap of the payload, shared libraries).
secup_rss_detail() {
    local pid k v anon=0 file=0 hwm=0
    secup_reset || return 1
    secup_args "$1"
    cd "$SECUP_DIR" || return 1
    "$AG" "${SECUP_ARGS[@]}" >"$SECUP_DIR/rss.log" 2>&1 &
    pid=$!
    while [ -r "/proc/$pid/status" ]; do
        while IFS=$': \t' read -r k v _; do
            case $k in
                RssAnon) [ "$v" -gt "$anon" ] && anon=$v ;;
                RssFile) [ "$v" -gt "$file" ] && file=$v ;;
                VmHWM)   [ "$v" -gt "$hwm" ] && hwm=$v ;;
                State)   [ "$v" = Z ] && break 2 ;;
            esac
        done <"/proc/$pid/status" 2>/dev/null || break
    done
    wait "$pid" 2>/dev/null
    cd "$ROOT" || true
    RSS_DETAIL="largest seen while sampling: VmHWM $hwm kB, RssAnon $anon kB, RssFile $file kB"
}

# secup_sync_calls plain: fsync-like calls of one install (strace; untimed)
secup_sync_calls() {
    secup_reset || return 1
    secup_args "$1"
    (cd "$SECUP_DIR" && sync_calls "$SECUP_DIR/strace.txt" "$AG" "${SECUP_ARGS[@]}")
}
