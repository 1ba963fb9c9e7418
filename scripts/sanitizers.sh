#!/usr/bin/env bash
# The sanitizer stages of scripts/test.sh, each in a build directory of its own that builds
# only what it runs (cmake/MeasureSanitizers.cmake says why preloading tests are not among
# them):
#   build-asan  AddressSanitizer + UndefinedBehaviorSanitizer: the in-process tests of the
#               analysis library (capture reader and writer, symbolizer, reports, diffs,
#               the heaptrack importer, the fuzz corpus) and of the runtime (its tables, the
#               sampler, the CFI reader), then the instrumented `measure`
#               reporting and diffing a capture the normal build recorded.
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

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# (Not unwind_test: it compares walks with glibc's backtrace(), which the sanitizer runtime
# intercepts, so the frames it returns are not the program's alone; the normal build runs it.)
asan_tests=(record_test threads_test runtime_test stacks_test capture_format_test symbolizer_test
            report_test report_formats_test diff_test import_test fuzz_corpus_test capture_symbols_test
            runtime_stress_test)
build_variant build-asan address,undefined measure_cli "${asan_tests[@]}"
run_tests build-asan "${asan_tests[@]}"

# The instrumented command on a real capture: every report format, a diff, bad input.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build/bin/measure run -q -o "$work/a.msr" -- build/tests/fixtures/alloc_threads >/dev/null
build/bin/measure run -q -o "$work/b.msr" -- build/tests/fixtures/alloc_cpp >/dev/null
tool=build-asan/bin/measure
for format in text json csv markdown folded svg pprof timeline-svg; do
  "$tool" report "$work/a.msr" --format "$format" --top 0 >"$work/out" 2>"$work/err" ||
    { cat "$work/err"; echo "sanitizers: measure report --format $format failed"; exit 1; }
done
for by in stack function line file module scope; do
  "$tool" report "$work/a.msr" --by "$by" >/dev/null
done
"$tool" diff "$work/a.msr" "$work/b.msr" --format json >/dev/null
"$tool" diff "$work/a.msr" "$work/b.msr" >/dev/null
status=0
"$tool" report "$work/missing.msr" 2>/dev/null || status=$?
[ "$status" = 2 ] || { echo "sanitizers: a missing capture gave status $status, not 2"; exit 1; }
echo "sanitizers: the AddressSanitizer+UBSan build of measure reported and diffed real captures cleanly"

export TSAN_OPTIONS=halt_on_error=1
build_variant build-tsan thread runtime_stress_test
run_tests build-tsan runtime_stress_test
