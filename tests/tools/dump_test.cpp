// `measure dump` end to end: a server that allocates steadily under `measure run`, dumped
// twice while it runs; the dumps, their diff and the final capture against each other, and
// the refusals.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/checks.h"
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

constexpr const char* source = "tests/tools/steady_server.c";

// The row of the fixture's kept blocks in `capture`'s report by line.
json steady_row(const std::string& capture) {
  ProcessResult r = run_process({tool_path(), "report", capture, "--top", "0", "--format", "json"});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  json doc = json::parse(r.out);
  for (const json& row : doc["rows"]) {
    if (row["key"]["line"] == marker_line(source, "steady_block")) {
      return row;
    }
  }
  FAIL("no row for the kept blocks in " << capture);
  return nullptr;
}

// The fixture's pid, once it has written it.
int wait_for_started(const std::string& pidfile) {
  int pid = measure::test::wait_for_pid_file(pidfile);
  REQUIRE_MESSAGE(pid > 0, "the server did not start");
  return pid;
}

}  // namespace

TEST_CASE("dump: two dumps of a running server diff to what it allocated between them") {
  TempDir dir;
  std::string pidfile = dir.file("pid");
  std::string stop = dir.file("stop");
  std::string final_capture = dir.file("final.msr");
  ProcessResult server;
  std::thread running([&] {
    server = run_process(
        {tool_path(), "run", "-q", "-o", final_capture, "--", fixture_path("steady_server"), pidfile, stop});
  });
  int pid = wait_for_started(pidfile);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ProcessResult first = run_process({tool_path(), "dump", std::to_string(pid), "-o", dir.file("first.msr")});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ProcessResult second = run_process({tool_path(), "dump", std::to_string(pid), "-o", dir.file("second.msr")});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::ofstream(stop).put('\n');
  running.join();

  REQUIRE_MESSAGE(first.status() == 0, first.err);
  REQUIRE_MESSAGE(second.status() == 0, second.err);
  CHECK(first.err.find("measure: wrote " + dir.file("first.msr")) == 0);
  CHECK(first.out.empty());
  // The server ran to its end as it would have: its own output, exit status 0.
  REQUIRE_MESSAGE(server.status() == 0, server.err);
  int kept = 0;
  REQUIRE(std::sscanf(server.out.c_str(), "kept %d blocks", &kept) == 1);

  json a = steady_row(dir.file("first.msr"));
  json b = steady_row(dir.file("second.msr"));
  json end = steady_row(final_capture);
  std::uint64_t count_a = a["alloc_count"];
  std::uint64_t count_b = b["alloc_count"];
  CHECK(count_a > 0);
  CHECK(count_b > count_a);
  CHECK(end["alloc_count"] == kept);  // recording went on through both dumps, exactly
  CHECK(end["free_count"] == kept);
  CHECK(count_b < static_cast<std::uint64_t>(kept));
  for (const json* row : {&a, &b}) {
    CHECK((*row)["alloc_bytes"] == 1000 * (*row)["alloc_count"].get<std::uint64_t>());
    CHECK((*row)["live_count"] == (*row)["alloc_count"]);  // kept until the end
  }

  ProcessResult d = run_process(
      {tool_path(), "diff", dir.file("first.msr"), dir.file("second.msr"), "--top", "0", "--format", "json"});
  REQUIRE_MESSAGE(d.status() == 0, d.err);
  bool found = false;
  json diff = json::parse(d.out);
  for (const json& row : diff["rows"]) {
    if (row["key"]["line"] == marker_line(source, "steady_block")) {
      found = true;
      CHECK(row["status"] == "changed");
      CHECK(row["delta"]["alloc_count"] == count_b - count_a);
      CHECK(row["delta"]["live_bytes"] == 1000 * (count_b - count_a));
    }
  }
  CHECK(found);
  for (const char* name : {"first.msr", "second.msr"}) {
    ProcessResult r = run_process({tool_path(), "report", dir.file(name), "--format", "json"});
    json doc = json::parse(r.out);
    CHECK(doc["partial"] == true);
    CHECK(doc["program"]["pid"] == pid);
    CHECK(doc["symbols"]["stored_modules"].get<int>() > 0);  // stored while the files were those that ran
  }
}

TEST_CASE("dump: with the timeline and checkpoints off, the runtime still answers") {
  TempDir dir;
  std::string pidfile = dir.file("pid");
  std::string stop = dir.file("stop");
  ProcessResult server;
  std::thread running([&] {
    server = run_process(
        {tool_path(), "run", "-q", "-o", dir.file("final.msr"), "--", fixture_path("steady_server"), pidfile, stop},
        {{"MEASURE_TIMELINE", "0"}, {"MEASURE_CHECKPOINT_INTERVAL", "0"}});
  });
  int pid = wait_for_started(pidfile);
  ProcessResult dump = run_process({tool_path(), "dump", std::to_string(pid), "-o", dir.file("now.msr")});
  std::ofstream(stop).put('\n');
  running.join();
  REQUIRE_MESSAGE(dump.status() == 0, dump.err);
  REQUIRE_MESSAGE(server.status() == 0, server.err);
  json row = steady_row(dir.file("now.msr"));
  CHECK(row["alloc_count"].get<std::uint64_t>() > 0);
}

TEST_CASE("dump: a process measure run does not trace, or none, is refused with one line") {
  check_one_line_error(run_process({tool_path(), "dump", "abc"}), "'abc' is not a process id");
  check_one_line_error(run_process({tool_path(), "dump", "0"}), "'0' is not a process id");
  check_one_line_error(run_process({tool_path(), "dump", "999999999"}), "no process 999999999");
  check_one_line_error(run_process({tool_path(), "dump", std::to_string(::getpid())}), "is not one measure traces");
  check_one_line_error(run_process({tool_path(), "dump"}), "pid");
}
