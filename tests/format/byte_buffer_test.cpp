// The runtime's capture buffer streamed to a sink: whatever the threshold and wherever the
// pieces fall (inside a header's section, across many sections, a section larger than
// everything held), the sink receives exactly the bytes the buffer makes in memory, and a
// sink that fails leaves the buffer failed.
#include "format/byte_buffer.h"

#include <cstdint>
#include <random>
#include <vector>

#include <doctest/doctest.h>

using measure::format::ByteBuffer;
using measure::format::ByteSink;

namespace {

class VectorSink final : public ByteSink {
 public:
  bool append(const unsigned char* data, std::size_t size) noexcept override {
    if (m_fail_after != 0 && ++m_appends >= m_fail_after) {
      return false;
    }
    bytes.insert(bytes.end(), data, data + size);
    ++pieces;
    return true;
  }
  bool overwrite(std::uint64_t offset, const unsigned char* data, std::size_t size) noexcept override {
    if (offset + size > bytes.size()) {
      return false;  // only what was written may be overwritten
    }
    std::copy(data, data + size, bytes.begin() + static_cast<std::ptrdiff_t>(offset));
    ++overwrites;
    return true;
  }
  void fail_at_append(unsigned n) { m_fail_after = n; }

  std::vector<unsigned char> bytes;
  unsigned pieces = 0;
  unsigned overwrites = 0;

 private:
  unsigned m_fail_after = 0;
  unsigned m_appends = 0;
};

// Sections of random kinds and sizes (0 to about 160 KB of varints, strings and raw words:
// the buffer holds 64 KiB before it first needs room), the same for every buffer given the
// same seed.
void encode(ByteBuffer& out, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  out.put_header();
  int sections = 1 + static_cast<int>(random() % 12);
  for (int s = 0; s < sections; ++s) {
    out.begin_section(static_cast<std::uint32_t>(1 + random() % 9));
    int items = static_cast<int>(random() % 2 == 0 ? random() % 400 : random() % 20000);
    for (int i = 0; i < items; ++i) {
      switch (random() % 3) {
        case 0:
          out.put_varint(random() >> (random() % 64));
          break;
        case 1:
          out.put_string("a string of some length", random() % 24);
          break;
        default:
          out.put_u64le(random());
      }
    }
    out.end_section();
  }
  out.put_end();
}

std::vector<unsigned char> in_memory(std::uint64_t seed) {
  ByteBuffer out;
  encode(out, seed);
  REQUIRE(!out.failed());
  return {out.data(), out.data() + out.size()};
}

}  // namespace

TEST_CASE("a streamed capture buffer hands its sink exactly the bytes it makes in memory") {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    std::vector<unsigned char> expected = in_memory(seed);
    for (std::size_t threshold :
         {std::size_t{1}, std::size_t{13}, std::size_t{64}, std::size_t{1000}, std::size_t{1} << 20}) {
      CAPTURE(seed);
      CAPTURE(threshold);
      VectorSink sink;
      ByteBuffer out;
      out.stream_to(&sink, threshold);
      encode(out, seed);
      REQUIRE(out.flush());
      CHECK(out.size() == 0);
      CHECK(sink.bytes == expected);
      if (expected.size() > 2 * 65536 + threshold) {
        CHECK(sink.pieces > 1);  // it streamed, and headers were filled in where they went
        CHECK(sink.overwrites > 0);
      }
    }
  }
}

TEST_CASE("a sink that fails leaves the streamed buffer failed") {
  VectorSink sink;
  sink.fail_at_append(3);
  ByteBuffer out;
  out.stream_to(&sink, 16);
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    encode(out, seed);
  }
  CHECK(!out.flush());
  CHECK(out.failed());
  CHECK(sink.pieces == 2);
}
