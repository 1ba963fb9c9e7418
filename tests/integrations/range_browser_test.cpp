// A stretch of time in the html report, in headless Chromium: a drag across the timeline
// restricts every view to what was allocated and freed in it, with the numbers that
// `measure report --from --to` gives for the same intervals, and those the fixture's own
// arithmetic gives.
#include <filesystem>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "integrations/browser_support.h"
#include "integrations/npm_package.h"
#include "support/subprocess.h"

using measure::test::check_frames_against;
using measure::test::metric_names;
using measure::test::read_text;
using measure::test::record;
using measure::test::report_json;
using measure::test::run_node;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using nlohmann::json;

TEST_CASE("the html report in headless Chromium: a time range dragged on the timeline") {
  REQUIRE_MESSAGE(std::filesystem::exists("/usr/bin/chromium"), "Debian's chromium is missing (install-deps.sh)");
  TempDir dir;
  std::string capture = dir.file("phases.msr");
  // parse (6 MiB kept), 300 ms, render (2 MiB kept), 300 ms, every block freed.
  record(capture, "flame_fixture", {"300"});
  std::string artifacts = MEASURE_ARTIFACT_DIR;
  std::filesystem::create_directories(artifacts);
  std::string html = artifacts + "/range.html";
  REQUIRE(run_process({tool_path(), "report", capture, "--format", "html", "-o", html}).status() == 0);
  json whole = report_json(capture, {});

  // From 150 ms, between parse and render, to the end.
  json page = json::parse(run_node("tests/integrations/range_browser.mjs", {html, artifacts, "150000000"}));
  CHECK(page["errors"] == json::array());
  CHECK(page["initial"]["range"].is_null());
  const json& range = page["selected"]["range"];
  REQUIRE(range.is_object());
  std::string from = std::to_string(range["from_ns"].get<std::uint64_t>()) + "ns";
  std::string to = std::to_string(range["to_ns"].get<std::uint64_t>()) + "ns";
  json by_line = report_json(capture, {"--from", from, "--to", to});
  json cumulative = report_json(capture, {"--by", "function", "--cumulative", "--from", from, "--to", to});

  // The same intervals as the command line takes for those times, and the same highest point.
  CHECK(by_line["range"]["from_ns"] == range["from_ns"]);
  CHECK(by_line["range"]["to_ns"] == range["to_ns"]);
  CHECK(by_line["range"]["first_interval"] == range["first"]);
  CHECK(by_line["range"]["last_interval"] == range["last"]);
  CHECK(by_line["range"]["live_at_ns"] == range["live_at_ns"]);
  CHECK(range["from_ns"].get<double>() <= 150e6);

  // What the fixture did after 150 ms: render's one block of 2 MiB, then all 8 freed; at the
  // highest point all 8 MiB were live.
  const json& totals = by_line["totals"];
  CHECK(totals["alloc_count"] == 1);
  CHECK(totals["alloc_bytes"] == 2 << 20);
  CHECK(totals["free_count"] == 6);
  CHECK(totals["freed_bytes"] == 8 << 20);
  CHECK(totals["live_count"] == 6);
  CHECK(totals["live_bytes"] == 8 << 20);
  CHECK(totals["peak_bytes"].is_null());
  CHECK(totals["temporary_count"].is_null());
  std::string text = range["text"];
  CHECK(text.find("2.0 MiB allocated in 1 block, 8.0 MiB freed in 6 blocks") != std::string::npos);
  CHECK(text.find("highest point: 8.0 MiB in 6 blocks") != std::string::npos);

  // The flame graph: render's allocation only, drawn under its functions as the cumulative
  // report of the range has them; peaks and temporaries cannot be chosen.
  CHECK(page["selected"]["metric"] == "alloc_bytes");
  CHECK(page["selected"]["total"] == by_line["selected"]["alloc_bytes"]);
  check_frames_against(page["selected"]["frames"], cumulative, "alloc_bytes");
  for (const json& button : page["unknown"]) {
    CAPTURE(button);
    CHECK(button[1] == (button[0] == "peak_bytes" || button[0] == "temporary_count"));
  }
  // Live bytes at the highest point: parse's 6 MiB and render's 2.
  CHECK(page["live"]["metric"] == "live_bytes");
  CHECK(page["live"]["total"] == 8 << 20);
  check_frames_against(page["live"]["frames"], cumulative, "live_bytes");

  // The table: every row of the range's report, its six known metrics.
  const json& table = page["table"];
  REQUIRE(table.size() == by_line["rows"].size());
  for (const json& row : table) {
    const json& expected = by_line["rows"][row["index"].get<std::size_t>()];
    for (std::size_t m = 0; m < 6; ++m) {
      CAPTURE(metric_names[m]);
      CHECK(row["values"][m] == expected[metric_names[m]]);
    }
  }

  // A click: the whole run again, every block freed by its end.
  CHECK(page["cleared"]["range"].is_null());
  CHECK(page["cleared"]["total"] == whole["selected"]["live_bytes"]);
  CHECK(whole["selected"]["alloc_bytes"] == 8 << 20);

  for (const char* shot : {"range-1-selected.png", "range-2-live.png", "range-3-table.png", "range-4-whole-run.png"}) {
    std::string png = read_text(artifacts + "/" + shot);
    CHECK(png.size() > 4000);
    CHECK(png.rfind("\x89PNG\r\n\x1a\n", 0) == 0);
  }
}
