#!/usr/bin/env bash
# bench/install (issue 4): secup-agent installing a 64 MiB image into a file slot, beside
# the floor and beside RAUC and SWUpdate installing the same image into a file slot, all
# in one run on one machine.
#
#   bench/run-install.sh [BUILD_DIR]
#
# BUILD_DIR (default build/install-bench) is configured as a Release build when it is not
# a build directory yet, and secup-agent and secup-author are (re)built in it.
# On one random (incompressible) image, in a scratch directory on disk, each of these is
# timed SECUP_BENCH_RUNS times (default 3), interleaved, and the best time is kept:
#   floor      openssl dgst -sha256 of the image, then dd bs=1M conv=notrunc,fsync of it
#              into a slot file: the least a verifying installer has to do (hash, write,
#              fsync), as the floor_time of the project's peer scripts defines it
#   secup      secup-agent install of a signed envelope, payload beside it, into the
#              inactive file slot of a device in normal operation (v1 confirmed), including
#              the agent's fsyncs and journaled state; plain, and A128GCM-encrypted for
#              the device (for information)
#   RAUC       rauc install of a plain bundle into a raw file slot (bench/install/rauc.sh)
#   SWUpdate   swupdate -i of a signed .swu streamed into a file slot (bench/install/swupdate.sh)
# and it prints a table (seconds, MB/s, ratio to the floor, fsync-like calls, peak RSS),
# the agent's peak resident memory from /usr/bin/time -v, and the goals of issue 4:
# at most 1.0x the floor while fsyncing, peak memory under 8 MiB. A missed goal is
# reported, never turned into a failing exit status; the exit status is nonzero only when
# the setup breaks (no build, secup failing, missing tools). RAUC and SWUpdate are Debian
# packages, installed with apt-get when missing; when one cannot run here, the reason is
# printed and the rest goes on.
#
# Knobs: SECUP_BENCH_RUNS (3), SECUP_BENCH_MIB (64), SECUP_BENCH_DIR (scratch parent,
# /var/tmp), SECUP_BENCH_PEERS ("rauc swupdate"; empty for secup and the floor only),
# SECUP_BENCH_NO_INSTALL=1 (never call apt-get).
# RAUC needs root and loop devices (it loop-mounts the bundle); SWUpdate needs neither.
set -eu -o pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/install-bench}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
RUNS=${SECUP_BENCH_RUNS:-3}
MIB=${SECUP_BENCH_MIB:-64}
PEERS=${SECUP_BENCH_PEERS-rauc swupdate}
IMG_BYTES=$((MIB * 1024 * 1024))

. "$ROOT/bench/install/common.sh"
. "$ROOT/bench/install/secup.sh"
. "$ROOT/bench/install/rauc.sh"
. "$ROOT/bench/install/swupdate.sh"

WORK=$(mktemp -d "${SECUP_BENCH_DIR:-/var/tmp}/secup-install-bench.XXXXXX")
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    cd /
    stop_tracked
    rauc_cleanup
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- tools and the build ----
command -v openssl >/dev/null 2>&1 || need_pkgs openssl || die "$PKG_WHY"
[ -x /usr/bin/time ] || need_pkgs time || die "/usr/bin/time (Debian package time): $PKG_WHY"
AG=$BUILD/programs/agent/secup-agent
AU=$BUILD/programs/author/secup-author
if command -v cmake >/dev/null 2>&1 && { [ -f "$BUILD/CMakeCache.txt" ] || [ ! -e "$AG" ]; }; then
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        # Warnings are not errors here: a benchmark build must not stop at a new compiler's
        # warning (CI's warning-clean builds are the place for that).
        log "configuring a Release build in $BUILD"
        cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSECUP_WITH_TESTS=OFF \
            -DSECUP_WERROR=OFF >"$WORK/cmake.log" 2>&1 || { tail -n 20 "$WORK/cmake.log" >&2; die "cmake configure failed"; }
    fi
    cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target secup-agent secup-author \
        >"$WORK/build.log" 2>&1 || { grep -E 'error|Error' "$WORK/build.log" | head -n 20 >&2; die "building secup-agent and secup-author failed"; }
    BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
else
    BUILD_TYPE=unknown
fi
{ [ -x "$AG" ] && [ -x "$AU" ]; } || die "no secup-agent/secup-author in $BUILD/programs"

# ---- the image, the floor, each tool's setup ----
IMG=$WORK/image.bin
make_image "$IMG" "$IMG_BYTES" || die "cannot create the ${MIB} MiB image"
FLOOR_TARGET=$WORK/floor-slot.img
truncate -s "$IMG_BYTES" "$FLOOR_TARGET"

# floor_run -> FLOOR_T: the floor as ../shared/peers/lib.sh floor_time defines it.
floor_run() {
    local t0 t1
    t0=$(now)
    openssl dgst -sha256 "$IMG" >/dev/null
    dd if="$IMG" of="$FLOOR_TARGET" bs=1M conv=notrunc,fsync status=none
    t1=$(now)
    FLOOR_T=$(elapsed "$t0" "$t1")
}

secup_setup || die "setting up the secup device failed"

DO_RAUC=0 DO_SWU=0
PKI=$WORK/pki
if [ -n "$PEERS" ]; then
    make_pki "$PKI" || die "cannot create the test PKI for RAUC and SWUpdate"
fi
case " $PEERS " in *" rauc "*)
    if rauc_setup; then DO_RAUC=1; else log "RAUC: skipped: $RAUC_WHY"; fi ;;
*) RAUC_WHY="not asked for (SECUP_BENCH_PEERS)" ;; esac
case " $PEERS " in *" swupdate "*)
    if swupdate_setup; then DO_SWU=1; else log "SWUpdate: skipped: $SWU_WHY"; fi ;;
*) SWU_WHY="not asked for (SECUP_BENCH_PEERS)" ;; esac

# ---- the measurement: interleaved, best of RUNS ----
B_FLOOR='' B_PLAIN='' B_ENC='' B_RAUC='' B_SWU=''
R_PLAIN='' R_ENC='' R_RAUC='' R_SWU=''
for ((r = 1; r <= RUNS; r++)); do
    floor_run;         B_FLOOR=$(min "$B_FLOOR" "$FLOOR_T")
    secup_run plain;   B_PLAIN=$(min "$B_PLAIN" "$SECUP_T"); R_PLAIN=$(max "$R_PLAIN" "$SECUP_RSS")
    secup_check_slot
    secup_run enc;     B_ENC=$(min "$B_ENC" "$SECUP_T");     R_ENC=$(max "$R_ENC" "$SECUP_RSS")
    secup_check_slot
    if [ "$DO_RAUC" = 1 ]; then
        if rauc_run; then B_RAUC=$(min "$B_RAUC" "$RAUC_T"); R_RAUC=$(max "$R_RAUC" "$RAUC_RSS")
        else DO_RAUC=0; RAUC_WHY="rauc install failed in run $r: $(grep -a -m1 -i 'error\|fail' "$RAUC_DIR/install.log" | cut -c1-160)"; fi
    fi
    if [ "$DO_SWU" = 1 ]; then
        if swupdate_run; then B_SWU=$(min "$B_SWU" "$SWU_T"); R_SWU=$(max "$R_SWU" "$SWU_RSS")
        else DO_SWU=0; SWU_WHY="swupdate -i failed in run $r: $(grep -a -m1 'ERROR' "$SWU_DIR/run.log" | cut -c1-160)"; fi
    fi
done
[ "$DO_SWU" = 1 ] && { cmp -s "$IMG" "$SWU_SLOT" || die "SWUpdate's slot does not hold the image"; }
[ "$DO_RAUC" = 1 ] && { cmp -s "$IMG" "$RAUC_DIR/slots/b.img" || die "RAUC's slot B does not hold the image"; }

# ---- untimed extras: fsync-like calls (strace) and where the agent's peak RSS comes from ----
S_PLAIN=$(secup_sync_calls plain || echo "?")
S_ENC=$(secup_sync_calls enc || echo "?")
S_RAUC="-" S_SWU="-"
[ "$DO_RAUC" = 1 ] && S_RAUC=$(rauc_sync_calls)
[ "$DO_SWU" = 1 ] && S_SWU=$(swupdate_sync_calls)
RSS_DETAIL=
secup_rss_detail plain || RSS_DETAIL="(sampling failed)"
RSS_DETAIL_PLAIN=$RSS_DETAIL
secup_rss_detail enc || RSS_DETAIL="(sampling failed)"
RSS_DETAIL_ENC=$RSS_DETAIL

# ---- report ----
mbps() { awk -v b="$IMG_BYTES" -v s="$1" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
mib() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }' || echo "-"; }
row() { # name seconds fsync rss
    printf '| %-42s | %7.3f | %7s | %14s | %11s | %9s |\n' "$1" "$2" "$(mbps "$2")" \
        "$(ratio "$2" "$B_FLOOR")" "$3" "$4"
}
skip_row() { printf '| %-42s | %7s | %7s | %14s | %11s | %9s |\n' "$1" - - - - - ; }

echo
echo "secup bench/install: ${MIB} MiB random image into a file slot, best of $RUNS interleaved runs"
echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -r)," \
    "scratch on $(df -T "$WORK" | awk 'NR == 2 { print $2 }'), $(openssl version | cut -d' ' -f1-2), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "secup: $BUILD_TYPE build in $BUILD; RAUC: ${RAUC_VERSION:-n/a}; SWUpdate: ${SWU_VERSION:-n/a}"
echo
printf '| %-42s | %7s | %7s | %14s | %11s | %9s |\n' tool seconds "MB/s" "ratio to floor" "fsync calls" "peak RSS"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..44})" --------- --------- ---------------- ------------- -----------
row "floor: openssl dgst -sha256 + dd fsync" "$B_FLOOR" "1 (dd)" "-"
row "secup-agent install, plain payload" "$B_PLAIN" "$S_PLAIN" "$(mib "$R_PLAIN")"
row "secup-agent install, A128GCM payload" "$B_ENC" "$S_ENC" "$(mib "$R_ENC")"
if [ -n "$B_RAUC" ] && [ "$DO_RAUC" = 1 ]; then row "RAUC install, plain bundle (via service)" "$B_RAUC" "$S_RAUC" "$(mib "$R_RAUC")"
else skip_row "RAUC install: skipped"; fi
if [ -n "$B_SWU" ] && [ "$DO_SWU" = 1 ]; then row "SWUpdate -i, streamed (until 'successful')" "$B_SWU" "$S_SWU" "$(mib "$R_SWU")"
else skip_row "SWUpdate -i: skipped"; fi
echo
[ "$DO_RAUC" = 1 ] || echo "RAUC skipped: $RAUC_WHY"
[ "$DO_SWU" = 1 ] || echo "SWUpdate skipped: $SWU_WHY"
echo "peak RSS: secup-agent from /usr/bin/time -v (Maximum resident set size); RAUC: the service's VmHWM;" \
    "SWUpdate: GNU time %M (largest process). fsync calls: strace of one more install."
echo "secup-agent peak RSS, plain: $(mib "$R_PLAIN") ($R_PLAIN kB); $RSS_DETAIL_PLAIN"
echo "secup-agent peak RSS, A128GCM: $(mib "$R_ENC") ($R_ENC kB); $RSS_DETAIL_ENC"
echo
goal() { # text met(0/1) detail
    if [ "$2" = 1 ]; then echo "goal met: $1 ($3)"; else echo "goal not met: $1 ($3)"; fi
}
goal "secup-agent install at most 1.0x the floor while fsyncing" \
    "$(awk -v a="$B_PLAIN" -v b="$B_FLOOR" 'BEGIN { print (a <= b) ? 1 : 0 }')" \
    "plain $(ratio "$B_PLAIN" "$B_FLOOR"); A128GCM $(ratio "$B_ENC" "$B_FLOOR")"
goal "secup-agent peak memory under 8 MiB" \
    "$(awk -v a="$R_PLAIN" -v b="$R_ENC" 'BEGIN { print (a < 8192 && b < 8192) ? 1 : 0 }')" \
    "plain $(mib "$R_PLAIN"), A128GCM $(mib "$R_ENC")"
exit 0
