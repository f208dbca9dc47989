#!/usr/bin/env bash
# Interop test: run the independent Python SUIT checker (suit_check.py) over the
# SUIT vectors and over inputs made by suit_testgen.py, with expected outcomes.
#
#   tests/interop/test_interop_vectors.sh VECTOR_DIR
#
# VECTOR_DIR is the folder holding manifest37-*.cbor, enc-manifest-*.cbor and
# keys/ (e.g. tests/vectors/suit).  Needs python3 with the cryptography and
# cbor2 modules (Debian: python3-cryptography python3-cbor2); $PYTHON overrides
# the interpreter.  SUIT_FLIP_ALL=1 also byte-flips every signed vector (slow).
# Exits non-zero on any mismatch; the last line is "interop: N passed, N failed".
set -eu
export PYTHONDONTWRITEBYTECODE=1   # leave no __pycache__ in the source tree

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 VECTOR_DIR" >&2
    exit 2
fi
VEC=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
CHECK="$HERE/suit_check.py"
GEN="$HERE/suit_testgen.py"

PY=""
for cand in "${PYTHON:-}" python3 /usr/bin/python3; do
    [ -n "$cand" ] || continue
    if "$cand" -c 'import cryptography, cbor2' >/dev/null 2>&1; then
        PY=$cand
        break
    fi
done
if [ -z "$PY" ]; then
    echo "error: no python3 with the cryptography and cbor2 modules (apt-get install python3-cryptography python3-cbor2)" >&2
    exit 2
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
GENDIR="$TMP/gen"
"$PY" "$GEN" cases "$VEC" "$GENDIR"

KEYS="$VEC/keys"
PUB="$KEYS/suit-example-p256-public.pem"
if [ ! -f "$PUB" ]; then
    echo "note: $PUB missing, using the public key derived from suit-example-p256-private.pem"
    PUB="$GENDIR/example-public-derived.pem"
fi
DERIVED="$GENDIR/example-public-derived.pem"
HMAC="$KEYS/enc-hmac256-key.hex"
DEPSIGNER="$KEYS/enc-dependent-signer-p256-private.pem"   # private PEM: checker uses its public half
OTHER="$GENDIR/other-p256-public.pem"
ED="$GENDIR/ed25519-public.pem"
GHMAC="$GENDIR/hmac-key.hex"

passed=0
failed=0

# expect OK|FAIL|USAGE LABEL ARGS... : run suit_check.py ARGS, compare outcome
#   OK    exit 0 and stdout "OK"
#   FAIL  exit 1 and stdout starting "FAIL: "
#   USAGE exit 2
expect() {
    local want=$1 label=$2 out rc good=0
    shift 2
    set +e
    out=$("$PY" "$CHECK" "$@" 2>"$TMP/stderr")
    rc=$?
    set -e
    case $want in
        OK) [ "$rc" -eq 0 ] && [ "$out" = "OK" ] && good=1 ;;
        FAIL) [ "$rc" -eq 1 ] && [ "${out#FAIL: }" != "$out" ] && good=1 ;;
        USAGE) [ "$rc" -eq 2 ] && good=1 ;;
    esac
    if [ $good -eq 1 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "MISMATCH $label: expected $want, got exit $rc: $out $(head -c 300 "$TMP/stderr")"
    fi
}

# expect_json LABEL FILE PYTHON-EXPR : dump FILE; EXPR over the parsed JSON `d` must be true
expect_json() {
    local label=$1 file=$2 expr=$3
    if "$PY" "$CHECK" dump "$file" >"$TMP/dump.json" 2>"$TMP/stderr" &&
        "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ('"$expr"') else 1)' \
            "$TMP/dump.json"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "MISMATCH $label: dump check failed: $expr"
        head -c 2000 "$TMP/dump.json" "$TMP/stderr"
    fi
}

# ---- real vectors: positive -------------------------------------------------
SIGNED="manifest37-ex0-signed manifest37-ex1-signed manifest37-ex2-signed
        manifest37-ex2-severed-signed manifest37-ex3-signed manifest37-ex4-signed
        manifest37-ex5-signed"
UNSIGNED="manifest37-ex0-unsigned manifest37-ex1-unsigned manifest37-ex2-severed-unsigned
          manifest37-ex3-unsigned manifest37-ex4-unsigned manifest37-ex5-unsigned"
MACED="enc-manifest-aes-kw-content enc-manifest-aes-kw enc-manifest-aes-kw-slot"

for v in $SIGNED; do
    expect OK "$v" verify "$VEC/$v.cbor" --pub "$PUB"
    expect OK "$v (derived key)" verify "$VEC/$v.cbor" --pub "$DERIVED"
    expect OK "$v (extra keys)" verify "$VEC/$v.cbor" --pub "$OTHER" --pub "$ED" --pub "$PUB" --hmac-key "$HMAC"
    expect_json "$v dump" "$VEC/$v.cbor" 'd["manifest_version"] == 1 and d["auth_algorithms"] == ["ES256"] and d["manifest_digest"]["matches"]'
done
for v in $MACED; do
    expect OK "$v" verify "$VEC/$v.cbor" --hmac-key "$HMAC"
    expect_json "$v dump" "$VEC/$v.cbor" 'd["auth_algorithms"] == ["HMAC256/256"]'
done
expect OK "enc-manifest-es-ecdh-content" verify "$VEC/enc-manifest-es-ecdh-content.cbor" --pub "$PUB"
expect_json "enc-manifest-es-ecdh-content dump" "$VEC/enc-manifest-es-ecdh-content.cbor" 'd["auth_algorithms"] == ["ESP256"]'
expect OK "enc-manifest-es-ecdh-dependency" verify "$VEC/enc-manifest-es-ecdh-dependency.cbor" \
    --pub "$DEPSIGNER" --pub "$PUB"

# dump contents of Example 0 and Example 3 (A/B alternatives)
expect_json "ex0 dump fields" "$VEC/manifest37-ex0-signed.cbor" \
    'd["tagged"] and d["sequence_number"] == 0 and d["vendor_id"] == "fa6b4a53-d5ad-5fdf-be9d-e663e4d41ffe" and d["class_id"] == "1492af14-2569-5e48-bf42-9b2d51f2ab45" and d["image_digest"] == "00112233445566778899aabbccddeeff0123456789abcdeffedcba9876543210" and d["image_size"] == 34768'
expect_json "ex2 dump severed" "$VEC/manifest37-ex2-signed.cbor" \
    'd["sequence_number"] == 2 and d["severable"] == {"install": "severed, envelope copy present", "text": "severed, envelope copy present"}'
expect_json "ex2-severed dump" "$VEC/manifest37-ex2-severed-signed.cbor" \
    'd["severable"] == {"install": "severed, envelope copy absent", "text": "severed, envelope copy absent"}'
expect_json "ex3 dump alternatives" "$VEC/manifest37-ex3-signed.cbor" \
    'sorted(a["image_size"] for a in d["components"][0]["alternatives"]) == [34768, 76834]'
expect_json "ex5 dump two components" "$VEC/manifest37-ex5-signed.cbor" 'len(d["components"]) == 2'
expect_json "ex0-unsigned dump" "$VEC/manifest37-ex0-unsigned.cbor" 'd["auth"] == []'

# ---- real vectors: negative -------------------------------------------------
for v in $UNSIGNED; do
    expect FAIL "$v (no signature)" verify "$VEC/$v.cbor" --pub "$PUB"
    expect FAIL "$v (no signature, hmac)" verify "$VEC/$v.cbor" --pub "$PUB" --hmac-key "$HMAC"
done
for v in $SIGNED; do
    expect FAIL "$v (wrong key)" verify "$VEC/$v.cbor" --pub "$OTHER"
    expect FAIL "$v (dependent-signer key)" verify "$VEC/$v.cbor" --pub "$DEPSIGNER"
    expect FAIL "$v (ed25519 key only)" verify "$VEC/$v.cbor" --pub "$ED"
    expect FAIL "$v (hmac key only)" verify "$VEC/$v.cbor" --hmac-key "$HMAC"
done
for v in $MACED; do
    expect FAIL "$v (wrong hmac key)" verify "$VEC/$v.cbor" --hmac-key "$GHMAC"
    expect FAIL "$v (public key only)" verify "$VEC/$v.cbor" --pub "$PUB"
done
expect FAIL "es-ecdh-content (hmac only)" verify "$VEC/enc-manifest-es-ecdh-content.cbor" --hmac-key "$HMAC"
expect FAIL "es-ecdh-content (wrong key)" verify "$VEC/enc-manifest-es-ecdh-content.cbor" --pub "$OTHER"
expect FAIL "es-ecdh-dependency (root key only)" verify "$VEC/enc-manifest-es-ecdh-dependency.cbor" --pub "$DEPSIGNER"
expect FAIL "es-ecdh-dependency (dependency key only)" verify "$VEC/enc-manifest-es-ecdh-dependency.cbor" --pub "$PUB"
# ex2's last envelope member is the severed text (key 23): change its last character
"$PY" -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 1; open(sys.argv[2], "wb").write(b)' \
    "$VEC/manifest37-ex2-signed.cbor" "$TMP/ex2-text-tampered.cbor"
expect FAIL "ex2 severed text tampered" verify "$TMP/ex2-text-tampered.cbor" --pub "$PUB"
expect FAIL "ex0 --image (dummy digest)" verify "$VEC/manifest37-ex0-signed.cbor" --pub "$PUB" \
    --image "$KEYS/plaintext-firmware.bin"
for f in "$VEC"/enc-info-*.cbor "$VEC"/enc-payload-aes-kw-aes-gcm.bin; do
    expect FAIL "$(basename "$f") (not an envelope)" verify "$f" --pub "$PUB" --hmac-key "$HMAC"
done

# usage errors
expect USAGE "no keys" verify "$VEC/manifest37-ex0-signed.cbor"
expect USAGE "missing envelope" verify "$TMP/does-not-exist.cbor" --pub "$PUB"
expect USAGE "missing key file" verify "$VEC/manifest37-ex0-signed.cbor" --pub "$TMP/nope.pem"
expect USAGE "key file is not a key" verify "$VEC/manifest37-ex0-signed.cbor" --pub "$VEC/manifest37-ex0-signed.cbor"
expect USAGE "unknown command" check "$VEC/manifest37-ex0-signed.cbor"
expect USAGE "unknown option" verify "$VEC/manifest37-ex0-signed.cbor" --pub "$PUB" --frobnicate
expect USAGE "no arguments"

# ---- generated inputs (suit_testgen.py; signed with the example key) --------
G=$GENDIR
ALLKEYS=(--pub "$DERIVED" --pub "$ED" --hmac-key "$GHMAC")
for c in image-ok image-multi image-multi-all image-try-each; do
    expect OK "$c --image" verify "$G/$c.cbor" --pub "$PUB" --image "$G/image.bin"
done
expect OK "image-badsize without --image" verify "$G/image-badsize.cbor" --pub "$PUB"
expect OK "image-try-each --image (other slot's image)" verify "$G/image-try-each.cbor" --pub "$PUB" \
    --image "$G/image-other.bin"
expect FAIL "image-try-each --image (neither slot)" verify "$G/image-try-each.cbor" --pub "$PUB" \
    --image "$G/image-truncated.bin"
for c in image-ok image-multi image-multi-all; do
    expect FAIL "$c --image other" verify "$G/$c.cbor" --pub "$PUB" --image "$G/image-other.bin"
done
expect FAIL "image-ok --image truncated" verify "$G/image-ok.cbor" --pub "$PUB" --image "$G/image-truncated.bin"
expect FAIL "image-badsize --image" verify "$G/image-badsize.cbor" --pub "$PUB" --image "$G/image.bin"
expect FAIL "image-nosize --image" verify "$G/image-nosize.cbor" --pub "$PUB" --image "$G/image.bin"
expect FAIL "image-sha512 --image" verify "$G/image-sha512.cbor" --pub "$PUB" --image "$G/image.bin"
expect FAIL "enc manifest --image (no shared sequence)" verify "$VEC/enc-manifest-es-ecdh-content.cbor" \
    --pub "$PUB" --image "$KEYS/plaintext-firmware.bin"
expect_json "image-multi dump" "$G/image-multi.cbor" \
    'len(d["components"]) == 2 and d["components"][0]["image_size"] == 1000 and d["components"][1]["image_size"] == 119'

for c in ed25519 eddsa esp256 mac0 two-blocks-bad-then-good two-blocks-mac-then-sig untagged-envelope \
         severed-present severed-absent integrated-ok dependency-ok dependency-root-mac raw-control; do
    expect OK "$c" verify "$G/$c.cbor" "${ALLKEYS[@]}"
done
expect OK "mac0-rawkey (raw key file)" verify "$G/mac0-rawkey.cbor" --hmac-key "$G/hmac-key.raw"
expect FAIL "ed25519 (P-256 key only)" verify "$G/ed25519.cbor" --pub "$PUB"
expect OK "two-blocks-bad-then-good (first block's key)" verify "$G/two-blocks-bad-then-good.cbor" --pub "$OTHER"
expect FAIL "two-blocks-bad-then-good (unrelated key)" verify "$G/two-blocks-bad-then-good.cbor" --pub "$ED"
expect FAIL "mac0 (vector hmac key)" verify "$G/mac0.cbor" --hmac-key "$HMAC"
for c in alg-mismatch alg-unknown untagged-sign1 sign1-wrong-tag sign1-attached-payload \
         sign1-alg-unprotected sign1-crit digest-sha512 digest-unknown manifest-before-auth \
         envelope-unknown-key severed-tampered severed-not-severable severed-bad-digest-alg \
         integrated-tampered integrated-missing integrated-unreferenced \
         dependency-bad-digest dependency-bad-size \
         cbor-indefinite cbor-nonshortest cbor-dupkey cbor-trailing-in-manifest cbor-badutf8 \
         manifest-version-2 manifest-seq-negative manifest-version-true shared-odd \
         deep-nesting empty not-cbor; do
    expect FAIL "$c" verify "$G/$c.cbor" "${ALLKEYS[@]}"
done

# ---- byte flips and truncations ---------------------------------------------
flip_all() {  # flip_all VECTOR-NAME KEY-ARGS...
    local name=$1 dir="$TMP/flips-$1" n=0 f
    shift
    "$PY" "$GEN" flips "$VEC/$name.cbor" "$dir"
    expect OK "$name (unmodified)" verify "$VEC/$name.cbor" "$@"
    for f in "$dir"/*.cbor; do
        expect FAIL "$name $(basename "$f" .cbor)" verify "$f" "$@"
        n=$((n + 1))
    done
    echo "  $name: $n modified copies (each byte XOR 0xff and XOR 0x01, every truncation, one appended byte)"
}
flip_all manifest37-ex0-signed --pub "$PUB"
if [ "${SUIT_FLIP_ALL:-0}" = 1 ]; then
    for v in $SIGNED; do
        [ "$v" = manifest37-ex0-signed ] || flip_all "$v" --pub "$PUB"
    done
    for v in $MACED; do flip_all "$v" --hmac-key "$HMAC"; done
    flip_all enc-manifest-es-ecdh-content --pub "$PUB"
    flip_all enc-manifest-es-ecdh-dependency --pub "$DEPSIGNER" --pub "$PUB"
fi

echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
