#!/usr/bin/env bash
# Rules that reviewers should not have to check (STYLE.md sections 2, 6 and 8):
#   - banned calls anywhere in C sources;
#   - vendor headers only in their backend file or folder;
#   - programs never include lib/ internals.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0

c_sources=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*')

banned='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|atof|rand|system|popen|alloca)[[:space:]]*\('
if hits=$(grep -nE "$banned" $c_sources | grep -vE '^\S+:[0-9]+:\s*(/\*|\*|//)'); then
    echo "check-source: banned call:"; echo "$hits"; fail=1
fi

fence() { # pattern allowed-path-regex description
    local hits
    hits=$(grep -nE "#include <$1" $c_sources | grep -vE "^($2)" || true)
    if [ -n "$hits" ]; then
        echo "check-source: $3 included outside its backend:"; echo "$hits"; fail=1
    fi
}
fence 'openssl/' 'lib/crypto/crypto_openssl\.c|bench/|tests/|fuzz/' 'OpenSSL'
fence 'cbor(\.h>|/)' 'lib/cbor/codec_libcbor\.c' 'libcbor'
fence 'microhttpd\.h>' 'programs/common/http/' 'libmicrohttpd'
fence 'gnutls/' 'programs/common/http/httpd_mhd\.c' 'GnuTLS'
fence 'curl/' 'programs/common/http/|programs/agent/fetch_curl\.c' 'libcurl'
fence 'sqlite3\.h>' 'programs/common/db/db_sqlite\.c' 'SQLite'
fence 'libpq-fe\.h>' 'programs/common/db/db_pg\.c' 'libpq'

if hits=$(grep -nE '#include "(\.\./)*lib/|#include "(cbor|crypto|cose|suit|stream|util)/' $(git ls-files 'programs/*.c' 'programs/*.h' 2>/dev/null)); then
    echo "check-source: a program includes libsecup internals:"; echo "$hits"; fail=1
fi

[ "$fail" = 0 ] && echo "check-source: ok"
exit "$fail"
