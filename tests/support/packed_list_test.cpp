// PackedList, the delta-coded lists that hold a capture's return addresses and a report's
// frame indices: every list of values comes back exactly, whatever the jumps between them
// (the whole 64-bit range, backwards, repeated), and equal values make equal lists.
#include "support/packed_list.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <doctest/doctest.h>

using measure::PackedList;

namespace {

template <class T>
std::vector<T> random_values(std::mt19937_64& rng, std::size_t count) {
  std::vector<T> values(count);
  T previous = 0;
  for (T& v : values) {
    switch (rng() % 4) {
      case 0:  // anywhere
        v = static_cast<T>(rng());
        break;
      case 1:  // near the last one, either way
        v = static_cast<T>(previous + static_cast<T>(rng() % 8192) - 4096);
        break;
      case 2:  // an extreme
        v = rng() % 2 == 0 ? T{0} : std::numeric_limits<T>::max();
        break;
      default:  // the same again
        v = previous;
        break;
    }
    previous = v;
  }
  return values;
}

template <class T>
void check_round_trip(const std::vector<T>& values) {
  PackedList<T> list(values);
  REQUIRE(list.size() == values.size());
  CHECK(list.empty() == values.empty());
  CHECK(list.to_vector() == values);
  CHECK(list == values);
  std::vector<T> iterated;
  for (T v : list) {
    iterated.push_back(v);
  }
  CHECK(iterated == values);
  if (!values.empty()) {
    CHECK(list.front() == values.front());
  }
}

}  // namespace

TEST_CASE("every list of values comes back as it went in") {
  std::mt19937_64 rng(20261207);
  for (std::size_t count : {0, 1, 2, 46, 255, 256, 257, 1024, 5000}) {
    for (int round = 0; round < 20; ++round) {
      check_round_trip(random_values<std::uint64_t>(rng, count));
      check_round_trip(random_values<std::uint32_t>(rng, count));
    }
  }
  check_round_trip(std::vector<std::uint64_t>{0, std::numeric_limits<std::uint64_t>::max(), 0, 1});
  check_round_trip(std::vector<std::uint32_t>{std::numeric_limits<std::uint32_t>::max(), 0, 7, 7, 7});
}

TEST_CASE("nearby return addresses take a few bytes each") {
  // A 46-frame stack within one library's text: the reason for the packing.
  std::vector<std::uint64_t> stack;
  for (std::uint64_t i = 0; i < 46; ++i) {
    stack.push_back(0x7f3a12340000 + (i * 7919) % 65536);
  }
  PackedList<std::uint64_t> list(stack);
  CHECK(list.coded_bytes() <= 46 * 3);
  CHECK(list.coded_bytes() >= 46);
  CHECK(sizeof(list) == 16);
}

TEST_CASE("equal values make equal lists; copies, moves and clearing") {
  std::vector<std::uint64_t> a{0x401000, 0x401100, 0x500000};
  std::vector<std::uint64_t> b{0x401000, 0x401100, 0x500001};
  PackedList<std::uint64_t> pa(a);
  PackedList<std::uint64_t> pa2{0x401000, 0x401100, 0x500000};
  PackedList<std::uint64_t> pb(b);
  CHECK(pa == pa2);
  CHECK_FALSE(pa == pb);
  CHECK_FALSE(pa == PackedList<std::uint64_t>{0x401000, 0x401100});
  CHECK_FALSE(pa == std::vector<std::uint64_t>{0x401000, 0x401100});

  PackedList<std::uint64_t> copy = pa;
  CHECK(copy == a);
  copy = pb;
  CHECK(copy == b);
  CHECK(pa == a);  // the source of a copy is untouched
  const PackedList<std::uint64_t>& self = copy;
  copy = self;  // assigning a list to itself keeps its values
  CHECK(copy == b);
  PackedList<std::uint64_t> moved = std::move(copy);
  CHECK(moved == b);

  moved.clear();
  CHECK(moved.empty());
  CHECK(moved.begin() == moved.end());
  CHECK(moved == std::vector<std::uint64_t>{});
  CHECK(moved == PackedList<std::uint64_t>{});
}

TEST_CASE("the standard algorithms read a list as a forward range") {
  std::vector<std::uint32_t> a{3, 1, 4, 1, 5, 9, 2, 6};
  std::vector<std::uint32_t> b{3, 1, 4, 1, 5, 9, 2, 7};
  PackedList<std::uint32_t> pa(a);
  PackedList<std::uint32_t> pb(b);
  CHECK(std::lexicographical_compare(pa.begin(), pa.end(), pb.begin(), pb.end()));
  CHECK_FALSE(std::lexicographical_compare(pb.begin(), pb.end(), pa.begin(), pa.end()));
  CHECK(std::equal(pa.begin(), pa.end(), a.begin(), a.end()));
  CHECK(*std::find(pa.begin(), pa.end(), 9U) == 9U);
  CHECK(std::count(pa.begin(), pa.end(), 1U) == 2);
  std::vector<std::uint32_t> into;
  pb.decode(into);
  pa.decode(into);  // replaces what it held
  CHECK(into == a);
}
