#!/usr/bin/env bash
# The style and static checks CI enforces, in one place:
#   1. clang-format (.clang-format) over every C and C++ source of the repository: any
#      difference fails (run `git ls-files '*.c' '*.cpp' '*.h' '*.hpp' | xargs clang-format -i`
#      to fix it);
#   2. clang-tidy (.clang-tidy, its warnings are errors) over every compiled source of
#      libmeasure/, hooks/ and tools/, from the normal build's compile_commands.json;
#   3. a Clang build of everything with warnings as errors (build-clang/), beside the GCC one.
# Needs the normal build in build/ (scripts/build.sh), which it makes when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

echo "lint: clang-format"
git ls-files -z '*.c' '*.cpp' '*.h' '*.hpp' | xargs -0 clang-format --dry-run -Werror

echo "lint: clang-tidy"
if [ ! -f build/compile_commands.json ]; then
  bash scripts/build.sh
fi
run-clang-tidy -p build -j "$(nproc)" -quiet "$PWD/(libmeasure|hooks|tools)/" > build/clang-tidy.log 2>&1 || {
  grep -E "(warning|error):" build/clang-tidy.log | sort -u >&2
  echo "lint: clang-tidy found the problems above (full output: build/clang-tidy.log)" >&2
  exit 1
}

echo "lint: Clang build, warnings as errors"
if [ ! -f build-clang/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-clang -G Ninja -DMEASURE_WARNINGS_AS_ERRORS=ON >/dev/null
fi
cmake --build build-clang
echo "lint: clean"
