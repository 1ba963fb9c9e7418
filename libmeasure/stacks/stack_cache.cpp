#include "stacks/stack_cache.h"

#include <cstring>

#include "support/internal_alloc.h"

namespace measure::detail {
namespace {

// Check lists are allocated in steps of 8 entries, so a slot reused by a similar walk keeps
// its memory.
std::uint32_t rounded_capacity(std::uint32_t count) noexcept {
  return (count + 7U) & ~7U;
}

}  // namespace

StackCache::Entry& StackCache::slot_for(const CallerFrame& start) noexcept {
  std::uint32_t set = set_of(start);
  Entry* entries = &m_entries[set * ways];
  for (std::uint32_t way = 0; way < ways; ++way) {
    if (entries[way].ip == 0) {
      return entries[way];
    }
  }
  std::uint32_t victim = m_victim[set];
  m_victim[set] = static_cast<std::uint8_t>((victim + 1) % ways);
  return entries[victim];
}

void StackCache::remember(const CallerFrame& start, bool fp_used, std::uint32_t generation, std::uint32_t stack,
                          const StackCheck* checks, std::uint32_t check_count) noexcept {
  Entry& e = slot_for(start);
  std::uint32_t capacity = rounded_capacity(check_count == 0 ? 1 : check_count);
  if (e.checks == nullptr || e.check_capacity < capacity) {
    auto* fresh = static_cast<StackCheck*>(internal_alloc(sizeof(StackCheck) * capacity));
    if (fresh == nullptr) {
      return;
    }
    if (e.checks != nullptr) {
      internal_free(e.checks, sizeof(StackCheck) * e.check_capacity);
      m_memory -= sizeof(StackCheck) * e.check_capacity;
    }
    e.checks = fresh;
    e.check_capacity = capacity;
    m_memory += sizeof(StackCheck) * capacity;
  }
  if (check_count != 0) {
    std::memcpy(e.checks, checks, sizeof(StackCheck) * check_count);
  }
  e.check_count = check_count;
  e.ip = start.ip;
  e.sp = start.sp;
  e.fp = start.fp;
  e.fp_used = fp_used;
  e.stack = stack;
  e.generation = generation;
}

void StackCache::clear() noexcept {
  for (Entry& e : m_entries) {
    e.ip = 0;
    e.sp = 0;
  }
}

}  // namespace measure::detail
