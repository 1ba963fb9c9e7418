// The stack walk against the program's own files (fixture: tests/hostile/unwind_paths.c). The
// fixture allocates through every path the walk takes (plain frames, a DRAP frame, a signal
// handler, a handler on a sigaltstack, a makecontext coroutine) while its files are open on
// descriptors 3 to 20, and closes and reopens them around the allocations. Measured, in every
// mode, it must find the same free descriptors, read the same bytes and write the same files as
// natively; in exact mode each path's stacks must be complete, through the signal frames.
#include <filesystem>
#include <map>
#include <sstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/side_by_side.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::TempDir;

namespace {

namespace fs = std::filesystem;

constexpr double timeout_seconds = 60;

// Every file under `directory` by name, with its bytes.
std::map<std::string, std::string> files_in(const std::string& directory) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(directory)) {
    files[entry.path().filename().string()] = measure::test::read_text(entry.path().string());
  }
  return files;
}

// The folded stacks of `capture` (one line per stack: frames outermost first, then bytes).
std::vector<std::string> folded_stacks(const std::string& capture) {
  auto r = measure::test::run_process({measure::test::tool_path(), "report", capture, "--format", "folded"});
  REQUIRE(r.status() == 0);
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

// The one folded stack that ends with `leaf` and contains `through`, or "" (with a failed check)
// when there is not exactly one.
std::string stack_of(const std::vector<std::string>& stacks, const std::string& through, const std::string& leaf) {
  std::string found;
  int matches = 0;
  for (const std::string& line : stacks) {
    std::string frames = line.substr(0, line.rfind(' '));
    if (frames.size() >= leaf.size() && frames.compare(frames.size() - leaf.size(), leaf.size(), leaf) == 0 &&
        frames.find(through) != std::string::npos) {
      found = line;
      ++matches;
    }
  }
  CHECK_MESSAGE(matches == 1, "stacks through " << through << " ending in " << leaf << ": " << matches);
  return found;
}

TEST_CASE("the stack walk leaves the program's file descriptors alone, on every path, in every mode") {
  for (std::string mode : {"exact", "sampled", "counters"}) {
    CAPTURE(mode);
    TempDir dir;
    fs::create_directory(dir.file("native"));
    fs::create_directory(dir.file("measured"));
    auto options = measure::test::reproducible_options(dir.path(), dir.path(), timeout_seconds);
    std::vector<std::string> flags = {"--mode", mode};
    if (mode == "sampled") {
      flags.insert(flags.end(), {"--sample-interval", "1"});  // every block sampled: every one walks
    }
    auto native = measure::test::run_process_with({fixture_path("unwind_paths"), dir.file("native")}, options);
    auto measured = measure::test::run_measured({fixture_path("unwind_paths"), dir.file("measured")}, options,
                                                dir.file("capture.msr"), flags);
    measure::test::check_same_behaviour(native, measured);
    REQUIRE(native.status() == 0);
    // The same free descriptors as natively: the runtime keeps none open.
    CHECK(native.out.rfind("first free descriptor: 3\n", 0) == 0);
    CHECK(native.out.find("open returned") == std::string::npos);
    // Every read saw the file's own bytes, every file holds exactly what the program wrote.
    CHECK(native.out.find("drap round 0 fd 3 read 16: in03 round 0...\n") != std::string::npos);
    CHECK(native.out.find("coroutine round 2 fd 19 read 16: in19 round 2...\n") != std::string::npos);
    auto native_files = files_in(dir.file("native"));
    CHECK(native_files.size() == 6 * 18);
    CHECK(files_in(dir.file("measured")) == native_files);
    CHECK(native_files["out.signal.4"] == "out04 round 0.\nout04 round 1.\nout04 round 2.\n");
  }
}

// The capture's count of stacks the walk could not finish (`dropped.partial_stacks`).
std::uint64_t partial_stacks(const std::string& capture) {
  auto r = measure::test::run_process({measure::test::tool_path(), "report", capture, "--format", "json"});
  REQUIRE(r.status() == 0);
  return nlohmann::json::parse(r.out)["dropped"]["partial_stacks"].get<std::uint64_t>();
}

// The stacks of every path that stays on the thread's own stack (or comes back to it through a
// signal frame) are complete; with `sigaltstack`, also the path whose handler runs on one.
void check_thread_stack_paths(const std::vector<std::string>& stacks, bool sigaltstack) {
  const std::string program = "main;run_path;";
  // Bytes: each visit of a path allocates 4 blocks per function (plain_alloc 40-43 bytes directly,
  // 24-27 through allocate_here; drap_alloc 19), six visits per path.
  CHECK(stack_of(stacks, program + "through_plain;plain_alloc", ";plain_alloc").ends_with(" 996"));
  CHECK(stack_of(stacks, program + "through_drap;drap_alloc", ";drap_alloc").ends_with(" 456"));
  // Through the frame whose rule is a longer expression (an assembly function without a name in
  // the debug information): 60-63 bytes, six visits.
  std::string expression = stack_of(stacks, program + "through_expression;", ";expression_callee;plain_alloc");
  CHECK(expression.ends_with(" 1476"));
  for (const char* through : {"through_signal;", "through_sigaltstack;"}) {
    if (!sigaltstack && std::string(through) == "through_sigaltstack;") {
      continue;
    }
    CAPTURE(through);
    // The handler's frames, the kernel's signal frame (glibc's restorer) and the interrupted code
    // up to main: the walk crossed the signal frame, also onto the thread's stack from the
    // sigaltstack.
    std::string plain = stack_of(stacks, program + through, ";handler;allocate_here;plain_alloc");
    std::string drap = stack_of(stacks, program + through, ";handler;allocate_here;drap_alloc");
    CHECK(plain.ends_with(" 612"));
    CHECK(drap.ends_with(" 456"));
    CHECK(plain.find("raise") != std::string::npos);
  }
}

}  // namespace

TEST_CASE("stacks are complete through DRAP frames, signal frames, a sigaltstack and a coroutine") {
  TempDir dir;
  fs::create_directory(dir.file("run"));
  auto options = measure::test::reproducible_options(dir.path(), dir.path(), timeout_seconds);
  std::vector<std::string> argv = {fixture_path("unwind_paths"), dir.file("run")};
  auto r = measure::test::run_measured(argv, options, dir.file("capture.msr"));
  REQUIRE(r.status() == 0);
  measure::test::check_top_capture(dir.file("capture.msr"), argv, 0);
  CHECK(partial_stacks(dir.file("capture.msr")) == 0);
  auto stacks = folded_stacks(dir.file("capture.msr"));
  check_thread_stack_paths(stacks, true);
  // A coroutine's stack begins at makecontext's start routine (entered by a return, so no unwind
  // entry covers its return address): one frame, then the coroutine's own, and nothing from the
  // stack that started it.
  for (const auto& [leaf, bytes] : {std::pair{";coroutine_body;large_frame;allocate_here;plain_alloc", " 612"},
                                    std::pair{";coroutine_body;large_frame;allocate_here;drap_alloc", " 456"}}) {
    std::string case_leaf = leaf;  // Clang 14 cannot capture a structured binding in CAPTURE's lambda
    CAPTURE(case_leaf);
    std::string line = stack_of(stacks, leaf, leaf);
    CHECK(line.ends_with(bytes));
    CHECK(line.find(';') == line.find(";coroutine_body;"));
  }
}

TEST_CASE("without process_vm_readv (a seccomp filter), walks off the thread's stack end early, flagged partial") {
  // The runtime never reads memory it cannot show readable: a coroutine's stack beyond the page of
  // the toolkit's own frame is given up, never read at the risk of a fault.
  TempDir dir;
  fs::create_directory(dir.file("native"));
  fs::create_directory(dir.file("measured"));
  auto options = measure::test::reproducible_options(dir.path(), dir.path(), timeout_seconds);
  auto native =
      measure::test::run_process_with({fixture_path("unwind_paths"), dir.file("native"), "--deny-probes"}, options);
  std::vector<std::string> argv = {fixture_path("unwind_paths"), dir.file("measured"), "--deny-probes"};
  auto measured = measure::test::run_measured(argv, options, dir.file("capture.msr"));
  measure::test::check_same_behaviour(native, measured);
  REQUIRE(native.status() == 0);
  CHECK(files_in(dir.file("measured")) == files_in(dir.file("native")));
  measure::test::check_top_capture(dir.file("capture.msr"), argv, 0);
  // The coroutine's stacks: the large frame's caller lies beyond the page of the toolkit's frame.
  // (A handler's frames on the sigaltstack and the kernel's signal frame may fit on that page or
  // not, depending on the size of the processor's register state.)
  CHECK(partial_stacks(dir.file("capture.msr")) >= 2);
  check_thread_stack_paths(folded_stacks(dir.file("capture.msr")), false);
}
