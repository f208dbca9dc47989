#!/bin/sh
# Builds bench_verify in Release and runs it; arguments go to bench_verify
# (--seconds S, --rounds N). Also prints `openssl speed` verify rates for context
# unless SECUP_BENCH_OPENSSL_SPEED=0.
#   BUILD_DIR   build directory (default: build/release, as the "release" preset)
# A missed goal is reported, not turned into a failing exit status.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-"$root/build/release"}
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSECUP_WITH_TESTS=OFF \
    -DSECUP_WITH_BENCH=ON >/dev/null
cmake --build "$build" --target bench_verify -j "$jobs" >/dev/null

"$build/bench/bench_verify" "$@"

if [ "${SECUP_BENCH_OPENSSL_SPEED:-1}" != 0 ] && command -v openssl >/dev/null 2>&1; then
    echo
    echo "openssl speed -seconds 1 ecdsap256 ed25519 (verify/s; prehashed ECDSA, reused context):"
    openssl speed -seconds 1 ecdsap256 ed25519 2>/dev/null |
        awk '/\(nistp256\)/ { printf "  %-8s %12s verify/s\n", "ESP256", $NF }
             /\(Ed25519\)/  { printf "  %-8s %12s verify/s\n", "Ed25519", $NF }' || true
fi
