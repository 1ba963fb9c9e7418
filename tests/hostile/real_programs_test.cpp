// Real programs under `measure run`: bash, python3 and sort print the same standard output
// and standard error and exit with the same status as they do natively, and each leaves a
// complete capture (git, gcc and cmake: real_toolchain_test.cpp). The cases of each program
// form a test suite named after it, a CTest entry of its own that is reported as skipped
// where the program is not installed.
#include <filesystem>
#include <map>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "format/capture.h"
#include "format/capture_format.h"
#include "support/side_by_side.h"
#include "support/subprocess.h"

using measure::test::check_same_behaviour;
using measure::test::check_top_capture;
using measure::test::installed;
using measure::test::ProcessOptions;
using measure::test::read_text;
using measure::test::run_measured;
using measure::test::run_process_with;
using measure::test::run_side_by_side;
using measure::test::SideBySide;
using measure::test::TempDir;
using measure::test::write_text;
namespace fs = std::filesystem;

namespace {

constexpr double timeout_seconds = 180;

ProcessOptions options_in(const std::string& directory) {
  return measure::test::reproducible_options(directory, directory, timeout_seconds);
}

// Lines of a file sort must work at: keys repeat, numbers vary in width, order is scrambled.
std::string generated_lines(int count) {
  std::string text;
  std::uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < count; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    text += "key" + std::to_string(x % 5000) + " " + std::to_string(x % 1000003) + " " +
            std::string(1 + x % 23, static_cast<char>('a' + x % 26)) + "\n";
  }
  return text;
}

}  // namespace

TEST_CASE("bash: arrays, command substitution, pipelines and functions" * doctest::test_suite("bash")) {
  std::string bash = installed("bash");
  if (bash.empty()) {
    return;
  }
  TempDir dir;
  std::string script = R"sh(
    declare -A seen
    words=()
    for i in $(seq 1 20000); do seen["k$((i % 4099))"]+=x; words+=("w$i"); done
    echo "keys ${#seen[@]} words ${#words[@]} last ${words[-1]}"
    fib() { if (( $1 < 2 )); then echo $1; else echo $(( $(fib $(($1 - 1))) + $(fib $(($1 - 2))) )); fi; }
    echo "fib $(fib 12)"
    printf '%s\n' "${words[@]:0:500}" | sort -r | head -3
    joined=$(IFS=,; echo "${words[*]:0:2000}"); echo "joined ${#joined}"
    echo "to stderr" >&2
  )sh";
  std::vector<std::string> argv = {bash, "-c", script};
  SideBySide r = run_side_by_side(argv, options_in(dir.path()), dir.file("bash.msr"));
  check_same_behaviour(r.native, r.measured);
  CHECK(r.native.out.find("keys 4099 words 20000 last w20000\nfib 144\n") == 0);
  check_top_capture(dir.file("bash.msr"), argv, 0);
}

TEST_CASE("bash: a failing script and a script piped to standard input" * doctest::test_suite("bash")) {
  std::string bash = installed("bash");
  if (bash.empty()) {
    return;
  }
  TempDir dir;
  std::vector<std::string> failing = {bash, "-c", "echo before; ls /nonexistent-measure-dir; echo after >&2; exit 3"};
  SideBySide r = run_side_by_side(failing, options_in(dir.path()), dir.file("fail.msr"));
  check_same_behaviour(r.native, r.measured);
  CHECK(r.native.status() == 3);
  check_top_capture(dir.file("fail.msr"), failing, 3);

  ProcessOptions piped = options_in(dir.path());
  // bash -s reads its script from standard input a line at a time: the one-line script then
  // reads the rest of the same pipe.
  piped.input =
      "read -r first; echo \"first: $first\"; while read -r line; do total=$((total + line)); done; "
      "echo \"total: $total\"; exit $((total % 7))\n";
  int total = 0;
  for (int i = 1; i <= 3000; ++i) {
    *piped.input += std::to_string(i) + "\n";
    total += i > 1 ? i : 0;  // the first line is read on its own
  }
  std::vector<std::string> from_stdin = {bash, "-s"};
  SideBySide s = run_side_by_side(from_stdin, piped, dir.file("stdin.msr"));
  check_same_behaviour(s.native, s.measured);
  CHECK(s.native.out == "first: 1\ntotal: " + std::to_string(total) + "\n");
  CHECK(s.native.status() == total % 7);
  check_top_capture(dir.file("stdin.msr"), from_stdin, total % 7);
}

TEST_CASE("bash with --follow-forks --follow-exec: every process of a pipeline leaves a complete capture" *
          doctest::test_suite("bash")) {
  std::string bash = installed("bash");
  if (bash.empty()) {
    return;
  }
  TempDir dir;
  fs::create_directory(dir.file("captures"));
  std::vector<std::string> argv = {bash, "-c", "seq 1 5000 | sort -rn | sed -n 1,2p; (echo sub; exit 5); echo $?"};
  ProcessOptions o = options_in(dir.path());
  SideBySide r = {run_process_with(argv, o),
                  run_measured(argv, o, dir.file("captures/c.%p.msr"), {"--follow-forks", "--follow-exec"})};
  check_same_behaviour(r.native, r.measured);
  CHECK(r.native.out == "5000\n4999\nsub\n5\n");
  int followed = 0;
  std::map<std::string, int> programs;
  for (const auto& entry : fs::directory_iterator(dir.file("captures"))) {
    std::string path = entry.path().string();
    if (path.find(".tmp.") != std::string::npos) {
      continue;
    }
    CAPTURE(path);
    measure::Capture c = measure::read_capture(path);
    CHECK((c.program.flags & measure::format::program_final) != 0);
    CHECK(c.totals.alloc_count > 0);
    CHECK(c.diagnostic("dropped_events") == 0);
    CHECK(c.diagnostic("unmatched_frees") == 0);
    ++programs[fs::path(c.program.executable).filename().string()];
    ++followed;
  }
  // bash, its subshell, and seq, sort and sed; the pipeline's three forks of bash exec'd
  // them, and each wrote its capture of what it did as bash just before (the program it became
  // writes its own under the next name).
  CHECK(followed == 8);
  CHECK(programs["bash"] == 5);
  CHECK(programs["seq"] == 1);
  CHECK(programs["sort"] == 1);
  CHECK(programs["sed"] == 1);
}

TEST_CASE("python3: dictionaries through its own small-object allocator and through malloc" *
          doctest::test_suite("python3")) {
  std::string python = installed("python3");
  if (python.empty()) {
    return;
  }
  TempDir dir;
  std::string program =
      "import sys\n"
      "d = {i: str(i) * 3 for i in range(150000)}\n"
      "groups = {}\n"
      "for k, v in d.items(): groups.setdefault(k % 97, []).append(v)\n"
      "print(len(d), len(groups), sum(len(g) for g in groups.values()), sorted(d)[-1])\n"
      "print('warning: done', file=sys.stderr)\n";
  for (std::string allocator : {"pymalloc", "malloc"}) {
    CAPTURE(allocator);
    ProcessOptions o = options_in(dir.path());
    o.env.insert(o.env.end(), {{"PYTHONMALLOC", allocator}, {"PYTHONHASHSEED", "0"}, {"PYTHONDONTWRITEBYTECODE", "1"}});
    std::vector<std::string> argv = {python, "-c", program};
    std::string capture = dir.file("py-" + allocator + ".msr");
    SideBySide r = run_side_by_side(argv, o, capture);
    check_same_behaviour(r.native, r.measured);
    CHECK(r.native.out == "150000 97 150000 149999\n");
    check_top_capture(capture, argv, 0);
    if (allocator == "malloc") {
      // Every object is a malloc block: at least one per dictionary value.
      CHECK(measure::read_capture(capture).totals.alloc_count > 150000);
    }
  }
}

TEST_CASE("python3: an uncaught exception, sys.exit and a program reading a pipe" * doctest::test_suite("python3")) {
  std::string python = installed("python3");
  if (python.empty()) {
    return;
  }
  TempDir dir;
  ProcessOptions o = options_in(dir.path());
  o.env.insert(o.env.end(), {{"PYTHONHASHSEED", "0"}, {"PYTHONDONTWRITEBYTECODE", "1"}});
  std::vector<std::string> raising = {python, "-c", "xs = [str(i) for i in range(1000)]\nraise ValueError(len(xs))"};
  SideBySide r = run_side_by_side(raising, o, dir.file("raise.msr"));
  check_same_behaviour(r.native, r.measured);
  CHECK(r.native.status() == 1);
  CHECK(r.native.err.find("ValueError: 1000") != std::string::npos);
  check_top_capture(dir.file("raise.msr"), raising, 1);

  std::vector<std::string> exiting = {python, "-c", "import sys\nprint('bye')\nsys.exit(42)"};
  SideBySide e = run_side_by_side(exiting, o, dir.file("exit.msr"));
  check_same_behaviour(e.native, e.measured);
  CHECK(e.native.status() == 42);
  check_top_capture(dir.file("exit.msr"), exiting, 42);

  o.input = generated_lines(20000);
  std::vector<std::string> reading = {python, "-c",
                                      "import sys, collections\n"
                                      "c = collections.Counter(line.split()[0] for line in sys.stdin)\n"
                                      "print(len(c), c.most_common(2))\n"};
  SideBySide p = run_side_by_side(reading, o, dir.file("pipe.msr"));
  check_same_behaviour(p.native, p.measured);
  CHECK_FALSE(p.native.out.empty());
  check_top_capture(dir.file("pipe.msr"), reading, 0);
}

TEST_CASE("sort: a generated file by several keys, through temporary files with two threads, and a pipe" *
          doctest::test_suite("sort")) {
  std::string sort = installed("sort");
  if (sort.empty()) {
    return;
  }
  TempDir dir;
  write_text(dir.file("lines.txt"), generated_lines(100000));
  fs::create_directory(dir.file("spill"));
  ProcessOptions o = options_in(dir.path());
  std::vector<std::vector<std::string>> commands = {
      {sort, "lines.txt"},
      {sort, "-k2,2n", "-k1,1r", "lines.txt"},
      {sort, "-u", "-k1,1", "lines.txt"},
      // A 64 KiB buffer: dozens of sorted runs in temporary files, merged by two threads.
      {sort, "-S", "64K", "-T", "spill", "--parallel=2", "-k3", "lines.txt"},
  };
  for (std::size_t i = 0; i < commands.size(); ++i) {
    CAPTURE(i);
    std::string capture = dir.file("sort" + std::to_string(i) + ".msr");
    SideBySide r = run_side_by_side(commands[i], o, capture);
    check_same_behaviour(r.native, r.measured);
    CHECK(r.native.out.size() > 1000);
    check_top_capture(capture, commands[i], 0);
  }
  CHECK(fs::is_empty(dir.file("spill")));  // every temporary file removed

  o.input = read_text(dir.file("lines.txt"));
  std::vector<std::string> piped = {sort, "-r"};
  SideBySide p = run_side_by_side(piped, o, dir.file("piped.msr"));
  check_same_behaviour(p.native, p.measured);
  CHECK(p.native.out.size() == o.input->size());
  check_top_capture(dir.file("piped.msr"), piped, 0);
}

TEST_CASE("sort: a missing file and a disorder check fail the same way" * doctest::test_suite("sort")) {
  std::string sort = installed("sort");
  if (sort.empty()) {
    return;
  }
  TempDir dir;
  write_text(dir.file("unsorted.txt"), "b\na\n");
  ProcessOptions o = options_in(dir.path());
  struct Case {
    std::vector<std::string> argv;
    int status;
  };
  for (const Case& c : {Case{{sort, "no-such-file.txt"}, 2}, Case{{sort, "-c", "unsorted.txt"}, 1}}) {
    CAPTURE(c.argv[1]);
    SideBySide r = run_side_by_side(c.argv, o, dir.file("fail.msr"));
    check_same_behaviour(r.native, r.measured);
    CHECK(r.native.status() == c.status);
    CHECK_FALSE(r.native.err.empty());
    check_top_capture(dir.file("fail.msr"), c.argv, c.status);
  }
}
