// The svg flame graph and the html report in a real browser: headless Chromium (Debian's,
// driven over the DevTools protocol by flame_browser.mjs and html_browser.mjs) opens them,
// takes screenshots (kept under the build tree), and is worked with the mouse and keyboard.
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "integrations/browser_support.h"
#include "integrations/npm_package.h"
#include "report/formats.h"
#include "report/summary.h"
#include "support/subprocess.h"

using measure::test::check_frames_against;
using measure::test::function_row;
using measure::test::metric_names;
using measure::test::named;
using measure::test::ProcessResult;
using measure::test::read_text;
using measure::test::record;
using measure::test::report_json;
using measure::test::run_node;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using nlohmann::json;

namespace {

// The position of the one frame named `name` (at `depth` and `x`, when names repeat); frames
// keep their order from one state of the page to the next.
std::size_t frame_index(const json& frames, const std::string& name, int depth = -1, double x = -1) {
  std::size_t found = frames.size();
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const json& f = frames[i];
    if (f["name"] == name && (depth < 0 || f["depth"] == depth) && (x < 0 || f["x"] == x)) {
      REQUIRE_MESSAGE(found == frames.size(), "two frames named " << name);
      found = i;
    }
  }
  REQUIRE_MESSAGE(found != frames.size(), "no frame named " << name);
  return found;
}

void check_box(const json& f, double x, double width) {
  CAPTURE(f);
  CHECK(f["visible"] == true);
  CHECK(f["x"].get<double>() == doctest::Approx(x).epsilon(1e-4));
  CHECK(f["width"].get<double>() == doctest::Approx(width).epsilon(1e-4));
}

}  // namespace

TEST_CASE("the flame graph in headless Chromium: drawn to scale, zooms on a click, finds by search") {
  REQUIRE_MESSAGE(std::filesystem::exists("/usr/bin/chromium"), "Debian's chromium is missing (install-deps.sh)");
  TempDir dir;
  record(dir.file("flame.msr"), "flame_fixture");
  std::string artifacts = MEASURE_ARTIFACT_DIR;
  std::filesystem::create_directories(artifacts);
  std::string svg = artifacts + "/flame.svg";
  REQUIRE(run_process({tool_path(), "report", dir.file("flame.msr"), "--format", "svg", "-o", svg}).status() == 0);

  json page = json::parse(run_node("tests/integrations/flame_browser.mjs", {svg, artifacts, "parse", "tree"}));
  CHECK(page["errors"] == json::array());

  // 8 MiB over 1200 pixels from x = 10: parse 6 MiB, render 2; tokenize 2, build_tree 4.
  const json& initial = page["initial"];
  std::size_t all = frame_index(initial, "all");
  std::size_t main = frame_index(initial, "main");
  std::size_t parse = frame_index(initial, "parse");
  std::size_t build_tree = frame_index(initial, "build_tree");
  std::size_t tokenize = frame_index(initial, "tokenize");
  std::size_t render = frame_index(initial, "render");
  std::size_t tree_keep = frame_index(initial, "keep", initial[build_tree]["depth"].get<int>() + 1, 10);
  std::size_t render_keep = frame_index(initial, "keep", initial[render]["depth"].get<int>() + 1);
  check_box(initial[all], 10, 1200);
  check_box(initial[main], 10, 1200);
  check_box(initial[parse], 10, 900);
  check_box(initial[build_tree], 10, 600);
  check_box(initial[tokenize], 610, 300);
  check_box(initial[render], 910, 300);

  // Clicking parse: it spans the width, its callees scale with it, its callers stay whole
  // (marked as ancestors) and everything else is hidden.
  const json& zoomed = page["zoomed"];
  check_box(zoomed[parse], 10, 1200);
  check_box(zoomed[build_tree], 10, 800);
  check_box(zoomed[tokenize], 810, 400);
  check_box(zoomed[tree_keep], 10, 800);
  CHECK(zoomed[render]["visible"] == false);
  CHECK(zoomed[render_keep]["visible"] == false);
  for (std::size_t caller : {all, main}) {
    check_box(zoomed[caller], 10, 1200);
    CHECK(zoomed[caller]["ancestor"] == true);
  }
  CHECK(page["reset_opacity"] == "1");

  // Reset, then search "tree": the match is highlighted, the rest keeps its colour, and the
  // matched share is build_tree's 4 of 8 MiB.
  const json& searched = page["searched"];
  check_box(searched[parse], 10, 900);
  for (const json& f : searched) {
    CAPTURE(f);
    CHECK((f["fill"] == "rgb(230,0,230)") == (f["name"] == "build_tree"));
  }
  CHECK(page["matched"] == "Matched: 50.0%");

  for (const char* shot : {"flame-initial.png", "flame-zoomed.png", "flame-search.png"}) {
    std::string png = read_text(artifacts + "/" + shot);
    CHECK(png.size() > 4000);
    CHECK(png.rfind("\x89PNG\r\n\x1a\n", 0) == 0);
  }
}

TEST_CASE("the html report in headless Chromium: every view shows the JSON report's numbers") {
  REQUIRE_MESSAGE(std::filesystem::exists("/usr/bin/chromium"), "Debian's chromium is missing (install-deps.sh)");
  TempDir dir;
  std::string capture = dir.file("flame.msr");
  record(capture, "flame_fixture");
  std::string artifacts = MEASURE_ARTIFACT_DIR;
  std::filesystem::create_directories(artifacts);
  std::string html = artifacts + "/report.html";
  REQUIRE(run_process({tool_path(), "report", capture, "--format", "html", "-o", html}).status() == 0);
  json by_line = report_json(capture, {});
  json cumulative = report_json(capture, {"--by", "function", "--cumulative"});
  const json& selected = by_line["selected"];

  json page =
      json::parse(run_node("tests/integrations/html_browser.mjs", {html, artifacts, "alloc_count", "parse", "tree"}));
  CHECK(page["errors"] == json::array());

  // Opened: bytes allocated, the report's sort, with "all" at the selected total.
  CHECK(page["initial"]["metric"] == "alloc_bytes");
  // The first view, drawn from the page's first block before it read the rest, drew exactly
  // what the whole tree draws.
  CHECK(page["first_view"] == page["initial"]["frames"]);
  CHECK(page["initial"]["total"] == selected["alloc_bytes"]);
  CHECK(named(page["initial"]["frames"], "all")["value"] == selected["alloc_bytes"]);
  check_frames_against(page["initial"]["frames"], cumulative, "alloc_bytes");

  // The timeline strip: from 0 at time 0 through every sample of the JSON report's timeline,
  // with the exact peak as a point of its own between the samples it fell between.
  const json& timeline = by_line["timeline"];
  const json& points = page["timeline"]["points"];
  REQUIRE(points.size() == timeline["samples"].size() + 2);
  CHECK(points[0]["t"] == 0);
  CHECK(points[0]["live"] == 0);
  std::size_t sample = 0;
  for (std::size_t i = 1; i < points.size(); ++i) {
    if (points[i].value("peak", false)) {
      CHECK(points[i]["live"] == timeline["peak"]["bytes"]);
      CHECK(points[i]["t"].get<double>() >= timeline["peak"]["after_ns"].get<double>());
      CHECK(points[i]["t"].get<double>() <= timeline["peak"]["before_ns"].get<double>());
      continue;
    }
    REQUIRE(sample < timeline["samples"].size());
    const json& s = timeline["samples"][sample++];
    CHECK(points[i]["t"] == s[0]);
    CHECK(points[i]["live"] == s[1]);
    CHECK(points[i]["rss"] == s[2]);
  }
  CHECK(sample == timeline["samples"].size());

  // Hovering parse: all eight metrics of the stacks through it, as the cumulative report has them.
  CHECK(page["hover"]["visible"] == true);
  CHECK(page["hover"]["title"] == "parse");
  for (std::size_t m = 0; m < std::size(metric_names); ++m) {
    CAPTURE(metric_names[m]);
    CHECK(page["hover"]["metrics"][m] == function_row(cumulative, "parse")[metric_names[m]]);
  }

  // The allocations button: the same graph in counts, without a new report.
  CHECK(page["switched"]["metric"] == "alloc_count");
  CHECK(page["switched"]["total"] == selected["alloc_count"]);
  check_frames_against(page["switched"]["frames"], cumulative, "alloc_count");

  // A click on parse: it spans the canvas, its callees scale to it, its callers stay whole
  // (dimmed), render is gone.
  double width = page["canvas_width"].get<double>();
  const json& zoomed = page["zoomed"]["frames"];
  double parse_count = function_row(cumulative, "parse")["alloc_count"].get<double>();
  CHECK(named(zoomed, "parse")["x"] == 0);
  CHECK(named(zoomed, "parse")["w"].get<double>() == doctest::Approx(width));
  CHECK(named(zoomed, "build_tree")["w"].get<double>() ==
        doctest::Approx(width * function_row(cumulative, "build_tree")["alloc_count"].get<double>() / parse_count));
  CHECK(named(zoomed, "main")["ancestor"] == true);
  CHECK(named(zoomed, "main")["w"].get<double>() == doctest::Approx(width));
  for (const json& f : zoomed) {
    CHECK(f["name"] != "render");
  }

  // The zoomed function in the callers view: called from main only, calling build_tree and
  // tokenize, each with what the cumulative report gives it.
  CHECK(page["focus"]["value"].get<double>() == parse_count);
  REQUIRE(page["callers"].size() == 1);
  CHECK(page["callers"][0]["name"] == "main");
  CHECK(page["callers"][0]["value"].get<double>() == parse_count);
  REQUIRE(page["callees"].size() == 2);
  for (const json& callee : page["callees"]) {
    CHECK(callee["value"] == function_row(cumulative, callee["name"].get<std::string>())["alloc_count"]);
  }

  // Searching "tree": build_tree is highlighted, and its share of the allocations is matched.
  CHECK(page["hits"] == json::array({"build_tree"}));
  double share = 100.0 * function_row(cumulative, "build_tree")["alloc_count"].get<double>() /
                 selected["alloc_count"].get<double>();
  char matched[32];
  std::snprintf(matched, sizeof matched, "Matched: %.1f%%", share);
  CHECK(page["matched"] == matched);

  // Bottom-up: every stack ends in keep; opened, keep's callers with their counts.
  REQUIRE(page["bottom_up"].size() == 1);
  CHECK(page["bottom_up"][0]["name"] == "keep");
  CHECK(page["bottom_up"][0]["value"] == selected["alloc_count"]);
  const json& open = page["bottom_up_open"];
  REQUIRE(open.size() == 4);
  for (std::size_t i = 1; i < open.size(); ++i) {
    CHECK(open[i]["value"] == function_row(cumulative, open[i]["name"].get<std::string>())["alloc_count"]);
    CHECK(open[i]["hit"] == (open[i]["name"] == "build_tree"));
  }

  // The table: every row of the report (by line), every metric as the JSON report has it.
  const json& table = page["table"];
  REQUIRE(table.size() == by_line["rows"].size());
  for (const json& row : table) {
    const json& expected = by_line["rows"][row["index"].get<std::size_t>()];
    for (std::size_t m = 0; m < std::size(metric_names); ++m) {
      CAPTURE(metric_names[m]);
      CHECK(row["values"][m] == expected[metric_names[m]]);
    }
  }

  // parse hidden: no frame of it, its callees hang from main, and every total stays.
  const json& hidden = page["hidden"]["frames"];
  CHECK(page["hidden"]["total"] == selected["alloc_count"]);
  for (const json& f : hidden) {
    CHECK(f["name"] != "parse");
  }
  const json& main_frame = named(hidden, "main");
  const json& build_tree = named(hidden, "build_tree");
  CHECK(build_tree["y"].get<double>() == main_frame["y"].get<double>() - 18);
  check_frames_against(hidden, cumulative, "alloc_count", "parse");

  // The summary panel: every number the JSON report's summary gives, as the text summary
  // prints it.
  const json& summary = by_line["summary"];
  const json& shown = page["summary"];
  const json& sizes = shown["summary-sizes"];
  REQUIRE(sizes.size() == summary["sizes"].size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    CAPTURE(i);
    const json& c = summary["sizes"][i];
    measure::Summary::SizeRow row{c["from"], c["below"].is_null() ? 0 : c["below"].get<std::uint64_t>(), c["count"],
                                  c["bytes"]};
    CHECK(sizes[i][0] == measure::size_class_label(row));
    CHECK(sizes[i][1] == measure::grouped(row.count));
    CHECK(sizes[i][2] == measure::percent(row.count, by_line["totals"]["alloc_count"]));
    CHECK(sizes[i][3] == measure::human_bytes(row.bytes));
  }
  const json& lifetimes = shown["summary-lifetimes"];
  REQUIRE(lifetimes.size() == 3);
  const char* classes[] = {"temporary", "freed", "live"};
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(classes[i]);
    const json& l = summary["lifetimes"][classes[i]];
    CHECK(lifetimes[i][1] == measure::grouped(l["count"]));
    CHECK(lifetimes[i][3] == measure::human_bytes(l["bytes"]));
  }
  const json& threads = shown["summary-threads"];
  REQUIRE(threads.size() == summary["threads"].size());
  for (std::size_t i = 0; i < threads.size(); ++i) {
    const json& t = summary["threads"][i];
    CHECK(threads[i][0] == std::to_string(t["id"].get<std::uint64_t>()) + (t["running"] == true ? "" : " (exited)"));
    CHECK(threads[i][2] == measure::grouped(t["alloc_count"]));
    CHECK(threads[i][3] == measure::human_bytes(t["alloc_bytes"]));
    CHECK(threads[i][4] == measure::grouped(t["free_count"]));
    CHECK(threads[i][5] == measure::human_bytes(t["freed_bytes"]));
  }
  const json& largest = shown["summary-largest"];
  REQUIRE(largest.size() == summary["largest"].size());
  REQUIRE(!largest.empty());
  for (std::size_t i = 0; i < largest.size(); ++i) {
    const json& b = summary["largest"][i];
    CHECK(largest[i][1] == measure::human_bytes(b["size"]));
    REQUIRE(b["site"].is_object());
    CHECK(largest[i][0].get<std::string>().find(std::to_string(b["site"]["line"].get<int>())) != std::string::npos);
  }
  const json& modules = shown["summary-modules"];
  REQUIRE(modules.size() == summary["modules"].size());
  for (std::size_t i = 0; i < modules.size(); ++i) {
    const json& m = summary["modules"][i];
    CHECK(modules[i][0] == m["module"]);
    CHECK(modules[i][1] == measure::grouped(m["alloc_count"]));
    CHECK(modules[i][2] == measure::human_bytes(m["alloc_bytes"]));
  }

  for (const char* shot :
       {"html-1-initial.png", "html-2-metric.png", "html-3-zoomed.png", "html-4-callers.png", "html-5-search.png",
        "html-6-bottom-up.png", "html-7-table.png", "html-8-hidden.png", "html-9-summary.png"}) {
    std::string png = read_text(artifacts + "/" + shot);
    CHECK(png.size() > 4000);
    CHECK(png.rfind("\x89PNG\r\n\x1a\n", 0) == 0);
  }
}

TEST_CASE("the html report's first view draws what the whole tree draws") {
  REQUIRE_MESSAGE(std::filesystem::exists("/usr/bin/chromium"), "Debian's chromium is missing (install-deps.sh)");
  TempDir dir;
  std::string capture = dir.file("narrow.msr");
  record(capture, "narrow_fixture");
  std::string html = dir.file("narrow.html");
  REQUIRE(run_process({tool_path(), "report", capture, "--format", "html", "-o", html}).status() == 0);
  json page = json::parse(run_node("tests/integrations/first_view_browser.mjs", {html}));
  CHECK(page["errors"] == json::array());
  // Most of the chains' frames are left out of the first view ...
  CHECK(page["first_view_nodes"].get<int>() * 2 < page["nodes"].get<int>());
  // ... yet it drew the same frames, at the same places, as the whole tree: the narrow
  // frames between the wide ones moved them as much.
  CHECK(page["first_view"] == page["frames"]);
  std::map<std::string, double> x;
  for (const json& f : page["frames"]) {
    x[f["name"].get<std::string>()] = f["x"].get<double>();
  }
  REQUIRE(x.count("b_wide") == 1);
  REQUIRE(x.count("d_wide") == 1);
  CHECK(x["b_wide"] > 0);
  CHECK(x["d_wide"] > x["b_wide"]);
  CHECK(x.count("a_narrow") == 0);  // narrower than half a pixel: not drawn

  // A diff's first view holds both sides' totals: the same frames, colours, old and new values.
  std::string again = dir.file("narrow-again.msr");
  record(again, "narrow_fixture");
  std::string diff_html = dir.file("narrow-diff.html");
  REQUIRE(run_process({tool_path(), "diff", capture, again, "--format", "html", "-o", diff_html}).status() == 0);
  json diff = json::parse(run_node("tests/integrations/first_view_browser.mjs", {diff_html}));
  CHECK(diff["errors"] == json::array());
  CHECK(diff["first_view_nodes"].get<int>() * 2 < diff["nodes"].get<int>());
  CHECK(diff["first_view"] == diff["frames"]);
  CHECK(diff["frames"].size() == page["frames"].size());
}

TEST_CASE("the html diff in headless Chromium: a differential flame graph and the diff's rows") {
  REQUIRE_MESSAGE(std::filesystem::exists("/usr/bin/chromium"), "Debian's chromium is missing (install-deps.sh)");
  TempDir dir;
  std::string before = dir.file("before.msr");
  std::string after = dir.file("after.msr");
  record(before, "grow_site", {"10"});
  record(after, "grow_site", {"30"});
  std::string artifacts = MEASURE_ARTIFACT_DIR;
  std::filesystem::create_directories(artifacts);
  std::string html = artifacts + "/diff.html";
  // The gate fails: the page is still written, and the exit status says so.
  CHECK(
      run_process({tool_path(), "diff", before, after, "--fail-on", "alloc_bytes:10%", "--format", "html", "-o", html})
          .status() == 1);
  ProcessResult diff_json = run_process(
      {tool_path(), "diff", before, after, "--fail-on", "alloc_bytes:10%", "--format", "json", "--top", "0"});
  REQUIRE(diff_json.status() == 1);
  json expected = json::parse(diff_json.out);

  json page = json::parse(run_node("tests/integrations/diff_browser.mjs", {html, artifacts, "alloc_count"}));
  CHECK(page["errors"] == json::array());
  CHECK(expected["regressed"] == true);
  CHECK(page["verdict_failed"] == true);
  CHECK(page["verdict"].get<std::string>().rfind("Verdict: REGRESSED: 1 of 1 gate failed (alloc_bytes:10%)", 0) == 0);
  // The first view (both sides' totals, before the page read the rest) drew the same frames,
  // colours and old and new values as the whole tree.
  CHECK(page["first_view"] == page["initial"]["frames"]);

  // The graph's root holds both totals; the growing call site is drawn red with its old and
  // new values, the steady one in the neutral colour.
  for (const auto& step_metric : {std::pair{"initial", "alloc_bytes"}, std::pair{"switched", "alloc_count"}}) {
    const char* step = step_metric.first;
    const char* metric = step_metric.second;
    CAPTURE(step);
    const json& shown = page[step];
    CHECK(shown["metric"] == metric);
    CHECK(shown["old_total"] == expected["totals"]["old"][metric]);
    CHECK(shown["total"] == expected["totals"]["new"][metric]);
    for (const json& row : expected["rows"]) {
      const json& frame = named(shown["frames"], row["key"]["function"].get<std::string>());
      CHECK(frame["old"] == row["old"][metric]);
      CHECK(frame["value"] == row["new"][metric]);
      bool grew = row["new"][metric].get<double>() > row["old"][metric].get<double>();
      CHECK((frame["fill"].get<std::string>().rfind("rgb(255,", 0) == 0) == grew);
      CHECK((frame["fill"] == "rgb(235,235,225)") == !grew);
    }
  }

  // The table: the diff's rows, with the chosen metric's old and new values and the gate.
  const json& table = page["table"];
  REQUIRE(table.size() == expected["rows"].size());
  for (const json& row : table) {
    const json& e = expected["rows"][row["index"].get<std::size_t>()];
    CHECK(row["status"] == e["status"]);
    CHECK(row["old"] == e["old"]["alloc_count"]);
    CHECK(row["new"] == e["new"]["alloc_count"]);
    CHECK(row["regressed"] == e["regressed"]);
  }
  for (const char* shot : {"diff-1-flame.png", "diff-2-metric.png", "diff-3-table.png"}) {
    std::string png = read_text(artifacts + "/" + shot);
    CHECK(png.size() > 4000);
    CHECK(png.rfind("\x89PNG\r\n\x1a\n", 0) == 0);
  }
}
