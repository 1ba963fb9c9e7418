#include "format/byte_buffer.h"

#include <zlib.h>

#include <cstring>
#include <utility>

#include "format/capture_format.h"
#include "platform/platform.h"

namespace measure::format {

ByteBuffer::~ByteBuffer() {
  detail::platform::unmap_pages(m_data, m_capacity);
}

void ByteBuffer::swap(ByteBuffer& other) noexcept {
  std::swap(m_data, other.m_data);
  std::swap(m_size, other.m_size);
  std::swap(m_capacity, other.m_capacity);
  std::swap(m_base, other.m_base);
  std::swap(m_sections, other.m_sections);
  std::swap(m_failed, other.m_failed);
}

void ByteBuffer::release() noexcept {
  detail::platform::unmap_pages(m_data, m_capacity);
  m_data = nullptr;
  m_size = 0;
  m_capacity = 0;
  m_base = 0;
  m_sections = 0;
  m_failed = false;
}

bool ByteBuffer::reserve(std::size_t extra) noexcept {
  if (m_failed) {
    return false;
  }
  if (m_size + extra <= m_capacity) {
    return true;
  }
  // Streaming, the buffer grows to the threshold and then hands its bytes on when full.
  if (m_sink != nullptr && m_capacity >= m_threshold && m_size != 0 && (!flush() || extra <= m_capacity)) {
    return !m_failed;
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

namespace {

std::uint32_t crc_update(std::uint32_t crc, const unsigned char* data, std::uint64_t size) noexcept {
  for (std::uint64_t done = 0; done < size;) {
    std::uint64_t piece = size - done > (1U << 30) ? (1U << 30) : size - done;
    crc = static_cast<std::uint32_t>(::crc32(crc, data + done, static_cast<uInt>(piece)));
    done += piece;
  }
  return crc;
}

// The crc32 of a section's header less the crc itself: its kind (4 bytes) and its length (8).
// The kind and the length are covered too: a damaged header must not pass as another
// (perhaps skippable) section.
std::uint32_t header_crc(const unsigned char* kind, const unsigned char* length) noexcept {
  return crc_update(crc_update(0, kind, 4), length, 8);
}

// pre: bytes <= 8.
void put_le(unsigned char* out, std::uint64_t value, int bytes) noexcept {
  for (int i = 0; i < bytes; ++i) {
    out[i] = static_cast<unsigned char>(value >> (8 * i));
  }
}

}  // namespace

void ByteBuffer::begin_section(std::uint32_t kind) noexcept {
  // Reserved first, so that the header is never split between the sink and this buffer.
  if (!reserve(section_header_size)) {
    return;
  }
  m_section_start = m_base + m_size;
  m_section_kind = kind;
  m_in_section = true;
  m_handed_crc = 0;
  m_handed_end = m_section_start + section_header_size;
  unsigned char* header = m_data + m_size;
  put_le(header, kind, 4);
  std::memset(header + 4, 0, 12);  // crc32 and length, filled in by end_section
  m_size += section_header_size;
}

void ByteBuffer::end_section() noexcept {
  m_in_section = false;
  if (m_failed) {
    return;
  }
  std::uint64_t payload = m_section_start + section_header_size;
  std::uint64_t length = m_base + m_size - payload;
  if (m_section_start >= m_base) {
    unsigned char* header = m_data + (m_section_start - m_base);
    put_le(header + 8, length, 8);
    put_le(header + 4, section_crc(header, header + section_header_size, length), 4);
  } else {
    // The header and the payload's start went to the sink (flush() kept their crc32): the
    // crc32 is that of the header's kind and length followed by the payload, joined from its
    // parts, and the header is filled in where it went.
    std::uint32_t payload_crc =
        crc_update(m_handed_crc, m_data + (m_handed_end - m_base), m_base + m_size - m_handed_end);
    unsigned char kind[4];
    unsigned char patch[12];  // the header after its kind: crc32, length
    put_le(kind, m_section_kind, 4);
    put_le(patch + 4, length, 8);
    put_le(patch, ::crc32_combine64(header_crc(kind, patch + 4), payload_crc, static_cast<z_off64_t>(length)), 4);
    if (!m_sink->overwrite(m_section_start + 4, patch, sizeof patch)) {
      m_failed = true;
      return;
    }
  }
  ++m_sections;
}

bool ByteBuffer::flush() noexcept {
  if (m_sink == nullptr || m_failed || m_size == 0) {
    return !m_failed;
  }
  if (m_in_section) {
    std::uint64_t end = m_base + m_size;
    m_handed_crc = crc_update(m_handed_crc, m_data + (m_handed_end - m_base), end - m_handed_end);
    m_handed_end = end;
  }
  if (!m_sink->append(m_data, m_size)) {
    m_failed = true;
    return false;
  }
  m_base += m_size;
  m_size = 0;
  return true;
}

std::uint32_t section_crc(const unsigned char* header, const unsigned char* payload, std::uint64_t length) noexcept {
  return crc_update(header_crc(header, header + 8), payload, length);
}

void ByteBuffer::put_end() noexcept {
  std::uint32_t sections = m_sections;
  begin_section(static_cast<std::uint32_t>(SectionKind::end));
  put_varint(sections);
  end_section();
}

}  // namespace measure::format
