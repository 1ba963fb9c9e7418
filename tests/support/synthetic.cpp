#include "support/synthetic.h"

#include <cstdlib>
#include <map>
#include <vector>

#include <doctest/doctest.h>

#include "support/subprocess.h"

namespace measure::test {
namespace {

constexpr std::uint64_t exe_base = 0x555555554000;
constexpr std::uint64_t lib_base = 0x7f0000000000;
const char* const exe = "/opt/app/server";
const char* const libstdcxx = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
const char* const libfoo = "/opt/app/lib/libfoo.so";

Frame frame(const char* function, const char* file, std::uint32_t line, const char* module, std::uint64_t base,
            std::uint64_t address, bool inlined = false) {
  return Frame{function, file, line, module, address - base, address, inlined};
}

std::map<std::uint64_t, std::vector<Frame>> symbol_table() {
  std::map<std::uint64_t, std::vector<Frame>> t;
  auto add = [&](std::uint64_t offset, std::vector<Frame> frames) { t[exe_base + offset] = std::move(frames); };
  std::uint64_t a = lib_base + 0x1000;
  t[a] = {frame("operator new(unsigned long)", "", 0, libstdcxx, lib_base, a)};
  a = exe_base + 0x2000;
  add(0x2000, {frame("std::vector<int, std::allocator<int> >::push_back(int const&)",
                     "/usr/include/c++/12/bits/stl_vector.h", 1287, exe, exe_base, a, true),
               frame("parse_config(char const*)", "/src/app/config.cpp", 42, exe, exe_base, a)});
  a = exe_base + 0x2100;  // the same call, two lines down after an edit
  add(0x2100, {frame("std::vector<int, std::allocator<int> >::push_back(int const&)",
                     "/usr/include/c++/12/bits/stl_vector.h", 1287, exe, exe_base, a, true),
               frame("parse_config(char const*)", "/src/app/config.cpp", 44, exe, exe_base, a)});
  add(0x3000, {frame("load_settings()", "/src/app/settings.cpp", 17, exe, exe_base, exe_base + 0x3000)});
  add(0x4000, {frame("main", "/src/app/main.cpp", 10, exe, exe_base, exe_base + 0x4000)});
  add(0x5000, {frame("render_page(int)", "/src/app/render.cpp", 88, exe, exe_base, exe_base + 0x5000)});
  add(0x5008, {frame("render_page(int)", "/src/app/render.cpp", 88, exe, exe_base, exe_base + 0x5008)});
  add(0x6000, {frame("cache_insert(std::string const&)", "/src/app/cache.cpp", 31, exe, exe_base, exe_base + 0x6000)});
  add(0x6100, {frame("log_line(char const*)", "/src/app/log.cpp", 12, exe, exe_base, exe_base + 0x6100)});
  a = lib_base + 0x20000 + 0x1234;
  t[a] = {frame("", "", 0, libfoo, lib_base + 0x20000, a)};
  a = lib_base + 0x8000;
  t[a] = {frame("malloc", "", 0, "/usr/lib/x86_64-linux-gnu/libc.so.6", lib_base, a)};
  return t;
}

Module module(const char* path, std::uint64_t bias, std::uint64_t size, std::string build_id) {
  Module m;
  m.path = path;
  m.build_id = std::move(build_id);
  m.load_bias = bias;
  m.segments = {{0, size, 0, 5}};
  return m;
}

Capture base_capture() {
  Capture c;
  c.program.executable = exe;
  c.program.arguments = {"server", "--port", "8080"};
  c.program.pid = 4242;
  c.program.parent_pid = 1;
  c.program.mode = CaptureMode::exact;
  c.program.depth = 64;
  c.program.start_time_ns = 1700000000000000000ULL;
  c.program.end_time_ns = 1700000002500000000ULL;
  c.program.duration_ns = 2500000000ULL;
  c.program.flags = 1;
  c.program.exit = ExitInfo{0, 0};
  c.modules = {module(exe, exe_base, 0x10000, std::string("\x12\x34\xab\xcd", 4)),
               module(libstdcxx, lib_base, 0x10000, std::string("\xfe\xed", 2)),
               module(libfoo, lib_base + 0x20000, 0x2000, "")};
  c.toolkit_bytes = 150000;
  c.toolkit_peak_bytes = 160000;
  c.threads = 2;
  return c;
}

void finish(Capture& c) {
  for (const Site& s : c.sites) {
    c.totals += s.metrics;
  }
}

Metrics metrics(std::uint64_t count, std::uint64_t bytes, std::uint64_t freed_count, std::uint64_t freed_bytes,
                std::uint64_t peak, std::uint64_t temporary) {
  return {count, bytes, freed_count, freed_bytes, count - freed_count, bytes - freed_bytes, peak, temporary};
}

constexpr std::uint64_t op_new = lib_base + 0x1000;
constexpr std::uint64_t c_malloc = lib_base + 0x8000;
constexpr std::uint64_t foo = lib_base + 0x21234;
constexpr std::uint64_t at(std::uint64_t offset) {
  return exe_base + offset;
}

}  // namespace

Capture synthetic_capture() {
  Capture c = base_capture();
  c.stacks = {
      Stack{},
      Stack{0, 0, {op_new, at(0x2000), at(0x3000), at(0x4000)}},
      Stack{0, 0, {op_new, at(0x5000), at(0x4000)}},
      Stack{0, 0, {c_malloc, at(0x6000), at(0x3000), at(0x4000)}},
      Stack{0, stack_truncated, {c_malloc, foo, at(0x4000)}},
      Stack{0, 0, {op_new, at(0x5008), at(0x4000)}},
  };
  c.sites = {
      Site{0, metrics(1, 16, 1, 16, 0, 0)},
      Site{1, metrics(10, 4000, 10, 4000, 1200, 3)},
      Site{2, metrics(100, 64000, 100, 64000, 640, 50)},
      Site{3, metrics(5, 5000, 0, 0, 5000, 0)},
      Site{4, metrics(2, 300, 1, 100, 300, 0)},
      Site{5, metrics(1, 64, 1, 64, 64, 1)},
  };
  c.diagnostics = {{"unmatched_frees", 1}};
  finish(c);
  // Live bytes rise, dip, and reach the exact peak between the last two points; resident
  // memory follows.
  constexpr std::uint64_t ms = 1000000;
  constexpr std::uint64_t mib = 1 << 20;
  c.timeline.interval_ns = 500 * ms;
  c.timeline.peak_bytes = c.totals.peak_bytes;
  c.timeline.peak_after_ns = 2000 * ms;
  c.timeline.peak_before_ns = 2500 * ms;
  c.timeline.samples = {{0, 0, 4 * mib},
                        {500 * ms, 2000, 9 * mib / 2},
                        {1000 * ms, 6100, 5 * mib},
                        {1500 * ms, 5000, 5 * mib},
                        {2000 * ms, 7000, 21 * mib / 4},
                        {2500 * ms, c.totals.live_bytes, 5 * mib}};
  return c;
}

Capture synthetic_capture_after() {
  Capture c = base_capture();
  c.program.pid = 4343;
  c.stacks = {
      Stack{},
      Stack{0, 0, {op_new, at(0x2100), at(0x3000), at(0x4000)}},
      Stack{0, 0, {op_new, at(0x5000), at(0x4000)}},
      Stack{0, 0, {c_malloc, at(0x6100), at(0x4000)}},
      Stack{0, stack_truncated, {c_malloc, foo, at(0x4000)}},
      Stack{0, 0, {op_new, at(0x5008), at(0x4000)}},
  };
  c.sites = {
      Site{0, metrics(1, 16, 1, 16, 0, 0)},
      Site{1, metrics(10, 4000, 10, 4000, 1200, 3)},
      Site{2, metrics(120, 76800, 120, 76800, 768, 60)},
      Site{3, metrics(40, 2560, 40, 2560, 64, 40)},
      Site{4, metrics(2, 300, 1, 100, 300, 0)},
      Site{5, metrics(1, 64, 1, 64, 64, 1)},
  };
  finish(c);
  return c;
}

FrameResolver synthetic_symbols() {
  auto table = std::make_shared<std::map<std::uint64_t, std::vector<Frame>>>(symbol_table());
  return [table](std::uint64_t address, std::uint32_t) -> const std::vector<Frame>& {
    auto it = table->find(address);
    REQUIRE_MESSAGE(it != table->end(), "no symbol for address " << address);
    return it->second;
  };
}

void check_golden(const std::string& golden, const std::string& actual) {
  std::string path = source_path("tests/" + golden);
  const char* update = std::getenv("MEASURE_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    write_text(path, actual);
    return;
  }
  std::string expected = read_text(path);
  CAPTURE(path);
  CHECK(actual == expected);
}

}  // namespace measure::test
