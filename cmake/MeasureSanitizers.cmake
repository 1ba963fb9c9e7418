# MEASURE_SANITIZE: build every target of this build tree with sanitizers, for the sanitizer
# stages of scripts/test.sh (scripts/sanitizers.sh). Values: "address,undefined"
# (AddressSanitizer and UndefinedBehaviorSanitizer) or "thread" (ThreadSanitizer); empty for a
# normal build.
#
# What such a build is for: the command-line tool, the analysis library (capture reader and
# writer, symbolizer, reports, diffs) and the runtime's data structures, each driven by test
# executables that are themselves instrumented. It is not for preloading: a sanitizer's
# runtime must be the first library of a process and interposes malloc itself, so an
# instrumented libmeasure_preload.so (or libmeasure.so) cannot measure an uninstrumented
# program. scripts/sanitizers.sh therefore builds and runs only the tests that do not preload.
set(MEASURE_SANITIZE "" CACHE STRING "Sanitizers for every target: address,undefined or thread (empty: none)")

if(MEASURE_SANITIZE)
  if(NOT MEASURE_SANITIZE MATCHES "^(address|undefined|address,undefined|undefined,address|thread)$")
    message(FATAL_ERROR "MEASURE_SANITIZE must be address,undefined or thread, not '${MEASURE_SANITIZE}'")
  endif()
  # Every finding is fatal (a failing test), none is only printed; frame pointers keep the
  # sanitizers' stack traces cheap and complete.
  add_compile_options(-fsanitize=${MEASURE_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${MEASURE_SANITIZE})
  # The toolkit's own memory comes from the sanitizer's allocator then (support/internal_alloc.cpp).
  add_compile_definitions(MEASURE_SANITIZER_ALLOCATOR=1)
  message(STATUS "measure: building with -fsanitize=${MEASURE_SANITIZE}")
endif()

# MEASURE_FUZZ: build the libFuzzer targets of tests/fuzz (scripts/fuzz.sh, with clang and
# MEASURE_SANITIZE=address,undefined). Every target of the tree is compiled with libFuzzer's
# coverage instrumentation; only the fuzz targets link libFuzzer itself.
option(MEASURE_FUZZ "Build the libFuzzer targets of tests/fuzz (clang only)." OFF)
if(MEASURE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "MEASURE_FUZZ needs clang (libFuzzer); configure with CC=clang CXX=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
