#!/usr/bin/env bash
# install.sh — the set-up of the browser test (ctest fixture browser_deps):
# puppeteer-core exactly as package-lock.json pins it, installed with
# `npm ci` into the build folder (never into the source tree). puppeteer-core
# downloads no browser: the test drives Debian's chromium.
set -euo pipefail
: "${QLOOP_SOURCE_DIR:?}" "${QLOOP_BUILD_DIR:?}"
dir="$QLOOP_BUILD_DIR/browser"
mkdir -p "$dir"
src="$QLOOP_SOURCE_DIR/tests/browser"
if [ -d "$dir/node_modules/puppeteer-core" ] && cmp -s "$src/package-lock.json" "$dir/package-lock.json"; then
    echo "puppeteer-core already installed from this lock file"
    exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dir/"
cd "$dir"
timeout 540 npm ci --no-audit --no-fund --loglevel=error
test -f node_modules/puppeteer-core/package.json
echo "installed puppeteer-core $(node -p 'require("./node_modules/puppeteer-core/package.json").version')"
