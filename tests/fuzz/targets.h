// What each fuzz target does with one input, shared by the libFuzzer targets (built with clang
// by scripts/fuzz.sh) and by fuzz_corpus_test (any compiler), which replays every seed and
// every past finding of tests/fuzz/corpus*/. An input may make the code under test throw one
// of measure's errors (bad input); anything else (another exception, a crash, a sanitizer
// report, a hang, unbounded memory) is a finding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace measure::test {

/// The capture reader: bytes as a capture file (as they are, and with their section checksums
/// repaired so mutations reach the section decoders). What decodes must re-encode to an equal
/// capture, and every report and diff format must render it.
void fuzz_capture_reader(std::span<const std::uint8_t> data);

/// The heaptrack importer: bytes as a heaptrack data file (zstd, gzip or plain, by content).
/// What imports must encode to a capture that reads back equal and renders.
void fuzz_heaptrack_import(std::span<const std::uint8_t> data);

/// The symbolizer: after one byte that chooses how the module is named (the file, a symbolic
/// link to it, a FIFO, a directory, a missing path), the bytes as the module's ELF file, named
/// by a capture whose stacks hold addresses all over it. Symbolizing, storing symbols and
/// rendering must finish, and never block.
void fuzz_symbolizer(std::span<const std::uint8_t> data);

}  // namespace measure::test
