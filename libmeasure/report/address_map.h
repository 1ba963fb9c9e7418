// An open-addressing hash map from (return address, module generation) to a run of interned
// frames. Reports look up every frame of every stack (3 million for 100,000 stacks of 30
// frames); node-based maps spend most of that time on cache misses.
#pragma once

#include <cstdint>
#include <vector>

namespace measure::detail {

class AddressMap {
 public:
  struct Run {
    std::uint32_t first = 0;  // index of the first frame in Report::frames
    std::uint32_t count = 0;
  };

  /// The run of `address` in `generation`, and whether it was just inserted (then the caller
  /// fills it in). The pointer is valid until the next call.
  std::pair<Run*, bool> find_or_insert(std::uint64_t address, std::uint32_t generation) {
    if ((m_size + 1) * 2 > m_slots.size()) {
      grow();
    }
    std::size_t mask = m_slots.size() - 1;
    for (std::size_t i = hash(address, generation) & mask;; i = (i + 1) & mask) {
      Slot& s = m_slots[i];
      if (!s.used) {
        s = Slot{address, generation, true, {}};
        ++m_size;
        return {&s.run, true};
      }
      if (s.address == address && s.generation == generation) {
        return {&s.run, false};
      }
    }
  }

 private:
  struct Slot {
    std::uint64_t address = 0;
    std::uint32_t generation = 0;
    bool used = false;
    Run run;
  };

  static std::size_t hash(std::uint64_t address, std::uint32_t generation) noexcept {
    std::uint64_t x = address ^ (static_cast<std::uint64_t>(generation) << 56);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return static_cast<std::size_t>(x);
  }

  void grow() {
    std::vector<Slot> old = std::move(m_slots);
    m_slots.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    m_size = 0;
    for (const Slot& s : old) {
      if (s.used) {
        *find_or_insert(s.address, s.generation).first = s.run;
      }
    }
  }

  std::vector<Slot> m_slots;
  std::size_t m_size = 0;
};

}  // namespace measure::detail
