// `measure`: run a program under the preloaded runtime, report on captures, compare, merge and
// symbolize them, and import other tools' recordings. Errors of every subcommand are turned into one line on stderr and
// an exit status here, in one place.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "support/error.h"
#include "tools/cli.h"

namespace {

// `measure run [OPTIONS] [--] PROGRAM ARGS...`: everything from the program on belongs to it,
// so split argv before CLI11 sees it (it would otherwise parse the program's own options).
std::vector<std::string> split_run_command(std::vector<std::string>& args) {
  std::vector<std::string> command;
  if (args.size() < 2 || args[1] != "run") {
    return command;
  }
  static const char* with_value[] = {"-o", "--output", "--mode", "--depth", "--sample-interval"};
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      args.resize(i);
      return command;
    }
    if (a.empty() || a[0] != '-' || a == "-") {
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      args.resize(i);
      return command;
    }
    for (const char* option : with_value) {
      if (a == option) {
        ++i;  // its value may look like anything
      }
    }
  }
  return command;
}

constexpr std::string_view subcommands[] = {"run",    "report", "diff", "merge",  "symbolize",
                                            "import", "dump",   "live", "attach", "detach"};

// CLI11's messages, in the words of this tool: one line, naming the subcommand whose help
// explains the option.
std::string parse_message(const CLI::ParseError& e) {
  std::string message = e.what();
  std::replace(message.begin(), message.end(), '\n', ' ');
  const std::string_view too_many = "At Most 1 required but received ";
  if (auto at = message.find(too_many); at != std::string::npos) {
    std::string option = message.substr(0, at);
    while (!option.empty() && (option.back() == ' ' || option.back() == ':')) {
      option.pop_back();
    }
    return fmt::format("{} takes one value, but {} were given", option.empty() ? "an option" : option,
                       message.substr(at + too_many.size()));
  }
  if (message.rfind("The following argument was not expected: ", 0) == 0 ||
      message.rfind("The following arguments were not expected: ", 0) == 0) {
    return fmt::format("unexpected argument{}", message.substr(message.find(':')));
  }
  return message;
}

}  // namespace

// Only std::bad_alloc can leave before the handlers below, and it should end the tool.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  std::vector<std::string> args(argv, argv + argc);
  std::vector<std::string> command = split_run_command(args);
  if (args.size() == 2 && (args[1] == "--version" || args[1] == "-V")) {
    fmt::print("measure {}\n", MEASURE_VERSION);
    return 0;
  }
  bool known = args.size() < 2 || args[1] == "-h" || args[1] == "--help" ||
               std::find(std::begin(subcommands), std::end(subcommands), args[1]) != std::end(subcommands);
  if (!known) {
    bool option = !args[1].empty() && args[1][0] == '-';
    fmt::print(stderr,
               "measure: unknown {} '{}' (expected a subcommand: run, report, diff, merge, symbolize, import, dump, "
               "live, attach or detach; see 'measure --help')\n",
               option ? "option" : "subcommand", args[1]);
    return 2;
  }

  CLI::App app{"measure: where a program allocates memory, per call stack.", "measure"};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  measure run -- ./server --port 8080      profile a program; writes measure.server.<pid>.msr\n"
      "  measure report measure.server.1234.msr   top call sites by bytes allocated\n"
      "  measure report FILE --by function --sort peak --top 20 --format json\n"
      "  measure diff before.msr after.msr --fail-on peak_bytes:5%   exit 1 if the peak grew by more than 5%\n"
      "  measure merge -o all.msr measure.make.*.msr  the processes of one run as one capture\n"
      "  measure symbolize app.msr                store symbols in a capture written without 'measure run'\n"
      "  measure import heaptrack.app.4242.zst -o app.msr       a heaptrack recording as a capture\n"
      "  measure dump 1234 -o now.msr             the capture of a process 'measure run' traces, now\n"
      "  measure live 1234                        its top call sites and allocation rate, live\n"
      "  measure attach 1234 --duration 60        record a process that is already running, for a minute\n"
      "\nRun 'measure SUBCOMMAND --help' for the options of each subcommand; 'measure --version' prints the version.");
  measure::tools::RunOptions run;
  measure::tools::add_run_command(app, run);
  measure::tools::ReportOptions report;
  measure::tools::add_report_command(app, report);
  measure::tools::DiffOptions diff;
  measure::tools::add_diff_command(app, diff);
  measure::tools::MergeOptions merge;
  measure::tools::add_merge_command(app, merge);
  measure::tools::SymbolizeOptions symbolize;
  measure::tools::add_symbolize_command(app, symbolize);
  measure::tools::ImportOptions import;
  measure::tools::add_import_command(app, import);
  measure::tools::DumpOptions dump;
  measure::tools::add_dump_command(app, dump);
  measure::tools::LiveOptions live;
  measure::tools::add_live_command(app, live);
  measure::tools::AttachOptions attach;
  measure::tools::add_attach_command(app, attach);
  measure::tools::DetachOptions detach;
  measure::tools::add_detach_command(app, detach);

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    bool sub = args.size() >= 2 && !args[1].empty() && args[1][0] != '-';
    fmt::print(stderr, "measure: {}{} (see 'measure {}--help')\n", sub ? args[1] + ": " : "", parse_message(e),
               sub ? args[1] + " " : "");
    return 2;
  }

  try {
    if (app.got_subcommand("run")) {
      run.command = command;
      return measure::tools::run_command(run);
    }
    if (app.got_subcommand("diff")) {
      return measure::tools::diff_command(diff);
    }
    if (app.got_subcommand("merge")) {
      return measure::tools::merge_command(merge);
    }
    if (app.got_subcommand("symbolize")) {
      return measure::tools::symbolize_command(symbolize);
    }
    if (app.got_subcommand("import")) {
      return measure::tools::import_command(import);
    }
    if (app.got_subcommand("dump")) {
      return measure::tools::dump_command(dump);
    }
    if (app.got_subcommand("live")) {
      return measure::tools::live_command(live);
    }
    if (app.got_subcommand("attach")) {
      return measure::tools::attach_command(attach);
    }
    if (app.got_subcommand("detach")) {
      return measure::tools::detach_command(detach);
    }
    return measure::tools::report_command(report);
  } catch (const measure::Error& e) {
    fmt::print(stderr, "measure: {}\n", e.what());
    return e.exit_status();
  } catch (const std::exception& e) {
    fmt::print(stderr, "measure: internal error: {}\n", e.what());
    return 3;
  }
}
