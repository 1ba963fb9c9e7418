// Symbolic links laid at the names temporary files once had (OUTPUT.tmp.PID, predictable):
// a writer that follows one writes wherever it points, and a program run by root then
// overwrites any file. No writer (the runtime, and every tool that writes a file) may write
// through a link it did not create, and captures, which hold argv and paths, are made 0600.
#include <filesystem>

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "format/capture.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::preload_path;
using measure::test::ProcessResult;
using measure::test::read_text;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using measure::test::write_text;
namespace fs = std::filesystem;

namespace {

int umask_now() {
  mode_t mask = ::umask(0);
  ::umask(mask);
  return static_cast<int>(mask);
}

int mode_of(const std::string& path) {
  return static_cast<int>(fs::status(path).permissions() & fs::perms::mask);
}

}  // namespace

// Each writer gets a symbolic link to a victim file at the name its temporary file once had
// (OUTPUT.tmp.PID); the shell that lays it execs the tool, which keeps the shell's pid.
TEST_CASE("hostile files: no writer follows a link laid at its old temporary name") {
  TempDir dir;
  std::string victim = dir.file("victim");
  write_text(victim, "precious\n");
  auto with_trap = [&](const std::string& output, std::vector<std::string> argv) {
    std::vector<std::string> sh = {"sh", "-c",   "ln -s \"$1\" \"$2.tmp.$$\" && shift 2 && exec \"$@\"",
                                   "sh", victim, output};
    sh.insert(sh.end(), argv.begin(), argv.end());
    return run_process(sh);
  };
  auto check_output = [&](const std::string& output, int mode) {
    CAPTURE(output);
    CHECK(read_text(victim) == "precious\n");
    CHECK(fs::is_regular_file(fs::symlink_status(output)));
    CHECK(mode_of(output) == mode);
  };
  int report_mode = 0666 & ~umask_now();

  SUBCASE("the runtime, preloaded by hand") {
    std::string capture = dir.file("hand.msr");
    ProcessResult r = run_process({fixture_path("prepared_link"), victim, capture},
                                  {{"LD_PRELOAD", preload_path()}, {"MEASURE_OUTPUT", capture}});
    CHECK(r.status() == 0);
    check_output(capture, 0600);
    CHECK_NOTHROW(measure::read_capture(capture));
  }
  SUBCASE("measure run: the runtime's capture and the rewrite that completes it") {
    std::string capture = dir.file("run.msr");
    ProcessResult r = with_trap(
        capture, {tool_path(), "run", "-q", "-o", capture, "--", fixture_path("prepared_link"), victim, capture});
    CHECK(r.status() == 0);
    check_output(capture, 0600);
    measure::Capture c = measure::read_capture(capture);
    CHECK(c.program.exit.has_value());  // the rewrite happened
  }
  SUBCASE("report -o, diff -o, merge -o, import -o and symbolize") {
    std::string capture = dir.file("c.msr");
    REQUIRE(run_process({fixture_path("two_sites")}, {{"LD_PRELOAD", preload_path()}, {"MEASURE_OUTPUT", capture}})
                .status() == 0);
    ::chmod(capture.c_str(), 0640);  // a mode the user chose stays when the file is rewritten

    CHECK(with_trap(dir.file("r.txt"), {tool_path(), "report", capture, "-o", dir.file("r.txt")}).status() == 0);
    check_output(dir.file("r.txt"), report_mode);
    CHECK(with_trap(dir.file("d.txt"), {tool_path(), "diff", capture, capture, "-o", dir.file("d.txt")}).status() == 0);
    check_output(dir.file("d.txt"), report_mode);
    CHECK(with_trap(dir.file("m.msr"), {tool_path(), "merge", "-o", dir.file("m.msr"), capture, capture}).status() ==
          0);
    check_output(dir.file("m.msr"), 0600);

    std::string recording = dir.file("heaptrack.app");
    write_text(recording, "v 10400 3\nX ./app\ns 4 main\ns 6 libapp\ni 1000 2 1\nt 1 0\na 40 1\n+ 0\n# strings: 2\n");
    CHECK(with_trap(dir.file("i.msr"), {tool_path(), "import", recording, "-o", dir.file("i.msr")}).status() == 0);
    check_output(dir.file("i.msr"), 0600);

    CHECK(with_trap(capture, {tool_path(), "symbolize", "-q", capture}).status() == 0);
    check_output(capture, 0640);
    CHECK_FALSE(measure::read_capture(capture).symbols.empty());
  }
}
