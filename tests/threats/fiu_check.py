#!/usr/bin/env python3
"""Invariants after one agent cycle under random I/O errors (tests/threats/test_fiu.sh,
THREATS.md F6). One line per violation on stdout; exit 1 if there is any.

Arguments, key=value:
  dev=DIR          the device directory (dev.json, state/, slots/)
  status=FILE      `secup-agent status --json` after the cycle (read without faults)
  before=FILE      the same before the cycle
  images=DIR       the images, fw<sequence>.bin
  allowed=1,2      the sequences the firmware may run after the cycle
  slotsum=HEX      sha256 of the slot that ran before the cycle (INV-2); "-": not checked
  temps=0|1        1: no "*.tmp.*" file may be left in the device directory (INV-8)
"""
import glob
import hashlib
import json
import os
import sys


def main():
    a = dict(arg.split("=", 1) for arg in sys.argv[1:])
    dev = a["dev"]
    fails = []

    def fail(label, msg):
        fails.append(f"{label}: {msg}")

    # the stores themselves: both state copies and the bootloader's state file carry a
    # checksum; after an I/O error each must still be a complete copy (old or new)
    for name in ("state.A", "state.B"):
        p = os.path.join(dev, "state", name)
        try:
            with open(p, "rb") as f:
                d = f.read()
        except OSError as e:
            fail("store", f"{name} unreadable: {e}")
            continue
        i = d.rfind(b"\nsha256:")
        if i < 0 or hashlib.sha256(d[:i]).hexdigest().encode() != d[i + 8:].strip():
            fail("store", f"{name} fails its checksum ({len(d)} bytes)")
            continue
        try:
            json.loads(d[:i])
        except ValueError as e:
            fail("store", f"{name} is not JSON: {e}")
    p = os.path.join(dev, "state", "boot")
    try:
        with open(p, "rb") as f:
            d = f.read()
        i = d.rfind(b"sha256=")
        if i < 1 or hashlib.sha256(d[:i]).hexdigest().encode() != d[i + 7:].strip():
            fail("store", f"the bootloader state file fails its checksum ({len(d)} bytes)")
    except OSError as e:
        fail("store", f"the bootloader state file is unreadable: {e}")

    try:
        with open(a["status"], encoding="utf-8") as f:
            st = json.load(f)
        with open(a["before"], encoding="utf-8") as f:
            before = json.load(f)
    except (OSError, ValueError) as e:
        fail("store", f"status --json unreadable after the cycle: {e}")
        st = None
    if st is not None:
        if st.get("safe-mode"):
            fail("INV-1 bootable", f"safe mode: {st.get('safe-reason')}")
        c = st["components"][0]
        b = before["components"][0]
        allowed = {int(s) for s in a["allowed"].split(",")}
        seq = c.get("running-seq")
        if seq not in allowed:
            fail("INV-1 bootable", f"runs sequence {seq}, expected one of {sorted(allowed)}")
        else:
            idx = 0 if c["active"] == "A" else 1
            with open(os.path.join(a["images"], f"fw{seq}.bin"), "rb") as f:
                img = f.read()
            with open(os.path.join(dev, "slots", "ab"[idx]), "rb") as f:
                got = f.read(len(img))
            if got != img:
                fail("INV-1 bootable", f"running slot {c['active']} does not hold the image of sequence {seq}")
            sl = c["slots"][idx]
            if not sl.get("valid") or sl.get("digest") != hashlib.sha256(img).hexdigest():
                fail("INV-1 bootable", f"the state does not record slot {c['active']} as the verified image {seq}")
        # INV-2: the slot that ran before was not written (unless it is no longer the
        # running one and a later install wrote it: not within one cycle)
        bidx = 0 if b["active"] == "A" else 1
        if a.get("slotsum", "-") != "-":
            with open(os.path.join(dev, "slots", "ab"[bidx]), "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != a["slotsum"]:
                    fail("INV-2 running slot untouched", f"slot {b['active']} changed")
        # INV-3: floors never go down; they cover a confirmed running release
        for anchor, fl in b.get("floors", {}).items():
            now = c.get("floors", {}).get(anchor)
            if now is None or now < fl:
                fail("INV-3 floors", f"floor of '{anchor}' went from {fl} to {now}")
        if c.get("trial") is None and isinstance(seq, int) and c.get("floors", {}).get("release", 0) < seq:
            fail("INV-3 floors", f"runs confirmed sequence {seq} below its floor {c.get('floors')}")
        # INV-4: the trust store is the same
        if st.get("trust") != before.get("trust"):
            fail("INV-4 trust store", f"trust anchors changed: {before.get('trust')} -> {st.get('trust')}")

    if a.get("temps") == "1":
        left = sorted(os.path.relpath(p, dev) for p in glob.glob(os.path.join(dev, "**", "*.tmp.*"), recursive=True))
        if left:
            fail("INV-8 no leftovers", " ".join(left))

    for line in fails:
        print(line)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
