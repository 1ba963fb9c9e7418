// `measure attach` and `measure detach` end to end, on a server that allocates in rounds (C
// and C++): the capture holds exactly the rounds between the attach and the detach, checked
// against the server's own arithmetic; the server's output and status are those of a run
// without measure; every mode, a second attach, dumps while attached, and the refusals.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "support/checks.h"
#include "support/skip.h"
#include "support/subprocess.h"

using measure::test::check_one_line_error;
using measure::test::fixture_path;
using measure::test::marker_line;
using measure::test::ProcessResult;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using nlohmann::json;

namespace {

constexpr const char* source = "tests/tools/attach_server.c";
constexpr int history = 50;  // a round frees the blocks of the round this many before it

// What the server does in round r (attach_server.c).
std::uint64_t kept_in(int r) {
  return 1 + r % 3;
}
std::uint64_t block_size(int r) {
  return 1000 + static_cast<std::uint64_t>(r);
}

struct Rounds {
  int first = 0;
  int last = 0;
};

// The run of consecutive rounds whose kept blocks number `count` and weigh `bytes`: the only
// one, since every round's blocks have a size of their own.
std::optional<Rounds> rounds_of(std::uint64_t count, std::uint64_t bytes, int rounds) {
  for (int a = 1; a <= rounds; ++a) {
    std::uint64_t c = 0;
    std::uint64_t b = 0;
    for (int r = a; r <= rounds && c < count; ++r) {
      c += kept_in(r);
      b += kept_in(r) * block_size(r);
      if (c == count && b == bytes) {
        return Rounds{a, r};
      }
    }
  }
  return std::nullopt;
}

// The kept blocks of rounds [first, last].
std::uint64_t kept_between(int first, int last) {
  std::uint64_t n = 0;
  for (int r = std::max(first, 1); r <= last; ++r) {
    n += kept_in(r);
  }
  return n;
}

json report_of(const std::string& capture) {
  ProcessResult r = run_process({tool_path(), "report", capture, "--top", "0", "--format", "json"});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return json::parse(r.out);
}

json row_at(const json& report, const char* marker) {
  for (const json& row : report["rows"]) {
    if (row["key"]["line"] == marker_line(source, marker)) {
      return row;
    }
  }
  return nullptr;
}

// The server, run in a thread of its own.
class Server {
 public:
  Server(const std::string& fixture, const std::string& pidfile, int rounds = 4000, const std::string& library = "")
      : m_thread([this, fixture, pidfile, rounds, library] {
          std::vector<std::string> argv = {fixture_path(fixture), pidfile, std::to_string(rounds)};
          if (!library.empty()) {
            argv.push_back(library);
          }
          m_result = run_process(argv);
        }) {
    m_pid = measure::test::wait_for_pid_file(pidfile);
    REQUIRE_MESSAGE(m_pid > 0, "the server did not start");
  }
  ~Server() { join(); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  int pid() const { return m_pid; }
  std::string id() const { return std::to_string(m_pid); }
  const ProcessResult& join() {
    if (m_thread.joinable()) {
      m_thread.join();
    }
    return m_result;
  }

 private:
  int m_pid = 0;
  ProcessResult m_result;
  std::thread m_thread;
};

// True when this machine lets a process trace one that is not its child (as `measure attach`
// does): a child sleeps, a second child tries to trace it.
bool may_trace_others() {
  pid_t sleeper = fork();
  if (sleeper == 0) {
    ::pause();
    _exit(0);
  }
  pid_t tracer = fork();
  if (tracer == 0) {
    _exit(::ptrace(PTRACE_SEIZE, sleeper, nullptr, nullptr) == 0 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(tracer, &status, 0);
  ::kill(sleeper, SIGKILL);
  ::waitpid(sleeper, nullptr, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool skipped_without_ptrace() {
  if (may_trace_others()) {
    return false;
  }
  measure::test::skip_test_case(
      "this machine does not let a process trace another that is not its child (kernel.yama.ptrace_scope, or a "
      "container without ptrace)");
  return true;
}

void sleep_until(std::chrono::steady_clock::time_point t) {
  std::this_thread::sleep_until(t);
}

// Attach at 2 s, detach (`measure detach`, or the attach's own --duration) at 5 s, beside a
// run of the same server without measure; then every number of the capture against the
// rounds it must hold. With `library`, the servers load a library half way (after the
// attach) and the detach is at 7 s.
void check_attach_interval(const std::string& fixture, bool by_duration, const std::string& library = "") {
  TempDir dir;
  std::string capture = dir.file("attached.msr");
  constexpr int all_rounds = 4000;
  Server native(fixture, dir.file("native.pid"), all_rounds, library);
  Server server(fixture, dir.file("server.pid"), all_rounds, library);
  auto start = std::chrono::steady_clock::now();
  int detach_at = library.empty() ? 5 : 7;
  sleep_until(start + std::chrono::seconds(2));
  ProcessResult attach;
  std::vector<std::string> argv = {tool_path(), "attach", server.id(), "-o", capture};
  if (by_duration) {
    argv.insert(argv.end(), {"--duration", std::to_string(detach_at - 2)});
  }
  std::thread attaching([&] { attach = run_process(argv); });
  ProcessResult detach;
  if (!by_duration) {
    sleep_until(start + std::chrono::seconds(detach_at));
    detach = run_process({tool_path(), "detach", server.id()});
  }
  attaching.join();
  const ProcessResult& ours = server.join();
  const ProcessResult& theirs = native.join();

  REQUIRE_MESSAGE(attach.status() == 0, attach.err);
  CHECK(attach.out.empty());
  CHECK(attach.err.find("measure: recording process " + server.id() + " in exact mode") == 0);
  CHECK(attach.err.find("measure: wrote " + capture) != std::string::npos);
  if (!by_duration) {
    REQUIRE_MESSAGE(detach.status() == 0, detach.err);
    CHECK(detach.err.find("measure: detached from process " + server.id()) == 0);
  }
  // The server ran as it runs without measure: the same output, nothing on stderr, status 0.
  REQUIRE(theirs.status() == 0);
  CHECK(ours.status() == 0);
  CHECK(ours.out == theirs.out);
  CHECK(ours.err.empty());
  int rounds = 0;
  long blocks = 0;
  REQUIRE(std::sscanf(ours.out.c_str(), "rounds %d blocks %ld", &rounds, &blocks) == 2);
  CHECK(static_cast<std::uint64_t>(blocks) == kept_between(1, rounds));

  json report = report_of(capture);
  CHECK(report["program"]["attached"] == true);
  CHECK(report["program"]["pid"] == server.pid());
  CHECK(report["partial"] == false);
  ProcessResult text = run_process({tool_path(), "report", capture});
  CHECK(text.out.find("live at the detach") != std::string::npos);
  CHECK(text.out.find("leaked") == std::string::npos);
  json kept = row_at(report, "round_block");
  json temporary = row_at(report, "round_temporary");
  REQUIRE(kept != nullptr);
  REQUIRE(temporary != nullptr);
  std::optional<Rounds> seen = rounds_of(kept["alloc_count"], kept["alloc_bytes"], rounds);
  REQUIRE_MESSAGE(seen, "the capture holds no whole run of rounds: " << kept.dump());
  int a = seen->first;
  int b = seen->last;
  MESSAGE("rounds ", a, " to ", b, " of ", rounds);
  CHECK(a > 1);        // not from the start
  CHECK(b < rounds);   // nor to the end
  CHECK(b - a > 200);  // about three seconds of 2 ms rounds, on a loaded machine
  // One temporary per round, freed at once.
  CHECK(temporary["alloc_count"] == b - a + 1);
  CHECK(temporary["alloc_bytes"] == 24 * (b - a + 1));
  CHECK(temporary["free_count"] == b - a + 1);
  CHECK(temporary["live_count"] == 0);
  // Round r freed the blocks of round r - 50: those kept since the attach were recorded as
  // freed, the older ones are the frees of blocks allocated before it.
  CHECK(kept["free_count"] == kept_between(a, b - history));
  CHECK(kept["live_count"] == kept_between(std::max(a, b - history + 1), b));
  CHECK(report["dropped"]["unmatched_frees"] == 0);
  std::uint64_t before = kept_between(std::max(1, a - history), std::min(a - 1, b - history));
  if (library.empty()) {
    CHECK(report["dropped"]["freed_before_attach"] == before);
    CHECK(report["totals"]["alloc_count"] == kept["alloc_count"].get<std::uint64_t>() + (b - a + 1));
    return;
  }
  // The library came after the attach; the runtime redirects its calls within 0.1 s of the
  // load. Each round from the load on freed one of its blocks: a block allocated before the
  // redirect is freed as one allocated before the attach.
  int loaded = all_rounds / 2;
  REQUIRE(a < loaded);
  REQUIRE(b > loaded + 200);
  std::uint64_t calls = static_cast<std::uint64_t>(b - loaded + 1);
  json from_library = nullptr;
  for (const json& row : report["rows"]) {
    if (row["key"]["file"].get<std::string>().ends_with("churn_lib.c") &&
        row["key"]["line"] == marker_line("tests/hostile/libraries/churn_lib.c", "churn_malloc")) {
      from_library = row;
    }
  }
  REQUIRE_MESSAGE(from_library != nullptr, "no row for the library's allocations");
  std::uint64_t recorded = from_library["alloc_count"];
  MESSAGE(recorded, " of the library's ", calls, " allocations recorded");
  CHECK(recorded <= calls);
  CHECK(recorded + 150 >= calls);  // a 0.1 s poll: about 50 rounds of 2 ms, 150 on a loaded machine
  CHECK(from_library["free_count"] == recorded);
  CHECK(from_library["live_count"] == 0);
  CHECK(report["dropped"]["freed_before_attach"] == before + (calls - recorded));
  CHECK(report["totals"]["alloc_count"] == kept["alloc_count"].get<std::uint64_t>() + (b - a + 1) + recorded);
}

}  // namespace

TEST_CASE("attach: the capture holds exactly the rounds between attach and detach (C)" *
          doctest::test_suite("ptrace")) {
  if (skipped_without_ptrace()) {
    return;
  }
  check_attach_interval("attach_server", false);
}

TEST_CASE("attach: --duration ends the recording by itself (C++, new[] and delete[])" * doctest::test_suite("ptrace")) {
  if (skipped_without_ptrace()) {
    return;
  }
  check_attach_interval("attach_server_cxx", true);
}

TEST_CASE("attach: a library loaded after the attach is recorded once the runtime has seen it" *
          doctest::test_suite("ptrace")) {
  if (skipped_without_ptrace()) {
    return;
  }
  check_attach_interval("attach_server", false, fixture_path("libchurn_lib.so"));
}

TEST_CASE("attach: every mode, one after another, a dump while attached, and no second attach" *
          doctest::test_suite("ptrace")) {
  if (skipped_without_ptrace()) {
    return;
  }
  TempDir dir;
  Server server("attach_server", dir.file("pid"), 5000);
  for (const char* mode : {"sampled", "counters", "exact"}) {
    CAPTURE(mode);
    std::string capture = dir.file(std::string(mode) + ".msr");
    ProcessResult attach;
    std::thread attaching([&] {
      attach = run_process({tool_path(), "attach", server.id(), "--mode", mode, "-o", capture, "-q"});
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    check_one_line_error(run_process({tool_path(), "attach", server.id()}), "measure attach records process");
    ProcessResult dump = run_process({tool_path(), "dump", server.id(), "-o", dir.file("dump.msr"), "-q"});
    ProcessResult detach = run_process({tool_path(), "detach", server.id(), "-q"});
    attaching.join();
    if (attach.status() != 0) {
      const ProcessResult& end = server.join();
      FAIL("attach: " << attach.err << "; the server: status " << end.status() << ", " << end.out << end.err);
    }
    CHECK(attach.err.empty());
    REQUIRE_MESSAGE(dump.status() == 0, dump.err);
    REQUIRE_MESSAGE(detach.status() == 0, detach.err);
    json report = report_of(capture);
    CHECK(report["mode"] == mode);
    CHECK(report["program"]["attached"] == true);
    // The totals are exact in every mode: a whole run of rounds, kept blocks and temporaries.
    std::uint64_t count = report["totals"]["alloc_count"];
    std::uint64_t bytes = report["totals"]["alloc_bytes"];
    bool whole = false;
    for (int a = 1; a <= 5000 && !whole; ++a) {
      std::uint64_t c = 0;
      std::uint64_t s = 0;
      for (int r = a; r <= 5000 && c < count; ++r) {
        c += kept_in(r) + 1;
        s += kept_in(r) * block_size(r) + 24;
        whole = whole || (c == count && s == bytes);
      }
    }
    CHECK_MESSAGE(whole, "totals " << report["totals"].dump());
    json now = report_of(dir.file("dump.msr"));
    CHECK(now["program"]["attached"] == true);
    CHECK(now["partial"] == true);
    CHECK(now["totals"]["alloc_count"].get<std::uint64_t>() <= count);
    CHECK(now["totals"]["alloc_count"].get<std::uint64_t>() > 0);
  }
  const ProcessResult& end = server.join();
  CHECK(end.status() == 0);
  CHECK(end.err.empty());
}

TEST_CASE("attach: a process that ends while attached leaves its capture, written at its exit" *
          doctest::test_suite("ptrace")) {
  if (skipped_without_ptrace()) {
    return;
  }
  TempDir dir;
  Server server("attach_server", dir.file("pid"), 400);
  std::string capture = dir.file("to-exit.msr");
  ProcessResult attach = run_process({tool_path(), "attach", server.id(), "-o", capture});
  const ProcessResult& end = server.join();
  REQUIRE_MESSAGE(attach.status() == 0, attach.err);
  CHECK(attach.err.find("live when the process ended") != std::string::npos);
  CHECK(end.status() == 0);
  json report = report_of(capture);
  CHECK(report["program"]["attached"] == true);
  CHECK(report["partial"] == false);
  // The server frees every block of its own before it exits; the one left is the C library's
  // buffer for standard output, which its final printf allocates.
  CHECK(report["totals"]["live_count"] == 1);
  ProcessResult text = run_process({tool_path(), "report", capture});
  CHECK(text.out.find("recorded from an attach for") != std::string::npos);
  CHECK(text.out.find(", until the process ended") != std::string::npos);
  CHECK(text.out.find("; leaked ") != std::string::npos);
  CHECK(text.out.find("live at the detach") == std::string::npos);
}

TEST_CASE("attach: refusals are one line with exit status 2") {
  TempDir dir;
  check_one_line_error(run_process({tool_path(), "attach", "abc"}), "'abc' is not a process id");
  check_one_line_error(run_process({tool_path(), "attach", "999999999"}), "no process 999999999");
  check_one_line_error(run_process({tool_path(), "attach", std::to_string(::getpid()), "--mode", "all"}), "--mode");
  check_one_line_error(run_process({tool_path(), "attach", "1", "--duration", "0"}), "--duration");
  check_one_line_error(run_process({tool_path(), "detach", "999999999"}), "no process 999999999");
  check_one_line_error(run_process({tool_path(), "detach", std::to_string(::getpid())}),
                       "measure attach does not record process");

  {
    // Statically linked: no loader to load measure with.
    Server server("attach_server_static", dir.file("static.pid"), 300);
    check_one_line_error(run_process({tool_path(), "attach", server.id()}), "is statically linked");
  }
  {
    // Traced already (here by this test, as a debugger would).
    Server server("attach_server", dir.file("traced.pid"), 300);
    REQUIRE(::ptrace(PTRACE_SEIZE, server.pid(), nullptr, nullptr) == 0);
    check_one_line_error(run_process({tool_path(), "attach", server.id()}),
                         "is traced already, by process " + std::to_string(::getpid()));
    ::ptrace(PTRACE_INTERRUPT, server.pid(), nullptr, nullptr);
    int status = 0;
    ::waitpid(server.pid(), &status, __WALL);
    ::ptrace(PTRACE_DETACH, server.pid(), nullptr, nullptr);
  }
  {
    // Recorded already: by `measure run`, or by another attach.
    ProcessResult run;
    std::string pidfile = dir.file("run.pid");
    std::thread running([&] {
      run = run_process(
          {tool_path(), "run", "-q", "-o", dir.file("run.msr"), "--", fixture_path("attach_server"), pidfile, "300"});
    });
    int pid = measure::test::wait_for_pid_file(pidfile);
    REQUIRE(pid > 0);
    check_one_line_error(run_process({tool_path(), "attach", std::to_string(pid)}),
                         "is traced by measure from its start already");
    running.join();
    CHECK(run.status() == 0);
  }
}

TEST_CASE("attach: without permission to trace, one line and exit status 2" * doctest::test_suite("non_root")) {
  if (::geteuid() == 0) {
    measure::test::skip_test_case("root may trace every process");
    return;
  }
  check_one_line_error(run_process({tool_path(), "attach", "1"}), "process 1");
}
