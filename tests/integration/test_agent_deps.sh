#!/usr/bin/env bash
# secup-agent: copy from a staging component (SUIT example 4, encryption draft 9.2), swap
# between images one install wrote, and integrated dependencies (trust-domains 5): every
# condition checked and every directive carried out on real slots, the running slots never
# written, all components of a release (root and dependencies) committed together or none
# (docs/decisions/0005). Manifests come from suit_craft.py (cbor2), payloads and
# encryption info from secup-author.
# Usage: test_agent_deps.sh PATH/TO/secup-agent PATH/TO/secup-author
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author}")
AU=$(realpath "${2:?usage: $0 secup-agent secup-author}")
FLIP=$(dirname "$(realpath "$0")")/flip_byte
CRAFT="/usr/bin/python3 $(dirname "$(realpath "$0")")/suit_craft.py"
work=$(mktemp -d /tmp/secup-agent-deps.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
pass=0
fail=0

check() { # description expected-status expected-text-or-empty command...
    local desc=$1 want=$2 text=$3
    shift 3
    local out st
    out=$("$@" 2>&1); st=$?
    if [ "$st" -ne "$want" ]; then
        echo "FAIL: $desc: exit $st, expected $want"; echo "$out" | sed 's/^/    /'; fail=$((fail + 1)); return
    fi
    if [ -n "$text" ] && ! grep -q -- "$text" <<<"$out"; then
        echo "FAIL: $desc: output lacks '$text'"; echo "$out" | sed 's/^/    /'; fail=$((fail + 1)); return
    fi
    pass=$((pass + 1))
}
field() { "$AG" --config dev.json status --json | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
same() { cmp <(head -c "$(stat -c %s "$2")" "$1") "$2"; } # slot image

mkdir -p keys slots state
"$AU" keygen --alg esp256 --out keys/author.pem >/dev/null
"$AU" keygen --alg ed25519 --out keys/cfg.pem >/dev/null
"$AU" keygen --alg esp256 --out keys/stranger.pem >/dev/null
"$AU" keygen --alg x25519 --out keys/device.pem >/dev/null
openssl rand -hex 16 > keys/fleet.hex
cat > dev.json <<JSON
{ "device": { "id": "gw-1", "key": "keys/device.pem", "vendor-domain": "example.com", "class": "cam-v2",
              "keks": [ { "kid": "fleet", "key": "keys/fleet.hex" } ] },
  "state-dir": "state",
  "bootloader": { "type": "statefile", "path": "state/boot" },
  "boot-attempts": 2,
  "components": [
    { "name": "firmware", "slots": ["slots/fw.a", "slots/fw.b"], "slot-size": 2000000 },
    { "name": "config", "slots": ["slots/cfg.a", "slots/cfg.b"], "slot-size": 2000000 },
    { "name": "stage", "slots": ["slots/stage.a", "slots/stage.b"], "slot-size": 2000000, "staging": true } ],
  "trust": [ { "name": "release", "key": "keys/author.pub.pem" },
             { "name": "cfg", "key": "keys/cfg.pub.pem", "components": ["config"] } ] }
JSON
img() { head -c "$2" /dev/urandom > "$1"; }

check "check-config with a staging component" 0 "OK: device gw-1" "$AG" --config dev.json check-config
sed 's/"staging": true/"staging": "yes"/' dev.json > bad.json
check "staging must be a boolean" 3 "\"staging\" must be true or false" "$AG" --config bad.json check-config

# a first release of both real components (secup-author), so that something runs
img fw1.bin 200000; img cfg1.bin 3000
cat > r1.json <<JSON
{ "sequence": 1, "vendor-domain": "example.com", "class": "cam-v2",
  "components": [ { "id": "firmware", "image": "fw1.bin", "integrate": true },
                  { "id": "config", "image": "cfg1.bin", "integrate": true } ] }
JSON
"$AU" create -q --key keys/author.pem --spec r1.json --out r1.suit
check "install release 1 (firmware + config)" 0 "installed sequence 1" "$AG" --config dev.json install r1.suit
check "boot release 1 (the staging component needs no image)" 0 "confirmed" "$AG" --config dev.json boot
check "the staging component is never on trial" 0 "None" field "d['components'][2]['trial']"

# ---- copy: fetch the ciphertext into the staging component, copy it decrypting ----
img fw2.bin 300000
"$AU" create -q --key keys/author.pem --image fw2.bin --seq 2 --vendor-domain example.com --class cam-v2 \
    --uri https://x/fw2 --kek keys/fleet.hex --kid fleet --compress --payload-out fw2.enc --out fw2-author.suit
$CRAFT copy-only nocopy.suit --key keys/author.pem --seq 2 --image fw2.bin --from fw2-author.suit
# THREAT: C4
check "copy from a staging component this install did not write" 1 "source component stage was not written by this install" \
    "$AG" --config dev.json install nocopy.suit
check "the refusal is recorded" 0 "SECUP_E_POLICY" "$AG" --config dev.json status
$CRAFT stage-only stage.suit --key keys/author.pem --seq 2 --image fw2.bin --enc fw2.enc
check "a manifest that only fills the staging component installs nothing" 1 "installs nothing" \
    "$AG" --config dev.json install stage.suit
check "nothing on trial after the refusals" 0 "None" field "d['components'][0]['trial']"
check "the running slot (firmware B) was not written" 0 "" same slots/fw.b fw1.bin
$CRAFT copy copy.suit --key keys/author.pem --seq 2 --image fw2.bin --enc fw2.enc --from fw2-author.suit
check "install: fetch into staging, copy with decryption and decompression" 0 "installed sequence 2" \
    "$AG" --config dev.json install copy.suit
check "firmware slot A holds the plaintext" 0 "" same slots/fw.a fw2.bin
check "the staging slot holds the ciphertext" 0 "" same slots/stage.b fw2.enc
check "the running firmware slot B is untouched" 0 "" same slots/fw.b fw1.bin
check "firmware is on trial in A" 0 "A" field "d['components'][0]['trial']"
check "the staging component is not on trial" 0 "None" field "d['components'][2]['trial']"
check "config (not in this release) is not on trial" 0 "None" field "d['components'][1]['trial']"
check "boot confirms the copied image" 0 "confirmed" "$AG" --config dev.json boot
check "firmware runs sequence 2" 0 "2" field "d['components'][0]['running-seq']"
check "its floor rose to 2" 0 "2" field "d['components'][0]['floors']['release']"
check "the staging component has no floor" 0 "{}" field "d['components'][2]['floors']"

# a flipped byte in the staged ciphertext: AEAD tag, nothing committed
img fw3.bin 100000
"$AU" create -q --key keys/author.pem --image fw3.bin --seq 3 --vendor-domain example.com --class cam-v2 \
    --uri https://x/fw3 --kek keys/fleet.hex --kid fleet --payload-out fw3.enc --out fw3-author.suit
cp fw3.enc fw3-bad.enc && "$FLIP" fw3-bad.enc 500
$CRAFT copy copy3-bad.suit --key keys/author.pem --seq 3 --image fw3.bin --enc fw3-bad.enc --from fw3-author.suit
check "a damaged staged ciphertext fails the copy (tag)" 1 "SECUP_E_TAG" "$AG" --config dev.json install copy3-bad.suit
check "nothing on trial" 0 "None" field "d['components'][0]['trial']"
check "the running slot A still holds sequence 2" 0 "" same slots/fw.a fw2.bin

# ---- swap: two images this install wrote (firmware and config, both inactive) ----
img fw4.bin 50000; img cfg4.bin 20000
$CRAFT swap swap-half.suit --key keys/author.pem --seq 4 --image fw4.bin --image2 cfg4.bin --stage config --no-write2
check "swap with a component this install did not write" 1 "config was not written by this install" \
    "$AG" --config dev.json install swap-half.suit
check "the running config slot B is untouched" 0 "" same slots/cfg.b cfg1.bin
$CRAFT swap swap.suit --key keys/author.pem --seq 4 --image fw4.bin --image2 cfg4.bin --stage config
check "swap two images written in this install" 0 "installed sequence 4" "$AG" --config dev.json install swap.suit
check "firmware's inactive slot B holds the config image" 0 "" same slots/fw.b cfg4.bin
check "config's inactive slot A holds the firmware image" 0 "" same slots/cfg.a fw4.bin
check "the running slots are untouched" 0 "" same slots/fw.a fw2.bin
check "both are on trial together" 0 "B A" field "d['components'][0]['trial'] + ' ' + d['components'][1]['trial']"
check "boot confirms both" 0 "confirmed" "$AG" --config dev.json boot

# THREAT: T7 U4
# ---- dependencies: the root installs firmware, its integrated dependency config ----
img fw5.bin 120000; img cfg5.bin 4000
$CRAFT image dep5.suit --key keys/cfg.pem --seq 5 --target config --image cfg5.bin
$CRAFT dep root5-detached.suit --key keys/author.pem --seq 5 --image fw5.bin --dep dep5.suit --detached
check "a detached dependency is refused" 3 "only dependencies integrated" "$AG" --config dev.json install root5-detached.suit
$CRAFT image other5.suit --key keys/cfg.pem --seq 5 --target config --image fw5.bin
$CRAFT dep root5-digest.suit --key keys/author.pem --seq 5 --image fw5.bin --dep dep5.suit --dep-digest-of other5.suit
check "dependency-integrity with the wrong digest" 1 "SECUP_E_DIGEST" "$AG" --config dev.json install root5-digest.suit
$CRAFT image stranger5.suit --key keys/stranger.pem --seq 5 --target config --image cfg5.bin
$CRAFT dep root5-stranger.suit --key keys/author.pem --seq 5 --image fw5.bin --dep stranger5.suit
check "a dependency signed by no trust anchor" 1 "does not verify with any trusted key" "$AG" --config dev.json install root5-stranger.suit
# the dependency's signature damaged: its manifest (and so its digest) is intact
/usr/bin/python3 - dep5.suit tampered5.suit <<'PY'
import sys, cbor2
env = cbor2.loads(open(sys.argv[1], "rb").read())
wrapper = cbor2.loads(env.value[2])
sign1 = cbor2.loads(wrapper[1])
sig = bytearray(sign1.value[3]); sig[10] ^= 1; sign1.value[3] = bytes(sig)
wrapper[1] = cbor2.dumps(sign1)
env.value[2] = cbor2.dumps(wrapper)
open(sys.argv[2], "wb").write(cbor2.dumps(env, canonical=True))
PY
$CRAFT dep root5-tampered.suit --key keys/author.pem --seq 5 --image fw5.bin --dep tampered5.suit
check "a tampered dependency (signature)" 1 "SECUP_E_SIG" "$AG" --config dev.json install root5-tampered.suit
$CRAFT image firmware5.suit --key keys/cfg.pem --seq 5 --target firmware --image fw5.bin
$CRAFT dep root5-anchor.suit --key keys/author.pem --seq 5 --image fw5.bin --dep firmware5.suit
# THREAT: T3
check "a dependency for a component its anchor may not sign" 1 "may not sign for component firmware" \
    "$AG" --config dev.json install root5-anchor.suit
$CRAFT image vendor5.suit --key keys/cfg.pem --seq 5 --target config --image cfg5.bin --vendor-domain example.org
$CRAFT dep root5-vendor.suit --key keys/author.pem --seq 5 --image fw5.bin --dep vendor5.suit
check "a dependency for another vendor" 1 "SECUP_E_VENDOR" "$AG" --config dev.json install root5-vendor.suit
$CRAFT dep root5-noint.suit --key keys/author.pem --seq 5 --image fw5.bin --dep dep5.suit --no-integrity
check "process-dependency without dependency-integrity" 2 "before its dependency-integrity" \
    "$AG" --config dev.json install root5-noint.suit
check "the refusals put nothing on trial" 0 "None None" field "str(d['components'][0]['trial']) + ' ' + str(d['components'][1]['trial'])"
check "the running firmware slot is untouched" 0 "" same slots/fw.b cfg4.bin
$CRAFT dep root5.suit --key keys/author.pem --seq 5 --image fw5.bin --dep dep5.suit
check "install a root with an integrated dependency" 0 "installed sequence 5" "$AG" --config dev.json install root5.suit
check "firmware (root) and config (dependency) are on trial together" 0 "A B" \
    field "d['components'][0]['trial'] + ' ' + d['components'][1]['trial']"
check "firmware slot A holds the root's image" 0 "" same slots/fw.a fw5.bin
check "config slot B holds the dependency's image" 0 "" same slots/cfg.b cfg5.bin
check "boot runs both envelopes and confirms both" 0 "confirmed" "$AG" --config dev.json boot
check "config's floor is the dependency's anchor's" 0 "5" field "d['components'][1]['floors']['cfg']"
check "firmware's floor is the root's anchor's" 0 "5" field "d['components'][0]['floors']['release']"
check "a confirmed device boots quietly" 0 "" "$AG" --config dev.json boot
$CRAFT image dep6-old.suit --key keys/cfg.pem --seq 5 --target config --image cfg5.bin
img fw6.bin 1000
$CRAFT dep root6-old.suit --key keys/author.pem --seq 6 --image fw6.bin --dep dep6-old.suit
check "a dependency at its component's floor: rollback, the root's firmware is not committed either" 1 \
    "SECUP_E_ROLLBACK" "$AG" --config dev.json install root6-old.suit
check "nothing on trial" 0 "None None" field "str(d['components'][0]['trial']) + ' ' + str(d['components'][1]['trial'])"
check "firmware still runs sequence 5" 0 "5" field "d['components'][0]['running-seq']"

echo "agent deps: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
