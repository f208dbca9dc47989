#!/usr/bin/env bash
# bench/tracker (issue [tracker]), second half: the time for a rollout to reach DEVICES
# simulated consumers through a two-level cascade of trackers, beside the time the same
# downloads take from the same server with no tracker at all, measured in the same run.
# Goal: the rollout bounded by the download time of the payload, not by the trackers.
#
#   bench/run-cascade.sh [BUILD_DIR]
#
# BUILD_DIR (default build/cascade-bench) is configured as a Release build when it is not
# a build directory yet; secup-server, secup-tracker, secup-author and secup-fleetsim are
# (re)built in it. In a scratch directory, over real HTTPS (the development certificates
# of `init`) with SQLite stores:
#   - a secup-server; a cloud tracker L1 ("auto-update": false: only rollouts give anything
#     out) subscribed to it; a gateway tracker L2 cascaded under L1 (upstream, server
#     token, the Author's key as trust anchor);
#   - an Author signs v1 and v2 of a PAYLOAD_KIB KiB random image for the class and
#     uploads both (L1 learns of them from the server; L2 knows nothing of v2 yet);
#   - secup-fleetsim runs DEVICES devices under L2, all running v1: they register, report
#     and long-poll (POLL_WAIT s). Once L2 lists every one of them, the clock starts and a
#     rollout of v2 for the class is created at L1 (`rollout create --canary 0`): L1
#     commands L2, L2 fetches and verifies v2's manifest and commands each device; each
#     device verifies its command and the manifest, downloads the payload from the server,
#     checks its digest, "installs" it and reports. The rollout time is from just before
#     `rollout create` to the moment the last device's report of v2 was accepted by L2.
#   - the baseline, right after, on the same server and the same image: secup-fleetsim
#     --download-only, DEVICES devices at once fetching and verifying the manifest and the
#     payload (the same client code, TLS, digest check), no tracker. Its time is from the
#     start to the last verified payload.
# It prints both, their ratio (rollout / baseline), the cascade's own delay (rollout
# created -> first device commanded), per-device latencies, and the CPU seconds each
# process used in each window (from /proc). A missed goal is printed, never turned into a
# failing exit status; the exit status is nonzero only when the setup breaks.
#
# Knobs: DEVICES (1000), PAYLOAD_KIB (256), POLL_WAIT (30 s, the devices' long poll),
# RAMP_MS (5000: the fleet's start is spread over it), TIMEOUT (600 s for the rollout),
# CONNECTIONS (per-request: every request of every device opens its own connection and TLS
# session, as secup-agent does; "shared": one kept-alive pool for the fleet; both runs use
# the same mode),
# SECUP_BENCH_DIR (scratch parent, /var/tmp), SECUP_BENCH_KEEP=1 (keep the scratch directory).
set -eu -o pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/cascade-bench}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
DEVICES=${DEVICES:-1000}
PAYLOAD_KIB=${PAYLOAD_KIB:-256}
POLL_WAIT=${POLL_WAIT:-30}
RAMP_MS=${RAMP_MS:-5000}
TIMEOUT=${TIMEOUT:-600}
CONNECTIONS=${CONNECTIONS:-per-request}
NCPU=$(nproc 2>/dev/null || echo 2)

WORK=$(mktemp -d "${SECUP_BENCH_DIR:-/var/tmp}/secup-cascade-bench.XXXXXX")
log() { printf 'run-cascade: %s\n' "$*" >&2; }
die() { printf 'run-cascade: setup failed: %s\n' "$*" >&2; exit 1; }

PIDS=()
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    cd /
    local p
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    if [ "${SECUP_BENCH_KEEP:-0}" = 1 ]; then log "scratch directory kept: $WORK"; else rm -rf "$WORK"; fi
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the build ----
SRV=$BUILD/programs/server/secup-server
TRK=$BUILD/programs/tracker/secup-tracker
A=$BUILD/programs/author/secup-author
FS=$BUILD/programs/fleetsim/secup-fleetsim
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    log "configuring a Release build in $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSECUP_WITH_TESTS=OFF \
        >"$WORK/cmake.log" 2>&1 || { tail -n 20 "$WORK/cmake.log" >&2; die "cmake configure failed"; }
fi
cmake --build "$BUILD" -j "$NCPU" --target secup-server secup-tracker secup-author secup-fleetsim \
    >"$WORK/build.log" 2>&1 || { grep -E 'error|Error' "$WORK/build.log" | head -n 20 >&2; die "the build failed"; }
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
command -v python3 >/dev/null 2>&1 || die "python3 is needed to edit the configurations"
command -v curl >/dev/null 2>&1 || die "curl is needed for the subscription"

cd "$WORK"
port_of() { for _ in $(seq 200); do [ -s "$1" ] && break; sleep 0.05; done; [ -s "$1" ] || die "no $1"; cat "$1"; }
setjson() { # file python-statement-on-c
    python3 - "$1" "$2" <<'PYEOF' || die "cannot edit $1"
import json, sys
c = json.load(open(sys.argv[1])); exec(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"), indent=2)
PYEOF
}
cpu_s() { # PID: user+system CPU seconds so far
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
ms() { date +%s%3N; }
count_state() { # TRACKER-DIR STATE: its sim-* consumers in STATE
    "$TRK" admin "$1" consumer list --json 2>/dev/null | python3 -c "
import json, sys
print(sum(1 for c in json.load(sys.stdin) if c['id'].startswith('sim-') and c['state'] == sys.argv[1]))" "$2"
}

log "$NCPU CPUs, $BUILD_TYPE build, $DEVICES devices, ${PAYLOAD_KIB} KiB payload, connections $CONNECTIONS"
"$A" keygen --alg esp256 --out author.pem >/dev/null 2>&1 || die "keygen"
"$SRV" init s --listen 127.0.0.1:0 --id fw1 >s.init.log 2>&1 || die "secup-server init"
ATOK=$("$SRV" admin s author add alice --key author.pub.pem 2>/dev/null) || die "author add"
"$SRV" admin s author grant alice --vendor-domain example.com --class cam-v2 >/dev/null 2>&1 || die "grant"
"$SRV" admin s device add fleet --vendor-domain example.com --class cam-v2 2>/dev/null >fleet.srvtoken || die "device add"
for l in L1 L2; do
    "$SRV" admin s tracker add $l 2>/dev/null >$l.srvtoken || die "tracker add $l"
    "$TRK" init $l --listen 127.0.0.1:0 --id $l >$l.init.log 2>&1 || die "secup-tracker init $l"
done
setjson s/server.json "c['notify'] = {'retry-initial': 1, 'retry-max': 2, 'ca-file': '$PWD/L1/tls/cert.pem'}"
"$SRV" run s >/dev/null 2>s.log &
SPID=$!
PIDS+=("$SPID")
SU="https://127.0.0.1:$(port_of s/server.port)"
"$TRK" admin L1 server add fw1 --key s/server-key.pub.pem >/dev/null 2>&1 || die "server add"
"$TRK" admin L1 enrolment add --vendor-domain example.com --class cam-v2 2>/dev/null >L2.enrol || die "enrolment L1"
"$TRK" admin L2 enrolment add --vendor-domain example.com --class cam-v2 --uses $((DEVICES + 10)) 2>/dev/null >dev.enrol ||
    die "enrolment L2"
setjson L1/tracker.json "c['auto-update'] = False"
"$TRK" run L1 >/dev/null 2>L1.log &
L1PID=$!
PIDS+=("$L1PID")
U1="https://127.0.0.1:$(port_of L1/tracker.port)"
curl -sf --cacert s/tls/cert.pem -o /dev/null -H "Authorization: Bearer $(cat L1.srvtoken)" \
    -d "{\"url\": \"$U1/v1/notify\"}" "$SU/v1/subscriptions" || die "subscription"
setjson L2/tracker.json "c['upstream'] = {'url': '$U1', 'id': 'L1', 'key': '$PWD/L1/tracker-key.pub.pem', 'ca-file': '$PWD/L1/tls/cert.pem', 'enrolment-token-file': '$PWD/L2.enrol', 'poll-wait': 30}; c['server'] = {'token-file': '$PWD/L2.srvtoken', 'ca-file': '$PWD/s/tls/cert.pem'}; c['trust'] = ['$PWD/author.pub.pem']"
"$TRK" run L2 >/dev/null 2>L2.log &
L2PID=$!
PIDS+=("$L2PID")
U2="https://127.0.0.1:$(port_of L2/tracker.port)"

head -c $((PAYLOAD_KIB * 1024)) /dev/urandom >fw1.bin
head -c $((PAYLOAD_KIB * 1024)) /dev/urandom >fw2.bin
for v in 1 2; do
    "$A" create -q --key author.pem --image fw$v.bin --seq $v --vendor-domain example.com --class cam-v2 \
        --version $v.0 --uri https://example.com/fw$v.bin --out v$v.suit || die "create v$v"
    "$A" upload --server "$SU" --cacert s/tls/cert.pem --token "$ATOK" --quiet v$v.suit --payload fw$v.bin >/dev/null ||
        die "upload v$v"
done
for _ in $(seq 200); do
    "$TRK" admin L1 manifest list --json 2>/dev/null | grep -q '"sequence": 2' && break
    sleep 0.1
done
DG=$("$TRK" admin L1 manifest list --json | python3 -c "import json,sys; print([m['digest'] for m in json.load(sys.stdin) if m['sequence']==2][0])") ||
    die "L1 never heard of v2"
MURL=$("$TRK" admin L1 manifest list --json | python3 -c "import json,sys; print([m['uri'] for m in json.load(sys.stdin) if m['sequence']==2][0])")

# ---- the fleet under L2, on v1 ----
log "starting $DEVICES simulated devices under L2"
"$FS" --devices "$DEVICES" --tracker "$U2" --tracker-id L2 --tracker-key L2/tracker-key.pub.pem \
    --tracker-ca L2/tls/cert.pem --token dev.enrol --server "$SU" --server-ca s/tls/cert.pem \
    --server-token fleet.srvtoken --trust author.pub.pem --vendor-domain example.com --class cam-v2 \
    --initial v1.suit --poll-wait "$POLL_WAIT" --ramp-ms "$RAMP_MS" --until-seq 2 \
    --duration $((TIMEOUT + 120)) --connections "$CONNECTIONS" --json cascade.json 2>fleet.log &
FPID=$!
PIDS+=("$FPID")
up=0
for _ in $(seq 240); do
    up=$(count_state L2 up-to-date)
    [ "$up" -ge "$DEVICES" ] && break
    kill -0 "$FPID" 2>/dev/null || { tail -n 20 fleet.log >&2; die "secup-fleetsim stopped"; }
    sleep 0.5
done
[ "$up" -ge "$DEVICES" ] || { tail -n 20 fleet.log >&2; die "only $up of $DEVICES devices registered and reported"; }
sleep 1 # every device back in its long poll
log "all $DEVICES devices report v1 to L2; rollout of v2 created at L1"

c0=(); for p in "$SPID" "$L1PID" "$L2PID"; do c0+=("$(cpu_s "$p")"); done
T0=$(ms)
"$TRK" admin L1 rollout create fw-2 --digest "$DG" --canary 0 --max-failures 100 >rollout.log 2>&1 ||
    { cat rollout.log >&2; die "rollout create"; }
FRC=0
wait "$FPID" || FRC=$?
c1=(); for p in "$SPID" "$L1PID" "$L2PID"; do c1+=("$(cpu_s "$p")"); done
[ "$FRC" -eq 0 ] || { tail -n 20 fleet.log >&2; die "the rollout did not reach every device within $TIMEOUT s"; }
[ -s cascade.json ] || die "no summary from secup-fleetsim"
n2=$(count_state L2 up-to-date)

# ---- the baseline: the same downloads, no tracker ----
log "baseline: $DEVICES devices download and verify v2 from the server, no tracker"
b0=$(cpu_s "$SPID")
"$FS" --devices "$DEVICES" --download-only "$MURL" --server "$SU" --server-ca s/tls/cert.pem \
    --server-token fleet.srvtoken --trust author.pub.pem --vendor-domain example.com --class cam-v2 \
    --ramp-ms 0 --connections "$CONNECTIONS" --json baseline.json 2>baseline.log &
BPID=$!
PIDS+=("$BPID")
BRC=0
wait "$BPID" || BRC=$?
b1=$(cpu_s "$SPID")
[ "$BRC" -eq 0 ] || { tail -n 20 baseline.log >&2; die "the baseline failed"; }

# ---- the table ----
python3 - cascade.json baseline.json "$T0" "$DEVICES" "$PAYLOAD_KIB" "$n2" \
    "${c0[0]}" "${c1[0]}" "${c0[1]}" "${c1[1]}" "${c0[2]}" "${c1[2]}" "$b0" "$b1" "$CONNECTIONS" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
t0 = int(sys.argv[3]); n = int(sys.argv[4]); kib = int(sys.argv[5]); at_l2 = int(sys.argv[6])
s0, s1, l10, l11, l20, l21, b0, b1 = map(float, sys.argv[7:15])
roll = (c["times_ms"]["last_update_reported_at"] - t0) / 1000
first = (c["times_ms"]["first_install_command_at"] - t0) / 1000
base = (b["times_ms"]["last_download_done_at"] - b["times_ms"]["started_at"]) / 1000
ok = c["installs"]["ok"]; bok = b["installs"]["ok"]
print()
print("rollout of a %d KiB image to %d simulated devices through a two-level cascade (HTTPS, SQLite;" % (kib, n))
print("connections: %s)" % sys.argv[15])
print("beside the same %d downloads from the same server with no tracker, same run" % n)
print()
print("%-34s %10s %10s" % ("", "cascade", "baseline"))
print("%-34s %10.2f %10.2f" % ("time, s", roll, base))
print("%-34s %10d %10d" % ("devices on v2 / payloads verified", ok, bok))
print("%-34s %10.1f %10.1f" % ("payload MB moved", c["bytes"]["payload"] / 1e6, b["bytes"]["payload"] / 1e6))
last = (c["times_ms"]["last_install_command_at"] - t0) / 1000
print("%-34s %10.1f %10s" % ("rollout created -> first command, s", first, "-"))
print("%-34s %10.1f %10s" % ("rollout created -> last command, s", last, "-"))
for k in ("update", "download"):
    lc = c["latency_ms"][k]; lb = b["latency_ms"]["download"]
    print("%-34s %10s %10s" % ("per device %s p50/p99, ms" % k, "%d/%d" % (lc["p50"], lc["p99"]),
                               "%d/%d" % (lb["p50"], lb["p99"]) if k == "download" else "-"))
print("%-34s %10.2f %10.2f" % ("server CPU s in the window", s1 - s0, b1 - b0))
print("%-34s %10.2f %10s" % ("L1 (cloud) CPU s", l11 - l10, "-"))
print("%-34s %10.2f %10s" % ("L2 (gateway) CPU s", l21 - l20, "-"))
print("%-34s %10.2f %10.2f" % ("secup-fleetsim CPU s (whole run)", c["cpu_s"], b["cpu_s"]))
print("%-34s %10d %10d" % ("client errors (retried)", c["errors"], b["errors"]))
print("%-34s %10d %10s" % ("up to date at L2 afterwards", at_l2, "-"))
print()
ratio = roll / base if base > 0 else float("inf")
print("ratio rollout / baseline = %.2f" % ratio)
print("goal (issue [tracker]): the rollout bounded by the download time of the payload, not by the")
print("trackers; taken here as ratio <= 2 -> %s" % ("met" if ratio <= 2 else "NOT met"))
PYEOF
