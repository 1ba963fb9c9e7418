// Signals under `measure run` (fixture: tests/hostile/signals.c): handlers that allocate while
// other threads allocate, a storm of signals interrupting the hooks and the runtime, and a
// program that takes its signals with sigwait, and a handler calling _exit on a thread inside
// malloc. Each run behaves as the native run beside it and never hangs; the captures of runs
// that end normally are complete, with exact counts at every allocating line.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/checks.h"
#include "support/side_by_side.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::TempDir;

namespace {

constexpr double timeout_seconds = 60;
constexpr long workers = 3;  // as in signals.c
constexpr long worker_rounds = 20000;

// Blocks allocated at the line of `marker` in signals.c, from the report of `capture`.
std::uint64_t allocations_at(const std::string& capture, const std::string& marker) {
  int line = measure::test::marker_line("tests/hostile/signals.c", marker);
  auto r = measure::test::run_process(
      {measure::test::tool_path(), "report", capture, "--by", "line", "--top", "0", "--format", "json"});
  REQUIRE(r.status() == 0);
  nlohmann::json report = nlohmann::json::parse(r.out);
  std::uint64_t count = 0;
  for (const auto& row : report["rows"]) {
    if (row["key"]["line"] == line) {
      count += row["alloc_count"].get<std::uint64_t>();
    }
  }
  return count;
}

// Runs `signals mode count` natively and measured, `rounds` times; checks behaviour, the
// capture and the workers' exact counts (times `worker_runs`), and returns the last capture.
std::string run_rounds(const TempDir& dir, const std::string& mode, long count, int rounds, long worker_runs) {
  std::vector<std::string> argv = {fixture_path("signals"), mode, std::to_string(count)};
  std::string capture = dir.file(mode + ".msr");
  for (int round = 0; round < rounds; ++round) {
    CAPTURE(round);
    auto options = measure::test::reproducible_options(dir.path(), dir.path(), timeout_seconds);
    auto r = measure::test::run_side_by_side(argv, options, capture);
    measure::test::check_same_behaviour(r.native, r.measured);
    CHECK(r.native.status() == 0);
    measure::test::check_top_capture(capture, argv, 0);
    for (const char* marker : {"worker_malloc", "worker_calloc", "worker_realloc"}) {
      CAPTURE(marker);
      CHECK(allocations_at(capture, marker) == static_cast<std::uint64_t>(workers * worker_rounds * worker_runs));
    }
  }
  return capture;
}

}  // namespace

TEST_CASE("handlers that allocate, on a thread of their own, while three threads allocate") {
  TempDir dir;
  constexpr long count = 3000;
  std::string capture = run_rounds(dir, "handlers", count, 3, 1);
  CHECK(allocations_at(capture, "handler_malloc") == count);
}

TEST_CASE("a storm of timer signals and SIGUSR1 interrupting allocating threads, without SA_RESTART") {
  TempDir dir;
  // Two storms per process: the second one's threads reuse the stacks of the first one's.
  constexpr long storms = 2;
  run_rounds(dir, "storm", storms, 5, storms);
}

TEST_CASE("a program that takes a process-directed signal with sigwait in one thread gets every one") {
  // The runtime's own thread must block every signal: a process-directed SIGUSR2 delivered
  // there would take its default action and end the process.
  TempDir dir;
  constexpr long count = 2000;
  std::string capture = run_rounds(dir, "sigwait", count, 3, 1);
  CHECK(allocations_at(capture, "waiter_malloc") == count);
}

TEST_CASE("a SIGTERM handler calling _exit while its thread is inside malloc or the hooks: no deadlock") {
  // Natively fine (_exit is async-signal-safe); measured, finishing the capture from inside
  // an interrupted allocation would wait for locks the thread itself holds.
  TempDir dir;
  for (int round = 0; round < 12; ++round) {
    CAPTURE(round);
    std::vector<std::string> argv = {fixture_path("signals"), "exit", std::to_string(100 + round)};
    auto options = measure::test::reproducible_options(dir.path(), dir.path(), timeout_seconds);
    auto r = measure::test::run_side_by_side(argv, options, dir.file("exit.%p.msr"));
    measure::test::check_same_behaviour(r.native, r.measured);
    CHECK(r.native.status() == round);
  }
}
