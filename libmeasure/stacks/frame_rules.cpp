#include "stacks/frame_rules.h"

#include <cstring>

#include "platform/platform.h"
#include "support/hash.h"

namespace measure::detail {
namespace {

std::uint64_t pack(FrameRule rule) noexcept {
  std::uint64_t word = 0;
  std::memcpy(&word, &rule, sizeof word);
  return word;
}

FrameRule unpack(std::uint64_t word) noexcept {
  FrameRule rule;
  std::memcpy(&rule, &word, sizeof rule);
  return rule;
}

}  // namespace

FrameRule compute_frame_rule(std::uintptr_t ip) noexcept {
  FrameRule rule{};
  std::uintptr_t hdr = 0;
  // ip - 1: the call instruction, which may be the last of its function (a noreturn call).
  // Without the loader's lookup (found < 0) every frame is stepped through its frame pointer.
  int found = platform::find_unwind_tables(ip - 1, &hdr);
  if (found <= 0 || hdr == 0) {
    rule.kind = FrameRule::no_tables;
  } else {
    rule = rule_from_tables(hdr, ip - 1);
  }
  return rule;
}

FrameRules::Table* FrameRules::replace(Table* t, std::uint32_t bits) noexcept {
  // One mapping: the header, then the entries (16 bytes each, from a 16-byte boundary).
  static_assert(sizeof(Table) % sizeof(Entry) == 0);
  std::size_t bytes = sizeof(Table) + (sizeof(Entry) << bits);
  auto* fresh = static_cast<Table*>(platform::map_pages(bytes));
  if (fresh == nullptr) {
    return t;
  }
  fresh->mask = (1U << bits) - 1;
  fresh->entries = reinterpret_cast<Entry*>(fresh + 1);
  if (!m_table.compare_exchange_strong(t, fresh, std::memory_order_acq_rel)) {
    platform::unmap_pages(fresh, bytes);  // another thread replaced it first
    return t;
  }
  m_memory.fetch_add(bytes, std::memory_order_relaxed);
  return fresh;
}

void FrameRules::forget(std::uint32_t generation) noexcept {
  m_generation.store(generation, std::memory_order_release);
  Table* t = m_table.load(std::memory_order_acquire);
  if (t == nullptr) {
    return;
  }
  // The rule before the address, the reverse of an insertion: a reader that finds its address
  // after reading the rule read that address's rule.
  for (std::uint32_t i = 0; i <= t->mask; ++i) {
    t->entries[i].rule.store(0, std::memory_order_release);
    t->entries[i].ip.store(0, std::memory_order_release);
  }
}

FrameRule FrameRules::lookup(std::uintptr_t ip) noexcept {
  Table* t = m_table.load(std::memory_order_acquire);
  if (__builtin_expect(t == nullptr, 0)) {
    t = replace(nullptr, first_bits);
  }
  if (t == nullptr) {
    return compute_frame_rule(ip);
  }
  auto index = static_cast<std::uint32_t>(mix64(ip));
  for (std::uint32_t probe = 0; probe < max_probes; ++probe) {
    Entry& e = t->entries[(index + probe) & t->mask];
    std::uintptr_t key = e.ip.load(std::memory_order_acquire);
    if (key == ip) {
      std::uint64_t word = e.rule.load(std::memory_order_acquire);
      if (word != 0 && e.ip.load(std::memory_order_acquire) == ip) {
        return unpack(word);
      }
      break;  // another thread is computing it, or emptied the table: compute it too
    }
    if (key == 0) {
      FrameRule rule = compute_frame_rule(ip);
      if (e.ip.compare_exchange_strong(key, ip, std::memory_order_acq_rel)) {
        e.rule.store(pack(rule), std::memory_order_release);
      }
      return rule;
    }
  }
  // A crowded neighbourhood: the next lookups fill a larger table (they recompute what the old
  // one held, once each).
  if (t->mask + 1 < (1U << max_bits)) {
    replace(t, __builtin_ctz(t->mask + 1) + 2);
  }
  return compute_frame_rule(ip);
}

}  // namespace measure::detail
