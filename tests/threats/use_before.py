#!/usr/bin/python3
"""TEST ONLY: re-signs an envelope secup-author made with a use-before condition (SUIT
parameter and condition 4) at the start of its install sequence, for THREATS.md C1
(secup-author has no option for it). Signing and encoding are tests/integration/suit_craft.py's.

Usage: use_before.py IN.suit OUT.suit SIGNER.pem EPOCH-SECONDS"""
import os
import sys

import cbor2
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import suit_craft  # noqa: E402  (the project's test helper: E(), envelope())

src, out, keyfile, when = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
env = cbor2.loads(open(src, "rb").read()).value
man = cbor2.loads(env[3])
install = cbor2.loads(man[20])
man[20] = suit_craft.E([20, {4: when}, 4, 15] + install)  # override use-before; check it
key = serialization.load_pem_private_key(open(keyfile, "rb").read(), None)
integrated = {k: v for k, v in env.items() if isinstance(k, str)}
open(out, "wb").write(suit_craft.envelope(key, man, integrated))
