// The capture-file contract (docs/capture-format.md describes it byte by byte).
//
//   file    := header section* end-section
//   header  := magic[8] version:u32le flags:u32le
//   section := kind:u32le crc32:u32le length:u64le payload[length]
//
// Payload integers are LEB128 varints (signed values zig-zag encoded), strings are a varint
// length and bytes. crc32 (zlib's) covers the section's kind, length and payload. Header
// flags are zero in version 1. The end section must be last; a file
// without it is truncated. Readers reject a larger `version` and skip unknown section kinds
// whose `optional` bit is set; an unknown kind without that bit is an error.
#pragma once

#include <cstdint>

namespace measure::format {

inline constexpr unsigned char magic[8] = {0x89, 'M', 'S', 'R', '\r', '\n', 0x1a, '\n'};
inline constexpr std::uint32_t version = 1;
inline constexpr std::uint32_t header_size = 16;
inline constexpr std::uint32_t section_header_size = 16;
inline constexpr std::uint32_t optional_section = 0x8000;

enum class SectionKind : std::uint32_t {
  program = 1,      // the measured process: argv, pid, mode, options, times
  modules = 2,      // executable and shared objects: path, build-id, bias, PT_LOAD segments
  stacks = 3,       // interned stacks: generation, flags, return addresses
  sites = 4,        // per-stack counters
  totals = 5,       // global counters and peak
  diagnostics = 6,  // named counters of what was dropped or could not be seen, and warnings
  exit = 7,         // exit status, added by `measure run` after the program ended
  scopes = 8,       // named snapshot scopes: entries, totals, per-site deltas
  end = 0x7fff,     // payload: number of sections before it
  // Optional: frames for recorded addresses, from a recording symbolized when it was made.
  symbols = optional_section | 9,
  // Optional: live bytes and resident memory over time, and when the peak was reached.
  timeline = optional_section | 10,
  // Optional: frames per module offset, stored from the module files after the run (uses the
  // string table of the symbols section, which comes first).
  module_symbols = optional_section | 11,
  // Optional: allocations by size class, temporaries' bytes, the largest allocations and the
  // split by thread.
  summary = optional_section | 12,
  // Optional: what each stack allocated and freed in each interval of the run (exact mode).
  intervals = optional_section | 13,
};

/// The largest single allocations a summary section lists (and each thread keeps).
inline constexpr std::uint32_t summary_largest_kept = 16;

/// How the process was measured, in the program section; the runtime's Mode and the tools'
/// CaptureMode are this enum.
enum class CaptureMode : std::uint8_t { off = 0, exact = 1, sampled = 2, counters = 3 };

/// Stack flags (the stacks section): bit 0 truncated at the depth limit, bit 1 partial
/// (unwound without unwind tables), bit 2 frames elided (an in-process snapshot), bit 3
/// inherited (a forked child's blocks from before the fork; no frames).
inline constexpr std::uint32_t stack_frames_elided = 1U << 2;

/// Capture flags in the program section.
enum ProgramFlags : std::uint32_t {
  program_final = 1U << 0,           // written at exit (otherwise a checkpoint of a running process)
  program_hooks_inactive = 1U << 1,  // the allocation functions were not interposed (own allocator)
};

}  // namespace measure::format
