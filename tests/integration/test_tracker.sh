#!/usr/bin/env bash
# secup-tracker black-box over real HTTPS (issue [tracker], first part): enrolment, signed
# status reports from a real secup-agent, signed notifications from a real secup-server,
# and the inventory's judgement. Runs against SQLite and, given a URL, PostgreSQL.
# Usage: test_tracker.sh secup-tracker secup-server secup-author secup-agent [DATABASE-URL|pg]
set -u
TRK=$(realpath "${1:?usage: $0 secup-tracker secup-server secup-author secup-agent [db]}")
SRV=$(realpath "${2:?}")
A=$(realpath "${3:?}")
AG=$(realpath "${4:?}")
DB_URL=${5:-}
SECUP_TEST_NAME=tracker
SG=$(dirname "$(realpath "$0")")/statusgen.py
FLIP=$(dirname "$(realpath "$0")")/flip_byte
# shellcheck source=tests/integration/check.sh
. "$(dirname "$0")/check.sh"
# shellcheck source=tests/integration/tracker_env.sh
. "$(dirname "$0")/tracker_env.sh"

state_of() { "$TRK" admin t consumer show "$1" --json | $PY -c "import json,sys; print(json.load(sys.stdin)['state'])"; }

# ---- a tracker, a server that notifies it, a device ----
if [ -n "$DB_URL" ]; then
    check "tracker init on PostgreSQL" 0 "" "$TRK" init t --listen 127.0.0.1:0 --db "$DB_URL" --id trk1
else
    check "tracker init" 0 "" "$TRK" init t --listen 127.0.0.1:0 --id trk1
fi
check "init again refuses" 4 SECUP_E_EXISTS "$TRK" init t
$PY - "$PWD/t/tracker.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); c["unreachable-after"] = 10  # long enough for a loaded ASan run
json.dump(c, open(sys.argv[1], "w"), indent=2)
EOF
ETOK=$("$TRK" admin t enrolment add --vendor-domain example.com --class cam-v2 --uses 2 2>/dev/null)
OTOK=$("$TRK" admin t enrolment add --vendor-domain example.com --class lamp 2>/dev/null)
check "an enrolment needs a class" 2 "" "$TRK" admin t enrolment add --vendor-domain example.com
"$SRV" init s --listen 127.0.0.1:0 --id fw1 >/dev/null 2>&1
check "the tracker believes fw1's notifications" 0 "" "$TRK" admin t server add fw1 --key s/server-key.pub.pem
check "not with a private key" 3 SECUP_E_KEY_FORMAT "$TRK" admin t server add fw2 --key s/server-key.pem

start_tracker
http "health" 200 "" "$TU/v1/health"

# the device: keys, configuration, a first local install, its signed report
"$A" keygen --alg esp256 --out author.pem >/dev/null
"$A" keygen --alg esp256 --out dev.pem >/dev/null
"$A" keygen --alg esp256 --out other.pem >/dev/null
mkdir -p slots state
cat > dev.json <<JSON
{ "device": { "id": "cam-1", "key": "dev.pem", "vendor-domain": "example.com", "class": "cam-v2" },
  "state-dir": "state", "bootloader": { "type": "statefile", "path": "state/boot" },
  "health-check": { "command": ["/bin/true"], "timeout": 10 }, "boot-attempts": 2,
  "components": [ { "name": "firmware", "slots": ["slots/a.img", "slots/b.img"], "slot-size": 1000000 } ],
  "trust": [ { "name": "release", "key": "author.pub.pem" } ] }
JSON
head -c 200000 /dev/urandom > fw1.bin
"$A" create -q --key author.pem --image fw1.bin --seq 1 --vendor-domain example.com --class cam-v2 --integrate --out v1.suit
"$AG" --config dev.json install v1.suit >/dev/null && "$AG" --config dev.json boot >/dev/null
check "the agent writes its signed report" 0 "" "$AG" --config dev.json report --out r1.cose

# ---- enrolment ----
reg() { $PY -c "import json,sys; print(json.dumps({'id': sys.argv[1], 'key': open(sys.argv[2]).read(), 'region': 'eu'}))" "$1" "$2"; }
reg cam-1 dev.pub.pem > reg.json
http "register without a token" 401 SECUP_E_AUTH -H 'Content-Type: application/json' --data-binary @reg.json "$TU/v1/register"
http "register with an unknown token" 401 SECUP_E_AUTH -H "Authorization: Bearer xxxxxxxxxxxxxxxx" --data-binary @reg.json "$TU/v1/register"
http "register with a private key" 400 SECUP_E_KEY_FORMAT -H "Authorization: Bearer $ETOK" \
    --data-binary "$($PY -c "import json; print(json.dumps({'id': 'x', 'key': open('dev.pem').read()}))")" "$TU/v1/register"
http "register with an unknown field" 400 SECUP_E_JSON -H "Authorization: Bearer $ETOK" --data-binary '{"id": "x", "admin": true}' "$TU/v1/register"
http "register with a bad name" 400 SECUP_E_JSON -H "Authorization: Bearer $ETOK" --data-binary '{"id": "../x", "key": "k"}' "$TU/v1/register"
http "register cam-1" 201 "" -H "Authorization: Bearer $ETOK" --data-binary @reg.json "$TU/v1/register"
CTOK=$(json resp.body "d['token']")
ok "the class comes from the enrolment" test "$(json resp.body "d['class']")" = "644cf27a855e5bf5bfb30dbf6e2af57e"
http "the same name again" 409 SECUP_E_EXISTS -H "Authorization: Bearer $ETOK" --data-binary @reg.json "$TU/v1/register"
reg cam-2 other.pub.pem > reg2.json
http "the enrolment's last use" 201 "" -H "Authorization: Bearer $ETOK" --data-binary @reg2.json "$TU/v1/register"
C2TOK=$(json resp.body "d['token']")
reg cam-3 other.pub.pem > reg3.json
http "a used-up enrolment token" 401 SECUP_E_AUTH -H "Authorization: Bearer $ETOK" --data-binary @reg3.json "$TU/v1/register"
ok "never-seen before the first report" test "$(state_of cam-1)" = never-seen

# ---- signed status reports ----
http "a report without a token" 401 SECUP_E_AUTH --data-binary @r1.cose "$TU/v1/status"
http "a report under another consumer's token" 403 SECUP_E_FORBIDDEN -H "Authorization: Bearer $C2TOK" --data-binary @r1.cose "$TU/v1/status"
# THREAT: C6
cp r1.cose bad.cose; "$FLIP" bad.cose $(( $(stat -c %s r1.cose) - 10 ))
http "a tampered report" 422 SECUP_E_SIG -H "Authorization: Bearer $CTOK" --data-binary @bad.cose "$TU/v1/status"
head -c 2000 /dev/urandom > junk.bin
http "garbage" 400 "" -H "Authorization: Bearer $CTOK" --data-binary @junk.bin "$TU/v1/status"
http "a body over the limit" 413 SECUP_E_LIMIT_BODY -H "Authorization: Bearer $CTOK" -H "Expect: 100-continue" --data-binary @fw1.bin "$TU/v1/status"
http "the report" 200 "" -H "Authorization: Bearer $CTOK" --data-binary @r1.cose "$TU/v1/status"
# THREAT: U7
http "the same report again: a replay" 409 SECUP_E_REPLAY -H "Authorization: Bearer $CTOK" --data-binary @r1.cose "$TU/v1/status"
ok "up-to-date: no newer manifest is known" test "$(state_of cam-1)" = up-to-date
ok "the inventory shows sequence 1" bash -c "'$TRK' admin t consumer show cam-1 --json | grep -q '\"sequence\": 1'"

# ---- notifications from the server: a newer manifest makes the device obsolete ----
$PY - "$PWD/s/server.json" "$PWD/t/tls/cert.pem" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); c["notify"] = {"retry-initial": 1, "retry-max": 2, "ca-file": sys.argv[2]}
json.dump(c, open(sys.argv[1], "w"), indent=2)
EOF
ATOK=$("$SRV" admin s author add alice --key author.pub.pem 2>/dev/null)
"$SRV" admin s author grant alice --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
TTOK=$("$SRV" admin s tracker add trk1 2>/dev/null)
"$SRV" run s 2>server.log &
spid=$!
for _ in $(seq 100); do [ -s s/server.port ] && break; sleep 0.05; done
SU="https://127.0.0.1:$(cat s/server.port)"
http "the tracker subscribes at the server" 201 "" -H "Authorization: Bearer $TTOK" -d "{\"url\": \"$TU/v1/notify\"}" "$SU/v1/subscriptions"
head -c 200000 /dev/urandom > fw2.bin
"$A" create -q --key author.pem --image fw2.bin --seq 2 --vendor-domain example.com --class cam-v2 --uri https://x/fw2.bin --out v2.suit
check "the Author uploads sequence 2" 0 "" "$A" upload --server "$SU" --insecure --token "$ATOK" --quiet v2.suit --payload fw2.bin
for _ in $(seq 100); do "$TRK" admin t manifest list --json | grep -q '"sequence": 2' && break; sleep 0.05; done
ok "the tracker learned of sequence 2 from the signed notification" bash -c "'$TRK' admin t manifest list --json | grep -q '\"sequence\": 2'"
ok "cam-1 is now obsolete" test "$(state_of cam-1)" = obsolete
ok "listed by state" bash -c "'$TRK' admin t consumer list --state obsolete | grep -q '^cam-1 '"
ok "cam-2 never reported" bash -c "'$TRK' admin t consumer list --state never-seen | grep -q '^cam-2 '"
ok "the notification names where the manifest is" bash -c "'$TRK' admin t manifest list --json | grep -q '\"uri\": \"$SU/v1/images/'"
http "a notification from an unknown server" 422 SECUP_E_KEY_UNKNOWN --data-binary @r1.cose "$TU/v1/notify"
$PY - <<'EOF'
import cbor2
# a notification claiming to come from fw1 but signed by nobody the tracker knows
prot = cbor2.dumps({1: -9})
p = cbor2.dumps({1: 1, 2: "fw1", 3: 99, 4: 1, 5: b"\x11" * 16, 6: b"\x22" * 16, 7: b"\x81\x41\x00", 8: 99, 9: "https://x/m", 10: [-16, b"\x00" * 32]})
open("forged.cose", "wb").write(cbor2.dumps(cbor2.CBORTag(18, [prot, {4: b"fw1"}, p, b"\x00" * 64])))
EOF
http "a forged notification" 422 SECUP_E_SIG --data-binary @forged.cose "$TU/v1/notify"
ok "the forged one taught the tracker nothing" bash -c "! '$TRK' admin t manifest list --json | grep -q '\"sequence\": 99'"

# ---- commands: the obsolete device is told to install, signed by the tracker ----
cat > cmd.py <<'EOF'
import sys, cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
m = cbor2.loads(open(sys.argv[1], "rb").read())
assert m.tag == 18, "not a COSE_Sign1"
prot, unprot, payload, sig = m.value
key = serialization.load_pem_public_key(open(sys.argv[2], "rb").read())
tbs = cbor2.dumps(["Signature1", prot, b"", payload])
r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
key.verify(encode_dss_signature(r, s), tbs, ec.ECDSA(hashes.SHA256()))
c = cbor2.loads(payload)
print(c[8], c[3], c[4], c[5], c.get(11, "-"), c.get(9, "-"), (c.get(13) or ["-"])[0], c[10][1].hex() if 10 in c else "-")
EOF
cmdinfo() { $PY cmd.py "$1" t/tracker-key.pub.pem; }
http "commands without a token" 401 SECUP_E_AUTH "$TU/v1/commands"
http "a wait over the limit" 400 SECUP_E_HTTP -H "Authorization: Bearer $CTOK" "$TU/v1/commands?wait=100000"
http "cam-1 asks what to do" 200 "" -H "Authorization: Bearer $CTOK" "$TU/v1/commands?wait=0"
cp resp.body c1.cose
read -r action issuer target counter1 seq muri puri digest <<<"$(cmdinfo c1.cose)"
ok "an install, signed by the tracker, for cam-1" test "$action $issuer $target" = "1 trk1 cam-1"
ok "of sequence 2, at the server" test "$seq" = 2
ok "the manifest and payload are the server's" bash -c "[[ '$muri' == $SU/v1/images/$digest/manifest ]] && [[ '$puri' == $SU/v1/images/$digest/payload ]]"
http "asking again gives the same command" 200 "" -H "Authorization: Bearer $CTOK" "$TU/v1/commands"
ok "the very same bytes (not a second install)" cmp -s resp.body c1.cose
ok "cam-1 is updating" test "$(state_of cam-1)" = updating
DTOK=$("$SRV" admin s device add cam-1 --vendor-domain example.com --class cam-v2 2>/dev/null)
http "the manifest the command names is at the server" 200 "" -H "Authorization: Bearer $DTOK" "$muri"
ok "and is the package the Author uploaded" cmp -s resp.body v2.suit

# ---- the device updates and reports again ----
"$AG" --config dev.json install v2.suit --payload fw2.bin >/dev/null && "$AG" --config dev.json boot >/dev/null
"$AG" --config dev.json report --out r2.cose >/dev/null
http "the newer report" 200 "" -H "Authorization: Bearer $CTOK" --data-binary @r2.cose "$TU/v1/status"
ok "cam-1 is up-to-date again" test "$(state_of cam-1)" = up-to-date
http "the install settled: nothing to do now" 200 "" -H "Authorization: Bearer $CTOK" "$TU/v1/commands?wait=0"
read -r action issuer target counter2 rest <<<"$(cmdinfo resp.body)"
ok "a signed 'nothing to do' statement with a newer counter" test "$action" = 2 -a "$counter2" -gt "$counter1"
# a long poll is answered as soon as a newer manifest arrives
curl -sk -o lp.body -w '%{http_code}' -H "Authorization: Bearer $CTOK" "$TU/v1/commands?wait=20" > lp.code &
lpid=$!
sleep 1
head -c 200000 /dev/urandom > fw3.bin
"$A" create -q --key author.pem --image fw3.bin --seq 3 --vendor-domain example.com --class cam-v2 --uri https://x/fw3.bin --out v3.suit
"$A" upload --server "$SU" --insecure --token "$ATOK" --quiet v3.suit --payload fw3.bin >/dev/null
wait "$lpid"
ok "the long poll was answered" test "$(cat lp.code)" = 200
ok "with an install of sequence 3" test "$(cmdinfo lp.body | cut -d' ' -f1,5)" = "1 3"
http "the older report after the newer one: refused" 409 SECUP_E_REPLAY -H "Authorization: Bearer $CTOK" --data-binary @r1.cose "$TU/v1/status"
ok "the history holds both reports" test "$("$TRK" admin t consumer show cam-1 --json | $PY -c "import json,sys; print(len(json.load(sys.stdin)['reports']))")" = 2
sleep 11
ok "silent for longer than unreachable-after: unreachable" test "$(state_of cam-1)" = unreachable
check "remove a consumer" 0 "" "$TRK" admin t consumer remove cam-2
check "remove it again" 4 SECUP_E_NOENT "$TRK" admin t consumer remove cam-2

# THREAT: F16
# ---- rollouts: waves, a conflict, pause and resume, cancel, halting ----
DOOR=$("$TRK" admin t enrolment add --vendor-domain example.com --class door --uses 5 2>/dev/null)
"$SRV" admin s author grant alice --vendor-domain example.com --class door >/dev/null 2>&1
declare -A DT CNT
for d in d1 d2 d3 d4 d5; do
    $PY "$SG" key $d.pem
    reg $d $d.pub.pem > reg-$d.json
    curl -sk -o r.json -H "Authorization: Bearer $DOOR" --data-binary @reg-$d.json "$TU/v1/register"
    DT[$d]=$(json r.json "d['token']")
    CNT[$d]=1
    $PY "$SG" report $d.pem $d 1 1 > rep.cose
    curl -sk -o /dev/null -H "Authorization: Bearer ${DT[$d]}" --data-binary @rep.cose "$TU/v1/status"
done
rep() { # device seq [cmdid code]: a new signed report from a simulated door
    CNT[$1]=$((CNT[$1] + 1))
    $PY "$SG" report "$1.pem" "$1" "${CNT[$1]}" "$2" "${3:-}" "${4:-}" > rep.cose
    http "$1 reports sequence $2${4:+ ($4)}" 200 "" -H "Authorization: Bearer ${DT[$1]}" --data-binary @rep.cose "$TU/v1/status"
}
poll() { curl -sk -o "$1.cmd" -H "Authorization: Bearer ${DT[$1]}" "$TU/v1/commands?wait=0"; $PY "$SG" command "$1.cmd"; }
# the manifest is created under a rollout at once (auto-update would give it to all)
$PY - "$PWD/t/tracker.json" "$(cat t/tracker.port)" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); c["auto-update"] = False
c["report-quota"] = 12; c["report-history"] = 3
c["listen"] = "127.0.0.1:" + sys.argv[2]  # the port the server notifies
json.dump(c, open(sys.argv[1], "w"), indent=2)
EOF
stop_tracker
start_tracker
"$A" create -q --key author.pem --image fw2.bin --seq 2 --vendor-domain example.com --class door --uri https://x/d2.bin --out door2.suit
"$A" upload --server "$SU" --insecure --token "$ATOK" --quiet door2.suit --payload fw2.bin >/dev/null
DD=""
for _ in $(seq 100); do
    DD=$("$TRK" admin t manifest list --json | $PY -c "import json,sys; l=[m['digest'] for m in json.load(sys.stdin) if m['class']!='644cf27a855e5bf5bfb30dbf6e2af57e']; print(l[0] if l else '')")
    [ -n "$DD" ] && break; sleep 0.05
done
ok "without auto-update and without a rollout: nothing to install" test "$(poll d1 | cut -d' ' -f1)" = 2
check "a rollout of an unknown manifest" 4 SECUP_E_NOENT "$TRK" admin t rollout create r0 --digest "$(printf '%064d' 0)"
# d1 is parked in a long poll when the rollout is created from the command line (another
# process): the tracker notices and answers it with the install, not at the end of its
# wait (60 s; the client gives up after 30 s)
curl -sk -m 30 -o d1.lp -H "Authorization: Bearer ${DT[d1]}" "$TU/v1/commands?wait=60" &
lp=$!
sleep 1
check "create rollout r1: canary 2, at most 50% failures" 0 "" "$TRK" admin t rollout create r1 --digest "$DD" --canary 2 --max-failures 50
wait "$lp"
ok "d1's parked long poll is woken by the new rollout and answered with its install" \
    bash -c "[ -s d1.lp ] && [ \"\$($PY '$SG' command d1.lp | cut -d' ' -f1,4)\" = '1 r1' ]"
check "a second rollout for the same consumers" 4 SECUP_E_EXISTS "$TRK" admin t rollout create r2 --digest "$DD" --consumers d1
read -r a1 s1 q1 r1 rest <<<"$(poll d1)"
ok "d1 (canary) gets the install, tagged with the rollout" test "$a1 $q1 $r1" = "1 2 r1"
ok "d2 (canary) too" test "$(poll d2 | cut -d' ' -f1,4)" = "1 r1"
ok "d3 waits for the second wave" test "$(poll d3 | cut -d' ' -f1)" = 2
C2=$($PY -c "import cbor2; print(cbor2.loads(cbor2.loads(open('d2.cmd','rb').read()).value[2])[2].hex())")
rep d1 2
rep d2 1 "$C2" SECUP_E_DIGEST
ok "one of two canaries failed: at the bound, the second wave opens" bash -c "'$TRK' admin t rollout list --json | grep -q '\"wave\": 2'"
check "pause" 0 "" "$TRK" admin t rollout pause r1
ok "paused: d3 gets nothing" test "$(poll d3 | cut -d' ' -f1)" = 2
check "pause twice" 2 SECUP_E_STATE "$TRK" admin t rollout pause r1
check "resume" 0 "" "$TRK" admin t rollout resume r1
ok "resumed: d3 gets the install" test "$(poll d3 | cut -d' ' -f1,4)" = "1 r1"
check "cancel" 0 "" "$TRK" admin t rollout cancel r1
ok "cancelled: d3 is told to cancel r1" test "$(poll d3 | cut -d' ' -f1,4)" = "4 r1"
ok "and d4 gets nothing" test "$(poll d4 | cut -d' ' -f1)" = 2
"$A" create -q --key author.pem --image fw3.bin --seq 3 --vendor-domain example.com --class door --uri https://x/d3.bin --out door3.suit
"$A" upload --server "$SU" --insecure --token "$ATOK" --quiet door3.suit --payload fw3.bin >/dev/null
DD3=""
for _ in $(seq 100); do
    DD3=$("$TRK" admin t manifest list --json | $PY -c "import json,sys; l=[m['digest'] for m in json.load(sys.stdin) if m['sequence']==3 and m['class']!='644cf27a855e5bf5bfb30dbf6e2af57e']; print(l[0] if l else '')")
    [ -n "$DD3" ] && break; sleep 0.05
done
check "rollout r3 of sequence 3: one canary, no failure allowed" 0 "" "$TRK" admin t rollout create r3 --digest "$DD3" --canary 1 --max-failures 0 --consumers d4,d5
ok "d4 (canary) gets sequence 3" test "$(poll d4 | cut -d" " -f1,3)" = "1 3"
C4=$($PY -c "import cbor2; print(cbor2.loads(cbor2.loads(open('d4.cmd','rb').read()).value[2])[2].hex())")
rep d4 1 "$C4" SECUP_E_TAG
ok "its failure halts r3" bash -c "'$TRK' admin t rollout list --json | grep -q '\"state\": \"halted\"'"
ok "halted: d5 never gets it" test "$(poll d5 | cut -d' ' -f1)" = 2
ok "the rollout list gives the reason" bash -c "'$TRK' admin t rollout list --json | grep -q '1 of 1 failed'"

# ---- reports from many consumers at once: committed in shared batches (intake.c), each
# report still judged on its own: a replay inside a batch is refused, the others kept ----
BT=$("$TRK" admin t enrolment add --vendor-domain example.com --class batch --uses 6 2>/dev/null)
declare -A BTOK
for b in b1 b2 b3 b4 b5 b6; do
    $PY "$SG" key $b.pem
    reg $b $b.pub.pem > reg-$b.json
    curl -sk -o r.json -H "Authorization: Bearer $BT" --data-binary @reg-$b.json "$TU/v1/register"
    BTOK[$b]=$(json r.json "d['token']")
    for i in 1 2 3 4 5; do $PY "$SG" report $b.pem $b "$i" 1 > $b-$i.cose; done
done
bpids=()
for b in b1 b2 b3 b4 b5 b6; do
    ( for i in 1 2 3 4 3 5; do # the second 3 is a replay
          curl -sk -o "$b-ans-$i.body" -w "$i %{http_code}\n" -H "Authorization: Bearer ${BTOK[$b]}" \
               --data-binary @$b-$i.cose "$TU/v1/status"
      done > "$b.codes" ) &
    bpids+=($!)
done
wait "${bpids[@]}"
ok "30 concurrent reports from 6 consumers: all 200" test "$(cat b?.codes | grep -c ' 200$')" = 30
ok "the 6 replays among them: 409" test "$(cat b?.codes | grep -c '^3 409$')" = 6
ok "each replay answered SECUP_E_REPLAY" test "$(grep -l SECUP_E_REPLAY b?-ans-3.body | wc -l)" = 6
for b in b1 b3 b6; do
    ok "$b holds counter 5 and its newest 3 reports" bash -c "'$TRK' admin t consumer show $b --json | $PY -c \"import json,sys; d=json.load(sys.stdin); sys.exit(not (d['last_counter'] == 5 and sorted(r['counter'] for r in d['reports']) == [3, 4, 5]))\""
done

# THREAT: S9 U6
# ---- a flood of reports (THREATS.md S9): refused past the quota, storage bounded ----
accepted=0 refused=0
for i in $(seq 1 15); do
    CNT[d5]=$((CNT[d5] + 1))
    $PY "$SG" report d5.pem d5 "${CNT[d5]}" 1 > rep.cose
    code=$(curl -sk -o resp.body -w '%{http_code}' -H "Authorization: Bearer ${DT[d5]}" --data-binary @rep.cose "$TU/v1/status")
    if [ "$code" = 200 ]; then accepted=$((accepted + 1)); last_ok=${CNT[d5]}
    elif [ "$code" = 429 ] && grep -q SECUP_E_QUOTA resp.body; then refused=$((refused + 1)); fi
done
ok "past the quota of 12 an hour: 429 SECUP_E_QUOTA ($accepted accepted, $refused refused)" test "$refused" -ge 1 -a $((accepted + refused)) -eq 15
ok "the last accepted report is the one the tracker holds" bash -c "'$TRK' admin t consumer show d5 --json | grep -q '\"last_counter\": $last_ok'"
ok "and it keeps only the newest 3 reports" test "$("$TRK" admin t consumer show d5 --json | $PY -c "import json,sys; print(len(json.load(sys.stdin)['reports']))")" = 3

echo "tracker ($([ -n "$DB_URL" ] && echo PostgreSQL || echo SQLite)): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
