// `measure symbolize CAPTURE...`: store in each capture the symbols of its recorded addresses,
// read from the module files on this machine, so the capture reports and diffs anywhere.
// `measure run` does this itself after the program ends; this is for captures written any
// other way (a preload set by hand, the in-process API, checkpoints, copies).
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "format/capture.h"
#include "report/formats.h"
#include "symbols/stored_symbols.h"
#include "tools/cli.h"
#include "tools/progress.h"

namespace measure::tools {

void add_symbolize_command(CLI::App& app, SymbolizeOptions& o) {
  CLI::App* symbolize = app.add_subcommand(
      "symbolize", "Store symbols in captures, so they report and diff after a rebuild or elsewhere.");
  symbolize->add_option("captures", o.captures, "Capture files to complete in place")->required();
  symbolize->add_flag("-q,--quiet", o.quiet, "Print nothing unless something could not be done");
  symbolize->footer(
      "Each recorded address is looked up in its module's file on this machine, but only when that file\n"
      "is the one that ran (same build-id); what the capture already carries is kept. Running it twice\n"
      "changes nothing. 'measure run' stores symbols by itself when the program ends.\n\n"
      "Examples:\n"
      "  MEASURE_OUTPUT=app.msr LD_PRELOAD=.../libmeasure_preload.so ./app && measure symbolize app.msr\n"
      "  measure symbolize measure.server.*.msr");
}

int symbolize_command(const SymbolizeOptions& o) {
  Progress progress("measure symbolize");
  for (const std::string& path : o.captures) {
    progress.stage(fmt::format("symbolizing {}", path));
    Capture capture = read_capture(path);
    StoreSymbolsResult result = store_symbols(capture);
    if (result.offsets_added != 0) {
      progress.stage(fmt::format("writing {}", path));
      write_capture(capture, path);
    }
    progress.clear();
    warn_not_regular_files({&result.stats});
    if (!result.unreadable_modules.empty()) {
      fmt::print(stderr,
                 "measure: {}: {} left as module+offset: {} could not be read here (missing, or rebuilt since the "
                 "run): {}\n",
                 path, plural(result.offsets_left, "address", "addresses"),
                 plural(result.unreadable_modules.size(), "module", "modules"),
                 fmt::join(result.unreadable_modules, ", "));
    }
    if (o.quiet) {
      continue;
    }
    if (result.offsets_added == 0) {
      fmt::print(stderr, "measure: {}: nothing to add; the capture {}\n", path,
                 result.unreadable_modules.empty() ? "already carries its symbols" : "is unchanged");
    } else {
      fmt::print(stderr, "measure: {}: stored symbols for {} in {}\n", path,
                 plural(result.offsets_added, "address", "addresses"),
                 plural(result.modules_added, "module", "modules"));
    }
  }
  return 0;
}

}  // namespace measure::tools
