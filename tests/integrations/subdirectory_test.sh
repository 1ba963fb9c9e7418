#!/usr/bin/env bash
# measure as a subdirectory of another CMake project (tests/integrations/subproject): only the
# libraries are built, with no tests or install rules of measure's, and the program linked
# with measure::measure counts its own allocations exactly.
# Usage: subdirectory_test.sh SOURCE_DIR WORK_DIR
set -euo pipefail
source=$1 work=$2
fail() { echo "subdirectory_test: $*" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work"
cmake -S "$source/tests/integrations/subproject" -B "$work" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DMEASURE_SOURCE_DIR="$source" >/dev/null
[ ! -e "$work/measure/tests" ] || fail "measure's tests were configured in a parent project"
! grep -rq --include=cmake_install.cmake 'file(INSTALL' "$work" || fail "measure added install rules to a parent project"
cmake --build "$work" --target consumer >/dev/null
got=$("$work/consumer") || fail "consumer failed: $got"
[ "$got" = "tracing 2 128" ] || fail "consumer printed '$got', expected 'tracing 2 128'"
got=$(MEASURE_MODE=off "$work/consumer") || fail "consumer failed with MEASURE_MODE=off: $got"
[ "$got" = "not tracing" ] || fail "consumer printed '$got' with MEASURE_MODE=off"
echo "subdirectory_test: ok"
