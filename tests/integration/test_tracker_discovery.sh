#!/usr/bin/env bash
# secup-tracker discovery over real HTTPS (issue [tracker], discovery and judgement): a
# tracker learns of manifests from a consumer's report of an unknown sequence, by polling
# a real secup-server with conditional requests (ETag / 304), and from signed requests
# (secup-author request); it believes a manifest only once it verified the Author's
# signature itself; and it picks for each consumer the variant whose profile and size fit.
# Runs against SQLite and, given "pg", PostgreSQL.
# Usage: test_tracker_discovery.sh secup-tracker secup-server secup-author [pg]
set -u
TRK=$(realpath "${1:?usage: $0 secup-tracker secup-server secup-author [pg]}")
SRV=$(realpath "${2:?}")
A=$(realpath "${3:?}")
DB_URL=${4:-}
SECUP_TEST_NAME=tracker-discovery
SG=$(dirname "$(realpath "$0")")/statusgen.py
# shellcheck source=tests/integration/check.sh
. "$(dirname "$0")/check.sh"
# shellcheck source=tests/integration/tracker_env.sh
. "$(dirname "$0")/tracker_env.sh"

manifests() { # python expression over the list m of known manifests
    "$TRK" admin t manifest list --json | $PY -c "import json,sys; m=json.load(sys.stdin); print($1)"
}
show() { "$TRK" admin t consumer show "$1" --json | $PY -c "import json,sys; d=json.load(sys.stdin); print($2)"; }

# ---- a server with three Authors: alice (ESP256) and bob (Ed25519), whom the tracker
# trusts, and mallory, whom the server accepts but the tracker does not ----
"$A" keygen --alg esp256 --out alice.pem >/dev/null
"$A" keygen --alg ed25519 --out bob.pem >/dev/null
"$A" keygen --alg esp256 --out mallory.pem >/dev/null
"$A" keygen --alg esp256 --out ops.pem >/dev/null
"$A" keygen --alg esp256 --out rogue.pem >/dev/null
"$SRV" init s --listen 127.0.0.1:0 --id fw1 >/dev/null 2>&1
for a in alice bob mallory; do
    "$SRV" admin s author add $a --key $a.pub.pem 2>/dev/null > $a.token
    "$SRV" admin s author grant $a --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
done
"$SRV" admin s tracker add trk1 2>/dev/null > trk1.srvtoken
setjson s/server.json "c['notify'] = {'retry-initial': 1, 'retry-max': 2, 'ca-file': '$PWD/t/tls/cert.pem'}"
"$SRV" run s 2>server.log &
spid=$!
for _ in $(seq 100); do [ -s s/server.port ] && break; sleep 0.05; done
SU="https://127.0.0.1:$(cat s/server.port)"
upload() { # author seq image out.suit
    "$A" create -q --key "$1.pem" --image "$3" --seq "$2" --vendor-domain example.com --class cam-v2 \
        --uri "https://x/$4.bin" --out "$4" &&
        "$A" upload --server "$SU" --insecure --token "$(cat "$1.token")" --quiet "$4" --payload "$3" >/dev/null
}
image_id() { # the server's image id of sequence seq and profile
    curl -sk -H "Authorization: Bearer $(cat trk1.srvtoken)" \
        "$SU/v1/images?vendor=$VENDOR&class=$CLASS&component=firmware" |
        $PY -c "import json,sys; print([i['id'] for i in json.load(sys.stdin)['images'] if i['sequence']==$1 and i['profile']=='$2'][0])"
}

# ---- the tracker: it trusts alice and bob, knows fw1 with its URL; polling off at first ----
if [ -n "$DB_URL" ]; then
    check "tracker init on PostgreSQL" 0 "" "$TRK" init t --listen 127.0.0.1:0 --db "$DB_URL" --id trk1
else
    check "tracker init" 0 "" "$TRK" init t --listen 127.0.0.1:0 --id trk1
fi
setjson t/tracker.json "c['trust'] = ['$PWD/alice.pub.pem', '$PWD/bob.pub.pem']; c['server'] = {'token-file': '$PWD/trk1.srvtoken', 'ca-file': '$PWD/s/tls/cert.pem', 'poll-interval': 0}"
check "a server URL must be http(s)" 2 SECUP_E_USAGE "$TRK" admin t server add fw1 --key s/server-key.pub.pem --url ftp://x
check "fw1, polled at its URL" 0 "" "$TRK" admin t server add fw1 --key s/server-key.pub.pem --url "$SU"
check "a requester: ops" 0 "" "$TRK" admin t requester add ops --pub ops.pub.pem
check "a requester with a private key is refused" 3 SECUP_E_KEY_FORMAT "$TRK" admin t requester add eve --pub rogue.pem
check "the same requester twice" 4 SECUP_E_EXISTS "$TRK" admin t requester add ops --pub ops.pub.pem
setjson t/tracker.json "c['server']['poll-interval'] = -1"
check "a negative poll-interval is refused" 3 "" "$TRK" run t
setjson t/tracker.json "c['server']['poll-interval'] = 0"
start_tracker

# ---- consumers with profiles and slot sizes ----
ETOK=$("$TRK" admin t enrolment add --vendor-domain example.com --class cam-v2 --uses 10 2>/dev/null)
declare -A TOK CNT
enrol() { # id profiles-python-list slot-size
    $PY "$SG" key "$1.pem"
    $PY -c "import json,sys; print(json.dumps({'id': sys.argv[1], 'key': open(sys.argv[2]).read(), 'profiles': $2, 'slot-size': int(sys.argv[3])}))" \
        "$1" "$1.pub.pem" "$3" > "reg-$1.json"
    http "register $1" 201 "" -H "Authorization: Bearer $ETOK" --data-binary @"reg-$1.json" "$TU/v1/register"
    TOK[$1]=$(json resp.body "d['token']")
    CNT[$1]=0
}
rep() { # consumer seq: a signed report of component "firmware" at seq
    CNT[$1]=$((CNT[$1] + 1))
    $PY "$SG" report "$1.pem" "$1" "${CNT[$1]}" "$2" > rep.cose
    http "$1 reports sequence $2" 200 "" -H "Authorization: Bearer ${TOK[$1]}" --data-binary @rep.cose "$TU/v1/status"
}
poll() { # consumer: "action counter seq rollout id" of its command
    curl -sk -o "$1.cmd" -H "Authorization: Bearer ${TOK[$1]}" "$TU/v1/commands?wait=0"
    $PY "$SG" command "$1.cmd"
}
digest_of() { # command file: the manifest digest it names
    $PY -c "import cbor2,sys; c=cbor2.loads(cbor2.loads(open(sys.argv[1],'rb').read()).value[2]); print(c[10][1].hex() if 10 in c else '-')" "$1"
}
enrol c1 "['suit-sha256-esp256']" 300000
enrol c2 "['suit-sha256-eddsa']" 300000
enrol c3 "[]" 100000
enrol c4 "['suit-sha256-hmac']" 300000
VENDOR=$(json resp.body "d['vendor']")
CLASS=$(json resp.body "d['class']")

# ---- 1. discovery from a consumer's report ----
rep c1 1
ok "a report of a sequence the servers do not have: looked for, not believed" \
    waitfor 10 grep -q "consumer 'c1': no verified manifest of sequence 1 of firmware found; not believed" tracker.log
ok "and nothing is learnt from the report alone" test "$(manifests 'len(m)')" = 0
head -c 200000 /dev/urandom > img2.bin
ok "mallory uploads sequence 2 (the server accepts it)" upload mallory 2 img2.bin m2.suit
rep c1 2
ok "c1 claims sequence 2: the tracker fetches mallory's manifest and refuses it" \
    waitfor 10 grep -q "report 'fw1': image .* not adopted: manifest at .* \[SECUP_E_" tracker.log
ok "the unverified manifest is not believed" \
    waitfor 10 grep -q "consumer 'c1': no verified manifest of sequence 2 of firmware found; not believed" tracker.log
ok "still no manifest known" test "$(manifests 'len(m)')" = 0
head -c 200000 /dev/urandom > img3.bin
ok "alice uploads sequence 3" upload alice 3 img3.bin a3.suit
rep c1 3
ok "c1 reports sequence 3: found on fw1 and verified by the tracker" \
    waitfor 10 grep -q "report 'fw1': learnt sequence 3 (suit-sha256-esp256, 200000 bytes" tracker.log
ok "sequence 3 is known, with its profile" test "$(manifests "[(x['sequence'], x['server']) for x in m]")" = "[(3, 'fw1')]"
ok "c1 is up to date" test "$(show c1 "d['state']")" = up-to-date
ok "a report of a known sequence starts no search" \
    test "$(grep -c "consumer 'c1' reports sequence 3" tracker.log)" = 1

# ---- 2. polling with conditional requests ----
stop_tracker
setjson t/tracker.json "c['server']['poll-interval'] = 1"
start_tracker
for c in c2 c3 c4; do rep $c 3; done
head -c 200000 /dev/urandom > img4.bin
ok "alice uploads sequence 4 (ESP256)" upload alice 4 img4.bin a4.suit
ok "bob uploads its Ed25519 variant of sequence 4" upload bob 4 img4.bin b4.suit
ok "the tracker learns both variants by polling" \
    waitfor 15 bash -c "test \"\$('$TRK' admin t manifest list --json | $PY -c \"import json,sys; print(sorted(x.get('profile','') for x in json.load(sys.stdin) if x['sequence']==4))\")\" = \"['suit-sha256-eddsa', 'suit-sha256-esp256']\""
ok "the log says what was learnt, and from where" grep -q "poll 'fw1': learnt sequence 4 (suit-sha256-eddsa, 200000 bytes" tracker.log
ok "an unchanged answer is a 304: later polls cost nothing" \
    waitfor 10 grep -Eq "polled 1 server\(s\): [0-9]+ question\(s\), [1-9][0-9]* unchanged \(304\), 0 manifest\(s\) learnt" tracker.log
ok "mallory's sequence 2 was never adopted by polling either" test "$(manifests "[x for x in m if x['sequence']==2]")" = "[]"
D4A=$(manifests "[x['digest'] for x in m if x['sequence']==4 and x['profile']=='suit-sha256-esp256'][0]")
D4B=$(manifests "[x['digest'] for x in m if x['sequence']==4 and x['profile']=='suit-sha256-eddsa'][0]")

# ---- 4. variant choice ----
ok "c1 (ESP256, 300000-byte slot) is told to install the ESP256 variant" test "$(poll c1 | cut -d' ' -f1,3)" = "1 4"
ok "its digest is alice's" test "$(digest_of c1.cmd)" = "$D4A"
ok "c2 (Ed25519) gets bob's variant" test "$(poll c2 | cut -d' ' -f1,3)" = "1 4"
ok "its digest is bob's" test "$(digest_of c2.cmd)" = "$D4B"
ok "c3 (100000-byte slot): nothing fits, nothing to do" test "$(poll c3 | cut -d' ' -f1)" = 2
ok "c3's state says why" test "$(show c3 "d['state']")" = no-variant
ok "the image does not fit its slot" bash -c "'$TRK' admin t consumer show c3 --json | grep -q 'does not fit the 100000-byte slot'"
ok "c4 (HMAC profile only): nothing to do" test "$(poll c4 | cut -d' ' -f1)" = 2
ok "c4's hold names the profile" bash -c "'$TRK' admin t consumer show c4 --json | grep -q 'is not one the consumer declared'"
ok "listed by the new state" bash -c "'$TRK' admin t consumer list --state no-variant | grep -c '^c[34] ' | grep -qx 2"

# ---- 3. signed requests ----
stop_tracker
setjson t/tracker.json "c['server']['poll-interval'] = 0"
start_tracker
head -c 200000 /dev/urandom > img5.bin
ok "alice uploads sequence 5 (the tracker does not poll now)" upload alice 5 img5.bin a5.suit
I5=$(image_id 5 suit-sha256-esp256)
I2=$(image_id 2 suit-sha256-esp256)
U5="$SU/v1/images/$I5/manifest"
req() { # out key id tracker uri manifest counter [ttl]
    "$A" request --key "$2" --id "$3" --tracker "$4" --uri "$5" --manifest "$6" --counter "$7" --ttl "${8:-600}" --out "$1" 2>&1
}
post() { http "$1" "$2" "$3" -H 'Content-Type: application/cose' --data-binary @"$4" "$TU/v1/requests"; }
check "secup-author request needs its options" 2 SECUP_E_USAGE "$A" request --key ops.pem --out x
check "secup-author request writes a signed request" 0 "" req r1.cose ops.pem ops trk1 "$U5" a5.suit 1
N=$(manifests 'len(m)')
ok "before any request, sequence 5 is unknown" test "$(manifests "[x for x in m if x['sequence']==5]")" = "[]"
req r-aud.cose ops.pem ops trk2 "$U5" a5.suit 3 >/dev/null
post "a request for another tracker" 403 SECUP_E_AUDIENCE r-aud.cose
req r-unknown.cose rogue.pem eve trk1 "$U5" a5.suit 4 >/dev/null
post "a request from an unknown requester" 422 SECUP_E_KEY_UNKNOWN r-unknown.cose
req r-forged.cose rogue.pem ops trk1 "$U5" a5.suit 5 >/dev/null
post "a request in ops's name, signed by another key" 422 SECUP_E_SIG r-forged.cose
req r-exp.cose ops.pem ops trk1 "$U5" a5.suit 6 1 >/dev/null
sleep 2
post "an expired request" 422 SECUP_E_EXPIRED r-exp.cose
req r-dig.cose ops.pem ops trk1 "$U5" a4.suit 7 >/dev/null
post "a request whose digest is not the manifest's" 422 SECUP_E_DIGEST r-dig.cose
req r-mal.cose ops.pem ops trk1 "$SU/v1/images/$I2/manifest" m2.suit 8 >/dev/null
post "a request for a manifest no trusted Author signed" 422 "" r-mal.cose
ok "and the tracker says why" grep -q "refused a request of ops: manifest at .*$I2/manifest: " tracker.log
head -c 300 /dev/urandom > junk.cose
post "garbage" 400 "" junk.cose
ok "no refusal taught the tracker anything" test "$(manifests 'len(m)')" = "$N"
post "the valid request, counter 1: accepted, so no refusal (counters 3 to 8) moved ops's counter" 201 "" r1.cose
ok "the answer names sequence 5" test "$(json resp.body "d['sequence']")" = 5
ok "sequence 5 is known, verified by the tracker" test "$(manifests "[x['digest'] for x in m if x['sequence']==5]" | grep -c "[0-9a-f]\{64\}")" = 1
ok "the log says so" grep -q "request 1 of 'ops': sequence 5 (suit-sha256-esp256, .*verified here" tracker.log
post "the same request again: a replay" 409 SECUP_E_REPLAY r1.cose
req r2.cose ops.pem ops trk1 "$U5" a5.suit 2 >/dev/null
post "a newer request for a manifest already known" 200 "" r2.cose
ok "says it is not new" test "$(json resp.body "d['new']")" = False
rep c1 4
ok "c1 (after installing 4) is told to install 5" test "$(poll c1 | cut -d' ' -f1,3)" = "1 5"

# ---- notifications: with trust anchors, the notified manifest is verified first ----
http "the tracker subscribes at the server" 201 "" -H "Authorization: Bearer $(cat trk1.srvtoken)" -d "{\"url\": \"$TU/v1/notify\"}" "$SU/v1/subscriptions"
head -c 200000 /dev/urandom > img6.bin
ok "alice uploads sequence 6" upload alice 6 img6.bin a6.suit
ok "notified, the tracker verifies it before recording it" \
    waitfor 15 grep -q "server 'fw1': sequence 6 at .*, Author signature verified here" tracker.log
ok "with its profile and size" test "$(manifests "[(x['profile'], x['size']) for x in m if x['sequence']==6]")" = "[('suit-sha256-esp256', 200000)]"
ok "mallory uploads sequence 7" upload mallory 7 img6.bin m7.suit
ok "its notification is refused: the Author is not trusted" \
    waitfor 15 grep -q "refused a notification: manifest at .*/manifest: .*\[SECUP_E_" tracker.log
ok "sequence 7 is not believed" test "$(manifests "[x for x in m if x['sequence']==7]")" = "[]"

[ "$fail" -gt 0 ] && [ -n "${SECUP_TEST_LOGS:-}" ] && cp tracker.log server.log "$SECUP_TEST_LOGS/"
echo "tracker discovery ($([ -n "$DB_URL" ] && echo PostgreSQL || echo SQLite)): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
