// Children: forks with the runtime's locks in use, --follow-forks and --follow-exec, captures
// that never overwrite each other, and every way of starting a process.
#include <filesystem>
#include <map>
#include <set>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "format/capture.h"
#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::marker_line;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> captures_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.find(".msr") != std::string::npos && name.find(".tmp.") == std::string::npos) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Metrics of the rows of `capture` at `line` of `file`, via the real report.
nlohmann::json row_at(const std::string& capture, const std::string& file, int line) {
  auto r = run_process({tool_path(), "report", capture, "--top", "0", "--format", "json"});
  REQUIRE(r.status() == 0);
  nlohmann::json report = nlohmann::json::parse(r.out);
  for (const auto& row : report["rows"]) {
    if (row["key"]["line"] == line && row["key"]["file"].is_string() &&
        fs::path(row["key"]["file"].get<std::string>()).filename() == file) {
      return row;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("forks while another thread allocates: children untraced by default, nothing changes") {
  auto native = run_process({fixture_path("fork_child"), "5"});
  TempDir dir;
  auto measured =
      run_process({tool_path(), "run", "-q", "-o", dir.file("f.%p.msr"), "--", fixture_path("fork_child"), "5"});
  CHECK(measured.status() == native.status());
  CHECK(measured.out == native.out);
  CHECK(measured.err == native.err);
  auto captures = captures_in(dir.path());
  REQUIRE(captures.size() == 1);  // the children wrote nothing
  std::string source = "tests/hostile/fork_child.c";
  nlohmann::json inherited = row_at(captures[0], "fork_child.c", marker_line(source, "parent_inherited"));
  REQUIRE_FALSE(inherited.is_null());
  CHECK(inherited["alloc_count"] == 5);
  CHECK(inherited["free_count"] == 5);
  CHECK(row_at(captures[0], "fork_child.c", marker_line(source, "child_alloc")).is_null());
}

TEST_CASE("--follow-forks: every child writes its own capture, starting from what it inherited") {
  TempDir dir;
  auto native = run_process({fixture_path("fork_child"), "4"});
  auto measured = run_process(
      {tool_path(), "run", "--follow-forks", "-o", dir.file("f.%p.msr"), "--", fixture_path("fork_child"), "4"});
  CHECK(measured.status() == native.status());
  CHECK(measured.out == native.out);
  CHECK(measured.err.find("4 more captures from child processes") != std::string::npos);
  auto captures = captures_in(dir.path());
  REQUIRE(captures.size() == 5);
  std::string source = "tests/hostile/fork_child.c";
  int children = 0;
  std::set<std::uint64_t> pids;
  std::uint64_t parent_pid = 0;
  for (const std::string& path : captures) {
    measure::Capture c = measure::read_capture(path);
    pids.insert(c.program.pid);
    CHECK(c.diagnostic("unmatched_frees") == 0);
    nlohmann::json own = row_at(path, "fork_child.c", marker_line(source, "child_alloc"));
    if (own.is_null()) {
      parent_pid = c.program.pid;
      continue;
    }
    ++children;
    CHECK(own["alloc_count"] == 3);
    CHECK(own["alloc_bytes"] == 300);
    CHECK(own["free_count"] == 1);
    CHECK(own["live_bytes"] == 200);
    // The inherited site: the parent's live blocks at the fork, one of them freed here.
    bool found = false;
    for (std::size_t i = 0; i < c.sites.size(); ++i) {
      const measure::Stack& stack = c.stacks[c.sites[i].stack];
      if ((stack.flags & measure::stack_inherited) != 0) {
        found = true;
        CHECK(c.sites[i].metrics.alloc_count >= 2);  // at least `before` and `inherited`
        CHECK(c.sites[i].metrics.free_count >= 1);
        // The summary counts the inherited blocks apart from the child's own sizes.
        CHECK(c.summary.inherited_count == c.sites[i].metrics.alloc_count);
        CHECK(c.summary.inherited_bytes == c.sites[i].metrics.alloc_bytes);
      }
    }
    CHECK(found);
    // The child's summary: its own sizes and its one thread, the forked one.
    REQUIRE(c.summary.recorded);
    std::uint64_t count = c.summary.inherited_count;
    std::uint64_t bytes = c.summary.inherited_bytes;
    for (const measure::SizeClassCounts& k : c.summary.sizes) {
      count += k.count;
      bytes += k.bytes;
    }
    CHECK(count == c.totals.alloc_count);
    CHECK(bytes == c.totals.alloc_bytes);
    REQUIRE(c.summary.sizes.size() > 7);
    CHECK(c.summary.sizes[7].count == 3);  // the three blocks of 100 bytes
    REQUIRE(c.summary.threads.size() == 1);
    CHECK(c.summary.threads[0].os_thread_id == c.program.pid);
    CHECK(c.summary.threads[0].alloc_count + c.summary.inherited_count == c.totals.alloc_count);
  }
  CHECK(children == 4);
  CHECK(pids.size() == 5);
  for (const std::string& path : captures) {
    measure::Capture c = measure::read_capture(path);
    if (c.program.pid != parent_pid) {
      CHECK(c.program.parent_pid == parent_pid);
    }
  }
}

TEST_CASE("a name without %p is never overwritten by another process") {
  TempDir dir;
  auto r = run_process(
      {tool_path(), "run", "-q", "--follow-forks", "-o", dir.file("fixed.msr"), "--", fixture_path("fork_child"), "3"});
  CHECK(r.status() == 0);
  auto captures = captures_in(dir.path());
  CHECK(captures.size() == 4);  // fixed.msr, fixed.msr.1, .2, .3
  std::set<std::uint64_t> pids;
  for (const std::string& path : captures) {
    pids.insert(measure::read_capture(path).program.pid);
  }
  CHECK(pids.size() == 4);
  // Running again with the same explicit name replaces the top process's file.
  auto again = run_process({tool_path(), "run", "-q", "-o", dir.file("fixed.msr"), "--", fixture_path("exit_with")});
  CHECK(again.status() == 0);
  CHECK(fs::path(measure::read_capture(dir.file("fixed.msr")).program.executable).filename() == "exit_with");
}

TEST_CASE("fork+exec, vfork+exec, posix_spawn and system() behave as natively") {
  auto native = run_process({fixture_path("spawn"), fixture_path("exit_with")});
  REQUIRE(native.status() == 0);
  for (const char* line : {"fork+exec: 3\n", "vfork+exec: 3\n", "posix_spawn: 3\n", "system: 5\n"}) {
    CHECK(native.out.find(line) != std::string::npos);
  }

  TempDir plain;
  auto measured = run_process(
      {tool_path(), "run", "-q", "-o", plain.file("s.%p.msr"), "--", fixture_path("spawn"), fixture_path("exit_with")});
  CHECK(measured.status() == native.status());
  CHECK(measured.out == native.out);
  CHECK(measured.err == native.err);
  CHECK(captures_in(plain.path()).size() == 1);  // exec'd programs were not preloaded

  TempDir followed;
  auto traced = run_process({tool_path(), "run", "-q", "--follow-exec", "-o", followed.file("s.%p.msr"), "--",
                             fixture_path("spawn"), fixture_path("exit_with")});
  CHECK(traced.out == native.out);
  CHECK(traced.err == native.err);
  // spawn itself and four exit_with (system()'s shell execs its one command, so it does not
  // exit as itself and leaves no capture of its own).
  int spawn = 0;
  int exit_with = 0;
  for (const std::string& path : captures_in(followed.path())) {
    measure::Capture c = measure::read_capture(path);
    std::string name = fs::path(c.program.executable).filename().string();
    spawn += name == "spawn" ? 1 : 0;
    exit_with += name == "exit_with" ? 1 : 0;
    CHECK((name == "spawn" || name == "exit_with" || name == "dash" || name == "bash"));
  }
  CHECK(spawn == 1);
  CHECK(exit_with == 4);
}

TEST_CASE("forking many times with the allocator busy never hangs") {
  TempDir dir;
  for (int i = 0; i < 10; ++i) {
    auto r = run_process({"timeout", "60", tool_path(), "run", "-q", "--follow-forks", "-o", dir.file("loop.%p.msr"),
                          "--", fixture_path("fork_child"), "20"});
    CAPTURE(i);
    REQUIRE(r.status() == 0);
    CHECK(r.out == "forked 20 children, 0 failed\n");
  }
}
