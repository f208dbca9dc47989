#!/usr/bin/env bash
# secup-agent online (`secup-agent run`, issue [tracker]): registration, signed reports,
# signed commands long-polled from a tracker and verified (issuer, signature, audience,
# order, freshness: THREATS.md S7, S8), installs fetched from a real secup-server over
# HTTPS, resumed downloads, back-off, stop on SIGTERM. The tracker is a stand-in with the
# contract of GET /v1/commands (standin_tracker.py); commands are signed by sign_command.
# Usage: test_agent_online.sh secup-agent secup-author secup-server sign_command
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author secup-server sign_command}")
A=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
SIGN=$(realpath "${4:?}")
HERE=$(cd "$(dirname "$0")" && pwd)
SECUP_TEST_NAME=agent-online
# shellcheck source=tests/integration/check.sh
. "$HERE/check.sh"
PY=/usr/bin/python3
spid=""
tpid=""
dpid=""
trap '[ -n "$dpid" ] && kill "$dpid" 2>/dev/null; [ -n "$spid" ] && kill "$spid" 2>/dev/null; [ -n "$tpid" ] && kill "$tpid" 2>/dev/null; rm -rf "$work"' EXIT

field() { "$AG" --config dev.json status --json | $PY -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
report() { $PY -c "import json,sys; d=json.load(open('trk/reports/last.json')); print(eval(sys.argv[1]))" "$1"; }
nreports() { ls trk/reports | grep -c '^[0-9]*\.json$'; }
N=0
queue() { # sign_command options...: queue one command for the device
    N=$((N + 1))
    "$SIGN" --out "trk/queue/$(printf %03d $N).cose" "$@" || { echo "FAIL: cannot sign"; exit 1; }
}
cmd() { queue --key trk.pem --issuer trk1 --target cam-1 "$@"; }
# run_once DESCRIPTION EXPECTED-EXIT TEXT: one cycle; its log must hold TEXT
run_once() {
    local desc=$1 want=$2 text=$3 st
    "$AG" --config dev.json run --once >run.log 2>&1; st=$?
    if [ "$st" -ne "$want" ] || ! grep -q -- "$text" run.log; then
        echo "FAIL: $desc: exit $st (expected $want), log lacks '$text'?"; sed 's/^/    /' run.log; fail=$((fail + 1)); return
    fi
    pass=$((pass + 1))
}

# ---- a Firmware Server with images, a stand-in tracker, a device ----
"$SRV" init s --listen 127.0.0.1:0 --id fw1 >/dev/null 2>&1 || { echo "FAIL: server init"; exit 1; }
"$A" keygen --alg esp256 --out alice.pem >/dev/null
"$A" keygen --alg esp256 --out trk.pem >/dev/null
"$A" keygen --alg esp256 --out evil.pem >/dev/null
"$A" keygen --alg esp256 --out dev.pem >/dev/null
ATOK=$("$SRV" admin s author add alice --key alice.pub.pem 2>/dev/null)
"$SRV" admin s author grant alice --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
"$SRV" admin s device add cam-1 --vendor-domain example.com --class cam-v2 --region eu 2>/dev/null > srv.tok
"$SRV" run s >server.log 2>&1 &
spid=$!
for _ in $(seq 100); do [ -s s/server.port ] && break; sleep 0.05; done
SU="https://127.0.0.1:$(cat s/server.port)"

declare -A ID
for seq in 2 3 4 5 6 7; do
    head -c $((200000 + seq * 1000)) /dev/urandom > fw$seq.bin
    "$A" create -q --key alice.pem --image fw$seq.bin --seq $seq --version 1.$seq --vendor-domain example.com \
        --class cam-v2 --uri https://mirror.invalid/fw.bin --out v$seq.suit
    ID[$seq]=$(curl -sk -H "Authorization: Bearer $ATOK" -F envelope=@v$seq.suit -F payload=@fw$seq.bin \
        -X POST "$SU/v1/images" | $PY -c "import json,sys; print(json.load(sys.stdin)['id'])")
    [ ${#ID[$seq]} -eq 64 ] || { echo "FAIL: submitting v$seq"; cat server.log; exit 1; }
done

mkdir trk
echo "enrol-secret-0123456789" > enrol.tok
$PY "$HERE/standin_tracker.py" trk enrol-secret-0123456789 2>tracker.err &
tpid=$!
for _ in $(seq 100); do [ -s trk/port ] && break; sleep 0.05; done
TU="http://127.0.0.1:$(cat trk/port)"
mkdir -p slots state
cat > dev.json <<JSON
{ "device": { "id": "cam-1", "key": "dev.pem", "vendor-domain": "example.com", "class": "cam-v2" },
  "state-dir": "state", "bootloader": { "type": "statefile", "path": "state/boot" },
  "health-check": { "command": ["/bin/true"], "timeout": 10 },
  "components": [ { "name": "firmware", "slots": ["slots/a", "slots/b"], "slot-size": 1000000 } ],
  "trust": [ { "name": "release", "key": "alice.pub.pem" } ],
  "tracker": { "url": "$TU", "id": "trk1", "key": "trk.pub.pem", "enrolment-token-file": "enrol.tok",
               "poll-wait": 1 },
  "server": { "url": "$SU", "token-file": "srv.tok", "ca-file": "s/tls/cert.pem",
              "retry-initial": 1, "retry-max": 2, "attempts": 4, "low-speed-time": 2 } }
JSON
check "the configuration with tracker and server" 0 "" "$AG" --config dev.json check-config
sed 's/"poll-wait": 1/"poll-wait": 3601/' dev.json > bad.json
check "poll-wait out of range" 3 SECUP_E_VALUE "$AG" --config bad.json check-config
sed 's/"id": "trk1", //' dev.json > bad.json
check "a tracker section needs the issuer id" 3 "" "$AG" --config bad.json check-config

# ---- register, report, an empty poll ----
run_once "first cycle: registers, reports, nothing to do" 0 "registered with"
ok "the tracker got the device's public key" grep -q "BEGIN PUBLIC KEY" trk/registered-cam-1.pem
ok "and its signed report" [ "$(report 'd["reporter"]')" = cam-1 ]
ok "the tracker token is kept in the online state" grep -q '"tracker-token": "tok-cam-1' state/online.A
ok "both copies" cmp -s state/online.A state/online.B
before=$(nreports)
run_once "second cycle: no registration again" 0 "status report"
ok "no second registration" bash -c "! grep -q registered run.log"
ok "one more report" [ "$(nreports)" -eq $((before + 1)) ]

# THREAT: S7 S8 C9 C10
# ---- refused commands: nothing installed, counter not stored ----
M2="$SU/v1/images/${ID[2]}/manifest"
P2="$SU/v1/images/${ID[2]}/payload"
inst2=(--action install --uri "$M2" --digest "${ID[2]}" --seq 2 --payload-uri "$P2")
queue --key evil.pem --issuer trk1 --target cam-1 --counter 5 "${inst2[@]}"
run_once "a command signed by another key" 1 "SECUP_E_SIG"
queue --key evil.pem --issuer trk2 --target cam-1 --counter 5 "${inst2[@]}"
run_once "a command from another issuer" 1 "SECUP_E_AUTH"
cmd --counter 5 --target cam-2 "${inst2[@]}"
run_once "a command for another device" 1 "SECUP_E_AUDIENCE"
cmd --counter 5 --issued-at $(( $(date +%s) - 1000 )) --expires-at $(( $(date +%s) - 500 )) "${inst2[@]}"
run_once "an expired command" 1 "SECUP_E_EXPIRED"
cmd --counter 5 --issued-at $(( $(date +%s) + 1000 )) "${inst2[@]}"
run_once "a command issued in the future" 1 "SECUP_E_EXPIRED"
cmd --counter 5 --action install --uri "$M2" --digest "${ID[3]}" --seq 2 --payload-uri "$P2"
run_once "a manifest that is not the one the command names" 1 "SECUP_E_DIGEST"
ok "nothing was installed" [ "$(field 'd["components"][0]["slots"][0]["valid"] or d["components"][0]["slots"][1]["valid"]')" = False ]
ok "the failure was reported" [ "$(report 'd["last-code"]')" = SECUP_E_DIGEST ]
ok "the counter of the acted-on command is stored" grep -q '"counter": 5' state/online.A
cmd --counter 5 "${inst2[@]}"
run_once "the same counter again: a replay" 1 "SECUP_E_REPLAY"

# ---- a valid install command ----
cmd --counter 6 "${inst2[@]}"
run_once "install command: fetched, installed, booted, confirmed, reported" 0 "boot:"
ok "runs sequence 2" [ "$(field 'd["components"][0]["running-seq"]')" = 2 ]
ok "no trial left (confirmed)" [ "$(field 'd["components"][0]["trial"]')" = None ]
ok "the tracker saw sequence 2" [ "$(report 'd["seqs"]')" = "[2]" ]
ok "with the result OK" [ "$(report 'd["last-code"]')" = OK ]
ok "no download left behind" [ ! -e state/download/payload ]
cp trk/served/$(printf %03d $N).cose replay.cose
cp replay.cose trk/queue/900.cose
run_once "the same install command replayed" 1 "SECUP_E_REPLAY"
cmd --counter 4 --action report
run_once "an older counter" 1 "SECUP_E_REPLAY"

# THREAT: F9
# ---- an interrupted payload download is resumed ----
cp fw3.bin trk/mirror/fw3.bin
echo "cut 150000" > trk/faults/fw3.bin
cmd --counter 7 --action install --uri "$SU/v1/images/${ID[3]}/manifest" --digest "${ID[3]}" --seq 3 \
    --payload-uri "$TU/mirror/fw3.bin"
run_once "a download cut in the middle" 0 "resuming"
ok "it resumed with Range" grep -q "mirror fw3.bin range=bytes=150000-" trk/log
ok "runs sequence 3" [ "$(field 'd["components"][0]["running-seq"]')" = 3 ]

# THREAT: T9
# ---- a stalled download: the low-speed limit aborts it, then it resumes ----
cp fw4.bin trk/mirror/fw4.bin
echo "stall 100000" > trk/faults/fw4.bin
cmd --counter 8 --action install --uri "$SU/v1/images/${ID[4]}/manifest" --digest "${ID[4]}" --seq 4 \
    --payload-uri "$TU/mirror/fw4.bin"
run_once "a download that stalls" 0 "resuming"
ok "runs sequence 4" [ "$(field 'd["components"][0]["running-seq"]')" = 4 ]

# THREAT: T6 U2
# ---- the source unreachable for a while: back-off and retry; a mirror list ----
cp fw5.bin trk/mirror/fw5.bin
echo "refuse 2" > trk/faults/fw5.bin
cmd --counter 9 --action install --uri "$SU/v1/images/${ID[5]}/manifest" --digest "${ID[5]}" --seq 5 \
    --payload-uri "$TU/mirror/fw5.bin"
run_once "the payload source refuses twice" 0 "again in 2 s"
ok "runs sequence 5" [ "$(field 'd["components"][0]["running-seq"]')" = 5 ]
cp fw6.bin trk/mirror/fw6.bin
cmd --counter 10 --action install --uri "$SU/v1/images/${ID[6]}/manifest" --digest "${ID[6]}" --seq 6 \
    --payload-uri "http://127.0.0.1:1/fw6.bin" --payload-uri "$TU/mirror/fw6.bin"
run_once "the first mirror is down: the second one" 0 "attempt 1 of 4 failed"
ok "runs sequence 6" [ "$(field 'd["components"][0]["running-seq"]')" = 6 ]
cmd --counter 11 --action install --uri "$SU/v1/images/${ID[7]}/manifest" --digest "${ID[7]}" --seq 7 \
    --payload-uri "http://127.0.0.1:1/fw7.bin"
run_once "a source that stays down: given up after the attempts" 1 "attempt 3 of 4 failed"
ok "still runs sequence 6" [ "$(field 'd["components"][0]["running-seq"]')" = 6 ]
ok "the failure was reported" [ "$(report 'd["last-code"]')" = SECUP_E_NET ]

# THREAT: T5
# ---- report, cancel, nothing (freshness), SIGTERM ----
before=$(nreports)
cmd --counter 12 --action report
run_once "report now" 0 "command 12 from trk1: report"
ok "a report was sent" [ "$(nreports)" -gt "$before" ]
cmd --counter 13 --action cancel --rollout r1
run_once "cancel is logged" 0 "nothing to cancel"
cmd --counter 14 --action nothing --expires-at $(( $(date +%s) + 2 ))
"$AG" --config dev.json run >daemon.log 2>&1 &
dpid=$!
for _ in $(seq 100); do grep -q "feed is stale" daemon.log && break; sleep 0.1; done
ok "the daemon notes a stale feed" grep -q "feed is stale" daemon.log
kill -TERM "$dpid"
wait "$dpid"; st=$?
dpid=""
ok "SIGTERM stops it cleanly (exit 0)" [ "$st" -eq 0 ]
ok "saying so" grep -q "stopped" daemon.log

# ---- the tracker unreachable: the daemon backs off and keeps trying ----
sed "s#$TU#http://127.0.0.1:1#" dev.json > down.json
"$AG" --config down.json run >down.log 2>&1 &
dpid=$!
sleep 4
kill -TERM "$dpid"
wait "$dpid"
dpid=""
ok "backs off: 1 s, then 2 s" bash -c "grep -q 'again in 1 s' down.log && grep -q 'again in 2 s' down.log"
ok "the state is untouched" [ "$(field 'd["components"][0]["running-seq"]')" = 6 ]

echo "agent online: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
