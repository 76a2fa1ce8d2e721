#!/usr/bin/env bash
# README's second command: installs what is missing, builds with warnings as
# errors and runs every test. Arguments are passed to ctest (e.g. -R unit).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTELPRELOAD_WERROR=ON -DOTELPRELOAD_TESTS=ON
cmake --build build -j2
# A test without its own TIMEOUT property gets 300 s, not ctest's 1500 s,
# so one hung test cannot eat CI's whole time budget.
exec ctest --test-dir build --output-on-failure --timeout 300 "$@"
