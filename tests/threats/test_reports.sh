#!/usr/bin/env bash
# Status reports on their way to a real secup-tracker through the attacker proxy
# (THREATS.md C6: bits flipped in reports; U7: a captured report replayed): the tracker
# refuses every altered or replayed report and its record of the device does not change;
# the device goes on and its next honest report is taken. The tracker killed (kill -9) and
# restarted while reports come in loses none it accepted (F15, part). A device whose
# newest freshness statement expired says so in its signed report, and the tracker shows
# it stale although it judges its own statements valid (T5; libfaketime).
# Usage: test_reports.sh secup-agent secup-tracker secup-author [SEEDS]
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-tracker secup-author [SEEDS]}")
TRK=$(realpath "${2:?}")
A=$(realpath "${3:?}")
SEEDS=${4:-12}
HERE=$(cd "$(dirname "$0")" && pwd)
INTEG=$(cd "$HERE/../integration" && pwd)
SECUP_TEST_NAME=threats-reports
# shellcheck source=tests/integration/check.sh
. "$INTEG/check.sh"
PY=/usr/bin/python3
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }
trules() { echo "$1" > tpx/rules.json.tmp && mv tpx/rules.json.tmp tpx/rules.json; rm -f tpx/used.json; }
# the tracker's record of the device (what an altered report must not change)
record() { "$TRK" admin t consumer show cam-1 --json; }

"$A" keygen --alg esp256 --out alice.pem >/dev/null
"$A" keygen --alg esp256 --out dev.pem >/dev/null
"$TRK" init t --listen 127.0.0.1:0 --id trk1 >/dev/null 2>&1 || { echo "FAIL: tracker init"; exit 1; }
"$TRK" admin t enrolment add --vendor-domain example.com --class cam-v2 2>/dev/null > enrol.tok
# statements valid for 120 s (T5 below runs the device's clock 250 s ahead: within the
# 300 s the tracker allows a report's time to lead, past the statements' expiry)
sed -i 's/^{/{ "freshness-ttl": 120,/' t/tracker.json
"$TRK" run t >/dev/null 2>t.log &
pids+=($!)
wait_file t/tracker.port || { echo "FAIL: tracker start"; exit 1; }
TU="https://127.0.0.1:$(cat t/tracker.port)"
mkdir -p tpx
$PY "$HERE/mitm.py" --upstream "$TU" --ca t/tls/cert.pem --dir tpx 2>tpx.err &
pids+=($!)
wait_file tpx/port || { echo "FAIL: proxy start"; exit 1; }
TPU="http://127.0.0.1:$(cat tpx/port)"
mkdir -p slots state
cat > dev.json <<JSON
{ "device": { "id": "cam-1", "key": "dev.pem", "vendor-domain": "example.com", "class": "cam-v2" },
  "state-dir": "state", "bootloader": { "type": "statefile", "path": "state/boot" },
  "health-check": { "command": ["/bin/true"], "timeout": 10 },
  "components": [ { "name": "firmware", "slots": ["slots/a", "slots/b"], "slot-size": 100000 } ],
  "trust": [ { "name": "release", "key": "alice.pub.pem" } ],
  "tracker": { "url": "$TPU", "id": "trk1", "key": "t/tracker-key.pub.pem", "enrolment-token-file": "enrol.tok",
               "poll-wait": 1 },
  "server": { "retry-initial": 1, "retry-max": 1 } }
JSON
head -c 1000 /dev/urandom > fw1.bin
"$A" create -q --key alice.pem --image fw1.bin --seq 1 --vendor-domain example.com --class cam-v2 --integrate --out v1.suit
"$AG" --config dev.json install v1.suit >/dev/null && "$AG" --config dev.json boot >/dev/null
"$AG" --config dev.json run --once >first.log 2>&1
ok "the device registers and reports through the proxy" grep -q "status report .* sent" first.log
ok "the tracker knows it" [ -n "$(record)" ]

# ---- C6: bits flipped in reports ------------------------------------------------------
# THREAT: C6
for seed in $(seq 1 "$SEEDS"); do
    before=$(record)
    trules "[{\"match\": \"/v1/status\", \"method\": \"POST\", \"action\": \"flipreq\", \"bits\": $((seed % 3 + 1)), \"seed\": $seed}]"
    "$AG" --config dev.json run --once >c6.log 2>&1
    ok "C6 report seed $seed: the tracker refused it" bash -c "! grep -q 'status report .* sent' c6.log"
    ok "C6 report seed $seed: the tracker's record of the device is unchanged" [ "$(record)" = "$before" ]
done
trules '[]'
"$AG" --config dev.json run --once >honest.log 2>&1
ok "C6 the next honest report is taken" grep -q "status report .* sent" honest.log

# ---- U7: a captured report replayed ----------------------------------------------------
# THREAT: U7
last=$(ls tpx/requests | sort -n | tail -1)
captured=""
for r in $(ls tpx/requests | sort -rn); do
    if [ -s "tpx/requests/$r" ] && $PY -c "import cbor2,sys; m=cbor2.loads(open(sys.argv[1],'rb').read()); sys.exit(0 if getattr(m,'tag',0)==18 else 1)" "tpx/requests/$r" 2>/dev/null; then
        captured=tpx/requests/$r; break
    fi
done
ok "U7 a signed report was captured on the way ($last requests seen)" [ -n "$captured" ]
before=$(record)
# the replay goes through the proxy with the device's token (the attacker replays the
# whole request it captured)
TOKEN=$(sed -n 's/.*"tracker-token": "\([^"]*\)".*/\1/p' state/online.A)
code=$(curl -s -o replay.out -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/cose" \
    --data-binary @"$captured" "$TPU/v1/status")
ok "U7 the replayed report is refused with 409 (got $code)" [ "$code" = 409 ]
ok "U7 ... SECUP_E_REPLAY" grep -q SECUP_E_REPLAY replay.out
ok "U7 the tracker's record is unchanged" [ "$(record)" = "$before" ]

# ---- T5: the device reports its feed stale; the tracker's inventory shows it -------------
# THREAT: T5
command -v faketime >/dev/null || { echo "FAIL: faketime is not installed (scripts/deps --test)"; exit 1; }
state_of() { record | $PY -c "import json,sys; d=json.load(sys.stdin); print(d.get('state'), d.get('reported_stale', False))"; }
ok "T5 the device is not stale to begin with ($(state_of))" [ "$(state_of | cut -d' ' -f1)" != stale ]
# the tracker's statements last 120 s (freshness-ttl); the device's clock runs 250 s ahead,
# so that the new statement it polls is expired too
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    faketime -f "+250s" "$AG" --config dev.json run --once >t5.log 2>&1
ok "T5 the device notes its feed stale" grep -q "feed is stale" t5.log
ok "T5 ... and its report is taken" grep -q "status report .* sent" t5.log
ok "T5 the tracker's inventory shows it stale, as the device reported ($(state_of))" [ "$(state_of)" = "stale True" ]
ok "T5 ... in the inventory list too" bash -c "'$TRK' admin t consumer list --state stale --json | grep -q cam-1"
"$AG" --config dev.json run --once >t5b.log 2>&1
"$AG" --config dev.json run --once >t5c.log 2>&1
ok "T5 fresh again (the real clock, a new statement): no longer stale ($(state_of))" \
    [ "$(state_of | cut -d' ' -f1)" != stale ]

# ---- F15: the tracker killed (kill -9) while reports come in --------------------------
# THREAT: F15
TPORT=$(cat t/tracker.port)
sed -i "s/127.0.0.1:0/127.0.0.1:$TPORT/" t/tracker.json
sed -i 's/"poll-wait": 1/"poll-wait": 1, "report-interval": 1/' dev.json
"$AG" --config dev.json run >daemon.log 2>&1 &
dpid=$!
pids+=("$dpid")
for k in $(seq 1 "${KILLS:-3}"); do
    sleep "1.$(( RANDOM % 10 ))"
    kill -9 "${pids[0]}"
    wait "${pids[0]}" 2>/dev/null
    rm -f t/tracker.port
    "$TRK" run t >/dev/null 2>>t.log &
    pids[0]=$!
    wait_file t/tracker.port
    ok "F15 kill $k: the tracker comes back on its port" [ "$(cat t/tracker.port)" = "$TPORT" ]
done
sleep 2
kill -TERM "$dpid"
wait "$dpid"
last_sent=$(sed -n 's/.*status report \([0-9]*\) sent.*/\1/p' daemon.log | sort -n | tail -1)
ok "F15 reports were sent around the kills" [ -n "$last_sent" ]
sent=$(sed -n 's/.*status report \([0-9]*\) sent.*/\1/p' daemon.log | tr '\n' ' ')
lost=$(record | $PY -c "
import json, sys
h = {r['counter'] for r in json.load(sys.stdin)['reports']}
sent = [int(x) for x in sys.argv[1].split()]
print(' '.join(str(c) for c in sent if c >= min(h) and c not in h) or ('none' if max(h) >= max(sent) else 'newest'))" "$sent")
ok "F15 no accepted report is lost (sent: $sent; lost: $lost)" [ "$lost" = none ]
grep -q "status report .* sent" daemon.log || sed 's/^/    /' daemon.log | tail -5

echo "threats reports: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
