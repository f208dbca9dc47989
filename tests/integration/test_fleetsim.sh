#!/usr/bin/env bash
# secup-fleetsim (issue [system]) against real programs over HTTPS: a Firmware Server, a
# cloud tracker (L1, rollouts only) and a gateway tracker (L2) cascaded under it, and a
# fleet of simulated devices under L2. A rollout created at L1 reaches every device through
# the cascade; a device whose new image fails its health check falls back, is "failed" at
# L2, and its signed report saying so reaches L1; a device that was off line during the
# rollout catches up when it comes back; the download-only baseline fetches and verifies
# the same image with no tracker; and the simulator refuses a wrong tracker key and bad
# options.
# Usage: test_fleetsim.sh secup-fleetsim secup-tracker secup-server secup-author [devices]
set -u
FS=$(realpath "${1:?usage: $0 secup-fleetsim secup-tracker secup-server secup-author [devices]}")
TRK=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
A=$(realpath "${4:?}")
N=${5:-50}
FAILDEV=7   # fails the health check of v2 during the rollout
OFFDEV=13   # off line during the rollout, catches up
OFFFAIL=21  # off line during the rollout, fails when it catches up
SECUP_TEST_NAME=fleetsim
# shellcheck source=tests/integration/check.sh
. "$(dirname "$0")/check.sh"
PY=/usr/bin/python3
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"' EXIT
# how many of L2's devices are in state S
count_state() { "$TRK" admin L2 consumer list --json | $PY -c "
import json, sys
print(sum(1 for c in json.load(sys.stdin) if c['id'].startswith('sim-') and c['state'] == sys.argv[1]))" "$1"; }
state_at_L2() { "$TRK" admin L2 consumer show "$1" --json | $PY -c "import json,sys; print(json.load(sys.stdin)['state'])"; }
id_of() { printf 'sim-%05d' "$1"; }
n_in_state() { [ "$(count_state "$1")" -eq "$2" ]; }        # state count
dev_in_state() { [ "$(state_at_L2 "$(id_of "$1")")" = "$2" ]; } # device-number state
code_is() { [ "$(code_at_L1 "$(id_of "$1")")" = "$2" ]; }
# the last result code in the signed report of device $1 that L1 holds in L2's aggregate
code_at_L1() { $PY - "$PWD/L1/tracker.db" "$1" <<'PYEOF'
import cbor2, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
row = db.execute("SELECT body FROM aggregates WHERE tracker = 'L2' AND reporter = ?", (sys.argv[2],)).fetchone()
if row:
    m = cbor2.loads(bytes.fromhex(row[0])); m = m.value if hasattr(m, "value") else m
    st = cbor2.loads(m[2])
    print(st.get(6, {}).get(2, "none"))
PYEOF
}

# ---- server, Author, trackers ----
"$A" keygen --alg esp256 --out author.pem >/dev/null
"$SRV" init s --listen 127.0.0.1:0 --id fw1 >/dev/null 2>&1
ATOK=$("$SRV" admin s author add alice --key author.pub.pem 2>/dev/null)
"$SRV" admin s author grant alice --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
"$SRV" admin s device add fleet --vendor-domain example.com --class cam-v2 2>/dev/null > fleet.srvtoken
for l in L1 L2; do
    "$SRV" admin s tracker add $l 2>/dev/null > $l.srvtoken
    "$TRK" init $l --listen 127.0.0.1:0 --id $l >/dev/null 2>&1
done
setjson s/server.json "c['notify'] = {'retry-initial': 1, 'retry-max': 2, 'ca-file': '$PWD/L1/tls/cert.pem'}"
"$SRV" run s >/dev/null 2>s.log &
pids+=($!)
SU="https://127.0.0.1:$(port_of s/server.port)"
"$TRK" admin L1 server add fw1 --key s/server-key.pub.pem >/dev/null
"$TRK" admin L1 enrolment add --vendor-domain example.com --class cam-v2 2>/dev/null > L2.enrol
"$TRK" admin L2 enrolment add --vendor-domain example.com --class cam-v2 --uses $((N + 5)) 2>/dev/null > dev.enrol
setjson L1/tracker.json "c['auto-update'] = False"
"$TRK" run L1 >/dev/null 2>L1.log &
pids+=($!)
U1="https://127.0.0.1:$(port_of L1/tracker.port)"
curl -sk -o /dev/null -H "Authorization: Bearer $(cat L1.srvtoken)" -d "{\"url\": \"$U1/v1/notify\"}" "$SU/v1/subscriptions"
setjson L2/tracker.json "c['upstream'] = {'url': '$U1', 'id': 'L1', 'key': '$PWD/L1/tracker-key.pub.pem', 'ca-file': '$PWD/L1/tls/cert.pem', 'enrolment-token-file': '$PWD/L2.enrol', 'poll-wait': 2}; c['server'] = {'token-file': '$PWD/L2.srvtoken', 'ca-file': '$PWD/s/tls/cert.pem'}; c['trust'] = ['$PWD/author.pub.pem']"
"$TRK" run L2 >/dev/null 2>L2.log &
pids+=($!)
U2="https://127.0.0.1:$(port_of L2/tracker.port)"

# ---- v1, which the fleet runs, and v2 ----
head -c 100000 /dev/urandom > fw1.bin
head -c 120000 /dev/urandom > fw2.bin
"$A" create -q --key author.pem --image fw1.bin --seq 1 --vendor-domain example.com --class cam-v2 --version 1.0 --uri https://x/fw1.bin --out v1.suit
"$A" create -q --key author.pem --image fw2.bin --seq 2 --vendor-domain example.com --class cam-v2 --version 2.0 --uri https://x/fw2.bin --out v2.suit
check "the Author uploads v1" 0 "" "$A" upload --server "$SU" --cacert s/tls/cert.pem --token "$ATOK" --quiet v1.suit --payload fw1.bin

COMMON=(--tracker-key L2/tracker-key.pub.pem --tracker-id L2 --tracker-ca L2/tls/cert.pem
        --token dev.enrol --server "$SU" --server-ca s/tls/cert.pem --server-token fleet.srvtoken
        --trust author.pub.pem --vendor-domain example.com --class cam-v2 --initial v1.suit)

# ---- refusals ----
check "no tracker, no download-only: usage" 2 "" "$FS" --devices 2 --trust author.pub.pem --vendor-domain example.com --class cam-v2
check "a bad --fail-ratio: usage" 2 "" "$FS" --tracker "$U2" "${COMMON[@]}" --fail-ratio 2
"$A" keygen --alg esp256 --out mallory.pem >/dev/null
"$A" create -q --key mallory.pem --image fw1.bin --seq 1 --vendor-domain example.com --class cam-v2 --uri https://x/y --out m1.suit
check "an --initial manifest signed by nobody trusted is refused" 1 SECUP_E_SIG "$FS" --tracker "$U2" "${COMMON[@]}" --initial m1.suit --devices 1
check "an --initial for another class is refused" 1 SECUP_E_CLASS "$FS" --tracker "$U2" "${COMMON[@]}" --class cam-v3 --devices 1

# ---- the fleet: registered and reporting v1 ----
# (no periodic reports: L2 carries its 16 most recent reports up to L1, and the test wants
# to know which those are)
"$FS" --devices "$N" --tracker "$U2" "${COMMON[@]}" --fail "$FAILDEV,$OFFFAIL" --offline "$OFFDEV,$OFFFAIL" \
      --poll-wait 3 --report-interval 600 --ramp-ms 500 --duration 400 --json summary.json 2>fleet.log &
FSPID=$!
pids+=($FSPID)
ok "all $N devices register at L2 and report sequence 1 (up to date: L2 knows no v2)" waitfor 60 n_in_state up-to-date "$N"
ok "L2 registered at L1" waitfor 20 bash -c "'$TRK' admin L1 consumer list | grep -q '^L2 .*tracker'"

# ---- v2 and a rollout at the cloud tracker ----
check "the Author uploads v2" 0 "" "$A" upload --server "$SU" --cacert s/tls/cert.pem --token "$ATOK" --quiet v2.suit --payload fw2.bin
ok "L1 learns of v2 from the server" waitfor 20 bash -c "'$TRK' admin L1 manifest list --json | grep -q '\"sequence\": 2'"
DG=$("$TRK" admin L1 manifest list --json | $PY -c "import json,sys; print([m['digest'] for m in json.load(sys.stdin) if m['sequence']==2][0])")
ok "without a rollout, L1 (auto-update off) gives nothing out: no device is at v2 yet" test "$(count_state updating)" -eq 0
check "a rollout for the class is created at L1" 0 "" "$TRK" admin L1 rollout create fw-2 --digest "$DG" --canary 0 --max-failures 100
ok "the rollout reaches every on-line device but the failing one ($((N - 3)) up to date at L2)" \
    waitfor 120 n_in_state up-to-date $((N - 3))
ok "the failing device fell back and is failed at L2" waitfor 30 dev_in_state $FAILDEV failed
ok "L2 shows its reason" bash -c "'$TRK' admin L2 consumer show $(id_of $FAILDEV) --json | grep -q 'health check failed'"
both_obsolete() { dev_in_state $OFFDEV obsolete && dev_in_state $OFFFAIL obsolete; }
ok "the off-line devices are still obsolete at L2" both_obsolete

# ---- the off-line devices come back ----
kill -USR1 $FSPID
ok "the off-line device catches up" waitfor 60 dev_in_state $OFFDEV up-to-date
ok "the other one catches up, fails its health check, falls back: failed at L2" waitfor 60 dev_in_state $OFFFAIL failed
ok "now $((N - 2)) are up to date" waitfor 10 n_in_state up-to-date $((N - 2))
all_aggregated() { [ "$($PY -c "
import sqlite3
print(sqlite3.connect('$PWD/L1/tracker.db').execute(\"SELECT count(DISTINCT reporter) FROM aggregates WHERE tracker = 'L2'\").fetchone()[0])")" -eq "$N" ]; }
ok "L1 holds a signed report of each of the $N devices in L2's aggregates (passed up in turn, not only the newest)" \
    waitfor 120 all_aggregated
# while its fleet is not all on v2, L1 keeps the install open and sends it again at each
# poll; L2 knows it as the command it last acted on and simply waits a poll period
ok "the failed device's signed report saying so reaches L1 in L2's aggregate" \
    waitfor 60 code_is $OFFFAIL SECUP_E_POLICY
ok "L2 never took L1's repeated install for a replay (no back-off)" bash -c "! grep -q 'SECUP_E_REPLAY' L2.log"
kill -TERM $FSPID
FSRC=0
wait $FSPID || FSRC=$?
ok "the simulator stops on SIGTERM, exits 0 and writes its summary" test "$FSRC" -eq 0 -a -s summary.json
ok "the summary: $((N - 2)) run v2, two v1 (fell back), every payload byte counted" $PY - summary.json "$N" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1])); n = int(sys.argv[2])
assert s["running"] == {"2": n - 2, "1": 2}, s["running"]
assert s["installs"] == {"ok": n - 2, "failed": 2, "fell_back": 2}, s["installs"]
assert s["states"]["failed"] == 2 and s["states"]["offline"] == 0, s["states"]
assert s["bytes"]["payload"] == n * 120000, s["bytes"]
assert s["commands"]["refused"] == 0 and s["commands"]["install"] == n, s["commands"]
assert s["latency_ms"]["update"]["n"] == n, s["latency_ms"]
PYEOF
ok "the server recorded the fleet's downloads" waitfor 15 bash -c "'$SRV' admin s history --device fleet --json | grep -c '\"what\": \"payload\"' | grep -qx '$N'"

# ---- a fleet that trusts another key for the tracker refuses every command ----
"$TRK" admin L2 enrolment add --vendor-domain example.com --class cam-v2 --uses 2 2>/dev/null > dev2.enrol
check "devices given the wrong tracker key refuse its commands and stay on v1" 1 "" \
    "$FS" --devices 2 --prefix bad --tracker "$U2" "${COMMON[@]}" --token dev2.enrol --tracker-key L1/tracker-key.pub.pem \
          --poll-wait 1 --duration 6 --until-seq 2 --json bad.json
ok "they refused with SECUP_E_SIG and installed nothing" $PY -c "
import json; s = json.load(open('bad.json'))
assert s['commands']['refused'] >= 2 and s['installs']['ok'] == 0 and s['running'] == {'1': 2}, s"

# ---- a fleet that keeps its state across runs ----
"$TRK" admin L2 enrolment add --vendor-domain example.com --class cam-v2 --uses 3 2>/dev/null > dev3.enrol
check "three devices with a state directory enrol, install v2 and stop" 0 "" \
    "$FS" --devices 3 --prefix kept --tracker "$U2" "${COMMON[@]}" --token dev3.enrol --state-dir kept \
          --poll-wait 1 --duration 60 --until-seq 2 --json kept1.json
ok "each keeps its private key and its state: sequence 2 in slot B, a token, its counters" $PY -c "
import json, os, stat
s = json.load(open('kept/kept-00001.json'))
assert s['seq'] == 2 and s['slot'] == 1 and s['token'] and s['report-counter'] >= 2 and s['command-counter'] >= 1, s
assert s['last']['code'] == 'OK', s
assert stat.S_IMODE(os.stat('kept/kept-00001.key.pem').st_mode) == 0o600"
check "started again from their state (the enrolment token is used up)" 0 "" \
    "$FS" --devices 3 --prefix kept --tracker "$U2" "${COMMON[@]}" --token dev3.enrol --state-dir kept \
          --poll-wait 1 --duration 60 --until-seq 2 --json kept2.json
ok "they did not enrol again, installed nothing, and no report counter was refused as a replay" $PY -c "
import json; s = json.load(open('kept2.json'))
assert s['requests']['register'] == 0 and s['installs']['ok'] == 0 and s['errors'] == 0, s
assert s['running'] == {'2': 3}, s"
echo '{"format": 1, "id": "kept-00002"' > kept/kept-00002.json
check "a damaged state file is refused at start" 3 SECUP_E_JSON \
    "$FS" --devices 3 --prefix kept --tracker "$U2" "${COMMON[@]}" --token dev3.enrol --state-dir kept --duration 5
sed 's/kept-00001/kept-00002/' kept/kept-00001.json > kept/kept-00002.json
cp kept/kept-00001.json kept/kept-00003.json
check "a state file of another device is refused" 3 SECUP_E_VALUE \
    "$FS" --devices 3 --prefix kept --tracker "$U2" "${COMMON[@]}" --token dev3.enrol --state-dir kept --duration 5

# ---- the baseline: the same downloads, no tracker ----
MURL=$("$TRK" admin L1 manifest list --json | $PY -c "import json,sys; print([m['uri'] for m in json.load(sys.stdin) if m['sequence']==2][0])")
check "download-only: $N devices fetch and verify v2 from the server" 0 "" \
    "$FS" --devices "$N" --download-only "$MURL" --server "$SU" --server-ca s/tls/cert.pem --server-token fleet.srvtoken \
          --trust author.pub.pem --vendor-domain example.com --class cam-v2 --json base.json
ok "every payload byte arrived and verified" $PY -c "
import json; s = json.load(open('base.json'))
assert s['installs']['ok'] == $N and s['bytes']['payload'] == $N * 120000, s"
check "download-only with the wrong Author key fails every install" 0 "" \
    "$FS" --devices 2 --download-only "$MURL" --server "$SU" --server-ca s/tls/cert.pem --server-token fleet.srvtoken \
          --trust L1/tracker-key.pub.pem --vendor-domain example.com --class cam-v2 --json wrong.json
ok "refused by signature, nothing downloaded" $PY -c "
import json; s = json.load(open('wrong.json'))
assert s['installs'] == {'ok': 0, 'failed': 2, 'fell_back': 0} and s['bytes']['payload'] == 0, s"

echo "fleetsim: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
