#include "format/byte_buffer.h"

#include <zlib.h>

#include <cstring>

#include "format/capture_format.h"
#include "platform/platform.h"

namespace measure::format {

ByteBuffer::~ByteBuffer() {
  detail::platform::unmap_pages(m_data, m_capacity);
}

bool ByteBuffer::reserve(std::size_t extra) noexcept {
  if (m_failed) {
    return false;
  }
  if (m_size + extra <= m_capacity) {
    return true;
  }
  std::size_t capacity = m_capacity == 0 ? 64 * 1024 : m_capacity;
  while (capacity < m_size + extra) {
    capacity *= 2;
  }
  // Remapped, not copied: a capture of many stacks is tens of megabytes, and a copy at each
  // doubling touched about twice that in fresh pages, the most expensive part of writing it.
  auto* grown = static_cast<unsigned char*>(detail::platform::grow_pages(m_data, m_capacity, capacity));
  if (grown == nullptr) {
    m_failed = true;
    return false;
  }
  m_data = grown;
  m_capacity = capacity;
  return true;
}

void ByteBuffer::append(const void* data, std::size_t size) noexcept {
  if (size == 0 || !reserve(size)) {
    return;
  }
  std::memcpy(m_data + m_size, data, size);
  m_size += size;
}

void ByteBuffer::put_u32le(std::uint32_t value) noexcept {
  unsigned char bytes[4];
  for (int i = 0; i < 4; ++i) {
    bytes[i] = static_cast<unsigned char>(value >> (8 * i));
  }
  append(bytes, 4);
}

void ByteBuffer::put_u64le(std::uint64_t value) noexcept {
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<unsigned char>(value >> (8 * i));
  }
  append(bytes, 8);
}

void ByteBuffer::put_string(const char* text) noexcept {
  put_string(text, text == nullptr ? 0 : std::strlen(text));
}

void ByteBuffer::put_header() noexcept {
  append(magic, sizeof magic);
  put_u32le(version);
  put_u32le(0);
}

void ByteBuffer::begin_section(std::uint32_t kind) noexcept {
  m_section_start = m_size;
  put_u32le(kind);
  put_u32le(0);  // crc32, patched by end_section
  put_u64le(0);  // length, patched by end_section
}

void ByteBuffer::end_section() noexcept {
  if (m_failed) {
    return;
  }
  std::size_t payload = m_section_start + section_header_size;
  std::uint64_t length = m_size - payload;
  for (int i = 0; i < 8; ++i) {
    m_data[m_section_start + 8 + i] = static_cast<unsigned char>(length >> (8 * i));
  }
  std::uint32_t crc = section_crc(m_data + m_section_start, m_data + payload, length);
  for (int i = 0; i < 4; ++i) {
    m_data[m_section_start + 4 + i] = static_cast<unsigned char>(crc >> (8 * i));
  }
  ++m_sections;
}

std::uint32_t section_crc(const unsigned char* header, const unsigned char* payload, std::uint64_t length) noexcept {
  // The kind and the length are covered too: a damaged header must not pass as another
  // (perhaps skippable) section.
  auto crc = static_cast<std::uint32_t>(::crc32(0L, header, 4));
  crc = static_cast<std::uint32_t>(::crc32(crc, header + 8, 8));
  for (std::uint64_t done = 0; done < length;) {
    std::uint64_t piece = length - done > (1U << 30) ? (1U << 30) : length - done;
    crc = static_cast<std::uint32_t>(::crc32(crc, payload + done, static_cast<uInt>(piece)));
    done += piece;
  }
  return crc;
}

void ByteBuffer::put_end() noexcept {
  std::uint32_t sections = m_sections;
  begin_section(static_cast<std::uint32_t>(SectionKind::end));
  put_varint(sections);
  end_section();
}

}  // namespace measure::format
