# shellcheck shell=bash disable=SC2034  # sourced by bench/run-install.sh, which reads these globals
# Helpers shared by bench/run-install.sh and the per-tool files beside this one.
# Sourced, not run. Needs bash (EPOCHREALTIME, arrays, printf -v).

log() { printf 'run-install: %s\n' "$*" >&2; }
die() { printf 'run-install: setup failed: %s\n' "$*" >&2; exit 1; }

# Monotonic enough, and no fork: seconds since the epoch with microseconds.
now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
# min CURRENT NEW -> the smaller (CURRENT may be empty)
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b : a }'; }

# have_pkg NAME: the Debian package is installed.
have_pkg() {
    command -v dpkg-query >/dev/null 2>&1 &&
        dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# need_pkgs PKG...: installs the Debian packages that are missing, with apt-get only.
# Returns nonzero (after saying why in $PKG_WHY) when they cannot be installed.
# SECUP_BENCH_NO_INSTALL=1 never installs.
APT_UPDATED=0
PKG_WHY=
need_pkgs() {
    local missing=() p sudo=
    PKG_WHY=
    for p in "$@"; do have_pkg "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "${SECUP_BENCH_NO_INSTALL:-0}" = 1 ]; then
        PKG_WHY="not installed: ${missing[*]} (SECUP_BENCH_NO_INSTALL=1)"; return 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        PKG_WHY="not installed: ${missing[*]} (no apt-get on this system)"; return 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=sudo
        else PKG_WHY="not installed: ${missing[*]} (not root and no password-less sudo)"; return 1; fi
    fi
    log "installing Debian packages: ${missing[*]}"
    if [ "$APT_UPDATED" = 0 ]; then
        $sudo apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed; trying the install anyway"
        APT_UPDATED=1
    fi
    if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >"$WORK/apt.log" 2>&1; then
        PKG_WHY="apt-get install ${missing[*]} failed: $(tail -n 2 "$WORK/apt.log" | tr '\n' ' ')"
        return 1
    fi
    for p in "${missing[@]}"; do
        have_pkg "$p" || { PKG_WHY="package $p still missing after apt-get install"; return 1; }
    done
}

# Background processes this benchmark started; only these are stopped at exit.
BG_PIDS=()
track_pid() { BG_PIDS+=("$1"); }
stop_tracked() {
    local p i
    for p in "${BG_PIDS[@]:-}"; do
        [ -n "$p" ] && kill -0 "$p" 2>/dev/null && kill "$p" 2>/dev/null
    done
    for p in "${BG_PIDS[@]:-}"; do
        [ -n "$p" ] || continue
        for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
    done
    BG_PIDS=()
    return 0
}

# make_image PATH BYTES: deterministic incompressible bytes (AES-128-CTR keystream).
make_image() {
    head -c "$2" /dev/zero |
        openssl enc -aes-128-ctr -nosalt -K 73656375702d62656e63682d696d6167 \
            -iv 00000000000000000000000000000000 >"$1"
    [ "$(stat -c %s "$1")" = "$2" ]
}

# make_pki DIR: an EC P-256 CA and a code-signing certificate it issued, for RAUC and
# SWUpdate (CMS signatures). DIR/{ca,signer}.{key,cert}.pem
make_pki() {
    local d=$1
    mkdir -p "$d"
    cat >"$d/ext.cnf" <<'CNF'
[signer]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning, emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/O=secup bench/CN=install bench CA" -keyout "$d/ca.key.pem" -out "$d/ca.cert.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        >/dev/null 2>&1 &&
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/O=secup bench/CN=install bench signer" -keyout "$d/signer.key.pem" \
        -out "$d/signer.csr.pem" >/dev/null 2>&1 &&
    openssl x509 -req -in "$d/signer.csr.pem" -CA "$d/ca.cert.pem" -CAkey "$d/ca.key.pem" \
        -CAcreateserial -days 30 -extfile "$d/ext.cnf" -extensions signer \
        -out "$d/signer.cert.pem" >/dev/null 2>&1 &&
    openssl verify -CAfile "$d/ca.cert.pem" "$d/signer.cert.pem" >/dev/null 2>&1
}

# sync_calls OUTFILE CMD...: runs CMD under strace and prints how many fsync-like calls it
# made ("?" without strace). Not timed.
SYNC_TRACE='trace=fsync,fdatasync,sync_file_range,syncfs,sync,msync'
sync_calls() {
    local out=$1; shift
    command -v strace >/dev/null 2>&1 || { echo "?"; return 0; }
    strace -f -qq -e "$SYNC_TRACE" -o "$out" "$@" >/dev/null 2>&1 || true
    count_syncs "$out"
}
count_syncs() { grep -c -E '(fsync|fdatasync|sync_file_range|syncfs|msync|sync)\(' "$1" 2>/dev/null || true; }
