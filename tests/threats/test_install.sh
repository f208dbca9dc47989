#!/usr/bin/env bash
# The agent's install robustness (THREATS.md T8, C4, C11, C14, F7, F10): a state file
# restored from an older copy against the secure counter, a newer sequence carrying an older
# version, images aimed outside the inactive slot, residue and extra bytes around an image,
# the stored envelope altered between verification and use, a full slot file system, and a
# manifest whose install always fails commanded again and again. The offline cases run the
# real secup-agent on file slots; the error loop runs the online agent against the world of
# test_network.sh (common.sh). The invariants of THREATS.md section 2 are checked after each.
# Usage: test_install.sh secup-agent secup-author secup-server sign_command
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author secup-server sign_command}")
A=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
SIGN=$(realpath "${4:?}")
HERE=$(cd "$(dirname "$0")" && pwd)
INTEG=$(cd "$HERE/../integration" && pwd)
CRAFT="$INTEG/suit_craft.py"
FLIP="$INTEG/flip_byte"
SECUP_TEST_NAME=threats-install
# shellcheck source=tests/integration/check.sh
. "$INTEG/check.sh"
# shellcheck source=tests/threats/common.sh
. "$HERE/common.sh"
trap 'umount "$work/off/small" 2>/dev/null; cleanup' EXIT

# ============================ offline: one device, file slots ============================
mkdir -p off && cd off || exit 1
mkdir -p keys slots state nv
"$A" keygen --alg esp256 --out keys/author.pem >/dev/null
"$A" keygen --alg esp256 --out keys/data.pem >/dev/null
cat > dev.json <<JSON
{ "device": { "id": "cam-5", "vendor-domain": "example.com", "class": "cam-v2" },
  "state-dir": "state", "bootloader": { "type": "statefile", "path": "state/boot" },
  "secure-counter": "nv/counter",
  "components": [ { "name": "firmware", "slots": ["slots/a", "slots/b"], "slot-size": 400000 },
                  { "name": "data", "slots": ["slots/c", "slots/d"], "slot-size": 100000, "staging": true } ],
  "trust": [ { "name": "release", "key": "keys/author.pub.pem", "components": ["firmware"] },
             { "name": "data-signer", "key": "keys/data.pub.pem", "components": ["data"] } ] }
JSON
st_field() { "$AG" --config "${CFG:-dev.json}" status --json | $PY -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
counter() { $PY -c "import json,sys; t=open(sys.argv[1]).read(); print(json.loads(t[:t.rindex('sha256:')])['secure-counter'])" nv/counter; }
generation() { $PY -c "import json,sys; t=open(sys.argv[1]).read(); print(json.loads(t[:t.rindex('sha256:')])['generation'])" "$1"; }
# pkg SEQ SIZE VERSION: fw$SEQ.bin and v$SEQ.suit (integrated payload)
pkg() {
    head -c "$2" /dev/urandom > "fw$1.bin"
    "$A" create -q --key keys/author.pem --image "fw$1.bin" --seq "$1" --version "$3" --vendor-domain example.com \
        --class cam-v2 --integrate --out "v$1.suit"
}
# every file an install must not touch but the inactive slot (INV-2, C4): slots, the
# bootloader's record, the keys (the secure counter follows every state save, also the one
# that records a refusal)
fingerprint() { sha256sum slots/* state/boot keys/* 2>/dev/null; }
# unchanged DESC BEFORE: nothing of fingerprint() changed, and the device still boots what ran
unchanged() {
    ok "$1: no slot, bootloader record, key or counter changed" [ "$(fingerprint)" = "$2" ]
    ok "$1: INV-1 still runs sequence $RUN, nothing on trial, no safe mode" \
        [ "$(st_field 'd["components"][0]["running-seq"], d["components"][0]["trial"], d["safe-mode"]')" = "($RUN, None, False)" ]
    ok "$1: INV-8 no temporary files" [ -z "$(find state slots nv -name '*.tmp*' | head -1)" ]
}
# only_slot DESC BEFORE PATH: of fingerprint(), only PATH and the bootloader record changed
only_slot() {
    local changed
    changed=$(diff <(echo "$2") <(fingerprint) | sed -n 's/^> [0-9a-f]*  //p' | sort | tr '\n' ' ')
    ok "$1: only $3 (and the bootloader's record of the trial) changed: $changed" \
        [ "$changed" = "$3 state/boot " ] || [ "$changed" = "$3 " ]
}
COUNTERS=()
note_counter() { COUNTERS+=("$(counter)"); }

# ---- the secure counter follows the state ----------------------------------------------
pkg 1 300000 1.1.0
check "install v1 (300000 bytes)" 0 "" "$AG" --config dev.json install v1.suit
check "boot v1" 0 "" "$AG" --config dev.json boot
RUN=1
# THREAT: T8
ok "T8 the secure counter exists outside the state directory" [ -s nv/counter ]
ok "T8 the counter holds the state's generation" [ "$(counter)" = "$(generation state/state.A)" ]
note_counter
cp -a state old-state
pkg 2 300000 1.2.0
check "install v2 (300000 bytes, slot A)" 0 "" "$AG" --config dev.json install v2.suit
check "boot v2" 0 "" "$AG" --config dev.json boot
note_counter

# ---- C11: a shorter image over the residue of a longer one ----------------------------
# THREAT: C11
pkg 3 1000 1.3.0
ok "C11 slot B still holds v1's 300000 bytes" [ "$(stat -c %s slots/b)" = 300000 ]
check "install v3 (1000 bytes) into slot B" 0 "" "$AG" --config dev.json install v3.suit
ok "C11 slot B ends where v3 ends: no residue of v1" [ "$(stat -c %s slots/b)" = 1000 ]
ok "C11 slot B is exactly v3" cmp -s slots/b fw3.bin
check "boot v3" 0 "" "$AG" --config dev.json boot
RUN=3
ok "C11 v3 runs" [ "$(st_field 'd["components"][0]["running-seq"]')" = 3 ]
note_counter

# ---- T8: an older copy of the state restored ------------------------------------------
# THREAT: T8
cp -a state cur-state
BEFORE=$(fingerprint)
CBEFORE=$(counter)
rm -rf state && cp -a old-state state
check "T8 status on a restored older state: refused" 1 SECUP_E_STATE_ROLLBACK "$AG" --config dev.json status
check "T8 the older v2 (floor 1 in the restored state) is not installed" 1 SECUP_E_STATE_ROLLBACK \
    "$AG" --config dev.json install v2.suit
check "T8 boot on the restored state: refused" 1 SECUP_E_STATE_ROLLBACK "$AG" --config dev.json boot
ok "T8 the refusal names generation and counter" \
    grep -q "generation $(generation old-state/state.A), below the secure counter" <("$AG" --config dev.json status 2>&1)
ok "T8 nothing was written: slots, bootloader record, keys" [ "$(fingerprint)" = "$BEFORE" ]
ok "T8 ... nor the counter" [ "$(counter)" = "$CBEFORE" ]
ok "T8 the restored copies were left as they were" cmp -s state/state.A old-state/state.A
rm -rf state && cp -a cur-state state
cp old-state/state.A state/state.A
check "T8 one copy restored, the other current: the current one is used" 0 "" "$AG" --config dev.json status
ok "T8 ... with the current floor 3" [ "$(st_field 'd["components"][0]["floors"]["release"]')" = 3 ]
check "T8 ... and the older v2 is refused by the floor" 1 SECUP_E_ROLLBACK "$AG" --config dev.json install v2.suit
rm -rf cur-state && cp -a state cur-state # the refusal was recorded: a newer generation
rm state/state.A state/state.B
check "T8 the state removed: refused, not started again from nothing" 1 SECUP_E_STATE_ROLLBACK \
    "$AG" --config dev.json install v2.suit
ok "T8 the refusal says the state was removed" grep -q "removed or lost" <("$AG" --config dev.json status 2>&1)
rm -rf state && cp -a cur-state state
cp nv/counter counter.keep
"$FLIP" nv/counter 20
check "T8 a damaged secure counter: refused" 1 SECUP_E_STATE_ROLLBACK "$AG" --config dev.json status
cp counter.keep nv/counter
check "T8 INV-7 the intact state and counter work again" 0 "" "$AG" --config dev.json boot
unchanged "T8 restored state" "$BEFORE"
note_counter

# ---- T8: a newer sequence carrying an older version -----------------------------------
pkg 4 2000 1.0.9
BEFORE=$(fingerprint)
check "T8 sequence 4 with version 1.0.9 below the running 1.3.0: refused" 1 SECUP_E_ROLLBACK \
    "$AG" --config dev.json install v4.suit
ok "T8 the reason names both versions" grep -q "version 1.0.9 is older than the running 1.3.0" <("$AG" --config dev.json status)
unchanged "T8 version downgrade" "$BEFORE"
ok "T8 INV-3 floor still 3" [ "$(st_field 'd["components"][0]["floors"]["release"]')" = 3 ]
note_counter

# ---- C11: bytes appended after a valid image -------------------------------------------
# THREAT: C11
printf 'appended after the image' >> slots/b
check "C11 bytes appended to the running slot: the boot stage reads exactly the signed size" 0 "" \
    "$AG" --config dev.json boot
ok "C11 v3 still runs" [ "$(st_field 'd["components"][0]["running-seq"], d["safe-mode"]')" = "(3, False)" ]
head -c 5000 /dev/urandom > fw5.bin
"$A" create -q --key keys/author.pem --image fw5.bin --seq 5 --version 1.5.0 --vendor-domain example.com \
    --class cam-v2 --uri https://x/fw5 --out v5.suit
cp fw5.bin fw5-long.bin && printf 'x' >> fw5-long.bin
BEFORE=$(fingerprint)
check "C11 a payload one byte longer than the signed size: refused at install" 3 SECUP_E_OVERLONG \
    "$AG" --config dev.json install v5.suit --payload fw5-long.bin
ok "C11 the running slot was not touched" [ "$(grep ' slots/b$' <<<"$BEFORE")" = "$(sha256sum slots/b)" ]
check "C11 INV-7 the exact payload installs" 0 "" "$AG" --config dev.json install v5.suit --payload fw5.bin
ok "C11 slot A (300000 bytes of v2 before) holds exactly v5" cmp -s slots/a fw5.bin
check "boot v5" 0 "" "$AG" --config dev.json boot
RUN=5
pkg 6 3000 1.6.0
check "install v6 into slot B (v3 and the appended bytes)" 0 "" "$AG" --config dev.json install v6.suit
ok "C11 the appended bytes are gone with the next image" cmp -s slots/b fw6.bin
check "boot v6" 0 "" "$AG" --config dev.json boot
RUN=6
note_counter

# ---- C4: images aimed anywhere but the inactive slot ----------------------------------
# THREAT: C4
head -c 4000 /dev/urandom > img.bin
BEFORE=$(fingerprint)
# v6 runs from slot B (1): slot 1 is the active slot
$PY "$CRAFT" image active.suit --key keys/author.pem --seq 10 --image img.bin --slot 1
check "C4 a manifest meant for the active slot: refused" 1 SECUP_E_CONDITION "$AG" --config dev.json install active.suit
unchanged "C4 active slot" "$BEFORE"
$PY "$CRAFT" image big.suit --key keys/author.pem --seq 10 --image img.bin --declare-size 400001
check "C4 an image larger than the slot: refused before any write" 3 SECUP_E_LIMIT_SIZE \
    "$AG" --config dev.json install big.suit
unchanged "C4 out of the slot" "$BEFORE"
$PY "$CRAFT" image wrap.suit --key keys/author.pem --seq 10 --image img.bin --declare-size 18446744073709551615
out=$("$AG" --config dev.json install wrap.suit 2>&1); st=$?
ok "C4 an image size of 2^64-1 (offset + size overflows): refused with a code ($st: ${out##*[})" \
    [ "$st" -ge 1 ] && [ "$st" -le 4 ] && grep -q '\[SECUP_E_' <<<"$out"
unchanged "C4 size overflow" "$BEFORE"
$PY "$CRAFT" image other.suit --key keys/author.pem --seq 10 --image img.bin --target data
check "C4 the firmware's signer aims at the data component's slot: refused" 1 SECUP_E_POLICY \
    "$AG" --config dev.json install other.suit
unchanged "C4 another component's slot" "$BEFORE"
$PY "$CRAFT" image boot.suit --key keys/author.pem --seq 10 --image img.bin --target bootloader
check "C4 a component the device does not have (its boot stage): refused" 1 SECUP_E_POLICY \
    "$AG" --config dev.json install boot.suit
unchanged "C4 unknown component" "$BEFORE"
for bad in 's|"slots/c", "slots/d"|"slots/a", "slots/d"|:another component' \
           's|"slots/c", "slots/d"|"state/boot", "slots/d"|:the bootloader' \
           's|"slots/c", "slots/d"|"keys/author.pub.pem", "slots/d"|:a trust anchor' \
           's|"slots/c", "slots/d"|"nv/counter", "slots/d"|:the secure counter'; do
    sed "${bad%%:*}" dev.json > bad.json
    check "C4 a configuration whose slot is ${bad#*:}'s file: refused" 3 SECUP_E_VALUE "$AG" --config bad.json check-config
done
$PY "$CRAFT" image inactive.suit --key keys/author.pem --seq 10 --image img.bin --slot 0
check "C4 a manifest meant for the inactive slot A installs" 0 "" "$AG" --config dev.json install inactive.suit
only_slot "C4 inactive slot" "$BEFORE" slots/a
check "boot it" 0 "" "$AG" --config dev.json boot
RUN=10
note_counter

# ---- C14: the stored envelope altered between verification and use --------------------
# THREAT: C14
head -c 6000 /dev/urandom > fw11.bin
"$A" create -q --key keys/author.pem --image fw11.bin --seq 11 --version 1.11.0 --vendor-domain example.com \
    --class cam-v2 --uri https://x/fw11 --out v11.suit
pkg 12 7000 1.12.0
cp v11.suit v11.orig
rm -f pay.fifo && mkfifo pay.fifo
# the payload is read after the envelope was verified: when the agent opens it, the envelope
# file is replaced by another signed envelope (sequence 12, another image), then the payload
# of sequence 11 flows
timeout 60 bash -c 'exec 3>pay.fifo; cp v12.suit v11.suit; cat fw11.bin >&3' &
check "C14 install while the envelope file is replaced under it" 0 "" \
    "$AG" --config dev.json install v11.suit --payload pay.fifo
wait
ok "C14 the file now holds sequence 12's envelope" cmp -s v11.suit v12.suit
"$AG" --config dev.json status > c14.status
ok "C14 the install used the verified bytes: sequence 11 on trial" grep -q "last result: OK.*(sequence 11)" c14.status
ok "C14 the kept envelope is the verified one, byte for byte" cmp -s state/firmware-B.suit v11.orig
cp v11.orig again.suit
out=$("$AG" --config dev.json rollback 2>&1)
rm -f pay.fifo && mkfifo pay.fifo
timeout 60 bash -c 'exec 3>pay.fifo; cp v12.suit again.suit; cat fw11.bin >&3' &
out=$("$AG" --config dev.json install again.suit --payload pay.fifo 2>&1)
wait
ok "C14 the log names the SHA-256 of the verified bytes, not of the file afterwards" \
    grep -q "SHA-256 $(sha256sum v11.orig | cut -d' ' -f1); only this copy is used" <<<"$out"
ok "C14 ... which differs from the file's" [ "$(sha256sum v11.orig | cut -d' ' -f1)" != "$(sha256sum again.suit | cut -d' ' -f1)" ]
check "C14 boot verifies the kept envelope and confirms sequence 11" 0 "" "$AG" --config dev.json boot
RUN=11
ok "C14 sequence 11 runs" [ "$(st_field 'd["components"][0]["running-seq"]')" = 11 ]
sed 's|"state-dir": "state",|"state-dir": "state", "limits": { "max-envelope": 2048 },|' dev.json > tiny.json
BEFORE=$(fingerprint)
check "C14 an envelope above limits.max-envelope is refused before it is read" 3 SECUP_E_LIMIT_SIZE \
    "$AG" --config tiny.json install v12.suit
unchanged "C14 oversize" "$BEFORE"
note_counter

# ---- F7: a full slot file system --------------------------------------------------------
# THREAT: F7
if [ "$(id -u)" = 0 ] && mkdir -p small && mount -t tmpfs -o size=160k tmpfs small 2>/dev/null; then
    mkdir -p small-state
    sed 's|"slots/a", "slots/b"|"small/a", "small/b"|; s|"state"|"small-state"|; s|state/boot|small-state/boot|; s|nv/counter|nv/counter-small|' \
        dev.json > small.json
    CFG=small.json
    pkg 20 40000 2.0.0
    check "F7 a small install fits the 160 KiB file system" 0 "" "$AG" --config small.json install v20.suit
    check "F7 and boots" 0 "" "$AG" --config small.json boot
    pkg 21 150000 2.1.0
    free=$(( $(stat -f -c '%a * %S' small) ))
    sum_before=$(sha256sum small/* 2>/dev/null)
    out=$("$AG" --config small.json install v21.suit 2>&1); st=$?
    ok "F7 150000 signed bytes, $free free: refused before writing ($st)" [ "$st" = 4 ] && grep -q '\[SECUP_E_NOSPACE\]' <<<"$out"
    ok "F7 the message names what is needed and what is free" \
        grep -q "needs 150000 more bytes for the signed image of 150000 bytes, its file system has $free bytes free" <<<"$out"
    ok "F7 nothing was written: no slot A file" [ ! -e small/a ] && [ "$(sha256sum small/* 2>/dev/null)" = "$sum_before" ]
    ok "F7 INV-5 the code is in the recorded result" grep -q "SECUP_E_NOSPACE" <("$AG" --config small.json status)
    ok "F7 INV-1 sequence 20 runs, no trial" \
        [ "$(st_field 'd["components"][0]["running-seq"], d["components"][0]["trial"]')" = "(20, None)" ]
    umount small
    CFG=
else
    echo "note: not root or no tmpfs: the statvfs pre-check case was not run"
fi
# mid-write: the space seemed enough, the write fails anyway (a file size limit here; the
# ENOSPC of a file system that filled up meanwhile takes the same path)
pkg 22 120000 2.2.0
BEFORE=$(fingerprint)
out=$( (trap '' XFSZ; ulimit -f 60; exec "$AG" --config dev.json install v22.suit) 2>&1); st=$?
ok "F7 a write failing mid-image aborts with SECUP_E_IO ($st)" [ "$st" = 4 ] && grep -q '\[SECUP_E_IO\].*file size limit' <<<"$out"
ok "F7 the running slot B was not touched" [ "$(grep ' slots/b$' <<<"$BEFORE")" = "$(sha256sum slots/b)" ]
ok "F7 INV-1 sequence $RUN runs, nothing on trial" \
    [ "$(st_field 'd["components"][0]["running-seq"], d["components"][0]["trial"], d["safe-mode"]')" = "($RUN, None, False)" ]
ok "F7 the half-written slot A is not a verified image" [ "$(st_field 'd["components"][0]["slots"][0]["valid"]')" = False ]
ok "F7 INV-8 no temporary files" [ -z "$(find state slots nv -name '*.tmp*' | head -1)" ]
check "F7 the device still boots" 0 "" "$AG" --config dev.json boot
check "F7 INV-7 without the limit the same package installs" 0 "" "$AG" --config dev.json install v22.suit
check "F7 and boots" 0 "" "$AG" --config dev.json boot
RUN=22
note_counter

# THREAT: T8
# an older image staged for the boot stage: the bootloader's record switched to slot B,
# which holds sequence 11 (verified, but below the floor 22)
$PY - state/boot <<'PY'
import hashlib, re, sys
body = open(sys.argv[1]).read()
body = body[:body.rindex("sha256=")]
body = re.sub(r"^firmware active=0", "firmware active=1", body, flags=re.M)
open(sys.argv[1], "w").write(body + "sha256=" + hashlib.sha256(body.encode()).hexdigest() + "\n")
PY
ok "T8 the record now names slot B (sequence 11)" [ "$(st_field 'd["components"][0]["active"], d["components"][0]["running-seq"]')" = "('B', 11)" ]
check "T8 the boot stage does not boot the older image; it returns to slot A" 0 "" "$AG" --config dev.json boot
ok "T8 sequence 22 runs from slot A again" [ "$(st_field 'd["components"][0]["active"], d["components"][0]["running-seq"]')" = "('A', 22)" ]
ok "T8 the refusal is recorded with its code" [ "$(st_field 'd["last-result"]["code"]')" = SECUP_E_ROLLBACK ]
ok "T8 the reason names the sequence and the floor" grep -q "holds sequence 11, below the floor 22" <("$AG" --config dev.json status)
note_counter
ok "T8 INV-3 the secure counter never went down: ${COUNTERS[*]}" \
    $PY -c "import sys; v=[int(x) for x in sys.argv[1:]]; sys.exit(0 if v == sorted(v) and v[0] < v[-1] else 1)" "${COUNTERS[@]}"
ok "T8 and it equals the state's generation" [ "$(counter)" = "$(generation state/state.A)" ]
sed 's|"nv/counter"|"state/counter"|' dev.json > inside.json
check "T8 a secure counter inside the state directory is refused" 3 SECUP_E_VALUE "$AG" --config inside.json check-config
cd "$work" || exit 1

# ============================ online: the error loop ====================================
# THREAT: F10
start_world
sed -i 's|"state-dir": "state",|"state-dir": "state", "max-failures": 2,|' dev.json
image 2
snapshot
# every download of the payload is damaged: every install of sequence 2 fails its digest
rules '[{"match": "/payload", "action": "flip", "bits": 8, "seed": 11}]'
for _ in 1 2 3 4 5; do install 2; done
: > loop.log
for k in 1 2 3 4 5; do
    cycle "loop$k.log"
    cat "loop$k.log" >> loop.log
    ok "F10 cycle $k: the command fails (exit $st)" [ "$st" -ne 0 ]
done
ok "F10 five commands for the same manifest were delivered" [ "$(find trk/served -name "*.cose" | wc -l)" -ge 5 ]
ok "F10 exactly max-failures (2) install attempts" [ "$(grep -c "install: sequence 2 from" loop.log)" = 2 ]
ok "F10 ... both failed on the payload's digest" [ "$(grep -c "install failed: .*\[SECUP_E_DIGEST\]" loop.log)" = 2 ]
ok "F10 then the agent gives up: SECUP_E_GAVE_UP for the other three" \
    [ "$(grep -c "install failed: .*\[SECUP_E_GAVE_UP\]" loop.log)" = 3 ]
ok "F10 the give-up names the count and the last failure" \
    grep -q "failed 2 times in a row, last with SECUP_E_DIGEST" loop.log
ok "F10 no download after giving up" [ -z "$(grep -h "install: sequence 2" loop3.log loop4.log loop5.log)" ]
ok "F10 the final failure is reported to the tracker" [ "$(report 'd["last-code"]')" = SECUP_E_GAVE_UP ]
invariants "F10 error loop"
# another manifest is tried again (INV-7)
image 3
recovers 3 "F10 error loop"

echo "threats install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
