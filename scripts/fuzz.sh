#!/usr/bin/env bash
# The fuzzing stage of scripts/test.sh: builds the libFuzzer targets of tests/fuzz with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer in build-fuzz/, and runs every target at once
# for FUZZ_SECONDS (default 60) each, starting from its seed corpus in the repository. Any
# finding fails the stage: a crash, a sanitizer report, a leak, an input that takes over 10 s
# (a hang) or over 2 GiB. Its input is left in build-fuzz/findings/TARGET/ and named in the
# output; once the bug is fixed it joins the corpus (tests/fuzz/README.md).
#   scripts/fuzz.sh [TARGET...]      targets: capture_reader heaptrack_import symbolizer
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(capture_reader heaptrack_import symbolizer)
fi
declare -A corpus=([capture_reader]=tests/fuzz/corpus [heaptrack_import]=tests/fuzz/corpus_heaptrack
                   [symbolizer]=tests/fuzz/corpus_symbolizer)

if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMEASURE_SANITIZE=address,undefined -DMEASURE_FUZZ=ON >/dev/null
fi
cmake --build build-fuzz --target "${targets[@]/%/_fuzz}"

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rm -rf build-fuzz/findings
for target in "${targets[@]}"; do
  # New inputs go to build-fuzz/work (kept between local runs); the repository's seeds are read.
  mkdir -p "build-fuzz/work/$target" "build-fuzz/findings/$target"
  (
    status=0
    "build-fuzz/bin/${target}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$target/" \
      "build-fuzz/work/$target" "${corpus[$target]}" >"build-fuzz/findings/$target.log" 2>&1 || status=$?
    echo "$status" >"build-fuzz/findings/$target.status"
  ) &
done
wait

failed=0
for target in "${targets[@]}"; do
  status=$(cat "build-fuzz/findings/$target.status")
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build-fuzz/findings/$target.log")
  if [ "$status" = 0 ]; then
    echo "fuzz: $target: ${runs:-?} inputs in ${seconds} s, no finding"
    continue
  fi
  failed=1
  tail -n 60 "build-fuzz/findings/$target.log"
  echo "fuzz: $target FAILED (status $status) after ${runs:-?} inputs; the input:"
  ls -1 "build-fuzz/findings/$target/"
  echo "fuzz: reproduce with build-fuzz/bin/${target}_fuzz FILE; once fixed, add it to ${corpus[$target]}/"
done
exit "$failed"
