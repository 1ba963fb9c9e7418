#include "runtime/environment.h"

#include <cstring>

#include "platform/platform.h"
#include "runtime/config.h"
#include "support/log.h"

namespace measure::detail {
namespace {

constexpr std::size_t list_name_size = sizeof injected_variable - 1;

// True when `variable` ("name=value") is named by the `name_size` bytes at `name`.
bool has_name(const char* variable, const char* name, std::size_t name_size) noexcept {
  return std::strncmp(variable, name, name_size) == 0 && variable[name_size] == '=';
}

bool is_list(const char* variable) noexcept {
  return has_name(variable, injected_variable, list_name_size);
}

std::size_t count(char* const* environment) noexcept {
  std::size_t n = 0;
  while (environment[n] != nullptr) {
    ++n;
  }
  return n;
}

// One item of MEASURE_INJECTED: `size` bytes of "name" or "name=value" at `text`.
struct Item {
  char* text;
  std::size_t size;
  std::size_t name_size;
};

// Parses MEASURE_INJECTED's value into `items`. False when it is malformed.
bool parse_items(char* p, Item* items, unsigned capacity, unsigned* item_count) noexcept {
  *item_count = 0;
  while (*p != '\0') {
    std::uint64_t size = 0;
    const char* digits_end = parse_digits(p, &size);
    if (digits_end == nullptr || *digits_end != ':' || size == 0 || *item_count == capacity) {
      return false;
    }
    char* text = p + (digits_end - p) + 1;
    std::size_t present = 0;
    std::size_t name_size = 0;
    for (; present < size && text[present] != '\0'; ++present) {
      name_size += name_size == present && text[present] != '=' ? 1 : 0;
    }
    if (present != size || name_size == 0 || (text[size] != ';' && text[size] != '\0')) {
      return false;
    }
    items[(*item_count)++] = Item{text, size, name_size};
    p = text + size + (text[size] == ';' ? 1 : 0);
  }
  return true;
}

// Removes the entries at the indexes in `removed` from `environment` (`n` entries), keeping
// the order of the others.
void remove_entries(char** environment, std::size_t n, const std::size_t* removed, unsigned removed_count) noexcept {
  std::size_t out = 0;
  for (std::size_t i = 0; i < n; ++i) {
    bool drop = false;
    for (unsigned r = 0; r < removed_count; ++r) {
      drop = drop || removed[r] == i;
    }
    if (!drop) {
      environment[out++] = environment[i];
    }
  }
  environment[out] = nullptr;
}

// Appends bytes within [at, end); remembers when they did not fit.
struct Writer {
  char* at;
  char* end;
  bool failed = false;

  void put(const char* bytes, std::size_t size) noexcept {
    if (failed || static_cast<std::size_t>(end - at) < size) {
      failed = true;
      return;
    }
    std::memcpy(at, bytes, size);
    at += size;
  }
  void put(const char* text) noexcept { put(text, std::strlen(text)); }
  // One item of MEASURE_INJECTED: the length of `text`'s first `size` bytes, ':', the bytes.
  void put_item(const char* text, std::size_t size) noexcept {
    char digits[24];
    put(digits, format_decimal(size, digits));
    put(":", 1);
    put(text, size);
  }
};

}  // namespace

bool InjectedEnvironment::settle(char** environment) noexcept {
  if (environment == nullptr) {
    return false;
  }
  std::size_t n = 0;
  std::size_t list = SIZE_MAX;
  for (; environment[n] != nullptr; ++n) {
    if (list == SIZE_MAX && is_list(environment[n])) {
      list = n;
    }
  }
  if (list == SIZE_MAX) {
    return false;
  }
  Item items[max_entries + 1];
  unsigned item_count = 0;
  std::size_t removed[max_entries + 1];
  unsigned removed_count = 0;
  if (!parse_items(environment[list] + list_name_size + 1, items, max_entries + 1, &item_count)) {
    LogLine().text("ignoring ").text(injected_variable).text(": it is malformed").emit();
    removed[removed_count++] = list;
    remove_entries(environment, n, removed, removed_count);
    return false;
  }

  char* own_list = nullptr;  // the program's own MEASURE_INJECTED, if it had one
  for (unsigned k = 0; k < item_count; ++k) {
    const Item& item = items[k];
    bool has_value = item.name_size != item.size;
    if (item.name_size == list_name_size && std::strncmp(item.text, injected_variable, list_name_size) == 0) {
      own_list = has_value ? item.text : nullptr;
      continue;
    }
    std::size_t at = 0;
    while (at < n && (at == list || !has_name(environment[at], item.text, item.name_size))) {
      ++at;
    }
    if (at == n || m_count == max_entries || find(environment[at]) >= 0) {
      continue;  // not set after all, or named twice
    }
    Entry& entry = m_entries[m_count++];
    entry.text = environment[at];
    entry.name_size = static_cast<std::uint32_t>(item.name_size);
    entry.loader_list = has_name(entry.text, "LD_PRELOAD", 10) || has_name(entry.text, "LD_AUDIT", 8);
    // A loader list is measure's libraries, then ':' and the program's own value, if any.
    const char* value = entry.text + item.name_size + 1;
    std::size_t value_size = std::strlen(value);
    std::size_t own_size = has_value ? item.size - item.name_size - 1 : 0;
    entry.own_size = static_cast<std::uint32_t>(value_size);
    if (own_size != 0 && own_size < value_size && value[value_size - own_size - 1] == ':' &&
        std::memcmp(value + value_size - own_size, item.text + item.name_size + 1, own_size) == 0) {
      entry.own_size = static_cast<std::uint32_t>(value_size - own_size - 1);
    }
    if (has_value) {
      environment[at] = item.text;
    } else {
      removed[removed_count++] = at;
    }
  }
  if (own_list != nullptr) {
    environment[list] = own_list;
  } else {
    removed[removed_count++] = list;
  }
  // Last: the items' separators become their terminators (they were read until now).
  for (unsigned k = 0; k < item_count; ++k) {
    items[k].text[items[k].size] = '\0';
  }
  remove_entries(environment, n, removed, removed_count);
  keep_entries();
  m_known = true;
  return true;
}

void InjectedEnvironment::keep_entries() noexcept {
  std::size_t bytes = 0;
  for (unsigned i = 0; i < m_count; ++i) {
    bytes += std::strlen(m_entries[i].text) + 1;
  }
  auto* copy = static_cast<char*>(platform::map_pages(bytes != 0 ? bytes : 1));
  for (unsigned i = 0; copy != nullptr && i < m_count; ++i) {
    std::size_t size = std::strlen(m_entries[i].text) + 1;
    std::memcpy(copy, m_entries[i].text, size);
    m_entries[i].text = copy;
    copy += size;
  }
}

int InjectedEnvironment::find(const char* variable) const noexcept {
  for (unsigned i = 0; i < m_count; ++i) {
    if (has_name(variable, m_entries[i].text, m_entries[i].name_size)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::size_t InjectedEnvironment::injected_size(const Entry& entry, const char* own) const noexcept {
  if (!entry.loader_list) {
    return std::strlen(entry.text);
  }
  std::size_t own_value = own != nullptr ? std::strlen(own + entry.name_size + 1) : 0;
  return entry.name_size + 1 + entry.own_size + (own_value != 0 ? 1 + own_value : 0);
}

std::size_t InjectedEnvironment::child_bytes(char* const* envp) const noexcept {
  std::size_t n = envp != nullptr ? count(envp) : 0;
  std::size_t bytes = (n + m_count + 2) * sizeof(char*);
  std::size_t list = list_name_size + 2;  // "MEASURE_INJECTED=" and the terminator
  for (unsigned i = 0; i < m_count; ++i) {
    const Entry& entry = m_entries[i];
    const char* own = nullptr;
    for (std::size_t k = 0; k < n && own == nullptr; ++k) {
      own = has_name(envp[k], entry.text, entry.name_size) ? envp[k] : nullptr;
    }
    bytes += entry.loader_list ? injected_size(entry, own) + 1 : 0;
    list += 22 + (own != nullptr ? std::strlen(own) : entry.name_size) + 1;  // length, ':', item, ';'
  }
  for (std::size_t k = 0; k < n; ++k) {
    if (is_list(envp[k])) {
      list += 22 + std::strlen(envp[k]) + 1;
      break;
    }
  }
  return bytes + list;
}

char** InjectedEnvironment::child_environment(char* const* envp, void* memory, std::size_t bytes,
                                              Replaced* replaced) const noexcept {
  std::size_t n = envp != nullptr ? count(envp) : 0;
  std::size_t slots = n + m_count + 2;
  if (slots * sizeof(char*) > bytes) {
    return nullptr;
  }
  auto** out = static_cast<char**>(memory);
  Writer strings{reinterpret_cast<char*>(out + slots), static_cast<char*>(memory) + bytes};
  char* own[max_entries + 1] = {};  // the program's entries the injected ones stand in for
  std::size_t k = 0;
  // Each injected variable takes the place of the program's own, or comes after the rest.
  auto injected = [&](unsigned i) {
    const Entry& entry = m_entries[i];
    if (!entry.loader_list) {
      out[k++] = const_cast<char*>(entry.text);  // never written: exec reads it
      return;
    }
    out[k++] = strings.at;
    strings.put(entry.text, entry.name_size + 1 + entry.own_size);
    const char* value = own[i] != nullptr ? own[i] + entry.name_size + 1 : "";
    if (*value != '\0') {
      strings.put(":", 1);
      strings.put(value);
    }
    strings.put("", 1);
  };
  for (std::size_t e = 0; e < n; ++e) {
    if (own[max_entries] == nullptr && is_list(envp[e])) {
      own[max_entries] = envp[e];
      continue;
    }
    int i = find(envp[e]);
    if (i >= 0 && own[i] == nullptr) {
      own[i] = envp[e];
      injected(static_cast<unsigned>(i));
    } else {
      out[k++] = envp[e];
    }
  }
  for (unsigned i = 0; i < m_count; ++i) {
    if (own[i] == nullptr) {
      injected(i);
    }
  }
  out[k++] = strings.at;
  strings.put(injected_variable, list_name_size);
  strings.put("=", 1);
  for (unsigned i = 0; i <= m_count; ++i) {
    const char* item = i < m_count ? own[i] : own[max_entries];
    if (i != 0 && (i < m_count || item != nullptr)) {
      strings.put(";", 1);
    }
    if (item != nullptr) {
      strings.put_item(item, std::strlen(item));
    } else if (i < m_count) {
      strings.put_item(m_entries[i].text, m_entries[i].name_size);
    }
  }
  strings.put("", 1);
  out[k] = nullptr;
  if (strings.failed) {
    return nullptr;
  }
  if (replaced != nullptr) {
    for (unsigned i = 0; i < m_count; ++i) {
      (*replaced)[i] = own[i];
    }
    (*replaced)[max_entries] = own[max_entries];
  }
  return out;
}

void InjectedEnvironment::take_back(char** environment, const void* memory, std::size_t bytes,
                                    const Replaced& replaced) const noexcept {
  if (environment == nullptr) {
    return;
  }
  auto begin = reinterpret_cast<std::uintptr_t>(memory);
  std::size_t out = 0;
  for (std::size_t e = 0; environment[e] != nullptr; ++e) {
    char* variable = environment[e];
    int i = is_list(variable) ? static_cast<int>(max_entries) : find(variable);
    auto at = reinterpret_cast<std::uintptr_t>(variable);
    bool ours = (at >= begin && at - begin < bytes) ||
                (i >= 0 && i < static_cast<int>(max_entries) && variable == m_entries[i].text);
    if (!ours) {
      environment[out++] = variable;
    } else if (i >= 0 && replaced[i] != nullptr) {
      environment[out++] = replaced[i];
    }
  }
  environment[out] = nullptr;
}

}  // namespace measure::detail
