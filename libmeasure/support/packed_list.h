// A read-mostly list of unsigned integers stored as variable-length deltas: each value is the
// signed difference from the one before it, zigzag-coded in 7-bit groups. Return addresses of
// one stack lie within a few kilobytes of each other, and a report's frame indices are small,
// so a 46-frame stack takes about 100 bytes here against 368 in a std::vector<uint64_t>. The
// command's captures and reports hold a million stacks this way (docs/performance.md).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <type_traits>
#include <vector>

namespace measure {

template <class T>
class PackedList {
  static_assert(std::is_unsigned_v<T> && sizeof(T) <= 8, "PackedList holds unsigned integers of up to 64 bits");

 public:
  /// Forward iteration decodes one value per step; there is no random access.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using iterator_concept = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using reference = T;
    using pointer = void;

    Iterator() = default;
    T operator*() const noexcept { return m_value; }
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
    friend class PackedList;
    Iterator(const std::uint8_t* at, const std::uint8_t* end, T previous) noexcept
        : m_at(at), m_next(at), m_end(end), m_value(previous) {
      if (m_at != m_end) {
        decode();
      }
    }
    void decode() noexcept {
      std::uint64_t coded = 0;
      unsigned shift = 0;
      std::uint8_t byte = 0;
      do {
        byte = *m_next++;
        coded |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
        shift += 7;
      } while ((byte & 0x80) != 0);
      std::uint64_t delta = (coded >> 1) ^ (0 - (coded & 1));
      m_value = static_cast<T>(static_cast<std::uint64_t>(m_value) + delta);
    }

    const std::uint8_t* m_at = nullptr;    // this value's first byte
    const std::uint8_t* m_next = nullptr;  // the next value's first byte
    const std::uint8_t* m_end = nullptr;
    T m_value = 0;
  };

  PackedList() = default;
  PackedList(std::initializer_list<T> values) { assign(values.begin(), values.end()); }
  // Implicit, so that a std::vector<T> of values is assigned as it was before the packing.
  PackedList(const std::vector<T>& values) { assign(values.begin(), values.end()); }  // NOLINT
  PackedList(const PackedList& other) { *this = other; }
  PackedList(PackedList&& other) noexcept = default;
  PackedList& operator=(const PackedList& other) {
    if (this != &other) {
      std::unique_ptr<std::uint8_t[]> bytes;
      if (other.m_bytes_size != 0) {
        bytes = std::make_unique_for_overwrite<std::uint8_t[]>(other.m_bytes_size);
        std::memcpy(bytes.get(), other.m_bytes.get(), other.m_bytes_size);
      }
      m_bytes = std::move(bytes);
      m_bytes_size = other.m_bytes_size;
      m_count = other.m_count;
    }
    return *this;
  }
  PackedList& operator=(PackedList&& other) noexcept = default;
  ~PackedList() = default;

  /// Replaces the values with [first, last), in order. At most 2^32-1 values.
  template <class It>
  void assign(It first, It last) {
    constexpr std::size_t max_coded = 10;
    std::size_t count = static_cast<std::size_t>(std::distance(first, last));
    // Coded into a buffer of the worst case (on the stack for the usual depths), then kept
    // at the exact size.
    constexpr std::size_t local_values = 256;
    std::uint8_t local[local_values * max_coded];
    std::unique_ptr<std::uint8_t[]> heap;
    if (count > local_values) {
      heap = std::make_unique_for_overwrite<std::uint8_t[]>(count * max_coded);
    }
    std::uint8_t* const start = heap ? heap.get() : local;
    std::uint8_t* out = start;
    std::uint64_t previous = 0;
    for (; first != last; ++first) {
      auto value = static_cast<std::uint64_t>(static_cast<T>(*first));
      auto delta = static_cast<std::int64_t>(value - previous);
      previous = value;
      auto coded = (static_cast<std::uint64_t>(delta) << 1) ^ static_cast<std::uint64_t>(delta >> 63);
      while (coded >= 0x80) {
        *out++ = static_cast<std::uint8_t>(coded | 0x80);
        coded >>= 7;
      }
      *out++ = static_cast<std::uint8_t>(coded);
    }
    auto size = static_cast<std::size_t>(out - start);
    m_bytes.reset();
    if (size != 0) {
      m_bytes = std::make_unique_for_overwrite<std::uint8_t[]>(size);
      std::memcpy(m_bytes.get(), start, size);
    }
    m_bytes_size = static_cast<std::uint32_t>(size);
    m_count = static_cast<std::uint32_t>(count);
  }

  /// Empties the list and releases its memory.
  void clear() noexcept {
    m_bytes.reset();
    m_bytes_size = 0;
    m_count = 0;
  }

  std::size_t size() const noexcept { return m_count; }
  /// The bytes the values take (besides the list itself).
  std::size_t coded_bytes() const noexcept { return m_bytes_size; }
  bool empty() const noexcept { return m_count == 0; }
  Iterator begin() const noexcept { return Iterator(m_bytes.get(), m_bytes.get() + m_bytes_size, 0); }
  Iterator end() const noexcept { return Iterator(m_bytes.get() + m_bytes_size, m_bytes.get() + m_bytes_size, 0); }
  /// pre: !empty().
  T front() const noexcept { return *begin(); }

  /// The values, decoded into `out` (replacing what it held).
  void decode(std::vector<T>& out) const {
    out.clear();
    out.reserve(m_count);
    for (T value : *this) {
      out.push_back(value);
    }
  }
  std::vector<T> to_vector() const {
    std::vector<T> out;
    decode(out);
    return out;
  }

  // One list of values has one coding, so equal values mean equal bytes.
  friend bool operator==(const PackedList& a, const PackedList& b) noexcept {
    return a.m_count == b.m_count && a.m_bytes_size == b.m_bytes_size &&
           (a.m_bytes_size == 0 || std::memcmp(a.m_bytes.get(), b.m_bytes.get(), a.m_bytes_size) == 0);
  }
  friend bool operator==(const PackedList& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  std::unique_ptr<std::uint8_t[]> m_bytes;
  std::uint32_t m_bytes_size = 0;
  std::uint32_t m_count = 0;
};

}  // namespace measure
