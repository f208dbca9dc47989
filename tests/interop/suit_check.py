#!/usr/bin/env python3
"""Independent SUIT envelope checker (interop test for secup).

Shares no code with the C implementation: it carries its own strict CBOR
decoder and encoder and uses the Python 'cryptography' package for the
primitives (python3-cbor2 is not needed by this file).  Format:
draft-ietf-suit-manifest-37, plus the COSE_Mac0 / ESP256 / Ed25519 auth
blocks of the encryption and MTI drafts and trust-domains integrated
dependencies.

  suit_check.py verify ENVELOPE [--pub KEY.pem ...] [--hmac-key FILE] [--image FILE] [-v]
  suit_check.py dump ENVELOPE

verify checks, in this order (the first failure is reported):
  * envelope: optional tag 107, a map of keys 2, 3, severable copies
    (14 15 16 18 20 23) and "#name" integrated members only; auth wrapper (2)
    before the manifest (3); all bstr.
  * auth wrapper: [bstr SUIT_Digest, *bstr COSE]; digest alg -16 (SHA-256)
    only; digest == SHA-256(envelope key 3 as encoded: bstr head + content).
  * at least one COSE block, and at least one must verify with a given key:
    COSE_Sign1 (tag 18) -7/-9 ECDSA P-256 (64-byte r||s), -8/-19 EdDSA;
    COSE_Mac0 (tag 17) alg 5 HMAC-SHA256.  ToBeSigned/ToBeMaced =
    ["Signature1"/"MAC0", protected, h'', digest bstr].  Payload must be nil,
    alg must be in the protected header, no crit.  COSE_Sign/COSE_Mac (98/97)
    are not supported (never verify).  A structurally broken block is fatal.
  * manifest: known keys only, version 1, uint sequence number, common with
    components/dependencies, every command sequence an even-length array
    (recursively into try-each / run-sequence), parameter types.
  * severable members: if the manifest holds a SUIT_Digest for key k and the
    envelope carries k, SHA-256(envelope member as encoded) must match; an
    envelope copy without a digest in the manifest is rejected.
  * integrated members: every "#name" uri must exist in the envelope and every
    member must be referenced by a uri; members that are SUIT envelopes are
    verified recursively with the same keys; the sequences are run and
    image-match / dependency-integrity are checked against fetched members
    (dependency digest = its manifest digest, size = whole envelope).
  * --image: component 0's image-digest (param 3) and image-size (param 14)
    after the shared sequence (override/set-parameters, set-component-index,
    run-sequence; try-each branches are alternatives, one must match).
--pub also accepts a private key file (its public half is used).  The
--hmac-key file holds hex text (whitespace ignored) or, if not hex, raw bytes.

Exit codes:
  0  "OK" (verify) / JSON summary printed (dump)
  1  "FAIL: <what>" on stdout -- the envelope was rejected.  Anything wrong
     with the envelope bytes (malformed CBOR, wrong types, unsupported
     algorithms, bad digests or signatures, image mismatch) lands here.
  2  "ERROR: <what>" on stderr -- usage error, or a problem with the tool's
     other inputs (unreadable files, a key file that is not a usable key), or
     an internal error of this checker (never a traceback, never "OK").

CBOR strictness (all envelope levels, including every bstr-wrapped item):
well-formed, definite lengths only, shortest-form heads, no duplicate map keys,
map keys int/tstr/bstr (or arrays of them, for SUIT_Text_Map), valid UTF-8,
no unassigned simple values, no trailing bytes, nesting depth <= 32.
Map key *order* is not enforced.
"""

import hashlib
import hmac
import json
import struct
import sys
import uuid

# ---------------------------------------------------------------------------
# Errors


class Fail(Exception):
    """The envelope is rejected (exit 1)."""


class Usage(Exception):
    """Bad invocation or unusable auxiliary input (exit 2)."""


class CBORError(Exception):
    pass


# ---------------------------------------------------------------------------
# Minimal strict CBOR decoder / encoder

MAX_DEPTH = 32


class Tag:
    __slots__ = ("tag", "value")

    def __init__(self, tag, value):
        self.tag = tag
        self.value = value

    def __repr__(self):
        return "Tag(%d, %r)" % (self.tag, self.value)


class _Undefined:
    def __repr__(self):
        return "undefined"


UNDEFINED = _Undefined()


class Decoder:
    def __init__(self, data):
        self.b = bytes(data)
        self.p = 0

    def _need(self, n):
        if n > len(self.b) - self.p:
            raise CBORError("truncated at offset %d" % self.p)

    def _uint(self, n):
        self._need(n)
        v = int.from_bytes(self.b[self.p:self.p + n], "big")
        self.p += n
        return v

    def head(self):
        """Return (major type, additional info, argument)."""
        start = self.p
        ib = self._uint(1)
        mt, ai = ib >> 5, ib & 0x1F
        if ai < 24:
            return mt, ai, ai
        if ai == 31:
            if mt == 7:
                raise CBORError("unexpected break byte at offset %d" % start)
            raise CBORError("indefinite-length item at offset %d" % start)
        if ai > 27:
            raise CBORError("reserved additional information %d at offset %d" % (ai, start))
        n = 1 << (ai - 24)
        arg = self._uint(n)
        if mt != 7:
            minimum = {1: 24, 2: 0x100, 4: 0x10000, 8: 0x100000000}[n]
            if arg < minimum:
                raise CBORError("non-shortest-form head at offset %d" % start)
        return mt, ai, arg

    def at_end(self):
        return self.p == len(self.b)

    def peek_major(self):
        self._need(1)
        return self.b[self.p] >> 5

    def item(self, depth=0):
        if depth > MAX_DEPTH:
            raise CBORError("nesting deeper than %d" % MAX_DEPTH)
        start = self.p
        mt, ai, arg = self.head()
        if mt == 0:
            return arg
        if mt == 1:
            return -1 - arg
        if mt in (2, 3):
            self._need(arg)
            raw = self.b[self.p:self.p + arg]
            self.p += arg
            if mt == 2:
                return raw
            try:
                return raw.decode("utf-8", errors="strict")
            except UnicodeDecodeError:
                raise CBORError("invalid UTF-8 in text string at offset %d" % start)
        if mt == 4:
            if arg > len(self.b) - self.p:
                raise CBORError("array length %d exceeds the data at offset %d" % (arg, start))
            return [self.item(depth + 1) for _ in range(arg)]
        if mt == 5:
            if arg * 2 > len(self.b) - self.p:
                raise CBORError("map length %d exceeds the data at offset %d" % (arg, start))
            out = {}
            for _ in range(arg):
                kpos = self.p
                k = self.item(depth + 1)
                k = _freeze_key(k)
                if k is None:
                    raise CBORError("unsupported map key type at offset %d" % kpos)
                if k in out:
                    raise CBORError("duplicate map key %r at offset %d" % (k, kpos))
                out[k] = self.item(depth + 1)
            return out
        if mt == 6:
            return Tag(arg, self.item(depth + 1))
        # major type 7
        if ai == 20:
            return False
        if ai == 21:
            return True
        if ai == 22:
            return None
        if ai == 23:
            return UNDEFINED
        if ai == 25:
            return struct.unpack(">e", arg.to_bytes(2, "big"))[0]
        if ai == 26:
            return struct.unpack(">f", arg.to_bytes(4, "big"))[0]
        if ai == 27:
            return struct.unpack(">d", arg.to_bytes(8, "big"))[0]
        raise CBORError("unassigned simple value at offset %d" % start)


def _freeze_key(k):
    """Map keys: int, tstr, bstr, or arrays of those (SUIT_Component_Identifier
    keys in SUIT_Text_Map); arrays become tuples so they can be dict keys."""
    if type(k) in (int, str, bytes):
        return k
    if type(k) is list:
        out = []
        for x in k:
            fx = _freeze_key(x)
            if fx is None:
                return None
            out.append(fx)
        return tuple(out)
    return None


def cbor_decode(data, what):
    """Decode exactly one CBOR item that fills `data`."""
    d = Decoder(data)
    try:
        v = d.item()
        if not d.at_end():
            raise CBORError("%d trailing byte(s) after the item" % (len(d.b) - d.p))
    except CBORError as e:
        raise Fail("malformed CBOR in %s: %s" % (what, e))
    return v


def _enc_head(mt, n):
    if n < 24:
        return bytes([(mt << 5) | n])
    for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < (1 << (8 * size)):
            return bytes([(mt << 5) | ai]) + n.to_bytes(size, "big")
    raise ValueError("integer too large")


def cbor_encode(v):
    """Encoder for the few shapes we build ourselves (COSE ToBeSigned/ToBeMaced)."""
    if isinstance(v, bool) or v is None:
        return {False: b"\xf4", True: b"\xf5", None: b"\xf6"}[v]
    if isinstance(v, int):
        return _enc_head(0, v) if v >= 0 else _enc_head(1, -1 - v)
    if isinstance(v, bytes):
        return _enc_head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode("utf-8")
        return _enc_head(3, len(b)) + b
    if isinstance(v, list):
        return _enc_head(4, len(v)) + b"".join(cbor_encode(x) for x in v)
    raise TypeError("cannot encode %r" % type(v))


# ---------------------------------------------------------------------------
# Type helpers (bool is a subclass of int in Python: exclude it explicitly)


def is_int(x):
    return type(x) is int


def is_uint(x):
    return type(x) is int and x >= 0


def is_bstr(x):
    return type(x) is bytes


def is_tstr(x):
    return type(x) is str


def need(cond, msg):
    if not cond:
        raise Fail(msg)


# ---------------------------------------------------------------------------
# SUIT constants

ENV_AUTH, ENV_MANIFEST = 2, 3
SEVERABLE = {14: "coswid", 15: "dependency-resolution", 16: "payload-fetch",
             18: "candidate-verification", 20: "install", 23: "text"}
SEQUENCE_KEYS = {7: "validate", 8: "load", 9: "invoke", 15: "dependency-resolution",
                 16: "payload-fetch", 18: "candidate-verification", 20: "install",
                 24: "uninstall"}
MANIFEST_KEYS = {1: "manifest-version", 2: "sequence-number", 3: "common",
                 4: "reference-uri", 5: "manifest-component-id", 6: "set-version",
                 7: "validate", 8: "load", 9: "invoke", 14: "coswid",
                 15: "dependency-resolution", 16: "payload-fetch",
                 18: "candidate-verification", 20: "install", 23: "text",
                 24: "uninstall"}
COMMON_KEYS = {1: "dependencies", 2: "components", 4: "shared-sequence"}

DIGEST_ALGS = {-16: ("sha-256", hashlib.sha256)}
KNOWN_UNSUPPORTED_DIGESTS = {-18: "shake128", -43: "sha-384", -44: "sha-512", -45: "shake256"}

COSE_ALG_NAMES = {-7: "ES256", -9: "ESP256", -8: "EdDSA", -19: "Ed25519", 5: "HMAC256/256",
                  -35: "ES384", -36: "ES512", -37: "PS256", -46: "HSS-LMS",
                  4: "HMAC256/64", 6: "HMAC384/384", 7: "HMAC512/512"}

CMD_SET_COMPONENT_INDEX = 12
CMD_TRY_EACH = 15
CMD_SET_PARAMETERS = 19
CMD_OVERRIDE_PARAMETERS = 20
CMD_RUN_SEQUENCE = 32
CMD_OVERRIDE_MULTIPLE = 34

P_VENDOR_ID, P_CLASS_ID, P_IMAGE_DIGEST, P_IMAGE_SIZE = 1, 2, 3, 14


# ---------------------------------------------------------------------------
# Envelope parsing


class Envelope:
    pass


def parse_envelope(data):
    """Split the envelope into its members, keeping each member's raw encoding."""
    env = Envelope()
    env.tagged = False
    env.members = {}      # key -> decoded value
    env.raw = {}          # key -> exact encoded bytes of the value
    env.order = []
    d = Decoder(data)
    try:
        if d.peek_major() == 6:
            _, _, tag = d.head()
            if tag != 107:
                raise Fail("envelope carries CBOR tag %d, expected 107 or none" % tag)
            env.tagged = True
        mt, _, n = d.head()
        if mt != 5:
            raise Fail("envelope is not a CBOR map (major type %d)" % mt)
        if n * 2 > len(d.b) - d.p:
            raise CBORError("map length %d exceeds the data" % n)
        for _ in range(n):
            kpos = d.p
            k = d.item(1)
            if type(k) not in (int, str):
                raise Fail("envelope key at offset %d is neither int nor tstr" % kpos)
            if k in env.members:
                raise Fail("duplicate envelope key %r" % (k,))
            vstart = d.p
            v = d.item(1)
            env.members[k] = v
            env.raw[k] = d.b[vstart:d.p]
            env.order.append(k)
        if not d.at_end():
            raise CBORError("%d trailing byte(s) after the envelope" % (len(d.b) - d.p))
    except CBORError as e:
        raise Fail("malformed CBOR in envelope: %s" % e)

    for k in env.order:
        v = env.members[k]
        if is_tstr(k):
            need(is_bstr(v), "envelope member %r (integrated payload/dependency) is not a bstr" % k)
        elif k in (ENV_AUTH, ENV_MANIFEST) or k in SEVERABLE:
            need(is_bstr(v), "envelope key %d is not a bstr" % k)
        else:
            raise Fail("unknown envelope key %d" % k)
    need(ENV_AUTH in env.members, "envelope has no authentication wrapper (key 2)")
    need(ENV_MANIFEST in env.members, "envelope has no manifest (key 3)")
    need(env.order.index(ENV_AUTH) < env.order.index(ENV_MANIFEST),
         "authentication wrapper does not precede the manifest")
    return env


def parse_suit_digest(value, what):
    need(type(value) is list and len(value) >= 2, "%s is not a SUIT_Digest array [alg, bytes]" % what)
    alg, dig = value[0], value[1]
    need(is_int(alg), "%s algorithm id is not an int" % what)
    need(is_bstr(dig), "%s digest bytes are not a bstr" % what)
    if alg not in DIGEST_ALGS:
        name = KNOWN_UNSUPPORTED_DIGESTS.get(alg)
        raise Fail("%s uses %s digest algorithm %d" %
                   (what, "unsupported" if name else "unknown", alg) +
                   (" (%s)" % name if name else ""))
    name, fn = DIGEST_ALGS[alg]
    need(len(dig) == fn().digest_size, "%s: %s digest is %d bytes, expected %d" %
         (what, name, len(dig), fn().digest_size))
    return alg, dig


def compute_digest(alg, data):
    return DIGEST_ALGS[alg][1](data).digest()


def parse_auth_wrapper(env):
    aw = cbor_decode(env.members[ENV_AUTH], "authentication wrapper")
    need(type(aw) is list, "authentication wrapper is not an array")
    need(len(aw) >= 1, "authentication wrapper is empty")
    for i, e in enumerate(aw):
        need(is_bstr(e), "authentication wrapper element %d is not a bstr" % i)
    digest_bstr = aw[0]
    alg, dig = parse_suit_digest(cbor_decode(digest_bstr, "manifest digest"), "manifest digest")
    return digest_bstr, alg, dig, aw[1:]


# ---------------------------------------------------------------------------
# COSE


class AuthBlock:
    def __init__(self, index):
        self.index = index
        self.kind = None
        self.alg = None
        self.verified = False
        self.reason = ""

    def label(self):
        name = COSE_ALG_NAMES.get(self.alg, str(self.alg))
        return "auth block %d (%s %s)" % (self.index, self.kind or "?", name)


def parse_cose_block(raw, index):
    """Parse one bstr-wrapped COSE structure; structural problems are fatal."""
    blk = AuthBlock(index)
    what = "auth block %d" % index
    v = cbor_decode(raw, what)
    need(isinstance(v, Tag), "%s is not a tagged COSE structure" % what)
    if v.tag == 18:
        blk.kind = "COSE_Sign1"
    elif v.tag == 17:
        blk.kind = "COSE_Mac0"
    elif v.tag in (98, 97):
        blk.kind = {98: "COSE_Sign", 97: "COSE_Mac"}[v.tag]
        blk.reason = "%s is not supported by this checker" % blk.kind
        return blk, None
    else:
        raise Fail("%s carries CBOR tag %d, expected 18 (COSE_Sign1) or 17 (COSE_Mac0)" % (what, v.tag))
    a = v.value
    need(type(a) is list and len(a) == 4, "%s: %s is not a 4-element array" % (what, blk.kind))
    prot_bstr, unprot, payload, sig = a
    need(is_bstr(prot_bstr), "%s: protected header is not a bstr" % what)
    need(type(unprot) is dict, "%s: unprotected header is not a map" % what)
    need(is_bstr(sig), "%s: signature/tag is not a bstr" % what)
    need(payload is None, "%s: payload is not nil (SUIT requires a detached payload)" % what)
    if prot_bstr == b"":
        prot = {}
    else:
        prot = cbor_decode(prot_bstr, "%s protected header" % what)
        need(type(prot) is dict, "%s: protected header is not a map" % what)
        need(len(prot) > 0, "%s: empty protected map must be encoded as h''" % what)
    for k in list(prot) + list(unprot):
        need(type(k) in (int, str), "%s: header label %r is neither int nor tstr" % (what, k))
    dup = set(prot) & set(unprot)
    need(not dup, "%s: header label(s) %s in both protected and unprotected" % (what, sorted(map(str, dup))))
    need(1 in prot, "%s: no algorithm in the protected header" % what)
    need(is_int(prot[1]), "%s: algorithm is not an int" % what)
    need(2 not in prot and 2 not in unprot, "%s: critical headers are not supported" % what)
    blk.alg = prot[1]
    return blk, (prot_bstr, sig)


def der_from_raw_ecdsa(sig, size):
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    r = int.from_bytes(sig[:size], "big")
    s = int.from_bytes(sig[size:], "big")
    return encode_dss_signature(r, s)


def verify_sign1(blk, prot_bstr, sig, digest_bstr, keys):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, ed448

    tbs = cbor_encode(["Signature1", prot_bstr, b"", digest_bstr])
    if blk.alg in (-7, -9):
        cands = [k for k in keys if isinstance(k, ec.EllipticCurvePublicKey)
                 and k.curve.name == "secp256r1"]
        if not cands:
            blk.reason = "no P-256 public key supplied"
            return
        if len(sig) != 64:
            blk.reason = "ECDSA P-256 signature is %d bytes, expected 64" % len(sig)
            return
        der = der_from_raw_ecdsa(sig, 32)
        for k in cands:
            try:
                k.verify(der, tbs, ec.ECDSA(hashes.SHA256()))
                blk.verified = True
                return
            except InvalidSignature:
                pass
        blk.reason = "signature does not verify with any of %d P-256 key(s)" % len(cands)
    elif blk.alg in (-8, -19):
        types = (ed25519.Ed25519PublicKey,) if blk.alg == -19 else \
            (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)
        cands = [k for k in keys if isinstance(k, types)]
        if not cands:
            blk.reason = "no EdDSA public key supplied"
            return
        for k in cands:
            want = 64 if isinstance(k, ed25519.Ed25519PublicKey) else 114
            if len(sig) != want:
                continue
            try:
                k.verify(sig, tbs)
                blk.verified = True
                return
            except InvalidSignature:
                pass
        blk.reason = "signature does not verify with any of %d EdDSA key(s)" % len(cands)
    else:
        blk.reason = "unsupported signature algorithm %d" % blk.alg


def verify_mac0(blk, prot_bstr, tag, digest_bstr, hmac_key):
    if blk.alg != 5:
        blk.reason = "unsupported MAC algorithm %d" % blk.alg
        return
    if hmac_key is None:
        blk.reason = "no HMAC key supplied"
        return
    tbm = cbor_encode(["MAC0", prot_bstr, b"", digest_bstr])
    expect = hmac.new(hmac_key, tbm, hashlib.sha256).digest()
    if len(tag) != 32:
        blk.reason = "HMAC-256/256 tag is %d bytes, expected 32" % len(tag)
    elif hmac.compare_digest(expect, tag):
        blk.verified = True
    else:
        blk.reason = "MAC tag does not verify with the HMAC key"


# ---------------------------------------------------------------------------
# Manifest


def decode_sequence(raw, what):
    seq = cbor_decode(raw, what)
    check_sequence_shape(seq, what)
    return seq


def check_sequence_shape(seq, what, depth=0):
    need(type(seq) is list, "%s is not an array" % what)
    need(len(seq) % 2 == 0, "%s has an odd number of elements (command without argument)" % what)
    need(depth < 8, "%s: run-sequence/try-each nested too deeply" % what)
    for i in range(0, len(seq), 2):
        cmd, arg = seq[i], seq[i + 1]
        need(is_int(cmd), "%s element %d: command is not an int" % (what, i))
        w = "%s command %d (#%d)" % (what, cmd, i // 2)
        if cmd == CMD_SET_COMPONENT_INDEX:
            need(is_uint(arg) or arg is True or
                 (type(arg) is list and arg and all(is_uint(x) for x in arg)),
                 "%s: set-component-index argument must be uint, true or [+uint]" % w)
        elif cmd in (CMD_OVERRIDE_PARAMETERS, CMD_SET_PARAMETERS):
            need(type(arg) is dict, "%s: parameters argument is not a map" % w)
            check_params(arg, w)
        elif cmd == CMD_OVERRIDE_MULTIPLE:
            need(type(arg) is dict, "%s: override-multiple argument is not a map" % w)
            for idx, params in arg.items():
                need(is_uint(idx) and type(params) is dict,
                     "%s: override-multiple entry is not uint => map" % w)
                check_params(params, w)
        elif cmd == CMD_TRY_EACH:
            need(type(arg) is list and len(arg) >= 2, "%s: try-each argument is not an array of >= 2" % w)
            for j, br in enumerate(arg):
                if br is None and j == len(arg) - 1:
                    continue
                need(is_bstr(br), "%s: try-each branch %d is not a bstr" % (w, j))
                check_sequence_shape(cbor_decode(br, "%s try-each branch %d" % (w, j)),
                                     "%s try-each branch %d" % (w, j), depth + 1)
        elif cmd == CMD_RUN_SEQUENCE:
            need(is_bstr(arg), "%s: run-sequence argument is not a bstr" % w)
            check_sequence_shape(cbor_decode(arg, "%s run-sequence" % w), "%s run-sequence" % w, depth + 1)


def check_params(params, what):
    for k, v in params.items():
        need(is_int(k), "%s: parameter key %r is not an int" % (what, k))
        if k == P_IMAGE_DIGEST:
            need(is_bstr(v), "%s: image-digest parameter is not a bstr" % what)
            # content checked (alg etc.) when used
            val = cbor_decode(v, "%s image-digest" % what)
            need(type(val) is list and len(val) >= 2 and is_int(val[0]) and is_bstr(val[1]),
                 "%s: image-digest is not a SUIT_Digest" % what)
        elif k == P_IMAGE_SIZE:
            need(is_uint(v), "%s: image-size parameter is not a uint" % what)
        elif k == 21:
            need(is_tstr(v), "%s: uri parameter is not a tstr" % what)
        elif k == P_CLASS_ID:
            need(is_bstr(v), "%s: class-identifier parameter is not a bstr" % what)
        elif k == P_VENDOR_ID:
            need(is_bstr(v) or (isinstance(v, Tag) and v.tag == 112 and is_bstr(v.value)),
                 "%s: vendor-identifier parameter is not a bstr or #6.112(bstr)" % what)


class Manifest:
    pass


def parse_manifest(env):
    m = cbor_decode(env.members[ENV_MANIFEST], "manifest")
    need(type(m) is dict, "manifest is not a map")
    for k in m:
        need(is_int(k), "manifest key %r is not an int" % (k,))
        need(k in MANIFEST_KEYS, "unknown manifest key %d" % k)
    need(1 in m, "manifest has no manifest-version (key 1)")
    need(is_int(m[1]) and m[1] == 1, "manifest-version is %r, expected 1" % (m[1],))
    need(2 in m, "manifest has no sequence-number (key 2)")
    need(is_uint(m[2]), "manifest sequence-number is not a uint")
    need(3 in m, "manifest has no common (key 3)")
    need(is_bstr(m[3]), "manifest common is not a bstr")
    if 4 in m:
        need(is_tstr(m[4]), "manifest reference-uri is not a tstr")
    if 5 in m:
        need(type(m[5]) is list and all(is_bstr(x) for x in m[5]),
             "manifest-component-id is not an array of bstr")
    if 6 in m:
        need(is_bstr(m[6]), "set-version is not a bstr")
        sv = cbor_decode(m[6], "set-version")
        need(type(sv) is list and sv and all(is_int(x) for x in sv), "set-version is not [+int]")

    man = Manifest()
    man.map = m
    man.version = m[1]
    man.sequence_number = m[2]

    common = cbor_decode(m[3], "common")
    need(type(common) is dict, "common is not a map")
    for k in common:
        need(is_int(k) and k in COMMON_KEYS, "unknown common key %r" % (k,))
    comps = common.get(2)
    if comps is not None:
        need(type(comps) is list and len(comps) >= 1, "components is not a non-empty array")
        for i, c in enumerate(comps):
            need(type(c) is list and all(is_bstr(x) for x in c),
                 "component identifier %d is not an array of bstr" % i)
    if 1 in common:
        need(type(common[1]) is dict, "dependencies is not a map")
        for idx, dep in common[1].items():
            need(is_uint(idx) and type(dep) is dict, "dependencies entry is not uint => map")
    need(comps is not None or 1 in common, "common has neither components nor dependencies")
    man.components = comps or []
    man.shared = None
    if 4 in common:
        need(is_bstr(common[4]), "shared-sequence is not a bstr")
        man.shared = decode_sequence(common[4], "shared-sequence")

    # command sequences and severable members
    man.severed = {}
    for k, name in SEQUENCE_KEYS.items():
        if k not in m:
            continue
        v = m[k]
        if type(v) is list and k in SEVERABLE:
            man.severed[k] = parse_suit_digest(v, "severed %s digest" % name)
        else:
            need(is_bstr(v), "manifest %s (key %d) is neither a bstr nor a SUIT_Digest" % (name, k))
            decode_sequence(v, name)
    if 14 in m:
        if type(m[14]) is list:
            man.severed[14] = parse_suit_digest(m[14], "severed coswid digest")
        else:
            need(is_bstr(m[14]), "manifest coswid is neither a bstr nor a SUIT_Digest")
    if 23 in m:
        if type(m[23]) is list:
            man.severed[23] = parse_suit_digest(m[23], "severed text digest")
        else:
            need(is_bstr(m[23]), "manifest text is neither a bstr nor a SUIT_Digest")
            check_text(m[23])
    return man


def check_text(raw):
    t = cbor_decode(raw, "text")
    need(type(t) is dict, "text is not a map")


def check_severed(env, man):
    """Envelope copies of severable members must match the digest in the manifest."""
    for k in SEVERABLE:
        if k not in env.members:
            continue
        name = SEVERABLE[k]
        need(k in man.severed,
             "envelope carries %s (key %d) but the manifest holds no digest for it" % (name, k))
        alg, dig = man.severed[k]
        need(hmac.compare_digest(compute_digest(alg, env.raw[k]), dig),
             "severed %s (key %d) does not match its digest in the manifest" % (name, k))
        # the restored member must itself be well-formed
        if k == 23:
            check_text(env.members[k])
        elif k in SEQUENCE_KEYS:
            decode_sequence(env.members[k], "severed %s" % name)
        else:
            cbor_decode(env.members[k], "severed %s" % name)


# ---------------------------------------------------------------------------
# Command-sequence evaluation
#
# Only what this checker needs is modelled: the component index, parameters,
# and what is known about each component's content (integrated envelope
# members fetched with uri "#name", content written by directive-write,
# copies).  Device-dependent conditions are not evaluated, so try-each forks:
# every branch is a possible path.  A check that fails on a path marks it
# failed; inside try-each a device would move on to the next branch, so a
# try-each keeps its failed branches only when every branch failed.

MAX_STATES = 256
CMD_IMAGE_MATCH, CMD_DEPENDENCY_INTEGRITY = 3, 7
CMD_WRITE, CMD_FETCH, CMD_COPY, CMD_SWAP, CMD_UNLINK = 18, 21, 22, 31, 33
P_CONTENT, P_ENCRYPTION_INFO, P_URI, P_SOURCE_COMPONENT = 18, 19, 21, 22


class State:
    __slots__ = ("cur", "params", "content", "errors")

    def __init__(self):
        self.cur = (0,)
        self.params = {}     # component index -> {param: value}
        self.content = {}    # component index -> ("bytes", b) / ("member", name); absent = unknown
        self.errors = []

    def copy(self):
        c = State()
        c.cur = self.cur
        c.params = {i: dict(p) for i, p in self.params.items()}
        c.content = dict(self.content)
        c.errors = list(self.errors)
        return c


class Context:
    def __init__(self, ncomp, env=None, dep_digests=None):
        self.ncomp = ncomp
        self.env = env
        self.dep_digests = dep_digests or {}   # integrated dependency name -> (alg, digest)


def check_content(ctx, st, idx, cmd):
    """image-match / dependency-integrity against content this checker knows."""
    c = st.content.get(idx)
    p = st.params.get(idx, {})
    if c is None or P_IMAGE_DIGEST not in p:
        return
    alg, dig = parse_suit_digest(cbor_decode(p[P_IMAGE_DIGEST], "image-digest"), "image-digest")
    if c[0] == "member":
        name = c[1]
        data = ctx.env.members[name]
        what = "integrated %s %r" % ("dependency" if name in ctx.dep_digests else "payload", name)
        if name in ctx.dep_digests:
            ok = (alg, dig) == ctx.dep_digests[name]
        else:
            ok = hmac.compare_digest(compute_digest(alg, data), dig)
    else:
        if cmd == CMD_DEPENDENCY_INTEGRITY:
            return
        data = c[1]
        what = "content written to component %d" % idx
        ok = hmac.compare_digest(compute_digest(alg, data), dig)
    if not ok:
        st.errors.append("%s does not match its image-digest parameter" % what)
    elif P_IMAGE_SIZE in p and p[P_IMAGE_SIZE] != len(data):
        st.errors.append("%s is %d bytes, image-size parameter says %d" % (what, len(data), p[P_IMAGE_SIZE]))


def run_seq(seq, states, ctx, depth=0):
    for i in range(0, len(seq), 2):
        cmd, arg = seq[i], seq[i + 1]
        if cmd == CMD_TRY_EACH:
            ok, failed = [], []
            for br in arg:
                branch = [s.copy() for s in states]
                if br is not None:
                    branch = run_seq(cbor_decode(br, "try-each branch"), branch, ctx, depth + 1)
                for s in branch:
                    (failed if s.errors else ok).append(s)
            states = ok or failed
            need(len(states) <= MAX_STATES, "too many try-each alternatives")
            continue
        if cmd == CMD_RUN_SEQUENCE:
            states = run_seq(cbor_decode(arg, "run-sequence"), states, ctx, depth + 1)
            continue
        for st in states:
            if cmd == CMD_SET_COMPONENT_INDEX:
                if arg is True:
                    st.cur = tuple(range(ctx.ncomp))
                elif type(arg) is list:
                    st.cur = tuple(arg)
                else:
                    st.cur = (arg,)
            elif cmd in (CMD_OVERRIDE_PARAMETERS, CMD_SET_PARAMETERS):
                for idx in st.cur:
                    p = st.params.setdefault(idx, {})
                    for k, v in arg.items():
                        if cmd == CMD_OVERRIDE_PARAMETERS or k not in p:
                            p[k] = v
            elif cmd == CMD_OVERRIDE_MULTIPLE:
                for idx, ps in arg.items():
                    st.params.setdefault(idx, {}).update(ps)
            elif ctx.env is None:
                continue            # parameters only
            elif cmd == CMD_FETCH:
                for idx in st.cur:
                    uri = st.params.get(idx, {}).get(P_URI)
                    if is_tstr(uri) and uri.startswith("#") and uri in ctx.env.members:
                        st.content[idx] = ("member", uri)
                    else:
                        st.content.pop(idx, None)
            elif cmd == CMD_WRITE:
                for idx in st.cur:
                    p = st.params.get(idx, {})
                    if is_bstr(p.get(P_CONTENT)) and P_ENCRYPTION_INFO not in p:
                        st.content[idx] = ("bytes", p[P_CONTENT])
                    else:
                        st.content.pop(idx, None)
            elif cmd == CMD_COPY:
                for idx in st.cur:
                    p = st.params.get(idx, {})
                    src = p.get(P_SOURCE_COMPONENT)
                    if is_uint(src) and src in st.content and P_ENCRYPTION_INFO not in p:
                        st.content[idx] = st.content[src]
                    else:
                        st.content.pop(idx, None)
            elif cmd in (CMD_SWAP, CMD_UNLINK):
                for idx in st.cur:
                    st.content.pop(idx, None)
            elif cmd in (CMD_IMAGE_MATCH, CMD_DEPENDENCY_INTEGRITY):
                for idx in st.cur:
                    check_content(ctx, st, idx, cmd)
    return states


def eval_shared_params(man):
    """The possible parameter sets per component after the shared sequence:
    a list of {component_index: {param: value}} (one per try-each path)."""
    if man.shared is None:
        return [{}]
    ctx = Context(max(len(man.components), 1))
    return [st.params for st in run_seq(man.shared, [State()], ctx)]


def check_integrated(env, man, dep_digests):
    """Run the manifest's sequences in processing order and check integrated
    payloads/dependencies where image-match / dependency-integrity test them."""
    ctx = Context(max(len(man.components), 1), env, dep_digests)
    states = [State()]
    for k in (15, 16, 18, 20, 7, 8, 9):
        src = env.members.get(k) if k in man.severed else man.map.get(k)
        if not is_bstr(src):
            continue
        if man.shared is not None:
            for st in states:
                st.cur = (0,)
            states = run_seq(man.shared, states, ctx)
        for st in states:
            st.cur = (0,)
        states = run_seq(cbor_decode(src, SEQUENCE_KEYS[k]), states, ctx)
    good = [st for st in states if not st.errors]
    if not good:
        raise Fail(states[0].errors[0])


def image_candidates(man, index=0):
    """[(digest_alg, digest_bytes, size_or_None)] for a component, one per alternative."""
    cands = []
    for params in eval_shared_params(man):
        p = params.get(index, {})
        if P_IMAGE_DIGEST not in p:
            continue
        alg, dig = parse_suit_digest(cbor_decode(p[P_IMAGE_DIGEST], "image-digest"), "image-digest")
        cands.append((alg, dig, p.get(P_IMAGE_SIZE)))
    return cands


def check_image(man, image):
    cands = image_candidates(man, 0)
    need(cands, "no image-digest parameter for component 0 in the shared sequence")
    reasons = []
    for alg, dig, size in cands:
        if size is None:
            reasons.append("no image-size parameter")
            continue
        if size != len(image):
            reasons.append("image size %d != image-size parameter %d" % (len(image), size))
            continue
        if not hmac.compare_digest(compute_digest(alg, image), dig):
            reasons.append("image digest mismatch")
            continue
        return
    raise Fail("image does not match component 0: " + "; ".join(sorted(set(reasons))))


# ---------------------------------------------------------------------------
# Commands


def read_file(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise Usage("cannot read %s %s: %s" % (what, path, e.strerror or e))


def load_public_key(path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, ed448
    data = read_file(path, "key file")
    key = None
    loaders = [serialization.load_pem_public_key, serialization.load_der_public_key]
    for ld in loaders:
        try:
            key = ld(data)
            break
        except (ValueError, TypeError):
            pass
        except Exception:  # UnsupportedAlgorithm and friends
            pass
    if key is None:  # accept a private key file too: use its public half
        for ld in (serialization.load_pem_private_key, serialization.load_der_private_key):
            try:
                key = ld(data, password=None).public_key()
                break
            except Exception:
                pass
    if key is None:
        raise Usage("%s is not a PEM/DER public (or private) key" % path)
    if not isinstance(key, (ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey,
                            ed448.Ed448PublicKey)):
        raise Usage("%s: unsupported key type %s" % (path, type(key).__name__))
    return key


def load_hmac_key(path):
    raw = read_file(path, "HMAC key file")
    txt = raw.strip()
    try:
        s = txt.decode("ascii")
        if s and len(s) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in s):
            return bytes.fromhex(s)
    except UnicodeDecodeError:
        pass
    if not raw:
        raise Usage("HMAC key file %s is empty" % path)
    return raw


MAX_ENVELOPE_NESTING = 4


def is_envelope_bytes(v):
    """Does an integrated (tstr-keyed) envelope member hold a SUIT_Envelope?"""
    if v[:2] == b"\xd8\x6b":
        return True
    try:
        x = Decoder(v)
        x.item()
        if not x.at_end():
            return False
        x = Decoder(v)
        m = x.item()
    except CBORError:
        return False
    return type(m) is dict and is_bstr(m.get(ENV_AUTH)) and is_bstr(m.get(ENV_MANIFEST))


def iter_param_maps(seq):
    """Every parameters map (override/set-parameters) in a sequence, recursively."""
    for i in range(0, len(seq), 2):
        cmd, arg = seq[i], seq[i + 1]
        if cmd in (CMD_OVERRIDE_PARAMETERS, CMD_SET_PARAMETERS):
            yield arg
        elif cmd == CMD_OVERRIDE_MULTIPLE:
            for ps in arg.values():
                yield ps
        elif cmd == CMD_RUN_SEQUENCE:
            yield from iter_param_maps(cbor_decode(arg, "run-sequence"))
        elif cmd == CMD_TRY_EACH:
            for br in arg:
                if br is not None:
                    yield from iter_param_maps(cbor_decode(br, "try-each branch"))


def verify_envelope(data, keys, hmac_key, log, depth=0):
    """All checks except --image; returns (env, manifest)."""
    env = parse_envelope(data)
    log("envelope: %s, keys %s" % ("tag 107" if env.tagged else "untagged", env.order))
    digest_bstr, alg, dig, blocks_raw = parse_auth_wrapper(env)
    need(hmac.compare_digest(compute_digest(alg, env.raw[ENV_MANIFEST]), dig),
         "manifest digest in the authentication wrapper does not match the manifest")
    env.digest = (alg, dig)
    log("manifest digest matches (%s)" % DIGEST_ALGS[alg][0])
    need(blocks_raw, "no signature: authentication wrapper holds no COSE authentication block")

    blocks = []
    for i, raw in enumerate(blocks_raw, start=1):
        blk, parts = parse_cose_block(raw, i)
        if parts is not None:
            prot_bstr, sig = parts
            if blk.kind == "COSE_Sign1":
                verify_sign1(blk, prot_bstr, sig, digest_bstr, keys)
            else:
                verify_mac0(blk, prot_bstr, sig, digest_bstr, hmac_key)
        log("%s: %s" % (blk.label(), "verified" if blk.verified else blk.reason))
        blocks.append(blk)
    if not any(b.verified for b in blocks):
        raise Fail("no authentication block verified: " +
                   "; ".join("%s: %s" % (b.label(), b.reason) for b in blocks))

    man = parse_manifest(env)
    log("manifest v%d seq %d, %d component(s)" % (man.version, man.sequence_number, len(man.components)))
    check_severed(env, man)
    for k in SEVERABLE:
        if k in man.severed:
            log("%s: %s" % (SEVERABLE[k], "envelope copy matches digest" if k in env.members
                            else "severed, not in envelope"))

    # Integrated members ("#name" => bstr): every "#name" uri must exist in
    # the envelope and (unless a severed sequence is absent) every member must
    # be referenced by a uri.  Dependencies are verified as envelopes in their
    # own right; then the sequences are run so that image-match and
    # dependency-integrity check fetched members (dependency: digest = its
    # manifest digest, size = the whole envelope, trust-domains 5.1.2).
    integrated = [k for k in env.order if is_tstr(k)]
    sequences = [man.shared] if man.shared is not None else []
    all_present = True
    for k in SEQUENCE_KEYS:
        src = man.map.get(k) if k not in man.severed else env.members.get(k)
        if is_bstr(src):
            sequences.append(cbor_decode(src, SEQUENCE_KEYS[k]))
        elif k in man.map:
            all_present = False    # severed and absent: its references are unknown
    refs = [p for seq in sequences for p in iter_param_maps(seq)]
    for p in refs:
        uri = p.get(21)
        if is_tstr(uri) and uri.startswith("#"):
            need(uri in env.members, "uri %r refers to an integrated member the envelope lacks" % uri)
    dep_digests = {}
    for name in integrated:
        if all_present:
            need(any(p.get(21) == name for p in refs),
                 "integrated member %r is not referenced by any uri parameter" % name)
        v = env.members[name]
        if is_envelope_bytes(v):
            need(depth < MAX_ENVELOPE_NESTING, "integrated dependencies nested too deeply")
            log("integrated dependency %r: verifying" % name)
            try:
                dep_env, _ = verify_envelope(v, keys, hmac_key,
                                             lambda m: log("  " + m), depth + 1)
            except Fail as e:
                raise Fail("integrated dependency %r: %s" % (name, e))
            dep_digests[name] = dep_env.digest
    check_integrated(env, man, dep_digests)
    if integrated:
        log("integrated members %s: references and image checks pass" % integrated)
    return env, man


def cmd_verify(args):
    keys = [load_public_key(p) for p in args.pub]
    hmac_key = load_hmac_key(args.hmac_key) if args.hmac_key else None
    if not keys and hmac_key is None:
        raise Usage("verify needs at least one --pub or --hmac-key")
    image = read_file(args.image, "image") if args.image else None
    data = read_file(args.envelope, "envelope")
    log = (lambda msg: print("  " + msg, file=sys.stderr)) if args.verbose else (lambda msg: None)

    env, man = verify_envelope(data, keys, hmac_key, log)
    if image is not None:
        check_image(man, image)
        log("image matches component 0 digest and size")
    print("OK")
    return 0


def uuid_str(v):
    if isinstance(v, Tag):
        return "pen:" + v.value.hex()
    if is_bstr(v) and len(v) == 16:
        return str(uuid.UUID(bytes=v))
    return v.hex() if is_bstr(v) else repr(v)


def cmd_dump(args):
    data = read_file(args.envelope, "envelope")
    env = parse_envelope(data)
    digest_bstr, alg, dig, blocks_raw = parse_auth_wrapper(env)
    auth = []
    for i, raw in enumerate(blocks_raw, start=1):
        blk, _ = parse_cose_block(raw, i)
        auth.append({"type": blk.kind, "alg": blk.alg,
                     "alg_name": COSE_ALG_NAMES.get(blk.alg) if blk.alg is not None else None})
    man = parse_manifest(env)
    out = {
        "file": args.envelope,
        "tagged": env.tagged,
        "envelope_keys": [k for k in env.order],
        "manifest_version": man.version,
        "sequence_number": man.sequence_number,
        "manifest_digest": {"alg": DIGEST_ALGS[alg][0], "hex": dig.hex(),
                            "matches": compute_digest(alg, env.raw[ENV_MANIFEST]) == dig},
        "auth": auth,
        "auth_algorithms": [a["alg_name"] or a["alg"] for a in auth],
    }
    if 4 in man.map:
        out["reference_uri"] = man.map[4]
    out["severable"] = {}
    for k, name in SEVERABLE.items():
        if k in man.severed:
            out["severable"][name] = "severed, envelope copy present" if k in env.members \
                else "severed, envelope copy absent"
        elif k in man.map:
            out["severable"][name] = "in manifest"
    param_sets = eval_shared_params(man)
    comps = []
    for idx in range(max(len(man.components), 1)):
        alts = []
        for params in param_sets:
            p = params.get(idx, {})
            a = {}
            if P_VENDOR_ID in p:
                a["vendor_id"] = uuid_str(p[P_VENDOR_ID])
            if P_CLASS_ID in p:
                a["class_id"] = uuid_str(p[P_CLASS_ID])
            if P_IMAGE_DIGEST in p:
                dalg, ddig = parse_suit_digest(cbor_decode(p[P_IMAGE_DIGEST], "image-digest"),
                                               "image-digest")
                a["image_digest"] = ddig.hex()
                a["image_digest_alg"] = DIGEST_ALGS[dalg][0]
            if P_IMAGE_SIZE in p:
                a["image_size"] = p[P_IMAGE_SIZE]
            if a not in alts:
                alts.append(a)
        c = {"index": idx}
        if idx < len(man.components):
            c["id"] = [x.hex() for x in man.components[idx]]
        c.update(alts[0] if alts else {})
        if len(alts) > 1:
            c["alternatives"] = alts
        comps.append(c)
    out["components"] = comps
    first = comps[0]
    for k in ("vendor_id", "class_id", "image_digest", "image_size"):
        out[k] = first.get(k)
    print(json.dumps(out, indent=2))
    return 0


USAGE = """usage:
  suit_check.py verify ENVELOPE [--pub KEY.pem ...] [--hmac-key FILE] [--image FILE] [-v]
  suit_check.py dump ENVELOPE"""


class Args:
    pass


def parse_args(argv):
    """Small hand-written parser so that usage errors have a fixed exit code (2)."""
    if not argv or argv[0] in ("-h", "--help"):
        raise Usage("missing command")
    a = Args()
    a.cmd = argv[0]
    a.pub, a.hmac_key, a.image, a.verbose, a.envelope = [], None, None, False, None
    if a.cmd not in ("verify", "dump"):
        raise Usage("unknown command %r" % a.cmd)
    rest = argv[1:]
    i = 0
    while i < len(rest):
        t = rest[i]
        if t in ("--pub", "--hmac-key", "--image") and a.cmd == "verify":
            if i + 1 >= len(rest):
                raise Usage("%s needs a value" % t)
            val = rest[i + 1]
            if t == "--pub":
                a.pub.append(val)
            elif t == "--hmac-key":
                if a.hmac_key is not None:
                    raise Usage("--hmac-key given twice")
                a.hmac_key = val
            else:
                if a.image is not None:
                    raise Usage("--image given twice")
                a.image = val
            i += 2
            continue
        if t in ("-v", "--verbose") and a.cmd == "verify":
            a.verbose = True
        elif t.startswith("-") and t != "-":
            raise Usage("unknown option %r" % t)
        elif a.envelope is None:
            a.envelope = t
        else:
            raise Usage("unexpected argument %r" % t)
        i += 1
    if a.envelope is None:
        raise Usage("missing ENVELOPE")
    return a


def main(argv):
    try:
        args = parse_args(argv)
        if args.cmd == "verify":
            return cmd_verify(args)
        return cmd_dump(args)
    except Usage as e:
        print("ERROR: %s" % e, file=sys.stderr)
        print(USAGE, file=sys.stderr)
        return 2
    except Fail as e:
        print("FAIL: %s" % e)
        return 1
    except RecursionError:
        print("FAIL: input nested too deeply")
        return 1
    except ImportError as e:
        print("ERROR: missing Python module: %s" % e, file=sys.stderr)
        return 2
    except Exception as e:  # a bug in this checker: never a traceback, but do not say OK
        print("ERROR: internal error (%s: %s)" % (type(e).__name__, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
