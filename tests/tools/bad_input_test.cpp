// Bad input gets one clear line on stderr and exit status 2; nothing crashes.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "support/checks.h"
#include "support/skip.h"
#include "support/subprocess.h"

using measure::test::check_one_line_error;
using measure::test::fixture_path;
using measure::test::ProcessResult;
using measure::test::read_text;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using measure::test::write_text;

namespace {

namespace fs = std::filesystem;

std::string make_capture(TempDir& dir) {
  std::string path = dir.file("good.msr");
  REQUIRE(run_process({tool_path(), "run", "-q", "-o", path, "--", fixture_path("alloc_c")}).status() == 0);
  return path;
}

}  // namespace

TEST_CASE("unknown options and bad values") {
  check_one_line_error(run_process({tool_path(), "--bogus"}), "bogus");
  check_one_line_error(run_process({tool_path()}), "subcommand");
  check_one_line_error(run_process({tool_path(), "frobnicate"}), "frobnicate");
  check_one_line_error(run_process({tool_path(), "report", "x.msr", "--by", "colour"}), "colour");
  check_one_line_error(run_process({tool_path(), "report", "x.msr", "--sort", "size"}), "size");
  check_one_line_error(run_process({tool_path(), "report", "x.msr", "--top", "many"}), "many");
  check_one_line_error(run_process({tool_path(), "report", "x.msr", "--format", "pdf"}), "pdf");
  check_one_line_error(run_process({tool_path(), "run", "--depth", "0", "--", "true"}), "depth");
  check_one_line_error(run_process({tool_path(), "run", "--mode", "everything", "--", "true"}), "everything");
  check_one_line_error(run_process({tool_path(), "run", "--frob", "--", "true"}), "frob");
  // A negative count is not "everything"; CLI11's own wording is not shown; the help named is
  // the subcommand's.
  ProcessResult negative = run_process({tool_path(), "report", "x.msr", "--top", "-1"});
  check_one_line_error(negative, "'-1' is not a number of rows");
  CHECK(negative.err.find("(see 'measure report --help')") != std::string::npos);
  ProcessResult twice = run_process({tool_path(), "diff", "a.msr", "b.msr", "c.msr"});
  check_one_line_error(twice, "measure: diff: unexpected argument");
  CHECK(twice.err.find("(see 'measure diff --help')") != std::string::npos);
  ProcessResult two_values = run_process({tool_path(), "report", "x.msr", "--by", "line", "--by", "file"});
  check_one_line_error(two_values, "--by takes one value, but 2 were given");
  CHECK(two_values.err.find("At Most") == std::string::npos);
  check_one_line_error(run_process({tool_path(), "diff", "a.msr", "b.msr", "--fail-on", "peak:5%"}),
                       "unknown metric 'peak'");
  check_one_line_error(run_process({tool_path(), "diff", "a.msr", "b.msr", "--fail-on", "peak_bytes"}),
                       "no ':' between the metric and the limit");
}

TEST_CASE("measure --version") {
  ProcessResult version = run_process({tool_path(), "--version"});
  CHECK(version.status() == 0);
  CHECK(version.out.rfind("measure ", 0) == 0);
  CHECK(version.out.find('.') != std::string::npos);
  CHECK(version.err.empty());
}

TEST_CASE("a missing program") {
  check_one_line_error(run_process({tool_path(), "run"}), "no program");
  check_one_line_error(run_process({tool_path(), "run", "--"}), "no program");
  check_one_line_error(run_process({tool_path(), "run", "--", "/nonexistent/program"}), "/nonexistent/program");
  check_one_line_error(run_process({tool_path(), "run", "--", "no-such-program-measure-test"}), "PATH");
  TempDir dir;
  write_text(dir.file("not-executable"), "#!/bin/sh\n");
  check_one_line_error(run_process({tool_path(), "run", "--", dir.file("not-executable")}), "not-executable");
}

TEST_CASE("an output that is not a regular file is refused and left as it was") {
  // A FIFO and a directory stand for /dev/null, which the test must never touch.
  TempDir dir;
  std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  fs::create_directory(dir.file("directory"));
  for (const std::string& output : {fifo, dir.file("directory")}) {
    check_one_line_error(run_process({tool_path(), "run", "-o", output, "--", fixture_path("alloc_c")}),
                         "not a regular file");
  }
  CHECK(fs::is_fifo(fifo));
  CHECK(fs::is_directory(dir.file("directory")));
  CHECK(fs::is_empty(dir.file("directory")));
}

TEST_CASE("a statically linked program is refused before it starts") {
  auto r = run_process({tool_path(), "run", "--", fixture_path("static_hello")});
  check_one_line_error(r, "statically linked");
}

TEST_CASE("unreadable and non-capture files") {
  TempDir dir;
  check_one_line_error(run_process({tool_path(), "report", dir.file("missing.msr")}), "missing.msr");
  check_one_line_error(run_process({tool_path(), "report", dir.path()}), "directory");
  write_text(dir.file("empty.msr"), "");
  check_one_line_error(run_process({tool_path(), "report", dir.file("empty.msr")}), "empty");
  write_text(dir.file("text.msr"), "this is not a capture\n");
  check_one_line_error(run_process({tool_path(), "report", dir.file("text.msr")}), "not a measure capture");
  check_one_line_error(run_process({tool_path(), "report", fixture_path("alloc_c")}), "not a measure capture");

  std::string good = make_capture(dir);
  std::string bytes = read_text(good);
  write_text(dir.file("truncated.msr"), bytes.substr(0, bytes.size() / 2));
  check_one_line_error(run_process({tool_path(), "report", dir.file("truncated.msr")}), "truncated");
  std::string flipped = bytes;
  flipped[flipped.size() / 3] = static_cast<char>(flipped[flipped.size() / 3] ^ 0x40);
  write_text(dir.file("flipped.msr"), flipped);
  check_one_line_error(run_process({tool_path(), "report", dir.file("flipped.msr")}), "corrupt");
  std::string newer = bytes;
  newer[8] = 9;  // format version 9
  write_text(dir.file("newer.msr"), newer);
  check_one_line_error(run_process({tool_path(), "report", dir.file("newer.msr")}), "newer");
}

// Root reads anything: a CTest entry of its own (cli_test_non_root), skipped there.
TEST_CASE("a capture the user may not read" * doctest::test_suite("non_root")) {
  if (::geteuid() == 0) {
    measure::test::skip_test_case("root may read every file");
    return;
  }
  TempDir dir;
  std::string good = make_capture(dir);
  std::filesystem::permissions(good, std::filesystem::perms::none);
  check_one_line_error(run_process({tool_path(), "report", good}), "cannot");
}

TEST_CASE("an unwritable report destination") {
  TempDir dir;
  std::string good = make_capture(dir);
  check_one_line_error(run_process({tool_path(), "report", good, "-o", dir.file("no/such/dir/out.txt")}), "out.txt");
}
