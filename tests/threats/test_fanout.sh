#!/usr/bin/env bash
# A real secup-tracker with a simulated fleet (secup-fleetsim, real HTTPS) under it:
# - F16, concurrent rollouts to the same devices: RACERS administrators at once, half over the
#   REST admin API, half with the command line, each creating a rollout of v2 or v3 for the
#   whole class. Exactly one wins; every other gets 409 SECUP_E_EXISTS naming the winner
#   (docs/tracker.md "Rollouts": the first to take the database's write lock wins); only the
#   winner is stored and in the event log; each device runs one install, the winner's.
# - F15, the tracker killed (kill -9) KILLS times while it sends that rollout to the fleet and
#   ingests its reports, and started again: every report the fleet saw accepted is still in
#   the tracker's database, the rollout resumes and completes, every device installed exactly
#   once (fleetsim's per-device log and state), one install command per device was issued.
# Usage: test_fanout.sh secup-fleetsim secup-tracker secup-server secup-author [DEVICES [KILLS [DB]]]
set -u
FS=$(realpath "${1:?usage: $0 secup-fleetsim secup-tracker secup-server secup-author [devices [kills [db]]]}")
TRK=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
A=$(realpath "${4:?}")
N=${5:-200}
KILLS=${6:-3}
DB_URL=${7:-}
RACERS=8
HERE=$(cd "$(dirname "$0")" && pwd)
SECUP_TEST_NAME=threats-fanout
# shellcheck source=tests/integration/check.sh
. "$HERE/../integration/check.sh"
# shellcheck source=tests/threats/fleet_world.sh
. "$HERE/fleet_world.sh"

start_fleet_world
upload_image 2 60000
upload_image 3 60000
"$FS" --devices "$N" "${FLEET[@]}" --state-dir fleet --until-seq 1 --ramp-ms 500 --poll-wait 0 \
    --report-interval 3600 --duration 300 -v --json reg.json 2>reg.log
ok "the fleet of $N registers and reports v1" [ $? -eq 0 ]

# ---- F16: RACERS administrators at once -------------------------------------------------
# THREAT: F16
ADM=$("$TRK" admin t token add ops 2>/dev/null)
rm -f go
for i in $(seq 1 "$RACERS"); do
    seq=$(( 2 + i % 2 ))
    if [ $((i % 2)) -eq 1 ]; then
        ( while [ ! -e go ]; do sleep 0.005; done
          curl -sk -o "race$i.out" -w '%{http_code}' -H "Authorization: Bearer $ADM" \
              -d "{\"id\": \"race-$i\", \"digest\": \"${DG[$seq]}\"}" "$TU/v1/admin/rollouts" > "race$i.st" ) &
    else
        ( while [ ! -e go ]; do sleep 0.005; done
          "$TRK" admin t rollout create "race-$i" --digest "${DG[$seq]}" > "race$i.out" 2>&1
          echo $? > "race$i.st" ) &
    fi
done
touch go
wait_racers() { for i in $(seq 1 "$RACERS"); do [ -s "race$i.st" ] || return 1; done; }
waitfor 60 wait_racers
ok "F16 every administrator got an answer" wait_racers
winners=()
for i in $(seq 1 "$RACERS"); do
    st=$(cat "race$i.st")
    if [ "$st" = 201 ] || [ "$st" = 0 ]; then winners+=("$i"); fi
done
ok "F16 exactly one of $RACERS concurrent rollouts wins (winners: ${winners[*]:-none})" [ "${#winners[@]}" -eq 1 ]
W=${winners[0]:-0}
WSEQ=$(( 2 + W % 2 ))
for i in $(seq 1 "$RACERS"); do
    [ "$i" = "$W" ] && continue
    st=$(cat "race$i.st")
    if [ $((i % 2)) -eq 1 ]; then
        ok "F16 REST administrator $i: 409 SECUP_E_EXISTS naming race-$W (got $st)" \
            bash -c "[ '$st' = 409 ] && grep -q '\"error\":\"SECUP_E_EXISTS\"' race$i.out && grep -q \"rollout 'race-$W'\" race$i.out"
    else
        ok "F16 command-line administrator $i: refused, [SECUP_E_EXISTS] naming race-$W (exit $st, 4 expected)" \
            bash -c "[ '$st' = 4 ] && grep -q '\[SECUP_E_EXISTS\]' race$i.out && grep -q \"rollout 'race-$W'\" race$i.out"
    fi
done
ok "F16 only the winner is stored" [ "$(sql "SELECT count(*) FROM rollouts")" = 1 ]
ok "F16 ... with all $N devices as its targets" [ "$(sql "SELECT count(*) FROM rollout_targets WHERE rollout = 'race-$W'")" = "$N" ]
ok "F16 ... and only it is in the event log" \
    [ "$(sql "SELECT count(*) FROM events WHERE action = 'rollout'")" = 1 ]
echo "F16: administrator $W won (v$WSEQ); the other $((RACERS - 1)) got 409"

# ---- F15: kill -9 during the fan-out and the report ingest ---------------------------------
# THREAT: F15
"$FS" --devices "$N" "${FLEET[@]}" --state-dir fleet --until-seq "$WSEQ" --ramp-ms 300 --poll-wait 2 \
    --report-interval 3600 --duration 400 -v --json fan.json 2>fan.log &
FSPID=$!
pids+=("$FSPID")
first_cmd() { grep -q "install sequence $WSEQ" fan.log; }
ok "F15 the fan-out begins" waitfor 60 first_cmd
for k in $(seq 1 "$KILLS"); do
    sleep "0.$(( RANDOM % 9 + 1 ))"
    cmds=$(grep -c "install sequence $WSEQ" fan.log)
    kill9_tracker
    start_tracker
    echo "F15 kill $k: after $cmds install command(s) accepted and $(grep -c 'installed sequence' fan.log) install(s) done"
    ok "F15 kill $k: the tracker comes back" [ -s t/tracker.port ]
done
wait "$FSPID"
rc=$?
ok "F15 the fleet reaches v$WSEQ after $KILLS kills (fleetsim exit $rc)" [ "$rc" -eq 0 ]
ok "F15 every device installed exactly once, no install failed" \
    [ "$(summary fan.json 's["installs"]')" = "{'ok': $N, 'failed': 0, 'fell_back': 0}" ]
ok "F15 each device accepted one install command (a command re-sent after a crash is refused as a replay)" \
    [ "$(summary fan.json 's["commands"]["install"]')" = "$N" ]
ok "F15 the per-device log: one install per device, of v$WSEQ" $PY - "$N" "$WSEQ" <<'PYEOF'
import collections, re, sys
n, seq = int(sys.argv[1]), sys.argv[2]
c = collections.Counter()
for line in open("fan.log"):
    m = re.search(r"(sim-\d+): installed sequence (\d+)", line)
    if m:
        assert m.group(2) == seq, line
        c[m.group(1)] += 1
assert len(c) == n and set(c.values()) == {1}, c
PYEOF
ok "F15 the per-device state: every device runs v$WSEQ" $PY - "$WSEQ" <<'PYEOF'
import glob, json, sys
seqs = [json.load(open(f))["seq"] for f in glob.glob("fleet/*.json")]
assert seqs and set(seqs) == {int(sys.argv[1])}, seqs
PYEOF
ok "F15 the tracker issued one install command per device, all done" \
    [ "$(sql "SELECT count(*) FROM commands WHERE action = 1 AND state = 'done'")" = "$N" ] && \
    [ "$(sql "SELECT count(*) FROM commands WHERE action = 1")" = "$N" ]
ok "F15 the rollout resumed and completed" [ "$(sql "SELECT state FROM rollouts WHERE id = 'race-$W'")" = completed ]
# every report the fleet saw accepted (both runs), in the tracker's database
sql_pairs() {
    if [ -n "$PG_URL" ]; then psql -qAt -F ' ' "$PG_URL" -c "SELECT consumer, counter FROM reports"
    else $PY -c "import sqlite3; [print(c, n) for c, n in sqlite3.connect('t/tracker.db').execute('SELECT consumer, counter FROM reports')]"; fi
}
sql_pairs > stored.txt
lost=$($PY - <<'PYEOF'
import re
seen = set()
for log in ("reg.log", "fan.log"):
    for line in open(log):
        m = re.search(r"(sim-\d+): report (\d+) accepted", line)
        if m:
            seen.add((m.group(1), int(m.group(2))))
stored = set()
for line in open("stored.txt"):
    c, n = line.split()
    stored.add((c, int(n)))
print(len(seen), len(seen - stored))
PYEOF
)
echo "F15 reports the fleet saw accepted, not in the database: $lost (accepted, lost)"
ok "F15 no accepted report is lost (accepted, lost: $lost)" [ "${lost#* }" = 0 ] && [ "${lost% *}" -ge $((2 * N)) ]
ok "F15 the tracker's inventory: every device runs v$WSEQ, its last result OK, none updating or failed" \
    bash -c "'$TRK' admin t consumer list --json | $PY -c \"
import json, sys
cs = json.load(sys.stdin)
assert len(cs) == $N and all(c['components'][0]['sequence'] == $WSEQ for c in cs), cs[:2]
assert all(c['last_result']['code'] == 'OK' and c['state'] in ('up-to-date', 'obsolete') for c in cs), cs[:2]\""

no_sanitizer_reports t.log s.log reg.log fan.log
echo "threats fanout: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
