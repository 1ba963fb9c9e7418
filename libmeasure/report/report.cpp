#include "report/report.h"

#include <fnmatch.h>

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "report/address_map.h"
#include "support/error.h"

namespace measure {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

bool is_allocator_frame(const Frame& f) noexcept {
  std::string_view name = f.function;
  if (name.empty()) {
    return false;
  }
  static constexpr std::string_view exact[] = {"malloc",         "calloc",          "realloc",       "free",
                                               "reallocarray",   "posix_memalign",  "aligned_alloc", "memalign",
                                               "valloc",         "pvalloc",         "__libc_malloc", "__libc_calloc",
                                               "__libc_realloc", "__libc_memalign", "__libc_valloc", "__libc_pvalloc"};
  for (std::string_view e : exact) {
    if (name == e) {
      return true;
    }
  }
  if (starts_with(name, "operator new") || starts_with(name, "operator delete")) {
    return true;
  }
  // The standard allocators' allocate() only forwards to operator new.
  for (std::string_view a :
       {"std::allocator<", "__gnu_cxx::new_allocator<", "std::__new_allocator<", "std::allocator_traits<"}) {
    if (starts_with(name, a) && name.find(">::allocate(") != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

namespace {

std::string base_name(std::string_view path) {
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

}  // namespace

std::optional<GroupBy> parse_group_by(std::string_view t) noexcept {
  if (t == "stack")
    return GroupBy::stack;
  if (t == "function")
    return GroupBy::function;
  if (t == "line")
    return GroupBy::line;
  if (t == "file")
    return GroupBy::file;
  if (t == "module")
    return GroupBy::module;
  if (t == "scope")
    return GroupBy::scope;
  return std::nullopt;
}

std::optional<SortBy> parse_sort_by(std::string_view t) noexcept {
  if (t == "bytes")
    return SortBy::bytes;
  if (t == "count")
    return SortBy::count;
  if (t == "peak")
    return SortBy::peak;
  if (t == "leaked")
    return SortBy::leaked;
  if (t == "temporary")
    return SortBy::temporary;
  return std::nullopt;
}

std::string_view group_by_name(GroupBy by) noexcept {
  switch (by) {
    case GroupBy::stack:
      return "stack";
    case GroupBy::function:
      return "function";
    case GroupBy::line:
      return "line";
    case GroupBy::file:
      return "file";
    case GroupBy::module:
      return "module";
    case GroupBy::scope:
      return "scope";
  }
  return "line";
}

std::string_view sort_by_name(SortBy by) noexcept {
  switch (by) {
    case SortBy::bytes:
      return "bytes";
    case SortBy::count:
      return "count";
    case SortBy::peak:
      return "peak";
    case SortBy::leaked:
      return "leaked";
    case SortBy::temporary:
      return "temporary";
  }
  return "bytes";
}

Metric sort_metric(SortBy by) noexcept {
  switch (by) {
    case SortBy::bytes:
      return Metric::alloc_bytes;
    case SortBy::count:
      return Metric::alloc_count;
    case SortBy::peak:
      return Metric::peak_bytes;
    case SortBy::leaked:
      return Metric::live_bytes;
    case SortBy::temporary:
      return Metric::temporary_count;
  }
  return Metric::alloc_bytes;
}

std::uint64_t sort_value(const Metrics& m, SortBy by) noexcept {
  return m.value(sort_metric(by));
}

std::string RowKey::identity() const {
  return fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}", function.value_or(""), file.value_or(""),
                     line ? fmt::to_string(*line) : "", module.value_or(""), offset ? fmt::format("{:x}", *offset) : "",
                     scope.value_or(""));
}

std::vector<Frame> symbolized_stack(const Stack& stack, Symbolizer& symbolizer) {
  std::vector<Frame> frames;
  for (std::uint64_t address : stack.frames) {
    const std::vector<Frame>& expanded = symbolizer.resolve(address, stack.generation);
    frames.insert(frames.end(), expanded.begin(), expanded.end());
  }
  auto first = std::find_if_not(frames.begin(), frames.end(), is_allocator_frame);
  if (first == frames.end() && !frames.empty()) {
    first = frames.end() - 1;  // keep something to attribute the stack to
  }
  frames.erase(frames.begin(), first);
  return frames;
}

bool is_entry_frame(const Frame& f) noexcept {
  static constexpr std::string_view entries[] = {"_start",
                                                 "__libc_start_main",
                                                 "__libc_start_main_impl",
                                                 "__libc_start_call_main",
                                                 "start_thread",
                                                 "clone",
                                                 "clone3",
                                                 "__clone",
                                                 "__clone3",
                                                 "__clone_internal"};
  return std::find(std::begin(entries), std::end(entries), std::string_view(f.function)) != std::end(entries);
}

bool is_system_frame(const Frame& f) noexcept {
  std::string_view file = f.file;
  if (starts_with(file, "/usr/include/") || file.find("/include/c++/") != std::string_view::npos) {
    return true;
  }
  std::string_view module = f.module;
  // measure's own API library, wherever it is installed: what it allocates for the program
  // belongs to the program's call into it.
  std::string_view name = module.substr(module.rfind('/') == std::string_view::npos ? 0 : module.rfind('/') + 1);
  if (starts_with(name, "libmeasure.so")) {
    return true;
  }
  bool system_module = starts_with(module, "/lib/") || starts_with(module, "/lib64/") ||
                       starts_with(module, "/usr/lib/") || starts_with(module, "/usr/lib64/") ||
                       starts_with(module, "linux-vdso");
  return system_module && (file.empty() || file.front() != '/');
}

const Frame* key_frame(const std::vector<Frame>& frames) noexcept {
  for (const Frame& f : frames) {
    if (!is_system_frame(f)) {
      return &f;
    }
  }
  return frames.empty() ? nullptr : &frames.front();
}

RowKey key_for(const Frame* f, GroupBy by) {
  RowKey key;
  if (f == nullptr) {
    return key;  // the unknown stack: every field null
  }
  auto module = f->module.empty() ? std::optional<std::string>() : std::optional<std::string>(f->module);
  auto function = f->function.empty() ? std::optional<std::string>() : std::optional<std::string>(f->function);
  auto file = f->file.empty() ? std::optional<std::string>() : std::optional<std::string>(f->file);
  bool named = function || file;
  switch (by) {
    case GroupBy::stack:
    case GroupBy::line:
      key.function = function;
      key.file = file;
      key.line = file && f->line != 0 ? std::optional<std::uint32_t>(f->line) : std::nullopt;
      key.module = module;
      break;
    case GroupBy::function:
      key.function = function;
      key.file = file;
      key.module = module;
      break;
    case GroupBy::file:
      key.file = file;
      key.module = module;
      break;
    case GroupBy::module:
    case GroupBy::scope:
      key.module = module;
      return key;
  }
  if (!named) {
    key.offset = f->offset;  // module + offset when nothing names the code
    if (!module) {
      key.offset = f->address;
    }
  }
  return key;
}

std::string_view function_without_parameters(std::string_view name) noexcept {
  // The parameter list is the last top-level parenthesis group; "operator()" is a name.
  int depth = 0;
  for (std::size_t i = name.size(); i-- > 0;) {
    char c = name[i];
    if (c == ')' || c == '>' || c == ']') {
      ++depth;
    } else if (c == '(' || c == '<' || c == '[') {
      if (--depth == 0 && c == '(') {
        bool call_operator = i >= 8 && name.substr(i - 8, 8) == "operator" && i + 1 < name.size() && name[i + 1] == ')';
        if (!call_operator && i > 0) {
          return name.substr(0, i);
        }
      }
      depth = std::max(depth, 0);
    }
  }
  return name;
}

namespace {

// True when bare[i] belongs to an operator's name ("operator<<", "operator->", "operator new"),
// not to a template argument list or a return type.
bool in_operator_name(std::string_view bare, std::size_t i) noexcept {
  std::size_t op = bare.rfind("operator", i);
  if (op == std::string_view::npos || i < op + 8) {
    return false;
  }
  std::string_view tail = bare.substr(op + 8, i - op - 8 + 1);
  std::size_t space = tail.find(' ');
  return tail.find_first_not_of("<>=-+*/%^&|!~ ") == std::string_view::npos &&
         (space == std::string_view::npos || space + 1 == tail.size());
}

}  // namespace

std::string_view unqualified_function(std::string_view name) noexcept {
  std::string_view bare = function_without_parameters(name);
  // The last "::" outside template arguments and parentheses ("(anonymous namespace)").
  int depth = 0;
  for (std::size_t i = bare.size(); i-- > 1;) {
    char c = bare[i];
    if (in_operator_name(bare, i)) {
      continue;
    }
    if (c == '>' || c == ')') {
      ++depth;
    } else if (c == '<' || c == '(') {
      --depth;
    } else if (depth == 0 && ((c == ':' && bare[i - 1] == ':') || c == ' ')) {
      return bare.substr(i + 1);  // after the qualifiers, or a template function's return type
    }
  }
  return bare;
}

bool frame_matches(const Frame& f, const std::string& pattern) {
  auto match = [&](std::string_view text) {
    return !text.empty() && ::fnmatch(pattern.c_str(), std::string(text).c_str(), 0) == 0;
  };
  if (match(f.function) || match(function_without_parameters(f.function)) || match(unqualified_function(f.function))) {
    return true;
  }
  for (const std::string* field : {&f.file, &f.module}) {
    if (match(*field) || match(base_name(*field))) {
      return true;
    }
  }
  return false;
}

std::string shorten_templates(std::string_view name) {
  std::string out;
  int depth = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    // "operator<" and "operator<<" are names, not template brackets.
    if (c == '<' && i >= 8 && name.substr(i - 8, 8) == "operator") {
      out.push_back(c);
      if (i + 1 < name.size() && name[i + 1] == '<') {
        out.push_back(name[++i]);
      }
      continue;
    }
    if (c == '<') {
      if (depth++ == 0) {
        out += "<…>";
      }
      continue;
    }
    if (c == '>' && depth > 0) {
      --depth;
      continue;
    }
    if (depth == 0) {
      out.push_back(c);
    }
  }
  return out;
}

Capture detail::capture_view(const Capture& capture) {
  Capture view;
  view.program = capture.program;
  view.modules = capture.modules;
  view.stacks = capture.stacks;
  view.symbols = capture.symbols;
  view.diagnostics = capture.diagnostics;
  view.warnings = capture.warnings;
  view.toolkit_bytes = capture.toolkit_bytes;
  view.toolkit_peak_bytes = capture.toolkit_peak_bytes;
  return view;
}

}  // namespace measure
