#!/usr/bin/env bash
# Installs the Debian 12 packages measure needs to build and test, if any are missing.
# Runs apt-get as root (directly, or through sudo when run as another user).
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libdw-dev libfmt-dev libcli11-dev libmimalloc-dev zlib1g-dev
  doctest-dev nlohmann-json3-dev libgtest-dev catch2
  libxml2-utils protobuf-compiler groff-base
  # integrations: heaptrack recordings, Google Benchmark, the browser test
  libzstd-dev zstd heaptrack libbenchmark-dev chromium
  # the fuzzing stage (scripts/fuzz.sh): clang and its libFuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
  # the lint stage (scripts/lint.sh)
  clang-format clang-tidy
)
# The pprof and browser tests install their npm packages themselves; they need node and npm.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "measure: installing ${missing[*]}" >&2
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "measure: need root to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
