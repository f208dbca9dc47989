#!/usr/bin/env bash
# THREATS.md F17, concurrent status/poll load: a fleet of simulated devices (secup-fleetsim,
# real HTTPS, one connection and TLS session per request as real devices make) all report
# to a real secup-tracker at once, ROUNDS times (the fleet keeps its keys, tokens and
# counters in a state directory between rounds, so every round is one report per device,
# all started together). Pass: every round ends (no deadlock: a round that does not reach
# its stop condition within its --duration fails), no request failed, and the reports the
# tracker holds in its database are exactly the reports the fleet signed (the sum of the
# devices' report counters). The p99 report latency of each round is printed as a figure,
# not asserted.
# Usage: test_load.sh secup-fleetsim secup-tracker secup-server secup-author [DEVICES [ROUNDS [DB]]]
#   DB: empty for SQLite, "pg" for PostgreSQL (through tests/support/pg-cluster.sh exec)
set -u
FS=$(realpath "${1:?usage: $0 secup-fleetsim secup-tracker secup-server secup-author [devices [rounds [db]]]}")
TRK=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
A=$(realpath "${4:?}")
N=${5:-1000}
ROUNDS=${6:-10}
DB_URL=${7:-}
HERE=$(cd "$(dirname "$0")" && pwd)
SECUP_TEST_NAME=threats-load
# shellcheck source=tests/integration/check.sh
. "$HERE/../integration/check.sh"
# shellcheck source=tests/threats/fleet_world.sh
. "$HERE/fleet_world.sh"

start_fleet_world
echo "load: $N devices x $ROUNDS rounds, ${PG_URL:+PostgreSQL}${PG_URL:-SQLite}"

# THREAT: F17
p99s=""
for r in $(seq 1 "$ROUNDS"); do
    t0=$(date +%s.%N)
    "$FS" --devices "$N" "${FLEET[@]}" --state-dir fleet --until-seq 1 --ramp-ms 0 --poll-wait 0 \
        --report-interval 3600 --duration 600 --json "round$r.json" 2>"round$r.log"
    rc=$?
    t1=$(date +%s.%N)
    ok "F17 round $r: the fleet's run ends with every device's report accepted (exit $rc)" [ "$rc" -eq 0 ]
    ok "F17 round $r: no request failed or was retried" [ "$(summary "round$r.json" 's["errors"]')" = 0 ]
    ok "F17 round $r: every device reported" \
        [ "$(summary "round$r.json" 's["requests"]["report"]')" -ge "$N" ]
    p99=$(summary "round$r.json" 's["latency_ms"]["report"]["p99"]')
    p99s="$p99s $p99"
    printf 'F17 round %d: %d reports in %.1f s, report latency p50 %s ms, p99 %s ms, max %s ms\n' "$r" \
        "$(summary "round$r.json" 's["requests"]["report"]')" "$(echo "$t1 - $t0" | bc)" \
        "$(summary "round$r.json" 's["latency_ms"]["report"]["p50"]')" "$p99" \
        "$(summary "round$r.json" 's["latency_ms"]["report"]["max"]')"
done

# reports signed by the fleet: each device's report counter (a counter once used is never
# used again, docs/fleetsim.md); reports accepted: the tracker's database
sent=$($PY -c "
import glob, json
print(sum(json.load(open(f))['report-counter'] for f in glob.glob('fleet/*.json')))")
accepted=$(sql "SELECT count(*) FROM reports WHERE consumer LIKE 'sim-%'")
echo "F17 reports signed by the fleet: $sent; stored by the tracker: $accepted; p99 per round (ms):$p99s"
ok "F17 reports accepted == reports sent ($accepted == $sent)" [ "$accepted" = "$sent" ]
ok "F17 ... and that is one per device per round" [ "$sent" -eq $((N * ROUNDS)) ]
ok "F17 every device is known to the tracker and up to date" \
    [ "$("$TRK" admin t consumer list --state up-to-date --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')" -eq "$N" ]
kill -TERM "$TPID"
wait "$TPID"
ok "F17 the tracker stops cleanly after the load (exit $?)" [ $? -eq 0 ]

no_sanitizer_reports t.log s.log round*.log
echo "threats load: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
