#!/usr/bin/env bash
# A flood from many source addresses against a real secup-server and secup-tracker with
# per-source request limits (THREATS.md U6, harness LOAD), and the agent honouring
# Retry-After.
#   1. 249 sources (127.0.0.2 .. 127.0.0.250: all of 127/8 is loopback) send requests as
#      fast as they are answered while a legitimate device on 127.0.0.1 keeps polling the
#      tracker and fetching a manifest from the server: the flooders get 429
#      SECUP_E_RATE with Retry-After, every request of the device succeeds (its latency
#      p50/p99 printed as figures), the daemons' RSS and fds stay bounded.
#   2. The stand-in tracker answers 429 with Retry-After N: the real secup-agent (`run`)
#      does not come back before N seconds (requests counted in the stand-in's log over a
#      window: not a timing assertion on the agent, a check that it does not come early);
#      without a Retry-After it comes back after its own back-off (the count can tell).
# Usage: test_flood.sh secup-agent secup-author secup-server sign_command secup-tracker
set -u
AG=$(realpath "${1:?usage: $0 secup-agent secup-author secup-server sign_command secup-tracker}")
A=$(realpath "${2:?}")
SRV=$(realpath "${3:?}")
SIGN=$(realpath "${4:?}")
TRK=$(realpath "${5:?}")
HERE=$(cd "$(dirname "$0")" && pwd)
INTEG=$(cd "$HERE/../integration" && pwd)
SECUP_TEST_NAME=threats-flood
# shellcheck source=tests/integration/check.sh
. "$INTEG/check.sh"
# shellcheck source=tests/threats/common.sh
. "$HERE/common.sh"

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
jq1() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# ---- 1. the flood ------------------------------------------------------------------------
LIMITS='{"connection-limit": 4096, "rate-table": 4096, "rate-limits": {
  "poll": {"rate": 1, "burst": 4}, "report": {"rate": 1, "burst": 4}, "enrol": {"rate": 1, "burst": 2},
  "other": {"rate": 2, "burst": 4}}}'
SLIMITS='{"connection-limit": 4096, "rate-table": 4096, "rate-limits": {
  "download": {"rate": 1, "burst": 4}, "upload": {"rate": 1, "burst": 2}, "other": {"rate": 2, "burst": 4}}}'
"$SRV" init fs --listen 127.0.0.1:0 --id fw9 >/dev/null 2>&1 || { echo "FAIL: server init"; exit 1; }
"$TRK" init ft --listen 127.0.0.1:0 --id trk9 >/dev/null 2>&1 || { echo "FAIL: tracker init"; exit 1; }
$PY - fs/server.json "$SLIMITS" ft/tracker.json "$LIMITS" <<'EOF'
import json, sys
for f, h in ((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])):
    c = json.load(open(f)); c["http"] = json.loads(h); json.dump(c, open(f, "w"), indent=2)
EOF
"$A" keygen --alg esp256 --out fa.pem >/dev/null
"$A" keygen --alg esp256 --out fd.pem >/dev/null
FATOK=$("$SRV" admin fs author add fa --key fa.pub.pem 2>/dev/null)
"$SRV" admin fs author grant fa --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
FDTOK=$("$SRV" admin fs device add cam-9 --vendor-domain example.com --class cam-v2 2>/dev/null)
FETOK=$("$TRK" admin ft enrolment add --vendor-domain example.com --class cam-v2 2>/dev/null)
"$SRV" run fs >fserver.log 2>&1 &
FSPID=$!
pids+=($FSPID)
"$TRK" run ft >ftracker.log 2>&1 &
FTPID=$!
pids+=($FTPID)
wait_file fs/server.port && wait_file ft/tracker.port || { echo "FAIL: daemons do not start"; exit 1; }
FSU="https://127.0.0.1:$(cat fs/server.port)"
FTU="https://127.0.0.1:$(cat ft/tracker.port)"
head -c 100000 /dev/urandom > ffw.bin
"$A" create -q --key fa.pem --image ffw.bin --seq 2 --vendor-domain example.com --class cam-v2 \
    --uri https://mirror.invalid/fw.bin --out fv2.suit
FID=$(curl -sk -H "Authorization: Bearer $FATOK" -F envelope=@fv2.suit -F payload=@ffw.bin -X POST "$FSU/v1/images" |
    $PY -c "import json,sys; print(json.load(sys.stdin)['id'])")
$PY -c "import json,sys; print(json.dumps({'id': 'cam-9', 'key': open('fd.pub.pem').read()}))" > freg.json
FCTOK=$(curl -sk -H "Authorization: Bearer $FETOK" --data-binary @freg.json "$FTU/v1/register" |
    $PY -c "import json,sys; print(json.load(sys.stdin)['token'])")
[ ${#FID} -eq 64 ] && [ -n "$FCTOK" ] || { echo "FAIL: no image or no registration"; exit 1; }

# device NAME URL TOKEN: the legitimate device on 127.0.0.1, a request every 1.2 s (under
# its limit of 1 a second) until device.NAME.stop exists
device() {
    : >"device.$1"
    while [ ! -e "device.$1.stop" ]; do
        curl -sk --interface 127.0.0.1 --max-time 60 -H "Authorization: Bearer $3" -o /dev/null \
            -w '%{http_code} %{time_total}\n' "$2" >>"device.$1"
        sleep 1.2
    done
}
figures() {
    $PY - "device.$1" "$2" "$1" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
want = sys.argv[2].split(",")
good = sorted(float(t) for c, t in rows if c in want)
bad = [c for c, t in rows if c not in want]
def pct(p):
    return good[min(len(good) - 1, int(round(p / 100 * (len(good) - 1))))] if good else float("nan")
print("# %-8s device requests %3d, failed %d %s, latency p50 %.3f s, p99 %.3f s"
      % (sys.argv[3], len(rows), len(bad), sorted(set(bad)), pct(50), pct(99)))
sys.exit(0 if rows and not bad else 1)
EOF
}
# flood WHO PID URL FIGURES-NAME DEVICE-URL DEVICE-TOKEN WANT [HEADER]: 249 sources for 8 s
flood() {
    local who=$1 pid=$2 url=$3 name=$4 durl=$5 dtok=$6 want=$7
    shift 7
    local f0 r0 maxfd=0 f
    f0=$(fds "$pid")
    r0=$(rss "$pid")
    device "$name" "$durl" "$dtok" &
    local dp=$!
    $PY "$HERE/flood.py" "$url" 2 250 8 "$@" >"flood.$name.json" &
    local fp=$!
    while kill -0 $fp 2>/dev/null; do
        f=$(fds "$pid")
        [ "$f" -gt "$maxfd" ] && maxfd=$f
        sleep 0.2
    done
    wait $fp
    touch "device.$name.stop"
    wait $dp
    local r1 n n429 nra nrate
    r1=$(rss "$pid")
    n=$(jq1 "flood.$name.json" 'd["requests"]')
    n429=$(jq1 "flood.$name.json" 'd["status"].get("429", 0)')
    nra=$(jq1 "flood.$name.json" 'd["retry_after"]')
    nrate=$(jq1 "flood.$name.json" 'd["secup_e_rate"]')
    echo "# $name: 249 sources made $n requests: $(jq1 "flood.$name.json" 'd["status"]'), $(jq1 "flood.$name.json" 'd["errors"]') transport errors, $(jq1 "flood.$name.json" 'd["sources_refused"]') sources refused, Retry-After $(jq1 "flood.$name.json" 'd["retry_min"], d["retry_max"]') s; $who fds $f0 -> at most $maxfd, RSS $r0 -> $r1 kB"
    ok "$name: the flood was heavy (at least 1000 requests)" [ "$n" -ge 1000 ]
    # (the Python threads share one interpreter: some sources make fewer requests than
    # their burst and are never refused; none may make more unrefused)
    ok "$name: the flooding sources were refused (429)" [ "$(jq1 "flood.$name.json" 'd["sources_refused"]')" -ge 50 ]
    ok "$name: no source made more than its allowance without a 429" \
        [ "$(jq1 "flood.$name.json" 'd["max_unrefused"]')" -le $((4 + 9)) ]
    # a source may have its burst (4) and 1 a second over the 8 s (and the second of the
    # answers in flight): the rest is 429
    ok "$name: no source got more than its allowance" [ $((n - n429)) -le $((249 * (4 + 9))) ]
    ok "$name: every 429 says when to come back (Retry-After)" [ "$nra" -eq "$n429" ]
    ok "$name: every 429 names SECUP_E_RATE" [ "$nrate" -eq "$n429" ]
    ok "$name: every request of the device succeeded" figures "$name" "$want"
    ok "$name: the $who's fds stay bounded (at most 2 per source and a margin)" [ "$maxfd" -le $((f0 + 2 * 249 + 32)) ]
    # under AddressSanitizer freed memory waits in its quarantine (256 MB) before reuse
    local cap=32768
    grep -q libasan "/proc/$pid/maps" 2>/dev/null && cap=$((256 * 1024 + 32768))
    ok "$name: the $who's RSS grows by less than $((cap / 1024)) MB" [ $((r1 - r0)) -lt $cap ]
}
# THREAT: U6
flood tracker $FTPID "$FTU/v1/commands?wait=0" tracker "$FTU/v1/commands?wait=0" "$FCTOK" 204,200
flood server $FSPID "$FSU/v1/images/$FID/manifest" server "$FSU/v1/images/$FID/manifest" "$FDTOK" 200
ok "U6: the flooders' polls were refused before their (missing) token was looked at" \
    [ "$(jq1 flood.tracker.json 'd["status"].get("401", 0)')" -le $((249 * 8)) ]

# ---- 2. the agent honours Retry-After ----------------------------------------------------
start_world
# busy N WINDOW: the stand-in answers 429 (Retry-After N, or none for "-"); the agent runs;
# $COUNT is the number of 429s it got in WINDOW seconds from the first
busy() {
    local n=$1 window=$2
    echo "$n" > trk/busy
    : >trk/log
    "$AG" --config dev.json run >"agent.$3.log" 2>&1 &
    local ap=$!
    for _ in $(seq 100); do grep -q "^busy" trk/log && break; sleep 0.1; done
    sleep "$window"
    sleep 1
    kill $ap
    wait $ap
    rm -f trk/busy
    COUNT=$($PY - trk/log "$window" <<'EOF'
import sys
t = [float(l.split()[1]) for l in open(sys.argv[1]) if l.startswith("busy ")]
print(sum(1 for x in t if x - t[0] <= float(sys.argv[2])) if t else 0)
EOF
)
}
busy 4 12 ra
echo "# U6: with Retry-After 4 the agent asked $COUNT times in 12 s (its own back-off is 1 s)"
ok "U6: the agent honours Retry-After: at most 12/4 + 1 requests in 12 s" [ "$COUNT" -le 4 ]
ok "U6: ... and comes back after it" [ "$COUNT" -ge 2 ]
ok "U6: the agent says how long it waits" grep -q "again in 4 s" agent.ra.log
ok "U6: the agent logs the refusal's code" grep -q "SECUP_E_RATE" agent.ra.log
busy - 6 none
echo "# U6: without Retry-After the agent asked $COUNT times in 6 s"
ok "U6: without Retry-After it comes back sooner (the count tells the two apart)" [ "$COUNT" -ge 4 ]
n0=$(ls trk/reports | grep -c '^[0-9]')
cycle after.log
ok "U6: once the tracker serves again the agent reports" [ "$st" -eq 0 ] && [ "$(ls trk/reports | grep -c '^[0-9]')" -gt "$n0" ]

echo "threats flood: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
