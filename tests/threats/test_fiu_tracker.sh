#!/usr/bin/env bash
# Random I/O errors in a real secup-tracker while a device reports (THREATS.md F6, TRK):
# each run starts the tracker (SQLite, HTTPS) under
#     fiu-run -x -c 'enable_random name=posix/io/*,probability=P'
# and lets the agent (without faults) do one online cycle: its signed status report and a
# poll. Then the tracker is started without faults (its store must open) and:
#   - a report the agent saw answered ("status report N sent") is in the tracker's record
#     (a 200 means stored: last_counter >= N);
#   - whatever happened, the record is readable and its counter never went down;
#   - a fault-free cycle then reports, and the record holds that report.
# Usage: test_fiu_tracker.sh secup-agent secup-tracker secup-author [RUNS] [P]
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-tracker secup-author [RUNS] [P]}")
TRK=$(realpath "${2:?}")
A=$(realpath "${3:?}")
RUNS=${4:-15}
P=${5:-0.002}
HERE=$(cd "$(dirname "$0")" && pwd)
INTEG=$(cd "$HERE/../integration" && pwd)
SECUP_TEST_NAME=threats-fiu-tracker
# shellcheck source=tests/integration/check.sh
. "$INTEG/check.sh"
PY=/usr/bin/python3
command -v fiu-run >/dev/null || { echo "FAIL: fiu-run not found (scripts/deps --test installs fiu-utils)"; exit 1; }
FIU_LIB=/usr/lib/fiu
asan=$(ldd "$TRK" 2>/dev/null | awk '/libasan/ { print $3; exit }')
tpid=""
stop_tracker() {
    [ -n "$tpid" ] || return 0
    kill "$tpid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$tpid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$tpid" 2>/dev/null
    wait "$tpid" 2>/dev/null
    tpid=""
}
trap 'stop_tracker; rm -rf "$work"' EXIT

# start_tracker faulty|clean: the tracker in the background, the agent pointed at it
start_tracker() {
    rm -f t/tracker.port
    if [ "$1" = faulty ]; then
        local -a pre=()
        [ -n "$asan" ] && pre=(env "LD_PRELOAD=$asan $FIU_LIB/fiu_run_preload.so $FIU_LIB/fiu_posix_preload.so")
        fiu-run -x -f "" -c "enable_random name=posix/io/*,probability=$P" "${pre[@]}" \
            "$TRK" run t >>tracker-faulty.log 2>&1 &
    else
        "$TRK" run t >>tracker.log 2>&1 &
    fi
    tpid=$!
    for _ in $(seq 200); do
        if [ -s t/tracker.port ]; then
            sed -i "s|\"url\": \"[^\"]*\"|\"url\": \"https://127.0.0.1:$(cat t/tracker.port)\"|" dev.json
            return 0
        fi
        kill -0 "$tpid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
counter() { "$TRK" admin t consumer show cam-1 --json 2>/dev/null | $PY -c "import json,sys; print(json.load(sys.stdin)['last_counter'])"; }
sent() { sed -n 's/.*status report \([0-9]*\) sent.*/\1/p' "$1" | tail -n 1; }

"$A" keygen --alg esp256 --out alice.pem >/dev/null
"$A" keygen --alg esp256 --out dev.pem >/dev/null
"$TRK" init t --listen 127.0.0.1:0 --id trk1 >/dev/null 2>&1 || { echo "FAIL: tracker init"; exit 1; }
"$TRK" admin t enrolment add --vendor-domain example.com --class cam-v2 2>/dev/null > enrol.tok
mkdir -p slots state
cat > dev.json <<'JSON'
{ "device": { "id": "cam-1", "key": "dev.pem", "vendor-domain": "example.com", "class": "cam-v2" },
  "state-dir": "state", "bootloader": { "type": "statefile", "path": "state/boot" },
  "health-check": { "command": ["/bin/true"], "timeout": 10 },
  "components": [ { "name": "firmware", "slots": ["slots/a", "slots/b"], "slot-size": 100000 } ],
  "trust": [ { "name": "release", "key": "alice.pub.pem" } ],
  "tracker": { "url": "https://127.0.0.1:1", "id": "trk1", "key": "t/tracker-key.pub.pem",
               "ca-file": "t/tls/cert.pem", "enrolment-token-file": "enrol.tok", "poll-wait": 0 },
  "server": { "retry-initial": 1, "retry-max": 1 } }
JSON
head -c 1000 /dev/urandom > fw1.bin
"$A" create -q --key alice.pem --image fw1.bin --seq 1 --vendor-domain example.com --class cam-v2 --integrate --out v1.suit
"$AG" --config dev.json install v1.suit >/dev/null && "$AG" --config dev.json boot >/dev/null
start_tracker clean || { echo "FAIL: the tracker does not start"; cat tracker.log; exit 1; }
"$AG" --config dev.json run --once >first.log 2>&1
[ -n "$(sent first.log)" ] || { echo "FAIL: first report"; cat first.log; exit 1; }
stop_tracker
last=$(counter)

# THREAT: F6
stored=0
failed=0
nostart=0
for run in $(seq 1 "$RUNS"); do
    if start_tracker faulty; then
        timeout 60 "$AG" --config dev.json run --once >cycle.log 2>&1
    else
        nostart=$((nostart + 1))
        : > cycle.log
    fi
    stop_tracker
    n=$(sent cycle.log)
    if ! start_tracker clean; then
        echo "FAIL: run $run: the tracker does not start without faults after the faulty run"
        tail -5 tracker.log | sed 's/^/    /'
        fail=$((fail + 1))
        break
    fi
    now=$(counter)
    ok "run $run: the tracker's record is readable" [ -n "$now" ]
    ok "run $run: its report counter did not go down ($last -> $now)" [ "${now:-0}" -ge "$last" ]
    if [ -n "$n" ]; then
        stored=$((stored + 1))
        ok "run $run: the report answered as sent ($n) is stored (counter $now)" [ "${now:-0}" -ge "$n" ]
    else
        failed=$((failed + 1))
    fi
    "$AG" --config dev.json run --once >clean.log 2>&1
    n=$(sent clean.log)
    now=$(counter)
    ok "run $run: a fault-free cycle reports and is stored ($n, counter $now)" [ -n "$n" ] && [ "${now:-0}" -ge "$n" ]
    last=${now:-$last}
    stop_tracker
done

echo "fiu tracker figures: $RUNS cycles at p=$P: report stored $stored, not sent $failed (the tracker did not come up under faults $nostart times)"
echo "threats fiu tracker: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
