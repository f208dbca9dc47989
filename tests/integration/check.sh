# Shared by the black-box test scripts (sourced): a scratch directory and check().
# After sourcing: $work is a fresh directory (removed at exit) and the current directory.
work=$(mktemp -d "/tmp/secup-${SECUP_TEST_NAME:-test}.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
pass=0
fail=0

# check DESCRIPTION EXPECTED-STATUS EXPECTED-CODE-OR-EMPTY COMMAND...
# The command must exit with the status, and its output must carry [CODE] when one is given.
check() {
    local desc=$1 want=$2 code=$3
    shift 3
    local out st
    out=$("$@" 2>&1); st=$?
    if [ "$st" -ne "$want" ]; then
        echo "FAIL: $desc: exit $st, expected $want"; echo "$out" | sed 's/^/    /'; fail=$((fail + 1)); return
    fi
    if [ -n "$code" ] && ! grep -q "\[$code\]" <<<"$out"; then
        echo "FAIL: $desc: no [$code] in output"; echo "$out" | sed 's/^/    /'; fail=$((fail + 1)); return
    fi
    pass=$((pass + 1))
}

# ok DESCRIPTION COMMAND...: the command must succeed.
ok() {
    local desc=$1
    shift
    if "$@"; then pass=$((pass + 1)); else echo "FAIL: $desc"; fail=$((fail + 1)); fi
}

# waitfor SECONDS COMMAND...: polls every 0.1 s until the command succeeds (status 1 if it
# never does).
waitfor() {
    local n=$(( $1 * 10 ))
    shift
    for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
    return 1
}

# port_of FILE: waits up to 10 s for a daemon to write its port into FILE, and prints it.
port_of() { for _ in $(seq 200); do [ -s "$1" ] && break; sleep 0.05; done; cat "$1"; }

# setjson FILE PYTHON-STATEMENT: edits a JSON file; the statement changes the object c.
setjson() {
    /usr/bin/python3 - "$1" "$2" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1])); exec(sys.argv[2])
json.dump(c, open(sys.argv[1], "w"), indent=2)
PYEOF
}
