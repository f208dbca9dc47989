#!/usr/bin/env bash
# The time rows of THREATS.md with a fake clock (harness TIME: libfaketime around
# secup-agent): the device clock set to 1970 and to ten years ahead (U3), the secure-time
# floor against a clock set back and a replayed older signed time (U3), a manifest whose
# use-before has passed, also under a clock set back below the floor (C1), the approval
# policy (C9: policy.require-approval), and a tracker feed that stops while the clock runs
# on, the staleness kept across a restart and carried in the status report (T5).
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
ok "U3 ... a clear error: the clock named as set ahead" grep -q "is it set ahead?.*SECUP_E_EXPIRED" u3b.log
invariants "U3 +10 years"
at "+3650d" u3c.log
ok "U3 ten years ahead the device still boots and reports (no brick)" [ "$st" -eq 0 ]
ok "U3 its status still reads" [ "$(field 'd["components"][0]["running-seq"]')" = "$RUNNING" ]
ok "U3 a clock ten years ahead does not move the secure-time floor (no brick afterwards)" \
    [ "$(field 'd["freshness"]["time-floor"]')" = 0 ]
T_BEFORE=$(date +%s)
recovers $n "U3 clock right again"
n=$((n + 1))

# ---- U3 the secure-time floor (THREATS.md section 0, decision 2) ------------------------
# THREAT: U3
FLOOR=$(field 'd["freshness"]["time-floor"]')
ok "U3 the accepted command's issue time is the secure-time floor, kept on disk ($FLOOR)" \
    [ "$FLOOR" -ge "$T_BEFORE" ] && [ "$FLOOR" -le "$(date +%s)" ]
BACK="@1971-01-01 00:00:00"
# sback EXPR: the agent's status --json under the clock set back
sback() { faketime -f "$BACK" "$AG" --config dev.json status --json | $PY -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
ok "U3 clock set back to 1971: secure time is the floor" [ "$(sback 'd["freshness"]["secure-time"]')" = "$FLOOR" ]
ok "U3 ... and the clock is shown behind it" [ "$(sback 'd["freshness"]["clock-behind"]')" = True ]
faketime -f "$BACK" "$AG" --config dev.json status >u3s.txt 2>&1
ok "U3 ... also in the text status" grep -q "behind the secure-time floor" u3s.txt
image $n
snapshot
# a command that expired before the floor: valid by the 1971 clock, not by secure time
install $n --issued-at $((FLOOR - 1200)) --expires-at $((FLOOR - 600)) --payload-uri "/v1/images/${ID[$n]}/payload"
at "$BACK" u3d.log
ok "U3 clock set back: a command expired before the floor is refused, exit 1" [ "$st" -eq 1 ]
ok "U3 ... SECUP_E_EXPIRED, the clock named behind the floor" \
    grep -q "behind the secure-time floor.*SECUP_E_EXPIRED" u3d.log
invariants "U3 clock set back, expired command"
# a replayed older signed time: an older (still valid) statement
CTR=$((CTR + 1))
"$SIGN" --out "trk/queue/$(printf %04d $CTR).cose" --key trk.pem --issuer trk1 --target cam-1 \
    --counter "$CTR" --action nothing --issued-at $((FLOOR - 1200)) --expires-at $((FLOOR + 3600))
cycle u3e.log
ok "U3 a statement with an older signed time is taken" grep -q "command $CTR from trk1: nothing" u3e.log
ok "U3 ... and does not lower the floor" [ "$(field 'd["freshness"]["time-floor"]')" = "$FLOOR" ]
# a fresh command under the clock set back: judged by the floor, it installs (no brick)
install $n
at "$BACK" u3f.log
ok "U3 clock set back below the floor: a fresh command is judged by the floor and installs" \
    [ "$st" -eq 0 ] && [ "$(field 'd["components"][0]["running-seq"]')" = $n ]
[ "$st" -eq 0 ] || sed 's/^/    /' u3f.log
ok "U3 ... the log says the clock is behind the floor" grep -q "system clock .* is behind the secure-time floor" u3f.log
ok "U3 ... and the signed status report says so" [ "$(report 'd["freshness"]["clock-behind"]')" = True ]
ok "U3 ... with the floor" [ "$(report 'd["freshness"]["floor"]')" -ge "$FLOOR" ]
RUNNING=$n
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
ok "C1 ... SECUP_E_EXPIRED, use-before named" grep -q "use-before.*SECUP_E_EXPIRED" c1.log
ok "C1 the refusal is the recorded result (INV-5)" [ "$(field 'd["last-result"]["code"]')" = SECUP_E_EXPIRED ]
invariants "C1"
check "C1 before its use-before the same manifest installs" 0 "" "$AG" --config dev.json install c1u.suit
check "C1 and boots" 0 "" "$AG" --config dev.json boot
ok "C1 runs sequence $n" [ "$(field 'd["components"][0]["running-seq"]')" = $n ]
RUNNING=$n
n=$((n + 1))
# C1 with secure time: a use-before below the floor is refused although the clock, set back
# to 1971, lies before it
FLOOR=$(field 'd["freshness"]["time-floor"]')
head -c 3000 /dev/urandom > fw$n.bin
"$A" create -q --key alice.pem --image fw$n.bin --seq $n --vendor-domain example.com --class cam-v2 \
    --integrate --out c1b.suit
$PY "$HERE/use_before.py" c1b.suit c1bu.suit alice.pem $((FLOOR - 1))
snapshot
faketime -f "$BACK" "$AG" --config dev.json install c1bu.suit >c1b.log 2>&1; st=$?
ok "C1 clock set back below the floor: a manifest expired by secure time is refused, exit 1" [ "$st" -eq 1 ]
ok "C1 ... SECUP_E_EXPIRED, use-before named" grep -q "use-before.*SECUP_E_EXPIRED" c1b.log
invariants "C1 clock set back"

# ---- C9 (and C1 without expiry) policy.require-approval: only what a fresh command names ----
# THREAT: C9
# THREAT: C1
sed -i 's/"state-dir"/"policy": { "require-approval": true }, "state-dir"/' dev.json
image $n
snapshot
MBEFORE=$(grep -c "/manifest" px/log)
"$AG" --config dev.json install v$n.suit --payload fw$n.bin.missing >c9a.log 2>&1; st=$?
ok "C9 a local install without the tracker's approval is refused, exit 1" [ "$st" -eq 1 ]
ok "C9 ... SECUP_E_UNAPPROVED, the policy named" grep -q "require-approval.*SECUP_E_UNAPPROVED" c9a.log
ok "C9 ... before the payload is read (its missing file is not noticed)" bash -c "! grep -q missing c9a.log"
ok "C9 the refusal is the recorded result" [ "$(field 'd["last-result"]["code"]')" = SECUP_E_UNAPPROVED ]
invariants "C9 local install"
"$A" create -q --key alice.pem --image fw$n.bin --seq $n --vendor-domain example.com --class cam-v2 \
    --integrate --out c9i.suit
"$AG" --config dev.json install c9i.suit >c9b.log 2>&1; st=$?
ok "C9 an integrated authentic manifest is refused alike" [ "$st" -eq 1 ] && grep -q SECUP_E_UNAPPROVED c9b.log
invariants "C9 integrated"
# approval from a tracker not entitled to this device: another key, another issuer
"$A" keygen --alg esp256 --out evil.pem >/dev/null
CTR=$((CTR + 1))
"$SIGN" --out "trk/queue/$(printf %04d $CTR).cose" --key evil.pem --issuer trk1 --target cam-1 \
    --counter "$CTR" --action install --uri "/v1/images/${ID[$n]}/manifest" --digest "${ID[$n]}" \
    --seq "$n" --payload-uri "/v1/images/${ID[$n]}/payload"
cycle c9c.log
ok "C9 a command in the tracker's name with another key is refused (SECUP_E_SIG)" [ "$st" -eq 1 ] && grep -q SECUP_E_SIG c9c.log
CTR=$((CTR + 1))
"$SIGN" --out "trk/queue/$(printf %04d $CTR).cose" --key evil.pem --issuer trk2 --target cam-1 \
    --counter "$CTR" --action install --uri "/v1/images/${ID[$n]}/manifest" --digest "${ID[$n]}" \
    --seq "$n" --payload-uri "/v1/images/${ID[$n]}/payload"
cycle c9d.log
ok "C9 a command of another tracker is refused (SECUP_E_AUTH)" [ "$st" -eq 1 ] && grep -q SECUP_E_AUTH c9d.log
# C1 without expiry: an expired approval installs nothing
NOW=$(date +%s)
install $n --issued-at $((NOW - 1200)) --expires-at $((NOW - 600)) --payload-uri "/v1/images/${ID[$n]}/payload"
cycle c9e.log
ok "C1 an expired approving command is refused (SECUP_E_EXPIRED)" [ "$st" -eq 1 ] && grep -q SECUP_E_EXPIRED c9e.log
ok "C9 nothing was fetched for the refused commands (no manifest request)" \
    [ "$(grep -c "/manifest" px/log)" = "$MBEFORE" ]
invariants "C9 unentitled and expired approvals"
recovers $n "C9 a fresh command of the configured tracker approves the manifest"
ok "C9 ... installed under the policy" [ "$(field 'd["last-result"]["code"]')" = OK ]
n=$((n + 1))
sed -i 's/"policy": { "require-approval": true }, //' dev.json

# ---- T5 indefinite freeze: the feed's freshness statement expires ----------------------
# THREAT: T5
CTR=$((CTR + 1))
T5EXP=$(( $(date +%s) + 600 ))
"$SIGN" --out "trk/queue/$(printf %04d $CTR).cose" --key trk.pem --issuer trk1 --target cam-1 \
    --counter "$CTR" --action nothing --expires-at $T5EXP
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
ok "T5 the statement's expiry is kept on disk" [ "$(field 'd["freshness"]["fresh-until"]')" = "$T5EXP" ]
faketime -f "+900s" "$AG" --config dev.json status >t5s.txt 2>&1
ok "T5 after it (a new process) secup-agent status shows STALE" grep -q "^freshness: STALE" t5s.txt
ok "T5 ... and never claims up to date" bash -c "! grep -Eqi 'up.to.date' t5s.txt"
at "+900s" t5b.log
ok "T5 a restarted daemon notes the stale feed at once" grep -q "feed is stale" t5b.log
ok "T5 its signed status report says stale" [ "$(report 'd["freshness"]["stale"]')" = True ]
ok "T5 ... with the expiry that passed" [ "$(report 'd["freshness"]["fresh-until"]')" = "$T5EXP" ]
ok "T5 the device still runs its version" [ "$(field 'd["components"][0]["running-seq"]')" = "$RUNNING" ]
CTR=$((CTR + 1))
"$SIGN" --out "trk/queue/$(printf %04d $CTR).cose" --key trk.pem --issuer trk1 --target cam-1 \
    --counter "$CTR" --action nothing --expires-at $(( $(date +%s) + 3600 ))
cycle t5c.log
cycle t5d.log
ok "T5 a fresh statement: the report is no longer stale" [ "$(report 'd["freshness"]["stale"]')" = False ]

echo "threats time: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
