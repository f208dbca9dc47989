#!/usr/bin/env python3
"""Invariants of THREATS.md section 2 after one power cut and the reboot that follows it
(tests/powercut/sweep.sh). One line per violation on stdout, "LABEL: detail"; exit 1 if
there is any.

Arguments, key=value:
  task=DIR          the task directory: dev/ (the device after the reboot), pre.json
                    (status right after the cut), post.json (status after the reboot)
  base=DIR          the saved baseline device directory, base.json its status
  images=DIR        the images, named <component>-<sequence>.bin
  updated=a,b       the components the scenario's package updates
  allowed=1,2       the sequences an updated component may run after the reboot
  bundle=0|1        the package is a multi-component bundle: all-or-none
  reboot_rc=N       exit status of the second boot after the cut (it must have settled)
"""
import glob
import hashlib
import json
import os
import sys


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return e


def main():
    a = dict(arg.split("=", 1) for arg in sys.argv[1:])
    task, base, images = a["task"], a["base"], a["images"]
    updated = [c for c in a["updated"].split(",") if c]
    allowed = {int(s) for s in a["allowed"].split(",") if s}
    bundle = a.get("bundle") == "1"
    fails = []

    def fail(label, msg):
        fails.append(f"{label}: {msg}")

    dev = os.path.join(task, "dev")
    with open(os.path.join(dev, "dev.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    slots = {c["name"]: [os.path.join(dev, p) for p in c["slots"]] for c in cfg["components"]}
    base_st = load(os.path.join(base, "base.json"))
    pre = load(os.path.join(task, "pre.json"))
    post = load(os.path.join(task, "post.json"))
    if isinstance(post, Exception):
        fail("INV-1 bootable", f"status --json after the reboot is unreadable: {post}")
        post = None

    def by_name(st):
        if not isinstance(st, dict):
            return {}
        return {c["name"]: c for c in st.get("components", [])}

    base_c, pre_c, post_c = by_name(base_st), by_name(pre), by_name(post)

    # INV-1: a verified image runs; it is the old or the new release, never safe mode
    if post is not None:
        if post.get("safe-mode"):
            fail("INV-1 bootable", f"safe mode after the reboot: {post.get('safe-reason')}")
        if a.get("reboot_rc", "0") != "0":
            fail("INV-1 bootable", f"the second boot after the cut exited {a['reboot_rc']} (not settled)")
    running = {}
    for name, c in post_c.items():
        seq = c.get("running-seq")
        running[name] = seq
        ok_set = allowed if name in updated else {int(base_c[name]["running-seq"])}
        if seq not in ok_set:
            fail("INV-1 bootable", f"{name} runs sequence {seq}, expected one of {sorted(ok_set)}")
            continue
        img_path = os.path.join(images, f"{name}-{seq}.bin")
        with open(img_path, "rb") as f:
            img = f.read()
        slot_idx = 0 if c.get("active") == "A" else 1
        try:
            with open(slots[name][slot_idx], "rb") as f:
                got = f.read()
        except OSError as e:
            fail("INV-1 bootable", f"{name}: running slot {c.get('active')} unreadable: {e}")
            continue
        if got[: len(img)] != img:
            fail("INV-1 bootable",
                 f"{name}: running slot {c.get('active')} does not hold the image of sequence {seq}")
        sl = c["slots"][slot_idx]
        if not sl.get("valid") or sl.get("digest") != hashlib.sha256(img).hexdigest():
            fail("INV-1 bootable",
                 f"{name}: the state does not record running slot {c.get('active')} as the verified image {seq}")

    # all-or-none for a bundle (THREATS.md 0.3, U4)
    if bundle and post_c:
        seqs = {running.get(n) for n in updated}
        if len(seqs) != 1:
            fail("U4 bundle all-or-none",
                 "mixed release: " + ", ".join(f"{n} runs {running.get(n)}" for n in updated))

    # INV-3: floors never go down, across the cut and across the reboot
    def floor(cs, name):
        c = cs.get(name)
        return None if c is None else c.get("floors", {}).get("release", 0)

    for name in base_c:
        b, p, q = floor(base_c, name), floor(pre_c, name), floor(post_c, name)
        if p is not None and p < b:
            fail("INV-3 floors", f"{name}: floor {b} before the scenario, {p} after the cut")
        if q is not None and q < b:
            fail("INV-3 floors", f"{name}: floor {b} before the scenario, {q} after the reboot")
        if q is not None and p is not None and q < p:
            fail("INV-3 floors", f"{name}: floor {p} after the cut went down to {q} at the reboot")
        seq = running.get(name)
        if q is not None and isinstance(seq, int) and q < seq:
            fail("INV-3 floor covers the running release",
                 f"{name}: runs confirmed sequence {seq} but its floor stayed at {q}")

    # INV-2: the slots that ran before the scenario were never written
    guard_log = os.path.join(task, "guard.log")
    if os.path.exists(guard_log):
        with open(guard_log, encoding="utf-8", errors="replace") as f:
            for line in f:
                fail("INV-2 running slot untouched", line.strip())
    for name, c in base_c.items():
        idx = 0 if c.get("active") == "A" else 1
        rel = os.path.relpath(slots[name][idx], dev)
        with open(os.path.join(base, "dev", rel), "rb") as f:
            want = f.read()
        try:
            with open(slots[name][idx], "rb") as f:
                got = f.read()
        except OSError as e:
            got = repr(e).encode()
        if got != want:
            fail("INV-2 running slot untouched", f"{name}: slot {c.get('active')} ({rel}) changed")

    # INV-8: no temporary files left behind
    left = sorted(os.path.relpath(p, dev) for p in glob.glob(os.path.join(dev, "**", "*.tmp.*"), recursive=True))
    if left:
        fail("INV-8 no leftovers", "after the reboot: " + " ".join(left))

    for line in fails:
        print(line)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
