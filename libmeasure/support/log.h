// Diagnostics from inside the runtime: one line to standard error, formatted into a stack
// buffer without the C heap, stdio or locale, so it is safe anywhere (signal handlers,
// allocation hooks, exit handlers). Lines are prefixed "measure: ".
#pragma once

#include <cstddef>
#include <cstdint>

namespace measure::detail {

class LogLine {
 public:
  LogLine() noexcept;
  LogLine& text(const char* s) noexcept;
  /// A value from outside (a path, an environment value) that may be long: past 200 bytes, its
  /// first and last 96 bytes around "...", so the rest of the line still fits.
  LogLine& shortened(const char* s) noexcept;
  LogLine& number(std::uint64_t value) noexcept;
  /// Writes the line (with a trailing newline) in one write call. Truncates past 1 KiB.
  void emit() noexcept;

 private:
  char m_buf[1024];
  std::size_t m_size;
};

/// Formats `value` in decimal into `out` (at least 21 bytes); returns the length.
std::size_t format_decimal(std::uint64_t value, char* out) noexcept;

}  // namespace measure::detail
