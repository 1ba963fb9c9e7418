// A minimal protocol-buffers encoder (wire format only: varints and length-delimited
// fields), enough to write profile.proto without a code generator or a runtime library.
// https://protobuf.dev/programming-guides/encoding/
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace measure::detail {

class ProtoWriter {
 public:
  /// An unsigned (uint64 or int64 >= 0) field; proto3 leaves zero values out.
  void uint_field(std::uint32_t field, std::uint64_t value) {
    if (value != 0) {
      tag(field, 0);
      varint(value);
    }
  }
  /// An int64 field; negative values take ten bytes (two's complement, as protobuf does).
  void int_field(std::uint32_t field, std::int64_t value) { uint_field(field, static_cast<std::uint64_t>(value)); }
  void bool_field(std::uint32_t field, bool value) { uint_field(field, value ? 1 : 0); }
  /// A string or bytes field, written even when empty (string tables need the empty entry).
  void bytes_field(std::uint32_t field, std::string_view bytes) {
    tag(field, 2);
    varint(bytes.size());
    m_out.append(bytes);
  }
  /// A nested message.
  void message_field(std::uint32_t field, const ProtoWriter& message) { bytes_field(field, message.m_out); }
  /// A packed repeated varint field.
  template <class T>
  void packed_field(std::uint32_t field, const std::vector<T>& values) {
    if (values.empty()) {
      return;
    }
    std::size_t length = 0;
    for (T v : values) {
      length += varint_size(static_cast<std::uint64_t>(v));
    }
    tag(field, 2);
    varint(length);
    for (T v : values) {
      varint(static_cast<std::uint64_t>(v));
    }
  }

  const std::string& bytes() const noexcept { return m_out; }
  void clear() noexcept { m_out.clear(); }

 private:
  void tag(std::uint32_t field, std::uint32_t wire_type) { varint(static_cast<std::uint64_t>(field) << 3 | wire_type); }
  static std::size_t varint_size(std::uint64_t value) noexcept {
    std::size_t n = 1;
    for (; value >= 0x80; value >>= 7) {
      ++n;
    }
    return n;
  }
  void varint(std::uint64_t value) {
    while (value >= 0x80) {
      m_out.push_back(static_cast<char>(value | 0x80));
      value >>= 7;
    }
    m_out.push_back(static_cast<char>(value));
  }

  std::string m_out;
};

/// `bytes` compressed as a gzip stream (RFC 1952) with zlib. Throws Error if zlib fails.
std::string gzip(std::string_view bytes);

}  // namespace measure::detail
