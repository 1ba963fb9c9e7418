// The summary end to end: a fixture with known sizes, lifetimes, threads and largest blocks
// under the real preload; the JSON report's summary, `--format summary`'s text against it,
// the light modes and merged captures.
#include <algorithm>
#include <map>
#include <sstream>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "report/formats.h"
#include "report/summary.h"
#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::fixture_path;
using measure::test::marker_line;
using measure::test::ProcessResult;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using nlohmann::json;

namespace {

constexpr const char* source = "tests/report/summary_shape.c";

std::string capture(TempDir& dir, const std::string& name, const std::string& mode = "exact") {
  std::string path = dir.file(name);
  ProcessResult r =
      run_process({tool_path(), "run", "-q", "--mode", mode, "-o", path, "--", fixture_path("summary_shape")});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return path;
}

std::string report(const std::vector<std::string>& args) {
  std::vector<std::string> argv{tool_path(), "report"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = run_process(argv);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return r.out;
}

json report_json(const std::vector<std::string>& args) {
  std::vector<std::string> with = args;
  with.insert(with.end(), {"--format", "json"});
  return json::parse(report(with));
}

// Class `from`'s entry of a summary's sizes, or null.
json size_class(const json& summary, std::uint64_t from) {
  for (const json& c : summary["sizes"]) {
    if (c["from"] == from) {
      return c;
    }
  }
  return nullptr;
}

// What the fixture itself allocates, by class: {from, count, bytes}.
struct Known {
  std::uint64_t from;
  std::uint64_t count;
  std::uint64_t bytes;
};
constexpr Known known[] = {
    {0, 3, 0},
    {1, 12, 12},
    {32, 500, 500 * 40},
    {64, 100, 100 * 100},
    {2048, 1000, 1000 * 3000},
    {1U << 20, 1, (1U << 20) + 1},
    {2U << 20, 1, 3U << 20},
    {4U << 20, 1, 5U << 20},
};

// The fixture's own classes hold exactly its blocks.
void check_known_classes(const json& summary) {
  for (const Known& k : known) {
    CAPTURE(k.from);
    json c = size_class(summary, k.from);
    REQUIRE(c.is_object());
    CHECK(c["count"] == k.count);
    CHECK(c["bytes"] == k.bytes);
    CHECK(c["below"] == (k.from == 0 ? 1 : 2 * k.from));
  }
}

// The summary's sizes add up to the totals: every allocation lies in exactly one class.
void check_sizes_add_up(const json& r) {
  const json& s = r["summary"];
  std::uint64_t count = s["inherited"]["count"];
  std::uint64_t bytes = s["inherited"]["bytes"];
  for (const json& c : s["sizes"]) {
    count += c["count"].get<std::uint64_t>();
    bytes += c["bytes"].get<std::uint64_t>();
  }
  CHECK(count == r["totals"]["alloc_count"]);
  CHECK(bytes == r["totals"]["alloc_bytes"]);
}

// The threads add up to the totals.
void check_threads_add_up(const json& r) {
  const json& s = r["summary"];
  for (const char* metric : {"alloc_count", "alloc_bytes", "free_count", "freed_bytes"}) {
    CAPTURE(metric);
    std::uint64_t sum = s["other_threads"][metric];
    for (const json& t : s["threads"]) {
      sum += t[metric].get<std::uint64_t>();
    }
    CHECK(sum == r["totals"][metric]);
  }
}

// The line of `text` that starts (after its indentation) with `label` followed by a space.
std::string line_starting(const std::string& text, const std::string& label) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::size_t start = line.find_first_not_of(' ');
    if (start != std::string::npos && line.compare(start, label.size(), label) == 0 &&
        line.size() > start + label.size() && line[start + label.size()] == ' ') {
      return line;
    }
  }
  FAIL("no line starts with '" << label << "' in:\n" << text);
  return {};
}

// The whitespace-separated words of `line`.
std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) {
    out.push_back(w);
  }
  return out;
}

bool has_words(const std::string& line, std::initializer_list<std::string> expected) {
  std::vector<std::string> w = words(line);
  for (const std::string& e : expected) {
    std::vector<std::string> parts = words(e);
    if (std::search(w.begin(), w.end(), parts.begin(), parts.end()) == w.end()) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("summary: sizes, lifetimes, threads and the largest blocks of a known program, exactly") {
  TempDir dir;
  std::string path = capture(dir, "shape.msr");
  json r = report_json({path});
  const json& s = r["summary"];
  REQUIRE(s.is_object());
  CHECK(s["recorded"] == true);
  check_known_classes(s);
  check_sizes_add_up(r);

  // Lifetimes: the 100 blocks of 100 bytes, the last 3,000-byte one, the worker's last 40-byte
  // one and its 1 MiB + 1 were freed before their thread's next allocation.
  const json& life = s["lifetimes"];
  CHECK(life["temporary"]["count"] == 103);
  CHECK(life["temporary"]["count"] == r["totals"]["temporary_count"]);
  CHECK(life["temporary"]["bytes"] == 100 * 100 + 3000 + 40 + (1U << 20) + 1);
  CHECK(life["temporary"]["count"].get<std::uint64_t>() + life["freed"]["count"].get<std::uint64_t>() ==
        r["totals"]["free_count"]);
  CHECK(life["temporary"]["bytes"].get<std::uint64_t>() + life["freed"]["bytes"].get<std::uint64_t>() ==
        r["totals"]["freed_bytes"]);
  CHECK(life["live"]["count"] == r["totals"]["live_count"]);
  CHECK(life["live"]["bytes"] == r["totals"]["live_bytes"]);

  // Threads: the worker exactly, as it named itself; main still running at the end.
  const json& threads = s["threads"];
  REQUIRE(threads.size() == 2);
  const json& main_thread = threads[0]["name"] == "summary-worker" ? threads[1] : threads[0];
  const json& worker = threads[0]["name"] == "summary-worker" ? threads[0] : threads[1];
  CHECK(worker["name"] == "summary-worker");
  CHECK(worker["running"] == false);
  CHECK(worker["alloc_count"] == 501);
  CHECK(worker["alloc_bytes"] == 500 * 40 + (1U << 20) + 1);
  CHECK(worker["free_count"] == 501);
  CHECK(worker["freed_bytes"] == 500 * 40 + (1U << 20) + 1);
  CHECK(main_thread["running"] == true);
  CHECK(main_thread["id"] == r["program"]["pid"]);
  CHECK(s["other_threads"]["threads"] == 0);
  check_threads_add_up(r);

  // The largest blocks, largest first, at their lines; then the 3,000-byte ones, earliest first.
  const json& largest = s["largest"];
  REQUIRE(largest.size() == 16);
  struct Expected {
    std::uint64_t size;
    const char* marker;
  };
  const Expected top[] = {{5U << 20, "largest"}, {3U << 20, "second"}, {(1U << 20) + 1, "worker_big"}};
  for (std::size_t i = 0; i < largest.size(); ++i) {
    CAPTURE(i);
    const Expected e = i < 3 ? top[i] : Expected{3000, "medium"};
    CHECK(largest[i]["size"] == e.size);
    REQUIRE(largest[i]["site"].is_object());
    CHECK(largest[i]["site"]["line"] == marker_line(source, e.marker));
    CHECK(largest[i]["time_ns"].get<std::uint64_t>() <= r["program"]["duration_ns"].get<std::uint64_t>());
    if (i > 3) {
      CHECK(largest[i]["time_ns"] >= largest[i - 1]["time_ns"]);
    }
  }
  CHECK(largest[0]["time_ns"] <= largest[1]["time_ns"]);

  // The top modules are the `--by module` report's rows.
  json by_module = report_json({path, "--by", "module", "--top", "0"});
  REQUIRE(s["modules"].size() == by_module["rows"].size());
  for (std::size_t i = 0; i < s["modules"].size(); ++i) {
    CAPTURE(i);
    const json& m = s["modules"][i];
    const json& row = by_module["rows"][i];
    CHECK(m["module"] == row["key"]["module"]);
    for (const char* metric : {"alloc_count", "alloc_bytes", "free_count", "freed_bytes", "live_bytes"}) {
      CHECK(m[metric] == row[metric]);
    }
  }
}

TEST_CASE("summary: --format summary shows the JSON report's numbers") {
  TempDir dir;
  std::string path = capture(dir, "shape.msr");
  json r = report_json({path});
  const json& s = r["summary"];
  std::string text = report({path, "--format", "summary"});
  CAPTURE(text);

  CHECK(has_words(line_starting(text, "Allocations:"), {measure::grouped(r["totals"]["alloc_count"]) + " (" +
                                                        measure::human_bytes(r["totals"]["alloc_bytes"]) + ");"}));
  for (const json& c : s["sizes"]) {
    measure::Summary::SizeRow row{c["from"], c["below"].is_null() ? 0 : c["below"].get<std::uint64_t>(), c["count"],
                                  c["bytes"]};
    std::string line = line_starting(text, measure::size_class_label(row));
    CHECK(has_words(line, {measure::grouped(row.count), measure::human_bytes(row.bytes)}));
  }
  const json& life = s["lifetimes"];
  CHECK(has_words(line_starting(text, "temporary"),
                  {measure::grouped(life["temporary"]["count"]), measure::human_bytes(life["temporary"]["bytes"])}));
  CHECK(has_words(line_starting(text, "freed later"),
                  {measure::grouped(life["freed"]["count"]), measure::human_bytes(life["freed"]["bytes"])}));
  CHECK(has_words(line_starting(text, "never freed"),
                  {measure::grouped(life["live"]["count"]), measure::human_bytes(life["live"]["bytes"])}));
  for (const json& t : s["threads"]) {
    std::string id = std::to_string(t["id"].get<std::uint64_t>()) + (t["running"] == true ? "" : "*");
    CHECK(has_words(line_starting(text, id), {t["name"].get<std::string>(), measure::grouped(t["alloc_count"]),
                                              measure::human_bytes(t["alloc_bytes"]), measure::grouped(t["free_count"]),
                                              measure::human_bytes(t["freed_bytes"])}));
  }
  // The largest blocks: one line per run of equal size and line, with how many.
  std::string first = line_starting(text, measure::human_bytes(5U << 20));
  CHECK(has_words(first, {"summary_shape.c:" + std::to_string(marker_line(source, "largest"))}));
  std::string medium = line_starting(text, measure::human_bytes(3000));
  CHECK(has_words(medium, {"13 blocks", "summary_shape.c:" + std::to_string(marker_line(source, "medium"))}));
  for (const json& m : s["modules"]) {
    CHECK(has_words(line_starting(text, m["module"].get<std::string>()),
                    {measure::grouped(m["alloc_count"]), measure::human_bytes(m["alloc_bytes"])}));
  }
}

TEST_CASE("summary: the light modes keep exact sizes and threads, and no temporaries") {
  TempDir dir;
  for (const char* mode : {"counters", "sampled"}) {
    CAPTURE(mode);
    json r = report_json({capture(dir, std::string(mode) + ".msr", mode)});
    const json& s = r["summary"];
    CHECK(s["recorded"] == true);
    check_known_classes(s);
    check_sizes_add_up(r);
    check_threads_add_up(r);
    CHECK(s["lifetimes"]["temporary"]["count"].is_null());
    CHECK(s["lifetimes"]["freed"]["count"] == r["totals"]["free_count"]);
    REQUIRE(s["largest"].size() == 16);
    CHECK(s["largest"][0]["size"] == 5U << 20);
    CHECK(s["largest"][1]["size"] == 3U << 20);
  }
}

TEST_CASE("summary: captures read together add up, and survive measure merge") {
  TempDir dir;
  std::string a = capture(dir, "a.msr");
  std::string b = capture(dir, "b.msr");
  json one = report_json({a});
  json both = report_json({a, b});
  check_sizes_add_up(both);
  check_threads_add_up(both);
  for (const Known& k : known) {
    CAPTURE(k.from);
    CHECK(size_class(both["summary"], k.from)["count"] == 2 * k.count);
  }
  CHECK(both["summary"]["threads"].size() == 4);
  CHECK(both["summary"]["largest"].size() == 16);
  CHECK(both["summary"]["largest"][0]["size"] == 5U << 20);
  CHECK(both["summary"]["largest"][1]["size"] == 5U << 20);
  CHECK(both["summary"]["lifetimes"]["temporary"]["bytes"] ==
        2 * one["summary"]["lifetimes"]["temporary"]["bytes"].get<std::uint64_t>());

  std::string merged = dir.file("merged.msr");
  ProcessResult m = run_process({tool_path(), "merge", a, b, "-o", merged});
  REQUIRE_MESSAGE(m.status() == 0, m.err);
  CHECK(report_json({merged})["summary"] == both["summary"]);
}
