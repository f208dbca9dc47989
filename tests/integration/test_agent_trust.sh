#!/usr/bin/env bash
# secup-agent: authenticated trust-anchor rotation (THREATS.md T4, T10, INV-4; docs/decisions
# /0004). A compromised release key fast-forwards the floor; an offline root key retires it
# and rotates in a new release key, whose floor starts anew; the retired key installs
# nothing any more; rotations are replay-protected per signing anchor; a refused rotation
# changes no stored trust; a damaged trust store is survived with one copy and fails closed
# with none. Usage: test_agent_trust.sh PATH/TO/secup-agent PATH/TO/secup-author
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author}")
AU=$(realpath "${2:?usage: $0 secup-agent secup-author}")
work=$(mktemp -d /tmp/secup-agent-trust.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
pass=0
fail=0
PY=/usr/bin/python3

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
field() { "$AG" --config dev.json status --json | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

mkdir -p keys slots state
for k in root k1 k2 k3 stranger root2; do "$AU" keygen --alg esp256 --out keys/$k.pem >/dev/null; done
"$AU" keygen --alg ed25519 --out keys/k4.pem >/dev/null
cat > dev.json <<'JSON'
{ "device": { "id": "cam-9", "vendor-domain": "example.com", "class": "cam-v2" },
  "state-dir": "state",
  "bootloader": { "type": "statefile", "path": "state/boot" },
  "components": [ { "name": "firmware", "slots": ["slots/a.img", "slots/b.img"], "slot-size": 400000 } ],
  "trust": [ { "name": "root", "key": "keys/root.pub.pem", "components": [], "rotate": true },
             { "name": "release", "key": "keys/k1.pub.pem" } ] }
JSON
fw() { # key seq out
    head -c $((20000 + $2)) /dev/urandom > fw$2.bin
    "$AU" create -q --key keys/$1.pem --image fw$2.bin --seq $2 --vendor-domain example.com \
        --class cam-v2 --version 2.$2.0 --integrate --out $3
}
doc() { # out, then python expressions: add NAME KEY [COMPONENTS-JSON [ROTATE]] / retire NAME
    local out=$1
    shift
    "$PY" - "$out" "$@" <<'PY'
import json, sys
out, args = sys.argv[1], sys.argv[2:]
d = {"secup-trust-update": 1}
while args:
    op = args.pop(0)
    if op == "add":
        name, key = args.pop(0), args.pop(0)
        e = {"name": name, "key": open(key).read()}
        if args and args[0].startswith("["):
            e["components"] = json.loads(args.pop(0))
        if args and args[0] in ("true", "false"):
            e["rotate"] = args.pop(0) == "true"
        d.setdefault("add", []).append(e)
    elif op == "retire":
        d.setdefault("retire", []).append(args.pop(0))
    elif op == "raw":
        d = json.loads(args.pop(0))
open(out, "w").write(json.dumps(d, indent=1))
PY
}
rot() { # key seq doc out [extra author options]
    local key=$1 seq=$2 d=$3 out=$4
    shift 4
    "$AU" create -q --key keys/$key.pem --image "$d" --seq $seq --vendor-domain example.com \
        --class cam-v2 --component secup/trust-anchors --integrate "$@" --out "$out"
}
same_trust() { cmp -s state/trust.A trust.before && cmp -s state/trust.B trust.B.before; }
snap() { cp state/trust.A trust.before 2>/dev/null || : > trust.before; cp state/trust.B trust.B.before 2>/dev/null || : > trust.B.before; }

check "check-config with a rotate-only root anchor" 0 "2 trust anchors" "$AG" --config dev.json check-config
sed 's|"slots": \["slots/a.img"|"id": "secup/trust-anchors", "slots": ["slots/a.img"|' dev.json > reserved.json
check "the trust-anchor component identifier is reserved" 3 "reserved for trust-anchor updates" "$AG" --config reserved.json check-config
sed 's|"rotate": true|"rotate": "yes"|' dev.json > badrot.json
check "\"rotate\" must be a boolean" 3 "rotate" "$AG" --config badrot.json check-config

# THREAT: T4
# T4: the compromised release key K1 fast-forwards the floor
fw k1 1000 ff.suit
check "K1 installs sequence 1000" 0 "installed sequence 1000" "$AG" --config dev.json install ff.suit
check "and it is confirmed" 0 "confirmed" "$AG" --config dev.json boot
fw k1 5 legit5.suit
check "a normal release is now refused (the floor of K1 is 1000)" 1 "SECUP_E_ROLLBACK" "$AG" --config dev.json install legit5.suit

doc d1.json retire release add release-2 keys/k2.pub.pem '["firmware"]'
rot k1 1 d1.json r-by-k1.suit
check "the release key may not rotate trust anchors" 1 "may not sign trust updates" "$AG" --config dev.json install r-by-k1.suit
rot stranger 1 d1.json r-by-stranger.suit
check "an unknown key cannot rotate" 1 "SECUP_E_SIG" "$AG" --config dev.json install r-by-stranger.suit
rot root 1 d1.json r1.suit
cp r1.suit r1-flip.suit
"$PY" - r1-flip.suit <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.find(b"release-2")
b[i] ^= 1
open(sys.argv[1], "wb").write(b)
PY
check "a trust update whose document was altered" 1 "SECUP_E_DIGEST" "$AG" --config dev.json install r1-flip.suit
check "no trust store was written by the refusals" 1 "" test -e state/trust.A
"$AU" create -q --key keys/root.pem --image d1.json --seq 1 --vendor-domain example.com --class cam-v3 \
    --component secup/trust-anchors --integrate --out r1-class.suit
check "a trust update for another device class" 1 "SECUP_E_CLASS" "$AG" --config dev.json install r1-class.suit
cat > both.json <<'JSON'
{ "sequence": 1, "vendor-domain": "example.com", "class": "cam-v2",
  "components": [ { "id": "secup/trust-anchors", "image": "d1.json", "integrate": true },
                  { "id": "firmware", "image": "fw5.bin", "integrate": true } ] }
JSON
"$AU" create -q --key keys/root.pem --spec both.json --out both.suit
check "a trust update bundled with an image" 1 "nothing else" "$AG" --config dev.json install both.suit

check "the root key retires K1 and rotates in K2" 0 "trust anchors updated by \"root\"" "$AG" --config dev.json install r1.suit
check "status lists the rotation" 0 "trust anchors updated by \"root\": added release-2, retired release" "$AG" --config dev.json status
check "K1 is retired" 0 "" test "$(field "[t['retired'] for t in d['trust'] if t['name']=='release'][0]")" = True
check "both trust store copies exist" 0 "" test -s state/trust.A -a -s state/trust.B
snap
check "the same rotation again is a replay" 1 "SECUP_E_ROLLBACK" "$AG" --config dev.json install r1.suit
check "the replay changed no stored trust" 0 "" same_trust

check "the image K1 signed still boots after K1 was retired" 0 "" "$AG" --config dev.json boot
check "and still runs" 0 "runs slot B: sequence 1000" "$AG" --config dev.json status
fw k1 1001 ff2.suit
check "the retired K1 installs nothing any more" 1 "SECUP_E_SIG" "$AG" --config dev.json install ff2.suit
fw k2 5 k2-5.suit
check "K2's floor starts anew: sequence 5 installs" 0 "installed sequence 5" "$AG" --config dev.json install k2-5.suit
check "and boots" 0 "confirmed" "$AG" --config dev.json boot
check "the floor of K2 is 5" 0 "" test "$(field "d['components'][0]['floors']['release-2']")" = 5
check "the floor of the retired K1 is gone" 0 "" test "$(field "'release' in d['components'][0]['floors']")" = False
check "K2 cannot go below its own floor" 1 "SECUP_E_ROLLBACK" "$AG" --config dev.json install k2-5.suit

# THREAT: T10 C12
# what a rotation may not do
snap
doc d2.json add release-3 keys/k1.pub.pem
rot root 2 d2.json r2.suit
check "a retired key never returns under another name" 3 "a retired key never returns" "$AG" --config dev.json install r2.suit
doc d3.json add release keys/k3.pub.pem
rot root 3 d3.json r3.suit
check "a retired name is never reused" 3 "never reused" "$AG" --config dev.json install r3.suit
doc d4.json add release-2b keys/k2.pub.pem
rot root 4 d4.json r4.suit
check "a key in force is not added twice" 3 "SECUP_E_DUPLICATE" "$AG" --config dev.json install r4.suit
doc d5.json retire root
rot root 5 d5.json r5.suit
check "no rotation leaves the device without an anchor that may rotate" 1 "no anchor that may sign trust updates" "$AG" --config dev.json install r5.suit
doc d6.json retire nobody
rot root 6 d6.json r6.suit
check "retiring an unknown anchor" 3 "not an anchor in force" "$AG" --config dev.json install r6.suit
doc d7.json add release-3 keys/k3.pem
rot root 7 d7.json r7.suit
check "a private key in a trust update" 3 "private key" "$AG" --config dev.json install r7.suit
doc d8.json raw '{"secup-trust-update": 1, "add": [{"name": "x", "key": "k", "colour": 1}]}'
rot root 8 d8.json r8.suit
check "an unknown key in a trust update" 3 "unknown key \"colour\"" "$AG" --config dev.json install r8.suit
doc d9.json raw '{"secup-trust-update": 2, "retire": ["release-2"]}'
rot root 9 d9.json r9.suit
check "another trust-update format" 3 "SECUP_E_UNSUPPORTED" "$AG" --config dev.json install r9.suit
doc d10.json add release-3 keys/k3.pub.pem '["kernel"]'
rot root 10 d10.json r10.suit
check "an anchor for a component the device lacks" 3 "not a component of this device" "$AG" --config dev.json install r10.suit
check "none of the refused rotations changed the trust store" 0 "" same_trust

# the root key rotates itself; the new root has a floor of its own
doc d11.json add root-2 keys/root2.pub.pem '[]' true retire root
rot root 11 d11.json r11.suit
check "the root key hands over to root-2" 0 "installed\\|trust anchors" "$AG" --config dev.json install r11.suit
doc d12.json add release-4 keys/k4.pub.pem
rot root 12 d12.json r12.suit
check "the retired root rotates nothing any more" 1 "SECUP_E_SIG" "$AG" --config dev.json install r12.suit
rot root2 1 d12.json r12b.suit
check "root-2 rotates with its own first sequence number" 0 "" "$AG" --config dev.json install r12b.suit
fw k4 6 k4-6.suit
check "an Ed25519 anchor rotated in (all components by default) installs" 0 "installed sequence 6" "$AG" --config dev.json install k4-6.suit
check "and boots" 0 "confirmed" "$AG" --config dev.json boot
check "the trust anchors in force" 0 "trust anchors: root (retired) release (retired) release-2 root-2 (rotates) release-4" "$AG" --config dev.json status

# a payload beside the envelope
doc d13.json retire release-2
"$AU" create -q --key keys/root2.pem --image d13.json --seq 2 --vendor-domain example.com --class cam-v2 \
    --component secup/trust-anchors --uri https://x/trust.json --out r13.suit
check "a trust update fetched from --payload" 0 "" "$AG" --config dev.json install r13.suit --payload d13.json
check "release-2 is retired" 0 "release-2 (retired)" "$AG" --config dev.json status

# THREAT: F13
# a damaged trust store
printf 'Z' | dd of=state/trust.A bs=1 seek=20 conv=notrunc status=none
check "one bad trust store copy is survived" 0 "one trust store copy was bad" "$AG" --config dev.json status
check "and the anchors are those of the good copy" 0 "release-2 (retired)" "$AG" --config dev.json status
printf 'Z' | dd of=state/trust.B bs=1 seek=20 conv=notrunc status=none
check "two bad copies: the status says so" 0 "TRUST STORE DAMAGED" "$AG" --config dev.json status
fw k4 7 k4-7.suit
check "and nothing is installed (fail closed, no fallback to the configured anchors)" 1 "trust store is damaged" "$AG" --config dev.json install k4-7.suit

echo "agent trust: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
