#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests: initdb into DIR/data, a server that listens
# only on a unix socket (no TCP), trust authentication, fsync off. Never for real data.
#
#   pg-cluster.sh start DIR          start a fresh cluster (wiping one left in DIR) and
#                                    print its URL, also written to DIR/url
#   pg-cluster.sh stop DIR           stop it and delete its data (a no-op if none runs)
#   pg-cluster.sh exec DIR CMD...    run CMD with SECUP_TEST_PG_URL set to DIR's URL
#
# The cluster's files are in DIR (or, when root and the server's user cannot reach DIR,
# in a directory under /tmp that stop removes). The server binaries are looked up in $PG_BINDIR, then /usr/lib/postgresql/<newest>/bin
# (Debian), then PATH; scripts/deps --test installs them (package postgresql). Started
# as root (CI), the server runs as the user "postgres" (or "nobody"), because postgres
# refuses to run as root; DIR is handed to that user.
set -euo pipefail

prog=pg-cluster
die() {
    echo "$prog: $*" >&2
    exit 1
}
usage() { die "usage: $0 start DIR | stop DIR | exec DIR CMD [ARG...]"; }

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
shift 2

DBNAME=secup_test
DBUSER=secup

find_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        [ -x "$PG_BINDIR/initdb" ] || die "PG_BINDIR=$PG_BINDIR has no initdb"
        echo "$PG_BINDIR"
        return
    fi
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return
        fi
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    die "no PostgreSQL server binaries (initdb, pg_ctl) found; install package postgresql (scripts/deps --test)"
}

# as_pg CMD...: runs CMD as the unprivileged user that owns the cluster.
if [ "$(id -u)" = 0 ]; then
    pg_user=${PG_CLUSTER_USER:-postgres}
    getent passwd "$pg_user" >/dev/null || pg_user=nobody
    pg_group=$(id -gn "$pg_user")
    as_pg() {
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$pg_user" -- "$@"
        else
            setpriv --reuid="$pg_user" --regid="$pg_group" --init-groups -- "$@"
        fi
    }
else
    pg_user=$(id -un)
    as_pg() { "$@"; }
fi

# The cluster lives in its home: DIR itself, or (when the unprivileged user cannot
# reach DIR, say a checkout under /root) a directory under /tmp named in DIR/home.
home_of() { # DIR (absolute)
    if [ -f "$1/home" ]; then cat "$1/home"; else echo "$1"; fi
}

stop_cluster() { # DIR (absolute)
    local d=$1 h
    h=$(home_of "$d")
    if [ -f "$h/data/postmaster.pid" ]; then
        local pid bindir
        pid=$(head -n 1 "$h/data/postmaster.pid" 2>/dev/null || true)
        if bindir=$(find_bindir 2>/dev/null) &&
            as_pg "$bindir/pg_ctl" -D "$h/data" -m immediate -w -t 30 stop >/dev/null 2>&1; then
            :
        elif [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            # pg_ctl is gone or failed: end the postmaster this script started.
            kill -QUIT "$pid" 2>/dev/null || true
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
        fi
    fi
    local t
    for t in "$h" "$(cat "$d/sockdir" 2>/dev/null || true)"; do
        case $t in /tmp/secup-pg.*) rm -rf -- "$t" ;; esac
    done
    rm -rf -- "$d/data" "$d/s" "$d/server.log" "$d/home" "$d/sockdir" "$d/url"
}

case $cmd in
start)
    bindir=$(find_bindir)
    mkdir -p -- "$dir"
    dir=$(cd -- "$dir" && pwd)
    stop_cluster "$dir"

    home=$dir
    if [ "$(id -u)" = 0 ]; then
        chown "$pg_user:$pg_group" "$dir"
        if ! as_pg test -w "$dir" -a -x "$dir"; then
            home=$(mktemp -d /tmp/secup-pg.XXXXXX)
            chown "$pg_user:$pg_group" "$home"
            echo "$home" >"$dir/home"
        fi
    fi
    # The socket path must fit sockaddr_un (108 bytes) and a libpq URL; otherwise it
    # goes to a short directory under /tmp.
    sock=$home/s
    if [ $((${#sock} + 20)) -gt 100 ] || [[ ! $sock =~ ^[A-Za-z0-9/._+-]+$ ]]; then
        sock=$(mktemp -d /tmp/secup-pg.XXXXXX)
        echo "$sock" >"$dir/sockdir"
    else
        mkdir -p -- "$sock"
    fi
    [ "$(id -u)" != 0 ] || chown "$pg_user:$pg_group" "$sock"

    if ! as_pg "$bindir/initdb" -D "$home/data" -U "$DBUSER" --auth=trust -E UTF8 \
        --locale=C --no-sync --no-instructions >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        die "initdb into $home/data failed"
    fi
    sock_q=${sock//\'/\'\'}
    cat >>"$home/data/postgresql.conf" <<EOF

# pg-cluster.sh: a throw-away test cluster.
listen_addresses = ''
unix_socket_directories = '$sock_q'
fsync = off
full_page_writes = off
synchronous_commit = off
max_connections = 64
shared_buffers = 16MB
EOF
    if ! as_pg "$bindir/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 60 \
        start >/dev/null 2>&1; then
        cat "$home/server.log" >&2 || true
        stop_cluster "$dir"
        die "the server in $home/data did not start"
    fi
    if ! as_pg "$bindir/createdb" -h "$sock" -U "$DBUSER" "$DBNAME" >&2; then
        stop_cluster "$dir"
        die "cannot create database $DBNAME"
    fi
    url="postgresql:///$DBNAME?host=$sock&user=$DBUSER"
    echo "$url" >"$dir/url"
    echo "$url"
    ;;
stop)
    [ -d "$dir" ] || exit 0
    dir=$(cd -- "$dir" && pwd)
    stop_cluster "$dir"
    ;;
exec)
    [ $# -ge 1 ] || usage
    [ -f "$dir/url" ] || die "no cluster runs in $dir (run '$0 start $dir' first)"
    SECUP_TEST_PG_URL=$(cat "$dir/url")
    export SECUP_TEST_PG_URL
    exec "$@"
    ;;
*) usage ;;
esac
