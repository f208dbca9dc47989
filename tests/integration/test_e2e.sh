#!/usr/bin/env bash
# The whole procedure of X.secup-iot §7 with every real program over HTTPS: an Author
# uploads to the Firmware Server, which notifies the Status Tracker; the tracker judges the
# device obsolete and signs an install command; the device agent (secup-agent run) verifies
# it, downloads manifest and payload from the server, installs into its inactive slot,
# boots, confirms and reports; the tracker sees it up to date.
# Usage: test_e2e.sh secup-agent secup-tracker secup-server secup-author
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-tracker secup-server secup-author}")
TRK=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
A=$(realpath "${4:?}")
SECUP_TEST_NAME=e2e
# shellcheck source=tests/integration/check.sh
. "$(dirname "$0")/check.sh"
PY=/usr/bin/python3
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
state_of() { "$TRK" admin t consumer show cam-1 --json | $PY -c "import json,sys; print(json.load(sys.stdin)['state'])"; }

"$A" keygen --alg esp256 --out alice.pem >/dev/null
"$A" keygen --alg esp256 --out dev.pem >/dev/null
"$SRV" init s --listen 127.0.0.1:0 --id fw1 >/dev/null 2>&1
"$TRK" init t --listen 127.0.0.1:0 --id trk1 >/dev/null 2>&1
$PY - "$PWD" <<'EOF'
import json, sys
p = sys.argv[1] + "/s/server.json"
c = json.load(open(p)); c["notify"] = {"retry-initial": 1, "retry-max": 2, "ca-file": sys.argv[1] + "/t/tls/cert.pem"}
json.dump(c, open(p, "w"), indent=2)
EOF
ATOK=$("$SRV" admin s author add alice --key alice.pub.pem 2>/dev/null)
"$SRV" admin s author grant alice --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
"$SRV" admin s device add cam-1 --vendor-domain example.com --class cam-v2 2>/dev/null > srv.tok
TTOK=$("$SRV" admin s tracker add trk1 2>/dev/null)
"$TRK" admin t server add fw1 --key s/server-key.pub.pem >/dev/null
"$TRK" admin t enrolment add --vendor-domain example.com --class cam-v2 2>/dev/null > enrol.tok
"$SRV" run s >/dev/null 2>s.log &
pids+=($!)
"$TRK" run t >/dev/null 2>t.log &
pids+=($!)
SU="https://127.0.0.1:$(port_of s/server.port)"
TU="https://127.0.0.1:$(port_of t/tracker.port)"
curl -sk -o /dev/null -H "Authorization: Bearer $TTOK" -d "{\"url\": \"$TU/v1/notify\"}" "$SU/v1/subscriptions"

mkdir -p slots state
cat > dev.json <<JSON
{ "device": { "id": "cam-1", "key": "dev.pem", "vendor-domain": "example.com", "class": "cam-v2" },
  "state-dir": "state", "bootloader": { "type": "statefile", "path": "state/boot" },
  "health-check": { "command": ["/bin/true"], "timeout": 10 },
  "components": [ { "name": "firmware", "slots": ["slots/a", "slots/b"], "slot-size": 1000000 } ],
  "trust": [ { "name": "release", "key": "alice.pub.pem" } ],
  "tracker": { "url": "$TU", "id": "trk1", "key": "t/tracker-key.pub.pem", "ca-file": "t/tls/cert.pem",
               "enrolment-token-file": "enrol.tok", "poll-wait": 1 },
  "server": { "url": "$SU", "token-file": "srv.tok", "ca-file": "s/tls/cert.pem",
              "retry-initial": 1, "retry-max": 2, "attempts": 4 } }
JSON
head -c 150000 /dev/urandom > fw1.bin
"$A" create -q --key alice.pem --image fw1.bin --seq 1 --vendor-domain example.com --class cam-v2 --integrate --out v1.suit
"$AG" --config dev.json install v1.suit >/dev/null && "$AG" --config dev.json boot >/dev/null

check "the agent registers, reports, and hears there is nothing to do" 0 "" "$AG" --config dev.json run --once
ok "the tracker knows cam-1 runs sequence 1, up to date" test "$(state_of)" = up-to-date

head -c 150000 /dev/urandom > fw2.bin
"$A" create -q --key alice.pem --image fw2.bin --seq 2 --vendor-domain example.com --class cam-v2 --version 2.0 --uri https://x/fw2.bin --out v2.suit
check "the Author uploads sequence 2" 0 "" "$A" upload --server "$SU" --cacert s/tls/cert.pem --token "$ATOK" --quiet v2.suit --payload fw2.bin
ok "the server told the tracker: cam-1 is obsolete" waitfor 10 bash -c "[ \"\$('$TRK' admin t consumer show cam-1 --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = obsolete ]"
check "the agent is told to install, fetches, installs, boots, confirms and reports" 0 "" "$AG" --config dev.json run --once
ok "the device runs sequence 2 from its other slot" bash -c "'$AG' --config dev.json status | grep -q 'runs slot A: sequence 2, version 2.0'"
ok "the slot holds the image" cmp -s <(head -c 150000 slots/a) fw2.bin
ok "the tracker sees it up to date" waitfor 10 bash -c "[ \"\$('$TRK' admin t consumer show cam-1 --json | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = up-to-date ]"
ok "the server recorded the download" waitfor 10 bash -c "'$SRV' admin s history --device cam-1 --json | grep -q '\"what\": \"payload\"'"
check "another cycle: nothing to do, nothing installed" 0 "" "$AG" --config dev.json run --once
ok "still sequence 2" bash -c "'$AG' --config dev.json status | grep -q 'sequence 2'"

echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
