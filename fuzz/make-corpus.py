#!/usr/bin/env python3
"""Regenerates the seed corpora of fuzz/corpus/<target>/ from tests/vectors/suit/.

    fuzz/make-corpus.py            (from the source tree root)

The seeds are small and committed; a fuzzing run (tools/fuzz-run.sh) works on a scratch
copy and never writes here. Run this again when the vectors change, and commit the result.

  envelope     every envelope vector, the integrated dependency envelope, the COSE_Encrypt
               enc-info vectors
  manifest     the bare manifest (envelope key 3 content) of every envelope vector, plus the
               envelope and enc-info vectors themselves
  cose_verify  mode byte 0 + each envelope / enc-info vector; modes 1-7 with the fields of
               the fixed envelopes cose_verify_fuzz.c modifies (protected header, signature,
               MAC tag, unprotected header, payload) - the valid values and a few broken ones
  codec        the enc-info vectors, a few envelopes, every bare manifest, plus hand-made
               CBOR edge cases (they steer the fuzzer; tests/unit checks the results)

Only the standard library is used: a minimal reader of CBOR heads is enough to find the
byte ranges of envelope members.
"""

import hashlib
import os
import shutil
import sys

VECTORS = "tests/vectors/suit"
CORPUS = "fuzz/corpus"


def head(buf, pos):
    """Returns (major, argument, position after the head) of the item at pos."""
    ib = buf[pos]
    major, info = ib >> 5, ib & 0x1F
    pos += 1
    if info < 24:
        return major, info, pos
    n = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
    if n is None:
        raise ValueError("indefinite or reserved head at %d" % (pos - 1))
    return major, int.from_bytes(buf[pos:pos + n], "big"), pos + n


def skip(buf, pos):
    """Returns the position after the complete item at pos."""
    major, arg, pos = head(buf, pos)
    if major in (2, 3):
        return pos + arg
    if major == 4:
        for _ in range(arg):
            pos = skip(buf, pos)
    elif major == 5:
        for _ in range(2 * arg):
            pos = skip(buf, pos)
    elif major == 6:
        pos = skip(buf, pos)
    return pos


def bstr(buf, pos):
    """Returns (content, position after) of the bstr at pos."""
    major, arg, pos = head(buf, pos)
    if major != 2:
        raise ValueError("expected bstr at %d" % pos)
    return buf[pos:pos + arg], pos + arg


def envelope_map(buf):
    """Returns {key: (start, end)} of the raw values of an envelope (tag 107 optional)."""
    pos = 0
    major, arg, after = head(buf, pos)
    if major == 6:
        pos = after
        major, arg, after = head(buf, pos)
    if major != 5:
        raise ValueError("not an envelope")
    pos = after
    out = {}
    for _ in range(arg):
        kmajor, karg, vstart = head(buf, pos)
        if kmajor == 3:
            key = buf[vstart:vstart + karg].decode()
            vstart += karg
        else:
            key = karg if kmajor == 0 else -1 - karg
        vend = skip(buf, vstart)
        out[key] = (vstart, vend)
        pos = vend
    return out


def cose_fields(block):
    """Fields of a tagged COSE_Sign1/COSE_Mac0: protected, unprotected raw, payload raw, tag."""
    major, _, pos = head(block, 0)
    assert major == 6
    major, n, pos = head(block, pos)
    assert major == 4 and n == 4
    protected, pos = bstr(block, pos)
    end = skip(block, pos)
    unprotected = block[pos:end]
    pos = skip(block, end)
    tag, pos = bstr(block, pos)
    return protected, unprotected, tag


def auth_blocks(env):
    m = envelope_map(env)
    wrapper, _ = bstr(env, m[2][0])
    major, n, pos = head(wrapper, 0)
    digest_bstr, pos = bstr(wrapper, pos)
    blocks = []
    for _ in range(n - 1):
        block, pos = bstr(wrapper, pos)
        blocks.append(block)
    return digest_bstr, blocks


def put(target, name, data, written):
    """Writes one seed; identical content is written once per target."""
    digest = hashlib.sha256(data).hexdigest()
    if digest in written.setdefault(target, set()):
        return
    written[target].add(digest)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


# Whole envelopes given to codec_fuzz; its walk does not descend into byte strings, so the
# bare manifests (all of them) carry most of the structure.
CODEC_VECTORS = {
    "manifest37-ex0-signed",
    "manifest37-ex2-signed",
    "enc-manifest-aes-kw-content",
    "enc-manifest-es-ecdh-dependency",
}

CODEC_EDGES = {
    "empty": b"",
    "uint-0": b"\x00",
    "uint-23": b"\x17",
    "uint-nonshortest": b"\x18\x05",
    "uint-max": b"\x1b" + b"\xff" * 8,
    "nint-int64-min": b"\x3b\x7f" + b"\xff" * 7,
    "nint-beyond-int64": b"\x3b" + b"\xff" * 8,
    "bstr-empty": b"\x40",
    "bstr-truncated": b"\x58\xff\x00",
    "bstr-huge-length": b"\x5b" + b"\xff" * 8 + b"\x00",
    "bstr-indefinite": b"\x5f\x41\x00\xff",
    "tstr-utf8": b"\x65en-US",
    "tstr-indefinite": b"\x7f\x61a\xff",
    "array-empty": b"\x80",
    "array-indefinite": b"\x9f\x01\xff",
    "array-huge-count": b"\x9b" + b"\xff" * 8,
    "map-empty": b"\xa0",
    "map-odd": b"\xa1\x01",
    "map-indefinite": b"\xbf\x01\x02\xff",
    "map-huge-count": b"\xbb\x7f" + b"\xff" * 7,
    "nest-15": b"\x81" * 15 + b"\x00",
    "nest-16": b"\x81" * 16 + b"\x00",
    "nest-17": b"\x81" * 17 + b"\x00",
    "nest-maps": b"\xa1\x01" * 16 + b"\x00",
    "tags-nested": b"\xc1" * 17 + b"\x00",
    "tag-alone": b"\xd2",
    "tag-107-map": b"\xd8\x6b\xa0",
    "tag-1070-map": b"\xd9\x04\x2e\xa0",
    "tag-64bit": b"\xdb" + b"\xff" * 8 + b"\x00",
    "tag-reserved": b"\xdc\x00",
    "tag-indefinite": b"\xdf\x00",
    "simple-values": b"\x84\xf4\xf5\xf6\xf7",
    "simple-8bit": b"\xf8\x20",
    "floats": b"\x83\xf9\x3c\x00\xfa\x3f\x80\x00\x00\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00",
    "break-alone": b"\xff",
    "reserved-info": b"\x1c",
    "trailing": b"\x01\x02",
    "digest-sha256": b"\x82\x2f\x58\x20" + bytes(range(32)),
}


def main():
    if not os.path.isdir(VECTORS):
        sys.exit("run from the source tree root")
    targets = ["envelope", "manifest", "cose_verify", "codec"]
    for t in targets:
        d = os.path.join(CORPUS, t)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    written = {}

    vectors = sorted(f for f in os.listdir(VECTORS) if f.endswith(".cbor"))
    envelopes = {}
    for f in vectors:
        with open(os.path.join(VECTORS, f), "rb") as fh:
            data = fh.read()
        stem = f[:-len(".cbor")]
        if stem in CODEC_VECTORS or f.startswith("enc-info-"):
            put("codec", stem, data, written)
        put("envelope", stem, data, written)
        put("cose_verify", "0-" + stem, b"\x00" + data, written)
        put("manifest", stem, data, written)
        if f.startswith("enc-info-"):
            continue
        envelopes[stem] = data
        m = envelope_map(data)
        manifest, _ = bstr(data, m[3][0])
        put("manifest", stem + "-manifest", manifest, written)
        put("codec", stem + "-manifest", manifest, written)
        for key, (start, end) in m.items():
            if isinstance(key, str):
                inner = bstr(data, start)[0]
                put("envelope", stem + "-integrated", inner, written)
                put("cose_verify", "0-" + stem + "-integrated", b"\x00" + inner, written)
                put("manifest", stem + "-integrated-manifest",
                    bstr(inner, envelope_map(inner)[3][0])[0], written)

    # Modes of cose_verify_fuzz.c, from its two fixed envelopes.
    sign1_digest, sign1_blocks = auth_blocks(envelopes["manifest37-ex0-signed"])
    _, mac0_blocks = auth_blocks(envelopes["enc-manifest-aes-kw-content"])
    s_prot, s_unprot, s_sig = cose_fields(sign1_blocks[0])
    m_prot, _, m_tag = cose_fields(mac0_blocks[0])
    seeds = {
        "1-sign1-protected": b"\x01" + s_prot,
        "1-sign1-protected-esp256": b"\x01\xa1\x01\x28",
        "1-sign1-protected-kid": b"\x01\xa2\x01\x26\x04\x41\x01",
        "1-sign1-protected-crit": b"\x01\xa2\x01\x26\x02\x81\x01",
        "1-sign1-protected-empty": b"\x01",
        "2-sign1-signature": b"\x02" + s_sig,
        "2-sign1-signature-zero": b"\x02" + bytes(64),
        "2-sign1-signature-short": b"\x02" + s_sig[:63],
        "3-mac0-protected": b"\x03" + m_prot,
        "4-mac0-tag": b"\x04" + m_tag,
        "4-mac0-tag-short": b"\x04" + m_tag[:31],
        "5-sign1-unprotected": b"\x05" + s_unprot,
        "5-sign1-unprotected-kid": b"\x05\xa1\x04\x41\x01",
        "6-sign1-payload": b"\x06" + sign1_digest,
        "7-sign1-split": b"\x07" + bytes([len(s_prot)]) + s_prot + s_sig,
    }
    for name, data in seeds.items():
        put("cose_verify", name, data, written)

    for name, data in CODEC_EDGES.items():
        put("codec", "edge-" + name, data, written)

    for t in targets:
        n = len(os.listdir(os.path.join(CORPUS, t)))
        print("%-12s %3d seeds" % (t, n))


if __name__ == "__main__":
    main()
