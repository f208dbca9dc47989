# Shared by tests/threats/*.sh (sourced after tests/integration/check.sh): a real
# secup-server over HTTPS with an attacker proxy (mitm.py) in front of it, a stand-in tracker
# (tests/integration/standin_tracker.py) with a second proxy in front of it, a device with
# file slots running sequence 1, and the invariants of THREATS.md section 2.
# Needs: AG A SRV SIGN HERE (tests/threats), INTEG (tests/integration), work (check.sh).
PY=/usr/bin/python3
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }
field() { "$AG" --config dev.json status --json | $PY -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
report() { $PY -c "import json,sys; d=json.load(open('trk/reports/last.json')); print(eval(sys.argv[1]))" "$1"; }

# rules JSON: the attacker proxy in front of the server acts on these from the next request
rules() { echo "$1" > px/rules.json.tmp && mv px/rules.json.tmp px/rules.json; rm -f px/used.json; }
trules() { echo "$1" > tpx/rules.json.tmp && mv tpx/rules.json.tmp tpx/rules.json; rm -f tpx/used.json; }

# start_services: the server (Author alice, device cam-1), the stand-in tracker and the two
# proxies, and empty slots and state directories. A test that needs more keys or Authors
# defines world_extra(), which runs before the server starts.
start_services() {
    "$SRV" init s --listen 127.0.0.1:0 --id fw1 >/dev/null 2>&1 || { echo "FAIL: server init"; exit 1; }
    "$A" keygen --alg esp256 --out alice.pem >/dev/null
    "$A" keygen --alg esp256 --out trk.pem >/dev/null
    "$A" keygen --alg esp256 --out dev.pem >/dev/null
    ATOK=$("$SRV" admin s author add alice --key alice.pub.pem 2>/dev/null)
    "$SRV" admin s author grant alice --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
    if declare -F world_extra >/dev/null; then world_extra; fi
    "$SRV" admin s device add cam-1 --vendor-domain example.com --class cam-v2 --region eu 2>/dev/null > srv.tok
    "$SRV" run s >server.log 2>&1 &
    pids+=($!)
    wait_file s/server.port || { echo "FAIL: server start"; exit 1; }
    SU="https://127.0.0.1:$(cat s/server.port)"
    mkdir -p trk px tpx
    echo "enrol-secret-0123456789" > enrol.tok
    $PY "$INTEG/standin_tracker.py" trk enrol-secret-0123456789 2>tracker.err &
    pids+=($!)
    wait_file trk/port || { echo "FAIL: tracker start"; exit 1; }
    TU="http://127.0.0.1:$(cat trk/port)"
    $PY "$HERE/mitm.py" --upstream "$SU" --ca s/tls/cert.pem --dir px 2>px.err &
    pids+=($!)
    $PY "$HERE/mitm.py" --upstream "$TU" --dir tpx 2>tpx.err &
    pids+=($!)
    wait_file px/port && wait_file tpx/port || { echo "FAIL: proxy start"; exit 1; }
    PU="http://127.0.0.1:$(cat px/port)"
    TPU="http://127.0.0.1:$(cat tpx/port)"
    mkdir -p slots state
}

start_world() {
    start_services
    cat > dev.json <<JSON
{ "device": { "id": "cam-1", "key": "dev.pem", "vendor-domain": "example.com", "class": "cam-v2" },
  "state-dir": "state", "bootloader": { "type": "statefile", "path": "state/boot" },
  "health-check": { "command": ["/bin/true"], "timeout": 10 },
  "components": [ { "name": "firmware", "slots": ["slots/a", "slots/b"], "slot-size": 1000000 } ],
  "trust": [ { "name": "release", "key": "alice.pub.pem" } ],
  "tracker": { "url": "$TPU", "id": "trk1", "key": "trk.pub.pem", "enrolment-token-file": "enrol.tok",
               "poll-wait": 1 },
  "server": { "url": "$PU", "token-file": "srv.tok", "retry-initial": 1, "retry-max": 1,
              "attempts": 3, "low-speed-time": 2 } }
JSON
    head -c 1000 /dev/urandom > fw1.bin
    "$A" create -q --key alice.pem --image fw1.bin --seq 1 --vendor-domain example.com --class cam-v2 \
        --integrate --out v1.suit
    "$AG" --config dev.json install v1.suit >/dev/null && "$AG" --config dev.json boot >/dev/null ||
        { echo "FAIL: first install"; exit 1; }
    "$AG" --config dev.json run --once >first.log 2>&1 || { echo "FAIL: registration"; cat first.log; exit 1; }
    RUNNING=1
    CTR=0
}

declare -A ID
# image SEQ [SIZE]: an image of sequence SEQ at the server (fw$SEQ.bin, v$SEQ.suit, ID[$SEQ])
image() {
    local seq=$1 size=${2:-200000}
    head -c "$size" /dev/urandom > "fw$seq.bin"
    "$A" create -q --key alice.pem --image "fw$seq.bin" --seq "$seq" --version "1.$seq" \
        --vendor-domain example.com --class cam-v2 --uri https://mirror.invalid/fw.bin --out "v$seq.suit"
    ID[$seq]=$(curl -sk -H "Authorization: Bearer $ATOK" -F "envelope=@v$seq.suit" -F "payload=@fw$seq.bin" \
        -X POST "$SU/v1/images" | $PY -c "import json,sys; print(json.load(sys.stdin)['id'])")
    [ ${#ID[$seq]} -eq 64 ] || { echo "FAIL: submitting v$seq"; tail server.log; exit 1; }
}
# install SEQ [sign_command options...]: queue a tracker-signed install command for SEQ
install() {
    local seq=$1
    shift
    CTR=$((CTR + 1))
    local extra=("$@")
    [ ${#extra[@]} -eq 0 ] && extra=(--payload-uri "/v1/images/${ID[$seq]}/payload")
    "$SIGN" --out "trk/queue/$(printf %04d $CTR).cose" --key trk.pem --issuer trk1 --target cam-1 \
        --counter "$CTR" --action install --uri "/v1/images/${ID[$seq]}/manifest" --digest "${ID[$seq]}" \
        --seq "$seq" "${extra[@]}" || { echo "FAIL: cannot sign"; exit 1; }
}
# cycle LOG: one online cycle of the agent, its exit status in $st and output in LOG
cycle() { "$AG" --config dev.json run --once >"$1" 2>&1; st=$?; }

# snapshot: what must not change when an update is refused (INV-2, INV-3, INV-4)
snapshot() {
    local act
    act=$(field 'd["components"][0]["active"]')
    SNAP_SLOT=$(sha256sum "slots/$(tr 'AB' 'ab' <<<"$act")" | cut -d' ' -f1)
    SNAP_ACT=$act
    SNAP_FLOORS=$(field 'd["components"][0]["floors"]')
    SNAP_TRUST=$(field '[t["name"] for t in d["trust"]]')
}
# invariants DESC: after a refused or failed update, THREATS.md section 2
invariants() {
    local d=$1
    ok "$d: INV-1 still runs sequence $RUNNING" [ "$(field 'd["components"][0]["running-seq"]')" = "$RUNNING" ]
    ok "$d: INV-1 no trial pending, not in safe mode" \
        [ "$(field 'd["components"][0]["trial"], d["safe-mode"]')" = "(None, False)" ]
    ok "$d: INV-2 the running slot is untouched" \
        [ "$(field 'd["components"][0]["active"]')" = "$SNAP_ACT" ] && \
        [ "$(sha256sum "slots/$(tr 'AB' 'ab' <<<"$SNAP_ACT")" | cut -d' ' -f1)" = "$SNAP_SLOT" ]
    ok "$d: INV-3 floors unchanged" [ "$(field 'd["components"][0]["floors"]')" = "$SNAP_FLOORS" ]
    ok "$d: INV-4 trust anchors unchanged" [ "$(field '[t["name"] for t in d["trust"]]')" = "$SNAP_TRUST" ]
    ok "$d: INV-8 no temporary files" [ -z "$(find state slots -name '*.tmp*' -o -name '.*tmp*' | head -1)" ]
}
# recovers SEQ DESC: INV-7, the same update without the attacker installs
recovers() {
    local seq=$1 d=$2
    rules '[]'
    trules '[]'
    install "$seq"
    cycle rerun.log
    if [ "$st" -ne 0 ] || [ "$(field 'd["components"][0]["running-seq"]')" != "$seq" ]; then
        echo "FAIL: $d: INV-7 a fault-free rerun does not install $seq (exit $st)"; sed 's/^/    /' rerun.log
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
        RUNNING=$seq
    fi
    ok "$d: INV-8 the download area is empty after the install" [ -z "$(ls state/download 2>/dev/null)" ]
}
# expect_fail DESC CODE LOG: the last cycle failed, and its final failure (not a retried
# attempt) carries [CODE]
expect_fail() {
    local d=$1 code=$2 log=$3
    if [ "$st" -eq 0 ] || ! grep -v "attempt [0-9]* of [0-9]* failed" "$log" | grep -q "\[$code\]"; then
        echo "FAIL: $d: exit $st, no $code in the log"; sed 's/^/    /' "$log"; fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
}
