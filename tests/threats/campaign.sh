#!/usr/bin/env bash
# The long campaigns of the threat suite (THREATS.md section 4), one command:
#   1. C6/T1 bit flips, locally: FLIPS seeds each on a signed envelope with an integrated
#      payload and on a detached payload, 1-3 random bits flipped, `secup-agent install`;
#      every modification must be refused (exit 1-3, never a crash or an install) and
#      recorded as the last result, with the device state checked every 500 seeds;
#   2. C6 and the other network rows online: tests/threats/test_network.sh with SEEDS seeds
#      per target (manifests, payloads, commands) through the attacker proxy.
#   3. F6 random I/O errors (--fiu N): tests/threats/test_fiu.sh with N runs, each an agent
#      cycle under libfiu followed by a fault-free one;
#   4. F4 chained power cuts (--chains N): tests/powercut/sweep.sh in mode "chained", N
#      chains of 5 random cuts per scenario.
# A step given 0 is skipped and its figures are kept.
# The figures go to tests/threats/figures.txt and docs/threat-tests.md (tools/threat-table.py).
# Usage: tests/threats/campaign.sh [--build DIR] [--flips N] [--seeds M] [--fiu R] [--chains C]
#   defaults: build/dev, 10000 flips, 200 seeds, 0 fiu runs (50000 for the campaign of
#   THREATS.md section 4), 0 chains (about 170 per scenario: 1,000 in all)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/build/dev
FLIPS=10000
SEEDS=200
FIU=0
CHAINS=0
while [ $# -gt 0 ]; do
    case "$1" in
        --build) B=$(realpath "$2"); shift 2 ;;
        --flips) FLIPS=$2; shift 2 ;;
        --seeds) SEEDS=$2; shift 2 ;;
        --fiu) FIU=$2; shift 2 ;;
        --chains) CHAINS=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "campaign: unknown option '$1'" >&2; exit 2 ;;
    esac
done
AG=$B/programs/agent/secup-agent
A=$B/programs/author/secup-author
for t in "$AG" "$A" "$B/programs/server/secup-server" "$B/tests/integration/sign_command"; do
    [ -x "$t" ] || { echo "campaign: $t is not built (cmake --build --preset dev)" >&2; exit 2; }
done
work=$(mktemp -d /tmp/secup-campaign.XXXXXX)
trap 'rm -rf "$work"' EXIT
FIG=$ROOT/tests/threats/figures.txt
stamp=$(date -u +%Y-%m-%d)
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")

figs=()   # new figure lines
keys=()   # the old lines they replace (regular expressions)
st=0
# ---- 1. local bit flips ----
cd "$work"
if [ "$FLIPS" -gt 0 ]; then
"$A" keygen --alg esp256 --out author.pem >/dev/null
mkdir -p slots state
cat > dev.json <<JSON
{ "device": { "id": "cam-1", "vendor-domain": "example.com", "class": "cam-v2" },
  "state-dir": "state", "bootloader": { "type": "statefile", "path": "state/boot" },
  "health-check": { "command": ["/bin/true"], "timeout": 10 },
  "components": [ { "name": "firmware", "slots": ["slots/a", "slots/b"], "slot-size": 65536 } ],
  "trust": [ { "name": "release", "key": "author.pub.pem" } ] }
JSON
head -c 4000 /dev/urandom > fw1.bin
"$A" create -q --key author.pem --image fw1.bin --seq 1 --vendor-domain example.com --class cam-v2 --integrate --out v1.suit
"$AG" --config dev.json install v1.suit >/dev/null && "$AG" --config dev.json boot >/dev/null
head -c 4000 /dev/urandom > fw2.bin
"$A" create -q --key author.pem --image fw2.bin --seq 2 --vendor-domain example.com --class cam-v2 --integrate --out v2.suit
"$A" create -q --key author.pem --image fw2.bin --seq 2 --vendor-domain example.com --class cam-v2 --uri https://x/fw2 --out v2d.suit
cp -a state state.base
cp -a slots slots.base
echo "campaign: $FLIPS bit-flip seeds on an envelope and on a payload (secup-agent install)"
result=$(/usr/bin/python3 - "$AG" "$FLIPS" <<'PY'
import hashlib, json, os, random, shutil, subprocess, sys
ag, n = sys.argv[1], int(sys.argv[2])
def flip(data, seed):
    rnd = random.Random(seed)
    b = bytearray(data)
    for _ in range(rnd.randint(1, 3)):
        i = rnd.randrange(len(b) * 8)
        b[i // 8] ^= 1 << (i % 8)
    return bytes(b)
def status():
    out = subprocess.run([ag, "--config", "dev.json", "status", "--json"], capture_output=True, text=True)
    d = json.loads(out.stdout)
    c = d["components"][0]
    return c["running-seq"], c["trial"], c["floors"], d["safe-mode"]
def reset():
    for d in ("state", "slots"):
        shutil.rmtree(d)
        shutil.copytree(d + ".base", d)
base = status()
running_slot = "slots/" + ("a" if json.loads(subprocess.run([ag, "--config", "dev.json", "status", "--json"],
    capture_output=True, text=True).stdout)["components"][0]["active"] == "A" else "b")
slot_sum = hashlib.sha256(open(running_slot, "rb").read()).hexdigest()
env = open("v2.suit", "rb").read()
pay = open("fw2.bin", "rb").read()
res = {"env": [0, 0, 0], "pay": [0, 0, 0], "codes": {}, "accepted": [], "inv": 0}
for seed in range(1, n + 1):
    for kind in ("env", "pay"):
        if kind == "env":
            open("f.suit", "wb").write(flip(env, seed))
            args = [ag, "--config", "dev.json", "install", "f.suit"]
        else:
            open("f.bin", "wb").write(flip(pay, seed))
            args = [ag, "--config", "dev.json", "install", "v2d.suit", "--payload", "f.bin"]
        p = subprocess.run(args, capture_output=True, text=True, errors="replace")
        if "could not record" in p.stderr:  # INV-5: the refusal must be the recorded result
            res["unrecorded"] = res.get("unrecorded", 0) + 1
        if "\ufffd" in p.stderr or any(ord(ch) < 32 and ch not in "\n\t" for ch in p.stderr):
            res["raw"] = res.get("raw", 0) + 1
            res.setdefault("raw_example", p.stderr.strip()[-160:])
        if p.returncode == 0:
            res[kind][1] += 1
            res["accepted"].append("%s:%d" % (kind, seed))
            reset()
        elif p.returncode >= 128 or p.returncode < 0:
            res[kind][2] += 1
        else:
            res[kind][0] += 1
            code = p.stderr[p.stderr.rfind("[") + 1: p.stderr.rfind("]")] if "[" in p.stderr else "?"
            res["codes"][code] = res["codes"].get(code, 0) + 1
    if seed % 500 == 0 or seed == n:
        if status() != base or hashlib.sha256(open(running_slot, "rb").read()).hexdigest() != slot_sum:
            res["inv"] += 1
            reset()
print(json.dumps(res))
PY
)
echo "$result"
summary=$(/usr/bin/python3 -c "
import json, sys
r = json.loads(sys.argv[1])
codes = ', '.join('%s %d' % kv for kv in sorted(r['codes'].items(), key=lambda kv: -kv[1]))
print('%s (%s): %d envelope and %d payload bit-flip seeds (1-3 bits): refused %d + %d, installed %d + %d, crashed %d + %d, invariant breaks %d; codes: %s%s' % (
    sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[4]), r['env'][0], r['pay'][0], r['env'][1], r['pay'][1],
    r['env'][2], r['pay'][2], r['inv'], codes, ('; accepted: ' + ' '.join(r['accepted'][:10])) if r['accepted'] else '')
    + ('; messages quoting raw input bytes: %d' % r['raw'] if r.get('raw') else '')
    + ('; refusals not recorded in the state: %d' % r['unrecorded'] if r.get('unrecorded') else ''))
" "$result" "$stamp" "$rev" "$FLIPS")
echo "campaign: $summary"
figs+=("C6 | $summary")
keys+=("C6 .*bit-flip seeds")
fi

# ---- 2. online, through the attacker proxy ----
if [ "$SEEDS" -gt 0 ]; then
echo "campaign: tests/threats/test_network.sh with $SEEDS seeds per target"
set +e
out=$("$ROOT/tests/threats/test_network.sh" "$AG" "$A" "$B/programs/server/secup-server" \
    "$B/tests/integration/sign_command" "$SEEDS" 2>&1)
st=$?
set -e
line=$(tail -1 <<<"$out")
echo "campaign: $line"
[ $st -eq 0 ] || grep FAIL <<<"$out" | head -20
figs+=("C6 | $stamp ($rev): online through the proxy, $SEEDS seeds each on manifests, payloads and commands: $line")
keys+=("C6 .*online through the proxy")
fi

# ---- 3. F6 random I/O errors ----
if [ "$FIU" -gt 0 ]; then
echo "campaign: tests/threats/test_fiu.sh with $FIU runs"
set +e
out=$("$ROOT/tests/threats/test_fiu.sh" "$AG" "$A" "$FIU" 2>&1)
s3=$?
set -e
[ $s3 -eq 0 ] || { grep -A3 FAIL <<<"$out" | head -40; st=1; }
line=$(grep '^fiu figures:' <<<"$out" | sed 's/^fiu figures: //')
echo "campaign: $line; $(tail -1 <<<"$out")"
figs+=("F6 | $stamp ($rev): $line; $(tail -1 <<<"$out")")
keys+=("F6 ")
fi

# ---- 4. F4 chained power cuts ----
if [ "$CHAINS" -gt 0 ]; then
echo "campaign: tests/powercut/sweep.sh, $CHAINS chains of 5 random cuts per scenario"
set +e
out=$(SWEEP_MODES=chained SWEEP_CHAINS=$CHAINS "$ROOT/tests/powercut/sweep.sh" "$AG" "$A" \
    "$B/tests/powercut/libsecup_cutter.so" 2>&1)
s4=$?
set -e
[ $s4 -eq 0 ] || { grep -A3 FAIL <<<"$out" | head -40; st=1; }
line=$(tail -1 <<<"$out")
echo "campaign: $line"
figs+=("F4 | $stamp ($rev): 6 scenarios (firmware, failing health check, bundles, boot-attempts 1, dependency), each power-up + install + boot cut at a random call in a random mode (before, torn, unsynced), 5 cuts in a row: $line")
keys+=("F4 ")
fi

# ---- the figures ----
{
    drop=$(printf '%s\n' "${keys[@]}" | paste -sd'|')
    grep -v '^#' "$FIG" 2>/dev/null | grep -Ev "^(${drop:-NONE})" || true
    printf '%s\n' "${figs[@]}"
} > "$work/figures"
{
    echo "# Figures of tests/threats/campaign.sh (ROW | text); read by tools/threat-table.py."
    sort "$work/figures"
} > "$FIG"
"$ROOT/tools/threat-table.py"
echo "campaign: figures written to tests/threats/figures.txt and docs/threat-tests.md"
[ $st -eq 0 ]
