#!/usr/bin/env bash
# Cascaded trackers over real HTTPS (issue [tracker], X.secup-iot §8.2, requirement 4B):
# a Firmware Server, a cloud tracker (L1), a gateway tracker (L2) below it and a tracker
# inside a device (L3) below that, and a consumer under L3. A new image travels down as
# commands each level verifies and signs again for the level below, each verifying the
# Author's signature itself; fleet state travels up. Then a tracker whose "upstream" is a
# stand-in meets a forged command, one for another subtree, a replay, and a command from a
# compromised upstream that names a manifest no trusted Author signed (THREATS.md S7, S8,
# U5).
# Usage: test_cascade.sh secup-tracker secup-server secup-author
set -u
TRK=$(realpath "${1:?usage: $0 secup-tracker secup-server secup-author}")
SRV=$(realpath "${2:?}")
A=$(realpath "${3:?}")
SECUP_TEST_NAME=cascade
SG=$(dirname "$(realpath "$0")")/statusgen.py
# shellcheck source=tests/integration/check.sh
. "$(dirname "$0")/check.sh"
PY=/usr/bin/python3
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT

start_tracker() { # dir variable: starts it, and sets the variable to its URL
    rm -f "$1/tracker.port"
    "$TRK" run "$1" >/dev/null 2>>"$1.log" &
    pids+=($!)
    printf -v "$2" '%s' "https://127.0.0.1:$(port_of "$1/tracker.port")"
}

# ---- the server, the Author, the image ----
"$A" keygen --alg esp256 --out author.pem >/dev/null
"$A" keygen --alg esp256 --out mallory.pem >/dev/null
"$SRV" init s --listen 127.0.0.1:0 --id fw1 >/dev/null 2>&1
ATOK=$("$SRV" admin s author add alice --key author.pub.pem 2>/dev/null)
"$SRV" admin s author grant alice --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
for l in L1 L2 L3; do "$SRV" admin s tracker add $l 2>/dev/null > $l.srvtoken; done

# ---- three trackers, each enrolled at the one above ----
for l in L1 L2 L3; do "$TRK" init $l --listen 127.0.0.1:0 --id $l >/dev/null 2>&1; done
setjson s/server.json "c['notify'] = {'retry-initial': 1, 'retry-max': 2, 'ca-file': '$PWD/L1/tls/cert.pem'}"
"$SRV" run s >/dev/null 2>s.log &
pids+=($!)
SU="https://127.0.0.1:$(port_of s/server.port)"
"$TRK" admin L1 server add fw1 --key s/server-key.pub.pem >/dev/null
"$TRK" admin L1 enrolment add --vendor-domain example.com --class cam-v2 2>/dev/null > L2.enrol
"$TRK" admin L2 enrolment add --vendor-domain example.com --class cam-v2 2>/dev/null > L3.enrol
"$TRK" admin L3 enrolment add --vendor-domain example.com --class cam-v2 2>/dev/null > d1.enrol
start_tracker L1 U1
curl -sk -o /dev/null -H "Authorization: Bearer $(cat L1.srvtoken)" -d "{\"url\": \"$U1/v1/notify\"}" "$SU/v1/subscriptions"
setjson L2/tracker.json "c['upstream'] = {'url': '$U1', 'id': 'L1', 'key': '$PWD/L1/tracker-key.pub.pem', 'ca-file': '$PWD/L1/tls/cert.pem', 'enrolment-token-file': '$PWD/L2.enrol', 'poll-wait': 2}; c['server'] = {'token-file': '$PWD/L2.srvtoken', 'ca-file': '$PWD/s/tls/cert.pem'}; c['trust'] = ['$PWD/author.pub.pem']"
check "an upstream without trust anchors is refused" 3 SECUP_E_VALUE bash -c "cp -r L2 L2x && $PY -c \"import json; c=json.load(open('L2x/tracker.json')); del c['trust']; json.dump(c, open('L2x/tracker.json','w'))\" && '$TRK' run L2x"
start_tracker L2 U2
setjson L3/tracker.json "c['upstream'] = {'url': '$U2', 'id': 'L2', 'key': '$PWD/L2/tracker-key.pub.pem', 'ca-file': '$PWD/L2/tls/cert.pem', 'enrolment-token-file': '$PWD/L3.enrol', 'poll-wait': 2}; c['server'] = {'token-file': '$PWD/L3.srvtoken', 'ca-file': '$PWD/s/tls/cert.pem'}; c['trust'] = ['$PWD/author.pub.pem']"
start_tracker L3 U3

# ---- a consumer under L3 runs sequence 1 ----
$PY "$SG" key d1.pem
$PY -c "import json; print(json.dumps({'id': 'd1', 'key': open('d1.pub.pem').read()}))" > d1.json
curl -sk -o r.json -H "Authorization: Bearer $(cat d1.enrol)" --data-binary @d1.json "$U3/v1/register"
DTOK=$($PY -c "import json; print(json.load(open('r.json'))['token'])")
$PY "$SG" report d1.pem d1 1 1 > rep.cose
ok "d1 reports to L3" test "$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $DTOK" --data-binary @rep.cose "$U3/v1/status")" = 200
ok "L2 registered at L1 as a tracker" waitfor 10 bash -c "'$TRK' admin L1 consumer list | grep -q '^L2 .*tracker'"
ok "L3 registered at L2" waitfor 10 bash -c "'$TRK' admin L2 consumer list | grep -q '^L3 .*tracker'"
ok "d1's sequence reaches L1 through two levels" waitfor 15 bash -c "'$TRK' admin L1 consumer show L2 --json | grep -q '\"sequence\": 1'"

# ---- an image travels down ----
head -c 100000 /dev/urandom > fw2.bin
"$A" create -q --key author.pem --image fw2.bin --seq 2 --vendor-domain example.com --class cam-v2 --uri https://x/fw2.bin --out v2.suit
check "the Author uploads sequence 2" 0 "" "$A" upload --server "$SU" --insecure --token "$ATOK" --quiet v2.suit --payload fw2.bin
ok "L1 learns of it from the server" waitfor 10 bash -c "'$TRK' admin L1 manifest list --json | grep -q '\"sequence\": 2'"
ok "L2 learns of it from L1's command, and verified it" waitfor 15 bash -c "'$TRK' admin L2 manifest list --json | grep -q '\"server\": \"upstream:L1\"'"
ok "L3 learns of it from L2's command" waitfor 15 bash -c "'$TRK' admin L3 manifest list --json | grep -q '\"server\": \"upstream:L2\"'"
curl -sk -o d1.cmd -H "Authorization: Bearer $DTOK" "$U3/v1/commands?wait=0"
read -r action counter seq rollout rest <<<"$($PY "$SG" command d1.cmd)"
ok "d1 is told by L3 to install sequence 2" test "$action $seq" = "1 2"
ok "signed by L3, whose key d1 trusts" $PY -c "
import cbor2, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
m = cbor2.loads(open('d1.cmd','rb').read()); prot, unprot, payload, sig = m.value
k = serialization.load_pem_public_key(open('L3/tracker-key.pub.pem','rb').read())
k.verify(encode_dss_signature(int.from_bytes(sig[:32],'big'), int.from_bytes(sig[32:],'big')), cbor2.dumps(['Signature1', prot, b'', payload]), ec.ECDSA(hashes.SHA256()))
assert cbor2.loads(payload)[3] == 'L3'
"
ok "L2 holds d1's own signed report in L3's aggregate" waitfor 15 bash -c "'$TRK' admin L2 consumer show L3 --json | grep -A2 aggregate | grep -q d1"
ok "and L1 holds L3's in L2's" waitfor 15 bash -c "'$TRK' admin L1 consumer show L2 --json | grep -A2 aggregate | grep -q L3"

# THREAT: S7 S8 U5
# ---- a tracker meets a hostile or broken upstream ----
"$TRK" init V --listen 127.0.0.1:0 --id V >/dev/null 2>&1
mkdir -p feed
$PY "$SG" key rogue.pem
digest_of() { $PY -c "import cbor2, sys; e=cbor2.loads(open(sys.argv[1],'rb').read()); e=e.value if hasattr(e,'value') else e; print(cbor2.loads(cbor2.loads(e[2])[0])[1].hex())" "$1"; }
DG=$(digest_of v2.suit)
MURI=$("$TRK" admin L1 manifest list --json | $PY -c "import json,sys; print([m['uri'] for m in json.load(sys.stdin) if m['sequence']==2][0])")
"$A" create -q --key mallory.pem --image fw2.bin --seq 9 --vendor-domain example.com --class cam-v2 --uri https://x/evil.bin --out evil.suit
EDG=$(digest_of evil.suit)
cp evil.suit feed/evil.suit
# the stand-in upstream serves feed/next.cose to GET /v1/commands, the evil envelope at /evil,
# and answers registration and status
$PY - feed > up.port 2>up.log <<'EOF' &
import http.server, json, os, ssl, sys
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, body=b"", ctype="application/json"):
        self.send_response(code); self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/v1/register":
            self.reply(201, json.dumps({"id": "V", "token": "tok", "vendor": "v", "class": "c"}).encode())
        else:
            self.reply(200, b"{}")
    def do_GET(self):
        if self.path.startswith("/v1/commands"):
            p = os.path.join(d, "next.cose")
            if os.path.exists(p):
                body = open(p, "rb").read(); os.rename(p, os.path.join(d, "served-%d" % len(os.listdir(d))))
                self.reply(200, body, "application/cose")
            else:
                self.reply(204)
        elif self.path == "/evil":
            self.reply(200, open(os.path.join(d, "evil.suit"), "rb").read(), "application/suit-envelope+cose")
        else:
            self.reply(404)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
pids+=($!)
UP="http://127.0.0.1:$(port_of up.port)"
echo tok > V.enrol
setjson V/tracker.json "c['upstream'] = {'url': '$UP', 'id': 'L1', 'key': '$PWD/L1/tracker-key.pub.pem', 'enrolment-token-file': '$PWD/V.enrol', 'poll-wait': 1}; c['server'] = {'token-file': '$PWD/L2.srvtoken', 'ca-file': '$PWD/s/tls/cert.pem'}; c['trust'] = ['$PWD/author.pub.pem']"
"$TRK" run V >/dev/null 2>V.log &
pids+=($!)
feed() { # a command file: served once, then wait until V took it
    cp "$1" feed/next.cose
    waitfor 60 test ! -e feed/next.cose  # V may be backing off from an earlier refusal (up to 60 s)
    sleep 0.5
}
vknows() { "$TRK" admin V manifest list --json | grep -q "$1"; }
vnot() { ! vknows "$1"; }
$PY "$SG" sign-command rogue.pem L1 V 5 1 "$MURI" "$DG" 2 > forged.cose
feed forged.cose
ok "a command signed by another key is refused" waitfor 10 grep -q "signature does not verify \[SECUP_E_SIG\]" V.log
ok "and teaches V nothing" vnot '"sequence": 2'
$PY "$SG" sign-command L1/tracker-key.pem L1 L2 6 1 "$MURI" "$DG" 2 > other.cose
feed other.cose
ok "a command for another subtree is refused" waitfor 10 grep -q "SECUP_E_AUDIENCE" V.log
$PY "$SG" sign-command L1/tracker-key.pem L1 V 7 1 "$MURI" "$DG" 2 > good.cose
feed good.cose
ok "a genuine command is obeyed after V verified the manifest" waitfor 5 vknows '"sequence": 2'
n_before=$("$TRK" admin V manifest list --json | grep -c '"digest"')
feed good.cose
ok "the same command sent again is recognised as already acted on" \
    waitfor 60 grep -q "command 7 sent again; already acted on, not again" V.log
ok "and changes nothing" test "$("$TRK" admin V manifest list --json | grep -c '"digest"')" -eq "$n_before"
$PY "$SG" sign-command L1/tracker-key.pem L1 V 6 1 "$MURI" "$DG" 2 > older.cose
feed older.cose
ok "an older genuine command replayed is refused" waitfor 30 grep -q "SECUP_E_REPLAY" V.log
$PY "$SG" sign-command L1/tracker-key.pem L1 V 8 1 "$UP/evil" "$EDG" 9 > evil.cose
feed evil.cose
ok "a compromised upstream's command for a manifest no trusted Author signed: not adopted" vnot '"sequence": 9'
ok "V says why" waitfor 30 grep -q "does not verify with any trusted key" V.log

[ "$fail" -eq 0 ] || tail -n 40 V.log | sed 's/^/  V.log: /' # for the record
echo "cascade: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
