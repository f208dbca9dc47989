#!/usr/bin/env bash
# THREATS.md S6, authorisation across principals at the tracker: every route of a real
# secup-tracker (the list is read from its route table in programs/tracker/routes.c and
# admin_rest.c, so that a route added without a case here fails this test) asked by every
# kind of principal: none, an administrator, a revoked administrator, a device, a downstream
# tracker (a consumer of kind tracker), an enrolment token, and a malformed (Basic) header.
# Where the principal is not entitled: 401 SECUP_E_AUTH or 403 SECUP_E_FORBIDDEN, every
# table of the tracker's database the same before and after, and a "refused METHOD PATH"
# line in the tracker's log (its audit trail of refusals; docs/tracker.md). Routes
# authenticated by a signed body (notify, requests) refuse an unsigned one from everyone,
# with no change. Then each entitled principal is let through (not 401/403).
# Usage: test_authz.sh secup-tracker
set -u
TRK=$(realpath "${1:?usage: $0 secup-tracker}")
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../../programs/tracker" && pwd)
SG=$(cd "$HERE/../integration" && pwd)/statusgen.py
SECUP_TEST_NAME=threats-authz
# shellcheck source=tests/integration/check.sh
. "$HERE/../integration/check.sh"
PY=/usr/bin/python3
tpid=""
trap '[ -n "$tpid" ] && kill "$tpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

# ---- the routes, from the tracker's route table ----
$PY - "$SRC/routes.c" "$SRC/admin_rest.c" > routes.txt <<'PYEOF'
import re, sys
for path in sys.argv[1:]:
    src = open(path).read()
    arrays = {m.group(1): [s.strip() for s in m.group(2).split(",")]
              for m in re.finditer(r"static const char \*const (\w+)\[\] = \{([^}]*)\};", src)}
    def render(segs):
        return "/" + "/".join("{}" if s == "NULL" else s.strip('"') for s in segs)
    for m in re.finditer(r'req_match\(&?r, "(\w+)", (\d+), (\w+|\(const char \*const\[\]\)\{([^}]*)\})\)'
                         r'((?:\s*&&\s*\((?:[^()]|\([^()]*\))*\))?)', src):
        method, n, name, inline, cond = m.groups()
        segs = [s.strip() for s in inline.split(",")] if inline else arrays[name]
        assert len(segs) == int(n), (name, segs, n)
        verbs = re.findall(r'strcmp\(r->seg\[\d\], "(\w+)"\)', cond or "")
        if verbs:  # a last segment chosen from a list
            for v in verbs:
                print(method, render(segs[:-1] + ['"%s"' % v]))
        else:
            print(method, render(segs))
PYEOF
NROUTES=$(wc -l < routes.txt)
ok "the route table gives the tracker's routes ($NROUTES)" [ "$NROUTES" -ge 15 ]

# ---- a tracker and its principals ----
"$TRK" init t --listen 127.0.0.1:0 --id trk1 >/dev/null 2>&1 || { echo "FAIL: tracker init"; exit 1; }
"$TRK" run t 2>t.log &
tpid=$!
for _ in $(seq 200); do [ -s t/tracker.port ] && break; sleep 0.05; done
TU="https://127.0.0.1:$(cat t/tracker.port)"
ADM=$("$TRK" admin t token add ops 2>/dev/null)
REV=$("$TRK" admin t token add old 2>/dev/null)
"$TRK" admin t token revoke old >/dev/null 2>&1
ENR=$("$TRK" admin t enrolment add --vendor-domain example.com --class cam-v2 --uses 10 2>/dev/null)
register() { # id kind -> its token
    $PY "$SG" key "$1.pem"
    $PY -c "import json,sys; print(json.dumps({'id': sys.argv[1], 'key': open(sys.argv[2]).read(), 'kind': sys.argv[3]}))" \
        "$1" "$1.pub.pem" "$2" > "reg-$1.json"
    curl -sk -H "Authorization: Bearer $ENR" --data-binary @"reg-$1.json" "$TU/v1/register" |
        $PY -c "import json,sys; print(json.load(sys.stdin)['token'])"
}
DEV=$(register d1 device)
GW=$(register gw tracker)
ok "a device and a downstream tracker are enrolled" [ ${#DEV} -gt 10 ] && [ ${#GW} -gt 10 ]
$PY "$SG" report d1.pem d1 1 1 > d1-report.cose
curl -sk -o /dev/null -H "Authorization: Bearer $DEV" --data-binary @d1-report.cose "$TU/v1/status"
$PY "$SG" report d1.pem d1 2 1 > d1-report2.cose
$PY -c "import json,sys; print(json.dumps({'id': 'new-1', 'key': open('d1.pub.pem').read()}))" > reg-new.json
echo '{"url": "https://127.0.0.1:9/cb"}' > cb.json
echo '{"id": "r1", "digest": "'"$(printf '%064d' 0)"'"}' > rollout.json
echo 'not a signed message' > junk.bin

declare -A AUTH
AUTH[none]=""
AUTH[admin]="Bearer $ADM"
AUTH[revoked]="Bearer $REV"
AUTH[device]="Bearer $DEV"
AUTH[tracker]="Bearer $GW"
AUTH[enrolment]="Bearer $ENR"
AUTH[basic]="Basic $ADM"
PRINCIPALS="none admin revoked device tracker enrolment basic"

# case ROUTE: "ENTITLED|PATH|BODY-FILE" for each route of the table. ENTITLED is the
# principals entitled to it, "all", or "signed" (authenticated by a signed body only).
declare -A CASES
CASES["GET /v1/health"]="all|/v1/health|"
CASES["POST /v1/register"]="enrolment|/v1/register|reg-new.json"
CASES["POST /v1/status"]="device|/v1/status|d1-report2.cose"
CASES["GET /v1/commands"]="device tracker|/v1/commands?wait=0|"
CASES["POST /v1/notify"]="signed|/v1/notify|junk.bin"
CASES["POST /v1/requests"]="signed|/v1/requests|junk.bin"
CASES["PUT /v1/callback"]="device tracker|/v1/callback|cb.json"
CASES["GET /v1/admin/consumers"]="admin|/v1/admin/consumers|"
CASES["GET /v1/admin/consumers/{}"]="admin|/v1/admin/consumers/d1|"
CASES["POST /v1/admin/consumers/{}/poke"]="admin|/v1/admin/consumers/d1/poke|"
CASES["GET /v1/admin/manifests"]="admin|/v1/admin/manifests|"
CASES["GET /v1/admin/rollouts"]="admin|/v1/admin/rollouts|"
CASES["POST /v1/admin/rollouts"]="admin|/v1/admin/rollouts|rollout.json"
CASES["GET /v1/admin/rollouts/{}"]="admin|/v1/admin/rollouts/r1|"
CASES["POST /v1/admin/rollouts/{}/pause"]="admin|/v1/admin/rollouts/r1/pause|"
CASES["POST /v1/admin/rollouts/{}/resume"]="admin|/v1/admin/rollouts/r1/resume|"
CASES["POST /v1/admin/rollouts/{}/cancel"]="admin|/v1/admin/rollouts/r1/cancel|"

# Everything the tracker stores, in a stable order.
snap() { $PY - t/tracker.db <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
    print("==", t)
    for row in db.execute("SELECT * FROM %s ORDER BY 1, 2" % t):
        print(row)
PYEOF
}
# waitlog N PATH: a "refused" line after the first N of the log names PATH (or, for the
# routes authenticated by a signed body, the refused notification or request)
waitlog() {
    for _ in $(seq 50); do
        if grep refused t.log | tail -n +$(($1 + 1)) |
            grep -qF -e " $2: " -e "refused a notification" -e "refused a request"; then return 0; fi
        sleep 0.05
    done
    return 1
}
ask() { # principal method path body -> status in $st, body in ans.json
    local h=() b=()
    [ -n "${AUTH[$1]}" ] && h=(-H "Authorization: ${AUTH[$1]}")
    [ -n "$4" ] && b=(--data-binary @"$4")
    st=$(curl -sk -o ans.json -w '%{http_code}' -X "$2" "${h[@]}" "${b[@]}" "$TU$3")
}

# THREAT: S6
entitled_cells=()
while read -r method pattern; do
    key="$method $pattern"
    if [ -z "${CASES[$key]:-}" ]; then
        echo "FAIL: S6 route $key (from the route table) has no case in this matrix"; fail=$((fail + 1)); continue
    fi
    IFS='|' read -r who path body <<<"${CASES[$key]}"
    for p in $PRINCIPALS; do
        if [ "$who" = all ] || [[ " $who " == *" $p "* ]]; then
            entitled_cells+=("$p|$method|$path|$body")
            continue
        fi
        before=$(snap)
        logged=$(grep -c "refused" t.log)
        ask "$p" "$method" "$path" "$body"
        after=$(snap)
        if [ "$who" = signed ]; then
            ok "S6 $key as $p: refused, the body is not signed (HTTP $st)" [ "${st:0:1}" = 4 ]
        else
            want=401 code=SECUP_E_AUTH
            # a consumer's token at the admin routes; a consumer reporting for another
            if { [ "$p" = device ] || [ "$p" = tracker ]; } && { [[ $path == /v1/admin/* ]] || [ "$path" = /v1/status ]; }; then
                want=403 code=SECUP_E_FORBIDDEN
            fi
            ok "S6 $key as $p: $want $code (got $st $(head -c 120 ans.json))" \
                bash -c "[ '$st' = $want ] && grep -q '\"error\":\"$code\"' ans.json"
        fi
        ok "S6 $key as $p: no side effect (every table the same)" [ "$before" = "$after" ]
        ok "S6 $key as $p: the refusal is in the tracker's log" \
            waitlog "$logged" "${path%%\?*}"
    done
done < <(sort -u routes.txt)
for k in "${!CASES[@]}"; do
    grep -qx "$k" routes.txt || { echo "FAIL: S6 the matrix has a case for $k, which the route table lacks"; fail=$((fail + 1)); }
done

# the entitled principals are let through
for c in "${entitled_cells[@]}"; do
    IFS='|' read -r p method path body <<<"$c"
    ask "$p" "$method" "$path" "$body"
    ok "S6 $method $path as $p (entitled): not refused for its principal (HTTP $st)" \
        [ "$st" != 401 ] && [ "$st" != 403 ]
done
echo "S6: $NROUTES routes x $(wc -w <<<"$PRINCIPALS") principals, ${#entitled_cells[@]} entitled cells"

kill -TERM "$tpid"
wait "$tpid"
ok "the tracker stops cleanly (exit $?)" [ $? -eq 0 ]
tpid=""
ok "no sanitizer report in its log" bash -c "! grep -sE 'Sanitizer|runtime error' t.log"
echo "threats authz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
