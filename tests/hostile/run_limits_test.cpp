// `measure run` when the loader or the file system stands in the way: set-user-ID and
// set-group-ID programs (the loader ignores LD_PRELOAD for them), a capture that cannot be
// written, output paths too long. measure run says what happened, and why, in one line.
#include <unistd.h>

#include <filesystem>

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "support/checks.h"
#include "support/skip.h"
#include "support/subprocess.h"

using measure::test::check_one_line_error;
using measure::test::fixture_path;
using measure::test::preload_path;
using measure::test::ProcessResult;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
namespace fs = std::filesystem;

// Needs root (its own CTest entry, hostile_files_test_root).
TEST_CASE("hostile limits: measure run says a set-user-ID or set-group-ID program cannot be traced" *
          doctest::test_suite("root")) {
  if (::geteuid() != 0) {
    measure::test::skip_test_case("only root can give a program to another user");
    return;
  }
  TempDir dir;
  ::chmod(dir.path().c_str(), 0755);  // the program runs as another user
  for (const char* kind : {"set-user-ID (it runs as user nobody)", "set-group-ID (it runs as group nogroup)"}) {
    CAPTURE(kind);
    std::string program = dir.file(kind[4] == 'u' ? "suid" : "sgid");
    fs::copy_file(fixture_path("exit_with"), program);
    REQUIRE(::chown(program.c_str(), 65534, 65534) == 0);
    REQUIRE(::chmod(program.c_str(), kind[4] == 'u' ? 04755 : 02755) == 0);
    ProcessResult native = run_process({program, "7"});
    ProcessResult r = run_process({tool_path(), "run", "-o", dir.file("x.%p.msr"), "--", program, "7"});
    CHECK(r.status() == native.status());
    CHECK(r.out == native.out);
    std::string warning = "measure: warning: '" + program + "' is " + kind +
                          ": the loader ignores LD_PRELOAD for such programs, so nothing will be traced and no "
                          "capture written\n";
    CHECK(r.err.rfind(warning, 0) == 0);
    CHECK(r.err.find(std::string("(the program is ") + kind + ": the loader ignores LD_PRELOAD for it)\n") !=
          std::string::npos);
    ProcessResult quiet = run_process({tool_path(), "run", "-q", "-o", dir.file("x.%p.msr"), "--", program, "7"});
    CHECK(quiet.err == native.err);
  }
}

TEST_CASE("hostile limits: when the capture cannot be written, measure run says why") {
  TempDir dir;
  ProcessResult r = run_process({"bash", "-c",
                                 "ulimit -f 1; exec " + tool_path() + " run -o " + dir.file("f.msr") + " -- " +
                                     fixture_path("exit_paths") + " exit"});
  CHECK(r.status() == 3);
  CHECK(r.err.find(": File too large\n") != std::string::npos);  // the runtime's own warning
  std::size_t at = r.err.find("measure: no capture was written for pid ");
  REQUIRE(at != std::string::npos);
  CHECK(r.err.substr(r.err.find(' ', at + 40)) == " (it could not be written: File too large)\n");
}

TEST_CASE("hostile limits: a file-size limit reached halfway through a capture leaves no part of it") {
  // The capture (about 6 MB) goes to its file in pieces as it is encoded: the first fits under
  // the limit of 5,000 KiB, the next does not. Writing past the limit would kill the program
  // (SIGXFSZ); the runtime stops before it, removes what it wrote and says why.
  TempDir dir;
  ProcessResult r = run_process(
      {"bash", "-c",
       "ulimit -f 5000; exec " + tool_path() + " run -o " + dir.file("f.msr") + " -- " + fixture_path("many_stacks")});
  CHECK(r.status() == 0);  // the program's own
  CHECK(r.err.find(": File too large\n") != std::string::npos);
  CHECK(r.err.find("measure: no capture was written for pid ") != std::string::npos);
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    left.push_back(entry.path().filename().string());
  }
  CHECK(left.empty());
}

TEST_CASE("hostile limits: an output path too long is refused, and the runtime's warning keeps its reason") {
  TempDir dir;
  std::string long_name = dir.file(std::string(300, 'n') + ".msr");
  check_one_line_error(run_process({tool_path(), "run", "-o", long_name, "--", "true"}),
                       "the capture's file name is too long (304 bytes; at most 234)");
  std::string long_path = dir.path();
  while (long_path.size() < 5000) {
    long_path += "/" + std::string(200, 'd');
  }
  check_one_line_error(run_process({tool_path(), "run", "-o", long_path + "/x.msr", "--", "true"}),
                       "the capture's path is too long");

  // Preloaded by hand, the runtime warns, and the warning keeps its reason on one line.
  ProcessResult r = run_process({fixture_path("exit_paths"), "exit"},
                                {{"LD_PRELOAD", preload_path()}, {"MEASURE_OUTPUT", long_path + "/x.msr"}}, dir.path());
  CHECK(r.status() == 3);
  std::string line = r.err.substr(0, r.err.find('\n') + 1);
  CAPTURE(line);
  CHECK(line.size() <= 1024);
  CHECK(line.rfind("measure: ignoring MEASURE_OUTPUT=" + dir.path().substr(0, 40), 0) == 0);
  CHECK(line.find("(expected a file path shorter than 4096 bytes, not " + std::to_string(long_path.size() + 6) +
                  " bytes); using measure.%n.%p.msr\n") != std::string::npos);
}
