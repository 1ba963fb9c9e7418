// The block shadow on real blocks of the C library's allocator, with its real
// malloc_usable_size: sizes come back exactly, and what it cannot hold it refuses. The
// functions are taken from libc.so.6 itself (support/libc_allocator.h).
#include "record/block_shadow.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "support/libc_allocator.h"

using measure::detail::AllocFamily;
using measure::detail::BlockInfo;
using measure::detail::BlockShadow;

namespace {
using measure::test::libc_allocator;
std::size_t usable(void* p) {
  return measure::test::libc_usable_size(p);
}
void* allocate(std::size_t n) {
  return libc_allocator().malloc(n);
}
void release(void* p) {
  libc_allocator().free(p);
}
std::uintptr_t key(void* p) {
  return reinterpret_cast<std::uintptr_t>(p);
}
// A shadow answering for glibc's blocks, with two-byte cells (palette indexes) when
// `with_stacks`.
std::unique_ptr<BlockShadow> enabled_shadow(bool with_stacks) {
  auto shadow = std::make_unique<BlockShadow>();
  REQUIRE(shadow->enable(&usable, with_stacks));
  return shadow;
}
}  // namespace

TEST_CASE("block shadow: off until enabled, then exact for every small size") {
  auto shadow = std::make_unique<BlockShadow>();
  void* p = allocate(40);
  BlockInfo info;
  CHECK_FALSE(shadow->enter(key(p), 40, AllocFamily::malloc));
  CHECK_FALSE(shadow->take(key(p), &info));
  CHECK(shadow->memory_bytes() == 0);
  release(p);

  REQUIRE(shadow->enable(&usable, false));
  std::vector<void*> blocks;
  for (std::size_t n = 0; n <= 480; ++n) {
    blocks.push_back(allocate(n));
    CAPTURE(n);
    REQUIRE(shadow->enter(key(blocks.back()), n, n % 2 == 0 ? AllocFamily::malloc : AllocFamily::new_array));
  }
  CHECK(shadow->memory_bytes() > 0);
  for (std::size_t n = 0; n <= 480; ++n) {
    CAPTURE(n);
    REQUIRE(shadow->find(key(blocks[n]), &info));
    CHECK(info.size == n);
    REQUIRE(shadow->take(key(blocks[n]), &info));
    CHECK(info.size == n);
    CHECK(info.stack == 0);
    CHECK(info.family == (n % 2 == 0 ? AllocFamily::malloc : AllocFamily::new_array));
    CHECK_FALSE(shadow->take(key(blocks[n]), &info));  // taken once
    release(blocks[n]);
  }
}

TEST_CASE("block shadow: glibc's chunk header gives what its malloc_usable_size gives") {
  CHECK(measure::detail::platform::in_glibc(reinterpret_cast<const void*>(libc_allocator().usable)));
  CHECK_FALSE(measure::detail::platform::in_glibc(reinterpret_cast<const void*>(&usable)));
  for (std::size_t n : {0UL, 1UL, 24UL, 25UL, 40UL, 1000UL, 4096UL, 100000UL, 200000UL, 5UL << 20}) {
    CAPTURE(n);
    void* p = allocate(n);
    CHECK(measure::detail::platform::glibc_usable_size(p) == usable(p));
    release(p);
  }
}

TEST_CASE("block shadow: refuses what it cannot hold exactly") {
  auto shadow = enabled_shadow(false);
  BlockInfo info;
  // Slack over 63 bytes: an mmapped block rounds up to a page (64 MiB is over glibc's
  // largest mmap threshold, so it is always mmapped).
  constexpr std::size_t big_size = (std::size_t{64} << 20) + 1;
  void* big = allocate(big_size);
  CHECK_FALSE(shadow->enter(key(big), big_size, AllocFamily::malloc));
  CHECK_FALSE(shadow->take(key(big), &info));
  // A size the block is too small for, an unaligned address, a reported block's key.
  void* small = allocate(64);
  CHECK_FALSE(shadow->enter(key(small), 4096, AllocFamily::malloc));
  CHECK_FALSE(shadow->enter(key(small) + 8, 8, AllocFamily::malloc));
  CHECK_FALSE(shadow->enter(key(small) | std::uintptr_t{1} << 63, 64, AllocFamily::reported));
  CHECK_FALSE(shadow->enter(key(small), 64, AllocFamily::reported));  // even at a plain address
  // Blocks whose cells would cost more than the table, on a shadow page no smaller block
  // uses: over 512 usable bytes (256 with two-byte cells).
  void* mid = allocate(600);
  CHECK_FALSE(shadow->enter(key(mid), 600, AllocFamily::malloc));
  auto wide = enabled_shadow(true);
  void* quarter = allocate(300);
  CHECK_FALSE(wide->enter(key(quarter), 300, AllocFamily::malloc, 1));
  CHECK(wide->enter(key(small), 64, AllocFamily::malloc, 1));
  CHECK(wide->take(key(small), &info));
  release(mid);
  release(quarter);
  // clear forgets a block (it is about to enter the table instead).
  REQUIRE(shadow->enter(key(small), 64, AllocFamily::malloc));
  shadow->clear(key(small));
  CHECK_FALSE(shadow->find(key(small), &info));
  release(small);
  release(big);
}

TEST_CASE("block shadow: slack up to 63 bytes, as aligned and grown-in-place blocks have") {
  for (bool with_stacks : {false, true}) {
    CAPTURE(with_stacks);
    auto shadow = enabled_shadow(with_stacks);
    void* p = allocate(100);
    std::size_t room = usable(p);
    BlockInfo info;
    for (std::size_t slack : {0UL, 31UL, 32UL, 63UL}) {
      CAPTURE(slack);
      REQUIRE(shadow->enter(key(p), room - slack, AllocFamily::new_scalar, with_stacks ? 7U : 0U));
      REQUIRE(shadow->take(key(p), &info));
      CHECK(info.size == room - slack);
      CHECK(info.family == AllocFamily::new_scalar);
      CHECK(info.stack == (with_stacks ? 7U : 0U));
    }
    CHECK_FALSE(shadow->enter(key(p), room - 64, AllocFamily::malloc));
    CHECK_FALSE(shadow->find(key(p), &info));
    release(p);
  }
}

TEST_CASE("block shadow: a larger block enters when its cell's page is already in use") {
  for (bool with_stacks : {false, true}) {
    CAPTURE(with_stacks);
    auto shadow = enabled_shadow(with_stacks);
    // One page of cells covers 64 KiB of heap (32 KiB with two-byte cells); find a small and
    // a larger block whose cells share a page.
    const std::uintptr_t page_span = with_stacks ? 32768 : 65536;
    // (Small blocks come from the allocator's bins first, then from the top, right after the
    // larger block.)
    void* large = allocate(3000);
    std::vector<void*> held;
    void* small = nullptr;
    for (int attempt = 0; attempt < 20000 && small == nullptr; ++attempt) {
      held.push_back(allocate(64));
      if (key(held.back()) / page_span == key(large) / page_span) {
        small = held.back();
      }
    }
    held.push_back(large);
    REQUIRE(small != nullptr);
    BlockInfo info;
    CHECK_FALSE(shadow->enter(key(large), 3000, AllocFamily::malloc, 1));  // its page is unused
    REQUIRE(shadow->enter(key(small), 64, AllocFamily::malloc, 1));
    REQUIRE(shadow->enter(key(large), 3000, AllocFamily::new_array, 1));  // now it costs nothing
    REQUIRE(shadow->take(key(large), &info));
    CHECK(info.size == 3000);
    CHECK(info.family == AllocFamily::new_array);
    CHECK(info.stack == (with_stacks ? 1U : 0U));
    CHECK(shadow->take(key(small), &info));
    for (void* p : held) {
      release(p);
    }
  }
}

TEST_CASE("block shadow: blocks entered on one thread are taken on another") {
  auto shadow = enabled_shadow(false);
  constexpr int count = 20000;
  std::vector<void*> blocks(count);
  std::thread producer([&] {
    for (int i = 0; i < count; ++i) {
      blocks[i] = allocate(static_cast<std::size_t>(i % 500));
      shadow->enter(key(blocks[i]), static_cast<std::size_t>(i % 500), AllocFamily::malloc);
    }
  });
  producer.join();
  std::uint64_t bytes = 0;
  std::thread consumer([&] {
    BlockInfo info;
    for (void* p : blocks) {
      if (shadow->take(key(p), &info)) {
        bytes += info.size;
      }
      release(p);
    }
  });
  consumer.join();
  std::uint64_t expected = 0;
  for (int i = 0; i < count; ++i) {
    expected += static_cast<std::uint64_t>(i % 500);
  }
  CHECK(bytes == expected);
}

TEST_CASE("block shadow: two-byte cells keep a palette index with the size and family") {
  auto shadow = enabled_shadow(true);
  std::vector<void*> blocks;
  for (std::uint32_t i = 0; i < 600; ++i) {
    std::size_t n = 9 + i % 230;
    blocks.push_back(allocate(n));
    auto family = static_cast<AllocFamily>(i % 3);
    REQUIRE(shadow->enter(key(blocks.back()), n, family, 1 + i % BlockShadow::max_stack_index));
  }
  for (std::uint32_t i = 0; i < 600; ++i) {
    CAPTURE(i);
    BlockInfo info;
    REQUIRE(shadow->take(key(blocks[i]), &info));
    CHECK(info.size == 9 + i % 230);
    CHECK(info.stack == 1 + i % BlockShadow::max_stack_index);
    CHECK(info.family == static_cast<AllocFamily>(i % 3));
    release(blocks[i]);
  }
}
