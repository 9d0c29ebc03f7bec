#!/usr/bin/env bash
# The whole test suite: installs dependencies, then builds and runs every
# test (unit, end-to-end, rule fixtures) twice — a normal build with
# warnings as errors, and an AddressSanitizer + UndefinedBehaviorSanitizer
# build (slow end-to-end tests and the 60-second libFuzzer run, tests/fuzz,
# run in the normal build only).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
QLOOP_BROWSER_TESTS=1 bash "$root/tests/install-deps.sh"
jobs=$(nproc 2>/dev/null || echo 2)

echo "== normal build (-Werror) =="
cmake -S "$root" -B "$root/build-test" -DQLOOP_WERROR=ON -DQLOOP_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build-test" -j"$jobs"
(cd "$root/build-test" && ctest --output-on-failure -j"$jobs" --timeout 600)

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
cmake -S "$root" -B "$root/build-asan" -DQLOOP_WERROR=ON -DQLOOP_SANITIZE=ON -DQLOOP_SLOW_TESTS=OFF \
      -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$root/build-asan" -j"$jobs"
(cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j"$jobs" --timeout 900)
