#!/usr/bin/env bash
# THREATS.md U5, mixed bundles through a compromised intermediate tracker: a cloud tracker
# (L1) rolls v2 out to a gateway tracker (L2); L2, compromised, gives three of its six
# devices (secup-fleetsim, real HTTPS) another manifest (v3, validly signed by the Author, so
# the devices install it) and the other three v2. L2 carries its devices' own
# signed reports up in its aggregate; from their manifest digests L1 flags each of the three
# (an event, a log line, and "divergences" in `consumer show L2`: the device, the rollout,
# the expected and the reported digest), once, and none of the three that run v2.
# Usage: test_divergence.sh secup-fleetsim secup-tracker secup-server secup-author
set -u
FS=$(realpath "${1:?usage: $0 secup-fleetsim secup-tracker secup-server secup-author}")
TRK=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
A=$(realpath "${4:?}")
N=6
HERE=$(cd "$(dirname "$0")" && pwd)
SECUP_TEST_NAME=threats-divergence
# shellcheck source=tests/integration/check.sh
. "$HERE/../integration/check.sh"
# shellcheck source=tests/threats/fleet_world.sh
. "$HERE/fleet_world.sh"
# the manifest digest of an envelope (the image id at the server, the digest a rollout names)
dig() { "$A" inspect "$1" --json | $PY -c "import json,sys; print(json.load(sys.stdin)['authentication']['digest']['value'])"; }
divergences() { "$TRK" admin L1 consumer show L2 --json | $PY -c "
import json, sys
for d in json.load(sys.stdin).get('divergences', []):
    print(d['consumer'], d['rollout'], d['expected'], d['reported'])"; }
n_div() { [ "$(divergences | wc -l)" -ge "$1" ]; }

# ---- a server, L1 (rollouts only) and L2 under it, both told of new images ----
"$A" keygen --alg esp256 --out author.pem >/dev/null
"$SRV" init s --listen 127.0.0.1:0 --id fw1 >/dev/null 2>&1
ATOK=$("$SRV" admin s author add alice --key author.pub.pem 2>/dev/null)
"$SRV" admin s author grant alice --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
"$SRV" admin s device add fleet --vendor-domain example.com --class cam-v2 2>/dev/null > fleet.srvtoken
for l in L1 L2; do
    "$SRV" admin s tracker add $l 2>/dev/null > $l.srvtoken
    "$TRK" init $l --listen 127.0.0.1:0 --id $l >/dev/null 2>&1
    "$TRK" admin $l server add fw1 --key s/server-key.pub.pem >/dev/null
done
cat L1/tls/cert.pem L2/tls/cert.pem > cas.pem
setjson s/server.json "c['notify'] = {'retry-initial': 1, 'retry-max': 2, 'ca-file': '$PWD/cas.pem'}"
"$SRV" run s >/dev/null 2>s.log &
pids+=($!)
SU="https://127.0.0.1:$(port_of s/server.port)"
"$TRK" admin L1 enrolment add --vendor-domain example.com --class cam-v2 2>/dev/null > L2.enrol
"$TRK" admin L2 enrolment add --vendor-domain example.com --class cam-v2 --uses $N 2>/dev/null > dev.enrol
setjson L1/tracker.json "c['auto-update'] = False"
"$TRK" run L1 >/dev/null 2>L1.log &
pids+=($!)
U1="https://127.0.0.1:$(port_of L1/tracker.port)"
setjson L2/tracker.json "c['auto-update'] = False; c['upstream'] = {'url': '$U1', 'id': 'L1', 'key': '$PWD/L1/tracker-key.pub.pem', 'ca-file': '$PWD/L1/tls/cert.pem', 'enrolment-token-file': '$PWD/L2.enrol', 'poll-wait': 1}; c['server'] = {'token-file': '$PWD/L2.srvtoken', 'ca-file': '$PWD/s/tls/cert.pem', 'poll-interval': 0}; c['trust'] = ['$PWD/author.pub.pem']"
"$TRK" run L2 >/dev/null 2>L2.log &
pids+=($!)
U2="https://127.0.0.1:$(port_of L2/tracker.port)"
# the server notifies both (each subscription with the tracker's own token and its CA)
for l in L1 L2; do
    u=$([ $l = L1 ] && echo "$U1" || echo "$U2")
    curl -sk -o /dev/null -H "Authorization: Bearer $(cat $l.srvtoken)" -d "{\"url\": \"$u/v1/notify\"}" "$SU/v1/subscriptions"
done

for v in 1 2 3; do
    head -c 40000 /dev/urandom > "fw$v.bin"
    "$A" create -q --key author.pem --image "fw$v.bin" --seq "$v" --vendor-domain example.com --class cam-v2 \
        --version "$v.0" --uri "https://x/fw$v.bin" --out "v$v.suit"
done
"$A" upload --server "$SU" --cacert s/tls/cert.pem --token "$ATOK" --quiet v1.suit --payload fw1.bin >/dev/null
"$FS" --devices "$N" --tracker "$U2" --tracker-key L2/tracker-key.pub.pem --tracker-id L2 --tracker-ca L2/tls/cert.pem \
    --token dev.enrol --server "$SU" --server-ca s/tls/cert.pem --server-token fleet.srvtoken --trust author.pub.pem \
    --vendor-domain example.com --class cam-v2 --initial v1.suit --until-seq 2 --poll-wait 1 --report-interval 2 \
    --duration 300 -v --json fleet.json 2>fleet.log &
FSPID=$!
pids+=("$FSPID")
registered() { [ "$("$TRK" admin L2 consumer list --json | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')" -eq $N ]; }
ok "the $N devices register at L2" waitfor 60 registered
ok "L2 registered at L1" waitfor 30 bash -c "'$TRK' admin L1 consumer list | grep -q '^L2 '"
for v in 2 3; do
    "$A" upload --server "$SU" --cacert s/tls/cert.pem --token "$ATOK" --quiet "v$v.suit" --payload "fw$v.bin" >/dev/null
done
knows_both() { [ "$("$TRK" admin "$1" manifest list --json | grep -c '"sequence": [23]')" -eq 2 ]; }
ok "L1 learns of v2 and v3" waitfor 30 knows_both L1
ok "L2 learns of v2 and v3" waitfor 30 knows_both L2
D2=$(dig v2.suit)
D2X=$(dig v3.suit)

# THREAT: U5
check "L1 rolls v2 out to L2" 0 "" "$TRK" admin L1 rollout create up-2 --digest "$D2" --consumers L2
# the compromised L2: v3 to three devices, v2 to the rest
check "L2 (compromised) gives three devices v3 instead" 0 "" \
    "$TRK" admin L2 rollout create evil --digest "$D2X" --consumers sim-00001,sim-00002,sim-00003
check "... and v2 to the other three" 0 "" \
    "$TRK" admin L2 rollout create fine --digest "$D2" --consumers sim-00004,sim-00005,sim-00006
[ "$fail" -eq 0 ] || { echo "threats divergence: $pass passed, $fail failed (stopped early)"; exit 1; }
wait "$FSPID"
ok "U5 every device installed what it was given, Author-signed: three run v3, three v2 (fleetsim exit $?)" \
    [ "$(summary fleet.json 'sorted(s["running"].items())')" = "[('2', 3), ('3', 3)]" ]
ok "U5 L1 flags the divergence of the three devices given v3" waitfor 90 n_div 3
divergences > div.txt
sort > want.txt <<EOF
sim-00001 up-2 $D2 $D2X
sim-00002 up-2 $D2 $D2X
sim-00003 up-2 $D2 $D2X
EOF
ok "U5 ... each naming the device, the rollout, the expected and the reported digest; none of the three on v2" \
    diff want.txt div.txt
sql1() { $PY -c "import sqlite3,sys; print(sqlite3.connect('L1/tracker.db').execute(sys.argv[1]).fetchone()[0])" "$1"; }
ok "U5 an event for each in L1's event log" \
    [ "$(sql1 "SELECT count(*) FROM events WHERE action = 'divergence' AND detail LIKE '%$D2X%'")" = 3 ]
ok "U5 ... and a line in L1's log" [ "$(grep -c "divergence: consumer 'sim-0000[123]'" L1.log)" = 3 ]
# L2 keeps reporting up (its devices report every 2 s): the divergence is not recorded again
sleep 5
ok "U5 recorded once, not at every report up" \
    [ "$(sql1 "SELECT count(*) FROM events WHERE action = 'divergence'")" = 3 ]
ok "U5 the REST admin API shows it too" bash -c "'$TRK' admin L1 token add ops > ops.tok 2>/dev/null &&
    curl -sk -H \"Authorization: Bearer \$(cat ops.tok)\" '$U1/v1/admin/consumers/L2' | grep -q '\"divergences\"'"

no_sanitizer_reports L1.log L2.log s.log fleet.log
echo "threats divergence: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
