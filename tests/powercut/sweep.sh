#!/usr/bin/env bash
# The power-cut sweep of secup-agent (THREATS.md F1-F5, F10; issue [agent] "Power cuts and
# faults"). For each scenario, a clean run under the cutter shim counts the mutating
# file-system calls (N) of the whole flow; then for every cut point k in 1..N and each
# mode (before: the k-th call is not done; torn: a write is done for half its length, any
# other call completely), the device directory is restored from its baseline, the flow
# runs until the process that reaches call k dies with _exit(99) (the later steps of the
# flow do not run: the device lost power), the device "reboots" through two
# `secup-agent boot` and the invariants of THREATS.md section 2 are checked
# (check_invariants.py): INV-1 a verified image of the old or the new release runs, no
# safe mode; INV-2 the slots that ran before were never written (shim guard + bytes);
# INV-3 floors never go down (before -> after the cut -> after the reboot) and cover the
# running release; all-or-none for a bundle (U4); INV-8 no *.tmp.* files; INV-7 a
# following fault-free install and boot succeed.
#
# The device: two components (firmware, data) in file slots, the state-file bootloader,
# boot-attempts 2. Baselines (made without the cutter): "fresh" = release 1 confirmed in
# slots B, slots A never written; "used" = then release 2 confirmed in slots A, release 1
# left in slots B. Scenarios (the flow = `install`, then `boot`, each a process of its own):
#   A  fresh, firmware-only release 2 (encrypted, compressed, payload beside the envelope),
#      health ok: ends confirmed
#   B  as A, the health check fails (also at the reboot): ends with the fallback to 1
#   C  used, bundle release 3 of firmware+data, health ok: ends confirmed
#   D  as C, but the health check fails at the reboot after the cut (a cut in the middle
#      of the confirmation must still leave both components on the same release)
#   E  as C on a device configured with boot-attempts 1
#   F  used, release 3 as a root manifest (firmware) with an integrated dependency (data),
#      made by tests/integration/suit_craft.py, health ok: ends confirmed, both or neither
# A later fault-free run installs and boots bundle release 9 (INV-7).
#
# Usage: sweep.sh PATH/TO/secup-agent PATH/TO/secup-author PATH/TO/libsecup_cutter.so
# Environment: SWEEP_JOBS (parallel tasks, default: number of CPUs, at most 4),
#   SWEEP_SCENARIOS (e.g. "A C", default all), SWEEP_MODES (default "before torn unsynced";
#   "after" is also understood; "unsynced" also loses every change no fsync made durable,
#   and fails a flow whose process ends with such changes left: invariant D), SWEEP_SAMPLE=S
#   (run every S-th cut point only, and the last; default 1 = all; for slow sanitizer
#   builds), SWEEP_SHOW (failures printed with the agent's output per
#   invariant, default 3; "all"), SWEEP_KEEP=DIR (keep the work directory there),
#   SWEEP_TMPDIR (where the work directory goes; default /dev/shm if writable, else /tmp).
# Prints "power-cut sweep: N cut points, M held"; exit 0 only if M = N.
# THREAT: F1 F2 F3 F4 F5 F10 T8 U4
#   (mode before: F1, and F2 as a cut before call k+1 is one after call k; torn: F3;
#   unsynced: F2, F5; the failing-health-check scenario: F4; the bundle scenarios: U4)
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author libsecup_cutter.so}")
AU=$(realpath "${2:?usage: $0 secup-agent secup-author libsecup_cutter.so}")
CUT=$(realpath "${3:?usage: $0 secup-agent secup-author libsecup_cutter.so}")
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
unset SECUP_CUT_OWNER SECUP_CUT_DIR SECUP_CUT_AT SECUP_CUT_COUNT SECUP_CUT_GUARD LD_PRELOAD

started=$(date +%s.%N)
if [ -n "${SWEEP_KEEP:-}" ]; then
    mkdir -p "$SWEEP_KEEP" && W=$(realpath "$SWEEP_KEEP")
    [ -z "$(ls -A "$W")" ] || { echo "sweep: SWEEP_KEEP=$W is not empty" >&2; exit 2; }
else
    # a RAM file system when there is one: thousands of fsyncs cost nothing there, and
    # a cut process loses nothing the kernel already has, on any file system
    tmp=${SWEEP_TMPDIR:-/dev/shm}
    [ -d "$tmp" ] && [ -w "$tmp" ] || tmp=${TMPDIR:-/tmp}
    W=$(mktemp -d "$tmp/secup-powercut.XXXXXX")
    trap 'rm -rf "$W"' EXIT
fi

# An agent built with AddressSanitizer wants its runtime first in the list of libraries.
PRELOAD=$CUT
asan=$(ldd "$AG" 2>/dev/null | awk '/libasan/ { print $3; exit }')
[ -n "$asan" ] && PRELOAD="$asan:$CUT"

jobs=${SWEEP_JOBS:-$(nproc 2>/dev/null || echo 2)}
[ "$jobs" -gt 4 ] && jobs=4
modes=${SWEEP_MODES:-before torn unsynced}
sample=${SWEEP_SAMPLE:-1}
scenarios=${SWEEP_SCENARIOS:-A B C D E F}
show=${SWEEP_SHOW:-3}

die() { echo "sweep: $*" >&2; exit 1; }

# ---- packages and images (64 KiB firmware, 48 KiB data) ----
mkdir -p "$W/pkg" "$W/img"
cd "$W/pkg" || die "no work directory"
"$AU" keygen --alg esp256 --out author.pem >/dev/null || die "keygen"
# a P-256 device key: it receives the content key and signs the status report that the
# agent writes after every procedure (more state writes to cut)
"$AU" keygen --alg esp256 --out device.pem >/dev/null || die "keygen"
for s in 1 2 3 9; do
    head -c 65536 /dev/urandom > "$W/img/firmware-$s.bin"
    head -c 49152 /dev/urandom > "$W/img/data-$s.bin"
    cat > "spec$s.json" <<JSON
{ "sequence": $s, "vendor-domain": "example.com", "class": "pc-v1", "version": "1.$s.0",
  "components": [ { "id": "firmware", "image": "../img/firmware-$s.bin", "integrate": true },
                  { "id": "data", "image": "../img/data-$s.bin", "integrate": true } ] }
JSON
    "$AU" create -q --key author.pem --spec "spec$s.json" --out "bundle$s.suit" || die "author: bundle $s"
done
# one component, its payload beside the envelope, encrypted for the device and compressed
"$AU" create -q --key author.pem --image "$W/img/firmware-2.bin" --seq 2 --vendor-domain example.com \
    --class pc-v1 --version 1.2.0 --uri https://updates.example.com/fw2.enc \
    --encrypt-for device.pub.pem --compress --payload-out fw2.enc --out fw2.suit || die "author: fw2"
# release 3 again, as a root manifest for firmware whose integrated dependency installs data
CRAFT="$PY $HERE/../integration/suit_craft.py"
$CRAFT image dep3.suit --key author.pem --seq 3 --class pc-v1 --target data --image "$W/img/data-3.bin" &&
    $CRAFT dep root3.suit --key author.pem --seq 3 --class pc-v1 --target firmware \
        --image "$W/img/firmware-3.bin" --dep dep3.suit || die "suit_craft: root3"

# ---- the device: two components in file slots, the state-file bootloader ----
mkdir -p "$W/setup/dev/slots" "$W/setup/dev/state" "$W/setup/dev/keys"
cp device.pem author.pub.pem "$W/setup/dev/keys/"
cat > "$W/setup/dev/dev.json" <<'JSON'
{ "device": { "id": "pc-1", "key": "keys/device.pem", "vendor-domain": "example.com", "class": "pc-v1" },
  "state-dir": "state",
  "bootloader": { "type": "statefile", "path": "state/boot" },
  "health-check": { "command": ["/bin/sh", "-c", "test ! -e unhealthy"], "timeout": 10 },
  "boot-attempts": 2,
  "components": [
    { "name": "firmware", "slots": ["slots/firmware.a", "slots/firmware.b"], "slot-size": 131072 },
    { "name": "data", "slots": ["slots/data.a", "slots/data.b"], "slot-size": 131072 } ],
  "trust": [ { "name": "release", "key": "keys/author.pub.pem" } ] }
JSON
setup_agent() { (cd "$W/setup" && "$AG" --config dev/dev.json "$@"); }
# baseline "fresh": release 1 confirmed in slots B, slots A never written
setup_agent install "$W/pkg/bundle1.suit" >/dev/null || die "baseline: install 1"
setup_agent boot | grep -q confirmed || die "baseline: boot 1"
mkdir -p "$W/base-fresh" && cp -a "$W/setup/dev" "$W/base-fresh/dev"
setup_agent status --json > "$W/base-fresh/base.json" || die "baseline: status"
# baseline "used": release 2 confirmed in slots A, release 1 still in slots B
setup_agent install "$W/pkg/bundle2.suit" >/dev/null || die "baseline: install 2"
setup_agent boot | grep -q confirmed || die "baseline: boot 2"
mkdir -p "$W/base-used" && cp -a "$W/setup/dev" "$W/base-used/dev"
setup_agent status --json > "$W/base-used/base.json" || die "baseline: status"

# baseline "used1": as "used", on a device that allows a single trial boot
mkdir -p "$W/base-used1" && cp -a "$W/base-used/dev" "$W/base-used1/dev" && cp "$W/base-used/base.json" "$W/base-used1/"
sed -i 's/"boot-attempts": 2/"boot-attempts": 1/' "$W/base-used1/dev/dev.json"
# THREAT: T8
# ... which also keeps a secure counter (THREATS.md T8): every state save is followed by a
# raise of the counter, and no cut may leave a state that looks restored (older than it)
mkdir -p "$W/base-used1/dev/nv"
sed -i 's|"state-dir": "state",|"state-dir": "state", "secure-counter": "nv/counter",|' "$W/base-used1/dev/dev.json"
"$PY" - "$W/base-used1/dev" <<'PY' || die "baseline: secure counter"
import hashlib, json, sys
t = open(sys.argv[1] + "/state/state.A").read()
body = '{"format": 1, "secure-counter": %d}' % json.loads(t[:t.rindex("sha256:")])["generation"]
open(sys.argv[1] + "/nv/counter", "w").write(body + "\nsha256:" + hashlib.sha256(body.encode()).hexdigest() + "\n")
PY
(cd "$W/base-used1" && "$AG" --config dev/dev.json status >/dev/null) || die "baseline: the secure counter is not accepted"

# ---- scenarios ----
# name|title|baseline|package and payload|updated|old|new|health in the flow|health at reboot
scenario() {
    case $1 in
    A) echo "A|install -> boot (health ok) -> confirmed|fresh|$W/pkg/fw2.suit --payload firmware=$W/pkg/fw2.enc|firmware|1|2|ok|ok" ;;
    B) echo "B|install -> boot (health check fails) -> fallback|fresh|$W/pkg/fw2.suit --payload firmware=$W/pkg/fw2.enc|firmware|1|2|bad|bad" ;;
    C) echo "C|bundle firmware+data: install -> boot (health ok) -> confirmed|used|$W/pkg/bundle3.suit|firmware,data|2|3|ok|ok" ;;
    D) echo "D|bundle as C, the health check fails after the cut|used|$W/pkg/bundle3.suit|firmware,data|2|3|ok|bad" ;;
    E) echo "E|bundle as C, boot-attempts 1, a secure counter|used1|$W/pkg/bundle3.suit|firmware,data|2|3|ok|ok" ;;
    F) echo "F|root firmware + integrated dependency data: install -> boot -> confirmed|used|$W/pkg/root3.suit|firmware,data|2|3|ok|ok" ;;
    *) die "unknown scenario '$1'" ;;
    esac
}

# Mode "chained" (THREATS.md F4, MCUboot's perm_with_random_fails(5)): SWEEP_CHAINS runs of
# SWEEP_CHAIN_CUTS random power cuts in a row. From the baseline, the device goes through
# its life again and again: power-up (`boot`), the update (`install`, refused once done),
# `boot` (trial, health check, confirm or fallback); before each cut that flow is counted
# from the device's current state on a copy, then a random k in 1..N and a random mode
# (before, torn, unsynced) cut it, and the status after the cut is kept. Then the power
# stays on: two boots with the reboot's health, and the checks: those of a single cut
# (check_invariants.py), floors never lower from one cut to the next, no trial left, an
# image once confirmed stays, an image whose health check fails is never confirmed
# (chain_check.py); INV-7 as above. Called by run_task with its locals.
run_chains() {
    local chains=${SWEEP_CHAINS:-20} cuts=${SWEEP_CHAIN_CUTS:-5}
    local -a cmodes=(before torn unsynced)
    local j i k n m v rb
    # one power-up and the update, under the cutter; sets flow_rc (99: cut)
    cflow() {
        local -a envs=(LD_PRELOAD="$PRELOAD" SECUP_CUT_DIR="$T/dev" SECUP_CUT_COUNT="$T/count"
            SECUP_CUT_AT="$1" SECUP_CUT_MODE="$2" SECUP_CUT_VERBOSE=1 SECUP_CUT_LOG="$T/cut.log"
            SECUP_CUT_GUARD="$guard" SECUP_CUT_GUARD_LOG="$T/guard.log")
        rm -f "$T/count" "$T/cut.log"
        local step
        for step in boot install boot; do
            if [ "$step" = install ]; then
                # shellcheck disable=SC2086 # $pkg holds the envelope and its --payload option
                (cd "$T" && env "${envs[@]}" "$AG" --config dev/dev.json install $pkg) >> "$T/chain.out" 2>&1
            else
                (cd "$T" && env "${envs[@]}" "$AG" --config dev/dev.json boot) >> "$T/chain.out" 2>&1
            fi
            flow_rc=$?
            echo "[$step: exit $flow_rc]" >> "$T/chain.out"
            [ "$flow_rc" = 99 ] && return
        done
    }
    for ((j = 1; j <= chains; j++)); do
        restore
        rm -f "$T"/hist.*.json "$T/chain.out"
        cp "$B/base.json" "$T/hist.0.json"
        health "$h_flow"
        local cutlog=""
        v=""
        for ((i = 1; i <= cuts; i++)); do
            # N: the calls of the flow from here, counted on a copy of the device
            rm -rf "$T/save" && cp -a "$T/dev" "$T/save"
            cflow 0 before > /dev/null
            n=$(sed 's/^0*//' "$T/count" 2>/dev/null)
            n=${n:-0}
            rm -rf "$T/dev" && mv "$T/save" "$T/dev"
            rm -f "$T/guard.log"
            [ "$n" -ge 1 ] || { v="harness: no mutating call left to cut before cut $i"; break; }
            k=$(( (RANDOM * 32768 + RANDOM) % n + 1 ))
            m=${cmodes[$((RANDOM % 3))]}
            echo "--- cut $i: call $k of $n, $m" >> "$T/chain.out"
            cflow "$k" "$m"
            cutlog="$cutlog${cutlog:+, }$k/$n $m"
            if [ "$flow_rc" != 99 ]; then
                v="harness: cut $i at call $k of $n was never reached"
                break
            fi
            grep -h 'power cut' "$T/cut.log" | sed "s|$T/dev/||g" >> "$T/chain.out"
            ag status --json > "$T/hist.$i.json" 2>> "$T/chain.out"
        done
        # the power stays on
        health "$h_boot"
        local -a genv=(LD_PRELOAD="$PRELOAD" SECUP_CUT_GUARD="$guard" SECUP_CUT_GUARD_LOG="$T/guard.log")
        (cd "$T" && env "${genv[@]}" "$AG" --config dev/dev.json boot) > "$T/reboot.out" 2>&1
        echo "[boot 1: exit $?]" >> "$T/reboot.out"
        (cd "$T" && env "${genv[@]}" "$AG" --config dev/dev.json boot) >> "$T/reboot.out" 2>&1
        rb=$?
        echo "[boot 2: exit $rb]" >> "$T/reboot.out"
        ag status --json > "$T/post.json" 2>> "$T/reboot.out"
        local -a hist=()
        for ((k = 0; k <= cuts; k++)); do [ -f "$T/hist.$k.json" ] && hist+=("$T/hist.$k.json"); done
        cp "${hist[-1]}" "$T/pre.json"
        local w
        w=$("$PY" "$HERE/check_invariants.py" task="$T" base="$B" images="$W/img" updated="$updated" \
            allowed="$allowed" bundle="$bundle" reboot_rc="$rb" 2>&1)
        [ -n "$w" ] && v="$v${v:+$'\n'}$w"
        w=$("$PY" "$HERE/chain_check.py" updated="$updated" new="$new" health="$h_flow" \
            "${hist[@]}" "$T/post.json" 2>&1)
        [ -n "$w" ] && v="$v${v:+$'\n'}$w"
        health ok
        local fo
        fo=$(ag install "$W/pkg/bundle9.suit" 2>&1; echo "[install 9: exit $?]"; ag boot 2>&1; echo "[boot: exit $?]")
        if ! grep -q "install 9: exit 0" <<<"$fo" || ! grep -q "boot: confirmed" <<<"$fo" ||
            [ "$(ag status 2>&1 | grep -c 'runs slot .: sequence 9,')" != 2 ]; then
            v="$v${v:+$'\n'}INV-7 recoverable: the following install of release 9 and boot did not both succeed"
        fi
        if [ -z "$v" ]; then
            echo "HELD $j" >> "$T/result"
        else
            echo "FAIL $j	chain of cuts $cutlog	$(tr '\n' '|' <<<"$v" | sed 's/|$//')" >> "$T/result"
            {
                echo "  violations:"; sed 's/^/    /' <<<"$v"
                echo "  the chain (cuts $cutlog):"; sed "s|$T/dev/||g; s/^/    /" "$T/chain.out"
                echo "  the reboot:"; sed 's/^/    /' "$T/reboot.out"
                echo "  the following fault-free run:"; sed 's/^/    /' <<<"$fo"
            } > "$T/fail-$j.txt"
        fi
    done
    echo "$chains" > "$T/n"
}

# Runs one scenario in one mode: the counting run, then every cut point. Writes
# $T/result: one line per cut point, "HELD k" or "FAIL k<TAB>op<TAB>violations".
run_task() {
    local sc=$1 mode=$2
    local T="$W/task-$sc-$mode"
    local title base pkg updated old new h_flow h_boot
    IFS='|' read -r _ title base pkg updated old new h_flow h_boot < <(scenario "$sc")
    local B="$W/base-$base"
    # the slots that run before the flow: nothing but the next install may write them
    local guard
    guard=$("$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(":".join("%s/dev/slots/%s.%s" % (sys.argv[2], c["name"], c["active"].lower()) for c in d["components"]))' \
        "$B/base.json" "$T")
    local allowed=$old
    [ "$h_flow" = ok ] && allowed="$old,$new"
    local bundle=0
    case $updated in *,*) bundle=1 ;; esac
    mkdir -p "$T"
    : > "$T/result"

    ag() { (cd "$T" && "$AG" --config dev/dev.json "$@"); }
    health() { if [ "$1" = bad ]; then touch "$T/unhealthy"; else rm -f "$T/unhealthy"; fi; }
    restore() { rm -rf "${T:?}/dev" && cp -a "$B/dev" "$T/dev"; rm -f "$T/count" "$T/cut.log" "$T/guard.log"; }
    # The flow under the cutter; $1 = k (0: count only). Sets flow_rc to 99 when cut.
    flow() {
        local k=$1
        restore
        health "$h_flow"
        local -a envs=(LD_PRELOAD="$PRELOAD" SECUP_CUT_DIR="$T/dev" SECUP_CUT_COUNT="$T/count"
            SECUP_CUT_AT="$k" SECUP_CUT_MODE="$mode" SECUP_CUT_VERBOSE=1 SECUP_CUT_LOG="$T/cut.log"
            SECUP_CUT_GUARD="$guard" SECUP_CUT_GUARD_LOG="$T/guard.log")
        # shellcheck disable=SC2086 # $pkg holds the envelope and its --payload option
        (cd "$T" && env "${envs[@]}" "$AG" --config dev/dev.json install $pkg) > "$T/flow.out" 2>&1
        flow_rc=$?
        echo "[install: exit $flow_rc]" >> "$T/flow.out"
        [ "$flow_rc" = 99 ] && return
        (cd "$T" && env "${envs[@]}" "$AG" --config dev/dev.json boot) >> "$T/flow.out" 2>&1
        flow_rc=$?
        echo "[boot: exit $flow_rc]" >> "$T/flow.out"
    }
    if [ "$mode" = chained ]; then
        run_chains
        return
    fi

    # counting run: N, and the flow must end as intended without a cut
    flow 0
    local n
    n=$(sed 's/^0*//' "$T/count" 2>/dev/null)
    n=${n:-0}
    cp "$T/cut.log" "$T/ops.log"
    local want_seq=$new
    [ "$h_flow" = bad ] && want_seq=$old
    local first=${updated%%,*}
    if grep -q "UNSYNCED at exit" "$T/cut.log"; then
        echo "FAIL 0	the uninterrupted flow	D durable: $(grep -m1 "UNSYNCED at exit" "$T/cut.log" | sed "s|$T/dev/||g")" >> "$T/result"
        cat "$T/flow.out" "$T/cut.log" > "$T/fail-0.txt"
        return
    fi
    if [ "$n" -lt 1 ] || ! ag status | grep -q "^$first *runs slot .: sequence $want_seq,"; then
        echo "FAIL 0	the uninterrupted flow	harness: the flow without a cut did not end with sequence $want_seq (N=$n)" >> "$T/result"
        cat "$T/flow.out" > "$T/fail-0.txt"
        return
    fi
    echo "$n" > "$T/n"

    local k
    for ((k = 1; k <= n; k++)); do
        if [ "$sample" -gt 1 ] && [ $((k % sample)) -ne 1 ] && [ "$k" -ne "$n" ]; then
            continue
        fi
        flow "$k"
        local op
        op=$(sed -n "s|^secup-cut: #$k \(.*\)|\1|p" "$T/ops.log" | head -n 1 | sed "s|$T/dev/||g")
        if [ "$flow_rc" != 99 ]; then
            echo "FAIL $k	$op	harness: cut point $k was never reached (the flow ended with exit $flow_rc)" >> "$T/result"
            continue
        fi
        ag status --json > "$T/pre.json" 2> "$T/pre.err"
        # the reboot, without the cutter (the guard still watches the old slots)
        health "$h_boot"
        local -a genv=(LD_PRELOAD="$PRELOAD" SECUP_CUT_GUARD="$guard" SECUP_CUT_GUARD_LOG="$T/guard.log")
        (cd "$T" && env "${genv[@]}" "$AG" --config dev/dev.json boot) > "$T/reboot.out" 2>&1
        echo "[boot 1: exit $?]" >> "$T/reboot.out"
        (cd "$T" && env "${genv[@]}" "$AG" --config dev/dev.json boot) >> "$T/reboot.out" 2>&1
        local rb=$?
        echo "[boot 2: exit $rb]" >> "$T/reboot.out"
        ag status --json > "$T/post.json" 2>> "$T/reboot.out"
        local v
        v=$("$PY" "$HERE/check_invariants.py" task="$T" base="$B" images="$W/img" updated="$updated" \
            allowed="$allowed" bundle="$bundle" reboot_rc="$rb" 2>&1)
        # D: a process that ended before the cut left nothing a power cut could take back
        if grep -q "UNSYNCED at exit" "$T/cut.log"; then
            v="$v${v:+$'\n'}D durable: $(grep -m1 "UNSYNCED at exit" "$T/cut.log" | sed "s|$T/dev/||g")"
        fi
        # INV-7: a following fault-free install and boot succeed
        health ok
        local fo
        fo=$(ag install "$W/pkg/bundle9.suit" 2>&1; echo "[install 9: exit $?]"; ag boot 2>&1; echo "[boot: exit $?]")
        if ! grep -q "install 9: exit 0" <<<"$fo" || ! grep -q "boot: confirmed" <<<"$fo" ||
            [ "$(ag status 2>&1 | grep -c 'runs slot .: sequence 9,')" != 2 ]; then
            v="$v${v:+$'\n'}INV-7 recoverable: the following install of release 9 and boot did not both succeed"
        fi
        if [ -z "$v" ]; then
            echo "HELD $k" >> "$T/result"
        else
            echo "FAIL $k	$op	$(tr '\n' '|' <<<"$v" | sed 's/|$//')" >> "$T/result"
            {
                echo "  violations:"; sed 's/^/    /' <<<"$v"
                echo "  the flow (cut at #$k, $mode):"
                grep -h 'power cut' "$T/cut.log" | sed "s|$T/dev/||g; s/^/    /"
                sed 's/^/    /' "$T/flow.out"
                echo "  the reboot:"; sed 's/^/    /' "$T/reboot.out"
                echo "  the following fault-free run:"; sed 's/^/    /' <<<"$fo"
            } > "$T/fail-$k.txt"
        fi
    done
}

# ---- run every (scenario, mode) task, up to $jobs at a time ----
tasks=()
for sc in $scenarios; do
    for m in $modes; do
        tasks+=("$sc $m")
    done
done
running=0
for t in "${tasks[@]}"; do
    # shellcheck disable=SC2086
    run_task $t &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

# ---- report ----
total=0
held=0
declare -A per_inv=()
declare -A shown=()
echo "secup-agent power-cut sweep ($(basename "$CUT") preloaded; modes: $modes)"
for sc in $scenarios; do
    IFS='|' read -r _ title _ <<<"$(scenario "$sc")"
    for m in $modes; do
        T="$W/task-$sc-$m"
        n=$(cat "$T/n" 2>/dev/null || echo 0)
        h=$(grep -c '^HELD' "$T/result")
        f=$(grep -c '^FAIL' "$T/result")
        total=$((total + h + f))
        held=$((held + h))
        if [ "$m" = chained ]; then
            printf '  scenario %s (%s), %-8s: %d chains of %d random cuts, %d held\n' "$sc" "$title" "$m" \
                "$((h + f))" "${SWEEP_CHAIN_CUTS:-5}" "$h"
            continue
        fi
        printf '  scenario %s (%s), %-8s: N=%d cut points, %d run, %d held\n' "$sc" "$title" "$m" "$n" "$((h + f))" "$h"
    done
done
failures=$(cat "$W"/task-*/result 2>/dev/null | grep -c '^FAIL')
if [ "$failures" -gt 0 ]; then
    echo
    echo "failures (scenario mode k: the call that was cut -> violated invariants):"
    for sc in $scenarios; do
        for m in $modes; do
            T="$W/task-$sc-$m"
            while IFS=$'\t' read -r head op viol; do
                k=${head#FAIL }
                echo "  $sc $m #$k: $op -> $viol"
                IFS='|' read -ra vs <<<"$viol"
                detail=0
                for v in "${vs[@]}"; do
                    label=${v%%:*}
                    per_inv[$label]=$(( ${per_inv[$label]:-0} + 1 ))
                    if [ "$show" = all ] || [ "${shown[$label]:-0}" -lt "$show" ]; then
                        shown[$label]=$(( ${shown[$label]:-0} + 1 ))
                        detail=1
                    fi
                done
                # the agent's output for the first $show failures of each invariant
                [ "$detail" = 1 ] && [ -f "$T/fail-$k.txt" ] && sed 's/^/  /' "$T/fail-$k.txt"
            done < <(grep '^FAIL' "$T/result")
        done
    done
    echo
    echo "violations per invariant:"
    for label in "${!per_inv[@]}"; do
        echo "  $label: ${per_inv[$label]} cut points"
    done | sort
fi
elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
for m in $modes; do
    mt=0
    mh=0
    for sc in $scenarios; do
        mt=$((mt + $(grep -c '^HELD\|^FAIL' "$W/task-$sc-$m/result")))
        mh=$((mh + $(grep -c '^HELD' "$W/task-$sc-$m/result")))
    done
    if [ "$m" = chained ]; then
        echo "power-cut sweep ($m): $mt chains of ${SWEEP_CHAIN_CUTS:-5} random cuts, $mh held"
        continue
    fi
    echo "power-cut sweep ($m): $mt cut points, $mh held"
done
[ "$sample" -gt 1 ] && echo "(sampled: every $sample-th cut point and the last)"
what="cut points"
[ "$modes" = chained ] && what="chains of random cuts"
echo "power-cut sweep: $total $what, $held held (${elapsed}s, $jobs jobs)"
[ "$total" -gt 0 ] && [ "$held" -eq "$total" ]
