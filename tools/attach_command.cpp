// `measure attach PID` and `measure detach PID`: recording a process that is already running.
//
// Attaching copies the runtime library into a private directory as libmeasure_attach.so, and
// with ptrace (tools/process.h's Tracee) has one thread of the process load it with the
// process's own dlopen and hand it its settings (hooks/attach.cpp). Then, with every thread
// stopped, the runtime points the program's calls of malloc and the other allocation
// functions at its hooks, and the threads go on: recording starts at that instant.
// Detaching stops the threads again and puts the calls back; the runtime's own thread then
// writes the capture and stays dormant. The directory is the session's status directory:
// `measure dump` and `measure live` find it through the library mapped there.
#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/stat.h>

#include "format/capture.h"
#include "report/formats.h"
#include "support/error.h"
#include "symbols/stored_symbols.h"
#include "tools/cli.h"
#include "tools/dump_request.h"
#include "tools/process.h"

namespace measure::tools {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr const char* library_name = attach_library_name;
constexpr auto answer_timeout = std::chrono::seconds(60);

std::atomic<bool> g_interrupted{false};

void on_interrupt(int) {
  g_interrupted = true;
}

std::string file_text(const fs::path& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

// The process id that traces `pid` (its TracerPid), 0 when none does.
int tracer_of(int pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("TracerPid:", 0) == 0) {
      return std::atoi(line.c_str() + 10);
    }
  }
  return 0;
}

// Refuses, with the reason, a process measure cannot attach to.
void check_attachable(int pid) {
  if (!process_running(pid)) {
    throw UsageError(fmt::format("no process {}", pid));
  }
  if (pid == ::getpid()) {
    throw UsageError("measure cannot attach to itself");
  }
  std::vector<std::string> files = executable_files(pid);
  if (files.empty()) {
    throw UsageError(fmt::format("cannot read process {}'s mappings (another user's process?)", pid));
  }
  auto maps = [&](auto predicate) { return std::any_of(files.begin(), files.end(), predicate); };
  if (maps([](const std::string& f) {
        std::string name = fs::path(f).filename().string();
        return name == "libmeasure_preload.so" || name.rfind("libmeasure.so", 0) == 0;
      })) {
    throw UsageError(
        fmt::format("process {} is traced by measure from its start already ('measure run', or it links libmeasure); "
                    "'measure dump {}' takes its capture now",
                    pid, pid));
  }
  if (!attached_directory(files).empty()) {
    throw UsageError(fmt::format("measure attach records process {} already; 'measure detach {}' ends it", pid, pid));
  }
  if (!maps([](const std::string& f) {
        std::string name = fs::path(f).filename().string();
        return name.rfind("ld-linux", 0) == 0 || name.rfind("ld64.so", 0) == 0;
      })) {
    throw UsageError(fmt::format(
        "process {} is statically linked: it has no loader to load measure with (measure attaches to dynamically "
        "linked programs only)",
        pid));
  }
  if (int tracer = tracer_of(pid); tracer != 0) {
    throw UsageError(fmt::format(
        "process {} is traced already, by process {} (a debugger?); measure cannot attach while it is", pid, tracer));
  }
}

bool is_c_library(const std::string& path) {
  std::string name = fs::path(path).filename().string();
  return name.rfind("libc.so", 0) == 0 || name.rfind("libc-", 0) == 0;
}

std::uintptr_t c_library_function(int pid, const char* name) {
  std::uintptr_t address = remote_function(pid, is_c_library, name);
  if (address == 0) {
    throw UsageError(
        fmt::format("process {}'s C library has no {} (measure attach needs glibc 2.34 or later)", pid, name));
  }
  return address;
}

// Stops every thread of the process, at an instant when each waits in a system call when
// one comes within a second (a program that allocates between waits is then caught between
// two of its operations, never inside one), else wherever they are.
void stop_between_operations(Tracee& tracee) {
  auto deadline = steady_clock::now() + std::chrono::seconds(1);
  for (;;) {
    tracee.stop_all();
    if (tracee.all_waiting() || steady_clock::now() > deadline) {
      return;
    }
    tracee.resume();
    std::this_thread::sleep_for(milliseconds(2));
  }
}

// Loads the library into process `pid`, gives it `settings`, and redirects the calls.
void attach_process(int pid, const std::string& library, const std::string& settings) {
  std::uintptr_t dlopen_function = c_library_function(pid, "dlopen");
  std::uintptr_t dlerror_function = c_library_function(pid, "dlerror");
  std::uintptr_t dlsym_function = c_library_function(pid, "dlsym");
  Tracee tracee(pid);
  // The loader runs on one thread while the others go on: none of them may be holding a lock
  // it needs. The thread must not hold one either (tools/process.h's safe_thread).
  int tid = 0;
  for (auto deadline = steady_clock::now() + std::chrono::seconds(3);;) {
    tracee.stop_all();
    tid = tracee.safe_thread();
    if (tid != 0) {
      break;
    }
    if (steady_clock::now() > deadline) {
      throw Error(fmt::format(
          "no thread of process {} waited in a system call (read, poll, sleep...) or ran outside the C library "
          "within 3 s; measure attaches at such a moment",
          pid));
    }
    tracee.resume();
    std::this_thread::sleep_for(milliseconds(5));
  }
  tracee.resume(tid);
  std::uint64_t handle = tracee.call(tid, dlopen_function, {{0, library}, {RTLD_NOW | RTLD_LOCAL, std::nullopt}});
  if (handle == 0) {
    std::uint64_t message = tracee.call(tid, dlerror_function, {});
    throw Error(fmt::format("cannot load measure into process {}: {}", pid,
                            message != 0 ? tracee.read_string(message) : "the loader gave no reason"));
  }
  auto entry = [&](const char* name) {
    std::uint64_t address = tracee.call(tid, dlsym_function, {{handle, std::nullopt}, {0, std::string(name)}});
    if (address == 0) {
      throw Error(fmt::format("{} has no {}; is it measure's runtime library?", library, name));
    }
    return address;
  };
  std::uint64_t prepare = entry("measure_rt_attach_prepare");
  std::uint64_t start = entry("measure_rt_attach_start");
  auto rc = static_cast<int>(tracee.call(tid, prepare, {{0, settings}}));
  if (rc != 0) {
    throw Error(fmt::format("measure could not start in process {}: {}", pid, std::strerror(rc)));
  }
  stop_between_operations(tracee);
  rc = static_cast<int>(tracee.call(tracee.main_thread(), start, {}));
  if (rc != 0) {
    throw Error(fmt::format("measure could not start recording in process {}: {}", pid, std::strerror(rc)));
  }
}

// Puts the calls back (the first of several callers does; the others find the recording
// ended). The runtime then writes the capture.
void end_recording(int pid, const fs::path& directory) {
  FileLock turn((directory / "detach.lock").string(), steady_clock::now() + answer_timeout);
  if (!turn.locked() || fs::exists(directory / "detached")) {
    return;
  }
  std::string library = (directory / library_name).string();
  std::uintptr_t stop = remote_function(
      pid, [&](const std::string& path) { return path == library; }, "measure_rt_attach_stop");
  if (stop == 0) {
    throw Error(fmt::format("process {} has no measure_rt_attach_stop in {}", pid, library));
  }
  {
    Tracee tracee(pid);
    stop_between_operations(tracee);
    tracee.call(tracee.main_thread(), stop, {});
  }
  std::ofstream(directory / "detached") << "1\n";
}

// The runtime's answer once the capture is written: 0 or an errno value (0 too when the
// directory is gone: the attach command saw the answer first and completed the capture);
// nullopt when the process ended first (its exit handler wrote the capture, or a checkpoint
// remains).
std::optional<int> wait_for_capture(int pid, const fs::path& directory) {
  auto deadline = steady_clock::now() + answer_timeout;
  std::string prefix = fmt::format("detach-{}.done-", pid);
  for (;;) {
    std::error_code ec;
    if (!fs::is_directory(directory, ec)) {
      return 0;
    }
    for (const auto& entry : fs::directory_iterator(directory, ec)) {
      std::string name = entry.path().filename().string();
      if (name.rfind(prefix, 0) == 0) {
        return std::atoi(name.c_str() + prefix.size());
      }
    }
    if (!process_running(pid)) {
      return std::nullopt;
    }
    if (steady_clock::now() > deadline) {
      throw Error(fmt::format("process {} did not write its capture within {} s", pid,
                              std::chrono::duration_cast<std::chrono::seconds>(answer_timeout).count()));
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
}

// Symbols into the capture at `output`, and the summary line.
void complete(int pid, const std::string& output, bool ended, bool quiet) {
  std::error_code ec;
  if (!fs::is_regular_file(output, ec)) {
    throw IoError(fmt::format("process {} {} without writing {}", pid, ended ? "ended" : "was detached", output));
  }
  Capture capture = read_capture(output);
  StoreSymbolsResult symbols = store_symbols(capture);
  if (symbols.offsets_added != 0) {
    write_capture(capture, output);
  }
  if (quiet) {
    return;
  }
  const Metrics& t = capture.totals;
  fmt::print(stderr, "measure: {} ({}), {}, {} ({}) live {}\n", plural(t.alloc_count, "allocation", "allocations"),
             human_bytes(t.alloc_bytes), peak_phrase(capture), plural(t.live_count, "block", "blocks"),
             human_bytes(t.live_bytes), ended ? "when the process ended" : "at the detach");
  if (std::uint64_t before = capture.diagnostic("freed_before_attach"); before != 0) {
    fmt::print(stderr, "measure: {} of blocks allocated before the attach (not counted)\n",
               plural(before, "free", "frees"));
  }
  fmt::print(stderr, "measure: wrote {}; see: measure report {}\n", output, output);
}

std::string default_output(int pid) {
  return fmt::format("measure.{}.{}.msr", program_name(pid), pid);
}

// The output path as the runtime takes it: '%' is its template character.
std::string escaped(const std::string& path) {
  std::string out;
  for (char c : path) {
    out += c == '%' ? std::string("%%") : std::string(1, c);
  }
  return out;
}

}  // namespace

void add_attach_command(CLI::App& app, AttachOptions& o) {
  CLI::App* attach = app.add_subcommand(
      "attach", "Record a running process from now on, until Ctrl-C, --duration or 'measure detach PID'.");
  attach->add_option("pid", o.pid, "The process (its id)")->required();
  attach->add_option("-o,--output", o.output, "Capture path (default measure.NAME.PID.msr)");
  attach->add_option("--mode", o.mode, "What to record: exact, sampled or counters (as for 'measure run')")
      ->check(CLI::IsMember({"exact", "sampled", "counters"}));
  attach->add_option("--depth", o.depth, "Maximum frames per stack (1-256, default 64)")->check(CLI::Range(1, 256));
  attach->add_option("--sample-interval", o.sample_interval, "Mean bytes between samples in sampled mode (e.g. 512K)");
  attach->add_option("--duration", o.duration, "Seconds to record (default: until Ctrl-C or 'measure detach')")
      ->check(CLI::PositiveNumber);
  attach->add_flag("-q,--quiet", o.quiet, "Print nothing unless it fails");
  attach->footer(
      "The process keeps running as before, during and after: its output and exit status are its own. Blocks it\n"
      "allocated before the attach are not seen; frees of them are counted apart. While attached, 'measure dump'\n"
      "and 'measure live' work as for 'measure run'. Needs ptrace permission (the same user, and\n"
      "kernel.yama.ptrace_scope 0, or root).\n\n"
      "Examples:\n"
      "  measure attach $(pidof server) --duration 60 -o minute.msr\n"
      "  measure attach 1234 &  ...  measure detach 1234");
}

void add_detach_command(CLI::App& app, DetachOptions& o) {
  CLI::App* detach =
      app.add_subcommand("detach", "End the recording 'measure attach' started in a process; its capture is written.");
  detach->add_option("pid", o.pid, "The process (its id)")->required();
  detach->add_flag("-q,--quiet", o.quiet, "Print nothing unless it fails");
  detach->footer(
      "The process goes on as before; the runtime stays in it, dormant, and a later attach records afresh.\n\n"
      "Examples:\n"
      "  measure detach 1234                      after 'measure attach 1234 -o server.msr &': writes server.msr");
}

int attach_command(const AttachOptions& o) {
  if (!o.sample_interval.empty() && o.mode != "sampled") {
    throw UsageError("attach: --sample-interval applies to --mode sampled only");
  }
  std::uint64_t interval = 512 * 1024;
  if (!o.sample_interval.empty() && !parse_interval(o.sample_interval, &interval)) {
    throw UsageError(fmt::format(
        "attach: --sample-interval '{}' is not a positive byte count (a number with an optional K, M or G suffix)",
        o.sample_interval));
  }
  int pid = parse_pid(o.pid);
  check_attachable(pid);
  std::error_code ec;
  fs::path output = fs::absolute(o.output.empty() ? default_output(pid) : o.output, ec).lexically_normal();
  if (ec || !fs::is_directory(output.parent_path(), ec)) {
    throw UsageError(
        fmt::format("attach: cannot write the capture to {}: its directory does not exist", output.string()));
  }
  fs::file_status existing = fs::symlink_status(output, ec);
  if (fs::exists(existing) && !fs::is_regular_file(existing)) {
    throw UsageError(fmt::format("attach: -o {}: not a regular file; a capture is a file of its own", output.string()));
  }
  fs::remove(output, ec);  // the runtime would pick another name beside it
  std::string preload = find_preload_library();

  StatusDirectory session("measure-attach");
  if (session.path().empty()) {
    throw IoError(fmt::format("cannot make a private directory for the session: {}", std::strerror(errno)));
  }
  fs::path directory = session.path();
  fs::copy_file(preload, directory / library_name, ec);
  if (ec) {
    throw IoError(fmt::format("cannot copy {}: {}", preload, ec.message()));
  }
  // As root, attaching to another user's process: the process reads the library and writes
  // its capture and answers as that user.
  struct stat owner {};
  if (::geteuid() == 0 && ::stat(fmt::format("/proc/{}", pid).c_str(), &owner) == 0 && owner.st_uid != 0) {
    for (const fs::path& p : {directory, directory / library_name}) {
      if (::chown(p.c_str(), owner.st_uid, owner.st_gid) != 0) {
        throw IoError(fmt::format("cannot give {} to process {}'s user: {}", p.string(), pid, std::strerror(errno)));
      }
    }
  }
  std::ofstream(directory / "attach.pid") << ::getpid() << '\n';
  std::ofstream(directory / "output") << output.string() << '\n';

  std::string settings = fmt::format("MEASURE_MODE={}\nMEASURE_OUTPUT={}\nMEASURE_DEPTH={}\nMEASURE_STATUS_DIR={}\n",
                                     o.mode, escaped(output.string()), o.depth, directory.string());
  if (o.mode == "sampled") {
    settings += fmt::format("MEASURE_SAMPLE_INTERVAL={}\n", interval);
  }
  // Set before attaching: a Ctrl-C while the process is traced waits until it is let go, and
  // then ends the recording as usual instead of leaving it running.
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    ::sigaction(sig, &action, nullptr);
  }
  attach_process(pid, (directory / library_name).string(), settings);
  auto started = steady_clock::now();
  if (!o.quiet) {
    fmt::print(stderr, "measure: recording process {} in {} mode{}; {}'measure detach {}' ends it\n", pid, o.mode,
               o.duration > 0 ? fmt::format(" for {} s", o.duration) : "",
               ::isatty(STDIN_FILENO) == 1 ? "Ctrl-C or " : "", pid);
  }

  bool ended = false;
  for (;;) {
    if (g_interrupted ||
        (o.duration > 0 && steady_clock::now() - started >= std::chrono::duration<double>(o.duration))) {
      try {
        end_recording(pid, directory);
      } catch (const ProcessGone&) {
        ended = true;
      }
      break;
    }
    if (fs::exists(directory / "detached", ec)) {
      break;  // `measure detach`
    }
    if (!process_running(pid)) {
      ended = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  if (!ended) {
    std::optional<int> status = wait_for_capture(pid, directory);
    if (status && *status != 0) {
      throw IoError(fmt::format("{}: process {} could not write it: {}", output.string(), pid, std::strerror(*status)));
    }
    ended = !status;
  }
  complete(pid, output.string(), ended, o.quiet);
  return 0;
}

int detach_command(const DetachOptions& o) {
  int pid = parse_pid(o.pid);
  if (!process_running(pid)) {
    throw UsageError(fmt::format("no process {}", pid));
  }
  std::string found = attached_directory(executable_files(pid));
  if (found.empty()) {
    throw UsageError(fmt::format("measure attach does not record process {}", pid));
  }
  fs::path directory = found;
  std::string output = file_text(directory / "output");
  int attacher = std::atoi(file_text(directory / "attach.pid").c_str());
  end_recording(pid, directory);
  std::optional<int> status = wait_for_capture(pid, directory);
  if (status && *status != 0) {
    throw IoError(fmt::format("{}: process {} could not write it: {}", output, pid, std::strerror(*status)));
  }
  // The attach command completes the capture, when it still runs (or has done so already).
  std::error_code ec;
  if (attacher > 0 && (process_running(attacher) || !fs::is_directory(directory, ec))) {
    if (!o.quiet) {
      fmt::print(stderr, "measure: detached from process {}; measure attach (process {}) completes {}\n", pid, attacher,
                 output);
    }
    return 0;
  }
  complete(pid, output, !status, o.quiet);
  fs::remove_all(directory, ec);
  return 0;
}

}  // namespace measure::tools
