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

FrameRules::Entry* FrameRules::table() noexcept {
  Entry* t = m_table.load(std::memory_order_acquire);
  if (__builtin_expect(t != nullptr, 1)) {
    return t;
  }
  constexpr std::size_t bytes = sizeof(Entry) << table_bits;
  auto* fresh = static_cast<Entry*>(platform::map_pages(bytes));
  if (fresh == nullptr) {
    return nullptr;
  }
  if (!m_table.compare_exchange_strong(t, fresh, std::memory_order_acq_rel)) {
    platform::unmap_pages(fresh, bytes);
    return t;
  }
  m_memory.fetch_add(bytes, std::memory_order_relaxed);
  return fresh;
}

FrameRule FrameRules::lookup(std::uintptr_t ip) noexcept {
  Entry* t = table();
  if (t == nullptr) {
    m_uncached.fetch_add(1, std::memory_order_relaxed);
    return compute_frame_rule(ip);
  }
  constexpr std::uint32_t mask = (1U << table_bits) - 1;
  auto index = static_cast<std::uint32_t>(mix64(ip));
  for (std::uint32_t probe = 0; probe < max_probes; ++probe) {
    Entry& e = t[(index + probe) & mask];
    std::uintptr_t key = e.ip.load(std::memory_order_acquire);
    if (key == ip) {
      std::uint64_t word = e.rule.load(std::memory_order_acquire);
      if (word != 0) {
        return unpack(word);
      }
      break;  // another thread is computing it: compute it too
    }
    if (key == 0) {
      FrameRule rule = compute_frame_rule(ip);
      if (e.ip.compare_exchange_strong(key, ip, std::memory_order_acq_rel)) {
        e.rule.store(pack(rule), std::memory_order_release);
      }
      return rule;
    }
  }
  m_uncached.fetch_add(1, std::memory_order_relaxed);
  return compute_frame_rule(ip);
}

void FrameRules::flush() noexcept {
  // Leaves the old table mapped (a walk in progress may still read it) and lets the next
  // lookup map a fresh one.
  m_table.store(nullptr, std::memory_order_release);
}

}  // namespace measure::detail
