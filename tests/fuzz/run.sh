#!/usr/bin/env bash
# Builds the capture-reader fuzz target with clang (libFuzzer + AddressSanitizer) in
# build-fuzz/ and runs it on a copy of the seed corpus for SECONDS (default 60).
#   tests/fuzz/run.sh [SECONDS] [extra libFuzzer flags...]
# Crashes are written as crash-* files in build-fuzz/; add a minimized one to
# tests/fuzz/corpus/ once fixed, so the corpus test keeps it fixed.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
nice cmake --build build-fuzz --target capture_reader_fuzz
work=build-fuzz/corpus
mkdir -p "$work"
cp -n tests/fuzz/corpus/* "$work"/ 2>/dev/null || true
cd build-fuzz
nice ./bin/capture_reader_fuzz -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  "$@" corpus ../tests/fuzz/corpus
