// `measure`: run a program under the preloaded runtime, report on captures, compare them and import
// other tools' recordings. Errors of every subcommand are turned into one line on stderr and an
// exit status here, in one place.
#include <cstring>
#include <iostream>

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

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  std::vector<std::string> command = split_run_command(args);
  if (args.size() >= 2 && args[1] != "run" && args[1] != "report" && args[1] != "diff" && args[1] != "import" &&
      args[1] != "-h" && args[1] != "--help") {
    bool option = !args[1].empty() && args[1][0] == '-';
    fmt::print(stderr,
               "measure: unknown {} '{}' (expected a subcommand: run, report, diff or import; see 'measure --help')\n",
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
      "  measure diff before.msr after.msr --fail-on-increase 5   exit 1 if a call site grew\n"
      "  measure import heaptrack.app.4242.zst -o app.msr       a heaptrack recording as a capture\n"
      "\nRun 'measure SUBCOMMAND --help' for the options of each subcommand.");
  measure::tools::RunOptions run;
  measure::tools::ReportOptions report;
  measure::tools::add_run_command(app, run);
  measure::tools::add_report_command(app, report);
  measure::tools::DiffOptions diff;
  measure::tools::add_diff_command(app, diff);
  measure::tools::ImportOptions import;
  measure::tools::add_import_command(app, import);

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);
    app.parse(reversed);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    fmt::print(stderr, "measure: {} (see 'measure --help')\n", message);
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
    if (app.got_subcommand("import")) {
      return measure::tools::import_command(import);
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
