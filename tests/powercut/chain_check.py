#!/usr/bin/env python3
"""Checks over one chain of random power cuts (tests/powercut/sweep.sh, mode "chained";
THREATS.md F4). One line per violation on stdout, "LABEL: detail"; exit 1 if there is any.

Arguments: updated=a,b new=SEQ health=ok|bad, then the statuses (`secup-agent status
--json`) in order: the baseline, the one after each cut, the one after the final boots.
  - floors never go down from one status to the next (INV-3 across the whole chain);
  - once every updated component runs the new release confirmed (no trial), every later
    status shows it so (a confirmed image stays);
  - with a failing health check the new release is never confirmed (an unconfirmed image
    reverts);
  - after the final boots no component is on trial and the device is not in safe mode.
"""
import json
import sys

# THREAT: F4


def main():
    a = dict(arg.split("=", 1) for arg in sys.argv[1:] if "=" in arg)
    files = [f for f in sys.argv[1:] if "=" not in f]
    updated = [c for c in a["updated"].split(",") if c]
    new = int(a["new"])
    fails = []
    sts = []
    for f in files:
        try:
            with open(f, encoding="utf-8") as fh:
                sts.append((f, {c["name"]: c for c in json.load(fh)["components"]}, json.load(open(f))))
        except (OSError, ValueError, KeyError) as e:
            fails.append(f"F4 status: {f} unreadable: {e}")
    prev = None
    confirmed_at = None
    for i, (f, comps, whole) in enumerate(sts):
        label = "the baseline" if i == 0 else ("the final boots" if i == len(sts) - 1 else f"cut {i}")
        if prev is not None:
            for name, c in comps.items():
                for anchor, fl in prev[name].get("floors", {}).items():
                    now = c.get("floors", {}).get(anchor, 0)
                    if now < fl:
                        fails.append(f"INV-3 floors: {name}: floor of '{anchor}' {fl} went down to {now} after {label}")
        conf = all(comps[n].get("running-seq") == new and comps[n].get("trial") is None for n in updated)
        if conf and a["health"] == "bad":
            fails.append(f"F4 unconfirmed reverts: the new release {new} is confirmed after {label} although its health check fails")
        if confirmed_at is not None and not conf:
            fails.append(f"F4 confirmed stays: confirmed after {confirmed_at}, but after {label}: " +
                         ", ".join(f"{n} runs {comps[n].get('running-seq')} trial {comps[n].get('trial')}" for n in updated))
        if conf and confirmed_at is None:
            confirmed_at = label
        prev = comps
    if sts:
        f, comps, whole = sts[-1]
        if whole.get("safe-mode"):
            fails.append(f"F4 never bricked: safe mode after the final boots: {whole.get('safe-reason')}")
        for n, c in comps.items():
            if c.get("trial") is not None:
                fails.append(f"F4 settled: {n} is still on trial after the final boots")
    for line in fails:
        print(line)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
