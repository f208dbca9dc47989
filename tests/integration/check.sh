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
