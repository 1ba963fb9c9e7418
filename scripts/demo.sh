#!/usr/bin/env bash
# Installs what is missing, builds measure, profiles the bundled demo program and prints
# its report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh --target measure_cli measure_preload measure_demo >/dev/null
capture=build/demo.msr
echo "\$ measure run -o $capture -- build/bin/demo"
build/bin/measure run -o "$capture" -- build/bin/demo
echo
echo "\$ measure report $capture"
build/bin/measure report "$capture"
