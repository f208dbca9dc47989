#!/usr/bin/python3
"""Writes docs/threat-tests.md: every row of THREATS.md section 3 -> the tests that cover
it -> its status, so that the table cannot drift from the tests.

Sources:
  tests/threats/rows.txt     the rows, their status (tested, partial, open, n/a) and notes
  markers in test sources    a comment `THREAT: T2 F9` (in tests/ and fuzz/) beside the
                             checks that cover those rows, with the row's pass criterion
  tests/threats/figures.txt  figures of the long campaigns (tests/threats/campaign.sh):
                             `ROW | text` lines
  CMakeLists.txt files       which ctest runs each marked file

Usage: tools/threat-table.py            rewrite docs/threat-tests.md
       tools/threat-table.py --check    fail (exit 1) when the committed table differs from
                                        what would be written, when a tested or partial row
                                        has no marked test, or when an open or n/a row, or
                                        a row that does not exist, is marked
"""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
ROWS = os.path.join(ROOT, "tests", "threats", "rows.txt")
FIGURES = os.path.join(ROOT, "tests", "threats", "figures.txt")
OUT = os.path.join(ROOT, "docs", "threat-tests.md")
SCAN = ("tests", "fuzz")
EXTS = (".sh", ".c", ".py")
MARK = re.compile(r"THREAT:((?:\s+[TUCFPS][0-9]{1,2}\b)+)")
STATUSES = ("tested", "partial", "open", "n/a")
SECTIONS = {"T": "TUF attacks", "U": "Uptane additions", "C": "SUIT threats",
            "F": "Faults and reliability", "P": "Malformed inputs per parser",
            "S": "Server, tracker and command security"}


def read_rows(problems):
    rows = []
    with open(ROWS, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.rstrip("\n").split("|")]
            if len(parts) != 4 or parts[1] not in STATUSES:
                problems.append("rows.txt:%d: want 'ID | %s | TITLE | NOTE'" % (n, "/".join(STATUSES)))
                continue
            rid, status, title, note = parts
            if status != "tested" and not note:
                problems.append("rows.txt:%d: %s needs a note (%s)" % (n, rid, status))
            rows.append({"id": rid, "status": status, "title": title, "note": note})
    return rows


def ctest_names():
    """file basename -> ctest names, from every add_test() and secup_add_test()."""
    names = {}
    for d, _, files in os.walk(ROOT):
        if "/build" in d[len(ROOT):] or "/." in d[len(ROOT):]:
            continue
        if "CMakeLists.txt" not in files:
            continue
        text = open(os.path.join(d, "CMakeLists.txt"), encoding="utf-8").read()
        for m in re.finditer(r"\badd_test\(\s*NAME\s+(\S+)(.*?)\)", text, re.S):
            for f in re.findall(r"([\w.-]+\.(?:sh|py|c))\b", m.group(2)):
                names.setdefault(f, []).append(m.group(1))
        for m in re.finditer(r"secup_add_test\(\s*(\S+)\s+SOURCES\s+([\w.-]+\.c)", text):
            names.setdefault(m.group(2), []).append(m.group(1))
    return names


def test_label(path, names):
    base = os.path.basename(path)
    if path.startswith("fuzz/") and base.endswith("_fuzz.c"):
        return ["fuzz_replay_" + base[: -len("_fuzz.c")]]
    if path.startswith("tests/unit/") and base.startswith("test_") and base.endswith(".c"):
        return names.get(base, [base[:-2]])
    return names.get(base, [])


def scan_markers():
    found = {}  # row -> {path: count}
    for top in SCAN:
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = sorted(x for x in dirs if x not in ("corpus", "crashes"))
            for f in sorted(files):
                if not f.endswith(EXTS):
                    continue
                path = os.path.join(d, f)
                rel = os.path.relpath(path, ROOT)
                try:
                    text = open(path, encoding="utf-8", errors="replace").read()
                except OSError:
                    continue
                for m in MARK.finditer(text):
                    for rid in m.group(1).split():
                        found.setdefault(rid, {})
                        found[rid][rel] = found[rid].get(rel, 0) + 1
    return found


def read_figures():
    figs = {}
    if os.path.exists(FIGURES):
        for line in open(FIGURES, encoding="utf-8"):
            if "|" in line and not line.startswith("#"):
                rid, text = (p.strip() for p in line.split("|", 1))
                figs.setdefault(rid, []).append(text)
    return figs


def esc(s):
    return s.replace("|", "\\|")


def render(rows, found, figs, names):
    count = {s: 0 for s in STATUSES}
    for r in rows:
        count[r["status"]] += 1
    out = ["# Threat and fault tests",
           "",
           "Generated by `tools/threat-table.py` from `tests/threats/rows.txt` and the "
           "`THREAT:` markers in the test sources; `tools/threat-table.py --check` (ctest "
           "`lint_threat_table`, `scripts/test`) fails when this file is out of date or a "
           "row marked tested or partial has no test. Do not edit by hand.",
           "",
           "Rows are those of THREATS.md section 3 (`../shared/THREATS.md`); after each attack "
           "the tests under `tests/threats/` also check the invariants of its section 2 "
           "(running image and slot untouched, floors and trust anchors unchanged, the error "
           "code in the log and the next status report, no temporary files, the download "
           "bounded, and a fault-free rerun installs). The attacker proxy is "
           "`tests/threats/mitm.py`. Run them with `ctest --preset dev -L threats -j2` (21 tests, "
           "about eight minutes of test time, four to five on two cores; the power-cut "
           "sweeps are `-L powercut`); the long campaigns with `tests/threats/campaign.sh`, "
           "which writes its figures into the notes below.",
           "",
           "Status: **tested** - the marked tests check the row's pass criterion; **partial** - "
           "they check part of it, the note says what is missing; **open** - applicable, no "
           "test yet; **n/a** - secup has no such feature.",
           "",
           "| | rows |",
           "|---|---|"]
    for s in STATUSES:
        out.append("| %s | %d |" % (s, count[s]))
    out.append("| total | %d |" % len(rows))
    section = None
    for r in rows:
        if r["id"][0] != section:
            section = r["id"][0]
            out += ["", "## %s (%s)" % (SECTIONS.get(section, section), section), "",
                    "| Row | Threat or fault | Status | Tests (ctest) | Note |",
                    "|---|---|---|---|---|"]
        tests = []
        for path in sorted(found.get(r["id"], {})):
            label = test_label(path, names)
            tests.append("`%s`%s" % (path, " (%s)" % ", ".join(label) if label else ""))
        note = r["note"]
        for fig in figs.get(r["id"], []):
            note = (note + "; " if note else "") + "campaign: " + fig
        out.append("| %s | %s | %s | %s | %s |" % (r["id"], esc(r["title"]), r["status"],
                                                   "<br>".join(tests) or "-", esc(note) or "-"))
    return "\n".join(out) + "\n"


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] and not check:
        print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
        return 2
    problems = []
    rows = read_rows(problems)
    found = scan_markers()
    ids = {r["id"] for r in rows}
    for r in rows:
        marked = bool(found.get(r["id"]))
        if r["status"] in ("tested", "partial") and not marked:
            problems.append("%s is %s but no test carries `THREAT: %s`" % (r["id"], r["status"], r["id"]))
        if r["status"] in ("open", "n/a") and marked:
            problems.append("%s is %s but %s mark it: change its status in rows.txt" %
                            (r["id"], r["status"], ", ".join(sorted(found[r["id"]]))))
    for rid in sorted(set(found) - ids):
        problems.append("marker for unknown row %s in %s" % (rid, ", ".join(sorted(found[rid]))))
    text = render(rows, found, read_figures(), ctest_names())
    if check:
        try:
            old = open(OUT, encoding="utf-8").read()
        except FileNotFoundError:
            old = ""
        if old != text:
            problems.append("docs/threat-tests.md is out of date: run tools/threat-table.py")
    else:
        with open(OUT + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(OUT + ".tmp", OUT)
    for p in problems:
        print("threat-table: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
