#!/usr/bin/env bash
# Malformed HTTP framing on the device's transport (THREATS.md P5): the attacker proxy
# tests/threats/mitm.py answers the real secup-agent with huge response headers, negative,
# overflowing and non-numeric Content-Length values, and chunked bodies with garbage,
# overflowing or negative chunk sizes or no last chunk, on the payload, the manifest and
# the tracker's command route. Each must end the cycle with a clear error (the code, and
# libcurl's reason in the message), and change nothing (the invariants of THREATS.md
# section 2); a fault-free rerun installs. CoAP is not applicable: secup has no CoAP
# transport.
# Usage: test_framing.sh secup-agent secup-author secup-server sign_command
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author secup-server sign_command}")
A=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
SIGN=$(realpath "${4:?}")
HERE=$(cd "$(dirname "$0")" && pwd)
INTEG=$(cd "$HERE/../integration" && pwd)
SECUP_TEST_NAME=threats-framing
# shellcheck source=tests/integration/check.sh
. "$INTEG/check.sh"
# shellcheck source=tests/threats/common.sh
. "$HERE/common.sh"

start_world

# frame DESC WHY LOG RULES [TRACKER-RULES]: a new image, the attacker's rules, one cycle
# (bounded by a watchdog: a hung agent is a failed test) that must fail with
# SECUP_E_NET, its final error naming WHY (a regular expression), and change nothing
n=2
frame() {
    local d=$1 why=$2 log=$3
    image $n
    snapshot
    rules "$4"
    trules "${5:-[]}"
    install $n
    timeout -s KILL 120 "$AG" --config dev.json run --once >"$log" 2>&1
    st=$?
    expect_fail "$d" SECUP_E_NET "$log"
    echo "# $d: $(grep -v "attempt [0-9]* of [0-9]* failed" "$log" | grep "\[SECUP_E_NET\]" | tail -1 | sed "s/^secup-agent: run: //")"
    if grep -v "attempt [0-9]* of [0-9]* failed" "$log" | grep -qiE "$why"; then
        pass=$((pass + 1))
    else
        echo "FAIL: $d: the error does not say '$why'"; sed 's/^/    /' "$log"; fail=$((fail + 1))
    fi
    ok "$d: nothing was installed" bash -c "! grep -q '^secup-agent: run: installed' $log"
    invariants "$d"
    n=$((n + 1))
}

# THREAT: P5
# huge response headers (libcurl refuses more than 100 kB of them)
frame "P5 300 kB of response headers on the payload" "header" p5h.log \
    '[{"match": "/payload", "action": "headers", "size": 300000}]'
frame "P5 300 kB of response headers on the manifest" "header" p5hm.log \
    '[{"match": "/manifest", "action": "headers", "size": 300000}]'
frame "P5 300 kB of response headers on the tracker's commands" "header" p5ht.log '[]' \
    '[{"match": "/v1/commands", "action": "headers", "size": 300000}]'
# Content-Length: negative, overflowing (2^64, 10^30), not a number
for v in -1 -9223372036854775808 18446744073709551616 1000000000000000000000000000000 12abc; do
    frame "P5 Content-Length: $v on the payload" "content-length|length|size|header|weird|invalid" \
        p5l.log "[{\"match\": \"/payload\", \"action\": \"length\", \"value\": \"$v\"}]"
done
# chunked: garbage, overflowing and negative chunk sizes; no last chunk
for c in zz fffffffffffffffffff1 -10 nofinal; do
    frame "P5 chunked payload, first chunk size '$c'" "chunk|transfer closed|partial|outstanding" \
        p5c.log "[{\"match\": \"/payload\", \"action\": \"chunked\", \"size\": \"$c\"}]"
done
frame "P5 chunked command, chunk size overflowing" "chunk" p5ct.log '[]' \
    '[{"match": "/v1/commands", "action": "chunked", "size": "fffffffffffffffffff1"}]'
# the same proxy, honest: the true answers chunked are taken (the framing is the only fault)
image $n
rules '[{"match": "/payload", "action": "chunked", "size": "4000"}]'
trules "[]"
install $n
cycle p5ok.log
if [ "$st" -eq 0 ] && [ "$(field 'd["components"][0]["running-seq"]')" = $n ]; then
    pass=$((pass + 1))
else
    echo "FAIL: P5 a correctly chunked payload installs (exit $st)"; sed 's/^/    /' p5ok.log; fail=$((fail + 1))
fi
RUNNING=$n
n=$((n + 1))
echo "threats framing: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
