#!/usr/bin/python3
"""Test helper: keys and signed secup-status reports for simulated consumers, written
independently of libsecup (cbor2 + cryptography), so that the tracker is tested against a
second implementation of PROTOCOL.md.

  statusgen.py key OUT.pem                     a P-256 private key (PEM) and OUT.pub.pem
  statusgen.py report KEY.pem ID COUNTER SEQ [CMDID_HEX CODE] > report.cose
      a report of one component "firmware" running SEQ; with CMDID_HEX and CODE, a last
      result naming that command (CODE "OK" or a result-code name)
  statusgen.py command FILE                    prints "action counter seq rollout" of a
                                               signed command (not verified)
  statusgen.py sign-command KEY.pem ISSUER TARGET COUNTER ACTION [URI DIGEST_HEX SEQ] > cmd.cose
      a secup-command signed with KEY (P-256), valid for an hour
"""
import os
import hashlib
import sys
import time

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

COMPONENT = bytes.fromhex("81486669726d77617265")  # ["firmware"]


def key(out):
    k = ec.generate_private_key(ec.SECP256R1())
    open(out, "wb").write(k.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    pub = out[:-4] + ".pub.pem" if out.endswith(".pem") else out + ".pub"
    open(pub, "wb").write(k.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))


def report(keyfile, ident, counter, seq, cmd=None, code=None):
    k = serialization.load_pem_private_key(open(keyfile, "rb").read(), None)
    now = int(time.time())
    st = {1: 1, 2: ident, 3: counter, 4: now,
          5: [{1: COMPONENT, 2: seq, 4: 1, 5: [-16, hashlib.sha256(b"%d" % seq).digest()]}],
          7: False}
    if cmd:
        st[6] = {1: bytes.fromhex(cmd), 2: code, 4: now}
    payload = cbor2.dumps(st)
    prot = cbor2.dumps({1: -9})  # ESP256
    tbs = cbor2.dumps(["Signature1", prot, b"", payload])
    r, s = decode_dss_signature(k.sign(tbs, ec.ECDSA(hashes.SHA256())))
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    sys.stdout.buffer.write(cbor2.dumps(cbor2.CBORTag(18, [prot, {4: ident.encode()}, payload, sig])))


def sign_command(keyfile, issuer, target, counter, action, uri=None, digest=None, seq=None):
    k = serialization.load_pem_private_key(open(keyfile, "rb").read(), None)
    now = int(time.time())
    c = {1: 1, 2: os.urandom(16), 3: issuer, 4: target, 5: counter, 6: now, 7: now + 3600,
         8: action}
    if uri:
        c[9] = uri
        c[10] = [-16, bytes.fromhex(digest)]
        c[11] = seq
    payload = cbor2.dumps(c)
    prot = cbor2.dumps({1: -9})
    tbs = cbor2.dumps(["Signature1", prot, b"", payload])
    r, s = decode_dss_signature(k.sign(tbs, ec.ECDSA(hashes.SHA256())))
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    sys.stdout.buffer.write(cbor2.dumps(cbor2.CBORTag(18, [prot, {4: issuer.encode()}, payload, sig])))


def command(path):
    m = cbor2.loads(open(path, "rb").read())
    c = cbor2.loads(m.value[2])
    print(c[8], c[5], c.get(11, "-"), c.get(12, "-"), c[2].hex())


if __name__ == "__main__":
    if sys.argv[1] == "key":
        key(sys.argv[2])
    elif sys.argv[1] == "report":
        extra = sys.argv[6:8] if len(sys.argv) >= 8 else [None, None]
        report(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), *extra)
    elif sys.argv[1] == "command":
        command(sys.argv[2])
    elif sys.argv[1] == "sign-command":
        a = sys.argv[2:]
        sign_command(a[0], a[1], a[2], int(a[3]), int(a[4]),
                     *(a[5:7] + [int(a[7])] if len(a) >= 8 else []))
