// `measure run`: start a program with the runtime preloaded, pass its exit status through,
// then stamp the exit status into its capture and say where the capture went.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "format/capture.h"
#include "format/capture_format.h"
#include "report/formats.h"
#include "support/error.h"
#include "symbols/stored_symbols.h"
#include "symbols/symbol_file.h"
#include "tools/cli.h"
#include "tools/live_status.h"
#include "tools/process.h"
#include "tools/program_check.h"
#include "tools/symbol_prefetch.h"
#include "tools/terminal.h"

namespace measure::tools {

std::string find_preload_library() {
  if (const char* override_path = std::getenv("MEASURE_PRELOAD_LIBRARY")) {
    return override_path;
  }
  std::filesystem::path dir = own_directory();
  // Installed: where the install rules put it; build tree: build/lib.
  for (const char* relative :
       {MEASURE_PRELOAD_FROM_BINDIR, "../lib/libmeasure_preload.so", "../lib/measure/libmeasure_preload.so"}) {
    std::filesystem::path candidate = (dir / relative).lexically_normal();
    std::error_code ec;
    if (std::filesystem::exists(candidate, ec)) {
      return candidate.string();
    }
  }
  throw IoError(
      fmt::format("cannot find libmeasure_preload.so next to {} (looked in ../lib and ../lib/measure)", dir.string()));
}

namespace {

// The value of the loader's list variable `name` (LD_PRELOAD, LD_AUDIT) for the run: `ours`
// first, then whatever the user had set.
std::string loader_list(const char* name, const std::string& ours) {
  const char* existing = std::getenv(name);
  return existing != nullptr && *existing != '\0' ? ours + ":" + existing : ours;
}

// Where the audit module lies: beside the preload (hooks/audit.cpp: it lets libraries opened
// with RTLD_DEEPBIND reach the hooks).
std::string audit_module_path(const std::string& preload) {
  return (std::filesystem::path(preload).parent_path() / "libmeasure_audit.so").string();
}

// The audit module; throws when it is not there.
std::string find_audit_module(const std::string& preload) {
  std::string audit = audit_module_path(preload);
  std::error_code ec;
  if (!std::filesystem::exists(audit, ec)) {
    throw IoError(fmt::format("cannot find libmeasure_audit.so next to {}", preload));
  }
  return audit;
}

// MEASURE_INJECTED for `env`, the variables measure sets: per variable, what the program has
// natively instead (its value, or nothing), so the runtime can give the program exactly its
// own environment (libmeasure/runtime/environment.h has the format).
std::string injected_list(const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::string> items;
  for (const auto& [name, value] : env) {
    const char* own = std::getenv(name.c_str());
    std::string item = own != nullptr ? name + "=" + own : name;
    items.push_back(fmt::format("{}:{}", item.size(), item));
  }
  if (const char* own = std::getenv("MEASURE_INJECTED")) {
    std::string item = fmt::format("MEASURE_INJECTED={}", own);
    items.push_back(fmt::format("{}:{}", item.size(), item));
  }
  return fmt::format("{}", fmt::join(items, ";"));
}

// %n is the program as the user named it (a script's name, not its interpreter's).
std::string output_template(const RunOptions& o) {
  std::string templ = o.output.empty() ? "measure.%n.%p.msr" : o.output;
  std::string name = std::filesystem::path(o.command.front()).filename().string();
  std::string expanded;
  for (std::size_t i = 0; i < templ.size(); ++i) {
    if (templ[i] == '%' && i + 1 < templ.size() && templ[i + 1] == 'n') {
      expanded += name;
      ++i;
    } else if (templ[i] == '%' && i + 1 < templ.size() && templ[i + 1] == '%') {
      expanded += "%%";  // left for the runtime, which expands %% and %p
      ++i;
    } else {
      expanded.push_back(templ[i]);
    }
  }
  return std::filesystem::absolute(expanded).lexically_normal().string();
}

std::string runtime_path(const std::string& templ, int pid) {
  std::string out;
  for (std::size_t i = 0; i < templ.size(); ++i) {
    if (templ[i] == '%' && i + 1 < templ.size() && templ[i + 1] == 'p') {
      out += fmt::to_string(pid);
      ++i;
    } else if (templ[i] == '%' && i + 1 < templ.size() && templ[i + 1] == '%') {
      out.push_back('%');
      ++i;
    } else {
      out.push_back(templ[i]);
    }
  }
  return out;
}

namespace fs = std::filesystem;

// The capture a process wrote for `path`: the name itself, or, when that name was taken
// (pid reuse, a template without %p), the name with the highest sequence suffix written since
// `since`.
std::string find_capture(const std::string& path, fs::file_time_type since) {
  std::error_code ec;
  std::string best;
  for (int sequence = 0; sequence < 1000; ++sequence) {
    std::string candidate = sequence == 0 ? path : fmt::format("{}.{}", path, sequence);
    if (!fs::exists(candidate, ec)) {
      if (sequence != 0) {
        break;
      }
      continue;
    }
    if (fs::last_write_time(candidate, ec) >= since) {
      best = candidate;
    }
  }
  return best;
}

// Captures named by a template with %p (any pid, with any sequence suffix), written since
// `since`.
std::vector<std::string> template_captures(const std::string& templ, fs::file_time_type since) {
  std::vector<std::string> found;
  std::size_t at = templ.find("%p");
  if (at == std::string::npos) {
    return found;
  }
  fs::path prefix = templ.substr(0, at);
  std::string suffix = templ.substr(at + 2);
  std::string stem = prefix.filename().string();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(prefix.parent_path(), ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(stem, 0) != 0 || name.find(".tmp.") != std::string::npos ||
        name.find(suffix, stem.size()) == std::string::npos || fs::last_write_time(entry.path(), ec) < since) {
      continue;
    }
    found.push_back(entry.path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

// Completes `capture`, read from `path`, while its binaries are still the ones that ran: the
// exit status (the root process's only) and the symbols of every recorded address, written
// back. Returns false (and says why) when it cannot be written.
bool complete_capture(const std::string& path, const ChildResult* child, Capture& capture, SymbolFiles& files) {
  try {
    if (child != nullptr) {
      capture.program.exit = ExitInfo{child->status(), static_cast<std::uint32_t>(child->signal)};
    }
    StoreSymbolsResult symbols = store_symbols(capture, &files);
    write_capture(capture, path);
    warn_not_regular_files({&symbols.stats});
    if (!symbols.unreadable_modules.empty()) {
      fmt::print(stderr, "measure: warning: {}: {} left as module+offset: {} could not be read: {}\n", path,
                 plural(symbols.offsets_left, "address", "addresses"),
                 plural(symbols.unreadable_modules.size(), "module", "modules"),
                 fmt::join(symbols.unreadable_modules, ", "));
    }
    return true;
  } catch (const Error& e) {
    fmt::print(stderr, "measure: the capture could not be completed: {}\n", e.what());
    return false;
  }
}

void summarize(const std::string& path, const Capture& capture, bool quiet) {
  if ((capture.program.flags & format::program_hooks_inactive) != 0) {
    fmt::print(stderr,
               "measure: warning: the program's malloc was not measure's (it has its own allocator); "
               "{} is incomplete\n",
               path);
  }
  if (quiet && !capture.partial()) {
    return;
  }
  const Metrics& t = capture.totals;
  std::string peak = peak_phrase(capture);
  if (capture.partial()) {
    // Said whatever -q says: a partial capture must never pass for a whole one.
    fmt::print(stderr, "measure: {}\n", partial_description(capture));
    fmt::print(stderr, "measure: at that checkpoint: {} allocations ({}), {}, {} blocks ({}) live\n",
               grouped(t.alloc_count), human_bytes(t.alloc_bytes), peak, grouped(t.live_count),
               human_bytes(t.live_bytes));
  } else {
    fmt::print(stderr, "measure: {} allocations ({}), {}, {} blocks ({}) still live at exit\n", grouped(t.alloc_count),
               human_bytes(t.alloc_bytes), peak, grouped(t.live_count), human_bytes(t.live_bytes));
  }
  if (!quiet) {
    fmt::print(stderr, "measure: wrote {}; see: measure report {}\n", path, path);
  }
}

// Fails before the program starts when the capture could not be written where asked: finding
// out after a long run would lose it.
void check_writable(const std::string& templ) {
  fs::path dir = fs::path(templ).parent_path();
  if (dir.string().find('%') != std::string::npos) {
    return;  // a directory named per process: known only when it is written
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw UsageError(
        fmt::format("run: cannot write the capture to {}: {} is not a directory (the program was "
                    "not started)",
                    templ, dir.string()));
  }
  fs::path probe = dir / fmt::format(".measure-write-check.{}", ::getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw UsageError(fmt::format("run: cannot write the capture to {}: {} (the program was not started)", templ,
                                 std::strerror(errno)));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

// Fails before the program starts when the capture's name would be too long to create: the
// runtime would find out only at the end. Its temporary file's name is 21 bytes longer
// (".tmp." and 16 random digits; a sequence suffix is shorter), a pid up to 7 digits, and a
// path with its final NUL fits PATH_MAX (4096).
void check_name_length(const std::string& templ) {
  constexpr std::size_t added = 21;
  std::string longest = runtime_path(templ, 9999999);
  fs::path dir = fs::path(longest).parent_path();
  long name_max = ::pathconf(dir.c_str(), _PC_NAME_MAX);
  std::size_t name_limit = name_max > 0 ? static_cast<std::size_t>(name_max) : 255;
  std::size_t name = fs::path(longest).filename().string().size();
  if (longest.size() + added + 1 > 4096) {
    throw UsageError(fmt::format("run: -o {}...: the capture's path is too long ({} bytes; at most {})",
                                 templ.substr(0, 64), longest.size(), 4096 - added - 1));
  }
  if (name + added > name_limit) {
    throw UsageError(fmt::format("run: -o {}: the capture's file name is too long ({} bytes; at most {})", templ, name,
                                 name_limit - added));
  }
}

// Why no capture was written for the program's own process, as far as it is known.
std::string missing_capture_reason(const ChildResult& child, const StatusDirectory& notes, const std::string& secure) {
  if (child.signal != 0) {
    return fmt::format("it was killed by signal {} before it could write one", child.signal);
  }
  std::vector<std::string> errors;
  for (int error : notes.failures(child.pid)) {
    errors.emplace_back(std::strerror(error));
  }
  if (!errors.empty()) {
    return fmt::format("it could not be written: {}", fmt::join(errors, "; "));
  }
  if (!secure.empty()) {
    return fmt::format("the program is {}: the loader ignores LD_PRELOAD for it", secure);
  }
  return "it may have replaced itself with exec, or exited with _exit";
}

// The captures this run wrote: files of the template written since `since` (with a fixed
// name, the name and its sequence suffixes), that started no earlier than the program's own
// (`pid`): an earlier run's captures may still be newer than `since`. Unreadable ones are
// said on stderr and left out.
std::vector<std::pair<std::string, Capture>> run_captures(const std::string& templ, fs::file_time_type since, int pid) {
  std::vector<std::string> paths = template_captures(templ, since);
  if (templ.find("%p") == std::string::npos) {
    std::error_code ec;
    std::string path = runtime_path(templ, 0);
    for (int sequence = 0; sequence < 1000 && fs::exists(path, ec); ++sequence) {
      if (fs::last_write_time(path, ec) >= since) {
        paths.push_back(path);
      }
      path = fmt::format("{}.{}", runtime_path(templ, 0), sequence + 1);
    }
  }
  std::vector<std::pair<std::string, Capture>> captures;
  std::uint64_t start_ns = UINT64_MAX;
  for (const std::string& path : paths) {
    try {
      Capture c = read_capture(path);
      if (c.program.pid == static_cast<std::uint64_t>(pid)) {
        start_ns = std::min(start_ns, c.program.start_time_ns);
      }
      captures.emplace_back(path, std::move(c));
    } catch (const Error& e) {
      fmt::print(stderr, "measure: the capture could not be completed: {}\n", e.what());
    }
  }
  std::erase_if(captures, [&](const auto& c) {
    return start_ns != UINT64_MAX && c.second.program.pid != static_cast<std::uint64_t>(pid) &&
           c.second.program.start_time_ns < start_ns;
  });
  return captures;
}

// One line on the processes the program started that no capture traces (the untraced_forks
// and untraced_execs of every capture of the run, summed), naming the options that would
// trace them; nothing when there were none.
void print_untraced_processes(const std::vector<std::pair<std::string, Capture>>& captures, const RunOptions& o) {
  std::uint64_t forked = 0;
  std::uint64_t execed = 0;
  for (const auto& [path, c] : captures) {
    forked += c.diagnostic("untraced_forks");
    execed += c.diagnostic("untraced_execs");
  }
  std::uint64_t total = forked + execed;
  if (total == 0) {
    return;
  }
  std::vector<std::string> kinds;
  std::vector<std::string> options;
  if (forked != 0) {
    kinds.push_back(fmt::format("forked: {}", forked));
    if (!o.follow_forks) {
      options.emplace_back("--follow-forks");
    }
  }
  if (execed != 0) {
    kinds.push_back(fmt::format("exec'd: {}", execed));
    if (!o.follow_exec) {
      options.emplace_back("--follow-exec");
    }
  }
  std::string hint = options.empty() ? std::string()
                                     : fmt::format("; {} trace{} {}", fmt::join(options, " and "),
                                                   options.size() == 1 ? "s" : "", total == 1 ? "it" : "them");
  fmt::print(stderr, "measure: the program started {} process{} that {} not traced ({}){}\n", total,
             total == 1 ? "" : "es", total == 1 ? "was" : "were", fmt::join(kinds, ", "), hint);
}

}  // namespace

std::string peak_phrase(const Capture& capture) {
  // The light modes see the peak only at sample points and timeline ticks.
  return capture.program.mode == CaptureMode::exact
             ? fmt::format("peak {}", human_bytes(capture.totals.peak_bytes))
             : fmt::format("peak at least {} (sampled)", human_bytes(capture.totals.peak_bytes));
}

bool parse_interval(const std::string& text, std::uint64_t* out) {
  std::size_t digits = 0;
  std::uint64_t value = 0;
  for (; digits < text.size() && text[digits] >= '0' && text[digits] <= '9'; ++digits) {
    if (value > (UINT64_MAX - 9) / 10) {
      return false;
    }
    value = value * 10 + static_cast<std::uint64_t>(text[digits] - '0');
  }
  std::string suffix;
  for (char c : text.substr(digits)) {
    suffix += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  unsigned shift = 64;
  for (auto [unit, bits] : {std::pair{'k', 10U}, std::pair{'m', 20U}, std::pair{'g', 30U}}) {
    if (suffix == std::string(1, unit) || suffix == std::string(1, unit) + "b" ||
        suffix == std::string(1, unit) + "ib") {
      shift = bits;
    }
  }
  if (suffix.empty()) {
    shift = 0;
  }
  if (digits == 0 || shift == 64 || value == 0 || value > (UINT64_MAX >> shift)) {
    return false;
  }
  *out = value << shift;
  return true;
}

void add_run_command(CLI::App& app, RunOptions& o) {
  CLI::App* run = app.add_subcommand("run", "Run a program with allocation tracing and write a capture file.");
  run->add_option("-o,--output", o.output,
                  "Capture path (default measure.%n.%p.msr; %p pid, %n program name, %% a percent sign)");
  run->add_option("--mode", o.mode,
                  "What to record: exact (every allocation and its stack), sampled (stacks of a byte-weighted "
                  "sample: per-stack numbers are estimates, totals exact) or counters (totals only, no stacks)")
      ->check(CLI::IsMember({"exact", "sampled", "counters"}));
  run->add_option("--depth", o.depth, "Maximum frames per stack (1-256, default 64)")->check(CLI::Range(1, 256));
  run->add_option("--sample-interval", o.sample_interval, "Mean bytes between samples in sampled mode (e.g. 512K)");
  run->add_flag("--follow-forks", o.follow_forks,
                "Also trace forked children: each writes its own capture (named with its pid), starting "
                "with the blocks it inherited");

  run->add_flag("--follow-exec", o.follow_exec, "Also trace programs started with exec");
  run->add_flag("--no-deepbind", o.no_deepbind,
                "Do not load the loader audit module that traces libraries opened with RTLD_DEEPBIND; "
                "the loader then allocates exactly as without measure");
  run->add_flag("-q,--quiet", o.quiet, "Do not print the summary after the program ends");
  run->add_flag("--live", o.live,
                "Show the live view of the program while it runs (as 'measure live'; q leaves the view, not the "
                "program)");
  run->footer(
      "The program's standard output, standard error and exit status are its own (128+N when it\n"
      "died of signal N); measure prints its summary on standard error after the program ends.\n\n"
      "Examples:\n"
      "  measure run -- ./app --flag value\n"
      "  measure run -o before.msr -- ./bench\n"
      "  measure run --depth 16 -o 'trace.%p.msr' -- make -j2");
}

int run_command(const RunOptions& o) {
  if (o.command.empty()) {
    throw UsageError("run: no program given (usage: measure run [OPTIONS] -- PROGRAM [ARGS...])");
  }
  if (!o.sample_interval.empty() && o.mode != "sampled") {
    throw UsageError("run: --sample-interval applies to --mode sampled only");
  }
  std::uint64_t interval = 512 * 1024;
  if (!o.sample_interval.empty() && !parse_interval(o.sample_interval, &interval)) {
    throw UsageError(fmt::format(
        "run: --sample-interval '{}' is not a positive byte count (a number with an optional K, M or G suffix)",
        o.sample_interval));
  }

  std::string program = find_in_path(o.command.front());
  if (program.empty()) {
    throw UsageError(fmt::format("run: cannot run '{}': no such executable file{}", o.command.front(),
                                 o.command.front().find('/') == std::string::npos ? " in PATH" : ""));
  }
  ProgramCheck check = check_program(program);
  if (check.statically_linked) {
    throw UsageError(
        fmt::format("run: '{}' is statically linked; measure traces dynamically linked programs only "
                    "(LD_PRELOAD cannot reach a static binary)",
                    o.command.front()));
  }
  // Said before the program runs, whatever -q says: a capture that misses allocations must
  // never look complete.
  if (check.defines_malloc) {
    fmt::print(stderr,
               "measure: warning: '{}' defines its own malloc; only operator new/delete calls reach measure, "
               "and the capture will be incomplete\n",
               o.command.front());
  }
  if (!check.direct_allocator_calls.empty()) {
    fmt::print(stderr, "measure: warning: '{}' calls {} directly; those allocations are not traced\n",
               o.command.front(), fmt::join(check.direct_allocator_calls, ", "));
  }
  // The kernel ignores the set-user-ID bit of a script: only an ELF program can be one.
  std::string secure = check.is_elf ? secure_execution(program) : std::string();
  if (!secure.empty() && !o.quiet) {
    fmt::print(stderr,
               "measure: warning: '{}' is {}: the loader ignores LD_PRELOAD for such programs, so nothing will be "
               "traced and no capture written\n",
               o.command.front(), secure);
  }
  if (o.live) {
    // The view takes the terminal; the program's output must go elsewhere, or the view would
    // draw over it (and it over the view).
    if (::isatty(STDOUT_FILENO) == 1 || ::isatty(STDERR_FILENO) == 1) {
      throw UsageError(
          "run --live: the program's output goes to this terminal, where the view would draw over it; redirect it "
          "(> out.log 2>&1), or run 'measure live PID' in another terminal");
    }
    int terminal = open_free_terminal();
    if (terminal < 0) {
      throw UsageError("run --live: no terminal to draw the view on (no controlling terminal, or a background job)");
    }
    close_terminal(terminal);
  }
  std::string preload = find_preload_library();

  std::string templ = output_template(o);
  check_name_length(templ);
  check_writable(templ);
  StatusDirectory notes;
  std::vector<std::pair<std::string, std::string>> env = {
      {"LD_PRELOAD", loader_list("LD_PRELOAD", preload)},
      {"MEASURE_OUTPUT", templ},
      {"MEASURE_MODE", o.mode},
      {"MEASURE_DEPTH", fmt::to_string(o.depth)},
  };
  if (!o.no_deepbind) {
    env.emplace_back("LD_AUDIT", loader_list("LD_AUDIT", find_audit_module(preload)));
  }
  if (o.mode == "sampled") {
    env.emplace_back("MEASURE_SAMPLE_INTERVAL", fmt::to_string(interval));
  }
  if (o.follow_exec) {
    env.emplace_back("MEASURE_FOLLOW_EXEC", "1");
  }
  if (o.follow_forks) {
    env.emplace_back("MEASURE_FOLLOW_FORKS", "1");
  }
  if (!notes.path().empty()) {
    env.emplace_back("MEASURE_STATUS_DIR", notes.path());
  }
  env.emplace_back("MEASURE_INJECTED", injected_list(env));
  // An explicit name without %p: the user asked for exactly that file, so a previous run's
  // capture there is replaced (the program's own children still never overwrite each other).
  // Only a regular file is ever replaced: removing /dev/null (as root) or a FIFO would
  // break the system, not just this run.
  if (templ.find("%p") == std::string::npos) {
    std::string path = runtime_path(templ, 0);
    std::error_code ec;
    fs::file_status status = fs::symlink_status(path, ec);
    if (fs::is_regular_file(status)) {
      fs::remove(path, ec);
    } else if (fs::exists(status) && !fs::is_symlink(status)) {
      throw UsageError(fmt::format("run: -o {}: not a regular file; a capture is a file of its own", path));
    }
  }
  // File times have the file system's resolution; allow for it when comparing.

  fs::file_time_type since = fs::file_time_type::clock::now() - std::chrono::seconds(2);
  std::optional<LiveStatus> live(std::in_place, !o.quiet && !o.live, templ, since);
  // The live view watches the program from a thread of its own until the program ends.
  struct ViewThread {
    std::atomic<bool> ended{false};
    std::thread thread;
    ~ViewThread() {
      ended = true;
      if (thread.joinable()) {
        thread.join();
      }
    }
  };
  std::optional<ViewThread> view;
  if (o.live) {
    if (notes.path().empty()) {
      fmt::print(stderr, "measure: warning: no live view: no private directory could be made for its requests\n");
    } else {
      view.emplace();
    }
  }
  auto start_view = [&](int pid) {
    if (!view) {
      return;
    }
    view->thread = std::thread([&view, &notes, pid] {
      try {
        show_live(
            pid, notes.path(), LiveViewOptions{}, [&view] { return view->ended.load(); }, true);
      } catch (const Error& e) {
        fmt::print(stderr, "measure: the live view stopped: {}\n", e.what());
      }
    });
  };
  // Module files read while the program runs, for its captures' symbols (none in counters
  // mode: no stacks).
  SymbolFiles files;
  std::optional<SymbolPrefetch> prefetch;
  if (o.mode != "counters") {
    prefetch.emplace(files, std::vector<std::string>{preload, audit_module_path(preload)});
  }
  ChildResult child = run_child(o.command, env, [&](int pid) {
    if (prefetch) {
      prefetch->start(pid);
    }
    start_view(pid);
  });
  view.reset();      // the view ends with the program
  prefetch.reset();  // finishes the file it is reading
  live.reset();      // erased before the summary
  // Every capture of the run gets its symbols now, while the binaries are the ones that ran;
  // the program's own (its last image, after any exec) also gets its exit status.
  std::string own = find_capture(runtime_path(templ, child.pid), since);
  std::vector<std::pair<std::string, Capture>> captures = run_captures(templ, since, child.pid);
  std::vector<std::string> others;
  for (auto& [path, capture] : captures) {
    bool is_own = path == own;
    if (!complete_capture(path, is_own ? &child : nullptr, capture, files)) {
      continue;
    }
    if (is_own) {
      summarize(own, capture, o.quiet);
    } else {
      others.push_back(path);
    }
  }
  if (own.empty() && !o.quiet) {
    fmt::print(stderr, "measure: no capture was written for pid {} ({})\n", child.pid,
               missing_capture_reason(child, notes, secure));
  }
  if (!others.empty() && !o.quiet) {
    fmt::print(stderr, "measure: {} from {}: {}; 'measure report' takes them all at once\n",
               plural(others.size(), "more capture", "more captures"),
               o.follow_forks || o.follow_exec ? "child processes and exec'd programs" : "before exec",
               fmt::join(others, " "));
  }
  if (!o.quiet) {
    print_untraced_processes(captures, o);
  }
  return child.status();
}

}  // namespace measure::tools
