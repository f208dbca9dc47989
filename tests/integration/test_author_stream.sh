#!/usr/bin/env bash
# secup-author with encrypted and compressed payloads (issue [stream]): every MTI profile
# except HSS-LMS is produced and consumed, the specification's encrypted manifests
# decrypt, and every kind of damage is refused with its own code and leaves no output.
# Usage: test_author_stream.sh PATH/TO/secup-author
set -u
A=$(realpath "${1:?usage: $0 secup-author}")
FLIP=$(dirname "$(realpath "$0")")/flip_byte
VEC=$(cd "$(dirname "$0")/../vectors/suit" && pwd)
SECUP_TEST_NAME=stream
# shellcheck source=tests/integration/check.sh
. "$(dirname "$0")/check.sh"

head -c 1500000 /dev/urandom > fw.bin
# a compressible image too
for i in $(seq 1 3000); do echo "line $i of a very repetitive firmware image"; done > text.bin
"$A" keygen --alg esp256 --out p256.pem >/dev/null
"$A" keygen --alg ed25519 --out ed.pem >/dev/null
"$A" keygen --alg x25519 --out dev-x.pem >/dev/null
"$A" keygen --alg esp256 --out dev-p.pem >/dev/null
"$A" keygen --alg x25519 --out other-x.pem >/dev/null
echo 000102030405060708090a0b0c0d0e0f > kek16.hex
echo 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f > kek32.hex
echo 0f0e0d0c0b0a09080706050403020100 > wrongkek.hex
echo 6161616161616161616161616161616161616161616161616161616161616161 > mac.hex && chmod 600 mac.hex

common=(--image fw.bin --seq 5 --vendor-domain example.com --class cam --uri https://x/fw.enc)

# the five profiles secup implements, each produced and consumed
check "hmac-a128kw-a128ctr create" 0 "" "$A" create --hmac-key mac.hex "${common[@]}" \
    --kek kek16.hex --kid dev-class-1 --profile suit-sha256-hmac-a128kw-a128ctr --payload-out p1.enc --out p1.suit
check "hmac-a128kw-a128ctr decrypt" 0 "" "$A" decrypt p1.suit --payload p1.enc --kek kek16.hex --kid dev-class-1 --out p1.bin
check "hmac-a128kw-a128ctr plaintext" 0 "" cmp p1.bin fw.bin
check "hmac profile verifies with the MAC key" 0 "" "$A" verify p1.suit --hmac-key mac.hex --image fw.bin
check "esp256-ecdh-a128ctr create" 0 "" "$A" create --key p256.pem "${common[@]}" \
    --encrypt-for dev-p.pub.pem --profile suit-sha256-esp256-ecdh-a128ctr --payload-out p2.enc --out p2.suit
check "esp256-ecdh-a128ctr decrypt" 0 "" "$A" decrypt p2.suit --payload p2.enc --recipient-key dev-p.pem --out p2.bin --pub p256.pub.pem
check "esp256-ecdh-a128ctr plaintext" 0 "" cmp p2.bin fw.bin
check "ed25519-ecdh-a128ctr create" 0 "" "$A" create --key ed.pem "${common[@]}" \
    --encrypt-for dev-x.pub.pem --profile suit-sha256-ed25519-ecdh-a128ctr --payload-out p3.enc --out p3.suit
check "ed25519-ecdh-a128ctr decrypt" 0 "" "$A" decrypt p3.suit --payload p3.enc --recipient-key dev-x.pem --out p3.bin
check "ed25519-ecdh-a128ctr plaintext" 0 "" cmp p3.bin fw.bin
check "esp256-ecdh-a128gcm create" 0 "" "$A" create --key p256.pem "${common[@]}" \
    --encrypt-for dev-p.pub.pem --encrypt-for dev-x.pub.pem --profile suit-sha256-esp256-ecdh-a128gcm --payload-out p4.enc --out p4.suit
check "esp256-ecdh-a128gcm decrypt (P-256 recipient)" 0 "" "$A" decrypt p4.suit --payload p4.enc --recipient-key dev-p.pem --out p4.bin
check "esp256-ecdh-a128gcm decrypt (X25519 recipient)" 0 "" "$A" decrypt p4.suit --payload p4.enc --recipient-key dev-x.pem --out p4x.bin
check "esp256-ecdh-a128gcm plaintext" 0 "" cmp p4x.bin fw.bin
check "ed25519-ecdh-chacha-poly create" 0 "" "$A" create --key ed.pem "${common[@]}" \
    --encrypt-for dev-x.pub.pem --profile suit-sha256-ed25519-ecdh-chacha-poly --payload-out p5.enc --out p5.suit
check "ed25519-ecdh-chacha-poly decrypt" 0 "" "$A" decrypt p5.suit --payload p5.enc --recipient-key dev-x.pem --out p5.bin
check "ed25519-ecdh-chacha-poly plaintext" 0 "" cmp p5.bin fw.bin
check "hss-lms profile is refused" 3 SECUP_E_UNSUPPORTED "$A" create --key p256.pem "${common[@]}" \
    --kek kek32.hex --kid k --profile suit-sha256-hsslms-a256kw-a256ctr --payload-out p6.enc --out p6.suit
check "A256KW without a profile" 0 "" "$A" create --key p256.pem "${common[@]}" --kek kek32.hex --kid k32 --payload-out p7.enc --out p7.suit
check "A256KW decrypt" 0 "" "$A" decrypt p7.suit --payload p7.enc --kek kek32.hex --kid k32 --out p7.bin
check "profile that does not fit the signing key" 3 SECUP_E_VALUE "$A" create --key ed.pem "${common[@]}" \
    --encrypt-for dev-p.pub.pem --profile suit-sha256-esp256-ecdh-a128gcm --payload-out p8.enc --out p8.suit
check "unknown profile" 3 SECUP_E_VALUE "$A" create --key ed.pem "${common[@]}" \
    --encrypt-for dev-p.pub.pem --profile suit-nonsense --payload-out p8.enc --out p8.suit
check "nothing written for a refused create" 1 "" test -e p8.enc

# compression, alone and with encryption
check "compress only" 0 "" "$A" create --key p256.pem --image text.bin --seq 1 --vendor-domain example.com --class cam --uri https://x/t --compress --payload-out t.zst --out t.suit
check "compressed payload is smaller" 0 "" test "$(stat -c %s t.zst)" -lt "$(stat -c %s text.bin)"
check "decompress" 0 "" "$A" decrypt t.suit --payload t.zst --kek kek16.hex --out t.bin
check "decompressed plaintext" 0 "" cmp t.bin text.bin
check "compress and encrypt, integrated" 0 "" "$A" create --key p256.pem --image text.bin --seq 2 --vendor-domain example.com --class cam --integrate --compress --encrypt-for dev-x.pub.pem --payload-out ti.enc --out ti.suit
check "decrypt the integrated payload" 0 "" "$A" decrypt ti.suit --recipient-key dev-x.pem --out ti.bin --pub p256.pub.pem
check "integrated plaintext" 0 "" cmp ti.bin text.bin

# THREAT: U1
# the wrong key, the wrong kid, damaged payloads: refused, and no output left behind
check "another device's key" 1 SECUP_E_UNWRAP "$A" decrypt p4.suit --payload p4.enc --recipient-key other-x.pem --out bad.bin
check "a P-256 key for an X25519-only payload" 1 SECUP_E_NO_RECIPIENT "$A" decrypt p5.suit --payload p5.enc --recipient-key dev-p.pem --out bad.bin
check "the wrong KEK" 1 SECUP_E_UNWRAP "$A" decrypt p1.suit --payload p1.enc --kek wrongkek.hex --kid dev-class-1 --out bad.bin
check "the wrong kid" 1 SECUP_E_NO_RECIPIENT "$A" decrypt p1.suit --payload p1.enc --kek kek16.hex --kid other --out bad.bin
flip() { cp "$1" "$2"; "$FLIP" "$2" "$3"; }
flip p4.enc flipped-gcm.enc 1000
check "a flipped GCM byte" 1 SECUP_E_TAG "$A" decrypt p4.suit --payload flipped-gcm.enc --recipient-key dev-p.pem --out bad.bin
flip p2.enc flipped-ctr.enc 1000
check "a flipped CTR byte" 1 SECUP_E_DIGEST "$A" decrypt p2.suit --payload flipped-ctr.enc --recipient-key dev-p.pem --out bad.bin
head -c 1000000 p2.enc > short.enc
check "a truncated payload" 3 SECUP_E_TRUNCATED "$A" decrypt p2.suit --payload short.enc --recipient-key dev-p.pem --out bad.bin
cp p2.enc long.enc && printf 'x' >> long.enc
check "an appended byte" 3 SECUP_E_OVERLONG "$A" decrypt p2.suit --payload long.enc --recipient-key dev-p.pem --out bad.bin
check "no output after any refusal" 1 "" sh -c 'ls bad.bin* 2>/dev/null | grep -q .'
check "decrypt a plain package" 3 SECUP_E_VALUE "$A" decrypt t.suit --kek kek16.hex --out bad.bin --component 3
check "payload-out without encryption" 2 SECUP_E_USAGE "$A" create --key p256.pem "${common[@]}" --payload-out x.enc --out x.suit
check "encryption without a uri" 2 SECUP_E_USAGE "$A" create --key p256.pem --image fw.bin --seq 1 --vendor-domain e.com --class c --encrypt-for dev-x.pub.pem --payload-out x.enc --out x.suit

# the encryption draft's manifests decrypt to the given plaintext
k1="$VEC/keys/enc-kek-a128kw-kid-1.hex"
rk="$VEC/keys/enc-recipient-p256-ecdh-kid-2-private.pem"
check "vector: AES-KW content" 0 "" "$A" decrypt "$VEC/enc-manifest-aes-kw-content.cbor" --kek "$k1" --kid kid-1 --out v1.bin
check "vector: AES-KW fetch + copy" 0 "" "$A" decrypt "$VEC/enc-manifest-aes-kw.cbor" --payload "$VEC/enc-payload-aes-kw-aes-gcm.bin" --kek "$k1" --out v2.bin
check "vector: AES-KW slots" 0 "" "$A" decrypt "$VEC/enc-manifest-aes-kw-slot.cbor" --payload "$VEC/enc-payload-aes-kw-aes-gcm.bin" --kek "$k1" --out v3.bin
check "vector: ECDH-ES content" 0 "" "$A" decrypt "$VEC/enc-manifest-es-ecdh-content.cbor" --recipient-key "$rk" --pub "$VEC/keys/suit-example-p256-public.pem" --out v4.bin
check "vector: ECDH-ES dependency" 0 "" "$A" decrypt "$VEC/enc-manifest-es-ecdh-dependency.cbor" --recipient-key "$rk" --out v5.bin
for v in v1 v2 v3 v4 v5; do
    check "vector plaintext $v" 0 "" cmp $v.bin "$VEC/keys/plaintext-firmware.bin"
done
check "vector with the wrong KEK" 1 SECUP_E_UNWRAP "$A" decrypt "$VEC/enc-manifest-aes-kw-content.cbor" --kek wrongkek.hex --out bad.bin

echo "author stream: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
