#!/usr/bin/env bash
# The time rows of THREATS.md with a fake clock (harness TIME: libfaketime around
# secup-agent): the device clock set to 1970 and to ten years ahead (U3), a manifest whose
# use-before has passed (C1), and a tracker feed that stops while the clock runs on (T5).
# The world is that of test_network.sh (common.sh): a real secup-server behind the
# attacker proxy, a stand-in tracker.
# Usage: test_time.sh secup-agent secup-author secup-server sign_command
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author secup-server sign_command}")
A=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
SIGN=$(realpath "${4:?}")
HERE=$(cd "$(dirname "$0")" && pwd)
INTEG=$(cd "$HERE/../integration" && pwd)
SECUP_TEST_NAME=threats-time
# shellcheck source=tests/integration/check.sh
. "$INTEG/check.sh"
# shellcheck source=tests/threats/common.sh
. "$HERE/common.sh"
command -v faketime >/dev/null || { echo "FAIL: faketime is not installed (scripts/deps --test)"; exit 1; }
# libfaketime is preloaded; a sanitizer runtime need not come first for it
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

start_world
n=2

# at FAKETIME-SPEC LOG: one online cycle of the agent under a fake clock
at() { faketime -f "$1" "$AG" --config dev.json run --once >"$2" 2>&1; st=$?; }

# ---- U3 denial of time: the clock in 1970, ten years ahead -----------------------------
# THREAT: U3
image $n
snapshot
install $n
at "@1970-01-02 00:00:00" u3a.log
ok "U3 clock in 1970: the command is refused as issued in the future, exit 1" [ "$st" -eq 1 ]
ok "U3 ... with SECUP_E_EXPIRED in the log" grep -q "SECUP_E_EXPIRED" u3a.log
invariants "U3 1970"
install $n
at "+3650d" u3b.log
ok "U3 clock ten years ahead: the command is refused as expired, exit 1" [ "$st" -eq 1 ]
ok "U3 ... with SECUP_E_EXPIRED in the log" grep -q "SECUP_E_EXPIRED" u3b.log
invariants "U3 +10 years"
at "+3650d" u3c.log
ok "U3 ten years ahead the device still boots and reports (no brick)" [ "$st" -eq 0 ]
ok "U3 its status still reads" [ "$(field 'd["components"][0]["running-seq"]')" = "$RUNNING" ]
recovers $n "U3 clock right again"
n=$((n + 1))

# ---- C1 an expired image offline: the manifest's use-before under a clock a year on ----
# THREAT: C1
head -c 3000 /dev/urandom > fw$n.bin
"$A" create -q --key alice.pem --image fw$n.bin --seq $n --vendor-domain example.com --class cam-v2 \
    --integrate --out c1.suit
$PY "$HERE/use_before.py" c1.suit c1u.suit alice.pem $(( $(date +%s) + 86400 ))
snapshot
faketime -f "+365d" "$AG" --config dev.json install c1u.suit >c1.log 2>&1; st=$?
ok "C1 a year on, the manifest's use-before has passed: refused, exit 1" [ "$st" -eq 1 ]
ok "C1 ... SECUP_E_CONDITION, use-before named" grep -q "use-before.*SECUP_E_CONDITION" c1.log
ok "C1 the refusal is the recorded result (INV-5)" [ "$(field 'd["last-result"]["code"]')" = SECUP_E_CONDITION ]
invariants "C1"
check "C1 before its use-before the same manifest installs" 0 "" "$AG" --config dev.json install c1u.suit
check "C1 and boots" 0 "" "$AG" --config dev.json boot
ok "C1 runs sequence $n" [ "$(field 'd["components"][0]["running-seq"]')" = $n ]
RUNNING=$n
n=$((n + 1))

# ---- T5 indefinite freeze: the feed's freshness statement expires ----------------------
# THREAT: T5
CTR=$((CTR + 1))
"$SIGN" --out "trk/queue/$(printf %04d $CTR).cose" --key trk.pem --issuer trk1 --target cam-1 \
    --counter "$CTR" --action nothing --expires-at $(( $(date +%s) + 600 ))
# the library itself, not the faketime wrapper: the wrapper forks, and stopping it would
# leave the agent running
LD_PRELOAD="/usr/\$LIB/faketime/libfaketime.so.1${LD_PRELOAD:+:$LD_PRELOAD}" FAKETIME="+0 x100" \
    "$AG" --config dev.json run >t5.log 2>&1 &
dpid=$!
pids+=("$dpid")
for _ in $(seq 300); do grep -q "feed is stale" t5.log && break; sleep 0.1; done
kill -TERM "$dpid" 2>/dev/null
wait "$dpid"
ok "T5 the statement was accepted" grep -q "command $CTR from trk1: nothing" t5.log
ok "T5 once it expires (the clock running 100 times fast) the feed is noted stale" grep -q "feed is stale" t5.log
ok "T5 the device keeps running its version" [ "$(field 'd["components"][0]["running-seq"]')" = "$RUNNING" ]

echo "threats time: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
