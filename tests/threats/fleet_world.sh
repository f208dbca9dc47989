# Shared by the tracker-under-load tests (tests/threats/test_load.sh, test_fanout.sh,
# test_unreachable.sh, test_divergence.sh; sourced after tests/integration/check.sh): a real
# secup-server, a real secup-tracker on a fixed port (so that it can be killed and started
# again where its devices expect it), v1 of an image at the server (upload_image adds more),
# the options a secup-fleetsim fleet needs under it, and the helpers ok, waitfor, setjson,
# sql, summary. (test_divergence.sh builds its own two-tracker cascade with the helpers.)
# Needs: FS TRK SRV A (programs), work (check.sh), DB_URL ("" for SQLite, "pg" for a fresh
# database in the cluster of $SECUP_TEST_PG_URL, or a postgresql:// URL).
PY=/usr/bin/python3
pids=()
world_cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap world_cleanup EXIT

# sql QUERY: one value from the tracker's database, either backend
sql() {
    if [ -n "$PG_URL" ]; then
        psql -qAt "$PG_URL" -c "$1"
    else
        $PY -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" \
            "$PWD/t/tracker.db" "$1"
    fi
}

# start_tracker: (again) on the port it had the first time
start_tracker() {
    rm -f t/tracker.port
    "$TRK" run t >/dev/null 2>>t.log &
    TPID=$!
    pids+=("$TPID")
    port_of t/tracker.port >/dev/null
}
# kill9_tracker: no clean stop
kill9_tracker() {
    kill -9 "$TPID" 2>/dev/null
    wait "$TPID" 2>/dev/null
}

start_fleet_world() {
    PG_URL=""
    local dbopt=()
    if [ "${DB_URL:-}" = pg ]; then
        [ -n "${SECUP_TEST_PG_URL:-}" ] || { echo "FAIL: no SECUP_TEST_PG_URL (run through pg-cluster.sh exec)"; exit 1; }
        local name="secup_${SECUP_TEST_NAME//-/_}_$$"
        psql -q "$SECUP_TEST_PG_URL" -c "CREATE DATABASE $name" || { echo "FAIL: cannot create database $name"; exit 1; }
        PG_URL=${SECUP_TEST_PG_URL/\/secup_test\?/\/$name?}
        dbopt=(--db "$PG_URL")
    elif [ -n "${DB_URL:-}" ]; then
        PG_URL=$DB_URL
        dbopt=(--db "$PG_URL")
    fi
    "$A" keygen --alg esp256 --out author.pem >/dev/null
    "$SRV" init s --listen 127.0.0.1:0 --id fw1 >/dev/null 2>&1 || { echo "FAIL: server init"; exit 1; }
    ATOK=$("$SRV" admin s author add alice --key author.pub.pem 2>/dev/null)
    "$SRV" admin s author grant alice --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
    "$SRV" admin s device add fleet --vendor-domain example.com --class cam-v2 2>/dev/null > fleet.srvtoken
    "$SRV" admin s tracker add t1 2>/dev/null > t1.srvtoken
    "$TRK" init t --listen 127.0.0.1:0 --id t1 "${dbopt[@]}" >/dev/null 2>&1 || { echo "FAIL: tracker init"; exit 1; }
    setjson s/server.json "c['notify'] = {'retry-initial': 1, 'retry-max': 2, 'ca-file': '$PWD/t/tls/cert.pem'}"
    "$SRV" run s >/dev/null 2>s.log &
    pids+=($!)
    SU="https://127.0.0.1:$(port_of s/server.port)"
    "$TRK" admin t server add fw1 --key s/server-key.pub.pem >/dev/null
    "$TRK" admin t enrolment add --vendor-domain example.com --class cam-v2 --uses 100000 2>/dev/null > dev.enrol
    setjson t/tracker.json "c['auto-update'] = False; c['trust'] = ['$PWD/author.pub.pem']; c['server'] = {'token-file': '$PWD/t1.srvtoken', 'ca-file': '$PWD/s/tls/cert.pem', 'poll-interval': 0}; c['report-quota'] = 100000; ${TRACKER_JSON:-}"
    start_tracker
    local port
    port=$(cat t/tracker.port)
    setjson t/tracker.json "c['listen'] = '127.0.0.1:$port'"
    TU="https://127.0.0.1:$port"
    curl -sk -o /dev/null -H "Authorization: Bearer $(cat t1.srvtoken)" -d "{\"url\": \"$TU/v1/notify\"}" "$SU/v1/subscriptions"
    head -c 20000 /dev/urandom > fw1.bin
    "$A" create -q --key author.pem --image fw1.bin --seq 1 --vendor-domain example.com --class cam-v2 --version 1.0 \
        --uri https://x/fw1.bin --out v1.suit
    "$A" upload --server "$SU" --cacert s/tls/cert.pem --token "$ATOK" --quiet v1.suit --payload fw1.bin >/dev/null ||
        { echo "FAIL: upload v1"; exit 1; }
    FLEET=(--tracker "$TU" --tracker-key t/tracker-key.pub.pem --tracker-id t1 --tracker-ca t/tls/cert.pem
           --token dev.enrol --server "$SU" --server-ca s/tls/cert.pem --server-token fleet.srvtoken
           --trust author.pub.pem --vendor-domain example.com --class cam-v2 --initial v1.suit)
}

# upload_image SEQ SIZE: v$SEQ at the server; waits until the tracker knows it; its digest in DG[SEQ]
declare -A DG
upload_image() {
    local seq=$1 size=$2
    head -c "$size" /dev/urandom > "fw$seq.bin"
    "$A" create -q --key author.pem --image "fw$seq.bin" --seq "$seq" --vendor-domain example.com --class cam-v2 \
        --version "$seq.0" --uri "https://x/fw$seq.bin" --out "v$seq.suit"
    "$A" upload --server "$SU" --cacert s/tls/cert.pem --token "$ATOK" --quiet "v$seq.suit" --payload "fw$seq.bin" >/dev/null ||
        { echo "FAIL: upload v$seq"; exit 1; }
    waitfor 30 bash -c "'$TRK' admin t manifest list --json | grep -q '\"sequence\": $seq'" ||
        { echo "FAIL: the tracker did not learn v$seq"; exit 1; }
    DG[$seq]=$("$TRK" admin t manifest list --json |
        $PY -c "import json,sys; print([m['digest'] for m in json.load(sys.stdin) if m['sequence']==$seq][0])")
}
# summary FILE EXPR: a value from a fleetsim summary
summary() { $PY -c "import json,sys; s=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$1" "$2"; }
# no_sanitizer_reports LOG...: the daemons' and simulators' logs carry no sanitizer report
no_sanitizer_reports() {
    ok "no sanitizer report in $*" bash -c "! grep -sE 'Sanitizer|runtime error' $*"
}
