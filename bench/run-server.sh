#!/usr/bin/env bash
# bench/server (issue [server]): secup-server beside nginx on loopback, in one run.
#
#   bench/run-server.sh [BUILD_DIR]
#
# BUILD_DIR (default build/server-bench) is configured as a Release build when it is not a
# build directory yet, and secup-server and secup-author are (re)built in it.
# In a scratch directory on disk, a server data directory is initialised (SQLite store), an
# Author and a device are registered with `secup-server admin`, and one signed package with
# a 1 MiB random payload is submitted (POST /v1/images). Two secup-server processes serve
# that store: one over plain HTTP (server.json without "tls") and one over HTTPS (its own
# tls/ certificate from init). One nginx (own prefix and config under the scratch
# directory, never the system instance; worker_processes auto, sendfile on) serves the same
# payload file and the same "latest" JSON document over plain HTTP and over HTTPS (a
# self-signed P-256 certificate, as ../shared/peers/05_http.sh does).
# wrk -t2 -d$DURATION s then measures, per case and connection count:
#   payload  GET /v1/images/ID/payload with the device's token (1 MiB, 200)
#            vs nginx GET /fw-1M.bin (the same bytes)
#   304      GET /v1/latest?component=firmware with the device's token and If-None-Match
#            of the ETag secup-server returned (304 Not Modified, checked with curl first)
#            vs nginx GET /latest.json (the same JSON) with If-None-Match of nginx's ETag
# over plain HTTP at each of $CONNS connections, and over HTTPS at 50 connections.
# REPS runs of every case, interleaved (the order of nginx and secup alternates), and the
# median is kept. The table prints requests/s and MB/s (1e6 bytes/s of headers + bodies as
# wrk counts them) of both and the ratio secup/nginx; then the server CPU time per request
# (utime+stime from /proc), the non-2xx/3xx answers and socket errors wrk saw, and the goals
# of the issue: payload throughput >= 0.8 of nginx's, 304 rate >= 0.5 of nginx's.
# Client and servers share this machine's cores, so absolute figures are lower bounds; the
# ratios are what counts. A missed goal is reported, never turned into a failing exit
# status; the exit status is nonzero only when the setup breaks (no build, a server that
# does not start, a wrong answer, missing tools).
#
# Knobs: DURATION (10 s per wrk run), REPS (3), CONNS ("50 500"), TLS (1; 0 skips HTTPS),
# SECUP_BENCH_THREADS (secup-server "http" threads; default 2 x CPUs, the server's own
# default), SECUP_BENCH_PORT (first port tried for nginx, 18180), SECUP_BENCH_DIR (scratch
# parent, /var/tmp), SECUP_BENCH_KEEP=1 (keep the scratch directory: wrk outputs, server
# logs), SECUP_BENCH_NO_INSTALL=1 (never call apt-get).
# With the defaults: 12 wrk runs of 10 s per repetition, about 6 minutes in all.
set -eu -o pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build/server-bench}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
DURATION=${DURATION:-10}
REPS=${REPS:-3}
CONNS=${CONNS:-50 500}
TLS=${TLS:-1}
NCPU=$(nproc 2>/dev/null || echo 2)
THREADS=${SECUP_BENCH_THREADS:-$((2 * NCPU))}
TLS_CONNS=50
IMG_BYTES=$((1024 * 1024))

WORK=$(mktemp -d "${SECUP_BENCH_DIR:-/var/tmp}/secup-server-bench.XXXXXX")
. "$ROOT/bench/install/common.sh" # need_pkgs, have_pkg, now, make_image, track_pid, ...
log() { printf 'run-server: %s\n' "$*" >&2; }
die() { printf 'run-server: setup failed: %s\n' "$*" >&2; exit 1; }

NGX_PID=""
# shellcheck disable=SC2317  # run by the EXIT trap
stop_nginx() {
    if [ -n "$NGX_PID" ] && kill -0 "$NGX_PID" 2>/dev/null; then
        kill -QUIT "$NGX_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$NGX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$NGX_PID" 2>/dev/null && kill -TERM "$NGX_PID" 2>/dev/null
    fi
    NGX_PID=""
    return 0
}
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    cd /
    stop_nginx
    stop_tracked
    if [ "${SECUP_BENCH_KEEP:-0}" = 1 ]; then log "scratch directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- tools and the build ----
for t in nginx:nginx-light wrk:wrk curl:curl openssl:openssl; do
    command -v "${t%%:*}" >/dev/null 2>&1 || need_pkgs "${t#*:}" || die "${t%%:*}: $PKG_WHY"
done
SRV=$BUILD/programs/server/secup-server
AU=$BUILD/programs/author/secup-author
if command -v cmake >/dev/null 2>&1 && { [ -f "$BUILD/CMakeCache.txt" ] || [ ! -e "$SRV" ]; }; then
    if [ ! -f "$BUILD/CMakeCache.txt" ]; then
        log "configuring a Release build in $BUILD"
        cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSECUP_WITH_TESTS=OFF \
            -DSECUP_WERROR=OFF >"$WORK/cmake.log" 2>&1 || { tail -n 20 "$WORK/cmake.log" >&2; die "cmake configure failed"; }
    fi
    cmake --build "$BUILD" -j "$NCPU" --target secup-server secup-author \
        >"$WORK/build.log" 2>&1 || { grep -E 'error|Error' "$WORK/build.log" | head -n 20 >&2; die "building secup-server and secup-author failed"; }
    BUILD_TYPE=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
else
    BUILD_TYPE=unknown
fi
{ [ -x "$SRV" ] && [ -x "$AU" ]; } || die "no secup-server/secup-author in $BUILD/programs"

# a TCP port nobody listens on (from /proc/net/tcp*), at or after $1
listening() { cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p="$(printf '%04X' "$1")" \
    'NR > 1 && $4 == "0A" { split($2, a, ":"); if (a[2] == p) f = 1 } END { exit !f }'; }
free_port() {
    local p=$1
    while listening "$p"; do p=$((p + 1)); [ "$p" -lt 65000 ] || die "no free port"; done
    echo "$p"
}
hdr() { awk -F': ' -v h="$2" 'tolower($1) == h { gsub(/\r/, "", $2); print $2 }' "$1"; }

# ---- the secup-server store: an Author, a device, one 1 MiB package ----
cd "$WORK"
make_image image.bin "$IMG_BYTES" || die "cannot create the 1 MiB image"
"$SRV" init srv --listen 127.0.0.1:0 --id bench >init.log 2>&1 || { cat init.log >&2; die "secup-server init failed"; }
"$AU" keygen --alg esp256 --out author.pem >/dev/null 2>&1 || die "secup-author keygen failed"
ATOK=$("$SRV" admin srv author add bench-author --key author.pub.pem 2>admin.log) || { cat admin.log >&2; die "admin author add failed"; }
"$SRV" admin srv author grant bench-author --vendor-domain example.com --class bench-dev >>admin.log 2>&1 ||
    { cat admin.log >&2; die "admin author grant failed"; }
DTOK=$("$SRV" admin srv device add bench-dev1 --vendor-domain example.com --class bench-dev 2>>admin.log) ||
    { cat admin.log >&2; die "admin device add failed"; }
"$AU" create --key author.pem --image image.bin --seq 1 --version 1.0.0 --vendor-domain example.com \
    --class bench-dev --uri https://updates.example.com/fw.bin --out v1.suit >create.log 2>&1 ||
    { cat create.log >&2; die "secup-author create failed"; }

# server.json of both instances; paths absolute so that the plain one shares the store
S=$WORK/srv
write_conf() { # DIR LISTEN WITH_TLS
    local tls=
    [ "$3" = 1 ] && tls="\"tls\": { \"cert\": \"$S/tls/cert.pem\", \"key\": \"$S/tls/key.pem\" },"
    mkdir -p "$1"
    cat >"$1/server.json" <<JSON
{
  "id": "bench",
  "listen": "$2",
  $tls
  "database": "sqlite:$S/server.db",
  "blobs": "$S/blobs",
  "signing-key": "$S/server-key.pem",
  "limits": { "max-envelope": 1048576, "max-payload": 1073741824, "storage-quota": 0 },
  "http": { "threads": $THREADS, "connection-limit": 4096 }
}
JSON
}
write_conf "$S" 127.0.0.1:0 1
write_conf "$WORK/srv-plain" 127.0.0.1:0 0

SEC_PID_PLAIN="" SEC_PID_TLS=""
start_secup() { # DIR VAR-FOR-PID
    local dir=$1 pid
    rm -f "$dir/server.port"
    "$SRV" run "$dir" >"$dir.log" 2>&1 &
    pid=$!
    track_pid "$pid"
    for _ in $(seq 100); do [ -s "$dir/server.port" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    [ -s "$dir/server.port" ] || { cat "$dir.log" >&2; die "secup-server run $dir did not start"; }
    printf -v "$2" '%s' "$pid"
}
start_secup "$S" SEC_PID_TLS
start_secup "$WORK/srv-plain" SEC_PID_PLAIN
SU_TLS="https://127.0.0.1:$(cat "$S/server.port")"
SU_PLAIN="http://127.0.0.1:$(cat "$WORK/srv-plain/server.port")"

code=$(curl -sk -o submit.json -w '%{http_code}' -H "Authorization: Bearer $ATOK" \
    -F envelope=@v1.suit -F payload=@image.bin -X POST "$SU_PLAIN/v1/images") || die "curl POST /v1/images failed"
[ "$code" = 201 ] || { cat submit.json >&2; die "submission answered $code, expected 201"; }
ID=$(grep -o '"id": *"[0-9a-f]\{64\}"' submit.json | grep -o '[0-9a-f]\{64\}' | head -n 1)
[ -n "$ID" ] || die "no image id in the submission's answer: $(cat submit.json)"

# ---- nginx: the same payload bytes and the same "latest" JSON ----
mkdir -p www logs tmp
# nginx's workers run as another user when it is started as root: they traverse $WORK, read www/
chmod 711 "$WORK"
chmod 755 www
cp image.bin www/fw-1M.bin
code=$(curl -s -o www/latest.json -D latest.hdr -w '%{http_code}' -H "Authorization: Bearer $DTOK" \
    "$SU_PLAIN/v1/latest?component=firmware") || die "curl GET /v1/latest failed"
[ "$code" = 200 ] || die "GET /v1/latest answered $code: $(cat www/latest.json)"
S_ETAG=$(hdr latest.hdr etag)
[ -n "$S_ETAG" ] || die "GET /v1/latest sent no ETag"
chmod 644 www/fw-1M.bin www/latest.json

NPORT=$(free_port "${SECUP_BENCH_PORT:-18180}")
NTPORT=$(free_port $((NPORT + 1)))
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -keyout nginx-tls.key -out nginx-tls.crt -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 || die "cannot create nginx's certificate"
cat >nginx.conf <<CONF
worker_processes auto;
worker_rlimit_nofile 8192;
pid $WORK/logs/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 4096; }
http {
  types { application/json json; application/octet-stream bin; }
  default_type application/octet-stream;
  access_log off;
  sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 1000000; keepalive_timeout 65;
  open_file_cache max=64; open_file_cache_valid 60s;
  client_body_temp_path $WORK/tmp; proxy_temp_path $WORK/tmp; fastcgi_temp_path $WORK/tmp;
  uwsgi_temp_path $WORK/tmp; scgi_temp_path $WORK/tmp;
  server { listen 127.0.0.1:$NPORT; root $WORK/www; }
  server { listen 127.0.0.1:$NTPORT ssl; root $WORK/www;
    ssl_certificate $WORK/nginx-tls.crt; ssl_certificate_key $WORK/nginx-tls.key;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:1m; }
}
CONF
nginx -t -c "$WORK/nginx.conf" -p "$WORK/" >nginx-t.log 2>&1 || { cat nginx-t.log >&2; die "nginx config test failed"; }
nginx -c "$WORK/nginx.conf" -p "$WORK/" -g 'daemon off;' >logs/stdout.log 2>&1 &
NGX_PID=$!
NU_PLAIN="http://127.0.0.1:$NPORT"
NU_TLS="https://127.0.0.1:$NTPORT"
for _ in $(seq 50); do curl -fs -o /dev/null "$NU_PLAIN/latest.json" && break; sleep 0.1; done
curl -fs -o /dev/null "$NU_PLAIN/latest.json" || die "nginx did not come up: $(cat logs/error.log)"
curl -fsI "$NU_PLAIN/latest.json" >nginx-latest.hdr || die "nginx HEAD latest.json failed"
N_ETAG=$(hdr nginx-latest.hdr etag)
[ -n "$N_ETAG" ] || die "no ETag from nginx"

# ---- check every case with curl before timing it ----
check() { # WANT-CODE OUTFILE URL [curl args...]
    local want=$1 out=$2 url=$3 got
    shift 3
    got=$(curl -sk -o "$out" -w '%{http_code}' "$@" "$url") || die "curl $url failed"
    [ "$got" = "$want" ] || die "$url answered $got, expected $want"
}
for base in "$SU_PLAIN" "$SU_TLS"; do
    [ "$TLS" = 1 ] || [ "$base" = "$SU_PLAIN" ] || continue
    check 200 got.bin "$base/v1/images/$ID/payload" -H "Authorization: Bearer $DTOK"
    cmp -s got.bin image.bin || die "$base: the payload is not the image"
    check 304 got.json "$base/v1/latest?component=firmware" -H "Authorization: Bearer $DTOK" -H "If-None-Match: $S_ETAG"
    [ ! -s got.json ] || die "$base: the 304 has a body"
done
for base in "$NU_PLAIN" "$NU_TLS"; do
    [ "$TLS" = 1 ] || [ "$base" = "$NU_PLAIN" ] || continue
    check 200 got.bin "$base/fw-1M.bin"
    cmp -s got.bin image.bin || die "$base: nginx's payload is not the image"
    check 304 got.json "$base/latest.json" -H "If-None-Match: $N_ETAG"
done

# ---- the measurement ----
HZ=$(getconf CLK_TCK)
cpu_ticks() { # utime+stime of PID (all its threads) and of its children (nginx workers)
    local p t=0 kids
    kids=$(cat /proc/"$1"/task/*/children 2>/dev/null || true)
    for p in $1 $kids; do
        [ -r "/proc/$p/stat" ] || continue
        t=$((t + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")))
    done
    echo "$t"
}
# results, keyed "case conns server": space-separated values of the runs
declare -A RPS MBS CPU BAD SERR
mkdir -p wrk
run_wrk() { # KEY PID URL CONNS [header...]
    local key=$1 pid=$2 url=$3 c=$4 out c0 c1 reqs rps mbs bad serr
    shift 4
    local args=()
    for h in "$@"; do args+=(-H "$h"); done
    c0=$(cpu_ticks "$pid")
    out=$(wrk -t2 -c"$c" -d"${DURATION}s" "${args[@]}" "$url" 2>&1) || die "wrk failed for $key: $out"
    c1=$(cpu_ticks "$pid")
    echo "$out" >"wrk/${key// /_}.$(date +%s%N).txt"
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
    mbs=$(awk '/^Transfer\/sec/ { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v);
        m = 1; if (u == "KB") m = 1024; if (u == "MB") m = 1048576; if (u == "GB") m = 1073741824
        printf "%.2f", v * m / 1e6 }' <<<"$out")
    { [ -n "$rps" ] && [ -n "$reqs" ]; } || die "cannot read wrk's output for $key: $out"
    bad=$(awk '/Non-2xx or 3xx/ { print $NF }' <<<"$out")
    serr=$(awk '/Socket errors/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' <<<"$out")
    RPS[$key]+="$rps "
    MBS[$key]+="$mbs "
    CPU[$key]+="$(awk -v d="$((c1 - c0))" -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.1f", (n > 0 ? d / hz * 1e6 / n : 0) }') "
    BAD[$key]=$(( ${BAD[$key]:-0} + ${bad:-0} ))
    SERR[$key]=$(( ${SERR[$key]:-0} + ${serr:-0} ))
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit } print ((NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# case list: "label conns nginx-url secup-url secup-pid kind"
CASES=()
for c in $CONNS; do
    CASES+=("payload_http $c $NU_PLAIN/fw-1M.bin $SU_PLAIN/v1/images/$ID/payload $SEC_PID_PLAIN payload")
    CASES+=("304_http $c $NU_PLAIN/latest.json $SU_PLAIN/v1/latest?component=firmware $SEC_PID_PLAIN 304")
done
if [ "$TLS" = 1 ]; then
    CASES+=("payload_https $TLS_CONNS $NU_TLS/fw-1M.bin $SU_TLS/v1/images/$ID/payload $SEC_PID_TLS payload")
    CASES+=("304_https $TLS_CONNS $NU_TLS/latest.json $SU_TLS/v1/latest?component=firmware $SEC_PID_TLS 304")
fi
log "secup-server ($BUILD_TYPE, $THREADS threads) and nginx; ${#CASES[@]} cases x 2 servers x $REPS runs of ${DURATION} s" \
    "(about $(( (${#CASES[@]} * 2 * REPS * DURATION + 59) / 60 )) min)"
T0=$(now)
for ((r = 1; r <= REPS; r++)); do
    for cs in "${CASES[@]}"; do
        read -r label c nurl surl spid kind <<<"$cs"
        nh=() sh=("Authorization: Bearer $DTOK")
        if [ "$kind" = 304 ]; then nh=("If-None-Match: $N_ETAG"); sh+=("If-None-Match: $S_ETAG"); fi
        order="nginx secup"
        [ $((r % 2)) = 0 ] && order="secup nginx"
        for who in $order; do
            if [ "$who" = nginx ]; then run_wrk "$label $c nginx" "$NGX_PID" "$nurl" "$c" "${nh[@]}"
            else run_wrk "$label $c secup" "$spid" "$surl" "$c" "${sh[@]}"; fi
        done
        log "run $r/$REPS: $label c=$c done"
    done
done
T1=$(now)
for pid in "$SEC_PID_PLAIN" "$SEC_PID_TLS" "$NGX_PID"; do
    kill -0 "$pid" 2>/dev/null || die "a server died during the measurement (pid $pid)"
done

# ---- report ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
f1() { awk -v x="$1" 'BEGIN { if (x >= 100) printf "%.0f", x; else printf "%.1f", x }'; }
echo
echo "secup bench/server: 1 MiB payload and 'latest' 304, wrk -t2 -d${DURATION}s, median of $REPS interleaved runs"
echo "machine: $NCPU CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -r)," \
    "load $(cut -d' ' -f1-3 /proc/loadavg); $(nginx -v 2>&1 | sed 's/.*version: //') (worker_processes auto)," \
    "$(wrk --version 2>&1 | head -n 1 | awk '{ print $1, $2 }')"
echo "secup-server: $BUILD_TYPE build in $BUILD, $THREADS threads, SQLite store; measured in $(awk -v a="$T0" -v b="$T1" 'BEGIN { printf "%.0f", b - a }') s"
echo
printf '| %-14s | %5s | %11s | %11s | %5s | %10s | %10s | %5s |\n' case conns "nginx req/s" "secup req/s" ratio "nginx MB/s" "secup MB/s" ratio
printf '|%s|%s|%s|%s|%s|%s|%s|%s|\n' ---------------- ------- ------------- ------------- ------- ------------ ------------ -------
declare -A MED_RPS_RATIO MED_MBS_RATIO
for cs in "${CASES[@]}"; do
    read -r label c _ <<<"$cs"
    nr=$(median "${RPS[$label $c nginx]}"); sr=$(median "${RPS[$label $c secup]}")
    nm=$(median "${MBS[$label $c nginx]}"); sm=$(median "${MBS[$label $c secup]}")
    MED_RPS_RATIO[$label $c]=$(ratio "$sr" "$nr"); MED_MBS_RATIO[$label $c]=$(ratio "$sm" "$nm")
    printf '| %-14s | %5s | %11s | %11s | %5s | %10s | %10s | %5s |\n' "$label" "$c" "$(f1 "$nr")" "$(f1 "$sr")" \
        "${MED_RPS_RATIO[$label $c]}" "$(f1 "$nm")" "$(f1 "$sm")" "${MED_MBS_RATIO[$label $c]}"
done
echo
echo "server CPU time per request (utime+stime from /proc, median, us) and what wrk saw as wrong (all runs):"
for cs in "${CASES[@]}"; do
    read -r label c _ <<<"$cs"
    printf '  %-14s c=%-4s nginx %7s us, secup %7s us; non-2xx/3xx: nginx %s, secup %s; socket errors: nginx %s, secup %s\n' \
        "$label" "$c" "$(median "${CPU[$label $c nginx]}")" "$(median "${CPU[$label $c secup]}")" \
        "${BAD[$label $c nginx]}" "${BAD[$label $c secup]}" "${SERR[$label $c nginx]}" "${SERR[$label $c secup]}"
done
echo "(secup's payload and 304 answers were checked with curl first: the image's bytes, and 304 without a body)"
echo
goal() { # TEXT MIN-RATIO rps|mbs CASE...
    local text=$1 want=$2 what=$3 ok=1 detail="" k v
    shift 3
    for k in "$@"; do
        if [ "$what" = mbs ]; then v=${MED_MBS_RATIO[$k]}; else v=${MED_RPS_RATIO[$k]}; fi
        detail+="${detail:+, }${k/ / c=} $v"
        awk -v r="$v" -v w="$want" 'BEGIN { exit !(r + 0 >= w) }' || ok=0
    done
    if [ "$ok" = 1 ]; then echo "goal met: $text ($detail)"; else echo "goal not met: $text ($detail)"; fi
}
PAY=() NOT=()
for cs in "${CASES[@]}"; do
    read -r label c _ <<<"$cs"
    case $label in payload*) PAY+=("$label $c") ;; 304*) NOT+=("$label $c") ;; esac
done
goal "payload throughput (MB/s) at least 0.8 of nginx's" 0.8 mbs "${PAY[@]}"
goal "304 rate (req/s) at least 0.5 of nginx's" 0.5 rps "${NOT[@]}"
exit 0
