#!/usr/bin/env bash
# Random I/O errors in a real secup-server while an Author uploads (THREATS.md F6, SRV):
# each run starts the server (SQLite, HTTPS) under
#     fiu-run -x -c 'enable_random name=posix/io/*,probability=P'
# (file, database and socket calls fail at random), submits the next release with a
# detached payload over HTTPS, and stops the server. Then the server is started without
# faults (its store must open) and:
#   - an upload answered 201 is served with exactly the bytes submitted (envelope and
#     payload) and listed;
#   - any other outcome (an error status, a broken connection, a server that did not come
#     up) left either nothing (the release is not listed, and the same upload without
#     faults then succeeds and is served exactly) or, when only the answer was lost after
#     the commit, the whole release (served exactly; sent again it is refused with 409).
# Temporary upload files left by a failed upload are counted (the server removes them
# after upload-expiry), published blobs are never partial.
# Usage: test_fiu_server.sh secup-server secup-author [RUNS] [P]
set -u
SRV=$(realpath "${1:?usage: $0 secup-server secup-author [RUNS] [P]}")
A=$(realpath "${2:?usage: $0 secup-server secup-author [RUNS] [P]}")
RUNS=${3:-20}
P=${4:-0.002}
HERE=$(cd "$(dirname "$0")" && pwd)
INTEG=$(cd "$HERE/../integration" && pwd)
SECUP_TEST_NAME=threats-fiu-server
# shellcheck source=tests/integration/check.sh
. "$INTEG/check.sh"
PY=/usr/bin/python3
command -v fiu-run >/dev/null || { echo "FAIL: fiu-run not found (scripts/deps --test installs fiu-utils)"; exit 1; }
FIU_LIB=/usr/lib/fiu
asan=$(ldd "$SRV" 2>/dev/null | awk '/libasan/ { print $3; exit }')
spid=""
stop_server() {
    [ -n "$spid" ] || return 0
    kill "$spid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    spid=""
}
trap 'stop_server; rm -rf "$work"' EXIT

# start_server faulty|clean: the server in the background; SU its URL, empty if it never
# wrote its port
start_server() {
    rm -f s/server.port
    if [ "$1" = faulty ]; then
        local -a pre=()
        [ -n "$asan" ] && pre=(env "LD_PRELOAD=$asan $FIU_LIB/fiu_run_preload.so $FIU_LIB/fiu_posix_preload.so")
        fiu-run -x -f "" -c "enable_random name=posix/io/*,probability=$P" "${pre[@]}" \
            "$SRV" run s >>server-faulty.log 2>&1 &
    else
        "$SRV" run s >>server.log 2>&1 &
    fi
    spid=$!
    SU=""
    for _ in $(seq 200); do
        if [ -s s/server.port ]; then SU="https://127.0.0.1:$(cat s/server.port)"; return 0; fi
        kill -0 "$spid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}
upload() { # upload SEQ OUT: the HTTP status in $code, the body in OUT
    code=$(curl -sk --max-time 30 -o "$2" -w '%{http_code}' -H "Authorization: Bearer $ATOK" \
        -F "envelope=@v$1.suit" -F "payload=@fw$1.bin" -X POST "$SU/v1/images")
}
listed() { # listed SEQ: the release is in the author's listing
    curl -sk --max-time 30 -H "Authorization: Bearer $ATOK" "$SU/v1/images?vendor=$VENDOR&class=$CLASS" |
        $PY -c "import json,sys; sys.exit(0 if any(i['sequence'] == int(sys.argv[1]) for i in json.load(sys.stdin)['images']) else 1)" "$1"
}
id_of() { # id_of SEQ: the id of the listed release
    curl -sk --max-time 30 -H "Authorization: Bearer $ATOK" "$SU/v1/images?vendor=$VENDOR&class=$CLASS" |
        $PY -c "import json,sys; print([i['id'] for i in json.load(sys.stdin)['images'] if i['sequence'] == int(sys.argv[1])][0])" "$1"
}
served_exactly() { # served_exactly SEQ ID
    curl -sk --max-time 30 -H "Authorization: Bearer $DTOK" -o got.suit "$SU/v1/images/$2/manifest" &&
        curl -sk --max-time 30 -H "Authorization: Bearer $DTOK" -o got.bin "$SU/v1/images/$2/payload" &&
        cmp -s got.suit "v$1.suit" && cmp -s got.bin "fw$1.bin"
}

"$SRV" init s --listen 127.0.0.1:0 --id fw1 >/dev/null 2>&1 || { echo "FAIL: server init"; exit 1; }
"$A" keygen --alg esp256 --out alice.pem >/dev/null
ATOK=$("$SRV" admin s author add alice --key alice.pub.pem 2>/dev/null)
"$SRV" admin s author grant alice --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
DTOK=$("$SRV" admin s device add cam-1 --vendor-domain example.com --class cam-v2 --region eu 2>/dev/null)
release() {
    head -c $((100000 + RANDOM)) /dev/urandom > "fw$1.bin"
    "$A" create -q --key alice.pem --image "fw$1.bin" --seq "$1" --vendor-domain example.com \
        --class cam-v2 --uri https://mirror.invalid/fw.bin --out "v$1.suit" || { echo "FAIL: author"; exit 1; }
}
release 1
start_server clean || { echo "FAIL: the server does not start"; cat server.log; exit 1; }
upload 1 up.json
[ "$code" = 201 ] || { echo "FAIL: first upload: $code"; cat up.json; exit 1; }
read -r VENDOR CLASS < <($PY -c "import json; d=json.load(open('up.json')); print(d['vendor'], d['class'])")
stop_server

# THREAT: F6
published=0
unacked=0
refused=0
nostart=0
leftovers=0
for run in $(seq 1 "$RUNS"); do
    seq=$((run + 1))
    release "$seq"
    code=000
    : > up.json
    if start_server faulty; then
        upload "$seq" up.json
    else
        nostart=$((nostart + 1))
    fi
    stop_server
    id=$($PY -c "import json; print(json.load(open('up.json'))['id'])" 2>/dev/null)
    if ! start_server clean; then
        echo "FAIL: run $run: the server does not start without faults after the faulty run (upload: $code)"
        tail -5 server.log | sed 's/^/    /'
        fail=$((fail + 1))
        break
    fi
    if [ "$code" = 201 ] && [ -n "$id" ]; then
        published=$((published + 1))
        ok "run $run: a 201 upload is listed" listed "$seq"
        ok "run $run: a 201 upload is served with exactly the bytes submitted" served_exactly "$seq" "$id"
    elif listed "$seq"; then
        # stored and committed, but the answer was lost (the connection or the server died
        # after the commit): the whole release, never a part of it
        unacked=$((unacked + 1))
        id=$(id_of "$seq")
        ok "run $run: an upload answered $code but stored is served with exactly the bytes submitted" \
            served_exactly "$seq" "$id"
        upload "$seq" up2.json
        ok "run $run: ... and sending it again is refused as already there (409, status $code)" [ "$code" = 409 ]
    else
        refused=$((refused + 1))
        leftovers=$((leftovers + $(find s/blobs/tmp -type f 2>/dev/null | wc -l)))
        upload "$seq" up2.json
        id=$($PY -c "import json; print(json.load(open('up2.json'))['id'])" 2>/dev/null)
        ok "run $run: after a failed upload (nothing listed) the same upload without faults succeeds (status $code)" \
            [ "$code" = 201 ]
        ok "run $run: ... and is served with exactly the bytes submitted" served_exactly "$seq" "$id"
    fi
    stop_server
done

echo "fiu server figures: $RUNS uploads at p=$P: published $published, stored but not acknowledged $unacked, failed $refused (the server did not come up under faults $nostart times); temporary upload files left by failed uploads: $leftovers"
echo "threats fiu server: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
