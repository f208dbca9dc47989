#!/usr/bin/env bash
# Black-box tests of secup-author: every command, its exit statuses and error codes.
# Usage: test_author_cli.sh PATH/TO/secup-author
set -u
A=$(realpath "${1:?usage: $0 secup-author}")
VEC=$(cd "$(dirname "$0")/../vectors/suit" && pwd)
SECUP_TEST_NAME=cli
# shellcheck source=tests/integration/check.sh
. "$(dirname "$0")/check.sh"

head -c 70000 /dev/urandom > fw.bin
head -c 5000 /dev/urandom > boot.bin

for alg in esp256 ed25519; do
    check "keygen $alg" 0 "" "$A" keygen --alg $alg --out $alg.pem
    check "keygen $alg private key is 0600" 0 "" test "$(stat -c %a $alg.pem)" = 600
    check "keygen $alg public key exists" 0 "" test -s $alg.pub.pem
    check "keygen $alg refuses to overwrite" 4 SECUP_E_EXISTS "$A" keygen --alg $alg --out $alg.pem
    check "create $alg" 0 "" "$A" create --key $alg.pem --image fw.bin --seq 3 \
        --vendor-domain example.com --class cam --version 2.0.1 --uri https://x/fw.bin --out $alg.suit
    check "verify $alg" 0 "" "$A" verify $alg.suit --pub $alg.pub.pem --image fw.bin
    check "verify $alg with image index" 0 "" "$A" verify $alg.suit --pub $alg.pub.pem --image 0=fw.bin
    check "verify $alg wrong image" 1 SECUP_E_SIZE "$A" verify $alg.suit --pub $alg.pub.pem --image boot.bin
    check "inspect $alg" 0 "" "$A" inspect $alg.suit
    check "inspect $alg --json is JSON" 0 "" sh -c "'$A' inspect --json $alg.suit | /usr/bin/python3 -m json.tool >/dev/null"
done
check "keygen --force replaces" 0 "" "$A" keygen --alg esp256 --out esp256.pem --force
check "old package does not verify with the new key" 1 SECUP_E_SIG "$A" verify esp256.suit --pub esp256.pub.pem
check "Ed25519 package against a P-256 key" 1 SECUP_E_KEY_UNKNOWN "$A" verify ed25519.suit --pub esp256.pub.pem

# THREAT: C13
# same digest but a flipped image byte of equal size
cp fw.bin fw2.bin && printf 'Z' | dd of=fw2.bin bs=1 seek=100 conv=notrunc status=none
"$A" create --key ed25519.pem --image fw.bin --seq 4 --vendor-domain example.com --class cam --out e.suit -q
check "modified image of the right size" 1 SECUP_E_DIGEST "$A" verify e.suit --pub ed25519.pub.pem --image fw2.bin

# integrated payload and two signers
check "create integrated, two keys" 0 "" "$A" create --key ed25519.pem --key esp256.pem --image fw.bin \
    --seq 5 --vendor-domain example.com --class cam --integrate --out int.suit
check "verify integrated by the first signer" 0 "" "$A" verify int.suit --pub ed25519.pub.pem
check "verify integrated by the second signer" 0 "" "$A" verify int.suit --pub esp256.pub.pem
check "integrated envelope holds the image" 0 "" test "$(stat -c %s int.suit)" -gt 70000
check "untagged envelope" 0 "" "$A" create --key esp256.pem --image fw.bin --seq 1 \
    --vendor-domain example.com --class cam --untagged --out untagged.suit
check "untagged verifies" 0 "" "$A" verify untagged.suit --pub esp256.pub.pem --image fw.bin

# JSON release of two components
cat > release.json <<JSON
{ "sequence": 9, "vendor-domain": "example.com", "class": "gateway", "version": "3.1.0-rc.2",
  "description": "bootloader and application",
  "components": [ { "id": "boot", "image": "boot.bin", "uri": "https://x/boot.bin" },
                  { "id": "0x00/app", "image": "fw.bin", "uri": "https://x/app.bin", "invoke": true } ] }
JSON
check "create from spec" 0 "" "$A" create --key esp256.pem --spec release.json --out rel.suit
check "verify spec component 0" 0 "" "$A" verify rel.suit --pub esp256.pub.pem --image 0=boot.bin --image 1=fw.bin
check "verify spec components swapped" 1 SECUP_E_SIZE "$A" verify rel.suit --pub esp256.pub.pem --image 0=fw.bin
check "inspect spec shows the pre-release version" 0 "" sh -c "'$A' inspect --json rel.suit | grep -q '3.1.0-rc.2'"
echo '{ "sequence": 1, "components": [ { "id": "a", "image": "fw.bin", "colour": "red" } ] }' > bad.json
check "spec with an unknown key" 3 SECUP_E_JSON "$A" create --key esp256.pem --spec bad.json --vendor-domain e.com --class c --out x.suit
echo '{ "sequence": 1, ' > broken.json
check "malformed spec" 3 SECUP_E_JSON "$A" create --key esp256.pem --spec broken.json --vendor-domain e.com --class c --out x.suit
check "nothing written on failure" 1 "" test -e x.suit

# THREAT: P9
# usage errors
check "no command" 2 "" "$A"
check "unknown command" 2 SECUP_E_USAGE "$A" frobnicate
check "create without --seq" 2 SECUP_E_USAGE "$A" create --key esp256.pem --image fw.bin --vendor-domain e.com --class c --out y.suit
check "create with a bad --seq" 2 SECUP_E_USAGE "$A" create --key esp256.pem --image fw.bin --seq -4 --vendor-domain e.com --class c --out y.suit
cp esp256.pub.pem pub600.pem && chmod 600 pub600.pem
check "create with a public key" 3 SECUP_E_KEY_FORMAT "$A" create --key pub600.pem --image fw.bin --seq 1 --vendor-domain e.com --class c --out y.suit
check "create with a missing image" 4 SECUP_E_NOENT "$A" create --key esp256.pem --image nope.bin --seq 1 --vendor-domain e.com --class c --out y.suit
check "create with a bad version" 3 SECUP_E_VALUE "$A" create --key esp256.pem --image fw.bin --seq 1 --vendor-domain e.com --class c --version 1.x --out y.suit
check "verify without keys" 2 SECUP_E_USAGE "$A" verify esp256.suit
check "keygen unknown alg" 2 SECUP_E_USAGE "$A" keygen --alg rsa --out r.pem
for cmd in keygen create verify inspect; do
    check "$cmd --help" 0 "" "$A" $cmd --help
done

# the specification's vectors
check "vector ex0 verifies" 0 "" "$A" verify "$VEC/manifest37-ex0-signed.cbor" --pub "$VEC/keys/suit-example-p256-public.pem"
check "vector ex2 (severed text) verifies" 0 "" "$A" verify "$VEC/manifest37-ex2-severed-signed.cbor" --pub "$VEC/keys/suit-example-p256-public.pem"
check "unsigned vector refused" 1 SECUP_E_UNSIGNED "$A" verify "$VEC/manifest37-ex0-unsigned.cbor" --pub "$VEC/keys/suit-example-p256-public.pem"
check "HMAC vector verifies" 0 "" "$A" verify "$VEC/enc-manifest-aes-kw.cbor" --hmac-key "$VEC/keys/enc-hmac256-key.hex"
check "HMAC vector with the wrong secret" 1 SECUP_E_SIG sh -c "echo 6262626262626262626262626262626262626262626262626262626262626262 > k.hex; '$A' verify '$VEC/enc-manifest-aes-kw.cbor' --hmac-key k.hex"
check "inspect every vector" 0 "" sh -c "for f in '$VEC'/*manifest*.cbor; do '$A' inspect \"\$f\" >/dev/null || exit 1; done"
check "inspect garbage" 3 SECUP_E_CBOR sh -c "printf '\\xff\\xff' > g.suit; '$A' inspect g.suit"
check "inspect a missing file" 4 SECUP_E_NOENT "$A" inspect missing.suit

# THREAT: P9
# invalid key files and specs: a clear error, and no envelope written
rm -f z.suit
printf -- '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' > garbled.pem
chmod 600 garbled.pem
check "create with a garbled PEM key" 3 SECUP_E_KEY_FORMAT "$A" create --key garbled.pem --image fw.bin --seq 1 --vendor-domain e.com --class c --out z.suit
echo "00112233445566778899aabbccddeefz" > bad-hmac.hex
chmod 600 bad-hmac.hex
check "create with an HMAC secret that is not hex" 3 SECUP_E_KEY_FORMAT "$A" create --key esp256.pem --hmac-key bad-hmac.hex --image fw.bin --seq 1 --vendor-domain e.com --class c --out z.suit
echo '{ "sequence": 1, "components": [ { "id": "0x00//app", "image": "fw.bin" } ] }' > bad-id.json
check "spec with an empty part in a component id: a value error, not a usage error" 3 SECUP_E_VALUE "$A" create --key esp256.pem --spec bad-id.json --vendor-domain e.com --class c --out z.suit
check "no envelope written for invalid keys or specs" 1 "" test -e z.suit

echo "author CLI: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
