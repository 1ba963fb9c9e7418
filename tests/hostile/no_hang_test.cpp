// The hostile and ordinary fixtures under `measure run`, many times over: every run must
// behave exactly as the native run next to it (output, errors, status) and finish within its
// time limit, and every process that ends normally leaves a readable, final capture. Races
// (forks while another thread allocates, threads still allocating at exit, signals) show up
// as a rare hang or a different result, so one pass proves little: the loop is the test.
//
// NO_HANG_ROUNDS overrides the number of rounds (default 20: about 20 s on an idle
// machine); run with
// NO_HANG_ROUNDS=200 to soak.
#include <csignal>
#include <filesystem>

#include <doctest/doctest.h>

#include "format/capture.h"
#include "format/capture_format.h"
#include "support/side_by_side.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::ProcessResult;
using measure::test::TempDir;
namespace fs = std::filesystem;

namespace {

// Generous for programs that take milliseconds: only a hang can reach it.
constexpr double per_run_timeout_seconds = 30;

struct Fixture {
  Fixture(std::vector<std::string> args, std::vector<std::string> flags = {}, bool adds_warnings = false)
      : argv(std::move(args)), run_flags(std::move(flags)), warns(adds_warnings) {}
  std::vector<std::string> argv;       // argv[0] is a fixture name
  std::vector<std::string> run_flags;  // for `measure run`
  bool warns;                          // measure run adds "measure: " lines to stderr
};

std::vector<Fixture> fixtures() {
  std::string exit_with = fixture_path("exit_with");
  std::vector<Fixture> all = {
      {{"alloc_c"}},
      {{"alloc_cpp"}},
      {{"alloc_threads"}},
      {{"exit_order"}},
      {{"grow_site", "50"}},
      {{"exit_with", "3"}},
      {{"exit_with", "exit", "4"}},
      {{"exit_with", "signal", "15"}},
      {{"edge_cases"}},
      {{"own_malloc"}, {}, true},
      {{"uses_mimalloc"}, {}, true},
      {{"malloc_address"}},
      {{"fork_child", "4"}},
      {{"fork_child", "4"}, {"--follow-forks"}},
      {{"spawn", exit_with}},
      {{"spawn", exit_with}, {"--follow-forks", "--follow-exec"}},
      {{"signals", "handlers", "300"}},
      {{"signals", "storm", "1"}},
      {{"signals", "sigwait", "300"}},
      {{"libraries", fs::path(fixture_path("libraries")).parent_path().string(), "20"}},
  };
  for (const char* how : {"return", "exit", "_exit", "_Exit", "quick_exit", "threads"}) {
    all.emplace_back(std::vector<std::string>{"exit_paths", how});
  }
  for (Fixture& f : all) {
    f.argv[0] = fixture_path(f.argv[0]);
  }
  return all;
}

int rounds() {
  const char* text = std::getenv("NO_HANG_ROUNDS");
  int n = text != nullptr ? std::atoi(text) : 0;
  return n > 0 ? n : 20;
}

// Standard error without the lines measure itself adds (warnings about the program).
std::string program_lines(const std::string& err) {
  std::string kept;
  for (std::size_t at = 0; at < err.size();) {
    std::size_t end = err.find('\n', at);
    end = end == std::string::npos ? err.size() : end + 1;
    if (err.compare(at, 9, "measure: ") != 0) {
      kept += err.substr(at, end - at);
    }
    at = end;
  }
  return kept;
}

std::string describe(const Fixture& f) {
  std::string text;
  for (const std::string& flag : f.run_flags) {
    text += flag + " ";
  }
  for (const std::string& arg : f.argv) {
    text += fs::path(arg).filename().string() + " ";
  }
  return text;
}

}  // namespace

TEST_CASE("the fixtures under measure run, round after round: same behaviour as natively, never a hang") {
  const std::vector<Fixture> all = fixtures();
  int runs = 0;
  for (int round = 0; round < rounds(); ++round) {
    for (const Fixture& f : all) {
      std::string what = describe(f);
      CAPTURE(round);
      CAPTURE(what);
      TempDir dir;
      auto options = measure::test::reproducible_options(dir.path(), dir.path(), per_run_timeout_seconds);
      auto r = measure::test::run_side_by_side(f.argv, options, dir.file("c.%p.msr"), f.run_flags);
      ++runs;
      REQUIRE_MESSAGE(!r.native.timed_out, what << "did not finish natively within its time limit");
      REQUIRE_MESSAGE(!r.measured.timed_out,
                      what << "hung under measure run (killed after " << per_run_timeout_seconds << " s)");
      if (f.warns) {
        CHECK(r.measured.status() == r.native.status());
        CHECK(r.measured.out == r.native.out);
        CHECK(program_lines(r.measured.err) == r.native.err);
      } else {
        measure::test::check_same_behaviour(r.native, r.measured);
      }
      // Every capture written is whole; the measured process itself leaves one unless a
      // signal ended it.
      int captures = 0;
      for (const auto& entry : fs::directory_iterator(dir.path())) {
        std::string name = entry.path().filename().string();
        if (name.rfind("c.", 0) != 0 || name.find(".tmp.") != std::string::npos) {
          continue;
        }
        CAPTURE(name);
        ++captures;
        measure::Capture c;
        REQUIRE_NOTHROW(c = measure::read_capture(entry.path().string()));
        CHECK((c.program.flags & measure::format::program_final) != 0);
      }
      CHECK(captures >= (r.native.signal == 0 ? 1 : 0));
    }
  }
  MESSAGE(runs << " measured runs, each beside a native one");
}

TEST_CASE("the per-run time limit ends a hung program and everything it started") {
  measure::test::ProcessOptions o;
  o.timeout_seconds = 1;
  ProcessResult r = measure::test::run_process_with({"bash", "-c", "echo started; sleep 60 & sleep 60"}, o);
  CHECK(r.timed_out);
  CHECK(r.signal == SIGKILL);
  CHECK(r.out == "started\n");
  // A descendant in its own session keeps the output pipe open after the kill: it is left
  // behind after a grace period instead of being waited for.
  ProcessResult escaped = measure::test::run_process_with({"bash", "-c", "setsid sleep 8 & sleep 60"}, o);
  CHECK(escaped.timed_out);
  CHECK(escaped.signal == SIGKILL);
}
