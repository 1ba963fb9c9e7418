// Symbolization of this test binary itself, compiled with -O2 -g: an address inside two
// levels of inlined functions expands to three frames with the right lines.
#include "symbols/symbolizer.h"

#include <unistd.h>

#include <filesystem>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "platform/platform.h"
#include "support/skip.h"
#include "support/subprocess.h"
#include "symbols/symbol_file.h"

using namespace measure;

namespace {

__attribute__((noinline)) void* return_address() {
  return __builtin_return_address(0);
}
void* volatile g_sink;  // work after the call, so it is not a tail call

// Each call records its own line, so formatting cannot move the expectations.
int g_inner_line = 0;
int g_middle_line = 0;
int g_outer_line = 0;
static inline __attribute__((always_inline)) void* inner() {
  void* p = (g_inner_line = __LINE__, return_address());
  g_sink = p;
  return p;
}
static inline __attribute__((always_inline)) void* middle() {
  return (g_middle_line = __LINE__, inner());
}
__attribute__((noinline)) void* outer_function() {
  return (g_outer_line = __LINE__, middle());
}

// The module map of this process, as the runtime records it.
Capture capture_of_self() {
  Capture c;
  detail::platform::for_each_module(
      [](const detail::platform::ModuleView& view, void* context) {
        auto* capture = static_cast<Capture*>(context);
        Module m;
        m.path = view.path;
        if (m.path.empty()) {
          char exe[4096];
          detail::platform::executable_path(exe, sizeof exe);
          m.path = exe;
        }
        m.build_id.assign(reinterpret_cast<const char*>(view.build_id), view.build_id_size);
        m.load_bias = view.load_bias;
        for (std::size_t i = 0; i < view.segment_count; ++i) {
          m.segments.push_back(
              {view.segments[i].vaddr, view.segments[i].memsz, view.segments[i].offset, view.segments[i].flags});
        }
        capture->modules.push_back(m);
      },
      &c);
  return c;
}

}  // namespace

TEST_CASE("symbolizer: inline frames, innermost first, with call-site lines") {
  auto address = reinterpret_cast<std::uint64_t>(outer_function());
  Capture c = capture_of_self();
  Symbolizer symbolizer(c);
  const std::vector<Frame>& frames = symbolizer.resolve(address, 0);
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].function.find("inner") != std::string::npos);
  CHECK(frames[0].line == static_cast<std::uint32_t>(g_inner_line));
  CHECK(frames[0].inlined);
  CHECK(frames[1].function.find("middle") != std::string::npos);
  CHECK(frames[1].line == static_cast<std::uint32_t>(g_middle_line));
  CHECK(frames[1].inlined);
  CHECK(frames[2].function.find("outer_function") != std::string::npos);
  CHECK(frames[2].line == static_cast<std::uint32_t>(g_outer_line));
  CHECK_FALSE(frames[2].inlined);
  for (const Frame& f : frames) {
    CHECK(std::filesystem::path(f.file).filename() == "symbolizer_test.cpp");
    CHECK(std::filesystem::path(f.module).filename() == "symbolizer_test");
  }
  // Internal functions have no linkage name in DWARF: the name is qualified by its scopes.
  CHECK(frames[2].function == "(anonymous namespace)::outer_function");
  CHECK(frames[0].function == "(anonymous namespace)::inner");
  // Cached: the same vector comes back.
  CHECK(&symbolizer.resolve(address, 0) == &frames);
}

TEST_CASE("symbolizer: an address in no module keeps its address; a changed file is refused") {
  Capture c = capture_of_self();
  Symbolizer symbolizer(c);
  const std::vector<Frame>& nowhere = symbolizer.resolve(0x10, 0);
  REQUIRE(nowhere.size() == 1);
  CHECK(nowhere[0].module.empty());
  CHECK(nowhere[0].address == 0x10);

  Capture altered = capture_of_self();
  for (Module& m : altered.modules) {
    if (!m.build_id.empty()) {
      m.build_id[0] = static_cast<char>(m.build_id[0] ^ 1);
    }
  }
  auto address = reinterpret_cast<std::uint64_t>(outer_function());
  Symbolizer refusing(altered);
  const std::vector<Frame>& frames = refusing.resolve(address, 0);
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].function.empty());
  CHECK(std::filesystem::path(frames[0].module).filename() == "symbolizer_test");
  CHECK(frames[0].offset != 0);
  CHECK(refusing.stats().modules_build_id_mismatch >= 1);
}

TEST_CASE("symbolizer: frames of a module from a later generation are not resolved against an unloaded one") {
  Capture c = capture_of_self();
  for (Module& m : c.modules) {
    m.end_generation = 1;  // everything was unloaded after generation 0
  }
  Symbolizer symbolizer(c);
  auto address = reinterpret_cast<std::uint64_t>(outer_function());
  CHECK(symbolizer.resolve(address, 1)[0].module.empty());
  CHECK(!symbolizer.resolve(address, 0)[0].module.empty());
}

TEST_CASE("symbol files: one read of a file serves captures that loaded it at different addresses") {
  auto address = reinterpret_cast<std::uint64_t>(outer_function());
  Capture here = capture_of_self();
  Symbolizer alone(here);
  const std::vector<Frame> expected = alone.resolve(address, 0);
  REQUIRE(expected.size() == 3);

  // The same process as if its program had been loaded 1 MiB higher: the same file, the
  // same link-time addresses, another load bias.
  constexpr std::uint64_t shift = 1 << 20;
  Capture moved = here;
  std::string self;
  for (Module& m : moved.modules) {
    if (std::filesystem::path(m.path).filename() == "symbolizer_test") {
      m.load_bias += shift;
      self = m.path;
    }
  }
  REQUIRE(!self.empty());
  SymbolFiles files;
  Symbolizer first(here, &files);
  Symbolizer second(moved, &files);
  CHECK(first.resolve(address, 0) == expected);
  std::vector<Frame> shifted = second.resolve(address + shift, 0);
  REQUIRE(shifted.size() == expected.size());
  for (std::size_t i = 0; i < shifted.size(); ++i) {
    CHECK(shifted[i].function == expected[i].function);
    CHECK(shifted[i].file == expected[i].file);
    CHECK(shifted[i].line == expected[i].line);
    CHECK(shifted[i].offset == expected[i].offset);
    CHECK(shifted[i].address == address + shift);
  }

  // Every name of the file finds the one already read.
  std::string link = std::filesystem::temp_directory_path() / ("symbolizer_test_link." + std::to_string(::getpid()));
  std::filesystem::remove(link);
  std::filesystem::create_symlink(self, link);
  SymbolFile* by_path = files.open(self);
  CHECK(by_path != nullptr);
  CHECK(files.open(link) == by_path);
  std::filesystem::remove(link);
  CHECK(files.open("/nonexistent/module.so") == nullptr);
  // A file read for another capture is still refused when this capture ran another build.
  Capture rebuilt = here;
  for (Module& m : rebuilt.modules) {
    if (m.path == self) {
      m.build_id[0] = static_cast<char>(m.build_id[0] ^ 1);
    }
  }
  Symbolizer refusing(rebuilt, &files);
  CHECK(refusing.resolve(address, 0)[0].function.empty());
  CHECK(refusing.stats().modules_build_id_mismatch == 1);
}

TEST_CASE("demangling keeps names it cannot demangle") {
  CHECK(demangle("_ZN3foo3barEv") == "foo::bar()");
  CHECK(demangle("main") == "main");
  CHECK(demangle("_Zgarbage") == "_Zgarbage");
}

TEST_CASE("symbolizer: code outside every unit's ranges gets no source line" * doctest::test_suite("gcc")) {
  // libdw hands out the unit whose ranges start last below an address, even past their end,
  // and that unit's last line row then named _start (here unit_gap_tail.c:795).
  std::string program = test::fixture_path("unit_gap");
  if (!std::filesystem::exists(program)) {
    test::skip_test_case("the fixture's layout is GCC's: built with GCC only");
    return;
  }
  test::TempDir dir;
  std::string capture = dir.file("gap.msr");
  test::ProcessResult run = test::run_process({test::tool_path(), "run", "-q", "-o", capture, "--", program});
  REQUIRE(run.status() == 0);
  test::ProcessResult report =
      test::run_process({test::tool_path(), "report", capture, "--by", "stack", "--top", "0", "--format", "json"});
  REQUIRE(report.status() == 0);
  nlohmann::json j = nlohmann::json::parse(report.out);
  int starts = 0;
  int allocating_mains = 0;
  for (const nlohmann::json& row : j["rows"]) {
    for (const nlohmann::json& frame : row["stack"]) {
      if (frame["function"] == "_start") {
        ++starts;
        CHECK(frame["file"].is_null());
        CHECK(frame["line"].is_null());
      } else if (frame["function"] == "main") {
        CHECK(std::filesystem::path(frame["file"].get<std::string>()).filename() == "unit_gap.c");
        allocating_mains += frame["line"] == 18 ? 1 : 0;  // p = unit_gap_allocate(100 + i);
      }
    }
  }
  CHECK(starts >= 1);
  CHECK(allocating_mains == 1);
}
