#!/usr/bin/env bash
# secup-tracker's REST admin API and "poll now" over real HTTPS (issue [tracker]): every
# /v1/admin route without, with malformed, unknown, revoked and consumer credentials (the
# database is compared before and after every refusal), then with an administrator token;
# and "poll now" end to end: a real secup-agent with a listener gets a poke and an install
# POSTed by the tracker, refuses what does not verify, and is retried with back-off while
# it is down. Runs against SQLite and, given a URL, PostgreSQL.
# Usage: test_tracker_admin.sh secup-tracker secup-server secup-author secup-agent [DATABASE-URL|pg]
set -u
TRK=$(realpath "${1:?usage: $0 secup-tracker secup-server secup-author secup-agent [db]}")
SRV=$(realpath "${2:?}")
A=$(realpath "${3:?}")
AG=$(realpath "${4:?}")
DB_URL=${5:-}
SECUP_TEST_NAME=tracker_admin
SG=$(dirname "$(realpath "$0")")/statusgen.py
# shellcheck source=tests/integration/check.sh
. "$(dirname "$0")/check.sh"
# shellcheck source=tests/integration/tracker_env.sh
. "$(dirname "$0")/tracker_env.sh"

# Everything the tracker stores, in a stable order.
TABLES="consumers enrolments reports servers manifests commands rollouts rollout_targets kv aggregates events admin_tokens callbacks divergences"
snap() {
    local t args=()
    for t in $TABLES; do args+=(-c "SELECT '== $t'" -c "SELECT * FROM $t ORDER BY 1, 2"); done
    if [ -n "$DB_URL" ]; then psql -qAt "$DB_URL" "${args[@]}"; else
        for t in $TABLES; do echo "SELECT '== $t'; SELECT * FROM $t ORDER BY 1, 2;"; done | sqlite3 t/tracker.db
    fi
}
# A refusal: the answer, and nothing stored changed.
refused() { # description expected-status expected-code curl-args...
    local before after
    before=$(snap)
    http "$@"
    after=$(snap)
    if [ "$before" = "$after" ]; then pass=$((pass + 1)); else
        echo "FAIL: $1: the refusal changed the database"; diff <(echo "$before") <(echo "$after") | head -10; fail=$((fail + 1))
    fi
}
wait_until() { # tries command... for about 20 s
    for _ in $(seq 200); do "$@" && return 0; sleep 0.1; done
    return 1
}
show() { "$TRK" admin t consumer show "$1" --json; }
field() { show "$1" | $PY -c "import json,sys; d=json.load(sys.stdin); print($2)"; }

# ---- a tracker, a server, an Author, simulated consumers ----
if [ -n "$DB_URL" ]; then
    check "tracker init on PostgreSQL" 0 "" "$TRK" init t --listen 127.0.0.1:0 --db "$DB_URL" --id trk1
else
    check "tracker init" 0 "" "$TRK" init t --listen 127.0.0.1:0 --id trk1
fi
$PY - "$PWD" <<'EOF'
import json, sys
p = sys.argv[1] + "/t/tracker.json"
c = json.load(open(p)); c["auto-update"] = False
c["callbacks"] = {"ca-file": sys.argv[1] + "/state/listen-cert.pem", "retry-initial": 1, "retry-max": 2, "interval": 1}
json.dump(c, open(p, "w"), indent=2)
EOF
check "an administrator token" 0 "" bash -c "'$TRK' admin t token add ops > ops.tok"
ADM=$(cat ops.tok)
check "the same name again" 4 SECUP_E_EXISTS "$TRK" admin t token add ops
check "a token name must be a name" 2 SECUP_E_USAGE "$TRK" admin t token add ../x
OLD=$("$TRK" admin t token add old 2>/dev/null)
check "revoke a token" 0 "" "$TRK" admin t token revoke old
check "revoke it again" 4 SECUP_E_NOENT "$TRK" admin t token revoke old
ok "the list shows both, one revoked, and no secret" bash -c "'$TRK' admin t token list --json | $PY -c \"import json,sys; l=json.load(sys.stdin); assert [(t['name'], t['revoked']) for t in l] == [('old', True), ('ops', False)]; assert 'token' not in str(l) and '$ADM' not in str(l)\""
ok "stored as its SHA-256 only" test "$(sql "SELECT token_hash FROM admin_tokens WHERE name = 'ops'")" = "$(printf %s "$ADM" | sha256sum | cut -d' ' -f1)"

"$SRV" init s --listen 127.0.0.1:0 --id fw1 >/dev/null 2>&1
$PY - "$PWD" <<'EOF'
import json, sys
p = sys.argv[1] + "/s/server.json"
c = json.load(open(p)); c["notify"] = {"retry-initial": 1, "retry-max": 2, "ca-file": sys.argv[1] + "/t/tls/cert.pem"}
json.dump(c, open(p, "w"), indent=2)
EOF
"$TRK" admin t server add fw1 --key s/server-key.pub.pem >/dev/null
ENROL=$("$TRK" admin t enrolment add --vendor-domain example.com --class cam-v2 --uses 10 2>/dev/null)
echo "$ENROL" > enrol.tok
"$A" keygen --alg esp256 --out author.pem >/dev/null
"$A" keygen --alg esp256 --out dev.pem >/dev/null
ATOK=$("$SRV" admin s author add alice --key author.pub.pem 2>/dev/null)
"$SRV" admin s author grant alice --vendor-domain example.com --class cam-v2 >/dev/null 2>&1
"$SRV" admin s device add cam-1 --vendor-domain example.com --class cam-v2 2>/dev/null > srv.tok
TTOK=$("$SRV" admin s tracker add trk1 2>/dev/null)
"$TRK" run t 2>tracker.log &
tpid=$!
"$SRV" run s 2>server.log &
spid=$!
for _ in $(seq 100); do [ -s t/tracker.port ] && [ -s s/server.port ] && break; sleep 0.05; done
TU="https://127.0.0.1:$(cat t/tracker.port)"
SU="https://127.0.0.1:$(cat s/server.port)"
http "the tracker subscribes at the server" 201 "" -H "Authorization: Bearer $TTOK" -d "{\"url\": \"$TU/v1/notify\"}" "$SU/v1/subscriptions"

declare -A DT
for d in d1 d2 d3; do
    $PY "$SG" key $d.pem
    $PY -c "import json,sys; print(json.dumps({'id': sys.argv[1], 'key': open(sys.argv[2]).read()}))" $d $d.pub.pem > reg.json
    http "register $d" 201 "" -H "Authorization: Bearer $ENROL" --data-binary @reg.json "$TU/v1/register"
    DT[$d]=$(json resp.body "d['token']")
    CLS=$(json resp.body "d['class']")
    $PY "$SG" report $d.pem $d 1 1 > rep.cose
    http "$d reports sequence 1" 200 "" -H "Authorization: Bearer ${DT[$d]}" --data-binary @rep.cose "$TU/v1/status"
done
CTOK=${DT[d3]}

# the device cam-1: sequence 1 installed locally; the server gets sequence 2
mkdir -p slots state
cat > dev.json <<JSON
{ "device": { "id": "cam-1", "key": "dev.pem", "vendor-domain": "example.com", "class": "cam-v2" },
  "state-dir": "state", "bootloader": { "type": "statefile", "path": "state/boot" },
  "health-check": { "command": ["/bin/true"], "timeout": 10 },
  "components": [ { "name": "firmware", "slots": ["slots/a", "slots/b"], "slot-size": 1000000 } ],
  "trust": [ { "name": "release", "key": "author.pub.pem" } ],
  "tracker": { "url": "$TU", "id": "trk1", "key": "t/tracker-key.pub.pem", "ca-file": "t/tls/cert.pem",
               "enrolment-token-file": "enrol.tok", "poll-wait": 0, "poll-interval": 3600,
               "report-interval": 3600, "listen": { "address": "127.0.0.1:0" } },
  "server": { "url": "$SU", "token-file": "srv.tok", "ca-file": "s/tls/cert.pem",
              "retry-initial": 1, "retry-max": 2, "attempts": 4 } }
JSON
head -c 150000 /dev/urandom > fw1.bin
head -c 150000 /dev/urandom > fw2.bin
"$A" create -q --key author.pem --image fw1.bin --seq 1 --vendor-domain example.com --class cam-v2 --integrate --out v1.suit
"$AG" --config dev.json install v1.suit >/dev/null && "$AG" --config dev.json boot >/dev/null
"$A" create -q --key author.pem --image fw2.bin --seq 2 --vendor-domain example.com --class cam-v2 --uri https://x/fw2.bin --out v2.suit
check "the Author uploads sequence 2" 0 "" "$A" upload --server "$SU" --cacert s/tls/cert.pem --token "$ATOK" --quiet v2.suit --payload fw2.bin
wait_until bash -c "'$TRK' admin t manifest list --json | grep -q '\"sequence\": 2'"
DIG=$("$TRK" admin t manifest list --json | $PY -c "import json,sys; print([m['digest'] for m in json.load(sys.stdin) if m['sequence'] == 2][0])")
ok "the tracker learned of sequence 2" test ${#DIG} = 64

# ---- every admin route refuses what is not an administrator ----
echo '{"id": "rx", "digest": "'"$DIG"'", "consumers": ["d1"]}' > rx.json
routes=(
    "GET /v1/admin/consumers"
    "GET /v1/admin/consumers?state=obsolete"
    "GET /v1/admin/consumers/d1"
    "POST /v1/admin/consumers/d1/poke"
    "GET /v1/admin/manifests"
    "GET /v1/admin/rollouts"
    "POST /v1/admin/rollouts"
    "GET /v1/admin/rollouts/rx"
    "POST /v1/admin/rollouts/rx/pause"
    "POST /v1/admin/rollouts/rx/resume"
    "POST /v1/admin/rollouts/rx/cancel"
    "GET /v1/admin/nothing-here"
)
for r in "${routes[@]}"; do
    m=${r%% *} p=${r#* }
    body=()
    [ "$p" = /v1/admin/rollouts ] && [ "$m" = POST ] && body=(--data-binary @rx.json)
    refused "$r without credentials" 401 SECUP_E_AUTH -X "$m" "${body[@]}" "$TU$p"
    refused "$r with a Basic header" 401 SECUP_E_AUTH -X "$m" -H "Authorization: Basic $ADM" "${body[@]}" "$TU$p"
    refused "$r with a malformed token" 401 SECUP_E_AUTH -X "$m" -H 'Authorization: Bearer a%b!' "${body[@]}" "$TU$p"
    refused "$r with an unknown token" 401 SECUP_E_AUTH -X "$m" -H "Authorization: Bearer ${ADM}x" "${body[@]}" "$TU$p"
    refused "$r with a revoked token" 401 SECUP_E_AUTH -X "$m" -H "Authorization: Bearer $OLD" "${body[@]}" "$TU$p"
    refused "$r with a consumer's token" 403 SECUP_E_FORBIDDEN -X "$m" -H "Authorization: Bearer $CTOK" "${body[@]}" "$TU$p"
done
ok "no refusal reached the event log" test "$(sql "SELECT COUNT(*) FROM events WHERE actor LIKE 'admin:%'")" = 0

# ---- with the administrator token ----
H=(-H "Authorization: Bearer $ADM")
http "the consumers" 200 "" "${H[@]}" "$TU/v1/admin/consumers"
ok "all three, judged" test "$(json resp.body "' '.join(c['id'] + ':' + c['state'] for c in d)")" = "d1:obsolete d2:obsolete d3:obsolete"
http "by state" 200 "" "${H[@]}" "$TU/v1/admin/consumers?state=obsolete"
ok "three obsolete" test "$(json resp.body "len(d)")" = 3
http "by another state" 200 "" "${H[@]}" "$TU/v1/admin/consumers?state=up-to-date"
ok "none up to date" test "$(json resp.body "len(d)")" = 0
http "by class" 200 "" "${H[@]}" "$TU/v1/admin/consumers?class=$CLS&state=obsolete"
ok "the class's three" test "$(json resp.body "len(d)")" = 3
http "by another class" 200 "" "${H[@]}" "$TU/v1/admin/consumers?class=00000000000000000000000000000000"
ok "none of it" test "$(json resp.body "len(d)")" = 0
http "stale ones" 200 "" "${H[@]}" "$TU/v1/admin/consumers?state=stale"
ok "none: every statement given is still valid" test "$(json resp.body "len(d)")" = 0
refused "an unknown state" 400 SECUP_E_VALUE "${H[@]}" "$TU/v1/admin/consumers?state=sleepy"
refused "a malformed class" 400 SECUP_E_VALUE "${H[@]}" "$TU/v1/admin/consumers?class=cam"
http "one consumer with its history" 200 "" "${H[@]}" "$TU/v1/admin/consumers/d1"
ok "its report and components" test "$(json resp.body "(d['id'], len(d['reports']), d['components'][0]['sequence'], d['components'][0]['newest_known'])")" = "('d1', 1, 1, 2)"
refused "an unknown consumer" 404 SECUP_E_NOENT "${H[@]}" "$TU/v1/admin/consumers/nobody"
http "the manifests" 200 "" "${H[@]}" "$TU/v1/admin/manifests"
ok "sequence 2 from fw1" test "$(json resp.body "[(m['sequence'], m['server']) for m in d]")" = "[(2, 'fw1')]"

# rollouts
refused "a rollout: malformed JSON" 400 SECUP_E_JSON "${H[@]}" --data-binary '{"id": "r1", ' "$TU/v1/admin/rollouts"
refused "a rollout: not an object" 400 SECUP_E_JSON "${H[@]}" --data-binary '["r1"]' "$TU/v1/admin/rollouts"
refused "a rollout: an unknown key" 400 SECUP_E_JSON "${H[@]}" --data-binary '{"id": "r1", "digest": "'"$DIG"'", "force": true}' "$TU/v1/admin/rollouts"
refused "a rollout: a duplicate key" 400 SECUP_E_JSON "${H[@]}" --data-binary '{"id": "r1", "id": "r2", "digest": "'"$DIG"'"}' "$TU/v1/admin/rollouts"
refused "a rollout: a bad name" 400 SECUP_E_VALUE "${H[@]}" --data-binary '{"id": "../r1", "digest": "'"$DIG"'"}' "$TU/v1/admin/rollouts"
refused "a rollout: a bad digest" 400 SECUP_E_VALUE "${H[@]}" --data-binary '{"id": "r1", "digest": "xyz"}' "$TU/v1/admin/rollouts"
refused "a rollout: a canary that is not a count" 400 SECUP_E_JSON "${H[@]}" --data-binary '{"id": "r1", "digest": "'"$DIG"'", "canary": -1}' "$TU/v1/admin/rollouts"
refused "a rollout: a failure bound over 100" 400 SECUP_E_JSON "${H[@]}" --data-binary '{"id": "r1", "digest": "'"$DIG"'", "max_failures": 101}' "$TU/v1/admin/rollouts"
refused "a rollout: consumers not a list" 400 SECUP_E_JSON "${H[@]}" --data-binary '{"id": "r1", "digest": "'"$DIG"'", "consumers": "d1"}' "$TU/v1/admin/rollouts"
refused "a rollout of a manifest the tracker does not know" 404 SECUP_E_NOENT "${H[@]}" --data-binary '{"id": "r1", "digest": "'"$(printf '%064d' 0)"'"}' "$TU/v1/admin/rollouts"
refused "a body over the limit" 413 SECUP_E_LIMIT_BODY "${H[@]}" -H "Expect: 100-continue" --data-binary @fw1.bin "$TU/v1/admin/rollouts"
http "a rollout to d1 and d2, d1 the canary" 201 "" "${H[@]}" --data-binary '{"id": "r1", "digest": "'"$DIG"'", "canary": 1, "max_failures": 50, "consumers": ["d1", "d2"]}' "$TU/v1/admin/rollouts"
ok "its targets" test "$(json resp.body "(d['rollout'], d['targets'], d['canary'])")" = "('r1', ['d1', 'd2'], 1)"
refused "a rollout taking d2 again: 409" 409 SECUP_E_EXISTS "${H[@]}" --data-binary '{"id": "r2", "digest": "'"$DIG"'", "consumers": ["d2", "d3"]}' "$TU/v1/admin/rollouts"
ok "the refusal names the rollout that holds d2" grep -q "r1" resp.body
refused "the same name again: 409" 409 SECUP_E_EXISTS "${H[@]}" --data-binary '{"id": "r1", "digest": "'"$DIG"'", "consumers": ["d3"]}' "$TU/v1/admin/rollouts"
http "the rollouts" 200 "" "${H[@]}" "$TU/v1/admin/rollouts"
ok "r1, active, wave 1 of one target" test "$(json resp.body "[(r['id'], r['state'], r['wave'], r['wave1']['targets']) for r in d]")" = "[('r1', 'active', 1, 1)]"
http "one rollout" 200 "" "${H[@]}" "$TU/v1/admin/rollouts/r1"
ok "with its targets and waves" test "$(json resp.body "(d['state'], [(t['consumer'], t['wave']) for t in d['targets']])")" = "('active', [('d1', 1), ('d2', 2)])"
refused "an unknown rollout" 404 SECUP_E_NOENT "${H[@]}" "$TU/v1/admin/rollouts/r9"
refused "resume an active rollout" 400 SECUP_E_STATE "${H[@]}" -X POST "$TU/v1/admin/rollouts/r1/resume"
http "pause it" 200 "" "${H[@]}" -X POST "$TU/v1/admin/rollouts/r1/pause"
ok "paused" test "$("$TRK" admin t rollout show r1 --json | $PY -c "import json,sys; print(json.load(sys.stdin)['state'])")" = paused
refused "pause it again" 400 SECUP_E_STATE "${H[@]}" -X POST "$TU/v1/admin/rollouts/r1/pause"
refused "pause an unknown rollout" 404 SECUP_E_NOENT "${H[@]}" -X POST "$TU/v1/admin/rollouts/r9/pause"
refused "an unknown step" 404 SECUP_E_NOENT "${H[@]}" -X POST "$TU/v1/admin/rollouts/r1/explode"
refused "a step with a body" 400 SECUP_E_JSON "${H[@]}" --data-binary '{"now": true}' "$TU/v1/admin/rollouts/r1/cancel"
http "resume it" 200 "" "${H[@]}" -X POST "$TU/v1/admin/rollouts/r1/resume"
http "d1 polls: the canary's install, under r1" 200 "" -H "Authorization: Bearer ${DT[d1]}" "$TU/v1/commands?wait=0"
ok "an install of r1" test "$($PY "$SG" command resp.body | cut -d' ' -f1,4)" = "1 r1"
http "cancel it" 200 "" "${H[@]}" -X POST "$TU/v1/admin/rollouts/r1/cancel"
http "d1 polls again: told to cancel" 200 "" -H "Authorization: Bearer ${DT[d1]}" "$TU/v1/commands?wait=0"
ok "a signed cancel of r1" test "$($PY "$SG" command resp.body | cut -d' ' -f1,4)" = "4 r1"
refused "cancel it again" 400 SECUP_E_STATE "${H[@]}" -X POST "$TU/v1/admin/rollouts/r1/cancel"
refused "poke an unknown consumer" 404 SECUP_E_NOENT "${H[@]}" -X POST "$TU/v1/admin/consumers/nobody/poke"
refused "poke a consumer without a callback URL" 400 SECUP_E_STATE "${H[@]}" -X POST "$TU/v1/admin/consumers/d1/poke"
ok "the CLI sees the same rollout" bash -c "'$TRK' admin t rollout show r1 --json | grep -q '\"state\": \"cancelled\"'"
ok "every action of ops is in the event log" test "$(sql "SELECT action FROM events WHERE actor = 'admin:ops' AND object = 'r1' AND action IN ('rollout', 'pause', 'resume', 'cancel') ORDER BY action" | tr '\n' ' ')" = "cancel pause resume rollout "
ok "and its reads" test "$(sql "SELECT COUNT(DISTINCT action) FROM events WHERE actor = 'admin:ops' AND action IN ('consumer-list', 'consumer-show', 'manifest-list', 'rollout-list', 'rollout-show')")" = 5

# ---- callback URLs ----
refused "a callback without a token" 401 SECUP_E_AUTH -X PUT --data-binary '{"url": "https://d1.local/v1/command"}' "$TU/v1/callback"
refused "a callback under an administrator token" 401 SECUP_E_AUTH -X PUT -H "Authorization: Bearer $ADM" --data-binary '{"url": "https://d1.local/v1/command"}' "$TU/v1/callback"
refused "a plain-HTTP callback" 400 SECUP_E_VALUE -X PUT -H "Authorization: Bearer ${DT[d1]}" --data-binary '{"url": "http://d1.local/v1/command"}' "$TU/v1/callback"
refused "a callback with an unknown key" 400 SECUP_E_JSON -X PUT -H "Authorization: Bearer ${DT[d1]}" --data-binary '{"url": "https://d1.local/", "for": "d2"}' "$TU/v1/callback"

# ---- poll now, end to end with the agent's listener ----
reports() { field cam-1 "d['last_counter']" 2>/dev/null || echo 0; }
reports_above() { [ "$(reports)" -gt "$1" ]; }
accepted() { grep -c "listener: command [0-9]* ($1) accepted" agent.log; }
accepted_at_least() { [ "$(accepted "$1")" -ge "$2" ]; }
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sql_at_least() { [ "$(sql "$1")" -ge "$2" ]; }
start_agent() {
    "$AG" --config dev.json run 2>>agent.log &
    apid=$!
}
start_agent
wait_until grep -q "the tracker will POST commands" agent.log
ok "the agent registered its listener" grep -q "the tracker will POST commands to https://127.0.0.1:" agent.log
ok "the tracker keeps it" test "$(sql "SELECT COUNT(*) FROM callbacks WHERE consumer = 'cam-1' AND url LIKE 'https://127.0.0.1:%/v1/command'")" = 1
LU=$(sql "SELECT url FROM callbacks WHERE consumer = 'cam-1'")
wait_until test "$(reports)" -ge 1
r0=$(reports)
http "poke cam-1 (report status now)" 200 "" "${H[@]}" -X POST "$TU/v1/admin/consumers/cam-1/poke"
ok "delivered to the listener, which took it (202)" test "$(json resp.body "(d['delivered'], d['status'])")" = "(True, 202)"
ok "the agent reports at once (its own interval is an hour)" wait_until reports_above "$r0"
r1=$(reports)
check "poke from the command line" 0 "" bash -c "'$TRK' admin t consumer poke cam-1 --json > poke.json"
ok "delivered" test "$(json poke.json "d['delivered']")" = True
ok "and the agent reports again" wait_until reports_above "$r1"
ok "the pokes are in the event log" test "$(sql "SELECT actor FROM events WHERE action = 'poke' ORDER BY actor" | tr '\n' ' ')" = "admin admin:ops "

# the listener refuses what does not verify, and acts on nothing
wait_until accepted_at_least report 2
cp state/online.A online.before
rb=$(reports)
$PY "$SG" key evil.pem
$PY "$SG" sign-command evil.pem trk1 cam-1 999999 3 > forged.cose
$PY "$SG" sign-command evil.pem evil cam-1 999999 3 > evil.cose
$PY "$SG" sign-command t/tracker-key.pem trk1 cam-2 999999 3 > other.cose
$PY "$SG" sign-command t/tracker-key.pem trk1 cam-1 1 3 > old.cose
head -c 300 /dev/urandom > junk.bin
CT=(-H 'Content-Type: application/cose')
http "the listener: a command signed by another key" 422 SECUP_E_SIG "${CT[@]}" --data-binary @forged.cose "$LU"
http "the listener: a command of another issuer" 401 SECUP_E_AUTH "${CT[@]}" --data-binary @evil.cose "$LU"
http "the listener: a command for another device" 403 SECUP_E_AUDIENCE "${CT[@]}" --data-binary @other.cose "$LU"
http "the listener: an old counter (replay)" 409 SECUP_E_REPLAY "${CT[@]}" --data-binary @old.cose "$LU"
http "the listener: garbage" 400 "" "${CT[@]}" --data-binary @junk.bin "$LU"
http "the listener: a body over the limit" 413 SECUP_E_LIMIT_BODY "${CT[@]}" -H "Expect: 100-continue" --data-binary @fw1.bin "$LU"
http "the listener: GET" 400 SECUP_E_HTTP "$LU"
http "the listener: another path" 404 SECUP_E_NOENT --data-binary @old.cose "${LU%/v1/command}/v1/other"
ok "the agent acted on none of them (its counters are unchanged)" cmp -s state/online.A online.before
ok "and sent no report for them" test "$(reports)" = "$rb"

# an install POSTed at once: a rollout to cam-1, which is not in a long poll (after the
# pokes it polled once more and heard "nothing"; now it waits an hour)
idle() { [ "$(grep -E 'command [0-9]+ from trk1: ' agent.log | tail -1 | sed 's/.*: //')" = nothing ]; }
wait_until idle
r2=$(reports)
http "a rollout to cam-1" 201 "" "${H[@]}" --data-binary '{"id": "cam", "digest": "'"$DIG"'", "consumers": ["cam-1"]}' "$TU/v1/admin/rollouts"
ok "the tracker POSTs the install and the agent installs sequence 2" wait_until bash -c "'$TRK' admin t consumer show cam-1 --json | grep -q '\"sequence\": 2'"
ok "cam-1 is up to date" test "$(field cam-1 "d['state']")" = up-to-date
ok "the rollout is completed" wait_until bash -c "'$TRK' admin t rollout show cam --json | grep -q '\"state\": \"completed\"'"
ok "the agent was told through its listener, not by a poll" grep -q "listener: command [0-9]* (install) accepted" agent.log
ok "the tracker logged the delivery" grep -q "callback of 'cam-1': command delivered (HTTP 202)" tracker.log

# back-off: the agent is down; the poke waits and is retried, and delivered when it is back
kill "$apid"; wait "$apid" 2>/dev/null; apid=""
http "poke cam-1 while it is down" 200 "" "${H[@]}" -X POST "$TU/v1/admin/consumers/cam-1/poke"
ok "not delivered, retrying" test "$(json resp.body "(d['delivered'], d['retrying'], d['error']['error'])")" = "(False, True, 'SECUP_E_NET')"
ok "failures are counted and the next try put off" wait_until sql_at_least "SELECT failures FROM callbacks WHERE consumer = 'cam-1'" 2
ok "the poke is kept meanwhile" test "$(sql "SELECT COUNT(*) FROM callbacks WHERE consumer = 'cam-1' AND pending IS NOT NULL")" = 1
n_before=$(accepted report)
start_agent
ok "back up, the agent registers its new address and gets the poke" wait_until accepted_at_least report $((n_before + 1))
ok "delivered: the back-off cleared, the poke gone" wait_until sql_is "SELECT failures FROM callbacks WHERE consumer = 'cam-1' AND pending IS NULL" 0
ok "the tracker logged the retried delivery" grep -q "callback of 'cam-1': poke delivered" tracker.log

# a poke reaches an agent in a long poll too: the poll is ended and the agent reports
kill "$apid"; wait "$apid" 2>/dev/null; apid=""
sed -i 's/"poll-wait": 0, "poll-interval": 3600/"poll-wait": 30, "poll-interval": 0/' dev.json
n_cb=$(grep -c "the tracker will POST commands" agent.log)
start_agent
wait_until bash -c "[ \$(grep -c 'the tracker will POST commands' agent.log) -gt $n_cb ]"
wait_until sql_is "SELECT COUNT(*) FROM callbacks WHERE consumer = 'cam-1' AND pending IS NULL AND failures = 0" 1
sleep 1 # (not asserted: gives the agent time to be in its long poll)
r4=$(reports) n4=$(accepted report)
http "poke cam-1 while it long-polls" 200 "" "${H[@]}" -X POST "$TU/v1/admin/consumers/cam-1/poke"
ok "delivered" test "$(json resp.body "d['delivered']")" = True
ok "the agent takes it and reports" wait_until reports_above "$r4"
ok "from its listener" test "$(accepted report)" -gt "$n4"

stop_all
apid="" tpid="" spid=""
ok "no sanitizer report from the tracker, the server or the agent" bash -c "! grep -E 'Sanitizer|runtime error' tracker.log server.log agent.log"
echo "tracker admin ($([ -n "$DB_URL" ] && echo PostgreSQL || echo SQLite)): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
