// One interval's changes in a decoded capture (Capture::intervals), kept as the capture file
// codes them: five varints a change, about 10 bytes where a struct takes 40. A capture of
// 200,000 stacks that all allocate in each of its intervals holds a million changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <vector>

namespace measure {

/// What one stack allocated and freed in one interval.
struct IntervalChange {
  std::uint32_t stack = 0;  // index into Capture::stacks
  std::uint64_t alloc_count = 0;
  std::uint64_t alloc_bytes = 0;
  std::uint64_t free_count = 0;
  std::uint64_t freed_bytes = 0;
  friend bool operator==(const IntervalChange&, const IntervalChange&) = default;
};

/// A list of changes in increasing stack order, read front to back.
class IntervalChanges {
 public:
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using iterator_concept = std::forward_iterator_tag;
    using value_type = IntervalChange;
    using difference_type = std::ptrdiff_t;
    using reference = const IntervalChange&;
    using pointer = const IntervalChange*;

    Iterator() = default;
    /// Reads changes coded as a capture's intervals section codes them, from `at` to `end`
    /// (the runtime reads its own coded changes this way).
    Iterator(const std::uint8_t* at, const std::uint8_t* end) noexcept : m_at(at), m_next(at), m_end(end) {
      if (m_at != m_end) {
        decode();
      }
    }
    const IntervalChange& operator*() const noexcept { return m_change; }
    const IntervalChange* operator->() const noexcept { return &m_change; }
    Iterator& operator++() noexcept {
      m_at = m_next;
      if (m_at != m_end) {
        decode();
      }
      return *this;
    }
    Iterator operator++(int) noexcept {
      Iterator before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) noexcept { return a.m_at == b.m_at; }

   private:
    std::uint64_t varint() noexcept {
      std::uint64_t value = 0;
      for (unsigned shift = 0; m_next != m_end; shift += 7) {
        std::uint8_t b = *m_next++;
        value |= static_cast<std::uint64_t>(b & 0x7f) << shift;
        if (b < 0x80) {
          break;
        }
      }
      return value;
    }
    void decode() noexcept {
      m_change.stack += static_cast<std::uint32_t>(varint());
      m_change.alloc_count = varint();
      m_change.alloc_bytes = varint();
      m_change.free_count = varint();
      m_change.freed_bytes = varint();
    }
    const std::uint8_t* m_at = nullptr;
    const std::uint8_t* m_next = nullptr;
    const std::uint8_t* m_end = nullptr;
    IntervalChange m_change;
  };

  IntervalChanges() = default;
  IntervalChanges(std::initializer_list<IntervalChange> changes) {
    for (const IntervalChange& c : changes) {
      push_back(c);
    }
  }

  /// Appends a change. pre: its stack is above the last one's (any stack for the first).
  void push_back(const IntervalChange& c) {
    put(c.stack - m_last);
    put(c.alloc_count);
    put(c.alloc_bytes);
    put(c.free_count);
    put(c.freed_bytes);
    m_last = c.stack;
    ++m_count;
  }
  std::size_t size() const noexcept { return m_count; }
  bool empty() const noexcept { return m_count == 0; }
  Iterator begin() const noexcept { return Iterator(m_bytes.data(), m_bytes.data() + m_bytes.size()); }
  Iterator end() const noexcept { return Iterator(m_bytes.data() + m_bytes.size(), m_bytes.data() + m_bytes.size()); }
  /// Releases unused capacity (a reader's list is complete).
  void shrink_to_fit() { m_bytes.shrink_to_fit(); }
  friend bool operator==(const IntervalChanges&, const IntervalChanges&) = default;

 private:
  void put(std::uint64_t v) {
    while (v >= 0x80) {
      m_bytes.push_back(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    m_bytes.push_back(static_cast<std::uint8_t>(v));
  }
  std::vector<std::uint8_t> m_bytes;
  std::uint32_t m_count = 0;
  std::uint32_t m_last = 0;
};

}  // namespace measure
