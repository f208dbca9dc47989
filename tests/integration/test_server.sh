#!/usr/bin/env bash
# secup-server black-box over real HTTPS (issue [server]): submissions through the gate,
# distribution with rights, location policy, Range and ETag, quarantine, bans, the
# scanner hook, notifications, history, and kill -9 in the middle of things. The same
# script runs against SQLite and, given a URL, PostgreSQL.
# Usage: test_server.sh PATH/TO/secup-server PATH/TO/secup-author [DATABASE-URL]
set -u
SRV=$(realpath "${1:?usage: $0 secup-server secup-author [db-url]}")
A=$(realpath "${2:?usage: $0 secup-server secup-author [db-url]}")
DB_URL=${3:-}
if [ "$DB_URL" = pg ]; then
    # a database of its own in the cluster of tests/support/pg-cluster.sh
    [ -n "${SECUP_TEST_PG_URL:-}" ] || { echo "FAIL: no SECUP_TEST_PG_URL (run through pg-cluster.sh exec)"; exit 1; }
    name="secup_server_$$"
    psql -q "$SECUP_TEST_PG_URL" -c "CREATE DATABASE $name" || { echo "FAIL: cannot create database $name"; exit 1; }
    DB_URL=${SECUP_TEST_PG_URL/\/secup_test\?/\/$name?}
fi
SECUP_TEST_NAME=server
# shellcheck source=tests/integration/check.sh
. "$(dirname "$0")/check.sh"
PY=/usr/bin/python3
pid=""
rpid=""
cleanup_procs() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    [ -n "$rpid" ] && kill "$rpid" 2>/dev/null
    true
}
trap 'cleanup_procs; rm -rf "$work"' EXIT

# http NAME EXPECTED-STATUS EXPECTED-CODE-OR-EMPTY curl-args...: the answer's status and,
# for errors, the JSON error name
http() {
    local desc=$1 want=$2 code=$3
    shift 3
    local st
    rm -f resp.body
    st=$(curl -sk -o resp.body -w '%{http_code}' "$@")
    if [ "$st" != "$want" ]; then
        echo "FAIL: $desc: HTTP $st, expected $want"; sed 's/^/    /' resp.body; echo; fail=$((fail + 1)); return
    fi
    if [ -n "$code" ] && ! grep -q "\"error\":\"$code\"" resp.body; then
        echo "FAIL: $desc: no $code in the answer"; sed 's/^/    /' resp.body; echo; fail=$((fail + 1)); return
    fi
    pass=$((pass + 1))
}
json() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

start() {
    rm -f d/server.port
    "$SRV" run d >>server.log 2>&1 &
    pid=$!
    for _ in $(seq 100); do [ -s d/server.port ] && break; sleep 0.05; done
    [ -s d/server.port ] || { echo "server did not start:"; cat server.log; exit 1; }
    U="https://127.0.0.1:$(cat d/server.port)"
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""; }
crash() { kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""; }
state() { # the store as the administrator sees it, for "nothing changed" checks
    "$SRV" admin d image list --all --json | $PY -c "import json,sys; print(sorted((i['id'],i['status']) for i in json.load(sys.stdin)))"
    find d/blobs/sha256 -type f 2>/dev/null | sort
}

# ---- setup ----
if [ -n "$DB_URL" ]; then
    check "init on PostgreSQL" 0 "" "$SRV" init d --listen 127.0.0.1:0 --db "$DB_URL" --id fw1
else
    check "init on SQLite" 0 "" "$SRV" init d --listen 127.0.0.1:0 --id fw1
fi
check "init again refuses" 4 SECUP_E_EXISTS "$SRV" init d
check "init without a directory" 2 "" "$SRV" init
# small limits so that the limit cases are cheap; a scanner that flags "EVIL"
cat > scan.sh <<'EOF'
#!/bin/sh
if grep -q EVIL "$1"; then exit 1; fi
exit 0
EOF
chmod +x scan.sh
$PY - "$PWD" <<'EOF'
import json, sys
p = sys.argv[1] + "/d/server.json"
c = json.load(open(p))
c["limits"]["max-payload"] = 4 * 1024 * 1024
c["limits"]["max-envelope"] = 512 * 1024
c["scanner"] = {"command": [sys.argv[1] + "/scan.sh"], "timeout": 30, "ban-after": 2}
c["http"] = {"timeout": 3}
c["notify"] = {"retry-initial": 1, "retry-max": 2}
json.dump(c, open(p, "w"), indent=2)
EOF

"$A" keygen --alg esp256 --out alice.pem >/dev/null
"$A" keygen --alg ed25519 --out bob.pem >/dev/null
"$A" keygen --alg esp256 --out eve.pem >/dev/null
"$A" keygen --alg x25519 --out dev.pem >/dev/null
ATOK=$("$SRV" admin d author add alice --key alice.pub.pem 2>/dev/null)
BTOK=$("$SRV" admin d author add bob --key bob.pub.pem 2>/dev/null)
check "an Author needs a key" 2 "" "$SRV" admin d author add carol
check "a private key is refused as an Author key" 3 SECUP_E_KEY_FORMAT "$SRV" admin d author add carol --key eve.pem
check "bad principal name" 2 "" "$SRV" admin d author add "../x" --key eve.pub.pem
check "grant alice" 0 "" "$SRV" admin d author grant alice --vendor-domain example.com --class cam-v2
check "grant bob one component" 0 "" "$SRV" admin d author grant bob --vendor-domain example.com --class cam-v2 --component bootloader
check "grant to an unknown Author" 4 SECUP_E_NOENT "$SRV" admin d author grant nobody --vendor-domain example.com
DTOK=$("$SRV" admin d device add cam1 --vendor-domain example.com --class cam-v2 --region eu 2>/dev/null)
D2TOK=$("$SRV" admin d device add cam2 --vendor-domain example.com --class cam-v2 --region us 2>/dev/null)
OTOK=$("$SRV" admin d device add lamp1 --vendor-domain example.com --class lamp 2>/dev/null)
TTOK=$("$SRV" admin d tracker add trk1 2>/dev/null)
check "duplicate device" 4 SECUP_E_EXISTS "$SRV" admin d device add cam1 --vendor-domain example.com --class cam-v2
ok "tokens are printed once, stored hashed" bash -c "[ ${#ATOK} -ge 40 ] && ! grep -rq '$ATOK' d/server.json && ! strings d/server.db 2>/dev/null | grep -q '$ATOK'"
ok "principal list" bash -c "'$SRV' admin d principal list | grep -q '^cam1 .*region eu'"

head -c 300000 /dev/urandom > fw.bin
common=(--vendor-domain example.com --class cam-v2 --uri https://x/fw.bin)
"$A" create --key alice.pem --image fw.bin --seq 10 --version 1.0 "${common[@]}" --out v10.suit >/dev/null
"$A" create --key alice.pem --image fw.bin --seq 9 "${common[@]}" --out v9.suit >/dev/null
"$A" create --key alice.pem --image fw.bin --seq 11 --version 1.1 "${common[@]}" --out v11.suit >/dev/null
"$A" create --key eve.pem --image fw.bin --seq 12 "${common[@]}" --out eve12.suit >/dev/null
"$A" create --key alice.pem --image fw.bin --seq 12 --vendor-domain example.com --class lamp --uri https://x/fw.bin --out lamp.suit >/dev/null
"$A" create --key bob.pem --image fw.bin --seq 12 --component firmware "${common[@]}" --out bob-fw.suit >/dev/null
"$A" create --key bob.pem --image fw.bin --seq 3 --component bootloader "${common[@]}" --out bob-bl.suit >/dev/null
"$A" create --key alice.pem --image fw.bin --seq 13 --integrate --vendor-domain example.com --class cam-v2 --out integ.suit >/dev/null
echo 000102030405060708090a0b0c0d0e0f > kek.hex
"$A" create --key alice.pem --image fw.bin --seq 14 "${common[@]}" --kek kek.hex \
    --kid cam --payload-out fw14.enc --out v14.suit >/dev/null
head -c 5000000 /dev/urandom > big.bin
head -c 2000 /dev/urandom > junk.bin
head -c 600000 /dev/urandom > junk600k.bin
"$A" create --key alice.pem --image big.bin --seq 20 "${common[@]}" --out big.suit >/dev/null
cp fw.bin bad.bin; printf 'X' | dd of=bad.bin bs=1 seek=1000 conv=notrunc status=none
(head -c 100000 fw.bin; echo EVIL; head -c 100000 /dev/urandom) > evil.bin
"$A" create --key alice.pem --image evil.bin --seq 15 "${common[@]}" --out evil15.suit >/dev/null
"$A" create --key alice.pem --image evil.bin --seq 16 "${common[@]}" --out evil16.suit >/dev/null

start
auth=(-H "Authorization: Bearer $ATOK")
dauth=(-H "Authorization: Bearer $DTOK")
sub() { http "$1" "$2" "$3" "${@:4}" -X POST "$U/v1/images"; }

# THREAT: S4
# ---- health, routing, path traversal ----
http "health" 200 "" "$U/v1/health"
http "unknown route" 404 SECUP_E_NOENT "${dauth[@]}" "$U/v1/nothing"
for p in "/v1/images/../../etc/passwd" "/v1/images/%2e%2e/x" "/v1//images" "/v1/images/a%00b" \
         "/v1/images/%c0%ae%c0%ae" "/v1/images/$(head -c 4096 /dev/zero | tr '\0' a)" "/v1/images/x?y#z"; do
    http "path '${p:0:40}' is refused" 400 SECUP_E_HTTP --path-as-is "${dauth[@]}" "$U$p"
done
http "image id that is not hex" 400 SECUP_E_HTTP "${dauth[@]}" "$U/v1/images/abc/manifest"

# THREAT: S5 S6
# ---- authentication on every route ----
ID0=0000000000000000000000000000000000000000000000000000000000000000
for route in "GET /v1/images" "GET /v1/images/$ID0" "GET /v1/images/$ID0/manifest" \
             "GET /v1/images/$ID0/payload" "GET /v1/latest?component=firmware" \
             "POST /v1/images" "POST /v1/subscriptions"; do
    m=${route%% *}; r=${route#* }
    http "$route without a token" 401 SECUP_E_AUTH -X "$m" "$U$r"
    http "$route with a malformed token" 401 SECUP_E_AUTH -X "$m" -H "Authorization: Bearer a b" "$U$r"
    http "$route with Basic auth" 401 SECUP_E_AUTH -X "$m" -H "Authorization: Basic YTpi" "$U$r"
    http "$route with an unknown token" 401 SECUP_E_AUTH -X "$m" -H "Authorization: Bearer xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" "$U$r"
done
http "a device may not submit" 403 SECUP_E_FORBIDDEN -H "Authorization: Bearer $DTOK" -F envelope=@v10.suit -X POST "$U/v1/images"
http "a device may not subscribe" 403 SECUP_E_FORBIDDEN -H "Authorization: Bearer $DTOK" -d '{}' -X POST "$U/v1/subscriptions"
http "an Author may not ask for latest" 403 SECUP_E_FORBIDDEN "${auth[@]}" "$U/v1/latest?component=firmware"

# THREAT: S3 P6
# ---- submissions: refusals leave the store unchanged ----
before=$(state)
sub "not multipart" 400 SECUP_E_HTTP "${auth[@]}" --data-binary @v10.suit
sub "no envelope part" 400 SECUP_E_MISSING "${auth[@]}" -F payload=@fw.bin
sub "unknown part" 400 SECUP_E_HTTP "${auth[@]}" -F envelope=@v10.suit -F other=@fw.bin
sub "garbage envelope" 400 "" "${auth[@]}" -F envelope=@junk.bin
sub "envelope over the limit" 413 SECUP_E_LIMIT_SIZE "${auth[@]}" -F envelope=@junk600k.bin
sub "payload over the limit (declared)" 413 SECUP_E_LIMIT_BODY "${auth[@]}" -F envelope=@big.suit -F payload=@big.bin
sub "payload over the limit (chunked)" 413 SECUP_E_LIMIT_BODY "${auth[@]}" -H "Transfer-Encoding: chunked" -F envelope=@big.suit -F payload=@big.bin
sub "signed by another key" 422 SECUP_E_SIG "${auth[@]}" -F envelope=@eve12.suit -F payload=@fw.bin
sub "class not granted" 403 SECUP_E_FORBIDDEN "${auth[@]}" -F envelope=@lamp.suit -F payload=@fw.bin
sub "component not granted" 403 SECUP_E_FORBIDDEN -H "Authorization: Bearer $BTOK" -F envelope=@bob-fw.suit -F payload=@fw.bin
sub "payload that does not match" 422 SECUP_E_DIGEST "${auth[@]}" -F envelope=@v10.suit -F payload=@bad.bin
sub "payload shorter than declared" 400 SECUP_E_TRUNCATED "${auth[@]}" -F envelope=@v10.suit -F payload=@evil.bin
(cat fw.bin; echo tail) > long.bin
sub "payload longer than declared" 400 SECUP_E_OVERLONG "${auth[@]}" -F envelope=@v10.suit -F payload=@long.bin
sub "payload the manifest does not fetch" 400 SECUP_E_VALUE "${auth[@]}" -F envelope=@integ.suit -F payload=@fw.bin
ok "refused submissions changed nothing" test "$before" = "$(state)"
ok "no temporary files remain" bash -c "[ -z \"\$(ls d/blobs/tmp)\" ]"

# ---- accepted submissions ----
sub "submit seq 10" 201 "" "${auth[@]}" -F envelope=@v10.suit -F payload=@fw.bin
ID10=$(json resp.body "d['id']")
ok "the image id is the manifest digest (64 hex)" bash -c "[[ '$ID10' =~ ^[0-9a-f]{64}$ ]]"
sub "the same again" 409 SECUP_E_ROLLBACK "${auth[@]}" -F envelope=@v10.suit -F payload=@fw.bin
sub "an older sequence number" 409 SECUP_E_ROLLBACK "${auth[@]}" -F envelope=@v9.suit -F payload=@fw.bin
sub "bob's granted component" 201 "" -H "Authorization: Bearer $BTOK" -F envelope=@bob-bl.suit -F payload=@fw.bin
sub "an integrated payload, checked" 201 "" "${auth[@]}" -F envelope=@integ.suit
sub "an encrypted payload (size checked)" 201 "" "${auth[@]}" -F envelope=@v14.suit -F payload=@fw14.enc
ok "the encrypted image is listed as encrypted" bash -c "$SRV admin d image show $(json resp.body "d['id']") | grep -q '\"encrypted\": true'"

# ---- secup-author upload (the Author's client) ----
echo "$ATOK" > atok
app=(--component app --vendor-domain example.com --class cam-v2 --uri https://x/app.bin)
"$A" create --key alice.pem --image fw.bin --seq 17 "${app[@]}" --out v17.suit >/dev/null
"$A" create --key alice.pem --image fw.bin --seq 19 "${app[@]}" --out v19.suit >/dev/null
check "upload without trusting the certificate" 4 SECUP_E_NET "$A" upload --server "$U" --token-file atok v17.suit --payload fw.bin
check "upload with the server's certificate" 0 "" "$A" upload --server "$U" --cacert d/tls/cert.pem --token-file atok v17.suit --payload fw.bin
check "upload refused by the gate: the code comes back" 1 SECUP_E_ROLLBACK "$A" upload --server "$U" --cacert d/tls/cert.pem --token-file atok v17.suit --payload fw.bin
check "upload of a tampered payload" 1 SECUP_E_DIGEST "$A" upload --server "$U" --cacert d/tls/cert.pem --token "$ATOK" v19.suit --payload bad.bin
check "upload with a wrong token" 1 SECUP_E_AUTH "$A" upload --server "$U" --cacert d/tls/cert.pem --token xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx v11.suit --payload fw.bin
ok "upload --json prints the record" bash -c "'$A' upload --server '$U' --insecure --token-file atok --json v19.suit --payload fw.bin | $PY -c 'import json,sys; assert json.load(sys.stdin)[\"sequence\"] == 19'"

# ---- distribution ----
ID14=$(json resp.body "d['id']")
http "latest for cam1" 200 "" "${dauth[@]}" -D hdr.txt "$U/v1/latest?component=firmware"
ok "latest is the newest sequence" test "$(json resp.body "d['sequence']")" = 14
ENCPROF=$(json resp.body "d['profile']")
http "latest of the plain profile" 200 "" "${dauth[@]}" "$U/v1/latest?component=firmware&profile=suit-sha256-esp256"
ok "the plain variant is picked by its profile" test "$(json resp.body "d['sequence']")" = 13
http "latest of the encrypted profile" 200 "" "${dauth[@]}" "$U/v1/latest?component=firmware&profile=$ENCPROF"
ok "the encrypted variant is picked by its profile" test "$(json resp.body "d['sequence']")" = 14
http "latest of a profile nobody published" 404 SECUP_E_NOENT "${dauth[@]}" "$U/v1/latest?component=firmware&profile=suit-sha256-eddsa"
http "latest with a malformed profile" 400 SECUP_E_HTTP "${dauth[@]}" "$U/v1/latest?component=firmware&profile=a/b"
http "latest again for the ETag" 200 "" "${dauth[@]}" -D hdr.txt "$U/v1/latest?component=firmware"
ETAG=$(awk -F': ' 'tolower($1)=="etag" {gsub(/\r/,"",$2); print $2}' hdr.txt)
http "latest unchanged: 304" 304 "" "${dauth[@]}" -H "If-None-Match: $ETAG" "$U/v1/latest?component=firmware"
ok "a 304 has no body" test ! -s resp.body
http "latest for another class" 403 SECUP_E_FORBIDDEN "${dauth[@]}" "$U/v1/latest?component=firmware&class=00112233445566778899aabbccddeeff"
http "latest without component" 400 SECUP_E_HTTP "${dauth[@]}" "$U/v1/latest"
CLASS=$($PY -c 'import uuid; print(uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_DNS, "example.com"), "cam-v2"))')
http "latest for a tracker (class as a UUID)" 200 "" -H "Authorization: Bearer $TTOK" "$U/v1/latest?component=firmware&class=$CLASS"
http "a tracker must name the class" 400 SECUP_E_HTTP -H "Authorization: Bearer $TTOK" "$U/v1/latest?component=firmware"
http "manifest" 200 "" "${dauth[@]}" "$U/v1/images/$ID10/manifest"
ok "the manifest is the envelope" cmp -s resp.body v10.suit
http "payload" 200 "" "${dauth[@]}" -D hdr.txt "$U/v1/images/$ID10/payload"
ok "the payload is the image" cmp -s resp.body fw.bin
PET=$(awk -F': ' 'tolower($1)=="etag" {gsub(/\r/,"",$2); print $2}' hdr.txt)
http "payload not modified" 304 "" "${dauth[@]}" -H "If-None-Match: $PET" "$U/v1/images/$ID10/payload"
http "payload range (resume)" 206 "" "${dauth[@]}" -r 1000- "$U/v1/images/$ID10/payload"
ok "the range is the rest of the image" cmp -s resp.body <(tail -c +1001 fw.bin)
http "payload suffix range" 206 "" "${dauth[@]}" -r -16 "$U/v1/images/$ID10/payload"
ok "the suffix is the last 16 bytes" cmp -s resp.body <(tail -c 16 fw.bin)
http "unsatisfiable range" 416 "" "${dauth[@]}" -r 999999999- "$U/v1/images/$ID10/payload"
http "a device of another class" 403 SECUP_E_FORBIDDEN -H "Authorization: Bearer $OTOK" "$U/v1/images/$ID10/payload"
http "an unknown image" 404 SECUP_E_NOENT "${dauth[@]}" "$U/v1/images/$ID0/payload"
http "an Author reads its own image" 200 "" "${auth[@]}" "$U/v1/images/$ID10"
http "another Author does not" 403 SECUP_E_FORBIDDEN -H "Authorization: Bearer $BTOK" "$U/v1/images/$ID10"
http "an Author may not download payloads" 403 SECUP_E_FORBIDDEN "${auth[@]}" "$U/v1/images/$ID10/payload"
http "list for a device" 200 "" "${dauth[@]}" "$U/v1/images?component=firmware"
ok "the list holds the device's class only" test "$(json resp.body "len(d['images'])")" = 3
http "list with a bad filter" 400 SECUP_E_HTTP "${dauth[@]}" "$U/v1/images?class=zz"

# ---- location policy ----
check "deny region eu" 0 "" "$SRV" admin d image policy "$ID10" --deny-regions eu,cn
http "cam1 (eu) is refused" 451 SECUP_E_LOCATION "${dauth[@]}" "$U/v1/images/$ID10/payload"
http "cam2 (us) is served" 200 "" -H "Authorization: Bearer $D2TOK" "$U/v1/images/$ID10/payload"
check "allow only 10.0.0.0/8" 0 "" "$SRV" admin d image policy "$ID10" --deny-regions "" --allow-nets 10.0.0.0/8
http "loopback is outside 10/8" 451 SECUP_E_LOCATION "${dauth[@]}" "$U/v1/images/$ID10/manifest"
check "allow loopback" 0 "" "$SRV" admin d image policy "$ID10" --allow-nets 10.0.0.0/8,127.0.0.0/8
http "loopback is inside" 200 "" "${dauth[@]}" "$U/v1/images/$ID10/manifest"
check "deny loopback" 0 "" "$SRV" admin d image policy "$ID10" --allow-nets "" --deny-nets 127.0.0.1/32
http "denied network" 451 SECUP_E_LOCATION "${dauth[@]}" "$U/v1/images/$ID10/manifest"
check "clear the policy" 0 "" "$SRV" admin d image policy "$ID10" --deny-nets ""

# ---- quarantine and removal ----
check "quarantine" 0 "" "$SRV" admin d image quarantine "$ID14" --reason "reported by a customer"
http "a quarantined image is not served" 410 SECUP_E_QUARANTINED "${dauth[@]}" "$U/v1/images/$ID14/payload"
http "latest skips it" 200 "" "${dauth[@]}" "$U/v1/latest?component=firmware"
ok "latest falls back to 13" test "$(json resp.body "d['sequence']")" = 13
http "and has none of its profile" 404 SECUP_E_NOENT "${dauth[@]}" "$U/v1/latest?component=firmware&profile=$ENCPROF"
check "release" 0 "" "$SRV" admin d image release "$ID14"
http "served again" 200 "" "${dauth[@]}" "$U/v1/images/$ID14/payload"
check "quarantine an unknown image" 4 SECUP_E_NOENT "$SRV" admin d image quarantine "$ID0"

# ---- the scanner and bans ----
sub "flagged by the scanner" 422 SECUP_E_FLAGGED "${auth[@]}" -F envelope=@evil15.suit -F payload=@evil.bin
ok "the flagged image is kept quarantined" bash -c "$SRV admin d image list --all | grep -q quarantined"
sub "flagged again: the Author is banned" 422 SECUP_E_FLAGGED "${auth[@]}" -F envelope=@evil16.suit -F payload=@evil.bin
sub "a banned Author" 403 SECUP_E_BANNED "${auth[@]}" -F envelope=@v11.suit -F payload=@fw.bin
ok "the ban is recorded" bash -c "$SRV admin d events --json | grep -q '\"action\": \"ban\"'"
check "unban" 0 "" "$SRV" admin d author unban alice
# after the unban the gate judges the package again: 11 is older than 14
sub "after unban: judged, not banned" 409 SECUP_E_ROLLBACK "${auth[@]}" -F envelope=@v11.suit -F payload=@fw.bin

# ---- subscriptions and signed notifications ----
mkdir -p inbox
$PY - inbox > recv.port 2>recv.log <<'EOF' &
import http.server, sys, os
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        i = len(os.listdir(d))
        open(os.path.join(d, "n%d" % i), "wb").write(body)
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
rpid=$!
for _ in $(seq 50); do [ -s recv.port ] && break; sleep 0.05; done
RU="http://127.0.0.1:$(cat recv.port)/notify"
http "subscribe" 201 "" -H "Authorization: Bearer $TTOK" -H 'Content-Type: application/json' \
    -d "{\"url\": \"$RU\", \"class\": \"*\"}" -X POST "$U/v1/subscriptions"
http "subscribe twice" 409 SECUP_E_EXISTS -H "Authorization: Bearer $TTOK" -d "{\"url\": \"$RU\", \"class\": \"*\"}" -X POST "$U/v1/subscriptions"
http "subscription with a bad url" 400 SECUP_E_JSON -H "Authorization: Bearer $TTOK" -d '{"url": "ftp://x"}' -X POST "$U/v1/subscriptions"
http "subscription with an unknown key" 400 SECUP_E_JSON -H "Authorization: Bearer $TTOK" -d '{"url": "http://x", "x": 1}' -X POST "$U/v1/subscriptions"
http "subscription body not JSON" 400 SECUP_E_JSON -H "Authorization: Bearer $TTOK" -d 'nope' -X POST "$U/v1/subscriptions"
"$A" create --key alice.pem --image fw.bin --seq 30 "${common[@]}" --out v30.suit >/dev/null
sub "a new image after the subscription" 201 "" "${auth[@]}" -F envelope=@v30.suit -F payload=@fw.bin
ID30=$(json resp.body "d['id']")
for _ in $(seq 100); do [ -s inbox/n0 ] && break; sleep 0.05; done
ok "the tracker got a notification" test -s inbox/n0
ok "it is a COSE_Sign1 (tag 18) naming the image" $PY -c "
import sys, cbor2
m = cbor2.loads(open('inbox/n0','rb').read())
assert m.tag == 18
p = cbor2.loads(m.value[2])
assert p[2] == 'fw1' and p[8] == 30 and p[10][1].hex() == '$ID30', p
"

# ---- history ----
ok "downloads are recorded per device" bash -c "$SRV admin d history --device cam1 --json | grep -q '\"what\": \"payload\"'"
ok "cam1 fetched an image that is now obsolete" bash -c "$SRV admin d obsolete --json | grep -q cam1"

# THREAT: F14
# ---- kill -9: nothing acknowledged is lost, nothing half-written is published ----
crash
start
http "after kill -9 the accepted image is served" 200 "" "${dauth[@]}" "$U/v1/images/$ID30/payload"
ok "intact" cmp -s resp.body fw.bin
"$A" create --key alice.pem --image fw.bin --seq 31 "${common[@]}" --out v31.suit >/dev/null
before=$(state)
curl -sk --limit-rate 50k -o /dev/null "${auth[@]}" -F envelope=@v31.suit -F payload=@fw.bin -X POST "$U/v1/images" &
cpid=$!
sleep 1
crash
wait "$cpid" 2>/dev/null
ok "an upload cut by kill -9 published nothing" test "$before" = "$(state)"
ok "every stored blob matches its address" bash -c 'for f in $(find d/blobs/sha256 -type f); do [ "$(sha256sum "$f" | cut -c1-64)" = "$(basename "$f")" ] || exit 1; done'
start
sub "the same upload afterwards" 201 "" "${auth[@]}" -F envelope=@v31.suit -F payload=@fw.bin

# THREAT: S1 S2 U6
# ---- slow clients are cut off while others are served ----
$PY - "$(cat d/server.port)" > slow.out 2>&1 <<'EOF' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
start = time.time()
try:
    s.send(b"GET /v1/health HTTP/1.1\r\n")
    for i in range(60):
        time.sleep(1)
        s.send(b"X-Slow: 1\r\n")
    print("still open after 60 s")
except OSError:
    print("closed after %.0f s" % (time.time() - start))
EOF
spid=$!
sleep 0.5
http "a normal client is served meanwhile" 200 "" "$U/v1/health"
wait "$spid"
ok "the slow-header client was closed" grep -q "^closed" slow.out

# ---- notifications are retried with back-off until the tracker takes them ----
mkdir -p inbox2
$PY - inbox2 > recv2.port 2>recv2.log <<'EOF' &
import http.server, sys, os
d = sys.argv[1]
seen = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        seen[0] += 1
        open(os.path.join(d, "attempt%d" % seen[0]), "wb").write(body)
        self.send_response(503 if seen[0] <= 2 else 204); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
rpid2=$!
for _ in $(seq 50); do [ -s recv2.port ] && break; sleep 0.05; done
http "subscribe a tracker that is down at first" 201 "" -H "Authorization: Bearer $TTOK" \
    -d "{\"url\": \"http://127.0.0.1:$(cat recv2.port)/n\"}" -X POST "$U/v1/subscriptions"
"$A" create --key alice.pem --image fw.bin --seq 32 "${common[@]}" --out v32.suit >/dev/null
sub "an image while the tracker refuses" 201 "" "${auth[@]}" -F envelope=@v32.suit -F payload=@fw.bin
for _ in $(seq 200); do [ -s inbox2/attempt3 ] && break; sleep 0.05; done
ok "delivered at the third attempt, after two refusals" test -s inbox2/attempt3
ok "every attempt carried the same signed notification" cmp -s inbox2/attempt1 inbox2/attempt3
ok "the failures were logged" grep -q "failed (attempt 2)" server.log
kill "$rpid2" 2>/dev/null

# ---- a tracker that refuses a notification for good (4xx) is not asked again; 429 is ----
mkdir -p inbox3
$PY - inbox3 > recv3.port 2>recv3.log <<'EOF' &
import http.server, sys, os
d = sys.argv[1]
seen = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        seen[0] += 1
        open(os.path.join(d, "%s%d" % (self.path.strip("/"), seen[0])), "wb").close()
        if self.path == "/busy":
            self.send_response(429); self.end_headers(); return
        body = b'{"error": "SECUP_E_UNTRUSTED", "message": "no trusted Author"}'
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
rpid3=$!
for _ in $(seq 50); do [ -s recv3.port ] && break; sleep 0.05; done
http "subscribe a tracker that refuses" 201 "" -H "Authorization: Bearer $TTOK" \
    -d "{\"url\": \"http://127.0.0.1:$(cat recv3.port)/refuse\"}" -X POST "$U/v1/subscriptions"
http "subscribe a tracker that is busy" 201 "" -H "Authorization: Bearer $TTOK" \
    -d "{\"url\": \"http://127.0.0.1:$(cat recv3.port)/busy\"}" -X POST "$U/v1/subscriptions"
"$A" create --key alice.pem --image fw.bin --seq 33 "${common[@]}" --out v33.suit >/dev/null
sub "an image for the refusing tracker" 201 "" "${auth[@]}" -F envelope=@v33.suit -F payload=@fw.bin
for _ in $(seq 300); do
    grep -q "refused for good" server.log && [ "$(ls inbox3 | grep -c busy)" -ge 3 ] && break
    sleep 0.05
done
ok "a 403 is logged as refused for good, with the tracker's reason" \
    grep -q "refused for good (attempt 1), not retried: HTTP 403 .*SECUP_E_UNTRUSTED" server.log
ok "a 429 is retried (three attempts seen)" test "$(ls inbox3 | grep -c busy)" -ge 3
sleep 3 # the retry interval is 1-2 s here: a retried refusal would have come back by now
ok "the refused notification was sent once" test "$(ls inbox3 | grep -c refuse)" -eq 1
kill "$rpid3" 2>/dev/null

# ---- mutual TLS: a device authenticated by its client certificate ----
stop
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=cam3 \
    -keyout cam3.key -out cam3.crt 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=cam3 \
    -keyout rogue.key -out rogue.crt 2>/dev/null
FP=$(openssl x509 -in cam3.crt -outform DER | sha256sum | cut -c1-64)
check "register a device by its certificate" 0 "" "$SRV" admin d device add cam3 --vendor-domain example.com --class cam-v2 --cert-sha256 "$FP"
check "a malformed fingerprint" 2 "" "$SRV" admin d device add cam4 --vendor-domain example.com --class cam-v2 --cert-sha256 xyz
$PY - "$PWD" <<'EOF'
import json, sys
p = sys.argv[1] + "/d/server.json"
c = json.load(open(p))
c["tls"]["client-ca"] = sys.argv[1] + "/cam3.crt"
json.dump(c, open(p, "w"), indent=2)
EOF
start
http "latest with the device's client certificate" 200 "" --cert cam3.crt --key cam3.key "$U/v1/latest?component=firmware"
http "a certificate no CA vouches for" 401 SECUP_E_AUTH --cert rogue.crt --key rogue.key "$U/v1/latest?component=firmware"
http "bearer tokens still work beside client certificates" 200 "" "${dauth[@]}" "$U/v1/latest?component=firmware"
stop

# THREAT: F8 S3
# ---- a full disk and a storage quota: a clear error, nothing lost ----
if [ "$(id -u)" = 0 ] && mkdir -p small && "$SRV" init small/s --listen 127.0.0.1:0 >/dev/null 2>&1 &&
   mount -t tmpfs -o size=1500k tmpfs small/s/blobs 2>/dev/null; then
    trap 'cleanup_procs; umount "$work/small/s/blobs" 2>/dev/null; rm -rf "$work"' EXIT
    S2TOK=$("$SRV" admin small/s author add alice --key alice.pub.pem 2>/dev/null)
    "$SRV" admin small/s author grant alice --vendor-domain example.com >/dev/null 2>&1
    head -c 600000 /dev/urandom > p600k.bin
    head -c 1200000 /dev/urandom > p1200k.bin
    "$A" create --key alice.pem --image p600k.bin --seq 1 "${common[@]}" --out s1.suit >/dev/null
    "$A" create --key alice.pem --image p1200k.bin --seq 2 "${common[@]}" --out s2.suit >/dev/null
    start2() {
        rm -f small/s/server.port
        "$SRV" run small/s >>server2.log 2>&1 &
        pid2=$!
        for _ in $(seq 100); do [ -s small/s/server.port ] && break; sleep 0.05; done
        U2="https://127.0.0.1:$(cat small/s/server.port)"
    }
    start2
    http "a first image fits" 201 "" -H "Authorization: Bearer $S2TOK" -F envelope=@s1.suit -F payload=@p600k.bin -X POST "$U2/v1/images"
    S1=$(json resp.body "d['id']")
    http "the disk fills up: 507" 507 SECUP_E_NOSPACE -H "Authorization: Bearer $S2TOK" -F envelope=@s2.suit -F payload=@p1200k.bin -X POST "$U2/v1/images"
    ok "no temporary file is left on the full disk" test -z "$(ls small/s/blobs/tmp)"
    ok "every stored blob is intact" bash -c 'for f in small/s/blobs/sha256/*/*; do [ "$(sha256sum "$f" | cut -c1-64)" = "$(basename "$f")" ] || exit 1; done'
    ok "the first image is still listed" bash -c "'$SRV' admin small/s image list | grep -q '^${S1:0:16}'"
    kill "$pid2"; wait "$pid2" 2>/dev/null
    $PY - "$PWD" <<'EOF'
import json, sys
p = sys.argv[1] + "/small/s/server.json"
c = json.load(open(p))
c["limits"]["storage-quota"] = 700000
json.dump(c, open(p, "w"), indent=2)
EOF
    start2
    "$A" create --key alice.pem --image fw.bin --seq 3 "${common[@]}" --out s3.suit >/dev/null
    http "over the storage quota: 507" 507 SECUP_E_NOSPACE -H "Authorization: Bearer $S2TOK" -F envelope=@s3.suit -F payload=@fw.bin -X POST "$U2/v1/images"
    ok "the quota is named" grep -q "storage quota" resp.body
    kill "$pid2"; wait "$pid2" 2>/dev/null
    umount small/s/blobs
else
    echo "note: not root or no tmpfs: the full-disk and quota cases were not run"
fi

check "admin on a missing directory" 4 "" "$SRV" admin nowhere image list
check "admin with an unknown command" 2 "" "$SRV" admin d frobnicate
check "run with a broken configuration" 3 SECUP_E_JSON bash -c "echo '{' > bad.json; mkdir -p b; cp bad.json b/server.json; '$SRV' run b"
echo "server ($([ -n "$DB_URL" ] && echo PostgreSQL || echo SQLite)): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
