#!/usr/bin/env bash
# Builds the libFuzzer targets (preset "fuzz": clang, ASan + UBSan) and runs each one for
# a bounded time on a scratch copy of its seed corpus.
#
#   tools/fuzz-run.sh [SECONDS]        (default 60 seconds per target; CI uses 60)
#
# The committed corpus (fuzz/corpus/<target>/) is never modified: new inputs a run finds
# stay in the scratch copy, which is deleted afterwards. Regenerate seeds with
# fuzz/make-corpus.py, and add a reproducer to a corpus by hand once its bug is fixed.
#
# Exit status: 0 when no target crashed; 1 when one did (crash, sanitizer report, broken
# invariant, leak, timeout or out-of-memory); 2 on usage or build errors. A crashing
# input is kept under <build dir>/fuzz-artifacts/<target>/ (until the next run of that
# target) and printed in hex.
#
# Environment:
#   SECUP_FUZZ_BUILD_DIR  build in this directory instead of the preset's build/fuzz
#   SECUP_FUZZ_TARGETS    space-separated targets to run (default: every fuzz/<t>_fuzz.c
#                         that has a corpus fuzz/corpus/<t>/)
set -euo pipefail

usage() {
    echo "usage: $0 [SECONDS]" >&2
    exit 2
}

seconds=${1:-60}
[[ $# -le 1 && $seconds =~ ^[1-9][0-9]*$ ]] || usage

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# A target is fuzz/<target>_fuzz.c with a seed corpus fuzz/corpus/<target>/ (the rule of
# fuzz/CMakeLists.txt).
if [[ -z ${SECUP_FUZZ_TARGETS:-} ]]; then
    SECUP_FUZZ_TARGETS=
    for src in fuzz/*_fuzz.c; do
        t=${src#fuzz/}
        t=${t%_fuzz.c}
        if [[ -d fuzz/corpus/$t ]]; then
            SECUP_FUZZ_TARGETS+="$t "
        fi
    done
fi
targets=$SECUP_FUZZ_TARGETS
[[ -n ${targets// /} ]] || { echo "fuzz-run: no fuzz target found" >&2; exit 2; }
fuzzers=()
for t in $targets; do
    [[ -d fuzz/corpus/$t ]] || { echo "fuzz-run: no corpus for target '$t'" >&2; exit 2; }
    fuzzers+=("${t}_fuzzer")
done

# Only the fuzzers are built: the preset's unit tests are not needed here.
if [[ -n ${SECUP_FUZZ_BUILD_DIR:-} ]]; then
    build_dir=$SECUP_FUZZ_BUILD_DIR
    cmake --preset fuzz -B "$build_dir" || exit 2
    cmake --build "$build_dir" -j2 --target "${fuzzers[@]}" || exit 2
else
    build_dir=build/fuzz
    cmake --preset fuzz || exit 2
    cmake --build --preset fuzz -j2 --target "${fuzzers[@]}" || exit 2
fi
case $build_dir in /*) ;; *) build_dir=$root/$build_dir ;; esac

scratch=$(mktemp -d "${TMPDIR:-/tmp}/secup-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
artifacts=$build_dir/fuzz-artifacts
mkdir -p "$artifacts"

failed=()
summary=()
for t in $targets; do
    bin=$build_dir/fuzz/${t}_fuzzer
    corpus=$scratch/corpus-$t
    log=$scratch/$t.log
    rm -rf "$artifacts/$t"
    mkdir -p "$corpus" "$artifacts/$t"
    cp -R fuzz/corpus/"$t"/. "$corpus"/
    echo "fuzz-run: $t for ${seconds}s ($(ls "$corpus" | wc -l) seeds)"
    status=0
    # The working directory is the source tree: targets load keys by relative path.
    dict=fuzz/dict/cbor.dict
    [[ -f fuzz/dict/$t.dict ]] && dict=fuzz/dict/$t.dict
    "$bin" -max_total_time="$seconds" -max_len=65536 -timeout=25 \
        -dict="$dict" -print_final_stats=1 \
        -artifact_prefix="$artifacts/$t/" "$corpus" >"$log" 2>&1 || status=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2 || true)
    found=$(find "$artifacts/$t" -type f | head -n 1 || true)
    if [[ $status -ne 0 || -n $found ]]; then
        failed+=("$t")
        summary+=("$(printf '%-12s CRASHED (exit %s) after %s executions' \
            "$t" "$status" "${execs:-?}")")
        echo "fuzz-run: $t FAILED (exit $status); last lines of its log:" >&2
        tail -n 60 "$log" >&2
        if [[ -n $found ]]; then
            hex=$(od -An -v -tx1 "$found" | tr -d ' \n' | head -c 4096 || true)
            echo "fuzz-run: reproducer: $found" >&2
            echo "fuzz-run: input (hex, at most 2 KiB): $hex" >&2
            echo "fuzz-run: replay with: $bin $found" >&2
        fi
    else
        summary+=("$(printf '%-12s %10s executions  %6s exec/s  cov %s' \
            "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}")")
    fi
done

echo "fuzz-run: results (${seconds}s per target)"
for line in "${summary[@]}"; do
    echo "  $line"
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz-run: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz-run: no crash found"
