// What the browser tests share: the JSON report of a capture, its rows, and the frames a page
// drew, checked against them.
#pragma once

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "support/subprocess.h"

namespace measure::test {

using nlohmann::json;

inline const char* const metric_names[] = {"alloc_count", "alloc_bytes", "free_count", "freed_bytes",
                                           "live_count",  "live_bytes",  "peak_bytes", "temporary_count"};

// Records the fixture program `fixture`, given `args`, under `measure run` into `capture`.
inline void record(const std::string& capture, const std::string& fixture,
                   std::initializer_list<std::string> args = {}) {
  std::vector<std::string> argv = {tool_path(), "run", "-q", "-o", capture, "--", fixture_path(fixture)};
  argv.insert(argv.end(), args);
  ProcessResult r = run_process(argv);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
}

inline json report_json(const std::string& capture, std::initializer_list<std::string> options) {
  std::vector<std::string> argv = {tool_path(), "report", capture, "--format", "json", "--top", "0"};
  argv.insert(argv.end(), options);
  ProcessResult r = run_process(argv);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return json::parse(r.out);
}

// A function's row of a cumulative report: everything allocated under it.
inline const json& function_row(const json& report, const std::string& function) {
  for (const json& row : report["rows"]) {
    if (row["key"]["function"] == function) {
      return row;
    }
  }
  FAIL("no row for " << function);
  return report;
}

// Every frame the page drew carries its function's share: each name's frames add up to what
// the cumulative report gives the function (keep is drawn under three callers); a `hidden`
// function has none.
inline void check_frames_against(const json& frames, const json& cumulative, const std::string& metric,
                                 const std::string& hidden = "") {
  std::map<std::string, double> drawn;
  for (const json& f : frames) {
    if (f["name"] != "all" && f["ancestor"] == false) {
      drawn[f["name"].get<std::string>()] += f["value"].get<double>();
    }
  }
  for (const char* function : {"main", "parse", "build_tree", "tokenize", "render", "keep"}) {
    CAPTURE(function);
    CHECK(drawn[function] == (function == hidden ? 0 : function_row(cumulative, function)[metric].get<double>()));
  }
}

inline const json& named(const json& frames, const std::string& name) {
  for (const json& f : frames) {
    if (f["name"] == name) {
      return f;
    }
  }
  FAIL("no frame named " << name);
  return frames;
}

}  // namespace measure::test
