#!/usr/bin/env bash
# Slow clients against a real secup-server and a real secup-tracker over HTTPS (THREATS.md
# S1, S2; harness SLOW): slowhttptest -H (slow headers), -B (slow body on the upload and
# the report route), -X (slow read of a payload download) and -R (range) with many
# connections from 127.0.0.1, while a legitimate client on 127.0.0.2 keeps downloading
# the payload or polling the tracker.
# Pass: every legitimate request succeeds (curl --max-time 60: a liveness bound, not a
# timing assertion); the daemon's fds stay under its connection limit; the slow sockets are
# closed by the daemon's own time limits (http.timeout, http.min-rate) while the attacker
# still holds them; nothing of them is left in the kernel either. The legitimate client's
# latency p50/p99 during each attack is printed as a figure.
# Usage: test_slow.sh secup-server secup-tracker secup-author [CONNECTIONS]
set -u
SRV=$(realpath "${1:?usage: $0 secup-server secup-tracker secup-author [CONNECTIONS]}")
TRK=$(realpath "${2:?}")
A=$(realpath "${3:?}")
CONNS=${4:-1000}
XCONNS=$((CONNS / 2)) # slow readers each hold up to a payload in the kernel until closed
HERE=$(cd "$(dirname "$0")" && pwd)
INTEG=$(cd "$HERE/../integration" && pwd)
SECUP_TEST_NAME=threats-slow
# shellcheck source=tests/integration/check.sh
. "$INTEG/check.sh"
PY=/usr/bin/python3
command -v slowhttptest >/dev/null || { echo "FAIL: slowhttptest is not installed (scripts/deps --test)"; exit 1; }
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

TIMEOUT=4        # http.timeout: the head deadline and each rate window (default 30, <= 40)
MINRATE=1024     # http.min-rate: bytes/s of bodies and answer reads
LIMIT=900        # http.connection-limit
PERIP=800        # http.per-ip-limit: the attacker's address gets this many at most
HTTP_CFG="{\"timeout\": $TIMEOUT, \"min-rate\": $MINRATE, \"connection-limit\": $LIMIT, \"per-ip-limit\": $PERIP}"

# ---- a server with a 2 MB payload, a tracker with a registered device ----
"$SRV" init s --listen 127.0.0.1:0 --id fw1 >/dev/null 2>&1 || { echo "FAIL: server init"; exit 1; }
"$TRK" init t --listen 127.0.0.1:0 --id trk1 >/dev/null 2>&1 || { echo "FAIL: tracker init"; exit 1; }
$PY - s/server.json t/tracker.json "$HTTP_CFG" <<'EOF'
import json, sys
for f in sys.argv[1:3]:
    c = json.load(open(f)); c["http"] = json.loads(sys.argv[3]); json.dump(c, open(f, "w"), indent=2)
EOF
"$A" keygen --alg esp256 --out alice.pem >/dev/null
"$A" keygen --alg esp256 --out dev.pem >/dev/null
ATOK=$("$SRV" admin s author add alice --key alice.pub.pem 2>/dev/null)
"$SRV" admin s author grant alice --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
DTOK=$("$SRV" admin s device add cam-1 --vendor-domain example.com --class cam-v2 2>/dev/null)
ETOK=$("$TRK" admin t enrolment add --vendor-domain example.com --class cam-v2 2>/dev/null)
"$SRV" run s >server.log 2>&1 &
SPID=$!
pids+=($SPID)
"$TRK" run t >tracker.log 2>&1 &
TPID=$!
pids+=($TPID)
wait_file s/server.port && wait_file t/tracker.port || { echo "FAIL: daemons do not start"; exit 1; }
SP=$(cat s/server.port)
TP=$(cat t/tracker.port)
SU="https://127.0.0.1:$SP"
TU="https://127.0.0.1:$TP"
head -c 2000000 /dev/urandom > fw.bin
"$A" create -q --key alice.pem --image fw.bin --seq 2 --vendor-domain example.com --class cam-v2 \
    --uri https://mirror.invalid/fw.bin --out v2.suit
ID=$(curl -sk -H "Authorization: Bearer $ATOK" -F envelope=@v2.suit -F payload=@fw.bin -X POST "$SU/v1/images" |
    $PY -c "import json,sys; print(json.load(sys.stdin)['id'])")
[ ${#ID} -eq 64 ] || { echo "FAIL: no image"; tail server.log; exit 1; }
$PY -c "import json,sys; print(json.dumps({'id': 'cam-1', 'key': open('dev.pub.pem').read()}))" > reg.json
CTOK=$(curl -sk -H "Authorization: Bearer $ETOK" --data-binary @reg.json "$TU/v1/register" |
    $PY -c "import json,sys; print(json.load(sys.stdin)['token'])")
[ -n "$CTOK" ] || { echo "FAIL: no registration"; tail tracker.log; exit 1; }
PAYLOAD="$SU/v1/images/$ID/payload"

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
# kernel sockets of the daemon's port that hold buffers (established, closing or orphaned;
# not the listener, not TIME-WAIT, which is a closed connection's bare record)
socks() { ss -tnH state all "( sport = :$1 )" 2>/dev/null | grep -vc -e LISTEN -e TIME-WAIT; }
SBASE=$(fds $SPID)
TBASE=$(fds $TPID)

# legit NAME URL TOKEN CODES: a legitimate client on 127.0.0.2, a request every 0.3 s until
# legit.NAME.stop exists; one line per request: "HTTP-status seconds"
legit() {
    local name=$1 url=$2 tok=$3
    : >"legit.$name"
    while [ ! -e "legit.$name.stop" ]; do
        curl -sk --interface 127.0.0.2 --max-time 60 -H "Authorization: Bearer $tok" -o /dev/null \
            -w '%{http_code} %{time_total}\n' "$url" >>"legit.$name"
        sleep 0.3
    done
}
# attack NAME PID SECONDS slowhttptest-args...: runs slowhttptest for at most SECONDS
# against the daemon PID while a watcher samples its fds (the most in $MAXFD); $HELD is the
# number of connections the attacker established, $ENDED how its run ended
attack() {
    local name=$1 pid=$2 secs=$3
    shift 3
    slowhttptest "$@" -l "$secs" -g -o "slow.$name" >"slow.$name.out" 2>&1 &
    local spid=$! f
    MAXFD=0
    while kill -0 "$spid" 2>/dev/null; do
        f=$(fds "$pid")
        [ "$f" -gt "$MAXFD" ] && MAXFD=$f
        sleep 0.2
    done
    wait "$spid"
    # the last line of the CSV: seconds, closed, pending, connected, service available
    HELD=$(tail -1 "slow.$name.csv" | awk -F, '{print $2 + $4}')
    ENDED=$(grep -o "No open connections left\|Hit test time limit" "slow.$name.out" | tail -1)
}
# figures NAME: p50/p99 of the legitimate client's latency, all requests answered as wanted
figures() {
    local name=$1 want=$2
    $PY - "legit.$name" "$want" "$name" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
want = sys.argv[2].split(",")
good = [float(t) for c, t in rows if c in want]
bad = [c for c, t in rows if c not in want]
good.sort()
def pct(p):
    return good[min(len(good) - 1, int(round(p / 100 * (len(good) - 1))))] if good else float("nan")
print("# %-22s legit requests %3d, failed %d, latency p50 %.3f s, p99 %.3f s, max %.3f s"
      % (sys.argv[3], len(rows), len(bad), pct(50), pct(99), good[-1] if good else float("nan")))
sys.exit(0 if rows and not bad else 1)
EOF
}
# closed LOG REASON: connections the daemon says it closed for REASON
closed() { grep -h "closed [0-9]* connections*: $2" "$1" | awk '{s += $5} END {print s + 0}'; }

# settled PID PORT BASE: the daemon's fds back near BASE and no socket of its port left
# in the kernel (closing or orphaned), within 5 s
settled() {
    for _ in $(seq 25); do
        [ "$(fds "$1")" -le $(($3 + 8)) ] && [ "$(socks "$2")" -le 8 ] && return 0
        sleep 0.2
    done
    echo "    (fds $(fds "$1"), base $3; sockets $(socks "$2"))"
    return 1
}
# verdict NAME WHO LOG PID PORT BASE REASON BEFORE ALL: the checks of one attack on one daemon
verdict() {
    local name=$1 who=$2 log=$3 pid=$4 port=$5 base=$6 reason=$7 before=$8 all=$9 n
    n=$(($(closed "$log" "$reason") - before))
    echo "# $name: $who fds at most $MAXFD (base $base, limit $LIMIT); the attacker held $HELD connections, the $who closed $n: $reason; slowhttptest: $ENDED"
    # a connection holds its socket, and while it downloads a payload, the file too
    ok "$name: the $who's fds stay under its connection limit" [ "$MAXFD" -le $((base + FDS * LIMIT + 8)) ]
    ok "$name: the attacker held connections at the $who" [ "$HELD" -ge 20 ]
    ok "$name: the $who closed them by its own time limit (at least 9 in 10)" [ $((n * 10)) -ge $((HELD * 9)) ]
    if [ "$all" = all ]; then
        ok "$name: ... every one, while the attacker held them" [ "$ENDED" = "No open connections left" ]
    fi
    ok "$name: nothing of them is left at the $who, nor in the kernel" settled "$pid" "$port" "$base"
}
# run NAME SECONDS REASON ALL: the attack SARGS against the server (and TARGS against the
# tracker at the same time, when set) with the legitimate clients running throughout; ALL
# "all": the attacker must see every connection closed (it cannot when it reads slowly)
run() {
    local name=$1 secs=$2 reason=$3 all=$4 smax sheld sended
    rm -f legit.*
    legit "$name-srv" "$PAYLOAD" "$DTOK" &
    local l1=$!
    legit "$name-trk" "$TU/v1/commands?wait=0" "$CTOK" &
    local l2=$!
    local before_s before_t
    before_s=$(closed server.log "$reason")
    before_t=$(closed tracker.log "$reason")
    if [ ${#TARGS[@]} -gt 0 ]; then
        (attack "$name-trk" $TPID "$secs" "${TARGS[@]}"; echo "$MAXFD $HELD $ENDED" >"attack.$name-trk") &
        local ta=$!
    fi
    attack "$name-srv" $SPID "$secs" "${SARGS[@]}"
    touch "legit.$name-srv.stop" "legit.$name-trk.stop"
    verdict "$name" server server.log $SPID "$SP" "$SBASE" "$reason" "$before_s" "$all"
    if [ ${#TARGS[@]} -gt 0 ]; then
        wait $ta
        read -r MAXFD HELD ENDED <"attack.$name-trk"
        verdict "$name" tracker tracker.log $TPID "$TP" "$TBASE" "$reason" "$before_t" "$all"
    fi
    wait $l1 $l2
    ok "$name: every legitimate download succeeded" figures "$name-srv" 200
    ok "$name: every legitimate poll succeeded" figures "$name-trk" 204,200
}

SECS=150 # at most: the attacks end when the daemons have closed every connection
RATE=250
# THREAT: S1
# slow headers: a header line every 2 s (each resets libmicrohttpd's idle timer), the head
# never complete: closed by the head deadline
SARGS=(-H -c "$CONNS" -r $RATE -i 2 -x 24 -u "$SU/v1/health")
TARGS=(-H -c "$CONNS" -r $RATE -i 2 -x 24 -u "$TU/v1/health")
FDS=1
run S1-slow-headers $SECS "request head not complete in time" all
# THREAT: S2
# slow body: POST a 100 kB upload and a 4 kB report a few bytes every 2 s
SARGS=(-B -c "$CONNS" -r $RATE -i 2 -x 24 -s 100000 -u "$SU/v1/images")
TARGS=(-B -c "$CONNS" -r $RATE -i 2 -x 24 -s 4000 -u "$TU/v1/status")
run S2-slow-body $SECS "request body slower than the minimum rate" all
# slow read: the 2 MB payload read 16 bytes every 2 s through a window of 64 to 512 bytes
# (the device's token rides in slowhttptest's cookie option as a header of its own); a
# slow reader never learns that it was reset before it has read what it holds, so the
# run has a fixed length: the connections' ramp, two rate windows and a margin
AUTH=$'x=1\r\nAuthorization: Bearer '"$DTOK"
SARGS=(-X -c "$XCONNS" -r $RATE -k 2 -n 2 -w 64 -y 512 -z 16 -j "$AUTH" -u "$PAYLOAD")
TARGS=()
FDS=2
run S2-slow-read $((XCONNS / 25 + 3 * TIMEOUT + 6)) "the client reads the answer slower than the minimum rate" some
# range (Apache killer): "Range: bytes=0-,5-0,5-1,...,5-2000" asks for 2000 overlapping
# parts; the server answers such a request with the whole payload (one range or none,
# docs/api.md), so no multipart answer is ever built in memory
st=$(curl -sk -o range.body -D range.head -w '%{http_code}' -H "Authorization: Bearer $DTOK" \
    -H "Range: bytes=0-,$(seq -s, -f '5-%g' 0 2000)" "$PAYLOAD")
ok "S2-range: many ranges are answered 200 with the whole payload" \
    [ "$st" = 200 ] && cmp -s range.body fw.bin && ! grep -qi multipart range.head
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
rss0=$(rss $SPID)
rm -f legit.*
legit R-srv "$PAYLOAD" "$DTOK" &
l1=$!
attack S2-range-srv $SPID 60 -R -c "$XCONNS" -r $RATE -a 5 -b 2000 -j "$AUTH" -u "$PAYLOAD"
touch legit.R-srv.stop
wait $l1
rss1=$(rss $SPID)
echo "# S2-range: the attacker made $HELD connections; server fds at most $MAXFD, RSS $rss0 kB before, $rss1 kB after; slowhttptest: $ENDED"
ok "S2-range: the attacker's requests were answered and ended" [ "$HELD" -ge 20 ] && [ "$ENDED" = "No open connections left" ]
ok "S2-range: the server's fds stay under its connection limit" [ "$MAXFD" -le $((SBASE + 2 * LIMIT + 8)) ]
ok "S2-range: the server's memory did not grow by a range per request (< 64 MB)" [ $((rss1 - rss0)) -lt 65536 ]
ok "S2-range: nothing is left at the server, nor in the kernel" settled $SPID "$SP" "$SBASE"
ok "S2-range: every legitimate download succeeded" figures R-srv 200
echo "threats slow: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
