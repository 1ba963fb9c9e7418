// Seeds and fuzz inputs with their section checksums recomputed, shared by the fuzz target
// and the corpus test so both feed the section decoders the same bytes.
#pragma once

#include <cstdint>
#include <vector>

#include "format/byte_buffer.h"
#include "format/capture_format.h"

namespace measure::test {

// Almost every mutation breaks a section checksum, and the reader stops there. Recomputing
// the checksums lets mutations reach the section decoders.
inline std::vector<unsigned char> with_fixed_checksums(std::vector<unsigned char> bytes) {
  using namespace measure::format;
  std::size_t pos = header_size;
  while (bytes.size() >= pos + section_header_size) {
    unsigned char* h = bytes.data() + pos;
    std::uint64_t length = 0;
    for (int i = 7; i >= 0; --i) {
      length = length << 8 | h[8 + i];
    }
    pos += section_header_size;
    if (length > bytes.size() - pos) {
      break;
    }
    std::uint32_t crc = section_crc(h, bytes.data() + pos, length);
    for (int i = 0; i < 4; ++i) {
      h[4 + i] = static_cast<unsigned char>(crc >> (8 * i));
    }
    pos += length;
  }
  return bytes;
}

}  // namespace measure::test
