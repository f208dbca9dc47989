# Shared by the tracker tests (test_tracker.sh, test_tracker_discovery.sh,
# test_tracker_admin.sh; sourced after check.sh): the database choice, the daemons the test
# starts (their process ids in tpid, spid and apid, killed at exit on every path), and the
# helpers http, ok, waitfor, json, setjson, sql and start_tracker / stop_tracker.
# Needs: TRK (secup-tracker), DB_URL ("" for SQLite, "pg" for a fresh database in the
# cluster of $SECUP_TEST_PG_URL, or a postgresql:// URL), SECUP_TEST_NAME, work (check.sh).
PY=/usr/bin/python3
if [ "${DB_URL:-}" = pg ]; then
    [ -n "${SECUP_TEST_PG_URL:-}" ] || { echo "FAIL: no SECUP_TEST_PG_URL (run through pg-cluster.sh exec)"; exit 1; }
    name="secup_${SECUP_TEST_NAME//-/_}_$$"
    psql -q "$SECUP_TEST_PG_URL" -c "CREATE DATABASE $name" || { echo "FAIL: cannot create database $name"; exit 1; }
    DB_URL=${SECUP_TEST_PG_URL/\/secup_test\?/\/$name?}
fi
tpid="" spid="" apid=""
stop_all() {
    for p in $apid $tpid $spid; do kill "$p" 2>/dev/null; done
    for p in $apid $tpid $spid; do wait "$p" 2>/dev/null; done
}
trap 'stop_all; rm -rf "$work"' EXIT

http() { # description expected-status expected-code-or-empty curl-args...
    local desc=$1 want=$2 code=$3
    shift 3
    local st
    rm -f resp.body
    st=$(curl -sk -o resp.body -w '%{http_code}' "$@")
    if [ "$st" != "$want" ]; then
        echo "FAIL: $desc: HTTP $st, expected $want"; sed 's/^/    /' resp.body 2>/dev/null; echo; fail=$((fail + 1)); return
    fi
    if [ -n "$code" ] && ! grep -q "\"error\":\"$code\"" resp.body; then
        echo "FAIL: $desc: no $code in the answer"; sed 's/^/    /' resp.body; echo; fail=$((fail + 1)); return
    fi
    pass=$((pass + 1))
}
json() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
sql() { # one query on the tracker's database t/, either backend
    if [ -n "$DB_URL" ]; then psql -qAt "$DB_URL" -c "$1"; else sqlite3 t/tracker.db "$1"; fi
}
# start_tracker: secup-tracker run t in the background (tpid), its URL in TU
start_tracker() {
    rm -f t/tracker.port
    "$TRK" run t 2>>tracker.log &
    tpid=$!
    for _ in $(seq 100); do [ -s t/tracker.port ] && break; sleep 0.05; done
    TU="https://127.0.0.1:$(cat t/tracker.port)"
}
stop_tracker() { kill "$tpid"; wait "$tpid" 2>/dev/null; tpid=""; }
