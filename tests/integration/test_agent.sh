#!/usr/bin/env bash
# secup-agent black-box: local installs, trial boots, health checks, fallback, rollback
# protection, safe mode, tampering between install and boot, interrupted trial boots, and
# damaged state copies. Real files, real keys, the state-file bootloader backend.
# Usage: test_agent.sh PATH/TO/secup-agent PATH/TO/secup-author
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author}")
AU=$(realpath "${2:?usage: $0 secup-agent secup-author}")
FLIP=$(dirname "$(realpath "$0")")/flip_byte
work=$(mktemp -d /tmp/secup-agent.XXXXXX)
trap 'umount "$work/small" 2>/dev/null; rm -rf "$work"' EXIT
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
refuse() { # description command...: any refusal (exit 1-4) with an error code, nothing installed
    local desc=$1
    shift
    local out st
    out=$("$@" 2>&1); st=$?
    if [ "$st" -lt 1 ] || [ "$st" -gt 4 ] || ! grep -q '\[SECUP_E_' <<<"$out" || grep -q installed <<<"$out"; then
        echo "FAIL: $desc: exit $st"; echo "$out" | sed 's/^/    /'; fail=$((fail + 1)); return
    fi
    pass=$((pass + 1))
}
field() { "$AG" --config dev.json status --json | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

mkdir -p keys slots state
"$AU" keygen --alg esp256 --out keys/author.pem >/dev/null
"$AU" keygen --alg ed25519 --out keys/other.pem >/dev/null
"$AU" keygen --alg x25519 --out keys/device.pem >/dev/null
cat > dev.json <<JSON
{ "device": { "id": "cam-7", "key": "keys/device.pem", "vendor-domain": "example.com", "class": "cam-v2" },
  "state-dir": "state",
  "bootloader": { "type": "statefile", "path": "state/boot" },
  "health-check": { "command": ["/bin/sh", "-c", "test ! -e $work/unhealthy"], "timeout": 10 },
  "boot-attempts": 2,
  "components": [ { "name": "firmware", "slots": ["slots/a.img", "slots/b.img"], "slot-size": 4000000 } ],
  "trust": [ { "name": "release", "key": "keys/author.pub.pem" } ] }
JSON
make_pkg() { # seq out [extra author options]
    local seq=$1 out=$2
    shift 2
    head -c $((300000 + seq * 1000)) /dev/urandom > fw$seq.bin
    "$AU" create -q --key keys/author.pem --image fw$seq.bin --seq $seq --vendor-domain example.com \
        --class cam-v2 --version 1.$seq.0 "$@" --out $out
}

check "check-config" 0 "OK: device cam-7" "$AG" --config dev.json check-config
check "a new device has nothing to boot: safe mode" 1 "safe mode" "$AG" --config dev.json boot
check "status shows safe mode" 0 "SAFE MODE" "$AG" --config dev.json status

make_pkg 1 v1.suit --uri https://x/fw1.bin
check "install v1 (payload beside the envelope)" 0 "installed sequence 1" "$AG" --config dev.json install v1.suit --payload fw1.bin
check "v1 is on trial in slot B" 0 "trial B" "$AG" --config dev.json status
check "a second install during a trial is refused" 2 "on trial" "$AG" --config dev.json install v1.suit --payload fw1.bin
check "boot: trial, health check, confirm" 0 "confirmed" "$AG" --config dev.json boot
check "v1 runs from slot B" 0 "runs slot B: sequence 1, version 1.1.0" "$AG" --config dev.json status
check "the slot holds exactly the image" 0 "" cmp <(head -c $(stat -c %s fw1.bin) slots/b.img) fw1.bin
check "a confirmed device boots quietly" 0 "" "$AG" --config dev.json boot
check "floor raised to 1" 0 "" test "$(field "d['components'][0]['floors']['release']")" = 1

# THREAT: T8
check "the same sequence again: rollback refused" 1 "SECUP_E_ROLLBACK" "$AG" --config dev.json install v1.suit --payload fw1.bin
make_pkg 2 v2.suit --uri https://x/fw2.enc --encrypt-for keys/device.pub.pem --compress --payload-out fw2.enc
check "install v2 encrypted for this device and compressed" 0 "installed sequence 2" "$AG" --config dev.json install v2.suit --payload fw2.enc
check "v2 went to the inactive slot A" 0 "trial A" "$AG" --config dev.json status
check "slot A holds v2's plaintext" 0 "" cmp <(head -c $(stat -c %s fw2.bin) slots/a.img) fw2.bin
# THREAT: F11
touch unhealthy
check "boot: v2's health check fails, the device falls back" 1 "health check failed" "$AG" --config dev.json boot
rm -f unhealthy
check "v1 still runs after the fallback" 0 "runs slot B: sequence 1" "$AG" --config dev.json status
check "the reason is recorded" 0 "health check failed" "$AG" --config dev.json status
check "the floor did not move" 0 "" test "$(field "d['components'][0]['floors']['release']")" = 1

make_pkg 3 v3.suit --integrate --encrypt-for keys/device.pub.pem --payload-out fw3.enc
check "install v3 with an integrated encrypted payload" 0 "installed sequence 3" "$AG" --config dev.json install v3.suit
# THREAT: C7
# the image is replaced between installation and boot (THREATS.md C7)
printf 'X' | dd of=slots/a.img bs=1 seek=777 conv=notrunc status=none
check "boot refuses the tampered trial image" 0 "failed verification" "$AG" --config dev.json boot
check "still v1" 0 "runs slot B: sequence 1" "$AG" --config dev.json status

make_pkg 4 v4.suit --integrate
check "install v4" 0 "" "$AG" --config dev.json install v4.suit
# THREAT: F11
# the device dies during the health check, twice (the attempt budget is 2)
sed 's|"test ! -e [^"]*"|"kill -9 $PPID"|' dev.json > dying.json
check "trial boot 1 dies" 137 "" "$AG" --config dying.json boot
check "trial boot 2 dies" 137 "" "$AG" --config dying.json boot
check "attempts exhausted: fallback" 0 "attempts exhausted" "$AG" --config dev.json boot
check "v1 again" 0 "runs slot B: sequence 1" "$AG" --config dev.json status

make_pkg 5 v5.suit --integrate
check "install v5" 0 "" "$AG" --config dev.json install v5.suit
check "boot v5" 0 "confirmed" "$AG" --config dev.json boot
check "v5 runs from A, floor 5" 0 "runs slot A: sequence 5" "$AG" --config dev.json status

# THREAT: T1 C2
# packages that are not for this device or not authentic
head -c 1000 /dev/urandom > small.bin
"$AU" create -q --key keys/author.pem --image small.bin --seq 9 --vendor-domain example.org --class cam-v2 --integrate --out vendor.suit
check "another vendor's package" 1 "SECUP_E_VENDOR" "$AG" --config dev.json install vendor.suit
"$AU" create -q --key keys/author.pem --image small.bin --seq 9 --vendor-domain example.com --class cam-v3 --integrate --out class.suit
check "another class's package" 1 "SECUP_E_CLASS" "$AG" --config dev.json install class.suit
"$AU" create -q --key keys/other.pem --image small.bin --seq 9 --vendor-domain example.com --class cam-v2 --integrate --out other.suit
check "a package signed by an unknown key" 1 "SECUP_E_KEY_UNKNOWN" "$AG" --config dev.json install other.suit
cp v5.suit flipped.suit && "$FLIP" flipped.suit 150
refuse "a flipped byte in the manifest" "$AG" --config dev.json install flipped.suit
head -c 100 v5.suit > cut.suit
check "a truncated envelope" 3 "SECUP_E_CBOR" "$AG" --config dev.json install cut.suit
"$AU" create -q --key keys/author.pem --image small.bin --seq 10 --vendor-domain example.com --class cam-v2 --uri https://x/y --out nopayload.suit
check "a payload that is not given" 3 "give it with --payload" "$AG" --config dev.json install nopayload.suit
refuse "a payload that does not match" "$AG" --config dev.json install nopayload.suit --payload fw1.bin
check "refusals left v5 running" 0 "runs slot A: sequence 5" "$AG" --config dev.json status
check "v5 still boots" 0 "" "$AG" --config dev.json boot

# THREAT: F12 F13
# bit rot in the running image: the other slot takes over only if it verifies
printf 'Y' | dd of=slots/a.img bs=1 seek=10 conv=notrunc status=none
check "the running image rotted and slot B was overwritten earlier: safe mode" 1 "safe mode" "$AG" --config dev.json boot
check "status says why" 0 "no slot holds a verified image" "$AG" --config dev.json status
make_pkg 6 v6.suit --integrate
check "install v6 in safe mode" 0 "installed sequence 6" "$AG" --config dev.json install v6.suit
check "boot v6 leaves safe mode" 0 "confirmed" "$AG" --config dev.json boot
check "no more safe mode" 0 "runs slot" "$AG" --config dev.json status

# THREAT: F13
# damaged state: one copy is survived, two mean safe mode
printf 'Z' | dd of=state/state.A bs=1 seek=30 conv=notrunc status=none
check "one bad state copy is survived" 0 "one state copy was bad" "$AG" --config dev.json status
printf 'Z' | dd of=state/state.B bs=1 seek=30 conv=notrunc status=none
check "two bad state copies: safe mode" 0 "SAFE MODE" "$AG" --config dev.json status

# a device whose key also signs: every procedure leaves a signed status report
"$AU" keygen --alg esp256 --out keys/device-p.pem >/dev/null
sed 's|keys/device.pem|keys/device-p.pem|; s|"state"|"state2"|; s|state/boot|state2/boot|; s|slots/a.img|slots/a2.img|; s|slots/b.img|slots/b2.img|' dev.json > dev2.json
mkdir -p state2
make_pkg 7 v7.suit --integrate
check "install on the signing device" 0 "installed" "$AG" --config dev2.json install v7.suit
check "a report was written" 0 "" test -s state2/status.cose
check "report on demand" 0 "signed status report" "$AG" --config dev2.json report --out r.cose
verify_report() {
    /usr/bin/python3 - "$1" keys/device-p.pub.pem <<'PY'
import sys, cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
msg = cbor2.loads(open(sys.argv[1], "rb").read())
assert msg.tag == 18, "not a COSE_Sign1"
prot, unprot, payload, sig = msg.value
tbs = cbor2.dumps(["Signature1", prot, b"", payload])
key = serialization.load_pem_public_key(open(sys.argv[2], "rb").read())
key.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")), tbs, ec.ECDSA(hashes.SHA256()))
st = cbor2.loads(payload)
assert st[2] == "cam-7" and unprot[4] == b"cam-7", st
assert st[5][0][2] == 0 or st[5][0][2] >= 0
print("report", st[3], "from", st[2], "last", st[6][2])
PY
}
check "the report verifies with the device's public key (independent check)" 0 "from cam-7" verify_report r.cose
check "reports count up" 0 "" test "$(verify_report r.cose | cut -d' ' -f2)" -gt "$(verify_report state2/status.cose | cut -d' ' -f2)"

# THREAT: C11
# an image one byte longer than the manifest declares
head -c 200000 /dev/urandom > fw8.bin
"$AU" create -q --key keys/author.pem --image fw8.bin --seq 8 --vendor-domain example.com --class cam-v2 --uri https://x/8 --out v8.suit
cp fw8.bin fw8-long.bin && printf 'x' >> fw8-long.bin
check "boot v7 on the signing device" 0 "confirmed" "$AG" --config dev2.json boot
check "one byte more than declared" 3 "SECUP_E_OVERLONG" "$AG" --config dev2.json install v8.suit --payload fw8-long.bin
check "the reason is in the status" 0 "SECUP_E_OVERLONG" "$AG" --config dev2.json status
check "the device still boots its image" 0 "" "$AG" --config dev2.json boot
check "and runs sequence 7" 0 "runs slot B: sequence 7" "$AG" --config dev2.json status

# pre-shared AES-KW device keys (A128KW and A256KW, chosen by kid) beside the ECDH key
mkdir -p state6
openssl rand -hex 16 > keys/fleet1.hex
openssl rand -hex 32 > keys/fleet2.hex
openssl rand -hex 16 > keys/stranger.hex
sed 's|"key": "keys/device-p.pem",|"key": "keys/device-p.pem", "keks": [ { "kid": "fleet-1", "key": "keys/fleet1.hex" }, { "kid": "fleet-2", "key": "keys/fleet2.hex" } ],|; s|"state2"|"state6"|; s|state2/boot|state6/boot|; s|slots/a2.img|slots/a6.img|; s|slots/b2.img|slots/b6.img|' dev2.json > dev6.json
check "check-config with two pre-shared keys" 0 "OK" "$AG" --config dev6.json check-config
make_pkg 11 kw1.suit --uri https://x/kw1 --kek keys/fleet1.hex --kid fleet-1 --payload-out kw1.enc
check "install a payload encrypted for the A128KW key fleet-1" 0 "installed sequence 11" "$AG" --config dev6.json install kw1.suit --payload kw1.enc
check "the slot holds its plaintext" 0 "" cmp <(head -c $(stat -c %s fw11.bin) slots/b6.img) fw11.bin
check "and it boots" 0 "confirmed" "$AG" --config dev6.json boot
make_pkg 12 kw2.suit --integrate --kek keys/fleet2.hex --kid fleet-2 --compress --payload-out kw2.enc
check "install an integrated, compressed payload for the A256KW key fleet-2" 0 "installed sequence 12" "$AG" --config dev6.json install kw2.suit
check "the slot holds its plaintext" 0 "" cmp <(head -c $(stat -c %s fw12.bin) slots/a6.img) fw12.bin
check "and it boots" 0 "confirmed" "$AG" --config dev6.json boot
make_pkg 13 kw3.suit --integrate --kek keys/stranger.hex --kid fleet-9 --payload-out kw3.enc
check "a payload for a kid this device does not have" 1 "SECUP_E_NO_RECIPIENT" "$AG" --config dev6.json install kw3.suit
make_pkg 14 kw4.suit --integrate --kek keys/stranger.hex --kid fleet-1 --payload-out kw4.enc
check "a payload for kid fleet-1 wrapped with another key" 1 "SECUP_E_UNWRAP" "$AG" --config dev6.json install kw4.suit
check "the refusals left sequence 12 running, nothing on trial" 0 "runs slot A: sequence 12, version 1.12.0; trial none" "$AG" --config dev6.json status
check "the floor stayed at 12" 0 "" test "$("$AG" --config dev6.json status --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['components'][0]['floors']['release'])")" = 12
echo "00112233" > keys/short.hex
sed 's|keys/fleet2.hex|keys/short.hex|' dev6.json > dev6b.json
make_pkg 17 kw6.suit --integrate --kek keys/fleet1.hex --kid fleet-1 --payload-out kw6.enc
check "a key-encryption key file of the wrong length" 3 "fleet-2.*16 or 32 bytes" "$AG" --config dev6b.json install kw6.suit
sed 's|"kid": "fleet-2"|"kid": "fleet-1"|' dev6.json > dev6c.json
check "a kid given twice" 3 "SECUP_E_DUPLICATE" "$AG" --config dev6c.json check-config
sed 's|"device": { "id": "cam-7", "key": "keys/device-p.pem", |"device": { "id": "cam-7", |' dev6.json > dev6d.json
make_pkg 15 kw5.suit --integrate --kek keys/fleet1.hex --kid fleet-1 --payload-out kw5.enc
check "a device with pre-shared keys only (no device.key) installs for them" 0 "installed sequence 15" "$AG" --config dev6d.json install kw5.suit
check "and boots it" 0 "confirmed" "$AG" --config dev6d.json boot
make_pkg 16 ecdh.suit --integrate --encrypt-for keys/device-p.pub.pem --payload-out ecdh.enc
check "but a payload for the ECDH key it lacks is refused" 1 "no key of this device\\|not encrypted for any key" "$AG" --config dev6d.json install ecdh.suit

# the boot stage runs the kept manifest's validate and invoke sequences: a kept envelope
# that no longer verifies means the image is not trusted
check "the envelope of the running image is kept" 0 "" test -s state2/firmware-B.suit
# THREAT: C14
cp state2/firmware-B.suit keep.suit
"$FLIP" state2/firmware-B.suit 140
check "boot refuses an image whose kept manifest was altered" 1 "safe mode" "$AG" --config dev2.json boot
cp keep.suit state2/firmware-B.suit
check "with its manifest intact the image boots again" 0 "" "$AG" --config dev2.json boot
check "and safe mode is left" 0 "runs slot B: sequence 7" "$AG" --config dev2.json status

# the GRUB environment as the bootloader's record
if command -v grub-editenv >/dev/null; then
    mkdir -p state3
    grub-editenv state3/grubenv create
    sed 's|"statefile", "path": "state2/boot"|"grub", "path": "state3/grubenv"|; s|"state2"|"state3"|' dev2.json > dev3.json
    check "install with the GRUB backend" 0 "installed" "$AG" --config dev3.json install v7.suit
    check "grubenv records the trial" 0 "secup_firmware_trial=" grub-editenv state3/grubenv list
    check "boot with the GRUB backend" 0 "confirmed" "$AG" --config dev3.json boot
    check "grubenv records the new active slot" 0 "secup_firmware_active=" grub-editenv state3/grubenv list
    check "the trial is gone from grubenv" 1 "" grep -q "secup_firmware_trial=[01]" <(grub-editenv state3/grubenv list)
else
    echo "FAIL: grub-editenv is missing (scripts/deps --test installs grub-common)"; fail=$((fail + 1))
fi

# the U-Boot environment (a real environment image, read and written by fw_printenv/fw_setenv)
if command -v mkenvimage >/dev/null && command -v fw_printenv >/dev/null; then
    mkdir -p state5
    echo "bootdelay=3" > state5/env.txt
    mkenvimage -s 0x4000 -o state5/uboot.env state5/env.txt
    echo "$work/state5/uboot.env 0x0000 0x4000" > state5/fw_env.config
    sed 's|"statefile", "path": "state2/boot"|"uboot", "path": "state5/fw_env.config"|; s|"state2"|"state5"|' dev2.json > dev5.json
    check "install with the U-Boot backend" 0 "installed" "$AG" --config dev5.json install v7.suit
    check "the U-Boot environment records the trial" 0 "secup_firmware_trial=1" fw_printenv -c state5/fw_env.config
    check "boot with the U-Boot backend" 0 "confirmed" "$AG" --config dev5.json boot
    check "U-Boot's own variables are kept" 0 "bootdelay=3" fw_printenv -c state5/fw_env.config
    check "the U-Boot environment records the new active slot" 0 "secup_firmware_active=1" fw_printenv -c state5/fw_env.config
else
    echo "FAIL: mkenvimage or fw_printenv is missing (scripts/deps --test installs them)"; fail=$((fail + 1))
fi

# THREAT: F7
# the slot's file system is too small for the image: refused before anything is written
# (the statvfs pre-check; a write failing mid-image: tests/threats/test_install.sh)
if [ "$(id -u)" = 0 ] && mkdir -p small && mount -t tmpfs -o size=150k tmpfs small 2>/dev/null; then
    sed 's|slots/a2.img|small/a.img|; s|slots/b2.img|small/b.img|; s|"state2"|"state4"|; s|state2/boot|state4/boot|' dev2.json > dev4.json
    mkdir -p state4
    head -c 40000 /dev/urandom > fw9.bin
    "$AU" create -q --key keys/author.pem --image fw9.bin --seq 9 --vendor-domain example.com --class cam-v2 --integrate --out v9.suit
    check "a small install fits" 0 "installed" "$AG" --config dev4.json install v9.suit
    check "and boots" 0 "confirmed" "$AG" --config dev4.json boot
    "$AU" create -q --key keys/author.pem --image fw8.bin --seq 10 --vendor-domain example.com --class cam-v2 --integrate --out v10.suit
    check "the disk fills up: refused" 4 "no space left" "$AG" --config dev4.json install v10.suit
    check "the reason is recorded" 0 "no space left" "$AG" --config dev4.json status
    check "the running image is intact and boots" 0 "" "$AG" --config dev4.json boot
    check "sequence 9 still runs" 0 "runs slot B: sequence 9" "$AG" --config dev4.json status
    umount small
else
    echo "note: not root or no tmpfs: the disk-full case was not run"
fi

echo "agent: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
