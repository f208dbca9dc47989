#!/usr/bin/env python3
"""Signed SUIT envelopes that secup-author does not write, for test_agent_deps.sh (test
helper, not a product): staging + copy (SUIT example 4, encryption draft 9.2), swap, and
integrated dependencies (trust-domains 5; SUIT.md section 3 rules 4-5).

  suit_craft.py KIND OUT.suit --key SIGNER.pem --seq N [options]

KIND
  copy       fetch the ciphertext (--enc, integrated) into staging component --stage, then
             copy it, decrypting (and decompressing), into --target; encryption-info and
             compression come from --from (an envelope secup-author made with --kek); the
             plaintext --image gives the target's digest and size
  copy-only  as copy without the fetch: the copy's source was not written by this install
  stage-only only the fetch into the staging component
  swap       write --image into --target and --image2 into --stage (both inline), swap them;
             validate checks the swapped digests (--no-write2: --stage is not written)
  image      one component --target with the integrated --image (a dependency's manifest);
             --declare-size N: the manifest states N as image-size (not the image's);
             --slot N: a component-slot parameter and condition (the slot it is meant for)
  dep        root: --target gets --image, dependency 1 is the envelope --dep ("#dep");
             --dep-digest-of FILE: dependency-integrity states the digest of FILE's manifest
             instead; --detached: the uri is not integrated; --no-integrity: no
             dependency-integrity before process-dependency
Encoded with cbor2, signed with ESP256 (-9) or Ed25519 (-19) by the PEM key.
"""

import argparse
import hashlib
import sys
import uuid

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

def E(x):
    return cbor2.dumps(x, canonical=True)


def digest(data):
    return E([-16, hashlib.sha256(data).digest()])


def comp_id(text):
    parts = []
    for p in text.split("/"):
        parts.append(bytes.fromhex(p[2:]) if p.startswith("0x") else p.encode())
    return parts


def sign(key, digest_bstr):
    if isinstance(key, ed25519.Ed25519PrivateKey):
        prot = E({1: -19})
        sig = key.sign(E(["Signature1", prot, b"", digest_bstr]))
    else:
        prot = E({1: -9})
        der = key.sign(E(["Signature1", prot, b"", digest_bstr]), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return cbor2.CBORTag(18, [prot, {}, None, sig])


def envelope(key, manifest, integrated=None):
    man = E(manifest)
    dig = digest(E(man))  # over the bstr-wrapped manifest
    env = {2: E([dig, E(sign(key, dig))]), 3: man}
    env.update(integrated or {})
    return E(cbor2.CBORTag(107, env))


def manifest_digest(env_bytes):
    env = cbor2.loads(env_bytes).value
    return hashlib.sha256(E(env[3])).digest()


def enc_params(path):
    """encryption-info (19) and compression (-257) from an envelope secup-author made."""
    env = cbor2.loads(open(path, "rb").read()).value
    man = cbor2.loads(env[3])
    out = {}
    for key in (16, 20):
        seq = cbor2.loads(man[key]) if key in man else []
        for item in seq:
            if isinstance(item, dict):
                out.update({k: v for k, v in item.items() if k in (19, -257)})
    return out


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("kind")
    ap.add_argument("out")
    ap.add_argument("--key", required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--vendor-domain", default="example.com")
    ap.add_argument("--class", dest="cls", default="cam-v2")
    ap.add_argument("--target", default="firmware")
    ap.add_argument("--stage", default="stage")
    ap.add_argument("--image")
    ap.add_argument("--image2")
    ap.add_argument("--enc")
    ap.add_argument("--from", dest="from_env")
    ap.add_argument("--dep")
    ap.add_argument("--dep-digest-of")
    ap.add_argument("--detached", action="store_true")
    ap.add_argument("--no-integrity", action="store_true")
    ap.add_argument("--no-write2", action="store_true")
    ap.add_argument("--dep-uri")  # the dependency's uri instead of "#dep" (or the detached default)
    ap.add_argument("--declare-size", type=int)
    ap.add_argument("--slot", type=int)
    a = ap.parse_args(argv)

    key = serialization.load_pem_private_key(open(a.key, "rb").read(), None)
    vendor = uuid.uuid5(uuid.NAMESPACE_DNS, a.vendor_domain)
    cls = uuid.uuid5(vendor, a.cls)
    ident = {1: vendor.bytes, 2: cls.bytes}
    image = open(a.image, "rb").read() if a.image else b""
    img = {3: digest(image), 14: len(image) if a.declare_size is None else a.declare_size}
    integrated = {}
    comps = [comp_id(a.target)]
    deps = None
    shared = [12, True, 20, ident, 1, 15, 2, 15, 12, 0, 20, img]
    m = {1: 1, 2: a.seq}
    validate = [12, 0, 3, 15]

    if a.kind in ("copy", "copy-only", "stage-only"):
        comps.append(comp_id(a.stage))
        enc = open(a.enc, "rb").read() if a.enc else b""
        if a.kind != "copy-only":
            integrated["#enc"] = enc
            m[16] = E([12, 1, 20, {3: digest(enc), 14: len(enc), 21: "#enc"}, 21, 2, 3, 15])
        if a.kind != "stage-only":
            params = dict(enc_params(a.from_env))
            params[22] = 1
            m[20] = E([12, 0, 20, params, 22, 2, 3, 15])
        else:
            validate = [12, 1, 20, {3: digest(enc), 14: len(enc)}, 3, 15]
    elif a.kind == "swap":
        comps.append(comp_id(a.stage))
        image2 = open(a.image2, "rb").read()
        install = [12, 0, 20, {18: image, 3: digest(image), 14: len(image)}, 18, 2]
        if not a.no_write2:
            install += [12, 1, 20, {18: image2, 3: digest(image2), 14: len(image2)}, 18, 2]
        install += [12, 0, 20, {22: 1}, 31, 2]
        m[20] = E(install)
        # after the swap, component 0 holds image2 and component 1 image
        shared = [12, True, 20, ident, 1, 15, 2, 15,
                  12, 0, 20, {3: digest(image2), 14: len(image2)},
                  12, 1, 20, {3: digest(image), 14: len(image)}]
        validate = [12, 0, 3, 15, 12, 1, 3, 15]
    elif a.kind == "image":
        integrated["#img"] = image
        if a.slot is None:
            m[20] = E([12, 0, 20, {21: "#img"}, 21, 2, 3, 15])
        else:
            m[20] = E([12, 0, 20, {21: "#img", 5: a.slot}, 5, 15, 21, 2, 3, 15])
    elif a.kind == "dep":
        dep = open(a.dep, "rb").read()
        dig_src = open(a.dep_digest_of, "rb").read() if a.dep_digest_of else dep
        uri = a.dep_uri or ("https://example.com/dep.suit" if a.detached else "#dep")
        deps = {1: {}}
        shared += [12, 1, 20, {3: E([-16, manifest_digest(dig_src)]), 14: len(dep), 21: uri}]
        integrated["#img"] = image
        if not a.detached:
            integrated["#dep"] = dep
        resolution = [12, 1, 21, 2]
        if not a.no_integrity:
            resolution += [7, 15]
        m[15] = E(resolution + [11, 15])
        m[20] = E([12, 0, 20, {21: "#img"}, 21, 2, 3, 15, 12, 1, 11, 15])
        m[7] = E([12, 0, 3, 15, 12, 1, 11, 15])
    else:
        sys.exit("unknown kind " + a.kind)

    common = {2: comps, 4: E(shared)}
    if deps is not None:
        common[1] = deps
    m[3] = E(common)
    m[7] = m.get(7, E(validate))
    m[9] = E([12, 0, 23, 2])
    open(a.out, "wb").write(envelope(key, m, integrated))


if __name__ == "__main__":
    main(sys.argv[1:])
