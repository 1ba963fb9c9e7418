#include "support/json_writer.h"

#include <fmt/format.h>

namespace measure {

std::string JsonWriter::escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
  return out;
}

void JsonWriter::newline() {
  if (m_indent) {
    m_out.push_back('\n');
    m_out.append(m_first.size() * 2, ' ');
  }
}

void JsonWriter::before_value() {
  if (m_after_key) {
    m_after_key = false;
    return;
  }
  if (!m_first.empty()) {
    bool first = m_first.back();
    m_first.back() = false;
    if (m_inline.back()) {
      m_out += first ? "" : m_indent ? ", " : ",";
      return;
    }
    if (!first) {
      m_out.push_back(',');
    }
    newline();
  }
}

JsonWriter& JsonWriter::begin_object() {
  before_value();
  m_out.push_back('{');
  m_first.push_back(true);
  m_inline.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::close(char bracket) {
  bool empty = m_first.back();
  bool one_line = m_inline.back();
  m_first.pop_back();
  m_inline.pop_back();
  if (!empty && !one_line) {
    newline();
  }
  m_out.push_back(bracket);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  return close('}');
}

JsonWriter& JsonWriter::begin_array() {
  before_value();
  m_out.push_back('[');
  m_first.push_back(true);
  m_inline.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::begin_inline_array() {
  begin_array();
  m_inline.back() = true;
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  return close(']');
}

JsonWriter& JsonWriter::raw(std::string_view json) {
  before_value();
  m_out += json;
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  before_value();
  m_out += escape(name);
  m_out += m_indent ? ": " : ":";
  m_after_key = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view text) {
  before_value();
  m_out += escape(text);
  return *this;
}

JsonWriter& JsonWriter::value(std::uint64_t number) {
  before_value();
  m_out += fmt::to_string(number);
  return *this;
}

JsonWriter& JsonWriter::value(std::int64_t number) {
  before_value();
  m_out += fmt::to_string(number);
  return *this;
}

JsonWriter& JsonWriter::value(double number) {
  before_value();
  m_out += fmt::format("{}", number);
  return *this;
}

JsonWriter& JsonWriter::value(bool flag) {
  before_value();
  m_out += flag ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  m_out += "null";
  return *this;
}

}  // namespace measure
