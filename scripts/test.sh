#!/usr/bin/env bash
# Installs what is missing, builds measure and its tests, and runs the whole test suite; then
# the style and static checks (scripts/lint.sh: clang-format, clang-tidy, a Clang -Werror
# build), the sanitizer stages (scripts/sanitizers.sh: AddressSanitizer+UBSan,
# ThreadSanitizer) and the fuzzing stage (scripts/fuzz.sh: every libFuzzer target for a minute
# under ASan+UBSan). Arguments go to ctest; TEST_LINT=0 skips the lint stage,
# TEST_SANITIZERS=0 the sanitizer stages, TEST_FUZZ=0 the fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
(cd build && ctest --output-on-failure --timeout 600 "$@")
if [ "${TEST_LINT:-1}" != 0 ]; then
  bash scripts/lint.sh
fi
if [ "${TEST_SANITIZERS:-1}" != 0 ]; then
  bash scripts/sanitizers.sh
fi
if [ "${TEST_FUZZ:-1}" != 0 ]; then
  bash scripts/fuzz.sh
fi
