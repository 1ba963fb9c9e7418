#!/usr/bin/env bash
# Installs what is missing, builds measure and its tests, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
cd build
ctest --output-on-failure --timeout 600 "$@"
