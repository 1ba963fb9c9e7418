// Real programs that change files under `measure run`: git, gcc and cmake. Each sequence of
// commands runs twice in the same directory, natively and then measured, so paths in their
// messages agree; every command must behave identically and leave a complete capture, and
// the files they make must be the same.
#include <filesystem>
#include <functional>
#include <set>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "format/capture.h"
#include "support/checks.h"
#include "support/side_by_side.h"
#include "support/subprocess.h"

using measure::test::check_complete_capture;
using measure::test::check_same_behaviour;
using measure::test::check_top_capture;
using measure::test::fixture_path;
using measure::test::installed;
using measure::test::ProcessOptions;
using measure::test::ProcessResult;
using measure::test::read_text;
using measure::test::run_measured;
using measure::test::run_process;
using measure::test::run_process_with;
using measure::test::TempDir;
using measure::test::write_text;
namespace fs = std::filesystem;

namespace {

constexpr double timeout_seconds = 180;

struct Step {
  std::vector<std::string> argv;
  std::function<void(const std::string& work)> before;  // may be empty
};

struct Sequence {
  std::vector<ProcessResult> native;
  std::vector<ProcessResult> measured;
  std::vector<std::string> captures;  // of the measured steps
  std::string native_work;            // what the native run left
  std::string work;                   // what the measured run left
};

// Runs `steps` natively in dir/work (after prepare), moves that to dir/native, then runs them
// again under `measure run` in a fresh dir/work. Captures go to dir/captures.
Sequence run_twice(const TempDir& dir, const std::function<void(const std::string&)>& prepare,
                   const std::vector<Step>& steps, ProcessOptions o, const std::vector<std::string>& run_flags = {}) {
  Sequence s;
  s.work = dir.file("work");
  s.native_work = dir.file("native");
  o.directory = s.work;
  fs::create_directories(dir.file("captures"));
  for (bool measured : {false, true}) {
    fs::create_directory(s.work);
    prepare(s.work);
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (steps[i].before) {
        steps[i].before(s.work);
      }
      if (measured) {
        std::string capture = dir.file("captures/step" + std::to_string(i) + (run_flags.empty() ? "" : ".%p") + ".msr");
        s.captures.push_back(capture);
        s.measured.push_back(run_measured(steps[i].argv, o, capture, run_flags));
      } else {
        s.native.push_back(run_process_with(steps[i].argv, o));
      }
    }
    if (!measured) {
      fs::rename(s.work, s.native_work);
    }
  }
  return s;
}

void check_steps(const Sequence& s, const std::vector<Step>& steps) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    CAPTURE(steps[i].argv[1]);
    check_same_behaviour(s.native[i], s.measured[i]);
  }
}

}  // namespace

TEST_CASE("git: init, add, commit, status, log, repack and a failing rev-parse, with a fixed author and date" *
          doctest::test_suite("git")) {
  std::string git = installed("git");
  if (git.empty()) {
    return;
  }
  TempDir dir;
  ProcessOptions o = measure::test::reproducible_options({}, dir.path(), timeout_seconds);
  for (const char* who : {"AUTHOR", "COMMITTER"}) {
    o.env.push_back({std::string("GIT_") + who + "_NAME", "Measure Test"});
    o.env.push_back({std::string("GIT_") + who + "_EMAIL", "test@example.com"});
    o.env.push_back({std::string("GIT_") + who + "_DATE", "2024-01-02T03:04:05Z"});
  }
  // Confined to the temporary directory: should a step fail to make the repository, git must
  // not find the one the build directory lies in.
  o.env.push_back({"GIT_CEILING_DIRECTORIES", dir.path()});
  o.env.push_back({"GIT_CONFIG_NOSYSTEM", "1"});
  write_text(dir.file("gitconfig"), "");
  o.env.push_back({"GIT_CONFIG_GLOBAL", dir.file("gitconfig")});
  auto prepare = [](const std::string& work) {
    fs::create_directory(work + "/src");
    for (int i = 0; i < 40; ++i) {
      std::string text;
      for (int line = 0; line < 200; ++line) {
        text += "file " + std::to_string(i) + " line " + std::to_string(line * 7919 % 1000) + "\n";
      }
      write_text(work + "/src/f" + std::to_string(i) + ".txt", text);
    }
  };
  auto edit = [](const std::string& work) {
    write_text(work + "/src/f3.txt", "rewritten\n");
    fs::remove(work + "/src/f7.txt");
    write_text(work + "/src/new.txt", "new\n");
  };
  std::vector<Step> steps = {
      {{git, "init", "-q", "-b", "main", "."}, {}},
      {{git, "add", "."}, {}},
      {{git, "commit", "-q", "-m", "first"}, {}},
      {{git, "status", "--short"}, edit},
      {{git, "add", "-A"}, {}},
      {{git, "diff", "--cached", "--stat"}, {}},
      {{git, "commit", "-q", "-m", "second"}, {}},
      {{git, "log", "--format=%H %an %ad %s", "--date=iso"}, {}},
      {{git, "show", "--stat", "HEAD~1"}, {}},
      {{git, "repack", "-a", "-d", "-q"}, {}},
      {{git, "count-objects", "-v"}, {}},
      {{git, "rev-parse", "--verify", "-q", "no-such-ref"}, {}},
      {{git, "checkout", "no-such-branch"}, {}},
  };
  Sequence s = run_twice(dir, prepare, steps, o);
  check_steps(s, steps);
  CHECK(s.native[7].out.find("Measure Test 2024-01-02 03:04:05 +0000 second") != std::string::npos);
  CHECK(s.native[11].status() == 1);
  CHECK(s.native[12].status() == 1);
  CHECK(s.native[12].err.find("no-such-branch") != std::string::npos);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    CAPTURE(steps[i].argv[1]);
    check_top_capture(s.captures[i], steps[i].argv, s.native[i].status());
  }
}

TEST_CASE("gcc: compiling and linking with every stage traced (--follow-exec) makes the same program" *
          doctest::test_suite("gcc")) {
  std::string gcc = installed("gcc");
  if (gcc.empty()) {
    return;
  }
  TempDir dir;
  auto prepare = [](const std::string& work) {
    write_text(work + "/prog.c",
               "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
               "struct node { struct node* next; char name[24]; };\n"
               "static struct node* push(struct node* head, int i) {\n"
               "  struct node* n = malloc(sizeof *n);\n"
               "  snprintf(n->name, sizeof n->name, \"node %d\", i);\n"
               "  n->next = head;\n  return n;\n}\n"
               "int main(int argc, char** argv) {\n"
               "  struct node* head = NULL;\n"
               "  for (int i = 0; i < 1000 * argc; ++i) head = push(head, i);\n"
               "  printf(\"%s %zu %zu\\n\", head->name, sizeof *head, strlen(argv[0]) > 0 ? 1 : 0);\n"
               "  return 0;\n}\n");
    write_text(work + "/broken.c", "int main(void) { return undeclared + ; }\n");
  };
  std::vector<Step> steps = {
      {{gcc, "-O2", "-Wall", "-o", "prog", "prog.c"}, {}},
      {{gcc, "-c", "broken.c"}, {}},
  };
  Sequence s = run_twice(dir, prepare, steps, measure::test::reproducible_options({}, dir.path(), timeout_seconds),
                         {"--follow-exec"});
  check_steps(s, steps);
  CHECK(s.native[0].status() == 0);
  CHECK(s.native[1].status() == 1);
  CHECK(s.native[1].err.find("broken.c:1:") != std::string::npos);
  // The compiler's output does not depend on being measured.
  REQUIRE(fs::exists(s.work + "/prog"));
  CHECK(read_text(s.work + "/prog") == read_text(s.native_work + "/prog"));
  auto ran = run_process({s.work + "/prog"});
  CHECK(ran.out == "node 999 32 1\n");

  // Every program of the successful compile wrote a capture: the driver, the compiler proper,
  // the assembler, collect2 and the linker.
  std::set<std::string> programs;
  for (const auto& entry : fs::directory_iterator(dir.file("captures"))) {
    std::string path = entry.path().string();
    if (path.find("step0.") == std::string::npos || path.find(".tmp.") != std::string::npos) {
      continue;
    }
    measure::Capture c = measure::read_capture(path);
    CAPTURE(c.program.executable);
    programs.insert(fs::path(c.program.executable).filename().string());
    if (fs::path(c.program.executable) == fs::canonical(gcc)) {
      check_top_capture(path, steps[0].argv, 0);
    } else {
      check_complete_capture(path, c.program.executable);
    }
  }
  CHECK(programs.size() >= 5);
  CHECK(programs.count("cc1") == 1);
  CHECK(programs.count("collect2") == 1);
}

TEST_CASE("cmake: configuring and building a tiny project, and a missing source directory" *
          doctest::test_suite("cmake")) {
  std::string cmake = installed("cmake");
  std::string ninja = installed("ninja");
  if (cmake.empty() || ninja.empty()) {
    return;
  }
  TempDir dir;
  auto prepare = [](const std::string& work) {
    fs::create_directory(work + "/src");
    write_text(work + "/src/CMakeLists.txt",
               "cmake_minimum_required(VERSION 3.16)\nproject(tiny C)\n"
               "set(GREETING \"hello\")\nforeach(i RANGE 1 200)\n  list(APPEND items item${i})\nendforeach()\n"
               "list(LENGTH items n)\nmessage(STATUS \"${GREETING}: ${n} items\")\n"
               "add_executable(tiny main.c)\n");
    write_text(work + "/src/main.c", "#include <stdio.h>\nint main(void) { puts(\"tiny\"); return 0; }\n");
  };
  std::vector<Step> steps = {
      {{cmake, "-S", "src", "-B", "build", "-G", "Ninja"}, {}},
      {{cmake, "--build", "build"}, {}},
      {{cmake, "-S", "no-such-source", "-B", "build2"}, {}},
  };
  Sequence s = run_twice(dir, prepare, steps, measure::test::reproducible_options({}, dir.path(), timeout_seconds));
  check_steps(s, steps);
  CHECK(s.native[0].out.find("-- hello: 200 items\n") != std::string::npos);
  CHECK(s.native[1].status() == 0);
  CHECK(s.native[2].status() == 1);
  CHECK(run_process({s.work + "/build/tiny"}).out == "tiny\n");
  for (std::size_t i = 0; i < steps.size(); ++i) {
    CAPTURE(i);
    check_top_capture(s.captures[i], steps[i].argv, s.native[i].status());
  }
}

// Debian's python3 is such a program. A lookup of "malloc" by name answers with the address of
// its canonical PLT entry; the runtime must look past it to the definition calls reach.
TEST_CASE("a non-PIE program that takes malloc's address is measured, not taken for one with its own allocator") {
  TempDir dir;
  std::vector<std::string> argv = {fixture_path("malloc_address")};
  ProcessOptions o = measure::test::reproducible_options(dir.path(), dir.path(), timeout_seconds);
  auto r = measure::test::run_side_by_side(argv, o, dir.file("m.msr"));
  check_same_behaviour(r.native, r.measured);
  check_top_capture(dir.file("m.msr"), argv, 0);
  auto report =
      run_process({measure::test::tool_path(), "report", dir.file("m.msr"), "--top", "0", "--format", "json"});
  nlohmann::json j = nlohmann::json::parse(report.out);
  int line = measure::test::marker_line("tests/hostile/malloc_address.c", "through_pointer");
  bool found = false;
  for (const auto& row : j["rows"]) {
    if (row["key"]["line"] == line) {
      found = true;
      CHECK(row["alloc_count"] == 10);
      CHECK(row["alloc_bytes"] == 1000);
      CHECK(row["free_count"] == 10);
    }
  }
  CHECK(found);
}
