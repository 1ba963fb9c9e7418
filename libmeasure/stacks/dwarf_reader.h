// Reading DWARF's encodings (LEB128 numbers, fixed-size values, exception-handling pointer
// encodings) from memory that holds them: a module's mapped unwind tables, or an expression
// in them. Every read is bounded by the end given at construction; reading past it marks the
// reader failed instead of faulting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace measure::detail {

class Reader {
 public:
  Reader(const std::uint8_t* p, const std::uint8_t* end) noexcept : m_p(p), m_end(end) {}

  bool ok() const noexcept { return m_ok; }
  bool done() const noexcept { return m_p >= m_end; }
  const std::uint8_t* at() const noexcept { return m_p; }
  void skip(std::uint64_t n) noexcept {
    if (n > static_cast<std::uint64_t>(m_end - m_p)) {
      m_ok = false;
      m_p = m_end;
      return;
    }
    m_p += n;
  }
  template <class T>
  T fixed() noexcept {
    T v{};
    if (static_cast<std::size_t>(m_end - m_p) < sizeof(T)) {
      m_ok = false;
      m_p = m_end;
      return v;
    }
    std::memcpy(&v, m_p, sizeof(T));
    m_p += sizeof(T);
    return v;
  }
  std::uint64_t uleb() noexcept {
    std::uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (m_p >= m_end) {
        m_ok = false;
        return 0;
      }
      std::uint8_t b = *m_p++;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        return v;
      }
    }
    m_ok = false;
    return 0;
  }
  std::int64_t sleb() noexcept {
    std::uint64_t v = 0;
    unsigned shift = 0;
    std::uint8_t b = 0;
    do {
      if (m_p >= m_end || shift >= 64) {
        m_ok = false;
        return 0;
      }
      b = *m_p++;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      shift += 7;
    } while ((b & 0x80) != 0);
    if (shift < 64 && (b & 0x40) != 0) {
      v |= ~std::uint64_t{0} << shift;
    }
    return static_cast<std::int64_t>(v);
  }
  /// A pointer in `encoding`; `data_base` for datarel. `apply` false: the value format only
  /// (an FDE's address range).
  bool pointer(std::uint8_t encoding, std::uintptr_t data_base, bool apply, std::uint64_t* out) noexcept {
    auto here = reinterpret_cast<std::uintptr_t>(m_p);
    std::uint64_t v = 0;
    switch (encoding & 0x0f) {
      case 0x00:
      case 0x04:
      case 0x0c:
        v = fixed<std::uint64_t>();
        break;
      case 0x01:
        v = uleb();
        break;
      case 0x02:
        v = fixed<std::uint16_t>();
        break;
      case 0x03:
        v = fixed<std::uint32_t>();
        break;
      case 0x09:
        v = static_cast<std::uint64_t>(sleb());
        break;
      case 0x0a:
        v = static_cast<std::uint64_t>(static_cast<std::int64_t>(fixed<std::int16_t>()));
        break;
      case 0x0b:
        v = static_cast<std::uint64_t>(static_cast<std::int64_t>(fixed<std::int32_t>()));
        break;
      default:
        return false;
    }
    if (apply) {
      switch (encoding & 0x70) {
        case 0x00:
          break;
        case 0x10:
          v += here;
          break;
        case 0x30:
          v += data_base;
          break;
        default:
          return false;  // textrel, funcrel, aligned: not produced for x86-64 Linux
      }
      if ((encoding & 0x80) != 0) {
        return false;  // indirect: only personality routines use it, and they are skipped
      }
    }
    *out = v;
    return m_ok;
  }

 private:
  const std::uint8_t* m_p;
  const std::uint8_t* m_end;
  bool m_ok = true;
};

}  // namespace measure::detail
