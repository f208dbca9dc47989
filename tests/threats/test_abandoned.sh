#!/usr/bin/env bash
# THREATS.md F14, the Firmware Server killed (kill -9) during a multipart upload: after a
# restart the image is absent (nothing half-written published), the abandoned temporary
# upload is removed once it is older than limits.upload-expiry (3 s here; docs/server.md),
# an upload that is slow but alive is not removed under it, and the server's log says what it
# removed. (Kills during submissions, with nothing acknowledged lost, are in
# tests/integration/test_server.sh and tests/powercut.)
# Usage: test_abandoned.sh secup-server secup-author
set -u
SRV=$(realpath "${1:?usage: $0 secup-server secup-author}")
A=$(realpath "${2:?}")
HERE=$(cd "$(dirname "$0")" && pwd)
SECUP_TEST_NAME=threats-abandoned
# shellcheck source=tests/integration/check.sh
. "$HERE/../integration/check.sh"
PY=/usr/bin/python3
spid=""
cpid=""
trap '[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; [ -n "$cpid" ] && kill "$cpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
start_server() {
    rm -f s/server.port
    "$SRV" run s >/dev/null 2>>s.log &
    spid=$!
    for _ in $(seq 200); do [ -s s/server.port ] && break; sleep 0.05; done
    SU="https://127.0.0.1:$(cat s/server.port)"
}
temps() { find s/blobs/tmp -name 'up-*' 2>/dev/null | wc -l; }
has_temp() { [ "$(temps)" -gt 0 ] && [ -n "$(find s/blobs/tmp -name 'up-*' -size +0 2>/dev/null)" ]; }
no_temp() { [ "$(temps)" -eq 0 ]; }

"$SRV" init s --listen 127.0.0.1:0 --id fw1 >/dev/null 2>&1 || { echo "FAIL: server init"; exit 1; }
$PY - s/server.json <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); c.setdefault("limits", {})["upload-expiry"] = 3
json.dump(c, open(sys.argv[1], "w"), indent=2)
EOF
"$A" keygen --alg esp256 --out alice.pem >/dev/null
ATOK=$("$SRV" admin s author add alice --key alice.pub.pem 2>/dev/null)
"$SRV" admin s author grant alice --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
start_server
head -c 3000000 /dev/urandom > fw.bin
"$A" create -q --key alice.pem --image fw.bin --seq 1 --vendor-domain example.com --class cam-v2 --uri https://x/fw.bin --out v1.suit
EID=$("$A" inspect v1.suit --json | $PY -c "import json,sys; print(json.load(sys.stdin)['authentication']['digest']['value'])")
PID=$(sha256sum fw.bin | cut -d' ' -f1)

# THREAT: F14
# ---- kill -9 in the middle of a multipart upload ----
curl -sk -o /dev/null --limit-rate 200k -H "Authorization: Bearer $ATOK" -F "envelope=@v1.suit" -F "payload=@fw.bin" \
    -X POST "$SU/v1/images" &
cpid=$!
ok "F14 the upload is under way: a temporary file in blobs/tmp" waitfor 30 has_temp
kill -9 "$spid"
wait "$spid" 2>/dev/null
kill "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
cpid=""
ok "F14 the server killed mid-upload leaves its temporary file behind" has_temp
ok "F14 ... and no blob of the payload" [ -z "$(find s/blobs/sha256 -type f 2>/dev/null)" ]
start_server
ok "F14 after the restart the image is absent (404)" [ "$(curl -sk -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $ATOK" "$SU/v1/images/$EID")" = 404 ]
ok "F14 the abandoned upload is removed once older than upload-expiry (3 s)" waitfor 20 no_temp
ok "F14 the server's log says so" grep -q "removed 1 abandoned upload(s) older than 3 s" s.log

# ---- a slow upload that is alive is not removed under it ----
code=$(curl -sk -o up.out -w '%{http_code}' --limit-rate 400k -H "Authorization: Bearer $ATOK" \
    -F "envelope=@v1.suit" -F "payload=@fw.bin" -X POST "$SU/v1/images")
ok "F14 an upload slower than upload-expiry but alive completes (HTTP $code)" [ "$code" = 201 ]
ok "F14 ... its image is the one the restarted server did not have (id $EID)" \
    [ "$($PY -c "import json; print(json.load(open('up.out'))['id'])")" = "$EID" ]
ok "F14 ... published: its record answers now" [ "$(curl -sk -o /dev/null -w '%{http_code}' \
    -H "Authorization: Bearer $ATOK" "$SU/v1/images/$EID")" = 200 ]
ok "F14 ... its payload blob is complete" cmp -s fw.bin "s/blobs/sha256/${PID:0:2}/$PID"
ok "F14 ... and nothing is left in blobs/tmp" no_temp
kill -TERM "$spid"
wait "$spid"
ok "F14 the server stops cleanly (exit $?)" [ $? -eq 0 ]
spid=""

echo "threats abandoned: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
