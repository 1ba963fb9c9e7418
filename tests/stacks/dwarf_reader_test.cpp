// Reading DWARF's encodings (stacks/dwarf_reader.h): LEB128 numbers, fixed-size values and
// exception-handling pointers, each from exactly the bytes given, and every read past the end
// failing the reader instead of reading on.
#include "stacks/dwarf_reader.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>

#include <doctest/doctest.h>

namespace measure::detail {
namespace {

// The bytes in an allocation of exactly their size: a read past them is a sanitizer error.
class Buffer {
 public:
  Buffer(std::initializer_list<std::uint8_t> bytes) : m_size(bytes.size()), m_bytes(new std::uint8_t[bytes.size()]) {
    std::copy(bytes.begin(), bytes.end(), m_bytes.get());
  }
  Reader reader() const { return Reader(m_bytes.get(), m_bytes.get() + m_size); }
  std::uintptr_t address() const { return reinterpret_cast<std::uintptr_t>(m_bytes.get()); }

 private:
  std::size_t m_size;
  std::unique_ptr<std::uint8_t[]> m_bytes;
};

std::uint64_t read_pointer(const Buffer& b, std::uint8_t encoding, std::uintptr_t data_base = 0, bool apply = true) {
  Reader r = b.reader();
  std::uint64_t value = 0;
  REQUIRE(r.pointer(encoding, data_base, apply, &value));
  CHECK(r.done());
  return value;
}

bool refuses_pointer(const Buffer& b, std::uint8_t encoding) {
  Reader r = b.reader();
  std::uint64_t value = 0;
  return !r.pointer(encoding, 0, true, &value);
}

}  // namespace

TEST_CASE("dwarf reader: unsigned and signed LEB128, one to ten bytes") {
  Buffer b = {0x02, 0x7f, 0x80, 0x01, 0xe5, 0x8e, 0x26, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  Reader r = b.reader();
  CHECK(r.uleb() == 2);
  CHECK(r.uleb() == 127);
  CHECK(r.uleb() == 128);
  CHECK(r.uleb() == 624485);
  CHECK(r.uleb() == UINT64_MAX);
  CHECK(r.ok());
  CHECK(r.done());

  Buffer s = {0x02, 0x7e, 0xff, 0x00, 0x81, 0x7f, 0x80, 0x7f, 0xc0, 0xbb, 0x78,
              0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f};
  Reader signed_reader = s.reader();
  CHECK(signed_reader.sleb() == 2);
  CHECK(signed_reader.sleb() == -2);
  CHECK(signed_reader.sleb() == 127);
  CHECK(signed_reader.sleb() == -127);
  CHECK(signed_reader.sleb() == -128);
  CHECK(signed_reader.sleb() == -123456);
  CHECK(signed_reader.sleb() == INT64_MIN);
  CHECK(signed_reader.ok());
  CHECK(signed_reader.done());
}

TEST_CASE("dwarf reader: a number cut off by the end, or longer than 64 bits, fails the reader") {
  const Buffer cut = {0x80, 0x80};
  const Buffer endless = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  for (const Buffer* b : {&cut, &endless}) {
    Reader u = b->reader();
    CHECK(u.uleb() == 0);
    CHECK_FALSE(u.ok());
    Reader s = b->reader();
    CHECK(s.sleb() == 0);
    CHECK_FALSE(s.ok());
  }
}

TEST_CASE("dwarf reader: fixed-size values are little-endian; a short one and a long skip fail") {
  Buffer b = {0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 0xff};
  Reader r = b.reader();
  CHECK(r.fixed<std::uint16_t>() == 0x1234);
  CHECK(r.fixed<std::uint32_t>() == 0x12345678);
  CHECK(r.at() == reinterpret_cast<const std::uint8_t*>(b.address() + 6));
  CHECK(r.fixed<std::int8_t>() == -1);
  CHECK(r.ok());
  CHECK(r.fixed<std::uint8_t>() == 0);  // nothing left
  CHECK_FALSE(r.ok());

  Reader short_read = b.reader();
  short_read.skip(4);
  CHECK(short_read.ok());
  CHECK(short_read.fixed<std::uint32_t>() == 0);
  CHECK_FALSE(short_read.ok());
  CHECK(short_read.done());

  Reader long_skip = b.reader();
  long_skip.skip(8);
  CHECK_FALSE(long_skip.ok());
  CHECK(long_skip.done());
}

TEST_CASE("dwarf reader: pointer encodings, as written and as applied") {
  // absptr and udata8 (8 bytes), udata2, udata4, uleb128, sdata2, sdata4, sleb128.
  CHECK(read_pointer({0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}, 0x00) == 0x1122334455667788);
  CHECK(read_pointer({0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}, 0x04) == 0x1122334455667788);
  CHECK(read_pointer({0xfe, 0xff}, 0x02) == 0xfffe);
  CHECK(read_pointer({0xfe, 0xff, 0xff, 0xff}, 0x03) == 0xfffffffe);
  CHECK(read_pointer({0xe5, 0x8e, 0x26}, 0x01) == 624485);
  CHECK(read_pointer({0xfe, 0xff}, 0x0a) == static_cast<std::uint64_t>(-2));
  CHECK(read_pointer({0xfe, 0xff, 0xff, 0xff}, 0x0b) == static_cast<std::uint64_t>(-2));
  CHECK(read_pointer({0x7e}, 0x09) == static_cast<std::uint64_t>(-2));

  // pc-relative: from the address of the value itself; data-relative: from the base given.
  Buffer pcrel = {0xf0, 0xff, 0xff, 0xff};  // -16
  CHECK(read_pointer(pcrel, 0x1b) == pcrel.address() - 16);
  CHECK(read_pointer(pcrel, 0x3b, 0x10000) == 0x10000 - 16);
  // Not applied (an FDE's address range): the value format only.
  CHECK(read_pointer(pcrel, 0x1b, 0, false) == static_cast<std::uint64_t>(-16));
}

TEST_CASE("dwarf reader: encodings x86-64 Linux does not produce, and a value cut off, are refused") {
  Buffer b = {0x10, 0x00, 0x00, 0x00};
  CHECK(refuses_pointer(b, 0x23));  // textrel
  CHECK(refuses_pointer(b, 0x43));  // funcrel
  CHECK(refuses_pointer(b, 0x53));  // aligned
  CHECK(refuses_pointer(b, 0x9b));  // indirect
  CHECK(refuses_pointer(b, 0x0f));  // omit has no value format
  CHECK(refuses_pointer(b, 0x05));  // no such format
  Buffer cut = {0x10, 0x00};
  CHECK(refuses_pointer(cut, 0x03));
  CHECK(refuses_pointer(cut, 0x00));
}

}  // namespace measure::detail
