#!/usr/bin/env bash
# Packages made by secup-author are accepted by the independent Python checker
# (suit_check.py, which shares no code with the C implementation), and the checker agrees
# with secup-author about every refusal: wrong key, changed byte, wrong image.
# Usage: test_interop_author.sh PATH/TO/secup-author
set -u
A=$(realpath "${1:?usage: $0 secup-author}")
HERE=$(cd "$(dirname "$0")" && pwd)
export PYTHONDONTWRITEBYTECODE=1
CHECK=(/usr/bin/python3 "$HERE/suit_check.py")
work=$(mktemp -d /tmp/secup-interop.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
pass=0
fail=0

expect() { # description expected-status command...
    local desc=$1 want=$2
    shift 2
    local out st
    out=$("$@" 2>&1); st=$?
    if [ "$st" -ne "$want" ]; then
        echo "FAIL: $desc: exit $st, expected $want"; echo "$out" | sed 's/^/    /'
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
}

head -c 300000 /dev/urandom > fw.bin
head -c 1000 /dev/urandom > other.bin
for alg in esp256 ed25519; do
    "$A" keygen --alg $alg --out $alg.pem >/dev/null
    "$A" create -q --key $alg.pem --image fw.bin --seq 12 --vendor-domain example.com \
        --class cam --version 1.0.0 --uri https://x/fw.bin --out $alg.suit
    "$A" create -q --key $alg.pem --image fw.bin --seq 13 --vendor-domain example.com \
        --class cam --integrate --untagged --out $alg-int.suit
    expect "python accepts $alg" 0 "${CHECK[@]}" verify $alg.suit --pub $alg.pub.pem --image fw.bin
    expect "python accepts integrated $alg" 0 "${CHECK[@]}" verify $alg-int.suit --pub $alg.pub.pem --image fw.bin
    expect "python refuses $alg with the wrong image" 1 "${CHECK[@]}" verify $alg.suit --pub $alg.pub.pem --image other.bin
done
expect "python refuses an ESP256 package against the Ed25519 key" 1 "${CHECK[@]}" verify esp256.suit --pub ed25519.pub.pem
"$A" create -q --key esp256.pem --key ed25519.pem --image fw.bin --seq 14 --vendor-domain example.com --class cam --out both.suit
expect "python accepts two signatures with the first key" 0 "${CHECK[@]}" verify both.suit --pub esp256.pub.pem
expect "python accepts two signatures with the second key" 0 "${CHECK[@]}" verify both.suit --pub ed25519.pub.pem

# a multi-component release
head -c 4000 /dev/urandom > boot.bin
cat > rel.json <<JSON
{ "sequence": 3, "vendor-domain": "example.com", "class": "gw", "version": "2.0.0",
  "components": [ { "id": "0x00", "image": "fw.bin", "uri": "https://x/a" },
                  { "id": "boot", "image": "boot.bin", "integrate": true } ] }
JSON
"$A" create -q --key ed25519.pem --spec rel.json --out rel.suit
expect "python accepts a two-component release (component 0)" 0 "${CHECK[@]}" verify rel.suit --pub ed25519.pub.pem --image fw.bin

# the two implementations agree on every single-byte change of a package
size=$(stat -c %s esp256.suit)
agree=0
for ((i = 0; i < size; i += 3)); do
    cp esp256.suit f.suit
    b=$(od -An -tu1 -j $i -N1 f.suit | tr -d ' ')
    printf "$(printf '\\%03o' $(((b ^ 0x40) & 255)))" | dd of=f.suit bs=1 seek=$i conv=notrunc status=none
    "${CHECK[@]}" verify f.suit --pub esp256.pub.pem >/dev/null 2>&1; py=$?
    "$A" verify -q f.suit --pub esp256.pub.pem >/dev/null 2>&1; c=$?
    if [ "$py" -eq 0 ] || [ "$c" -eq 0 ]; then
        echo "FAIL: byte $i flipped: python exit $py, secup-author exit $c (both must refuse)"
        fail=$((fail + 1))
    else
        agree=$((agree + 1))
    fi
done
pass=$((pass + agree))
echo "interop (author): $pass passed, $fail failed ($agree flipped packages refused by both)"
[ "$fail" -eq 0 ]
