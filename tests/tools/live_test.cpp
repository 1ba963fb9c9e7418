// `measure live` and `measure run --live` end to end: a server that allocates steadily under
// `measure run`, watched through a real pseudo-terminal (the view's screen, its keys, the
// terminal restored), and as text without one; and the refusals.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::check_one_line_error;
using measure::test::fixture_path;
using measure::test::marker_line;
using measure::test::ProcessOptions;
using measure::test::ProcessResult;
using measure::test::read_text;
using measure::test::run_process;
using measure::test::run_process_with;
using measure::test::TempDir;
using measure::test::tool_path;
using nlohmann::json;

namespace {

constexpr const char* source = "tests/tools/steady_server.c";

std::string steady_location() {
  return "steady_server.c:" + std::to_string(marker_line(source, "steady_block"));
}

struct PtyResult {
  int status = -1;  // as a shell reports it
  std::string output;
  bool timed_out = false;
};

// Runs `argv` on a new pseudo-terminal of 120 x 40 cells, its controlling terminal.
// `typed(output so far)` is asked after each read and returns what to type (often nothing).
// After `timeout_seconds` the process is killed.
PtyResult run_on_pty(const std::vector<std::string>& argv, const std::function<std::string(const std::string&)>& typed,
                     double timeout_seconds = 30) {
  winsize size{};
  size.ws_col = 120;
  size.ws_row = 40;
  int master = -1;
  pid_t pid = forkpty(&master, nullptr, nullptr, &size);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::vector<char*> args;
    for (const std::string& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::setenv("TERM", "xterm", 1);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  PtyResult result;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  char buffer[4096];
  for (;;) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      result.timed_out = true;
      break;
    }
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) {
      continue;
    }
    ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) {
      break;  // EIO: every process with the terminal open has ended
    }
    result.output.append(buffer, static_cast<std::size_t>(n));
    std::string keys = typed(result.output);
    if (!keys.empty()) {
      REQUIRE(::write(master, keys.data(), keys.size()) == static_cast<ssize_t>(keys.size()));
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// The block counts of the server's row, frame by frame ("  live  blocks  ...  location").
std::vector<long> steady_blocks(const std::string& output) {
  std::vector<long> blocks;
  std::regex row(R"(\s+\S+ \S+\s+([0-9,]+)\s+\S+ \S+/s\s+\S+ \S+\s+)" + steady_location());
  for (auto it = std::sregex_iterator(output.begin(), output.end(), row); it != std::sregex_iterator(); ++it) {
    std::string digits;
    for (char c : (*it)[1].str()) {
      if (c != ',') {
        digits += c;
      }
    }
    blocks.push_back(std::stol(digits));
  }
  return blocks;
}

// `argv` as one shell command (each word quoted).
std::string fmt_command(const std::vector<std::string>& argv) {
  std::string command;
  for (const std::string& a : argv) {
    command += (command.empty() ? "'" : " '") + a + "'";
  }
  return command;
}

// The steady server under `measure run`, in a thread, until stop().
class Server {
 public:
  explicit Server(const TempDir& dir, const std::string& mode = "exact")
      : m_pidfile(dir.file("pid")), m_stop(dir.file("stop")) {
    m_thread = std::thread([this, mode, capture = dir.file("server.msr")] {
      m_result = run_process({tool_path(), "run", "-q", "--mode", mode, "-o", capture, "--",
                              fixture_path("steady_server"), m_pidfile, m_stop});
    });
    m_pid = measure::test::wait_for_pid_file(m_pidfile);
    REQUIRE_MESSAGE(m_pid > 0, "the server did not start");
  }
  ~Server() { stop(); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  int pid() const { return m_pid; }
  const ProcessResult& stop() {
    if (m_thread.joinable()) {
      std::ofstream(m_stop).put('\n');
      m_thread.join();
    }
    return m_result;
  }

 private:
  std::string m_pidfile;
  std::string m_stop;
  std::thread m_thread;
  ProcessResult m_result;
  int m_pid = 0;
};

}  // namespace

TEST_CASE("live: the view of a running server shows its top site and totals, refreshes, and q quits") {
  TempDir dir;
  Server server(dir);
  bool quit = false;
  PtyResult r = run_on_pty({tool_path(), "live", std::to_string(server.pid()), "--interval", "0.3"},
                           [&](const std::string& out) -> std::string {
                             if (!quit && steady_blocks(out).size() >= 3) {
                               quit = true;
                               return "q";
                             }
                             return {};
                           });
  ProcessResult finished = server.stop();
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.status == 0);
  CHECK(quit);
  // The alternate screen entered and left, the cursor hidden and shown again.
  CHECK(r.output.find("\033[?1049h") != std::string::npos);
  CHECK(r.output.find("\033[?1049l") != std::string::npos);
  CHECK(r.output.rfind("\033[?25h") > r.output.rfind("\033[?25l"));
  CHECK(r.output.find("measure live: pid " + std::to_string(server.pid())) != std::string::npos);
  CHECK(r.output.find("Top call sites by live bytes, grouped by line:") != std::string::npos);
  CHECK(r.output.find("allocations/s") != std::string::npos);
  CHECK(r.output.find("q quit") != std::string::npos);
  // Each refresh saw more of the server's blocks than the one before; the last frame stays on
  // the shell's screen after the view.
  std::vector<long> blocks = steady_blocks(r.output);
  REQUIRE(blocks.size() >= 4);  // three refreshes and the last one left on the screen
  for (std::size_t i = 1; i + 1 < blocks.size(); ++i) {
    CHECK(blocks[i] > blocks[i - 1]);
  }
  CHECK(blocks.back() == blocks[blocks.size() - 2]);
  CHECK(r.output.rfind(steady_location()) > r.output.rfind("\033[?1049l"));
  // The server ran on, untouched.
  REQUIRE(finished.status() == 0);
  CHECK(finished.out.find("kept ") == 0);
}

TEST_CASE("live: s sorts by allocation rate and g switches the grouping, on the same refresh") {
  TempDir dir;
  Server server(dir);
  int step = 0;
  PtyResult r = run_on_pty(
      {tool_path(), "live", std::to_string(server.pid()), "--interval", "5"},
      [&](const std::string& out) -> std::string {
        if (step == 0 && out.find(steady_location()) != std::string::npos) {
          step = 1;
          return "s";
        }
        if (step == 1 && out.find("Top call sites by allocation rate, grouped by line:") != std::string::npos) {
          step = 2;
          return "g";
        }
        if (step == 2 && out.find("grouped by function:") != std::string::npos) {
          step = 3;
          return "q";
        }
        return {};
      });
  server.stop();
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.status == 0);
  CHECK(step == 3);
  // One refresh (every 5 s) drew all three screens: the keys redraw at once.
  CHECK(count(r.output, "measure live: pid") <= 5);
  CHECK(r.output.find("main  (steady_server.c)") != std::string::npos);  // the row by function
}

TEST_CASE("live: without a terminal each refresh is printed as text, until the program ends") {
  TempDir dir;
  Server server(dir);
  ProcessResult live;
  std::thread watching([&] {
    ProcessOptions options;
    options.timeout_seconds = 60;
    live = run_process_with({tool_path(), "live", std::to_string(server.pid()), "--interval", "0.2", "--top", "1"},
                            options);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  ProcessResult finished = server.stop();
  watching.join();
  REQUIRE_FALSE(live.timed_out);
  CHECK(live.status() == 0);
  CHECK(live.err == "measure live: process " + std::to_string(server.pid()) + " ended\n");
  CHECK(live.out.find('\033') == std::string::npos);  // no terminal sequence in a log
  std::vector<long> blocks = steady_blocks(live.out);
  REQUIRE(blocks.size() >= 3);
  for (std::size_t i = 1; i < blocks.size(); ++i) {
    CHECK(blocks[i] > blocks[i - 1]);
  }
  // One row per refresh (--top 1), and a line for the rest.
  CHECK(count(live.out, "  ... and ") == count(live.out, "measure live: pid"));
  REQUIRE(finished.status() == 0);
}

TEST_CASE("live: the light modes' view says what they do not keep") {
  for (std::string mode : {"sampled", "counters"}) {
    CAPTURE(mode);
    TempDir dir;
    Server server(dir, mode);
    ProcessOptions options;
    options.timeout_seconds = 60;
    ProcessResult live;
    std::thread watching([&] {
      live = run_process_with({tool_path(), "live", std::to_string(server.pid()), "--interval", "0.2"}, options);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    server.stop();
    watching.join();
    REQUIRE_FALSE(live.timed_out);
    CHECK(live.status() == 0);
    CHECK_MESSAGE(live.out.find(mode + " mode") != std::string::npos, live.out, live.err);
    CHECK(live.out.find(", peak at least ") != std::string::npos);
    if (mode == "counters") {
      CHECK(live.out.find("Counters mode keeps no call sites, only the totals above") != std::string::npos);
      CHECK(live.out.find("Top call sites") == std::string::npos);
    } else {
      CHECK(live.out.find("Top call sites by live bytes, grouped by line (estimates from the samples):") !=
            std::string::npos);
    }
  }
}

TEST_CASE("live: requests of several processes at once take their turns") {
  // Three dumps started together and a live view: each request waits for the one before, and
  // none is answered with another's capture or left waiting for an answer that went elsewhere.
  TempDir dir;
  Server server(dir);
  ProcessOptions options;
  options.timeout_seconds = 20;
  ProcessResult live;
  std::thread watching([&] {
    live = run_process_with({tool_path(), "live", std::to_string(server.pid()), "--interval", "0.1"}, options);
  });
  std::vector<ProcessResult> dumps(3);
  std::vector<std::thread> dumping;
  for (std::size_t i = 0; i < dumps.size(); ++i) {
    dumping.emplace_back([&, i] {
      dumps[i] = run_process_with({tool_path(), "dump", "-q", std::to_string(server.pid()), "-o",
                                   dir.file("dump" + std::to_string(i) + ".msr")},
                                  options);
    });
  }
  for (std::thread& t : dumping) {
    t.join();
  }
  server.stop();
  watching.join();
  for (std::size_t i = 0; i < dumps.size(); ++i) {
    CAPTURE(i);
    CHECK_FALSE(dumps[i].timed_out);
    CHECK_MESSAGE(dumps[i].status() == 0, dumps[i].err);
    CHECK(std::filesystem::file_size(dir.file("dump" + std::to_string(i) + ".msr")) > 0);
  }
  REQUIRE_FALSE(live.timed_out);
  CHECK(live.status() == 0);
  CHECK(count(live.out, "measure live: pid") >= 1);  // how many depends on the dumps' turns
}

TEST_CASE("run --live: the view on the terminal, the program's output in its files, the capture as usual") {
  TempDir dir;
  std::string pidfile = dir.file("pid");
  std::string stop = dir.file("stop");
  std::string capture = dir.file("live.msr");
  std::string command =
      fmt_command({tool_path(), "run", "--live", "-o", capture, "--", fixture_path("steady_server"), pidfile, stop});
  bool stopped = false;
  PtyResult r = run_on_pty({"/bin/sh", "-c", "exec " + command + " > " + dir.file("out") + " 2> " + dir.file("err")},
                           [&](const std::string& out) -> std::string {
                             if (!stopped && steady_blocks(out).size() >= 2) {
                               stopped = true;
                               std::ofstream(stop).put('\n');
                             }
                             return {};
                           });
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.status == 0);  // the program's own exit status
  CHECK(stopped);
  CHECK(r.output.find("\033[?1049l") != std::string::npos);
  std::string out = read_text(dir.file("out"));
  REQUIRE(out.rfind("kept ", 0) == 0);
  long kept = std::stol(out.substr(5));
  CHECK(read_text(dir.file("err")).find("measure: wrote " + capture) != std::string::npos);
  // The capture is the whole run's, as without the view.
  ProcessResult report = run_process({tool_path(), "report", capture, "--top", "0", "--format", "json"});
  REQUIRE_MESSAGE(report.status() == 0, report.err);
  long counted = -1;
  json document = json::parse(report.out);
  for (const json& row : document["rows"]) {
    if (row["key"]["line"] == marker_line(source, "steady_block")) {
      counted = row["alloc_count"].get<long>();
    }
  }
  CHECK(counted == kept);
  std::vector<long> blocks = steady_blocks(r.output);
  REQUIRE_FALSE(blocks.empty());
  CHECK(blocks.back() <= kept);
}

TEST_CASE("live: refusals are one line and exit status 2") {
  TempDir dir;
  check_one_line_error(run_process({tool_path(), "live", "abc"}), "'abc' is not a process id");
  check_one_line_error(run_process({tool_path(), "live", "999999999"}), "no process 999999999");
  ProcessResult untraced = run_process({tool_path(), "live", std::to_string(::getpid())});
  check_one_line_error(untraced, "is not one measure traces");
  Server server(dir);
  check_one_line_error(run_process({tool_path(), "live", std::to_string(server.pid()), "--interval", "0"}),
                       "--interval: 0 is not between 0.1 and 3600 seconds");
  check_one_line_error(run_process({tool_path(), "live", std::to_string(server.pid()), "--by", "scope"}),
                       "--by: 'scope' is not one of stack, function, line, file, module");
  server.stop();
  // run --live needs a terminal the program's output is not on.
  check_one_line_error(run_process({"setsid", tool_path(), "run", "--live", "--", "/bin/true"}),
                       "run --live: no terminal to draw the view on");
  PtyResult on_terminal =
      run_on_pty({tool_path(), "run", "--live", "--", "/bin/true"}, [](const std::string&) { return std::string(); });
  CHECK(on_terminal.status == 2);
  CHECK(on_terminal.output.find("run --live: the program's output goes to this terminal") != std::string::npos);
}
