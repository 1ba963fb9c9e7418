#!/usr/bin/env bash
# Installs the build into a fresh prefix, moves it (the tree must be relocatable), builds the
# consumer project against it with CMake and with pkg-config, and runs it three ways.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
build=$1 source=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/staging" >/dev/null
mv "$work/staging" "$work/prefix"   # relocated after installing
prefix=$work/prefix
libdir=$(dirname "$(find "$prefix" -name libmeasure.so | head -1)")

fail() { echo "install_test: $*" >&2; exit 1; }
expect() {  # expect WHAT COMMAND...: the command must print exactly WHAT
  local want=$1; shift
  local got; got=$("$@") || fail "'$*' failed (printed: $got)"
  [ "$got" = "$want" ] || fail "'$*' printed '$got', expected '$want'"
}

# CMake package.
cmake -S "$source/tests/install" -B "$work/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
expect "tracing 2 128" "$work/cmake-build/consumer"
expect "not tracing" env MEASURE_MODE=off "$work/cmake-build/consumer"

# pkg-config, with the command docs/api.md shows, word for word (app.cpp: the consumer): the
# program must build and run with nothing added (no LD_LIBRARY_PATH, no run path of ours).
shown=$(grep -m1 '^c++ .*pkg-config --cflags --libs measure' "$source/docs/api.md") ||
  fail "docs/api.md shows no pkg-config build line"
mkdir -p "$work/pc" && cp "$source/tests/install/consumer.cpp" "$work/pc/app.cpp"
(cd "$work/pc" && PKG_CONFIG_PATH="$libdir/pkgconfig" bash -c "$shown -g -fno-builtin -o pc-consumer") ||
  fail "docs/api.md's build line failed: $shown"
cp "$work/pc/pc-consumer" "$work/pc-consumer"
expect "tracing 2 128" env -u LD_LIBRARY_PATH "$work/pc-consumer"

# docs/api.md's examples: each is in examples/api_tour.cpp, examples/api_tour.c or the tokenizer
# test (tests/docs/api_examples_test.cpp checks that), built with the page's lines word for word
# and run; every line the page says the C++ examples print, they print.
mkdir -p "$work/tour" && cp "$source/examples/api_tour.cpp" "$source/examples/api_tour.c" "$work/tour/"
shown_c=$(grep -m1 '^cc .*pkg-config --cflags --libs measure' "$source/docs/api.md") ||
  fail "docs/api.md shows no pkg-config build line for C"
shown_c=${shown_c%%#*}
(cd "$work/tour" && PKG_CONFIG_PATH="$libdir/pkgconfig" bash -c "${shown/app.cpp/api_tour.cpp} -o tour") ||
  fail "docs/api.md's build line failed on examples/api_tour.cpp"
(cd "$work/tour" && PKG_CONFIG_PATH="$libdir/pkgconfig" bash -c "${shown_c/app.c/api_tour.c} -o tour-c") ||
  fail "docs/api.md's C build line failed on examples/api_tour.c"
tour_out=$(cd "$work/tour" && env -u LD_LIBRARY_PATH ./tour) || fail "examples/api_tour.cpp failed: $tour_out"
(cd "$work/tour" && env -u LD_LIBRARY_PATH ./tour-c >/dev/null) || fail "examples/api_tour.c failed"
printed=0
while IFS= read -r line; do
  grep -qxF -- "$line" <<<"$tour_out" || fail "docs/api.md says an example prints '$line'; the tour printed: $tour_out"
  printed=$((printed + 1))
done < <(awk '/^prints$/ { getline; if ($0 == "```") { inside = 1; next } } inside && /^```$/ { inside = 0 } inside' \
           "$source/docs/api.md")
[ "$printed" -ge 9 ] || fail "found only $printed printed lines in docs/api.md"

# Under the installed `measure run`: one runtime answers; the capture has the consumer's sites.
expect "tracing 2 128" "$prefix/bin/measure" run -q -o "$work/consumer.msr" -- "$work/pc-consumer"
report=$("$prefix/bin/measure" report "$work/consumer.msr" --by line --format json --top 0)
grep -q '"file": "[^"]*/pc/app.cpp"' <<<"$report" || fail "the capture does not name app.cpp (the consumer)"
for bytes in 100 28; do  # the two allocations of the consumer, each at its own line, once
  grep -q "\"alloc_bytes\": $bytes," <<<"$report" || fail "the capture lacks the consumer's $bytes-byte block"
done

# --help for every subcommand, with examples of that subcommand; the man page has them all and
# groff formats it without a warning.
man=$prefix/share/man/man1/measure.1
[ -f "$man" ] || fail "no man page at share/man/man1/measure.1"
warnings=$(groff -man -Tutf8 -ww -z "$man" 2>&1) || fail "groff failed on measure.1"
[ -z "$warnings" ] || fail "groff warns about measure.1: $warnings"
subcommands=$("$prefix/bin/measure" --help | sed -n '/^Subcommands:/,/^$/s/^  \([a-z]*\) .*/\1/p')
[ "$(echo $subcommands)" = "run report diff merge symbolize import dump live attach detach" ] || fail "measure --help lists: $subcommands"
for sub in $subcommands; do
  help=$("$prefix/bin/measure" "$sub" --help) || fail "measure $sub --help failed"
  example=$(sed -n '/^Examples:/,$p' <<<"$help" | grep -m1 "^  measure $sub ") ||
    fail "measure $sub --help has no example of measure $sub"
  grep -qF ".SS \"measure $sub\"" "$man" || fail "the man page has no section for measure $sub"
  grep -qxF "$example" "$man" || fail "the man page lacks measure $sub's example: $example"
done

echo "install_test: ok"
