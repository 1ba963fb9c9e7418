#include "record/pointer_table.h"

#include "platform/platform.h"
#include "support/hash.h"
#include "support/internal_alloc.h"

namespace measure::detail {
namespace {

// value = size (35 bits) | round_up (1 bit) << 35 | family (2 bits) << 36 | stack (26 bits) << 38
constexpr std::uint64_t size_bits = 35;
constexpr std::uint64_t size_mask = (1ULL << size_bits) - 1;  // also the "see oversize" marker
constexpr std::uint64_t family_shift = size_bits + 1;
constexpr std::uint64_t stack_shift = family_shift + 2;
constexpr std::uint32_t initial_capacity = 16;

struct Position {
  std::uint32_t shard;
  std::uint64_t hash;
};

Position locate(std::uintptr_t address) noexcept {
  std::uint64_t h = mix64(address);
  return {static_cast<std::uint32_t>(h & ((1U << PointerTable::shard_bits) - 1)), h >> PointerTable::shard_bits};
}

}  // namespace

std::uint64_t PointerTable::pack(const BlockInfo& info) noexcept {
  std::uint64_t size = info.size < size_mask ? info.size : size_mask;
  return size | static_cast<std::uint64_t>(info.round_up) << size_bits |
         static_cast<std::uint64_t>(info.family) << family_shift |
         static_cast<std::uint64_t>(info.stack) << stack_shift;
}

BlockInfo PointerTable::unpack_fields(std::uint64_t value) noexcept {
  BlockInfo info;
  info.size = value & size_mask;
  info.round_up = ((value >> size_bits) & 1U) != 0;
  info.family = static_cast<AllocFamily>((value >> family_shift) & 3U);
  info.stack = static_cast<std::uint32_t>(value >> stack_shift);
  return info;
}

BlockInfo PointerTable::unpack(std::uintptr_t key, std::uint64_t value) noexcept {
  BlockInfo info = unpack_fields(value);
  if (info.size == size_mask) {
    info.size = take_oversize(key, false);
  }
  return info;
}

bool PointerTable::grow(Shard& shard) noexcept {
  std::uint32_t capacity = shard.capacity == 0 ? initial_capacity : shard.capacity * 2;
  auto* slots = static_cast<Slot*>(internal_alloc(sizeof(Slot) * capacity));
  if (slots == nullptr) {
    return false;
  }
  platform::populate_pages(slots, sizeof(Slot) * capacity);  // the rehash below reads every page
  std::uint32_t mask = capacity - 1;
  for (std::uint32_t i = 0; i < shard.capacity; ++i) {
    const Slot& old = shard.slots[i];
    if (old.key == 0) {
      continue;
    }
    std::uint32_t j = static_cast<std::uint32_t>(locate(old.key).hash) & mask;
    while (slots[j].key != 0) {
      j = (j + 1) & mask;
    }
    slots[j] = old;
  }
  internal_free(shard.slots, sizeof(Slot) * shard.capacity);
  shard.slots = slots;
  shard.capacity = capacity;
  return true;
}

bool PointerTable::insert(std::uintptr_t address, const BlockInfo& info) noexcept {
  if (info.size >= size_mask && !remember_oversize(address, info.size)) {
    return false;
  }
  Position pos = locate(address);
  Shard& shard = m_shards[pos.shard];
  SpinGuard guard(shard.lock);
  // Keep the load at or under 0.7; if growing fails, use the slack up to one free slot.
  if ((shard.count + 1) * 10 > shard.capacity * 7 && !grow(shard) && shard.count + 1 >= shard.capacity) {
    return false;
  }
  std::uint32_t mask = shard.capacity - 1;
  std::uint32_t i = static_cast<std::uint32_t>(pos.hash) & mask;
  while (shard.slots[i].key != 0 && shard.slots[i].key != address) {
    i = (i + 1) & mask;
  }
  if (shard.slots[i].key == 0) {
    ++shard.count;
  }
  shard.slots[i] = Slot{address, pack(info)};
  return true;
}

std::int64_t PointerTable::slot_of(const Shard& shard, std::uint64_t hash, std::uintptr_t address) noexcept {
  if (shard.capacity == 0) {
    return -1;
  }
  std::uint32_t mask = shard.capacity - 1;
  for (std::uint32_t i = static_cast<std::uint32_t>(hash) & mask;; i = (i + 1) & mask) {
    if (shard.slots[i].key == address) {
      return i;
    }
    if (shard.slots[i].key == 0) {
      return -1;
    }
  }
}

bool PointerTable::find(std::uintptr_t address, BlockInfo* info) noexcept {
  Position pos = locate(address);
  Shard& shard = m_shards[pos.shard];
  std::uint64_t value = 0;
  {
    SpinGuard guard(shard.lock);
    std::int64_t slot = slot_of(shard, pos.hash, address);
    if (slot < 0) {
      return false;
    }
    value = shard.slots[slot].value;
  }
  *info = unpack(address, value);
  return true;
}

bool PointerTable::remove(std::uintptr_t address, BlockInfo* info) noexcept {
  Position pos = locate(address);
  Shard& shard = m_shards[pos.shard];
  std::uint64_t value = 0;
  {
    SpinGuard guard(shard.lock);
    std::int64_t slot = slot_of(shard, pos.hash, address);
    if (slot < 0) {
      return false;
    }
    std::uint32_t mask = shard.capacity - 1;
    auto i = static_cast<std::uint32_t>(slot);
    value = shard.slots[i].value;
    // Backward-shift deletion: pull later members of the probe run into the hole so lookups
    // never need tombstones.
    std::uint32_t hole = i;
    for (std::uint32_t j = (i + 1) & mask; shard.slots[j].key != 0; j = (j + 1) & mask) {
      std::uint32_t home = static_cast<std::uint32_t>(locate(shard.slots[j].key).hash) & mask;
      bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
      if (movable) {
        shard.slots[hole] = shard.slots[j];
        hole = j;
      }
    }
    shard.slots[hole] = Slot{0, 0};
    --shard.count;
  }
  *info = unpack_fields(value);
  if (info->size == size_mask) {
    info->size = take_oversize(address, true);
  }
  return true;
}

std::uint64_t PointerTable::size() noexcept {
  std::uint64_t total = 0;
  for (Shard& shard : m_shards) {
    SpinGuard guard(shard.lock);
    total += shard.count;
  }
  return total;
}

void PointerTable::for_each(void (*visit)(std::uintptr_t, const BlockInfo&, void*), void* context) noexcept {
  for (Shard& shard : m_shards) {
    SpinGuard guard(shard.lock);
    for (std::uint32_t i = 0; i < shard.capacity; ++i) {
      if (shard.slots[i].key != 0) {
        visit(shard.slots[i].key, unpack(shard.slots[i].key, shard.slots[i].value), context);
      }
    }
  }
}

void PointerTable::retag_all(std::uint32_t stack) noexcept {
  constexpr std::uint64_t keep = (1ULL << stack_shift) - 1;  // size, round_up and family
  for (Shard& shard : m_shards) {
    for (std::uint32_t i = 0; i < shard.capacity; ++i) {
      Slot& slot = shard.slots[i];
      if (slot.key == 0) {
        continue;
      }
      slot.value = (slot.value & keep) | static_cast<std::uint64_t>(stack) << stack_shift;
    }
  }
}

std::uint64_t PointerTable::memory_bytes() noexcept {
  std::uint64_t total = sizeof(*this);
  for (Shard& shard : m_shards) {
    SpinGuard guard(shard.lock);
    total += static_cast<std::uint64_t>(shard.capacity) * sizeof(Slot);
  }
  return total;
}

bool PointerTable::remember_oversize(std::uintptr_t key, std::uint64_t size) noexcept {
  SpinGuard guard(m_oversize_lock);
  if (m_oversize_count == m_oversize_capacity) {
    std::uint32_t capacity = m_oversize_capacity == 0 ? 8 : m_oversize_capacity * 2;
    auto* grown = static_cast<Oversize*>(internal_alloc(sizeof(Oversize) * capacity));
    if (grown == nullptr) {
      return false;
    }
    for (std::uint32_t i = 0; i < m_oversize_count; ++i) {
      grown[i] = m_oversize[i];
    }
    internal_free(m_oversize, sizeof(Oversize) * m_oversize_capacity);
    m_oversize = grown;
    m_oversize_capacity = capacity;
  }
  m_oversize[m_oversize_count++] = Oversize{key, size};
  return true;
}

std::uint64_t PointerTable::take_oversize(std::uintptr_t key, bool erase) noexcept {
  SpinGuard guard(m_oversize_lock);
  for (std::uint32_t i = 0; i < m_oversize_count; ++i) {
    if (m_oversize[i].key == key) {
      std::uint64_t size = m_oversize[i].size;
      if (erase) {
        m_oversize[i] = m_oversize[--m_oversize_count];
      }
      return size;
    }
  }
  return size_mask;
}

void PointerTable::lock_all() noexcept {
  for (Shard& shard : m_shards) {
    shard.lock.lock();
  }
  m_oversize_lock.lock();
}

void PointerTable::unlock_all() noexcept {
  m_oversize_lock.unlock();
  for (Shard& shard : m_shards) {
    shard.lock.unlock();
  }
}

void PointerTable::reset_locks_after_fork() noexcept {
  m_oversize_lock.reset_after_fork();
  for (Shard& shard : m_shards) {
    shard.lock.reset_after_fork();
  }
}

}  // namespace measure::detail
