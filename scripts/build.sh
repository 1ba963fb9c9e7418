#!/usr/bin/env bash
# Configures and builds measure in ./build (Ninja, RelWithDebInfo). Extra arguments are
# passed to `cmake --build` (for example `--target measure_cli`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja >/dev/null
fi
cmake --build build "$@"
