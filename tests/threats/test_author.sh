#!/usr/bin/env bash
# The Author's keys and manifests (THREATS.md T10, C12, C13): k-of-n signature thresholds
# at the agent (Author + operator), co-signing with secup-author sign, private key files
# with loose permissions refused, the manifest and images checked again before signing,
# and reproducible builds.
# Usage: test_author.sh PATH/TO/secup-agent PATH/TO/secup-author
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author}")
AU=$(realpath "${2:?usage: $0 secup-agent secup-author}")
SECUP_TEST_NAME=threat-author
PY=/usr/bin/python3
# shellcheck source=tests/integration/check.sh
. "$(dirname "$0")/../integration/check.sh"

# check_msg DESCRIPTION EXPECTED-STATUS TEXT COMMAND...: the output must carry TEXT
check_msg() {
    local desc=$1 want=$2 text=$3
    shift 3
    local out st
    out=$("$@" 2>&1); st=$?
    if [ "$st" -ne "$want" ] || ! grep -qF -- "$text" <<<"$out"; then
        echo "FAIL: $desc: exit $st (expected $want), output must carry '$text'"; echo "$out" | sed 's/^/    /'
        fail=$((fail + 1)); return
    fi
    pass=$((pass + 1))
}
field() { "$AG" --config dev.json status --json | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
# what a refusal must not change: slots, floors, trial, trust (the last result is recorded)
stored() { "$AG" --config dev.json status --json | "$PY" -c "import json,sys; d=json.load(sys.stdin); print(json.dumps([d['components'], d['trust'], d['safe-mode']], sort_keys=True))"; }
state_same() { [ "$(stored)" = "$(cat stored.before)" ] && cmp -s <(cat slots/a.img 2>/dev/null) slots.a.before && cmp -s <(cat slots/b.img 2>/dev/null) slots.b.before; }
snap() { stored > stored.before; cp slots/a.img slots.a.before 2>/dev/null || : > slots.a.before; cp slots/b.img slots.b.before 2>/dev/null || : > slots.b.before; }

mkdir -p keys slots state
for k in author operator ops2 stranger root operator2; do "$AU" keygen --alg ed25519 --out keys/$k.pem >/dev/null; done
"$AU" keygen --alg esp256 --out keys/p256.pem >/dev/null
cat > dev.json <<'JSON'
{ "device": { "id": "cam-7", "vendor-domain": "example.com", "class": "cam-v2" },
  "state-dir": "state",
  "bootloader": { "type": "statefile", "path": "state/boot" },
  "components": [ { "name": "firmware", "slots": ["slots/a.img", "slots/b.img"], "slot-size": 400000,
                    "threshold": 2 } ],
  "trust": [ { "name": "root", "key": "keys/root.pub.pem", "components": [], "rotate": true },
             { "name": "author", "key": "keys/author.pub.pem" },
             { "name": "author-alias", "key": "keys/author.pub.pem" },
             { "name": "operator", "key": "keys/operator.pub.pem" },
             { "name": "ops2", "key": "keys/ops2.pub.pem" } ] }
JSON
img() { head -c $((20000 + $1)) /dev/urandom > fw$1.bin; }
mk() { # seq out key... : an envelope signed with every key at once
    local seq=$1 out=$2
    shift 2
    local args=()
    for k in "$@"; do args+=(--key "keys/$k.pem"); done
    "$AU" create -q "${args[@]}" --image fw$seq.bin --seq "$seq" --vendor-domain example.com \
        --class cam-v2 --version 1.$seq.0 --integrate --out "$out"
}

# THREAT: T10
check "check-config: a threshold of 2" 0 "" "$AG" --config dev.json check-config
sed 's|"threshold": 2|"threshold": 5|' dev.json > th5.json
check_msg "a threshold above the anchors that may sign is refused" 3 "exceeds the 4 trust anchors" \
    "$AG" --config th5.json check-config
sed 's|"threshold": 2|"threshold": 0|' dev.json > th0.json
check "a threshold of 0 is refused" 3 SECUP_E_VALUE "$AG" --config th0.json check-config
img 10
mk 10 a10.suit author
snap
check "only 1 of 2 signatures: refused" 1 SECUP_E_THRESHOLD "$AG" --config dev.json install a10.suit
check_msg "the refusal names the count" 1 "1 of 2 required signatures" "$AG" --config dev.json install a10.suit
mk 10 dup10.suit author author
check "the duplicate envelope carries two identical blocks" 0 "" "$PY" -c "
import json, subprocess, sys
d = json.loads(subprocess.run(['$AU', 'inspect', '--json', 'dup10.suit'], capture_output=True, check=True).stdout)
b = d['authentication']['blocks']
sys.exit(0 if len(b) == 2 and b[0] == b[1] else 1)"
check_msg "the same key's signature twice counts once (test_duplicate_sig_keyids)" 1 "1 of 2 required signatures" \
    "$AG" --config dev.json install dup10.suit
check "the same key under two anchor names counts once" 1 SECUP_E_THRESHOLD "$AG" --config dev.json install a10.suit
mk 10 s10.suit author stranger
check_msg "a signature by an unauthorised key does not count" 1 "1 of 2 required signatures" \
    "$AG" --config dev.json install s10.suit
check "refusals changed no stored state" 0 "" state_same
check "nothing was written to a slot" 1 "" test -s slots/b.img

check "secup-author sign adds the operator's signature" 0 "" \
    "$AU" sign a10.suit --key keys/operator.pem --image 0=fw10.bin --out ao10.suit
check "the co-signed envelope keeps the Author's signature" 0 "" "$AU" verify ao10.suit --pub keys/author.pub.pem
check "and carries the operator's" 0 "" "$AU" verify ao10.suit --pub keys/operator.pub.pem
check "the manifest bytes did not change" 0 "" "$PY" -c "
import cbor2, sys
a = cbor2.loads(open('a10.suit','rb').read()); b = cbor2.loads(open('ao10.suit','rb').read())
a = a.value if hasattr(a, 'value') else a; b = b.value if hasattr(b, 'value') else b
sys.exit(0 if a[3] == b[3] and a['#firmware'] == b['#firmware'] else 1)"
check_msg "Author + operator (2 of 2 distinct keys): installed" 0 "installed sequence 10" \
    "$AG" --config dev.json install ao10.suit
check "and confirmed" 0 "" "$AG" --config dev.json boot
check "the floor is the first counted anchor's (author)" 0 "" test "$(field "d['components'][0]['floors'].get('author')")" = 10

img 11
mk 11 ao11.suit operator author
check_msg "signed with two keys at once: installed" 0 "installed sequence 11" "$AG" --config dev.json install ao11.suit
check "confirmed" 0 "" "$AG" --config dev.json boot
img 9
mk 9 oo9.suit operator ops2
snap
check_msg "an older release signed by another subset (operator + ops2) is below the highest floor" 1 \
    "is not greater than 11" "$AG" --config dev.json install oo9.suit
check "the rollback refusal changed no stored state" 0 "" state_same

# a rotation retires the operator's key: its signature never counts again
"$PY" - <<'PY'
import json
d = {"secup-trust-update": 1, "retire": ["operator"],
     "add": [{"name": "operator-2", "key": open("keys/operator2.pub.pem").read(), "components": ["firmware"]}]}
open("rot.json", "w").write(json.dumps(d))
PY
"$AU" create -q --key keys/root.pem --image rot.json --seq 1 --vendor-domain example.com --class cam-v2 \
    --component secup/trust-anchors --integrate --out rot.suit
check_msg "the root retires the operator's key" 0 "retired operator" "$AG" --config dev.json install rot.suit
img 12
mk 12 ao12.suit author operator
snap
check_msg "Author + the retired operator: 1 of 2" 1 "1 of 2 required signatures" "$AG" --config dev.json install ao12.suit
check "unchanged state" 0 "" state_same
check "secup-author sign with operator-2" 0 "" "$AU" sign ao12.suit --key keys/operator2.pem --image fw12.bin --out ao12b.suit
check_msg "Author + retired operator + operator-2: installed" 0 "installed sequence 12" "$AG" --config dev.json install ao12b.suit
check "confirmed after the rotation" 0 "" "$AG" --config dev.json boot
check "runs sequence 12" 0 "" test "$(field "[s for s in d['components'][0]['slots'] if s.get('seq') == 12] != []")" = True

# co-signing limits and checks
check "a fifth signature exceeds the authentication limit" 3 SECUP_E_LIMIT_AUTH \
    "$AU" sign ao12b.suit --key keys/ops2.pem --key keys/stranger.pem --image fw12.bin --out x.suit
check "co-signing without the image" 3 SECUP_E_MISSING "$AU" sign a10.suit --key keys/operator.pem --out x.suit
check "co-signing needs --out" 2 SECUP_E_USAGE "$AU" sign a10.suit --key keys/operator.pem --image fw10.bin
check "nothing written by refused co-signing" 1 "" test -e x.suit

# THREAT: C13
# the image changed between build (the Author's signed envelope) and signing
cp fw10.bin fw10.orig && "$PY" -c "
b = bytearray(open('fw10.bin','rb').read()); b[1000] ^= 0xff; open('fw10.bin','wb').write(b)"
check_msg "an image altered between build and sign aborts the co-signing" 1 "nothing signed" \
    "$AU" sign a10.suit --key keys/operator.pem --image fw10.bin --out x.suit
check "with SECUP_E_DIGEST" 1 SECUP_E_DIGEST "$AU" sign a10.suit --key keys/operator.pem --image fw10.bin --out x.suit
head -c 100 fw10.orig > short.bin
check "an image of another size" 1 SECUP_E_SIZE "$AU" sign a10.suit --key keys/operator.pem --image short.bin --out x.suit
check "nothing written" 1 "" test -e x.suit
cp fw10.orig fw10.bin
# the manifest changed after the Author signed it: its digest no longer matches
"$PY" - <<'PY'
import cbor2
e = cbor2.loads(open("a10.suit", "rb").read())
t = e.value if hasattr(e, "value") else e
m = bytearray(t[3]); m[-3] ^= 1; t[3] = bytes(m)
open("a10-bad.suit", "wb").write(cbor2.dumps(e))
PY
check "a manifest altered after signing is not co-signed" 1 SECUP_E_DIGEST \
    "$AU" sign a10-bad.suit --key keys/operator.pem --image fw10.bin --out x.suit
check "nothing written" 1 "" test -e x.suit
# reproducible builds: the same inputs give the same bytes (Ed25519 is deterministic)
img 30
mk 30 r1.suit author operator
mk 30 r2.suit author operator
check "two Ed25519 builds from the same inputs are identical" 0 "" cmp r1.suit r2.suit
cat > rel.json <<'JSON'
{ "sequence": 31, "vendor-domain": "example.com", "class": "cam-v2", "version": "3.1.0",
  "components": [ { "id": "firmware", "image": "fw30.bin", "uri": "https://x/fw.bin" },
                  { "id": "0x00/boot", "image": "fw10.bin", "uri": "https://x/boot.bin", "invoke": true } ] }
JSON
"$AU" create -q --key keys/p256.pem --spec rel.json --out e1.suit
"$AU" create -q --key keys/p256.pem --spec rel.json --out e2.suit
check "two ESP256 builds of a release carry identical manifest bytes" 0 "" "$PY" -c "
import cbor2, sys
a = cbor2.loads(open('e1.suit','rb').read()); b = cbor2.loads(open('e2.suit','rb').read())
a = a.value if hasattr(a, 'value') else a; b = b.value if hasattr(b, 'value') else b
sys.exit(0 if a[3] == b[3] and a[2] != b[2] else 1)"
check "and the same co-signed with the same key stays identical" 0 "" sh -c "
'$AU' sign -q r1.suit --key keys/ops2.pem --image fw30.bin --out c1.suit &&
'$AU' sign -q r2.suit --key keys/ops2.pem --image fw30.bin --out c2.suit && cmp c1.suit c2.suit"

# THREAT: C12
cp keys/author.pem loose.pem
for mode in 644 640 604 620 602 660; do
    chmod $mode loose.pem
    check "a private key file of mode $mode is refused by create" 4 SECUP_E_KEY_EXPOSED \
        "$AU" create --key loose.pem --image fw30.bin --seq 40 --vendor-domain example.com --class cam-v2 --out x.suit
done
chmod 644 loose.pem
check_msg "the message names the file and its mode" 4 "'loose.pem' has mode 0644" \
    "$AU" create --key loose.pem --image fw30.bin --seq 40 --vendor-domain example.com --class cam-v2 --out x.suit
check "and by sign" 4 SECUP_E_KEY_EXPOSED "$AU" sign r1.suit --key loose.pem --image fw30.bin --out x.suit
echo 6161616161616161616161616161616161616161616161616161616161616161 > mac.hex
chmod 644 mac.hex
check "an HMAC secret readable by others is refused" 4 SECUP_E_KEY_EXPOSED \
    "$AU" create --hmac-key mac.hex --image fw30.bin --seq 40 --vendor-domain example.com --class cam-v2 --out x.suit
ln -s loose.pem link.pem
check "a symbolic link to a loose key is judged by its target" 4 SECUP_E_KEY_EXPOSED \
    "$AU" create --key link.pem --image fw30.bin --seq 40 --vendor-domain example.com --class cam-v2 --out x.suit
check "no key file is written or changed by the refusal" 0 "" test "$(stat -c %a loose.pem)" = 644
check "nothing written" 1 "" test -e x.suit
chmod 600 loose.pem
check "mode 600 signs" 0 "" "$AU" create -q --key loose.pem --image fw30.bin --seq 40 --vendor-domain example.com \
    --class cam-v2 --out x.suit
check "the help of create names no override" 1 "" sh -c "'$AU' create --help | grep -qi 'insecure\|allow-loose\|force-key'"

# PKCS#11: the signing key lives in a SoftHSM token the test creates; no key file at all
# (scripts/deps --test installs softhsm2 and libengine-pkcs11-openssl; missing, this fails)
MOD=/usr/lib/softhsm/libsofthsm2.so
check "softhsm2 and the OpenSSL pkcs11 engine are installed" 0 "" sh -c \
    "command -v softhsm2-util && test -e $MOD && ls /usr/lib/*/engines-3/pkcs11.so"
mkdir -p hsm
printf 'directories.tokendir = %s/hsm\nobjectstore.backend = file\nlog.level = ERROR\n' "$PWD" > softhsm2.conf
export SOFTHSM2_CONF=$PWD/softhsm2.conf
softhsm2-util --init-token --free --label secup --pin 4321 --so-pin 87654321 >/dev/null 2>&1
"$AU" keygen --alg esp256 --out hsm-key.pem >/dev/null
softhsm2-util --import hsm-key.pem --token secup --label release --id 01 --pin 4321 >/dev/null 2>&1
rm -f hsm-key.pem
check "the private key is only in the token" 1 "" test -e hsm-key.pem
echo 4321 > pin.txt && chmod 600 pin.txt
URI="pkcs11:token=secup;object=release;type=private"
check "create signs through PKCS#11" 0 "" "$AU" create -q --key "$URI?module-path=$MOD&pin-source=file:pin.txt" \
    --image fw30.bin --seq 50 --vendor-domain example.com --class cam-v2 --out hsm.suit
check "the token-signed envelope verifies with its public key" 0 "" "$AU" verify hsm.suit --pub hsm-key.pub.pem --image fw30.bin
check "sign (co-sign) through PKCS#11" 0 "" "$AU" sign -q r1.suit --key "$URI?module-path=$MOD&pin-source=pin.txt" \
    --image fw30.bin --out hsm-co.suit
check "the co-signature verifies" 0 "" "$AU" verify hsm-co.suit --pub hsm-key.pub.pem
rm -f x.suit
echo 1111 > badpin.txt && chmod 600 badpin.txt
check "a wrong PIN signs nothing" 3 SECUP_E_KEY_FORMAT "$AU" create --key "$URI?module-path=$MOD&pin-source=badpin.txt" \
    --image fw30.bin --seq 51 --vendor-domain example.com --class cam-v2 --out x.suit
check "an object the token does not hold" 3 SECUP_E_KEY_FORMAT "$AU" create \
    --key "pkcs11:token=secup;object=nothing;type=private?module-path=$MOD&pin-source=pin.txt" \
    --image fw30.bin --seq 51 --vendor-domain example.com --class cam-v2 --out x.suit
chmod 644 pin.txt
check "a PIN file others may read is refused" 4 SECUP_E_KEY_EXPOSED "$AU" create \
    --key "$URI?module-path=$MOD&pin-source=pin.txt" --image fw30.bin --seq 51 --vendor-domain example.com \
    --class cam-v2 --out x.suit
check "a PIN on the command line (pin-value) is refused" 3 SECUP_E_VALUE "$AU" create \
    --key "$URI?module-path=$MOD&pin-value=4321" --image fw30.bin --seq 51 --vendor-domain example.com \
    --class cam-v2 --out x.suit
check "nothing written" 1 "" test -e x.suit

echo "threats author: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
