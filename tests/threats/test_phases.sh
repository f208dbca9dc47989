#!/usr/bin/env bash
# The agent killed (kill -9) at named phases and at random times of an online install
# (THREATS.md F10), a failing new image reported to the tracker (F11), a mirror serving
# damaged bytes (T6) and a payload in another format than the manifest declares (C3). The
# world is that of test_network.sh (common.sh): a real secup-server behind the attacker
# proxy, a stand-in tracker. After each kill the device "reboots" (`secup-agent boot`),
# the tracker delivers the same command again (as a real tracker does until the device
# reports), and the update must end installed exactly once with the invariants of
# THREATS.md section 2.
# Usage: test_phases.sh secup-agent secup-author secup-server sign_command [KILLS]
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author secup-server sign_command [KILLS]}")
A=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
SIGN=$(realpath "${4:?}")
KILLS=${5:-4}
HERE=$(cd "$(dirname "$0")" && pwd)
INTEG=$(cd "$HERE/../integration" && pwd)
SECUP_TEST_NAME=threats-phases
# shellcheck source=tests/integration/check.sh
. "$INTEG/check.sh"
# shellcheck source=tests/threats/common.sh
. "$HERE/common.sh"

start_world
# a health check the test can slow down (hc.slow) or fail (hc.fail)
cat > health.sh <<'SH'
#!/bin/sh
touch hc.started
while [ -e hc.slow ]; do sleep 0.1; done
[ ! -e hc.fail ]
SH
chmod +x health.sh
sed -i "s|\"command\": \[\"/bin/true\"\]|\"command\": [\"$work/health.sh\"]|" dev.json
n=2

# started LOG: the agent's cycle in a process group of its own, its id in $apid
started() { setsid "$AG" --config dev.json run --once >"$1" 2>&1 & apid=$!; }
killed() { kill -9 -- "-$apid" 2>/dev/null; wait "$apid" 2>/dev/null; }
# redeliver: the tracker sends the last command again (same counter: it was never acted on)
redeliver() { cp "trk/served/$(printf %04d "$CTR").cose" "trk/queue/$(printf %04d "$CTR")r.cose" 2>/dev/null; }
installs() { grep -h "^secup-agent: run: installed sequence $1;" "$@" 2>/dev/null | wc -l; }
ends_installed() {
    local d=$1 seq=$2
    ok "$d: ends running sequence $seq" [ "$(field 'd["components"][0]["running-seq"]')" = "$seq" ]
    ok "$d: no trial left, not in safe mode" [ "$(field 'd["components"][0]["trial"], d["safe-mode"]')" = "(None, False)" ]
    ok "$d: the slot holds exactly the image" \
        cmp -s <(head -c "$(stat -c %s "fw$seq.bin")" "slots/$(tr 'AB' 'ab' <<<"$(field 'd["components"][0]["active"]')")") "fw$seq.bin"
    ok "$d: floor $seq" [ "$(field 'd["components"][0]["floors"]["release"]')" = "$seq" ]
    ok "$d: no temporary files" [ -z "$(find state slots -name '*.tmp*' | head -1)" ]
    RUNNING=$seq
}

# ---- F10 killed while downloading: resumed after the restart ----------------------------
# THREAT: F10
image $n 400000
snapshot
rules '[{"match": "/payload", "action": "trickle", "rate": 40000, "times": 1}]'
install $n
started f10d.log
for _ in $(seq 300); do [ "$(stat -c %s state/download/payload 2>/dev/null || echo 0)" -gt 0 ] && break; sleep 0.05; done
killed
invariants "F10 killed while downloading"
ok "F10 the partial download is kept" [ -s state/download/payload ]
redeliver
cycle f10d2.log
ok "F10 the next delivery resumes the download" grep -q "resuming" f10d2.log
ends_installed "F10 download phase" $n
n=$((n + 1))

# ---- F10 killed during the trial's health check: the reboot finishes the trial ----------
image $n
touch hc.slow
install $n
rm -f hc.started
started f10h.log
for _ in $(seq 300); do [ -e hc.started ] && break; sleep 0.05; done
ok "F10 the health check of the trial started" [ -e hc.started ]
killed
rm -f hc.slow
ok "F10 killed in the health check: on trial" [ "$(field 'd["components"][0]["trial"] is not None')" = True ]
"$AG" --config dev.json boot >hcboot.log 2>&1
ok "F10 the reboot runs the trial again and confirms" grep -q "confirmed" hcboot.log
ends_installed "F10 health-check phase" $n
redeliver
cycle f10h2.log
ok "F10 the command delivered again does not install a second time" [ "$(installs $n f10h.log f10h2.log)" -le 1 ]
ends_installed "F10 after the second delivery" $n
n=$((n + 1))

# ---- F10 killed at random times of the cycle ------------------------------------------
for k in $(seq 1 "$KILLS"); do
    image $n
    snapshot
    rules '[{"match": "/payload", "action": "trickle", "rate": 50000, "times": 1}]'
    install $n
    started f10r.log
    sleep "$(( RANDOM % 30 / 10 )).$(( RANDOM % 10 ))"
    killed
    "$AG" --config dev.json boot >boot.log 2>&1
    ok "F10 random kill $k: after the reboot a verified image runs, no safe mode" \
        [ "$(field 'd["safe-mode"]')" = False ]
    seqnow=$(field 'd["components"][0]["running-seq"]')
    ok "F10 random kill $k: the old or the new sequence" [ "$seqnow" = "$RUNNING" ] || [ "$seqnow" = $n ]
    if [ "$seqnow" != $n ]; then
        redeliver
        cycle f10r2.log
    fi
    ends_installed "F10 random kill $k" $n
    n=$((n + 1))
done

# ---- F11 a new image that fails its health check: fallback, reported -------------------
# THREAT: F11
image $n
snapshot
touch hc.fail
install $n
cycle f11.log
rm -f hc.fail
ok "F11 the failing image falls back" grep -q "health check failed" f11.log
invariants "F11"
ok "F11 the tracker's report carries the failure" [ "$(report 'd["last-code"]')" != OK ]
ok "F11 ... and the sequence that runs" [ "$(report 'd["seqs"]')" = "[$RUNNING]" ]
recovers $n "F11"
n=$((n + 1))

# ---- T6 a mirror serving damaged bytes: the install moves on to the next mirror ----------
# THREAT: T6
image $n
snapshot
cp fw$n.bin trk/mirror/fw$n.bin
rules '[{"match": "/payload", "action": "flip", "bits": 8, "seed": 7}]'
install $n --payload-uri "/v1/images/${ID[$n]}/payload" --payload-uri "$TPU/mirror/fw$n.bin"
cycle t6.log
ok "T6 the damaged payload is refused by its digest and named" \
    grep -q "payload from '/v1/images/${ID[$n]}/payload' failed verification.*SECUP_E_DIGEST.*the next mirror" t6.log
ok "T6 the next mirror's payload installs" [ "$st" -eq 0 ]
ends_installed "T6 garbage mirror" $n
ok "T6 the good mirror was asked once" [ "$(grep -c "mirror fw$n.bin" trk/log)" -eq 1 ]
ok "T6 the next status report names the damaged mirror and its code" \
    grep -q "failed mirror: /v1/images/${ID[$n]}/payload \[SECUP_E_DIGEST\]" <<<"$(report 'd["last-reason"]')"
ok "T6 ... and not the good one" bash -c "! grep -q 'mirror/fw$n.bin' <<<\"\$1\"" _ "$(report 'd["last-reason"]')"
n=$((n + 1))

# ---- C3 the format comes only from the authenticated manifest --------------------------
# THREAT: C3
head -c 100000 /dev/zero | tr '\0' 'a' > fw$n.bin
cp fw$n.bin fw$((n + 1)).bin
"$A" create -q --key alice.pem --image fw$n.bin --seq $n --vendor-domain example.com --class cam-v2 \
    --uri https://x/raw --out v$n.suit
"$A" create -q --key alice.pem --image fw$n.bin --seq $((n + 1)) --vendor-domain example.com --class cam-v2 \
    --uri https://x/z --compress --payload-out fw$((n + 1)).zst --out v$((n + 1)).suit
for s in $n $((n + 1)); do
    p=fw$n.bin
    [ $s = $n ] || p=fw$((n + 1)).zst
    ID[$s]=$(curl -sk -H "Authorization: Bearer $ATOK" -F "envelope=@v$s.suit" -F "payload=@$p" \
        -X POST "$SU/v1/images" | $PY -c "import json,sys; print(json.load(sys.stdin)['id'])")
done
snapshot
rules "[{\"match\": \"/v1/images/${ID[$n]}/payload\", \"action\": \"substitute\", \"from\": \"/v1/images/${ID[$((n + 1))]}/payload\"}]"
install $n
cycle c3a.log
ok "C3 raw declared, compressed supplied: refused" [ "$st" -eq 1 ] && ! grep -q "^secup-agent: run: installed" c3a.log
invariants "C3 compressed for raw"
rules "[{\"match\": \"/v1/images/${ID[$((n + 1))]}/payload\", \"action\": \"substitute\", \"from\": \"/v1/images/${ID[$n]}/payload\"}]"
install $((n + 1))
cycle c3b.log
ok "C3 compressed declared, raw supplied: refused" [ "$st" -eq 1 ] && ! grep -q "^secup-agent: run: installed" c3b.log
invariants "C3 raw for compressed"
recovers $((n + 1)) "C3"

echo "threats phases: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
