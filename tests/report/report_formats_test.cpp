// Golden tests: every report format of the synthetic capture, pinned byte for byte. The SVG
// must be well-formed XML (xmllint) and the pprof output must decode with an independent
// protobuf reader (protoc) into the expected sample types, functions and values.
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "report/formats.h"
#include "support/error.h"
#include "support/skip.h"
#include "support/subprocess.h"
#include "support/synthetic.h"

using namespace measure;
using measure::test::check_golden;
using measure::test::run_process;
using measure::test::source_path;
using measure::test::TempDir;

namespace {

Report synthetic_report(ReportOptions options = {}) {
  static const Capture capture = test::synthetic_capture();
  return build_report(capture, options, test::synthetic_symbols());
}

std::string decode_pprof(const std::string& gzipped) {
  TempDir dir;
  test::write_text(dir.file("profile.pb.gz"), gzipped);
  std::string proto_dir = source_path("tests/report");
  auto r = run_process({"sh", "-c",
                        "gzip -dc \"$1\" | protoc --proto_path=\"$2\" --decode=perftools.profiles.Profile "
                        "\"$2/profile.proto\"",
                        "sh", dir.file("profile.pb.gz"), proto_dir});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return r.out;
}

}  // namespace

TEST_CASE("report formats: text, json, csv and markdown are pinned") {
  Report r = synthetic_report();
  check_golden("report/golden/report.txt", render_report(r, ReportFormat::text));
  check_golden("report/golden/report.json", render_report(r, ReportFormat::json));
  check_golden("report/golden/report.csv", render_report(r, ReportFormat::csv));
  check_golden("report/golden/report.md", render_report(r, ReportFormat::markdown));
  ReportOptions by_function;
  by_function.by = GroupBy::function;
  by_function.sort = SortBy::count;
  check_golden("report/golden/report_function_count.md", render_markdown(synthetic_report(by_function)));
}

TEST_CASE("report formats: the summary is pinned") {
  Capture c = test::synthetic_capture();
  CaptureSummary& s = c.summary;
  s.recorded = true;
  s.sizes.resize(14);
  s.sizes[0] = {1, 0};
  s.sizes[5] = {60, 1200};
  s.sizes[7] = {40, 4000};
  s.sizes[11] = {10, 13116};
  s.sizes[13] = {8, 55064};
  s.temporary_bytes = 2080;
  s.largest = {{8000, 1'500'000'000, c.sites[2].stack},
               {8000, 1'600'000'000, c.sites[2].stack},
               {7000, 2'000'000'000, c.sites[1].stack},
               {1500, 100'000, 0}};
  s.threads = {{4242, "server", true, 100, 60000, 90, 55000}, {4250, "worker-1", false, 15, 13000, 20, 13180}};
  s.other_threads = 3;
  s.other = {0, "", false, 4, 380, 3, 0};
  ReportOptions options;
  options.modules = true;
  Report r = build_report(c, options, test::synthetic_symbols());
  check_golden("report/golden/report_summary.txt", render_report(r, ReportFormat::summary));
}

TEST_CASE("report formats: a recall that gave up is said, because the peak may be overstated") {
  Capture c = test::synthetic_capture();
  c.diagnostics.push_back({"inexact_recalls", 2});
  std::string text = render_text(build_report(c, ReportOptions{}, test::synthetic_symbols()));
  CHECK(text.find("Note: 2 times the live bytes or the peak were decided while a thread's lease could not be taken "
                  "back") != std::string::npos);
}

TEST_CASE("report formats: stack rows merge return addresses that print the same") {
  ReportOptions options;
  options.by = GroupBy::stack;
  options.top = 0;
  Report r = synthetic_report(options);
  REQUIRE(r.rows.size() == 5);
  CHECK(r.rows[0].key.function == "render_page(int)");
  CHECK(r.rows[0].stack_count == 2);
  CHECK(r.rows[0].metrics.alloc_bytes == 64064);
  check_golden("report/golden/report_stack.csv", render_csv(r));
}

TEST_CASE("report formats: folded stacks, outermost frame first, value = the sort metric") {
  Report r = synthetic_report();
  std::string folded = render_folded(r);
  check_golden("report/golden/report.folded", folded);
  CHECK(folded.find("main;render_page(int) 64064\n") != std::string::npos);
  CHECK(folded.find("main;load_settings();parse_config(char const*);"
                    "std::vector<int, std::allocator<int> >::push_back(int const&) 4000\n") != std::string::npos);
  CHECK(folded.find("[unknown stack] 16\n") != std::string::npos);
  ReportOptions leaked;
  leaked.sort = SortBy::leaked;
  std::string only_leaks = render_folded(synthetic_report(leaked));
  CHECK(only_leaks ==
        "main;libfoo.so+0x1234 200\n"
        "main;load_settings();cache_insert(std::string const&) 5000\n");
}

TEST_CASE("report formats: the timeline chart, in text and as a well-formed SVG with the peak marked") {
  Report r = synthetic_report();
  std::string svg = render_report(r, ReportFormat::timeline_svg);
  check_golden("report/golden/timeline.svg", svg);
  TempDir dir;
  test::write_text(dir.file("timeline.svg"), svg);
  auto lint = run_process({"xmllint", "--noout", dir.file("timeline.svg")});
  CHECK_MESSAGE(lint.status() == 0, lint.err);
  CHECK(svg.find(">peak 7.0 KiB</text>") != std::string::npos);
  CHECK(svg.find("<title>1.5 s: live 4.9 KiB (5,000 B), resident 5.0 MiB</title>") != std::string::npos);

  std::vector<std::string> chart = timeline_chart(r.capture->timeline, 20, 2);
  REQUIRE(chart.size() == 6);
  CHECK(chart[0] ==
        "Live bytes over 2.5 s, one column per 125 ms (peak 7.0 KiB between 2 s and 2.5 s; resident "
        "memory up to 5.2 MiB):");

  Capture none = *r.capture;
  none.timeline = CaptureTimeline{};
  Report without = build_report(none, ReportOptions{}, test::synthetic_symbols());
  CHECK_THROWS_AS(render_report(without, ReportFormat::timeline_svg), UsageError);
  CHECK(render_text(without).find("Live bytes over") == std::string::npos);
}

TEST_CASE("report formats: the timeline SVG starts at 0, goes through its peak mark and keeps its title in view") {
  // A short run: the first sample came 6.3 ms in, and a long command line.
  Capture c = test::synthetic_capture();
  c.program.arguments = {"/usr/local/bin/a-program-with-a-long-name", "--input", std::string(120, 'x') + "/largest.e"};
  constexpr std::uint64_t ms = 1000000;
  for (TimelineSample& sample : c.timeline.samples) {
    sample.time_ns = sample.time_ns / 100 + 63 * ms / 10;
  }
  c.timeline.peak_after_ns = c.timeline.samples[4].time_ns;
  c.timeline.peak_before_ns = c.timeline.samples[5].time_ns;
  Report r = build_report(c, {}, test::synthetic_symbols());
  std::string svg = render_report(r, ReportFormat::timeline_svg);
  TempDir dir;
  test::write_text(dir.file("timeline.svg"), svg);
  auto lint = run_process({"xmllint", "--noout", dir.file("timeline.svg")});
  CHECK_MESSAGE(lint.status() == 0, lint.err);

  // The live bytes' line and area start at time 0 with nothing live (x 90, y 364: the plot's
  // bottom left corner), and pass through the peak's mark.
  auto live_at = svg.find("<path d=\"M90.0,364.0 H");
  REQUIRE(live_at != std::string::npos);
  std::string live = svg.substr(live_at, svg.find('"', live_at + 9) - live_at);
  auto circle = svg.find("<circle cx=\"");
  REQUIRE(circle != std::string::npos);
  std::string cx = svg.substr(circle + 12, svg.find('"', circle + 12) - circle - 12);
  auto cy_at = svg.find("cy=\"", circle) + 4;
  std::string cy = svg.substr(cy_at, svg.find('"', cy_at) - cy_at);
  CHECK(live.find("H" + cx + " V" + cy + " ") != std::string::npos);

  // The title shows the program and the end of its arguments, shortened in the middle to fit
  // the chart; the document's own title keeps the whole command.
  auto title_at = svg.find("font-size=\"16\">");
  REQUIRE(title_at != std::string::npos);
  std::string title = svg.substr(title_at + 15, svg.find("</text>", title_at) - title_at - 15);
  CHECK(title.rfind("Live bytes and resident memory: /usr/local/bin/a-program", 0) == 0);
  CHECK(title.size() <= 90);
  CHECK(title.find("…") != std::string::npos);
  CHECK(title.substr(title.size() - 10) == "/largest.e");
  CHECK(svg.find("<title>measure timeline: /usr/local/bin/a-program-with-a-long-name --input xxx") !=
        std::string::npos);
  // The resident memory says that it includes the toolkit's.
  CHECK(svg.find("resident memory (RSS, the toolkit's ") != std::string::npos);
  // The chart takes the window's width.
  CHECK(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" viewBox=\"0 0 960 420\"") !=
        std::string::npos);
}

TEST_CASE("report formats: a flame graph too deep for a window is drawn top-down, its roots in view") {
  // One stack of 70 distinct frames beside a shallow one: upright, the roots would lie about
  // 1,200 pixels down, under the tower.
  Capture c = test::synthetic_capture();
  std::map<std::uint64_t, std::vector<Frame>> symbols;
  std::vector<std::uint64_t> deep;
  for (std::uint64_t i = 0; i < 70; ++i) {
    std::uint64_t address = 0x7000000 + 16 * i;
    deep.push_back(address);
    symbols[address] = {Frame{"level_" + std::to_string(69 - i) + "()", "deep.cpp", 10, "/deep", 16 * i, address}};
  }
  c.stacks = {Stack{}, Stack{0, 0, deep}, Stack{0, 0, {deep.back() - 16, deep.back()}}};
  Metrics m;
  m.alloc_count = 3;
  m.alloc_bytes = 300;
  c.sites = {Site{1, m}, Site{2, m}};
  c.totals = m;
  c.totals += m;
  FrameResolver resolve = [&](std::uint64_t address, std::uint32_t) -> const std::vector<Frame>& {
    return symbols.at(address);
  };
  std::string svg = render_svg(build_report(c, {}, resolve));
  TempDir dir;
  test::write_text(dir.file("deep.svg"), svg);
  auto lint = run_process({"xmllint", "--noout", dir.file("deep.svg")});
  CHECK_MESSAGE(lint.status() == 0, lint.err);
  CHECK(svg.find("in 2 stacks, 71 levels deep, drawn top-down;") != std::string::npos);
  auto y_of = [&](const std::string& name) {
    auto at = svg.find("<title>" + name + "&#10;");
    REQUIRE(at != std::string::npos);
    auto y = svg.find(" y=\"", svg.find("<rect", at)) + 4;
    return std::stod(svg.substr(y, svg.find('"', y) - y));
  };
  // "all" on the first row under the title and the details line, the allocating frame on the
  // last, 70 rows of 16 pixels further down.
  CHECK(y_of("all") == 80);
  CHECK(y_of("level_0()") == 80 + 16);
  CHECK(y_of("level_69()") == 80 + 70 * 16);
  CHECK(svg.find("<text id=\"details\" x=\"10\" y=\"64\">") != std::string::npos);

  // A shallow graph stays upright: "all" at the bottom.
  std::string upright = render_svg(synthetic_report());
  CHECK(upright.find("levels deep") == std::string::npos);
}

TEST_CASE("report formats: the flame graph is well-formed XML with every frame and metric") {
  Report r = synthetic_report();
  std::string svg = render_svg(r);
  check_golden("report/golden/report.svg", svg);
  TempDir dir;
  test::write_text(dir.file("flame.svg"), svg);
  auto lint = run_process({"xmllint", "--noout", dir.file("flame.svg")});
  CHECK_MESSAGE(lint.status() == 0, lint.err);
  CHECK(svg.find("<title>render_page(int)&#10;bytes allocated: 62.6 KiB (87.3%)") != std::string::npos);
  // Frames show shortened templates; the tooltip adds the full name.
  CHECK(svg.find("<title>std::vector&lt;…&gt;::push_back(int const&amp;)&#10;std::vector&lt;int, "
                 "std::allocator&lt;int&gt; &gt;::push_back(int const&amp;)&#10;") != std::string::npos);
  CHECK(svg.find("temporary_count 51") != std::string::npos);
  CHECK(svg.find("http://") == svg.rfind("http://www.w3.org/2000/svg"));  // nothing fetched

  // Names with markup and bytes that are not UTF-8 still give a well-formed document.
  Capture c = test::synthetic_capture();
  std::vector<Frame> odd = {Frame{"operator<<(Foo&, \"x\" & 'y')\x01\xff", "", 0, "/m", 1, 1, false}};
  FrameResolver resolve = [&](std::uint64_t, std::uint32_t) -> const std::vector<Frame>& { return odd; };
  test::write_text(dir.file("odd.svg"), render_svg(build_report(c, {}, resolve)));
  auto odd_lint = run_process({"xmllint", "--noout", dir.file("odd.svg")});
  CHECK_MESSAGE(odd_lint.status() == 0, odd_lint.err);
}

TEST_CASE("report formats: the flame graph's \"all\" counts what the header counts, allocations of 0 bytes too") {
  // Seven allocations of 0 bytes from the stack of a 5,000-byte site: in a graph of bytes they
  // have no width, yet "all" and the frames they passed through count them.
  Capture c = test::synthetic_capture();
  c.stacks.push_back(Stack{0, 0, c.stacks[3].frames});
  Metrics zero;
  zero.alloc_count = 7;
  zero.free_count = 7;
  zero.temporary_count = 7;
  c.sites.push_back(Site{static_cast<std::uint32_t>(c.stacks.size() - 1), zero});
  c.totals.alloc_count += 7;
  c.totals.free_count += 7;
  c.totals.temporary_count += 7;
  Report r = build_report(c, {}, test::synthetic_symbols());
  REQUIRE(r.selected.alloc_count == r.totals.alloc_count);
  std::string svg = render_svg(r);
  auto title = [&](const std::string& start) {
    auto at = svg.find("<title>" + start + "&#10;");
    REQUIRE(at != std::string::npos);
    return svg.substr(at, svg.find("</title>", at) - at);
  };
  std::string all = title("all");
  CHECK(all.find(fmt::format("alloc_count {}&#10;", r.totals.alloc_count)) != std::string::npos);
  CHECK(all.find(fmt::format("free_count {}&#10;", r.totals.free_count)) != std::string::npos);
  CHECK(all.find(fmt::format("temporary_count {}", r.totals.temporary_count)) != std::string::npos);
  // The site's own frames count its 5 allocations and the 7 of 0 bytes.
  CHECK(svg.find("alloc_count 12&#10;") != std::string::npos);
}

// Needs node (on the CI machines): a CTest entry of its own, report_formats_test_node, reported
// as skipped where node is not installed.
TEST_CASE("report formats: the flame graph's script parses" * doctest::test_suite("node")) {
  std::string svg = render_svg(synthetic_report());
  auto begin = svg.find("<![CDATA[");
  auto end = svg.find("]]>");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  TempDir dir;
  test::write_text(dir.file("flame.js"), svg.substr(begin + 9, end - begin - 9));
  auto node = run_process(
      {"sh", "-c", "command -v node >/dev/null || exit 77; node --check \"$1\"", "sh", dir.file("flame.js")});
  if (node.status() == 77) {
    measure::test::skip_test_case("node is not installed: the flame graph's script was not syntax-checked");
    return;
  }
  CHECK_MESSAGE(node.status() == 0, node.err);
}

TEST_CASE("report formats: pprof decodes with protoc into heap-profile sample types") {
  Report r = synthetic_report();
  std::string decoded = decode_pprof(render_pprof(r));
  check_golden("report/golden/report_pprof.txt", decoded);
  for (const char* expected :
       {"string_table: \"alloc_objects\"", "string_table: \"alloc_space\"", "string_table: \"inuse_objects\"",
        "string_table: \"inuse_space\"", "string_table: \"count\"", "string_table: \"bytes\"",
        "string_table: \"render_page(int)\"", "string_table: \"parse_config(char const*)\"",
        "string_table: \"1234abcd\"", "string_table: \"/opt/app/server\""}) {
    CAPTURE(expected);
    CHECK(decoded.find(expected) != std::string::npos);
  }
  // The cache's sample: 5 blocks, 5000 bytes, all still live.
  CHECK(decoded.find("  value: 5\n  value: 5000\n  value: 5\n  value: 5000\n") != std::string::npos);
  // The parser's: 10 blocks, 4000 bytes, none live; its location holds the inlined push_back
  // and then parse_config, the function it was inlined into.
  CHECK(decoded.find("  value: 10\n  value: 4000\n  value: 0\n  value: 0\n") != std::string::npos);
}
