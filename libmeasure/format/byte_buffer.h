// A growable byte buffer for encoding captures. Memory comes from mapped pages, so the
// runtime can encode at exit or in a checkpoint without touching any heap. A failed growth
// sets failed() and drops further writes; the caller then reports the loss.
//
// Given a sink, the buffer hands its bytes on when it needs room and holds at least `threshold`,
// so a capture of any size is written with about that much memory; a section's header,
// written before its payload is known, is filled in where it went.
#pragma once

#include <cstddef>
#include <cstdint>

namespace measure::format {

/// Where a streaming ByteBuffer's bytes go, in order: a file.
class ByteSink {
 public:
  /// Appends `size` bytes after those written so far. False on failure (the sink keeps why).
  virtual bool append(const unsigned char* data, std::size_t size) noexcept = 0;
  /// Overwrites `size` bytes written before, from `offset` (counted from the first byte). False
  /// on failure.
  virtual bool overwrite(std::uint64_t offset, const unsigned char* data, std::size_t size) noexcept = 0;

 protected:
  ~ByteSink() = default;
};

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ~ByteBuffer();
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  void append(const void* data, std::size_t size) noexcept;
  void append_byte(unsigned char byte) noexcept {
    if (m_size < m_capacity) {
      m_data[m_size++] = byte;
    } else {
      append(&byte, 1);
    }
  }
  void put_u32le(std::uint32_t value) noexcept;
  void put_u64le(std::uint64_t value) noexcept;
  void put_varint(std::uint64_t value) noexcept {
    while (value >= 0x80) {
      append_byte(static_cast<unsigned char>(value | 0x80));
      value >>= 7;
    }
    append_byte(static_cast<unsigned char>(value));
  }
  void put_signed(std::int64_t value) noexcept {
    put_varint((static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63));
  }
  void put_string(const char* text, std::size_t size) noexcept {
    put_varint(size);
    append(text, size);
  }
  void put_string(const char* text) noexcept;

  /// Starts a section; pair with end_section(), which fills in its length and crc32.
  void begin_section(std::uint32_t kind) noexcept;
  void end_section() noexcept;
  /// Writes the file header.
  void put_header() noexcept;
  /// Writes the end section (after all others).
  void put_end() noexcept;

  /// From now on, hands the bytes held to `sink` when it needs room and holds `threshold` or
  /// more (and on flush()). data() and size() then describe only what is still held.
  void stream_to(ByteSink* sink, std::size_t threshold) noexcept {
    m_sink = sink;
    m_threshold = threshold;
  }
  /// Hands every byte held to the sink. False, and failed() true, when the sink failed.
  bool flush() noexcept;

  /// Exchanges the contents (bytes, capacity, state) of two buffers; neither may be streaming
  /// or inside a section.
  void swap(ByteBuffer& other) noexcept;
  /// Empties the buffer and gives its pages back; it can be written again.
  void release() noexcept;

  const unsigned char* data() const noexcept { return m_data; }
  /// The bytes mapped for the buffer (at least size()).
  std::size_t capacity() const noexcept { return m_capacity; }
  std::size_t size() const noexcept { return m_size; }
  bool failed() const noexcept { return m_failed; }

 private:
  bool reserve(std::size_t extra) noexcept;

  unsigned char* m_data = nullptr;
  std::size_t m_size = 0;
  std::size_t m_capacity = 0;
  // Positions count from the first byte ever put; m_data holds those from m_base on.
  std::uint64_t m_base = 0;
  std::uint64_t m_section_start = 0;
  // The open section's payload handed to the sink so far: its crc32 and where it ends.
  bool m_in_section = false;
  std::uint32_t m_section_kind = 0;
  std::uint32_t m_handed_crc = 0;
  std::uint64_t m_handed_end = 0;
  std::uint32_t m_sections = 0;
  bool m_failed = false;
  ByteSink* m_sink = nullptr;
  std::size_t m_threshold = 0;
};

/// The checksum of a section: zlib's crc32 over its kind, its length and its payload.
/// `header` points at the section header (kind, crc, length).
std::uint32_t section_crc(const unsigned char* header, const unsigned char* payload, std::uint64_t length) noexcept;

}  // namespace measure::format
