// `measure live PID` and `measure run --live`: a view of a running program, refreshed about
// once a second without pausing it. Each refresh asks the program for its capture through
// the dump channel (tools/dump_request.h: the runtime's background thread writes it, the
// allocation path never sees the request), groups it as `report` would, and draws
// tools/live_view.h's frame on the terminal. Without a terminal each refresh is printed as
// plain text, for a log.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "format/capture.h"
#include "report/formats.h"
#include "symbols/symbol_file.h"
#include "symbols/symbolizer.h"
#include "tools/cli.h"
#include "tools/dump_request.h"
#include "tools/live_view.h"
#include "tools/process.h"
#include "tools/terminal.h"

namespace measure::tools {
namespace {

namespace fs = std::filesystem;

// A capture of 200,000 stacks takes the program's background thread about a tenth of a second
// to write; a program whose thread is starved gets this long before the view gives up.
constexpr auto answer_timeout = std::chrono::seconds(30);

constexpr GroupBy groupings[] = {GroupBy::line, GroupBy::function, GroupBy::file, GroupBy::module, GroupBy::stack};

GroupBy next_grouping(GroupBy by) {
  for (std::size_t i = 0; i < std::size(groupings); ++i) {
    if (groupings[i] == by) {
      return groupings[(i + 1) % std::size(groupings)];
    }
  }
  return GroupBy::line;
}

Report live_report(const Capture& capture, GroupBy by, Symbolizer& symbolizer) {
  measure::ReportOptions options;
  options.by = by;
  options.sort = SortBy::leaked;  // live bytes, which is what a running program leaks so far
  options.top = 0;
  return build_report(capture, options, symbolizer);
}

}  // namespace

void add_live_command(CLI::App& app, LiveOptions& o) {
  CLI::App* live = app.add_subcommand(
      "live", "Watch a process 'measure run' traces: totals, the allocation rate and the top call sites, live.");
  live->add_option("pid", o.pid, "The process (its id)")->required();
  live->add_option("--by", o.by, "Group call sites by stack, function, line, file or module (the g key switches)")
      ->capture_default_str();
  live->add_option("--interval", o.interval, "Seconds between refreshes")->capture_default_str();
  live->add_option("--top", o.top, "Rows per refresh when the output is not a terminal")->capture_default_str();
  live->footer(
      "Keys: q quits, s sorts by live bytes or by allocation rate, g switches the grouping.\n"
      "The program keeps running and recording; the view ends when it does. Without a terminal each\n"
      "refresh is printed as text.\n\n"
      "Examples:\n"
      "  measure run -o server.msr -- ./server &\n"
      "  measure live $(pidof server)\n"
      "  measure run --live -- ./server            the same, in one command");
}

LiveViewOptions live_view_options(const std::string& by, double interval, std::size_t top) {
  std::optional<GroupBy> group = parse_group_by(by);
  if (!group || *group == GroupBy::scope) {
    throw UsageError(fmt::format("--by: '{}' is not one of stack, function, line, file, module", by));
  }
  if (!(interval >= 0.1 && interval <= 3600)) {
    throw UsageError(fmt::format("--interval: {} is not between 0.1 and 3600 seconds", interval));
  }
  return LiveViewOptions{*group, interval, top};
}

LiveEnd show_live(int pid, const std::string& directory, const LiveViewOptions& o, const std::function<bool()>& stopped,
                  bool on_free_terminal) {
  // The view of `measure live` stops at a signal; that of `run --live` ends with the program,
  // which takes the terminal's signals itself.
  bool catch_signals = !on_free_terminal;
  StatusDirectory scratch;
  if (scratch.path().empty()) {
    throw IoError("cannot make a private directory for the live view's captures");
  }
  fs::path capture_path = fs::path(scratch.path()) / "live.msr";
  SymbolFiles files;  // each module's file read once, shared by the refreshes
  Screen screen(on_free_terminal ? Screen::Where::free_terminal : Screen::Where::standard_output, catch_signals);
  LiveHistory history;
  LiveSort sort = LiveSort::live_bytes;
  GroupBy by = o.by;
  std::string last;  // the last refresh, as the shell's screen keeps it after the view
  LiveEnd end = LiveEnd::stopped;
  auto interrupted = [&] { return stopped() || (catch_signals && Screen::interrupted()); };
  while (!interrupted()) {
    auto started = std::chrono::steady_clock::now();
    try {
      request_dump(pid, directory, capture_path, answer_timeout);
    } catch (const ProcessGone&) {
      end = LiveEnd::ended;
      break;
    }
    Capture capture = read_capture(capture_path.string());
    Symbolizer symbolizer(capture, &files);
    Report report = live_report(capture, by, symbolizer);
    LiveHistory before = history;
    LiveFrame frame = make_live_frame(capture, report, sort, history);
    if (screen.open()) {
      TerminalSize size = screen.size();
      screen.draw(render_live(frame, LiveLayout{size.columns, size.lines, true, true, 0}));
      last = render_live(frame, LiveLayout{size.columns, size.lines, true, false, 0});
    } else {
      // A log's lines are not cut (long function names stay whole).
      last = render_live(frame, LiveLayout{1U << 16, static_cast<unsigned>(12 + o.top), false, false, o.top});
      std::fputs(last.c_str(), stdout);
      std::fputs("\n", stdout);
      std::fflush(stdout);
    }
    // Keys until the next refresh is due; a key that changes the view redraws it at once.
    auto due = started + std::chrono::milliseconds(static_cast<long>(o.interval * 1000));
    bool quit = false;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(due - std::chrono::steady_clock::now());
      if (left.count() <= 0 || interrupted()) {
        break;
      }
      int key = screen.read_key(static_cast<int>(std::min<long>(left.count(), 100)));
      if (key == 'q' || key == 'Q') {
        quit = true;
        break;
      }
      if (key == 's' || key == 'g') {
        // The same capture again, its rates against the same previous one; a new grouping
        // has no previous rows, so its rates are averages since the start until the next.
        LiveHistory again = before;
        if (key == 's') {
          sort = sort == LiveSort::live_bytes ? LiveSort::rate : LiveSort::live_bytes;
        } else {
          by = next_grouping(by);
          report = live_report(capture, by, symbolizer);
          again.time_ns = 0;
        }
        frame = make_live_frame(capture, report, sort, again);
        history = again;
        TerminalSize size = screen.size();
        screen.draw(render_live(frame, LiveLayout{size.columns, size.lines, true, true, 0}));
        last = render_live(frame, LiveLayout{size.columns, size.lines, true, false, 0});
      }
    }
    if (quit) {
      end = LiveEnd::quit;
      break;
    }
  }
  if (end == LiveEnd::stopped && catch_signals && Screen::interrupted()) {
    end = LiveEnd::interrupted;
  }
  screen.leave(last);  // the last refresh stays on the shell's screen
  return end;
}

int live_command(const LiveOptions& o) {
  int pid = parse_pid(o.pid);
  LiveViewOptions options = live_view_options(o.by, o.interval, o.top);
  std::string directory = traced_status_directory(pid);
  LiveEnd end = show_live(
      pid, directory, options, [] { return false; }, false);
  if (end == LiveEnd::ended) {
    fmt::print(stderr, "measure live: process {} ended\n", pid);
  }
  return 0;
}

}  // namespace measure::tools
