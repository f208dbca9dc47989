#!/usr/bin/env bash
# Random I/O errors over whole agent cycles (THREATS.md F6, harness FIU; as aktualizr's
# test_io_failure). Each run is one cycle of the device, install of the next release into
# the inactive slot and the boot that follows (trial, health check, confirm), each
# `secup-agent` process under
#     fiu-run -x -c 'enable_random name=posix/io/*,probability=P'
# (libfiu's POSIX preload: open, close, read, write, pread, pwrite, fsync, rename, unlink,
# readdir, ... fail at random with a plausible errno). Then, read without faults: both
# state copies and the bootloader's state file pass their checksums, the running image is
# the old or the new release and verifies against the state, the slot that ran before was
# not written, floors not lower, the trust anchors unchanged, no safe mode. Then a
# fault-free run (a reboot, the next release installed and booted) must succeed and leave
# no temporary files (INV-7, INV-8). Releases alternate between an integrated payload and
# a detached one, encrypted for the device and compressed.
#
# P: one cycle (install + boot) makes about 250 calls of the wrapped functions after the
# dynamic loader is done (counted once with strace -f over install and boot of a 32 KiB
# image, loader calls left out: install 127, boot 148 with the health check's), so the
# default P = 0.004 gives about one error per cycle (0.63 of the runs see one or more).
#
# Usage: test_fiu.sh secup-agent secup-author [RUNS] [P]
#   RUNS default 50 (CI); tests/threats/campaign.sh --fiu N runs the long campaign.
# Prints "threats fiu: N passed, M failed" and a line of figures ("fiu figures: ...").
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author [RUNS] [P]}")
A=$(realpath "${2:?usage: $0 secup-agent secup-author [RUNS] [P]}")
RUNS=${3:-50}
P=${4:-0.004}
HERE=$(cd "$(dirname "$0")" && pwd)
INTEG=$(cd "$HERE/../integration" && pwd)
SECUP_TEST_NAME=threats-fiu
# shellcheck source=tests/integration/check.sh
. "$INTEG/check.sh"
PY=/usr/bin/python3
command -v fiu-run >/dev/null || { echo "FAIL: fiu-run not found (scripts/deps --test installs fiu-utils)"; exit 1; }

# fiu-run replaces LD_PRELOAD; an agent built with AddressSanitizer wants its runtime
# first, so then the agent is started through env with the full list.
FIU_LIB=/usr/lib/fiu
asan=$(ldd "$AG" 2>/dev/null | awk '/libasan/ { print $3; exit }')
faulty() {
    local -a pre=()
    [ -n "$asan" ] && pre=(env "LD_PRELOAD=$asan $FIU_LIB/fiu_run_preload.so $FIU_LIB/fiu_posix_preload.so")
    # -f "": no control FIFOs in /tmp
    # a hang is a failure too (timeout exits 124)
    timeout -k 5 60 fiu-run -x -f "" -c "enable_random name=posix/io/*,probability=$P" "${pre[@]}" \
        "$AG" --config dev.json "$@"
}
ag() { "$AG" --config dev.json "$@"; }

"$A" keygen --alg esp256 --out author.pem >/dev/null
"$A" keygen --alg esp256 --out device.pem >/dev/null
mkdir -p slots state img
cat > dev.json <<'JSON'
{ "device": { "id": "fiu-1", "key": "device.pem", "vendor-domain": "example.com", "class": "fiu-v1" },
  "state-dir": "state", "bootloader": { "type": "statefile", "path": "state/boot" },
  "health-check": { "command": ["/bin/true"], "timeout": 10 },
  "boot-attempts": 2,
  "components": [ { "name": "firmware", "slots": ["slots/a", "slots/b"], "slot-size": 131072 } ],
  "trust": [ { "name": "release", "key": "author.pub.pem" } ] }
JSON
# release SEQ: img/fw$SEQ.bin and v$SEQ.suit (odd: integrated; even: encrypted, compressed
# and detached, p$SEQ.enc); sets $pkg to the install arguments
release() {
    local s=$1
    head -c $((16384 + RANDOM % 16384)) /dev/urandom > "img/fw$s.bin"
    if [ $((s % 2)) = 1 ]; then
        "$A" create -q --key author.pem --image "img/fw$s.bin" --seq "$s" --vendor-domain example.com \
            --class fiu-v1 --integrate --out "v$s.suit" || { echo "FAIL: author: release $s"; exit 1; }
        pkg=("v$s.suit")
    else
        "$A" create -q --key author.pem --image "img/fw$s.bin" --seq "$s" --vendor-domain example.com \
            --class fiu-v1 --uri "https://updates.example.com/p$s.enc" --encrypt-for device.pub.pem \
            --compress --payload-out "p$s.enc" --out "v$s.suit" || { echo "FAIL: author: release $s"; exit 1; }
        pkg=("v$s.suit" --payload "firmware=p$s.enc")
    fi
}
release 1
ag install "${pkg[@]}" >/dev/null && ag boot | grep -q confirmed || { echo "FAIL: first install"; exit 1; }
ag status --json > before.json || { echo "FAIL: status"; exit 1; }

# THREAT: F6
seq=1
disturbed=0
new_runs=0
old_runs=0
trial_runs=0
breaks=0
rerun_failed=0
declare -A codes=()
for run in $(seq 1 "$RUNS"); do
    old=$seq
    seq=$((seq + 1))
    release $seq
    act=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["components"][0]["active"].lower())' before.json)
    slotsum=$(sha256sum "slots/$act" | cut -d' ' -f1)
    # the faulty cycle
    { faulty install "${pkg[@]}"; echo "[install: exit $?]"; faulty boot; echo "[boot: exit $?]"; } > fault.log 2>&1
    grep -q "exit [1-9]" fault.log && disturbed=$((disturbed + 1))
    for c in $(grep -o '\[SECUP_E_[A-Z_]*\]' fault.log | tr -d '[]'); do codes[$c]=$(( ${codes[$c]:-0} + 1 )); done
    # read without faults
    ag status --json > after.json 2> status.err
    v=$($PY "$HERE/fiu_check.py" dev=. status=after.json before=before.json images=img \
        allowed="$old,$seq" slotsum="$slotsum" temps=0)
    grep -q "exit 124" fault.log && v="$v${v:+$'\n'}hang: a process of the cycle did not end within 60 s"
    now=$($PY -c 'import json,sys; c=json.load(open(sys.argv[1]))["components"][0]; print(c["running-seq"], c["trial"] is not None)' after.json 2>/dev/null)
    case $now in
    "$seq False") new_runs=$((new_runs + 1)) ;;
    "$old False") old_runs=$((old_runs + 1)) ;;
    *) trial_runs=$((trial_runs + 1)) ;;
    esac
    # the fault-free run: a reboot, then the next release installed and booted
    old=$seq
    seq=$((seq + 1))
    release $seq
    cp after.json mid.json 2>/dev/null
    { ag boot; echo "[reboot: exit $?]"; ag install "${pkg[@]}"; echo "[install: exit $?]"; ag boot; echo "[boot: exit $?]"; } > clean.log 2>&1
    if ! grep -q "install: exit 0" clean.log || ! grep -q "^boot: confirmed" clean.log; then
        v="$v${v:+$'\n'}INV-7 the fault-free run after it did not install and confirm sequence $seq"
        rerun_failed=$((rerun_failed + 1))
    fi
    ag status --json > before.json 2>> status.err
    v2=$($PY "$HERE/fiu_check.py" dev=. status=before.json before=mid.json images=img allowed="$seq" slotsum=- temps=1)
    [ -n "$v2" ] && v="$v${v:+$'\n'}$v2"
    if [ -z "$v" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        breaks=$((breaks + 1))
        echo "FAIL: run $run (sequence $((seq - 1)) under faults, $seq without):"
        sed 's/^/    /' <<<"$v"
        echo "  the cycle under random I/O errors:"; sed 's/^/    /' fault.log
        echo "  the fault-free run:"; sed 's/^/    /' clean.log status.err
    fi
done

summary=$(for c in "${!codes[@]}"; do echo "${codes[$c]} $c"; done | sort -rn | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }')
echo "fiu figures: $RUNS runs at p=$P: $disturbed with an error reported by the faulty cycle; ended on the new release $new_runs, on the old $old_runs, on trial $trial_runs; invariant breaks $breaks; fault-free runs failed $rerun_failed$( [ -n "$summary" ] && echo "; codes: $summary")"
echo "threats fiu: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
