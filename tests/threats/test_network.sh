#!/usr/bin/env bash
# The network rows of THREATS.md against the real secup-agent (`run --once`) and a real
# secup-server over HTTPS, with the attacker proxy tests/threats/mitm.py between them and
# another in front of a stand-in tracker (tests/integration/standin_tracker.py; commands
# signed by sign_command). After every attack the invariants of THREATS.md section 2 are
# checked (common.sh `invariants`) and a fault-free rerun must install (`recovers`).
# Usage: test_network.sh secup-agent secup-author secup-server sign_command [SEEDS]
#   SEEDS: bit-flip seeds per target (manifests, payloads, commands), default 6
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author secup-server sign_command [SEEDS]}")
A=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
SIGN=$(realpath "${4:?}")
SEEDS=${5:-6}
HERE=$(cd "$(dirname "$0")" && pwd)
INTEG=$(cd "$HERE/../integration" && pwd)
SECUP_TEST_NAME=threats-network
# shellcheck source=tests/integration/check.sh
. "$INTEG/check.sh"
# shellcheck source=tests/threats/common.sh
. "$HERE/common.sh"

start_world
SLOT_CAP=1000000

# bounded LOG LIMIT-BYTES SECONDS: one cycle while a watchdog checks that the download never
# exceeds LIMIT-BYTES and the cycle ends within SECONDS (a hung agent is a failed test, not
# a hung CI job; the bound is generous and is not a timing assertion of the agent)
bounded() {
    local log=$1 limit=$2 secs=$3 apid n=0 big=0
    "$AG" --config dev.json run --once >"$log" 2>&1 &
    apid=$!
    while kill -0 "$apid" 2>/dev/null; do
        local sz
        sz=$(stat -c %s state/download/payload 2>/dev/null || echo 0)
        [ "$sz" -gt "$big" ] && big=$sz
        if [ "$sz" -gt "$limit" ] || [ "$n" -gt $((secs * 10)) ]; then
            kill -9 "$apid"
            echo "    (watchdog: killed after $((n / 10)) s with $sz bytes downloaded)" >>"$log"
            break
        fi
        sleep 0.1
        n=$((n + 1))
    done
    wait "$apid"; st=$?
    MAXDL=$big
}

# attack DESC CODE LOG RULES [TRACKER-RULES]: a new image, the attacker's rules, one cycle
# that must fail with CODE (CODE "-": any refusal) and leave the invariants intact
n=2
attack() {
    local d=$1 code=$2 log=$3
    image $n
    snapshot
    rules "$4"
    trules "${5:-[]}"
    install $n
    bounded "$log" $((2 * SLOT_CAP)) 120
    if [ "$code" = - ]; then
        if [ "$st" -eq 1 ] && ! grep -q "^secup-agent: run: installed" "$log"; then pass=$((pass + 1)); else
            echo "FAIL: $d: exit $st, expected a refusal"; sed 's/^/    /' "$log"; fail=$((fail + 1)); fi
    else
        expect_fail "$d" "$code" "$log"
        ok "$d: INV-5 the code is in the next status report" [ "$(report 'd["last-code"]')" = "$code" ]
    fi
    ok "$d: INV-6 the download never grew past the cap" [ "$MAXDL" -le "$PCAP" ]
    invariants "$d"
    n=$((n + 1))
}
PCAP=$((SLOT_CAP + SLOT_CAP / 64 + 65536))

# ---- T2 endless data ------------------------------------------------------------------
# THREAT: T2
attack "T2 an endless payload body" SECUP_E_LIMIT_BODY t2.log '[{"match": "/payload", "action": "endless"}]'
ok "T2 nothing of it is kept" [ ! -e state/download/payload ]
attack "T2 an endless manifest body (limits.max-envelope)" SECUP_E_LIMIT_BODY t2m.log \
    '[{"match": "/manifest", "action": "endless"}]'
attack "T2 a payload one byte longer than signed" SECUP_E_OVERLONG t2l.log \
    '[{"match": "/payload", "action": "longer", "extra": 1}]'
attack "T2 a Content-Length larger than the body" SECUP_E_NET t2c.log \
    '[{"match": "/payload", "action": "lie", "length": 1000000000}]'
attack "T2 a Content-Length smaller than the body" SECUP_E_TRUNCATED t2s.log \
    '[{"match": "/payload", "action": "lie", "length": 1000}]'
# boundary lengths (cf. RAUC too_large): 2^31, 2^32 + 1 and 2^63 - 1 claimed for a short body
for L in 2147483648 4294967297 9223372036854775807; do
    attack "T2 a Content-Length of $L" SECUP_E_NET t2b.log "[{\"match\": \"/payload\", \"action\": \"lie\", \"length\": $L}]"
done
recovers $((n - 1)) "T2"

# ---- T9 slow retrieval ----------------------------------------------------------------
# THREAT: T9
attack "T9 a 1 byte/s trickle is aborted (server.low-speed-limit)" SECUP_E_TIMEOUT t9.log \
    '[{"match": "/payload", "action": "trickle", "rate": 1}]'
ok "T9 ... after every attempt" grep -q "attempt 2 of 3 failed" t9.log
attack "T9 a 50 byte/s trickle" SECUP_E_TIMEOUT t9b.log '[{"match": "/payload", "action": "trickle", "rate": 50}]'
attack "T9 no first byte for minutes" SECUP_E_TIMEOUT t9d.log '[{"match": "/payload", "action": "delay", "seconds": 600}]'
recovers $((n - 1)) "T9"

# ---- F9 the connection cut after K bytes: resumed with Range, digest verified -----------
# THREAT: F9
for K in 0 1 40 100000 200100; do  # 40: inside the header block
    image $n
    snapshot
    rules "[{\"match\": \"/payload\", \"action\": \"cut\", \"after\": $K, \"times\": 2}]"
    install $n
    cycle f9.log
    if [ "$st" -eq 0 ] && [ "$(field 'd["components"][0]["running-seq"]')" = $n ]; then
        pass=$((pass + 1)); RUNNING=$n
    else
        echo "FAIL: F9 cut after $K bytes (twice): not installed (exit $st)"; sed 's/^/    /' f9.log; fail=$((fail + 1))
    fi
    ok "F9 the slot holds exactly the image (cut after $K)" \
        cmp -s <(head -c 200000 "slots/$(tr 'AB' 'ab' <<<"$(field 'd["components"][0]["active"]')")") fw$n.bin
    ok "F9 INV-8 nothing left in the download area (cut after $K)" [ -z "$(ls state/download 2>/dev/null)" ]
    n=$((n + 1))
done
ok "F9 a partial download was resumed with Range" grep -q "payload range=bytes=[1-9][0-9]*-" px/log
attack "F9 a source that always stops early: given up after the attempts" SECUP_E_NET f9t.log \
    '[{"match": "/payload", "action": "cut", "after": 1000}]'
ok "F9 the partial download is kept for a resume, never installed" [ "$(stat -c %s state/download/payload)" -le 3000 ]
recovers $((n - 1)) "F9"

# ---- C6 on-path bit flips: manifests, payloads, commands -------------------------------
# THREAT: C6
for seed in $(seq 1 "$SEEDS"); do
    b=$((seed % 3 + 1))
    attack "C6 manifest, $b bits, seed $seed" - c6m.log "[{\"match\": \"/manifest\", \"action\": \"flip\", \"bits\": $b, \"seed\": $seed}]"
    attack "C6 payload, $b bits, seed $seed" SECUP_E_DIGEST c6p.log "[{\"match\": \"/payload\", \"action\": \"flip\", \"bits\": $b, \"seed\": $seed}]"
    ok "C6 the refused payload is not kept (seed $seed)" [ ! -e state/download/payload ]
    attack "C6 command, $b bits, seed $seed" - c6c.log '[]' "[{\"match\": \"/v1/commands\", \"action\": \"flip\", \"bits\": $b, \"seed\": $seed}]"
done
recovers $((n - 1)) "C6"

# ---- C5 redirects: never followed ------------------------------------------------------
# THREAT: C5
: >trk/mirror/evil.bin
attack "C5 a 302 for the payload to another host" SECUP_E_NET c5.log \
    "[{\"match\": \"/payload\", \"action\": \"redirect\", \"location\": \"$TU/mirror/evil.bin\"}]"
attack "C5 a 307 for the manifest" SECUP_E_NET c5m.log \
    "[{\"match\": \"/manifest\", \"action\": \"redirect\", \"status\": 307, \"location\": \"$TU/mirror/evil.bin\"}]"
ok "C5 the redirect target was never asked" bash -c "! grep -q 'mirror evil.bin' trk/log"
recovers $((n - 1)) "C5"

# ---- T6 malicious mirrors: the agent moves on to a good one ----------------------------
# THREAT: T6
image $n
snapshot
rules '[{"match": "/bad404", "action": "status", "code": 404, "body": "{}"},
        {"match": "/bad503", "action": "status", "code": 503, "body": "{}"},
        {"match": "/badslow", "action": "delay", "seconds": 600}]'
install $n --payload-uri /bad404 --payload-uri /badslow --payload-uri /bad503 \
    --payload-uri "/v1/images/${ID[$n]}/payload"
sed -i 's/"attempts": 3/"attempts": 4/' dev.json
bounded t6.log $PCAP 120
ok "T6 404, no answer and 503 mirrors, then a good one: installed" \
    [ "$st" -eq 0 ] && [ "$(field 'd["components"][0]["running-seq"]')" = $n ]
[ "$st" -eq 0 ] || sed 's/^/    /' t6.log
ok "T6 each bad mirror is named in the log" bash -c "grep -q bad404 t6.log && grep -q badslow t6.log && grep -q bad503 t6.log"
# THREAT: T6
T6R=$(report 'd["last-reason"]')
ok "T6 the next status report names each failed mirror and its code ($T6R)" \
    bash -c "grep -Eq '/bad404 \[HTTP 404 SECUP_E_[A-Z_]+\]' <<<\"\$1\" && grep -q '/badslow \[SECUP_E_TIMEOUT\]' <<<\"\$1\" &&
             grep -Eq '/bad503 \[HTTP 503 SECUP_E_[A-Z_]+\]' <<<\"\$1\"" _ "$T6R"
ok "T6 ... and not the good one" bash -c "! grep -q '${ID[$n]}' <<<\"\$1\"" _ "$T6R"
ok "T6 ... in a successful result" [ "$(report 'd["last-code"]')" = OK ]
sed -i 's/"attempts": 4/"attempts": 3/' dev.json
RUNNING=$n
n=$((n + 1))

# ---- U2 drop-request: requests and answers dropped, then restored ----------------------
# THREAT: U2
image $n
snapshot
trules '[{"match": "/v1/commands", "action": "reset"}]'
install $n
cycle u2t.log
ok "U2 the tracker's answers dropped: exit 4 (unreachable), nothing done" [ "$st" -eq 4 ]
invariants "U2 tracker dropped"
trules '[]'
cycle u2r.log
ok "U2 restored: the same command is delivered and installs" \
    [ "$st" -eq 0 ] && [ "$(field 'd["components"][0]["running-seq"]')" = $n ]
RUNNING=$n
n=$((n + 1))
attack "U2 payload answers dropped: aborted by the low-speed limit" SECUP_E_TIMEOUT u2p.log \
    '[{"match": "/payload", "action": "drop"}]'
attack "U2 dropped after the headers, every time" SECUP_E_NET u2h.log \
    '[{"match": "/payload", "action": "cut", "after": 300}]'
recovers $((n - 1)) "U2"

# ---- T11 wrong software: the URI points to another authentic payload --------------------
# THREAT: T11
attack "T11 another authentic payload of the same size" SECUP_E_DIGEST t11.log \
    "[{\"match\": \"/payload\", \"action\": \"substitute\", \"from\": \"/v1/images/${ID[$((n - 1))]}/payload\"}]"
ok "T11 the staged copy is discarded" [ ! -e state/download/payload ]
recovers $((n - 1)) "T11"

# ---- U1 eavesdropping: an encrypted image never shows its plaintext ---------------------
# THREAT: U1
for i in $(seq 1 6000); do printf 'SECUP-PLAINTEXT-MARKER-%06d\n' "$i"; done > fw$n.bin
"$A" create -q --key alice.pem --image fw$n.bin --seq $n --version 1.$n --vendor-domain example.com \
    --class cam-v2 --uri https://mirror.invalid/fw.bin --encrypt-for dev.pub.pem --payload-out fw$n.enc \
    --out v$n.suit
ID[$n]=$(curl -sk -H "Authorization: Bearer $ATOK" -F "envelope=@v$n.suit" -F "payload=@fw$n.enc" \
    -X POST "$SU/v1/images" | $PY -c "import json,sys; print(json.load(sys.stdin)['id'])")
: >px/wire
install $n
cycle u1.log
ok "U1 the encrypted image installs through the proxy" \
    [ "$st" -eq 0 ] && [ "$(field 'd["components"][0]["running-seq"]')" = $n ]
ok "U1 and the slot holds the plaintext" \
    cmp -s <(head -c "$(stat -c %s fw$n.bin)" "slots/$(tr 'AB' 'ab' <<<"$(field 'd["components"][0]["active"]')")") fw$n.bin
ok "U1 the payload crossed the wire" grep -q "payload range=None rule=pass sent=[1-9]" px/log
ok "U1 the plaintext marker was never on the wire" bash -c "! grep -q SECUP-PLAINTEXT-MARKER px/wire"
ok "U1 nor in the server's storage or log" bash -c "! grep -rq SECUP-PLAINTEXT-MARKER s server.log"
ok "U1 nor left in the device's download area" bash -c "! grep -rq SECUP-PLAINTEXT-MARKER state"
RUNNING=$n
n=$((n + 1))

echo "threats network: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
