#include "support/log.h"

#include "platform/platform.h"

namespace measure::detail {

std::size_t format_decimal(std::uint64_t value, char* out) noexcept {
  char tmp[24];
  std::size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = tmp[n - 1 - i];
  }
  return n;
}

LogLine::LogLine() noexcept : m_size(0) {
  text("measure: ");
}

LogLine& LogLine::text(const char* s) noexcept {
  while (s != nullptr && *s != '\0' && m_size < sizeof m_buf - 1) {
    m_buf[m_size++] = *s++;
  }
  return *this;
}

LogLine& LogLine::shortened(const char* s) noexcept {
  constexpr std::size_t limit = 200;
  constexpr std::size_t kept = 96;
  std::size_t n = 0;
  while (s != nullptr && s[n] != '\0') {
    ++n;
  }
  if (n <= limit) {
    return text(s);
  }
  for (std::size_t i = 0; i < kept && m_size < sizeof m_buf - 1; ++i) {
    m_buf[m_size++] = s[i];
  }
  text("...");
  return text(s + n - kept);
}

LogLine& LogLine::number(std::uint64_t value) noexcept {
  char digits[24];
  std::size_t n = format_decimal(value, digits);
  for (std::size_t i = 0; i < n && m_size < sizeof m_buf - 1; ++i) {
    m_buf[m_size++] = digits[i];
  }
  return *this;
}

void LogLine::emit() noexcept {
  m_buf[m_size++] = '\n';
  platform::write_stderr(m_buf, m_size);
  m_size = 0;
}

}  // namespace measure::detail
