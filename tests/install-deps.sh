#!/usr/bin/env bash
# Installs what qloop needs to build, test and run on Debian (as root).
# On CI (CI=true) it always refreshes the package lists first; elsewhere it
# only calls apt-get when a package is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config liblua5.4-dev libpcre2-dev libsqlite3-dev libjansson-dev
      libcmocka-dev libxlsxwriter-dev libsodium-dev sqlite3 python3 util-linux jq unzip time
      libyajl-dev libminizip-dev libexpat1-dev unixodbc-dev unixodbc
      libmicrohttpd-dev curl openssl
      clang libclang-rt-14-dev)   # libFuzzer (tests/fuzz): its runtime is only a recommendation of clang
# The database tests (tests/db, normal build): real servers and their ODBC drivers.
pkgs+=(postgresql mariadb-server mariadb-client odbc-postgresql odbc-mariadb)
# Dask: the engine of the partitioned-run test (tests/e2e/slow_dask.sh, normal build).
pkgs+=(python3-distributed)
if [ "${QLOOP_BROWSER_TESTS:-}" = 1 ]; then
    pkgs+=(chromium poppler-utils fonts-noto-cjk)
    # the portal's browser test: node and npm (Debian's, unless a node is already there)
    command -v node >/dev/null || pkgs+=(nodejs)
    command -v npm >/dev/null || pkgs+=(npm)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${CI:-}" = true ] || [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
