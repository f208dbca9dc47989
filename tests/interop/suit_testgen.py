#!/usr/bin/env python3
"""Make extra inputs for test_interop_vectors.sh (test helper, not a product).

  suit_testgen.py cases VECDIR OUTDIR   synthetic envelopes (signed with the
                                        example key of VECDIR/keys) + images/keys
  suit_testgen.py flips FILE OUTDIR     FILE with each byte XOR 0xff and XOR 0x01
                                        (flip-<offset>-<mask>.cbor), every proper
                                        prefix (trunc-<len>.cbor) and FILE + 1 byte

Encodes with cbor2 on purpose: a different CBOR implementation from the one
inside suit_check.py, so a bug shared by checker and generator is unlikely.
Every "cases" file is described in CASES below (name, what it should do).
"""

import hashlib
import hmac
import os
import sys

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

VENDOR = bytes.fromhex("fa6b4a53d5ad5fdfbe9de663e4d41ffe")
CLASS = bytes.fromhex("1492af1425695e48bf429b2d51f2ab45")


def enc(x):
    return cbor2.dumps(x)


def suit_digest(data, alg=-16):
    fn = {-16: hashlib.sha256, -44: hashlib.sha512, -99: hashlib.sha256}[alg]
    return [alg, fn(data).digest()]


def seq(*items):
    return enc(list(items))


def manifest_bytes(shared, seqno=1, extra=None):
    common = {2: [[b"\x00"]], 4: enc(shared)}
    m = {1: 1, 2: seqno, 3: enc(common), 7: seq(3, 15), 9: seq(23, 2)}
    if extra:
        m.update(extra)
    return enc(m)


def es256_sign(priv, tbs):
    der = priv.sign(tbs, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def sign1(priv, digest_bstr, alg=-7, payload=None, tag=18, prot=None, unprot=None):
    prot_bstr = b"" if prot == {} else enc(prot if prot is not None else {1: alg})
    tbs = enc(["Signature1", prot_bstr, b"", digest_bstr])
    if isinstance(priv, ed25519.Ed25519PrivateKey):
        sig = priv.sign(tbs)
    else:
        sig = es256_sign(priv, tbs)
    body = [prot_bstr, unprot or {}, payload, sig]
    return enc(cbor2.CBORTag(tag, body) if tag is not None else body)


def mac0(key, digest_bstr):
    prot_bstr = enc({1: 5})
    tag = hmac.new(key, enc(["MAC0", prot_bstr, b"", digest_bstr]), hashlib.sha256).digest()
    return enc(cbor2.CBORTag(17, [prot_bstr, {}, None, tag]))


def envelope(man, blocks_fn, digest_alg=-16, tagged=True, extra=None, auth_first=True):
    """blocks_fn(digest_bstr) -> list of encoded auth blocks."""
    man_wrapped = enc(man)                       # bstr header + manifest
    digest_bstr = enc(suit_digest(man_wrapped, digest_alg))
    aw = enc([digest_bstr] + blocks_fn(digest_bstr))
    items = [(2, aw), (3, man)] if auth_first else [(3, man), (2, aw)]
    env = dict(items)
    if extra:
        env.update(extra)
    return enc(cbor2.CBORTag(107, env)) if tagged else enc(env)


def raw_envelope(man_raw, priv):
    """Envelope around manifest bytes given verbatim (for malformed-CBOR cases)."""
    man_wrapped = cbor2.dumps(man_raw)
    digest_bstr = enc(suit_digest(man_wrapped))
    aw = enc([digest_bstr, sign1(priv, digest_bstr)])
    return b"\xd8\x6b\xa2\x02" + enc(aw) + b"\x03" + man_wrapped


def write(out, name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def cases(vecdir, out):
    os.makedirs(out, exist_ok=True)
    keydir = os.path.join(vecdir, "keys")
    with open(os.path.join(keydir, "suit-example-p256-private.pem"), "rb") as f:
        priv = serialization.load_pem_private_key(f.read(), password=None)
    pub_pem = priv.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    write(out, "example-public-derived.pem", pub_pem)
    other = ec.generate_private_key(ec.SECP256R1())
    write(out, "other-p256-public.pem", other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    edk = ed25519.Ed25519PrivateKey.generate()
    write(out, "ed25519-public.pem", edk.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    hkey = b"\x11" * 32
    write(out, "hmac-key.hex", hkey.hex().encode() + b"\n")
    write(out, "hmac-key.raw", b"not hex, a raw key!")

    image = b"secup interop image\n" * 50
    other_image = b"some other image\n" * 7
    write(out, "image.bin", image)
    write(out, "image-other.bin", other_image)
    write(out, "image-truncated.bin", image[:-1])

    def params(img, size=None):
        return {1: VENDOR, 2: CLASS, 3: enc(suit_digest(img)), 14: len(img) if size is None else size}

    es = lambda d: [sign1(priv, d)]

    # --image
    write(out, "image-ok.cbor", envelope(manifest_bytes([20, params(image), 1, 15, 2, 15]), es))
    write(out, "image-badsize.cbor",
          envelope(manifest_bytes([20, params(image, len(image) + 1), 1, 15, 2, 15]), es))
    write(out, "image-nosize.cbor",
          envelope(manifest_bytes([20, {1: VENDOR, 3: enc(suit_digest(image))}]), es))
    write(out, "image-sha512.cbor",
          envelope(manifest_bytes([20, {3: enc(suit_digest(image, -44)), 14: len(image)}]), es))
    man2 = manifest_bytes([12, 1, 20, params(other_image), 12, 0, 20, params(image)])
    m2 = cbor2.loads(man2)
    c2 = cbor2.loads(m2[3])
    c2[2] = [[b"\x00"], [b"\x01"]]
    m2[3] = enc(c2)
    write(out, "image-multi.cbor", envelope(enc(m2), es))
    # set-component-index true, then override component 1 only
    m3 = dict(m2)
    c3 = dict(c2)
    c3[4] = seq(12, True, 20, params(image), 12, 1, 20, params(other_image))
    m3[3] = enc(c3)
    write(out, "image-multi-all.cbor", envelope(enc(m3), es))
    # A/B: try-each alternatives, the image matches the second
    tri = [15, [seq(20, {5: 0}, 5, 5, 20, params(other_image)),
                seq(20, {5: 1}, 5, 5, 20, params(image))]]
    write(out, "image-try-each.cbor", envelope(manifest_bytes([20, {1: VENDOR}] + tri), es))

    # algorithms / auth blocks
    base = manifest_bytes([20, params(image)])
    write(out, "ed25519.cbor", envelope(base, lambda d: [sign1(edk, d, alg=-19)]))
    write(out, "eddsa.cbor", envelope(base, lambda d: [sign1(edk, d, alg=-8)]))
    write(out, "esp256.cbor", envelope(base, lambda d: [sign1(priv, d, alg=-9)]))
    write(out, "mac0.cbor", envelope(base, lambda d: [mac0(hkey, d)]))
    write(out, "mac0-rawkey.cbor", envelope(base, lambda d: [mac0(b"not hex, a raw key!", d)]))
    write(out, "two-blocks-bad-then-good.cbor",
          envelope(base, lambda d: [sign1(other, d), sign1(priv, d)]))
    write(out, "two-blocks-mac-then-sig.cbor",
          envelope(base, lambda d: [mac0(hkey, d), sign1(priv, d)]))
    write(out, "alg-mismatch.cbor", envelope(base, lambda d: [sign1(edk, d, alg=-7)]))
    write(out, "alg-unknown.cbor", envelope(base, lambda d: [sign1(priv, d, alg=-35)]))
    write(out, "untagged-sign1.cbor", envelope(base, lambda d: [sign1(priv, d, tag=None)]))
    write(out, "sign1-wrong-tag.cbor", envelope(base, lambda d: [sign1(priv, d, tag=98)]))
    write(out, "sign1-attached-payload.cbor",
          envelope(base, lambda d: [sign1(priv, d, payload=d)]))
    write(out, "sign1-alg-unprotected.cbor",
          envelope(base, lambda d: [sign1(priv, d, prot={}, unprot={1: -7})]))
    write(out, "sign1-crit.cbor", envelope(base, lambda d: [sign1(priv, d, prot={1: -7, 2: [99]})]))
    write(out, "digest-sha512.cbor", envelope(base, es, digest_alg=-44))
    write(out, "digest-unknown.cbor", envelope(base, es, digest_alg=-99))
    write(out, "untagged-envelope.cbor", envelope(base, es, tagged=False))
    write(out, "manifest-before-auth.cbor", envelope(base, es, auth_first=False))
    write(out, "envelope-unknown-key.cbor", envelope(base, es, extra={99: b"x"}))

    # severable members
    install = seq(20, {21: "http://example.com/file.bin"}, 21, 2, 3, 15)
    text = enc({"en-US": {1: "secup interop test"}})
    sev = manifest_bytes([20, params(image)],
                         extra={20: suit_digest(enc(install)), 23: suit_digest(enc(text))})
    write(out, "severed-present.cbor", envelope(sev, es, extra={20: install, 23: text}))
    write(out, "severed-absent.cbor", envelope(sev, es))
    write(out, "severed-tampered.cbor",
          envelope(sev, es, extra={20: install, 23: enc({"en-US": {1: "tampered"}})}))
    write(out, "severed-not-severable.cbor",
          envelope(manifest_bytes([20, params(image)], extra={20: install}), es,
                   extra={20: install}))
    write(out, "severed-bad-digest-alg.cbor",
          envelope(manifest_bytes([20, params(image)], extra={20: [-99, b"\x00" * 32]}), es))

    # integrated payload referenced by uri "#payload"
    ip = manifest_bytes([20, params(image)],
                        extra={20: seq(20, {21: "#payload"}, 21, 2, 3, 15)})
    write(out, "integrated-ok.cbor", envelope(ip, es, extra={"#payload": image}))
    write(out, "integrated-tampered.cbor", envelope(ip, es, extra={"#payload": other_image}))
    write(out, "integrated-missing.cbor", envelope(ip, es))
    write(out, "integrated-unreferenced.cbor",
          envelope(base, es, extra={"#junk": b"junk"}))

    # integrated dependency "#dep" (itself a signed envelope)
    dep_man = manifest_bytes([20, params(image)])
    dep = envelope(dep_man, es)
    dep_digest = suit_digest(enc(dep_man))

    def root(digest, size, signer=es):
        common = {1: {1: {}}, 2: [[b"\x00"]]}
        inst = seq(12, 1, 20, {3: enc(digest), 14: size, 21: "#dep"}, 21, 15, 7, 15, 11, 15)
        m = enc({1: 1, 2: 1, 3: enc(common), 20: inst})
        return envelope(m, signer, extra={"#dep": dep})

    write(out, "dependency-ok.cbor", root(dep_digest, len(dep)))
    write(out, "dependency-bad-digest.cbor", root([-16, b"\x55" * 32], len(dep)))
    write(out, "dependency-bad-size.cbor", root(dep_digest, len(dep) + 1))
    write(out, "dependency-root-mac.cbor", root(dep_digest, len(dep), lambda d: [mac0(hkey, d)]))

    # strict CBOR inside a correctly signed manifest
    good_shared = enc([20, {14: 1}])
    write(out, "cbor-indefinite.cbor",
          raw_envelope(b"\xa3\x01\x01\x02\x01\x03" + enc(enc({2: [[b"\x00"]], 4: b"\x9f\x14\xa1\x0e\x01\xff"})),
                       priv))
    write(out, "cbor-nonshortest.cbor",
          raw_envelope(b"\xa3\x01\x01\x02\x18\x01\x03" + enc(enc({2: [[b"\x00"]], 4: good_shared})), priv))
    write(out, "cbor-dupkey.cbor",
          raw_envelope(b"\xa4\x01\x01\x02\x01\x02\x02\x03" + enc(enc({2: [[b"\x00"]], 4: good_shared})),
                       priv))
    write(out, "cbor-trailing-in-manifest.cbor",
          raw_envelope(b"\xa3\x01\x01\x02\x01\x03" + enc(enc({2: [[b"\x00"]], 4: good_shared})) + b"\x00",
                       priv))
    write(out, "cbor-badutf8.cbor",
          raw_envelope(b"\xa4\x01\x01\x02\x01\x03" + enc(enc({2: [[b"\x00"]], 4: good_shared})) +
                       b"\x04\x62\xc3\x28", priv))
    write(out, "raw-control.cbor",
          raw_envelope(b"\xa3\x01\x01\x02\x01\x03" + enc(enc({2: [[b"\x00"]], 4: good_shared})), priv))
    write(out, "manifest-version-2.cbor",
          raw_envelope(b"\xa3\x01\x02\x02\x01\x03" + enc(enc({2: [[b"\x00"]], 4: good_shared})), priv))
    write(out, "manifest-seq-negative.cbor",
          raw_envelope(b"\xa3\x01\x01\x02\x20\x03" + enc(enc({2: [[b"\x00"]], 4: good_shared})), priv))
    write(out, "manifest-version-true.cbor",
          raw_envelope(b"\xa3\x01\xf5\x02\x01\x03" + enc(enc({2: [[b"\x00"]], 4: good_shared})), priv))
    write(out, "shared-odd.cbor",
          raw_envelope(b"\xa3\x01\x01\x02\x01\x03" + enc(enc({2: [[b"\x00"]], 4: enc([20])})), priv))
    write(out, "deep-nesting.cbor", b"\xd8\x6b" + b"\x81" * 5000 + b"\x00")
    write(out, "empty.cbor", b"")
    write(out, "not-cbor.cbor", b"this is not CBOR at all\n")


def flips(path, out):
    os.makedirs(out, exist_ok=True)
    with open(path, "rb") as f:
        data = f.read()
    for i in range(len(data)):
        for mask in (0xFF, 0x01):
            b = bytearray(data)
            b[i] ^= mask
            write(out, "flip-%04d-%02x.cbor" % (i, mask), bytes(b))
    for n in range(len(data)):
        write(out, "trunc-%04d.cbor" % n, data[:n])
    write(out, "append-00.cbor", data + b"\x00")


def main(argv):
    if len(argv) == 3 and argv[0] == "cases":
        cases(argv[1], argv[2])
    elif len(argv) == 3 and argv[0] == "flips":
        flips(argv[1], argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
