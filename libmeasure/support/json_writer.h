// A minimal streaming JSON writer (objects, arrays, strings, numbers, null) for the tools'
// machine-readable output. Strings are escaped per RFC 8259; output is compact unless
// `indent` is set.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace measure {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out, bool indent = true) : m_out(out), m_indent(indent) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  /// An array written on one line ("[1, 2, 3]"), for short arrays of numbers.
  JsonWriter& begin_inline_array();
  JsonWriter& end_array();
  /// The key of the next value, inside an object.
  JsonWriter& key(std::string_view name);
  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(std::uint64_t number);
  JsonWriter& value(std::int64_t number);
  JsonWriter& value(std::uint32_t number) { return value(static_cast<std::uint64_t>(number)); }
  JsonWriter& value(int number) { return value(static_cast<std::int64_t>(number)); }
  JsonWriter& value(double number);
  JsonWriter& value(bool flag);
  JsonWriter& null();
  /// A value given as JSON text already (pre: valid JSON), for large arrays built apart.
  JsonWriter& raw(std::string_view json);
  template <class T>
  JsonWriter& value(const std::optional<T>& v) {
    return v ? value(*v) : null();
  }

  static std::string escape(std::string_view text);

 private:
  void before_value();
  void newline();
  JsonWriter& close(char bracket);

  std::string& m_out;
  bool m_indent;
  std::vector<bool> m_first;   // per open container: no element written yet
  std::vector<bool> m_inline;  // per open container: written on one line
  bool m_after_key = false;
};

}  // namespace measure
