#!/usr/bin/env bash
# The sanitizer stages of scripts/test.sh, each in a build directory of its own that builds
# only what it runs (cmake/MeasureSanitizers.cmake says why preloading tests are not among
# them):
#   build-tsan  ThreadSanitizer: the runtime's concurrent structures (runtime_stress_test).
# Any finding fails the stage. Needs the normal build in build/ (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# Configures $1 with sanitizers $2 (once) and builds the targets that follow.
build_variant() {
  local dir=$1 sanitize=$2
  shift 2
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEASURE_SANITIZE="$sanitize" >/dev/null
  fi
  cmake --build "$dir" --target "$@"
}

# Runs exactly the named tests of build directory $1.
run_tests() {
  local dir=$1
  shift
  local names
  names=$(IFS='|'; echo "$*")
  (cd "$dir" && ctest --output-on-failure --timeout 600 -R "^($names)\$")
}

export TSAN_OPTIONS=halt_on_error=1
build_variant build-tsan thread runtime_stress_test
run_tests build-tsan runtime_stress_test
