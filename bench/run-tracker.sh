#!/usr/bin/env bash
# bench/tracker (issue [tracker]), first half: signed status reports ingested per second by
# secup-tracker from many concurrent clients, beside the raw signature-verification rate
# of the same key type measured in the same run. Goal: ingestion >= 0.7 of the raw rate.
# The second half of the issue's benchmark (a 1,000-consumer rollout through a cascade of
# trackers) is bench/run-cascade.sh.
#
#   bench/run-tracker.sh [BUILD_DIR]
#
# BUILD_DIR (default build/tracker-bench) is configured as a Release build when it is not
# a build directory yet; secup-tracker and bench_tracker are (re)built in it.
# In a scratch directory on disk, `secup-tracker init` makes a data directory (SQLite),
# tracker.json loses its "tls" section (plain HTTP: the benchmark measures the tracker, not
# TLS) and gets "http": {"threads": SECUP_BENCH_THREADS}; an enrolment token is made with
# `admin enrolment add`, and the tracker runs. Then, per key type in ALGS:
#   enrol   bench_tracker enrol registers CONSUMERS consumers (POST /v1/register, own key
#           pair each, 4 connections) and keeps their tokens;
#   verify  bench_tracker verify: the raw OpenSSL verify rate of one such report's
#           signature over its COSE Sig_structure, on 1 thread and on NCPU threads at once
#           (NCPU = the cores the tracker can use), beside secup_status_verify() and the
#           tracker's own per-report path (peek the kid, parse the stored PEM key, verify);
#   load    bench_tracker load, per connection count in CONNS: that many keep-alive
#           connections, each owning every C-th consumer, POST /v1/status signed reports
#           with increasing counters (all signed before the timed section) for DURATION s
#           after a 1 s warm-up; reports/s answered 200, other answers, latency, and the
#           tracker's CPU time in the window (from /proc).
# With SECUP_BENCH_PG=1 the loads run again against a second tracker on PostgreSQL (a
# throw-away cluster from tests/support/pg-cluster.sh, which needs the postgresql package).
#
# Normalisation: "raw/s" is the raw verify rate measured with NCPU threads at once, i.e.
# what the tracker's cores could verify if they did nothing else; ratio = reports/s divided
# by it. The client shares those cores (it takes a few per cent: it only writes pre-built
# requests and reads answers), so the ratio is a slight underestimate. "cpu ratio" divides
# reports per tracker CPU-second by raw verifies per CPU-second (1 thread): it says how much
# work the tracker does per report beside one verification, whatever the client took.
# A missed goal is printed, never turned into a failing exit status; the exit status is
# nonzero only when the setup breaks (no build, a tracker that does not start, a refused
# enrolment).
#
# Knobs: ALGS ("esp256 ed25519"), CONSUMERS (1000 per key type), CONNS ("50 500"),
# DURATION (10 s per load), VERIFY_SECONDS (2 s per baseline rate), SECUP_BENCH_THREADS
# (tracker "http" threads; default 2 x CPUs, the tracker's own default), SECUP_BENCH_PG (0),
# SECUP_BENCH_DIR (scratch parent, /var/tmp), SECUP_BENCH_KEEP=1 (keep the scratch
# directory: tracker logs, bench outputs).
# With the defaults: about 3 minutes (4 loads of 11 s plus signing, 12 baseline rates of
# 2 s, enrolment).
set -eu -o pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/tracker-bench}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
ALGS=${ALGS:-esp256 ed25519}
CONSUMERS=${CONSUMERS:-1000}
CONNS=${CONNS:-50 500}
DURATION=${DURATION:-10}
VERIFY_SECONDS=${VERIFY_SECONDS:-2}
NCPU=$(nproc 2>/dev/null || echo 2)
THREADS=${SECUP_BENCH_THREADS:-$((2 * NCPU))}
PG=${SECUP_BENCH_PG:-0}
GOAL=0.7

WORK=$(mktemp -d "${SECUP_BENCH_DIR:-/var/tmp}/secup-tracker-bench.XXXXXX")
log() { printf 'run-tracker: %s\n' "$*" >&2; }
die() { printf 'run-tracker: setup failed: %s\n' "$*" >&2; exit 1; }

PIDS=()
PG_DIR=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    cd /
    local p
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    [ -n "$PG_DIR" ] && "$ROOT/tests/support/pg-cluster.sh" stop "$PG_DIR" >/dev/null 2>&1
    if [ "${SECUP_BENCH_KEEP:-0}" = 1 ]; then log "scratch directory kept: $WORK"; else rm -rf "$WORK"; fi
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the build ----
TRK=$BUILD/programs/tracker/secup-tracker
BT=$BUILD/bench/bench_tracker
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    log "configuring a Release build in $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSECUP_WITH_TESTS=OFF \
        -DSECUP_WITH_BENCH=ON >"$WORK/cmake.log" 2>&1 || { tail -n 20 "$WORK/cmake.log" >&2; die "cmake configure failed"; }
fi
cmake --build "$BUILD" -j "$NCPU" --target secup-tracker bench_tracker >"$WORK/build.log" 2>&1 ||
    { grep -E 'error|Error' "$WORK/build.log" | head -n 20 >&2; die "building secup-tracker and bench_tracker failed"; }
BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
{ [ -x "$TRK" ] && [ -x "$BT" ]; } || die "no secup-tracker/bench_tracker in $BUILD"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to edit tracker.json"

# ---- a tracker over plain HTTP ----
cd "$WORK"
start_tracker() { # NAME [DB-URL] -> sets URL and TPID
    local name=$1 db=${2:-}
    if [ -n "$db" ]; then
        "$TRK" init "$name" --listen 127.0.0.1:0 --id "bench-$name" --db "$db" >"$name.init.log" 2>&1
    else
        "$TRK" init "$name" --listen 127.0.0.1:0 --id "bench-$name" >"$name.init.log" 2>&1
    fi || { cat "$name.init.log" >&2; die "secup-tracker init $name failed"; }
    python3 - "$name/tracker.json" "$THREADS" <<'EOF' || die "cannot edit tracker.json"
import json, sys
c = json.load(open(sys.argv[1]))
c.pop("tls", None)
c["http"] = dict(c.get("http", {}), threads=int(sys.argv[2]), **{"connection-limit": 4096})
json.dump(c, open(sys.argv[1], "w"), indent=2)
EOF
    ETOK=$("$TRK" admin "$name" enrolment add --vendor-domain example.com --class bench-dev \
        --uses 1000000 2>"$name.admin.log") || { cat "$name.admin.log" >&2; die "enrolment add failed"; }
    "$TRK" run "$name" 2>"$name.log" &
    TPID=$!
    PIDS+=("$TPID")
    for _ in $(seq 100); do [ -s "$name/tracker.port" ] && break; kill -0 "$TPID" 2>/dev/null || break; sleep 0.05; done
    [ -s "$name/tracker.port" ] || { cat "$name.log" >&2; die "secup-tracker run $name did not start"; }
    URL="http://127.0.0.1:$(cat "$name/tracker.port")"
}

kv() { # FILE KEY: the value of KEY= in the RESULT line
    sed -n 's/^RESULT .*/&/p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | tail -n 1
}

declare -A RATE OTHER CPU P99 EXH RAWN RAW1 RAWC STATN PATHN
BACKENDS="sqlite"
[ "$PG" = 1 ] && BACKENDS="sqlite postgresql"

log "$(nproc) CPUs, tracker with $THREADS http threads, $BUILD_TYPE build"
for be in $BACKENDS; do
    if [ "$be" = sqlite ]; then
        start_tracker trk-sqlite
    else
        PG_DIR=$WORK/pg
        PG_URL=$("$ROOT/tests/support/pg-cluster.sh" start "$PG_DIR" 2>"$WORK/pg.log" | tail -n 1) ||
            { cat "$WORK/pg.log" >&2; die "pg-cluster.sh start failed (package postgresql?)"; }
        start_tracker trk-pg "$PG_URL"
    fi
    for alg in $ALGS; do
        log "$be: enrolling $CONSUMERS $alg consumers"
        "$BT" enrol --url "$URL" --token "$ETOK" --dir "$WORK/$be-$alg" --alg "$alg" \
            --count "$CONSUMERS" >"$be-$alg.enrol.txt" 2>&1 || { cat "$be-$alg.enrol.txt" >&2; die "enrolment failed"; }
        sed 's/^/  /' "$be-$alg.enrol.txt" | grep -v RESULT >&2
        if [ "$be" = sqlite ]; then
            log "verify baseline $alg: 1 and $NCPU thread(s), ${VERIFY_SECONDS} s per rate"
            "$BT" verify --alg "$alg" --threads 1 --seconds "$VERIFY_SECONDS" >"verify-$alg-1.txt" 2>&1 ||
                { cat "verify-$alg-1.txt" >&2; die "bench_tracker verify failed"; }
            "$BT" verify --alg "$alg" --threads "$NCPU" --seconds "$VERIFY_SECONDS" >"verify-$alg-n.txt" 2>&1 ||
                { cat "verify-$alg-n.txt" >&2; die "bench_tracker verify failed"; }
            cat "verify-$alg-1.txt" "verify-$alg-n.txt" | grep -v RESULT
            RAW1[$alg]=$(kv "verify-$alg-1.txt" raw)
            RAWC[$alg]=$(kv "verify-$alg-1.txt" raw_cpu)
            RAWN[$alg]=$(kv "verify-$alg-n.txt" raw)
            STATN[$alg]=$(kv "verify-$alg-n.txt" status)
            PATHN[$alg]=$(kv "verify-$alg-n.txt" path)
        fi
        for c in $CONNS; do
            log "$be: load $alg, $c connections, ${DURATION} s"
            out="$be-$alg-$c.load.txt"
            "$BT" load --url "$URL" --dir "$WORK/$be-$alg" --conns "$c" --seconds "$DURATION" \
                --pid "$TPID" >"$out" 2>&1 || { cat "$out" >&2; die "bench_tracker load failed"; }
            grep -v RESULT "$out"
            k="$be $alg $c"
            RATE[$k]=$(kv "$out" rate)
            OTHER[$k]=$(kv "$out" other)
            CPU[$k]=$(kv "$out" tracker_cpu_s)
            P99[$k]=$(kv "$out" p99_ms)
            EXH[$k]=$(kv "$out" exhausted)
        done
    done
done

# ---- the table ----
echo
echo "secup-tracker: signed status reports ingested per second ($NCPU CPUs shared by tracker and"
echo "client; tracker: plain HTTP, $THREADS http threads; $CONSUMERS consumers per key type; ${DURATION} s per load)"
echo "raw/s: raw OpenSSL verify rate on $NCPU threads at once (the tracker's cores), same run;"
echo "ratio = reports/s / raw/s; cpu ratio = reports per tracker CPU-second / raw verifies per CPU-second"
echo
printf '%-10s %-8s %6s | %10s %10s %7s | %9s %8s %10s %10s | %s\n' backend "key" conns "reports/s" "raw/s" ratio \
    "cpu ratio" "p99 ms" "non-200" "cpu us/rep" goal
printf -- '-----------------------------+----------------------------------+--------------------------------------------+---------\n'
for be in $BACKENDS; do
    for alg in $ALGS; do
        name=$([ "$alg" = esp256 ] && echo ESP256 || echo Ed25519)
        for c in $CONNS; do
            k="$be $alg $c"
            awk -v be="$be" -v a="$name" -v c="$c" -v r="${RATE[$k]}" -v raw="${RAWN[$alg]}" \
                -v rawc="${RAWC[$alg]}" -v cpu="${CPU[$k]}" -v d="$DURATION" -v p99="${P99[$k]}" \
                -v o="${OTHER[$k]}" -v x="${EXH[$k]}" -v g="$GOAL" 'BEGIN {
                ratio = raw > 0 ? r / raw : 0
                n = r * d
                cr = (cpu > 0 && rawc > 0) ? (n / cpu) / rawc : 0
                us = n > 0 && cpu > 0 ? 1e6 * cpu / n : 0
                printf "%-10s %-8s %6d | %10.0f %10.0f %7.3f | %9.3f %8.1f %10d %10.0f | %s%s\n",
                    be, a, c, r, raw, ratio, cr, p99, o, us, (ratio >= g ? "met" : "NOT met"),
                    (x > 0 ? " (ran out of reports: lower bound)" : "") }'
        done
    done
done
echo
for alg in $ALGS; do
    awk -v a="$alg" -v r1="${RAW1[$alg]}" -v rn="${RAWN[$alg]}" -v s="${STATN[$alg]}" -v p="${PATHN[$alg]}" -v n="$NCPU" \
        'BEGIN { printf "%-8s baseline: raw %0.f/s on 1 thread, %.0f/s on %d; secup_status_verify %.0f/s, tracker path (PEM parse + verify) %.0f/s on %d (%.3f of raw)\n", a, r1, rn, n, s, p, n, (rn > 0 ? p / rn : 0) }'
done
echo "goal (issue [tracker]): reports/s >= $GOAL x raw/s; a missed goal is reported, not an error"
