#!/usr/bin/env bash
# THREATS.md U2, drop-request, the tracker's side: simulated devices (secup-fleetsim) talk to a
# real secup-tracker through the attacker proxy (mitm.py). Their traffic is dropped (every
# request to the tracker closed without an answer) for longer than the tracker's
# unreachable-after (5 s here): the tracker marks each `unreachable`, the devices keep
# running and retrying with their back-off; an update published meanwhile waits; when the
# traffic is restored the devices are back (no longer unreachable) and the update completes.
# Usage: test_unreachable.sh secup-fleetsim secup-tracker secup-server secup-author [DEVICES]
set -u
FS=$(realpath "${1:?usage: $0 secup-fleetsim secup-tracker secup-server secup-author [devices]}")
TRK=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
A=$(realpath "${4:?}")
N=${5:-3}
DB_URL=""
HERE=$(cd "$(dirname "$0")" && pwd)
SECUP_TEST_NAME=threats-unreachable
# shellcheck source=tests/integration/check.sh
. "$HERE/../integration/check.sh"
# shellcheck source=tests/threats/fleet_world.sh
. "$HERE/fleet_world.sh"

TRACKER_JSON="c['unreachable-after'] = 5; c['auto-update'] = True"
start_fleet_world
mkdir -p tpx
$PY "$HERE/mitm.py" --upstream "$TU" --ca t/tls/cert.pem --dir tpx 2>tpx.err &
pids+=($!)
port_of tpx/port >/dev/null
PXU="http://127.0.0.1:$(cat tpx/port)"
trules() { echo "$1" > tpx/rules.json.tmp && mv tpx/rules.json.tmp tpx/rules.json; rm -f tpx/used.json; }
# n_state S: how many devices the tracker judges to be in state S
n_state() { "$TRK" admin t consumer list --json | $PY -c "
import json, sys
print(sum(1 for c in json.load(sys.stdin) if c['state'] == sys.argv[1]))" "$1"; }
all_in() { [ "$(n_state "$1")" -eq "$N" ]; }
none_in() { [ "$(n_state "$1")" -eq 0 ]; }

"$FS" --devices "$N" "${FLEET[@]}" --tracker "$PXU" --until-seq 2 --ramp-ms 0 --poll-wait 1 --report-interval 1 \
    --duration 300 -v --json fleet.json 2>fleet.log &
FSPID=$!
pids+=("$FSPID")
ok "the $N devices report through the proxy and are up to date" waitfor 60 all_in up-to-date

# THREAT: U2
trules '[{"match": "/v1/", "action": "reset"}]'
ok "U2 traffic dropped for longer than unreachable-after: the tracker marks all $N unreachable" \
    waitfor 60 all_in unreachable
ok "U2 ... the devices keep running and retrying" kill -0 "$FSPID"
upload_image 2 30000
sleep 2
ok "U2 an update published meanwhile: the devices stay unreachable, nothing installed" \
    bash -c "[ \"\$(grep -c 'installed sequence' fleet.log)\" = 0 ]"
ok "U2 ... still unreachable at the tracker" all_in unreachable
dropped=$(grep -c 'rule=reset' tpx/log)
trules '[]'
ok "U2 traffic restored: the devices are back, none unreachable" waitfor 90 none_in unreachable
wait "$FSPID"
rc=$?
ok "U2 the update completes after the restore: every device runs v2 (fleetsim exit $rc)" [ "$rc" -eq 0 ] && \
    [ "$(summary fleet.json 's["running"]')" = "{'2': $N}" ]
ok "U2 ... one install each" [ "$(summary fleet.json 's["installs"]')" = "{'ok': $N, 'failed': 0, 'fell_back': 0}" ]
ok "U2 ... and the tracker judges them up to date" waitfor 20 all_in up-to-date
echo "U2: $dropped requests dropped by the proxy, $(summary fleet.json 's["errors"]') failed requests retried by the fleet"
ok "U2 the devices retried while dropped (back-off, no stop): $dropped dropped requests" [ "$dropped" -ge "$N" ]

no_sanitizer_reports t.log s.log fleet.log
echo "threats unreachable: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
