#include "stacks/stack_table.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "platform/platform.h"
#include "support/internal_alloc.h"

namespace measure::detail {
namespace {
constexpr std::size_t directory_entries = (StackTable::max_id >> 12) + 1;

// The bytes of a record whose frames take `coded_size` bytes, rounded up to keep records 8-byte
// aligned one after another.
std::size_t record_bytes(std::size_t coded_size) noexcept {
  std::size_t bytes = offsetof(StackRecord, coded) + coded_size;
  bytes = bytes < sizeof(StackRecord) ? sizeof(StackRecord) : bytes;
  return (bytes + 7) & ~std::size_t{7};
}

// Record blocks grow from 4 KiB to 64 KiB: a small program holds a few KiB of stacks, a
// large one pays one partly used block at the end.
constexpr std::size_t first_block = 4096;
constexpr std::size_t largest_block = 65536;
static_assert(StackTable::max_coded_size(StackTable::max_frames) + sizeof(StackRecord) <= first_block,
              "the deepest record fits in the first block");

}  // namespace

std::size_t StackTable::code(const std::uintptr_t* frames, std::uint32_t depth, std::uint8_t* out) noexcept {
  std::uint8_t* at = out;
  std::uint64_t previous = 0;
  for (std::uint32_t i = 0; i < depth; ++i) {
    auto delta = static_cast<std::int64_t>(static_cast<std::uint64_t>(frames[i]) - previous);
    previous = frames[i];
    // Zigzag: small differences of either sign become small numbers.
    std::uint64_t z = (static_cast<std::uint64_t>(delta) << 1) ^ static_cast<std::uint64_t>(delta >> 63);
    if (__builtin_expect(z < escape, 1)) {
      auto word = static_cast<std::uint16_t>(z);
      std::memcpy(at, &word, sizeof word);
      at += sizeof word;
    } else {
      std::memcpy(at, &escape, sizeof escape);
      std::uint64_t absolute = frames[i];
      std::memcpy(at + sizeof escape, &absolute, sizeof absolute);
      at += sizeof escape + sizeof absolute;
    }
  }
  return static_cast<std::size_t>(at - out);
}

std::uint32_t StackTable::frames(const StackRecord& record, std::uintptr_t* out) noexcept {
  const std::uint8_t* at = record.coded;
  std::uint64_t previous = 0;
  for (std::uint32_t i = 0; i < record.depth; ++i) {
    std::uint16_t word = 0;
    std::memcpy(&word, at, sizeof word);
    at += sizeof word;
    if (__builtin_expect(word != escape, 1)) {
      std::uint64_t z = word;
      previous += (z >> 1) ^ (~(z & 1) + 1);
    } else {
      std::memcpy(&previous, at, sizeof previous);
      at += sizeof previous;
    }
    out[i] = static_cast<std::uintptr_t>(previous);
  }
  return record.depth;
}

bool StackTable::init() noexcept {
  if (m_directory != nullptr) {
    return true;
  }
  // The directory is mapped, not allocated: 128 KiB of address space, committed on touch.
  void* mem = platform::map_pages(sizeof(std::atomic<StackRecord**>) * directory_entries);
  if (mem == nullptr) {
    return false;
  }
  m_directory = static_cast<std::atomic<StackRecord**>*>(mem);
  // Id 0 is the empty stack.
  StackRecord* empty = allocate_record(record_bytes(0));
  if (empty == nullptr) {
    return false;
  }
  return publish(empty) == unknown_id;
}

StackRecord* StackTable::allocate_record(std::size_t bytes) noexcept {
  SpinGuard guard(m_publish_lock);
  if (m_block == nullptr || m_block_used + bytes > m_block_size) {
    std::size_t size = m_block_size == 0 ? first_block : std::min(2 * m_block_size, largest_block);
    auto* block = static_cast<std::uint8_t*>(internal_alloc(size));
    if (block == nullptr) {
      return nullptr;
    }
    platform::populate_pages(block, size);  // records fill it from the start, one after another
    m_memory.fetch_add(size, std::memory_order_relaxed);
    m_block = block;
    m_block_size = size;
    m_block_used = 0;
  }
  auto* record = reinterpret_cast<StackRecord*>(m_block + m_block_used);  // zeroed by internal_alloc
  m_block_used += bytes;
  return record;
}

const StackRecord* StackTable::get(std::uint32_t id) const noexcept {
  if (m_directory == nullptr || id >= count()) {
    return nullptr;
  }
  StackRecord** chunk = m_directory[id >> chunk_bits].load(std::memory_order_acquire);
  return chunk == nullptr ? nullptr : chunk[id & ((1U << chunk_bits) - 1)];
}

std::uint32_t StackTable::publish(StackRecord* record) noexcept {
  SpinGuard guard(m_publish_lock);
  std::uint32_t id = m_count.load(std::memory_order_relaxed);
  if (id > max_id) {
    return UINT32_MAX;
  }
  std::atomic<StackRecord**>& slot = m_directory[id >> chunk_bits];
  StackRecord** chunk = slot.load(std::memory_order_relaxed);
  if (chunk == nullptr) {
    std::size_t bytes = sizeof(StackRecord*) << chunk_bits;  // NOLINT(bugprone-sizeof-expression): pointers
    chunk = static_cast<StackRecord**>(internal_alloc(bytes));
    if (chunk == nullptr) {
      return UINT32_MAX;
    }
    m_memory.fetch_add(bytes, std::memory_order_relaxed);
    slot.store(chunk, std::memory_order_release);
  }
  chunk[id & ((1U << chunk_bits) - 1)] = record;
  m_count.store(id + 1, std::memory_order_release);
  return id;
}

bool StackTable::grow(Shard& shard) noexcept {
  std::uint32_t capacity = shard.capacity == 0 ? 64 : shard.capacity * 2;
  auto* slots = static_cast<IndexSlot*>(internal_alloc(sizeof(IndexSlot) * capacity));
  if (slots == nullptr) {
    return false;
  }
  platform::populate_pages(slots, sizeof(IndexSlot) * capacity);  // the rehash below reads every page
  std::uint32_t mask = capacity - 1;
  for (std::uint32_t i = 0; i < shard.capacity; ++i) {
    if (shard.slots[i].id == unknown_id) {
      continue;
    }
    std::uint32_t j = shard.slots[i].hash & mask;
    while (slots[j].id != unknown_id) {
      j = (j + 1) & mask;
    }
    slots[j] = shard.slots[i];
  }
  internal_free(shard.slots, sizeof(IndexSlot) * shard.capacity);
  m_memory.fetch_add(sizeof(IndexSlot) * (capacity - shard.capacity), std::memory_order_relaxed);
  shard.slots = slots;
  shard.capacity = capacity;
  return true;
}

std::uint32_t StackTable::intern(const std::uintptr_t* frames, std::uint32_t depth, std::uint32_t generation,
                                 std::uint32_t flags, std::uint64_t hash) noexcept {
  if (depth > max_frames) {
    return unknown_id;
  }
  std::uint8_t coded[max_coded_size(max_frames)];
  std::size_t coded_size = code(frames, depth, coded);
  Shard& shard = m_shards[hash & ((1U << shard_bits) - 1)];
  std::uint32_t placed = slot_hash(hash);
  SpinGuard guard(shard.lock);
  if (shard.capacity != 0) {
    std::uint32_t mask = shard.capacity - 1;
    for (std::uint32_t i = placed & mask; shard.slots[i].id != unknown_id; i = (i + 1) & mask) {
      if (shard.slots[i].hash == placed) {
        const StackRecord* record = get(shard.slots[i].id);
        if (record != nullptr && record->depth == depth && record->generation == generation &&
            record->coded_size == coded_size && std::memcmp(record->coded, coded, coded_size) == 0) {
          return shard.slots[i].id;
        }
      }
    }
  }
  if ((shard.count + 1) * 4 > shard.capacity * 3 && !grow(shard)) {
    return unknown_id;
  }
  std::size_t bytes = record_bytes(coded_size);
  StackRecord* record = allocate_record(bytes);
  if (record == nullptr) {
    return unknown_id;
  }
  record->depth = static_cast<std::uint16_t>(depth);
  record->coded_size = static_cast<std::uint16_t>(coded_size);
  record->generation = generation;
  record->flags = static_cast<std::uint8_t>(flags);
  std::memcpy(record->coded, coded, coded_size);
  std::uint32_t id = publish(record);
  if (id == UINT32_MAX) {
    return unknown_id;  // the record's bytes stay in its block, unused: the table is full anyway
  }
  std::uint32_t mask = shard.capacity - 1;
  std::uint32_t i = placed & mask;
  while (shard.slots[i].id != unknown_id) {
    i = (i + 1) & mask;
  }
  shard.slots[i] = IndexSlot{placed, id};
  ++shard.count;
  return id;
}

void StackTable::lock_all() noexcept {
  for (Shard& shard : m_shards) {
    shard.lock.lock();
  }
  m_publish_lock.lock();
}

void StackTable::unlock_all() noexcept {
  m_publish_lock.unlock();
  for (Shard& shard : m_shards) {
    shard.lock.unlock();
  }
}

void StackTable::reset_locks_after_fork() noexcept {
  m_publish_lock.reset_after_fork();
  for (Shard& shard : m_shards) {
    shard.lock.reset_after_fork();
  }
}

}  // namespace measure::detail
