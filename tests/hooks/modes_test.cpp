// Sampled and counters modes, end to end: the real preload under `measure run --mode`, the
// real capture, the real report. Sampled mode's per-stack numbers are estimates; on the fixed
// workload of fixtures/sample_shape.c (1 GiB from five sites, MEASURE_SEED fixed) every stack
// that holds at least 5% of the bytes must be estimated within 10% of the exact figure, while
// the totals must equal exact mode's. The light modes' peak is sampled: never above the exact
// peak, never below what is live at the end, and exact when every allocation is a sample point.
#include <filesystem>
#include <map>
#include <set>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "format/capture.h"
#include "support/checks.h"
#include "support/subprocess.h"

using measure::test::check_one_line_error;
using measure::test::fixture_path;
using measure::test::run_process;
using measure::test::TempDir;
using measure::test::tool_path;
using nlohmann::json;

namespace {

// The seed the sampled-mode checks were made with: a run with another may miss a margin.
const std::vector<std::pair<std::string, std::string>> fixed_seed = {{"MEASURE_SEED", "1"}};

std::string run_in_mode(TempDir& dir, const std::vector<std::string>& mode_args, const std::string& name) {
  std::string capture = dir.file(name + ".msr");
  std::vector<std::string> argv = {tool_path(), "run", "-q", "-o", capture};
  argv.insert(argv.end(), mode_args.begin(), mode_args.end());
  argv.insert(argv.end(), {"--", fixture_path("sample_shape")});
  auto r = run_process(argv, fixed_seed);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return capture;
}

json report_json(const std::string& capture) {
  auto r = run_process({tool_path(), "report", capture, "--top", "0", "--format", "json"});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  return json::parse(r.out);
}

// alloc_bytes of each row of a --by line report, by source line.
std::map<int, std::uint64_t> bytes_by_line(const json& report) {
  std::map<int, std::uint64_t> rows;
  for (const json& row : report["rows"]) {
    if (row["key"]["line"].is_number()) {
      rows[row["key"]["line"].get<int>()] += row["alloc_bytes"].get<std::uint64_t>();
    }
  }
  return rows;
}

// `b`'s totals equal the exact run `a`'s; its peak too when exact, else it is a sampled one.
void check_same_totals(const measure::Capture& a, const measure::Capture& b) {
  CHECK(a.totals.alloc_count == b.totals.alloc_count);
  CHECK(a.totals.alloc_bytes == b.totals.alloc_bytes);
  CHECK(a.totals.free_count == b.totals.free_count);
  CHECK(a.totals.freed_bytes == b.totals.freed_bytes);
  CHECK(a.totals.live_bytes == b.totals.live_bytes);
  if (b.program.mode == measure::CaptureMode::exact) {
    CHECK(a.totals.peak_bytes == b.totals.peak_bytes);
  } else {
    CHECK(b.totals.peak_bytes <= a.totals.peak_bytes);
    CHECK(b.totals.peak_bytes >= b.totals.live_bytes);
  }
}

}  // namespace

TEST_CASE("sampled mode: exact totals, per-stack estimates within 10% of exact") {
  TempDir dir;
  std::string exact_path = run_in_mode(dir, {}, "exact");
  std::string sampled_path = run_in_mode(dir, {"--mode", "sampled", "--sample-interval", "64K"}, "sampled");
  measure::Capture exact = measure::read_capture(exact_path);
  measure::Capture sampled = measure::read_capture(sampled_path);
  CHECK(sampled.program.mode == measure::CaptureMode::sampled);
  CHECK(sampled.program.sample_interval == 64 * 1024);
  check_same_totals(exact, sampled);
  CHECK(exact.totals.alloc_bytes >= (1ULL << 30));

  std::map<int, std::uint64_t> exact_rows = bytes_by_line(report_json(exact_path));
  std::map<int, std::uint64_t> sampled_rows = bytes_by_line(report_json(sampled_path));
  int checked = 0;
  for (auto [line, bytes] : exact_rows) {
    if (bytes * 20 < exact.totals.alloc_bytes) {
      continue;  // under 5% of the bytes: no promise
    }
    int site_line = line;  // Clang 14 cannot capture a structured binding in CAPTURE's lambda
    std::uint64_t site_bytes = bytes;
    std::uint64_t site_sampled = sampled_rows[line];
    CAPTURE(site_line);
    CAPTURE(site_bytes);
    CAPTURE(site_sampled);
    double ratio = static_cast<double>(site_sampled) / static_cast<double>(bytes);
    CHECK(ratio > 0.9);
    CHECK(ratio < 1.1);
    ++checked;
  }
  CHECK(checked == 4);  // the 40, 30, 20 and 9 percent sites

  auto text = run_process({tool_path(), "report", sampled_path});
  REQUIRE(text.status() == 0);
  CHECK(text.out.find("sampled mode: per-stack counts and bytes are estimates") != std::string::npos);
}

TEST_CASE("sampled mode: the peak is sampled, and exact when every allocation is a sample point") {
  // One thread, a sample point at every byte: every allocation looks at the live bytes, and a
  // peak is always reached by an allocation.
  TempDir dir;
  measure::Capture exact = measure::read_capture(run_in_mode(dir, {}, "exact"));
  std::string every_path = run_in_mode(dir, {"--mode", "sampled", "--sample-interval", "1"}, "every");
  measure::Capture every = measure::read_capture(every_path);
  CHECK(every.totals.peak_bytes == exact.totals.peak_bytes);
  CHECK(exact.totals.peak_bytes > 64 * 16);  // 64 blocks of 16 B to 16 KiB

  auto text = run_process({tool_path(), "report", every_path});
  REQUIRE(text.status() == 0);
  CHECK(text.out.find("peak at least ") != std::string::npos);
  CHECK(text.out.find(", sampled;") != std::string::npos);
  CHECK(report_json(every_path)["peak_kind"] == "sampled");
  CHECK(report_json(dir.file("exact.msr"))["peak_kind"] == "exact");

  // measure run's summary line says so too.
  for (const char* mode : {"exact", "counters"}) {
    auto run = run_process({tool_path(), "run", "--mode", mode, "-o", dir.file(std::string("summary.") + mode + ".msr"),
                            "--", fixture_path("sample_shape")});
    REQUIRE_MESSAGE(run.status() == 0, run.err);
    bool light = std::string(mode) == "counters";
    CAPTURE(run.err);
    CHECK((run.err.find(", peak at least ") != std::string::npos) == light);
    CHECK((run.err.find(" (sampled), ") != std::string::npos) == light);
    CHECK(run.err.find(" still live at exit\n") != std::string::npos);
  }
}

TEST_CASE("sampled mode: the same run with the same MEASURE_SEED gives the same samples") {
  TempDir dir;
  json first = report_json(run_in_mode(dir, {"--mode", "sampled"}, "first"));
  json second = report_json(run_in_mode(dir, {"--mode", "sampled"}, "second"));
  CHECK(bytes_by_line(first) == bytes_by_line(second));
}

TEST_CASE("counters mode: exact totals and no stacks") {
  TempDir dir;
  measure::Capture exact = measure::read_capture(run_in_mode(dir, {}, "exact"));
  std::string counters_path = run_in_mode(dir, {"--mode", "counters"}, "counters");
  measure::Capture counters = measure::read_capture(counters_path);
  CHECK(counters.program.mode == measure::CaptureMode::counters);
  check_same_totals(exact, counters);
  CHECK(counters.sites.empty());
  auto text = run_process({tool_path(), "report", counters_path});
  REQUIRE(text.status() == 0);
  CHECK(text.out.find("counters mode: no stacks were recorded") != std::string::npos);
}

// fixtures/block_shapes.c under --follow-forks in `mode`: the parent's capture and the
// child's, told apart by their process ids.
struct ShapesRun {
  measure::Capture parent;
  measure::Capture child;
  std::string parent_path;
  std::string child_path;
};

static ShapesRun run_block_shapes(TempDir& dir, const std::vector<std::string>& mode_args, const std::string& name,
                                  const std::vector<std::pair<std::string, std::string>>& env = {}) {
  std::vector<std::string> argv = {tool_path(), "run", "-q", "--follow-forks", "-o", dir.file(name + ".%p.msr")};
  argv.insert(argv.end(), mode_args.begin(), mode_args.end());
  argv.insert(argv.end(), {"--", fixture_path("block_shapes")});
  auto r = run_process(argv, env);
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().filename().string().rfind(name + ".", 0) == 0) {
      paths.push_back(entry.path().string());
    }
  }
  REQUIRE(paths.size() == 2);
  measure::Capture parent = measure::read_capture(paths[0]);
  measure::Capture child = measure::read_capture(paths[1]);
  if (parent.program.parent_pid == child.program.pid) {
    std::swap(parent, child);
    std::swap(paths[0], paths[1]);
  }
  REQUIRE(child.program.parent_pid == parent.program.pid);
  return {parent, child, paths[0], paths[1]};
}

TEST_CASE("block shadow: blocks of every shape, threads and forks give what the table gives") {
  // Sizes 0-300 (every slack), alignments to 4096, mmapped blocks, realloc chains, frees on
  // another thread, and a forked child freeing inherited blocks: most blocks take the block
  // shadow, some the live-block table (mmapped, unaligned, stacks without a palette index).
  // The reference keeps every block in the table (MEASURE_SHADOW=0); exact mode with the
  // shadow must give the same report row for row, the other modes the same totals.
  TempDir dir;
  auto [table, table_child, table_path, table_child_path] =
      run_block_shapes(dir, {}, "table", {{"MEASURE_SHADOW", "0"}});
  CHECK(table.diagnostic("block_shadow_bytes") == 0);
  // What the fixture knows: the child frees 3 inherited blocks of 100 bytes and adds 2 of 50;
  // the parent frees the same 3 after the fork.
  CHECK(table_child.totals.free_count == 3);
  CHECK(table_child.totals.freed_bytes == 300);
  CHECK(table_child.totals.live_bytes == table.totals.live_bytes + 100);
  CHECK(table_child.totals.live_count == table.totals.live_count + 2);

  auto [exact, exact_child, exact_path, exact_child_path] = run_block_shapes(dir, {}, "exact");
  CHECK(exact.diagnostic("block_shadow_bytes") > 0);
  check_same_totals(table, exact);
  check_same_totals(table_child, exact_child);
  for (std::string which : {"parent", "child"}) {
    CAPTURE(which);
    bool parent = which == "parent";
    json with_table = report_json(parent ? table_path : table_child_path);
    json with_shadow = report_json(parent ? exact_path : exact_child_path);
    CHECK(with_shadow["rows"] == with_table["rows"]);
    CHECK(with_shadow["rows"].size() >= (parent ? 5U : 2U));  // the child: inherited, its own
  }

  for (const char* interval : {"", "4K"}) {
    std::vector<std::string> args = {"--mode", *interval != '\0' ? "sampled" : "counters"};
    if (*interval != '\0') {
      args.insert(args.end(), {"--sample-interval", interval});
    }
    CAPTURE(args[1]);
    auto [parent, child, parent_path, child_path] = run_block_shapes(dir, args, args[1]);
    check_same_totals(table, parent);
    check_same_totals(table_child, child);
    CHECK(parent.totals.live_count == table.totals.live_count);
    CHECK(child.totals.live_count == table_child.totals.live_count);
    for (const measure::Capture* c : {&parent, &child}) {
      CHECK(c->diagnostic("unmatched_frees") == 0);
      CHECK(c->diagnostic("mismatched_frees") == 0);
      CHECK(c->diagnostic("dropped_events") == 0);
    }
    CHECK(parent.diagnostic("block_shadow_bytes") > 0);
  }
}

TEST_CASE("bad sample intervals") {
  for (const char* bad : {"0", "-1", "lots", "12X", "K"}) {
    CAPTURE(bad);
    check_one_line_error(run_process({tool_path(), "run", "--mode", "sampled", "--sample-interval", bad, "--", "true"}),
                         bad);
  }
  check_one_line_error(run_process({tool_path(), "run", "--sample-interval", "64K", "--", "true"}), "--mode sampled");
  // The runtime itself never fails the program: a warning, then the default.
  TempDir dir;
  std::string capture = dir.file("env.msr");
  std::string preload = measure::test::preload_path();
  auto r = run_process({fixture_path("sample_shape")}, {{"LD_PRELOAD", preload},
                                                        {"MEASURE_MODE", "sampled"},
                                                        {"MEASURE_SAMPLE_INTERVAL", "lots"},
                                                        {"MEASURE_OUTPUT", capture}});
  CHECK(r.status() == 0);
  CHECK(r.err.find("MEASURE_SAMPLE_INTERVAL=lots") != std::string::npos);
  measure::Capture c = measure::read_capture(capture);
  CHECK(c.program.mode == measure::CaptureMode::sampled);
  CHECK(c.program.sample_interval == 512 * 1024);
}

namespace {

// One sampled run of fixtures/two_sites.c at one sample per 64 KiB (the seed from `env`, else
// random): the capture and its report's rows by line.
struct TwoSitesRun {
  measure::Capture capture;
  json rows;
};

TwoSitesRun run_two_sites(TempDir& dir, const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>& env = {}) {
  std::string capture = dir.file(name + ".msr");
  auto r = run_process({tool_path(), "run", "-q", "--mode", "sampled", "--sample-interval", "64K", "-o", capture, "--",
                        fixture_path("two_sites")},
                       env, {}, {"MEASURE_SEED"});
  REQUIRE_MESSAGE(r.status() == 0, r.err);
  auto report = run_process({tool_path(), "report", capture, "--by", "line", "--top", "0", "--format", "json"});
  REQUIRE_MESSAGE(report.status() == 0, report.err);
  return {measure::read_capture(capture), json::parse(report.out)["rows"]};
}

// The estimates of the rows at the fixture's two marked lines: alloc_count and alloc_bytes.
std::map<int, std::pair<std::uint64_t, std::uint64_t>> two_site_estimates(const json& rows) {
  std::map<int, std::pair<std::uint64_t, std::uint64_t>> out;
  for (const char* marker : {"two_sites_a", "two_sites_b"}) {
    int line = measure::test::marker_line("tests/fixtures/two_sites.c", marker);
    out[line] = {0, 0};
    for (const json& row : rows) {
      if (row["key"]["line"] == line) {
        out[line] = {row["alloc_count"].get<std::uint64_t>(), row["alloc_bytes"].get<std::uint64_t>()};
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("sampled mode: every run draws its own seed, and the estimates are unbiased") {
  // Each site allocates 4 MiB in 65,536 blocks of 64 bytes. At one sample per 64 KiB a block
  // is sampled with p = 1 - exp(-64 / 65536), independently of the others, and stands for
  // 64 / p bytes: a site gets 64 samples per run on average, binomially, so one run's estimate
  // has a relative standard deviation of 1 / sqrt(64) = 12.5%, and the mean of 200 runs one of
  // 12.5% / sqrt(200) = 0.88%. The 5% margin is 5.7 standard deviations: a correct sampler
  // fails it with a probability below 1e-8 per site.
  constexpr int runs = 200;
  constexpr double truth = 4.0 * 1024 * 1024;
  TempDir dir;
  std::map<int, double> sums;
  std::set<std::uint64_t> seeds;
  std::vector<std::map<int, std::pair<std::uint64_t, std::uint64_t>>> first_two;
  for (int i = 0; i < runs; ++i) {
    TwoSitesRun run = run_two_sites(dir, "run" + std::to_string(i));
    CHECK(run.capture.totals.alloc_bytes == 2 * 4 * 1024 * 1024);  // the totals are exact
    seeds.insert(run.capture.diagnostic("sample_seed"));
    auto estimates = two_site_estimates(run.rows);
    for (const auto& [line, estimate] : estimates) {
      sums[line] += static_cast<double>(estimate.second);
    }
    if (i < 2) {
      first_two.push_back(estimates);
    }
    std::filesystem::remove(dir.file("run" + std::to_string(i) + ".msr"));
  }
  CHECK(seeds.size() == runs);
  CHECK(first_two[0] != first_two[1]);  // two runs without MEASURE_SEED sample differently
  REQUIRE(sums.size() == 2);
  for (const auto& [line, sum] : sums) {
    int site_line = line;  // Clang 14 cannot capture a structured binding in CAPTURE's lambda
    CAPTURE(site_line);
    double mean = sum / runs;
    CAPTURE(mean);
    CHECK(mean > truth * 0.95);
    CHECK(mean < truth * 1.05);
  }
}

TEST_CASE("sampled mode: MEASURE_SEED repeats a run, is stored in the capture and named by the report") {
  TempDir dir;
  TwoSitesRun first = run_two_sites(dir, "first", {{"MEASURE_SEED", "12345"}});
  TwoSitesRun second = run_two_sites(dir, "second", {{"MEASURE_SEED", "12345"}});
  CHECK(first.capture.diagnostic("sample_seed") == 12345);
  CHECK(second.capture.diagnostic("sample_seed") == 12345);
  auto estimates = two_site_estimates(first.rows);
  CHECK(estimates == two_site_estimates(second.rows));
  for (const auto& [line, estimate] : estimates) {
    CHECK(estimate.first > 0);  // both sites were sampled
  }
  CHECK(first.rows == second.rows);
  auto text = run_process({tool_path(), "report", dir.file("first.msr")});
  REQUIRE(text.status() == 0);
  CHECK(text.out.find("Note: sampled mode: MEASURE_SEED=12345 repeats these samples.\n") != std::string::npos);

  // A bad seed: one warning, and a random one.
  TwoSitesRun bad = run_two_sites(dir, "bad", {{"MEASURE_SEED", "0x10"}});
  CHECK(bad.capture.diagnostic("sample_seed") != 0x10);
}

TEST_CASE("sampled mode: a followed fork child draws from a seed of its own") {
  TempDir dir;
  auto [parent, child, parent_path, child_path] =
      run_block_shapes(dir, {"--mode", "sampled", "--sample-interval", "4K"}, "seeded", {{"MEASURE_SEED", "777"}});
  CHECK(parent.diagnostic("sample_seed") == 777);
  CHECK(child.diagnostic("sample_seed") != 777);
  CHECK(child.diagnostic("sample_seed") != 0);
  // Exact and counters captures carry no seed.
  auto [exact, exact_child, exact_path, exact_child_path] = run_block_shapes(dir, {}, "unseeded");
  for (const measure::Diagnostic& d : exact.diagnostics) {
    CHECK(d.name != "sample_seed");
  }
}

TEST_CASE("every mode counts a free of the wrong family, and still frees the block") {
  // new[] released with free and a malloc'ed block released with operator delete: both are
  // mismatched frees; delete[] of new[] is not. The light modes check it on their fast path.
  TempDir dir;
  measure::test::write_text(dir.file("mismatch.cpp"),
                            "#include <cstdlib>\n"
                            "#include <new>\n"
                            "char* volatile sink;\n"
                            "int main() {\n"
                            "  for (int i = 0; i < 3; ++i) {\n"
                            "    char* a = new char[24]; sink = a; std::free(a);\n"
                            "    void* b = std::malloc(40); sink = static_cast<char*>(b); ::operator delete(b);\n"
                            "    char* c = new char[8]; sink = c; delete[] c;\n"
                            "  }\n"
                            "  return 0;\n"
                            "}\n");
  auto built = run_process({"c++", "-O1", "-w", dir.file("mismatch.cpp"), "-o", dir.file("mismatch")});
  REQUIRE_MESSAGE(built.status() == 0, built.err);
  for (std::string mode : {"exact", "sampled", "counters"}) {
    CAPTURE(mode);
    std::string capture = dir.file(mode + ".msr");
    auto r = run_process({tool_path(), "run", "-q", "--mode", mode, "-o", capture, "--", dir.file("mismatch")});
    REQUIRE_MESSAGE(r.status() == 0, r.err);
    measure::Capture c = measure::read_capture(capture);
    CHECK(c.diagnostic("mismatched_frees") == 6);
    CHECK(c.diagnostic("unmatched_frees") == 0);
    json report = report_json(capture);
    CHECK(report["totals"]["freed_bytes"].get<std::uint64_t>() >= 3 * (24 + 40 + 8));
  }
}
