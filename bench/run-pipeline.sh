#!/bin/sh
# bench/pipeline (issue 3): the install pipeline against a baseline of separate tools.
#
#   bench/run-pipeline.sh [path/to/bench_pipeline]
#
# For a 64 MiB random image encrypted with A128CTR and with A128GCM, times
#   pipeline: bench_pipeline install = decrypt + SHA-256 + write to a file + fsync, one pass
#   baseline: openssl enc -d (AES-128-CTR; for GCM the same keystream, as enc knows no AEAD)
#             + openssl dgst -sha256 of the result + dd conv=fsync of it (sum of the three)
# and prints MB/s of both and their ratio (goal: pipeline <= 1.0 x baseline). Then prints the
# peak resident memory of the pipeline for a 16 MiB and a 256 MiB image (goal: within 10%
# of each other and under 8 MiB). Best of SECUP_BENCH_RUNS runs (default 3). Files go to a
# scratch directory on disk (SECUP_BENCH_DIR, default /var/tmp), removed at exit.
set -eu

BIN=${1:-build/release/bench/bench_pipeline}
MIB=${SECUP_BENCH_MIB:-64}
RUNS=${SECUP_BENCH_RUNS:-3}
[ -x "$BIN" ] || { echo "run-pipeline: no executable '$BIN' (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
command -v openssl >/dev/null || { echo "run-pipeline: openssl not found" >&2; exit 2; }

WORK=$(mktemp -d "${SECUP_BENCH_DIR:-/var/tmp}/secup-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", (b - a) / 1e9 }'; }
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }

echo "secup bench/pipeline: ${MIB} MiB image, best of ${RUNS}, $(nproc) CPUs, $(openssl version | cut -d' ' -f1-2)"
for alg in ctr gcm; do
    "$BIN" gen "$WORK" "$MIB" "$alg"
    # shellcheck disable=SC1090
    . "$WORK/$alg.env"
    best_pipe=""
    best_base=""
    best_enc=""
    best_dgst=""
    best_dd=""
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        i=$((i + 1))
        out=$("$BIN" install "$WORK" "$alg")
        best_pipe=$(min "$best_pipe" "$(field "$out" seconds)")
        cmp -s "$WORK/slot.bin" "$WORK/image.bin" || { echo "run-pipeline: slot differs from the image" >&2; exit 1; }

        t0=$(ns)
        openssl enc -d -aes-128-ctr -K "$KEY" -iv "$IV" -in "$WORK/$alg.ct" -out "$WORK/base.bin"
        t1=$(ns)
        sum=$(openssl dgst -sha256 -r "$WORK/base.bin" | cut -d' ' -f1)
        t2=$(ns)
        dd if="$WORK/base.bin" of="$WORK/base-slot.bin" bs=1M conv=fsync status=none
        t3=$(ns)
        [ "$sum" = "$DIGEST" ] || { echo "run-pipeline: baseline digest $sum != $DIGEST" >&2; exit 1; }
        e=$(secs "$t0" "$t1"); d=$(secs "$t1" "$t2"); w=$(secs "$t2" "$t3")
        total=$(awk -v a="$e" -v b="$d" -v c="$w" 'BEGIN { printf "%.6f", a + b + c }')
        if [ -z "$best_base" ] || [ "$(awk -v a="$total" -v b="$best_base" 'BEGIN { print (a < b) }')" = 1 ]; then
            best_base=$total; best_enc=$e; best_dgst=$d; best_dd=$w
        fi
        rm -f "$WORK/base.bin" "$WORK/base-slot.bin" "$WORK/slot.bin"
    done
    name=$(echo "$alg" | tr '[:lower:]' '[:upper:]')
    ratio=$(awk -v p="$best_pipe" -v b="$best_base" 'BEGIN { printf "%.2f", p / b }')
    verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.0) ? "ok" : "SLOWER THAN GOAL" }')
    printf 'A128%s: pipeline %.3f s = %s MB/s; baseline %.3f s = %s MB/s (enc %.3f + dgst %.3f + dd %.3f); ratio %s (goal <= 1.0: %s)\n' \
        "$name" "$best_pipe" "$(mbps "$IMAGE_SIZE" "$best_pipe")" "$best_base" \
        "$(mbps "$IMAGE_SIZE" "$best_base")" "$best_enc" "$best_dgst" "$best_dd" "$ratio" "$verdict"
    rm -f "$WORK"/*
done

# Peak RSS does not grow with the image: 16 MiB vs 256 MiB.
for mib in 16 256; do
    "$BIN" gen "$WORK" "$mib" gcm
    out=$("$BIN" install "$WORK" gcm)
    eval "rss_$mib=$(field "$out" rss_kib)"
    rm -f "$WORK"/*
done
# shellcheck disable=SC2154
awk -v a="$rss_16" -v b="$rss_256" 'BEGIN {
    d = (b - a) / a * 100; if (d < 0) d = -d
    ok = (d <= 10 && a < 8192 && b < 8192) ? "ok" : "OVER GOAL"
    printf "peak RSS: 16 MiB image %.2f MiB, 256 MiB image %.2f MiB (difference %.1f%%; goal within 10%% and < 8 MiB: %s)\n",
        a / 1024, b / 1024, d, ok }'
