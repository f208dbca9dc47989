#!/usr/bin/env bash
# Dependencies and bundles against a real secup-server, the attacker proxy mitm.py in
# front of it and a stand-in tracker (THREATS.md T3, T7): a device with two components
# (firmware, config) installs a root manifest whose integrated dependency carries the
# config. Extraneous dependencies (an anchor not authorised for the component, a
# dependency with dependencies of its own: cycles and depth, a dependency URI that is not
# in the envelope, a detached one) are refused and the proxy's request log shows no fetch
# outside what the signed command named. Two publish generations at the server: only the
# combination one root manifest pins installs; a mixed set (generation 2's root with
# generation 1's validly signed dependency, or a generation 1 manifest or payload served
# for generation 2) is refused, the running slots untouched.
# Usage: test_bundles.sh secup-agent secup-author secup-server sign_command
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author secup-server sign_command}")
A=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
SIGN=$(realpath "${4:?}")
HERE=$(cd "$(dirname "$0")" && pwd)
INTEG=$(cd "$HERE/../integration" && pwd)
SECUP_TEST_NAME=threats-bundles
# shellcheck source=tests/integration/check.sh
. "$INTEG/check.sh"
# shellcheck source=tests/threats/common.sh
. "$HERE/common.sh"
CRAFT="$PY $INTEG/suit_craft.py"

# the world of common.sh with a second component (config) and an anchor for it alone
world_extra() { # an Author of the config alone, and a key nobody trusts
    "$A" keygen --alg esp256 --out cfg.pem >/dev/null
    "$A" keygen --alg esp256 --out stranger.pem >/dev/null
    CTOK=$("$SRV" admin s author add cfgauthor --key cfg.pub.pem 2>/dev/null)
    "$SRV" admin s author grant cfgauthor --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
}
start_world2() {
    start_services
    cat > dev.json <<JSON
{ "device": { "id": "cam-1", "key": "dev.pem", "vendor-domain": "example.com", "class": "cam-v2" },
  "state-dir": "state", "bootloader": { "type": "statefile", "path": "state/boot" },
  "health-check": { "command": ["/bin/true"], "timeout": 10 },
  "components": [ { "name": "firmware", "slots": ["slots/a", "slots/b"], "slot-size": 1000000 },
                  { "name": "config", "slots": ["slots/ca", "slots/cb"], "slot-size": 1000000 } ],
  "trust": [ { "name": "release", "key": "alice.pub.pem" },
             { "name": "cfg", "key": "cfg.pub.pem", "components": ["config"] } ],
  "tracker": { "url": "$TPU", "id": "trk1", "key": "trk.pub.pem", "enrolment-token-file": "enrol.tok",
               "poll-wait": 1 },
  "server": { "url": "$PU", "token-file": "srv.tok", "retry-initial": 1, "retry-max": 1,
              "attempts": 2, "low-speed-time": 2 } }
JSON
    head -c 1000 /dev/urandom > fw1.bin
    head -c 300 /dev/urandom > cfg1.bin
    cat > r1.json <<'JSON'
{ "sequence": 1, "vendor-domain": "example.com", "class": "cam-v2",
  "components": [ { "id": "firmware", "image": "fw1.bin", "integrate": true },
                  { "id": "config", "image": "cfg1.bin", "integrate": true } ] }
JSON
    "$A" create -q --key alice.pem --spec r1.json --out v1.suit
    "$AG" --config dev.json install v1.suit >/dev/null && "$AG" --config dev.json boot >/dev/null ||
        { echo "FAIL: first install"; exit 1; }
    "$AG" --config dev.json run --once >first.log 2>&1 || { echo "FAIL: registration"; cat first.log; exit 1; }
    CTR=0
}

# upload NAME ENVELOPE [TOKEN]: submits an envelope whose payloads are integrated to the
# server (as alice, or the Author of TOKEN); ID[NAME] is the image id
upload() {
    ID[$1]=$(curl -sk -H "Authorization: Bearer ${3:-$ATOK}" -F "envelope=@$2" \
        -X POST "$SU/v1/images" | $PY -c "import json,sys; print(json.load(sys.stdin)['id'])")
    [ ${#ID[$1]} -eq 64 ] || { echo "FAIL: submitting $2"; tail -3 server.log; exit 1; }
}
# command NAME SEQ: a tracker-signed install command for the image NAME
command() {
    CTR=$((CTR + 1))
    "$SIGN" --out "trk/queue/$(printf %04d $CTR).cose" --key trk.pem --issuer trk1 --target cam-1 \
        --counter "$CTR" --action install --uri "/v1/images/${ID[$1]}/manifest" --digest "${ID[$1]}" \
        --seq "$2" || { echo "FAIL: cannot sign"; exit 1; }
}
# only_fetched NAME: every request the agent made through the proxy since the log was
# cleared was for the manifest of image NAME (the command's authorised set: its payloads
# are integrated)
only_fetched() {
    [ -s px/log ] && ! awk '{print $2}' px/log | grep -v -x "/v1/images/${ID[$1]}/manifest" | grep -q .
}
fresh_log() { : > px/log; }
same() { cmp -s <(head -c "$(stat -c %s "$2")" "$1") "$2"; } # slot image
snap2() { snapshot; SNAP_CFG=$(field 'd["components"][1]["active"], d["components"][1]["floors"]'); SNAP_CSLOT=$(sha256sum slots/c* | sha256sum); }
inv2() {
    invariants "$1"
    ok "$1: config's running slot and floors untouched" [ "$(field 'd["components"][1]["active"], d["components"][1]["floors"]')" = "$SNAP_CFG" ]
    ok "$1: no config slot written" [ "$(sha256sum slots/c* | sha256sum)" = "$SNAP_CSLOT" ]
}

start_world2
RUNNING=1


# ---- a release of both components: the root (firmware) pins its dependency (config) ----
img() { head -c "$2" /dev/urandom > "$1"; }
img fw2.bin 50000; img cfg2.bin 2000
$CRAFT image dep2.suit --key cfg.pem --seq 2 --target config --image cfg2.bin
$CRAFT dep root2.suit --key alice.pem --seq 2 --image fw2.bin --dep dep2.suit
upload g2 root2.suit
command g2 2
fresh_log
cycle g2.log
ok "generation 2 (root + integrated dependency) installs online (exit $st)" [ "$st" -eq 0 ]
ok "firmware runs sequence 2" [ "$(field 'd["components"][0]["running-seq"]')" = 2 ]
ok "config runs the dependency's image" [ "$(field 'd["components"][1]["running-seq"]')" = 2 ]
ok "the agent fetched only the command's manifest" only_fetched g2
RUNNING=2

# ---- T3: extraneous dependencies, each refused without a fetch outside the command ----
# THREAT: T3
t3() { # DESC CODE NAME ROOT-ENVELOPE SEQ [TOKEN]
    local d=$1 code=$2 name=$3 env=$4 seq=$5
    [ -n "${ID[$name]:-}" ] || upload "$name" "$env" "${6:-}"
    snap2
    command "$name" "$seq"
    fresh_log
    cycle "$name.log"
    expect_fail "$d" "$code" "$name.log"
    ok "$d: INV-5 the code is in the next status report" [ "$(report 'd["last-code"]')" = "$code" ]
    ok "$d: no fetch outside the command's manifest" only_fetched "$name"
    ok "$d: bounded work: one request (the manifest)" [ "$(wc -l < px/log)" -eq 1 ]
    inv2 "$d"
}
img fw3.bin 40000; img cfg3.bin 1500
# (the server keeps a floor per component too: every root gets a new sequence number)
$CRAFT image bad-anchor.suit --key cfg.pem --seq 3 --target firmware --image fw3.bin
$CRAFT dep root3-anchor.suit --key alice.pem --seq 3 --image fw3.bin --dep bad-anchor.suit
t3 "T3 a dependency signed by an anchor not authorised for its component" SECUP_E_POLICY a3 root3-anchor.suit 3
$CRAFT image stranger4.suit --key stranger.pem --seq 4 --target config --image cfg3.bin
$CRAFT dep root4-stranger.suit --key alice.pem --seq 4 --image fw3.bin --dep stranger4.suit
t3 "T3 a dependency signed by no trust anchor" SECUP_E_SIG s4 root4-stranger.suit 4
# depth: the dependency has a dependency of its own
$CRAFT image leaf5.suit --key cfg.pem --seq 5 --target config --image cfg3.bin
$CRAFT dep mid5.suit --key cfg.pem --seq 5 --target config --image cfg3.bin --dep leaf5.suit
$CRAFT dep root5-deep.suit --key alice.pem --seq 5 --image fw3.bin --dep mid5.suit
t3 "T3 a dependency two levels deep" SECUP_E_UNSUPPORTED d5 root5-deep.suit 5
# a cycle: the dependency depends back on a root release (manifest digests make a literal
# cycle impossible; any dependency of a dependency is refused before it is resolved)
$CRAFT dep cyc6.suit --key cfg.pem --seq 6 --target config --image cfg3.bin --dep root2.suit
$CRAFT dep root6-cycle.suit --key alice.pem --seq 6 --image fw3.bin --dep cyc6.suit
t3 "T3 a dependency that depends back on a root release (cycle)" SECUP_E_UNSUPPORTED c6 root6-cycle.suit 6
# a dependency whose uri names nothing in the envelope
$CRAFT image dep7.suit --key cfg.pem --seq 7 --target config --image cfg3.bin
$CRAFT dep root7-missing.suit --key alice.pem --seq 7 --image fw3.bin --dep dep7.suit --detached --dep-uri "#elsewhere"
t3 "T3 a dependency uri that is not in the envelope" SECUP_E_MISSING m7 root7-missing.suit 7
# a detached dependency whose uri is a real resource at the server, behind the proxy
$CRAFT dep root8-detached.suit --key alice.pem --seq 8 --image fw3.bin --dep dep7.suit --detached \
    --dep-uri "$PU/v1/images/${ID[g2]}/manifest"
t3 "T3 a detached dependency at the server" SECUP_E_UNSUPPORTED x8 root8-detached.suit 8

# ---- T7: two publish generations at the server; only what one root pins installs ----
# THREAT: T7
# a root of sequence 10 with its own dependency, validly signed, then the same root with
# generation 2's validly signed dependency in place of its own (integrated members are
# not covered by the root's signature); the server holds the mixed one
img cfg10.bin "$(stat -c %s cfg2.bin)" # the same size: the dependency's digest must tell them apart
$CRAFT image dep10.suit --key cfg.pem --seq 10 --target config --image cfg10.bin
$CRAFT dep root10.suit --key alice.pem --seq 10 --image fw3.bin --dep dep10.suit
$PY - root10.suit dep2.suit mixed10.suit <<'PY'
import sys, cbor2
env = cbor2.loads(open(sys.argv[1], "rb").read())
t = env.value if hasattr(env, "value") else env
t["#dep"] = open(sys.argv[2], "rb").read()
open(sys.argv[3], "wb").write(cbor2.dumps(env, canonical=True))
PY
check "the mixed envelope's root signature still verifies" 0 "" "$A" verify mixed10.suit --pub alice.pub.pem
t3 "T7 a root with another generation's dependency" SECUP_E_DIGEST mx10 mixed10.suit 10
# generation 3 (sequence 11) at the server beside generation 2
img fw11.bin 30000; img cfg11.bin 1200
$CRAFT image dep11.suit --key cfg.pem --seq 11 --target config --image cfg11.bin
$CRAFT dep root11.suit --key alice.pem --seq 11 --image fw11.bin --dep dep11.suit
upload g3 root11.suit
# the attacker serves generation 2's manifest for generation 3's request
snap2
command g3 11
rules "[{\"match\": \"/v1/images/${ID[g3]}/manifest\", \"action\": \"substitute\", \"from\": \"/v1/images/${ID[g2]}/manifest\"}]"
cycle sub11.log
expect_fail "T7 generation 2's manifest served for generation 3" SECUP_E_DIGEST sub11.log
inv2 "T7 generation 2's manifest served for generation 3"
rules '[]'
command g3 11
fresh_log
cycle g3.log
ok "generation 3 as its root pins it installs (exit $st)" [ "$st" -eq 0 ]
ok "firmware runs sequence 11" [ "$(field 'd["components"][0]["running-seq"]')" = 11 ]
ok "config runs generation 3's dependency" [ "$(field 'd["components"][1]["running-seq"]')" = 11 ]
ok "the firmware slot holds generation 3's image" same "slots/$(field 'd["components"][0]["active"]' | tr 'AB' 'ab')" fw11.bin
ok "the config slot holds generation 3's image" same "slots/c$(field 'd["components"][1]["active"]' | tr 'AB' 'ab')" cfg11.bin
ok "only the command's manifest was fetched" only_fetched g3
RUNNING=11
# generation 2's dependency alone, validly signed by its anchor, after generation 3
t3 "T7 generation 2's dependency alone after generation 3 (below the floor)" SECUP_E_ROLLBACK d2 dep2.suit 2 "$CTOK"

echo "threats bundles: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
