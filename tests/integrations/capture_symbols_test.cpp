// The capture's optional symbols section (carried by imported recordings): a round trip,
// the symbolizer using it before any module, and damaged sections failing cleanly.
#include <doctest/doctest.h>

#include "format/capture.h"
#include "format/capture_format.h"
#include "fuzz/fixed_checksums.h"
#include "report/report.h"
#include "support/error.h"

namespace {

measure::Capture carried() {
  measure::Capture c;
  c.program.executable = "/bin/app";
  c.program.arguments = {"/bin/app"};
  c.program.flags = measure::format::program_final;
  c.stacks.resize(2);
  c.stacks[1].frames = {0x401000, 0x402000};
  measure::Metrics m;
  m.alloc_count = 2;
  m.alloc_bytes = 64;
  m.free_count = 1;
  m.freed_bytes = 32;
  m.live_count = 1;
  m.live_bytes = 32;
  m.peak_bytes = 64;
  c.sites.push_back({1, m});
  c.totals = m;
  c.modules.push_back({"/bin/app", {}, 0, 0, std::nullopt, {}});
  c.symbols.strings = {"helper(int)", "src/app.cpp", "/bin/app", "main"};
  c.symbols.addresses.push_back({0x401000, 3, 0x401000, {{1, 2, 7}, {4, 2, 12}}});
  c.symbols.addresses.push_back({0x402000, 3, 0x402000, {}});
  return c;
}

}  // namespace

TEST_CASE("symbols survive a round trip and are looked up by exact address") {
  measure::Capture c = carried();
  std::vector<unsigned char> bytes = measure::encode_capture(c);
  measure::Capture back = measure::parse_capture(bytes, "mem");
  CHECK(back == c);
  REQUIRE(back.symbols.find(0x401000) != nullptr);
  CHECK(back.symbols.find(0x401001) == nullptr);
  CHECK(back.symbols.string(4) == "main");
  CHECK(back.symbols.string(0).empty());
  // A capture without symbols has no symbols section at all.
  c.symbols = {};
  CHECK(measure::parse_capture(measure::encode_capture(c), "mem").symbols.empty());
}

TEST_CASE("the symbolizer takes carried symbols: inlined frames, lines, and unnamed addresses") {
  measure::Capture c = carried();
  measure::ReportOptions options;
  options.by = measure::GroupBy::line;
  measure::Report r = measure::build_report(c, options);
  REQUIRE(r.rows.size() == 1);
  CHECK(r.rows[0].key.function == "helper(int)");
  CHECK(r.rows[0].key.line == 7u);
  std::vector<measure::Frame> stack = r.stack(r.rows[0]);
  REQUIRE(stack.size() == 3);
  CHECK(stack[0].inlined);
  CHECK(stack[1].function == "main");
  CHECK(stack[1].file == "src/app.cpp");
  CHECK(stack[1].line == 12);
  CHECK_FALSE(stack[1].inlined);
  CHECK(stack[2].function.empty());  // unnamed: module and offset
  CHECK(stack[2].module == "/bin/app");
  CHECK(stack[2].offset == 0x402000);
  CHECK(r.symbols.modules_without_file == 0);  // no module was opened
}

TEST_CASE("damaged symbols sections fail with one FormatError, never a crash") {
  std::vector<unsigned char> good = measure::encode_capture(carried());
  std::size_t failures = 0;
  for (std::size_t i = measure::format::header_size; i < good.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80, 0xff}) {
      std::vector<unsigned char> bad = good;
      bad[i] ^= flip;
      try {
        measure::parse_capture(measure::test::with_fixed_checksums(bad), "mem");
      } catch (const measure::FormatError&) {
        ++failures;
      }
    }
    try {
      measure::parse_capture(std::span(good.data(), i), "mem");
      FAIL("a truncated capture was read at " << i);
    } catch (const measure::FormatError&) {
    }
  }
  CHECK(failures > 0);

  measure::Capture c = carried();
  c.symbols.addresses[1].frames.push_back({9, 0, 0});  // past the string table
  CHECK_THROWS_WITH_AS(measure::parse_capture(measure::encode_capture(c), "mem"),
                       doctest::Contains("a string index past the string table in the symbols section"),
                       measure::FormatError);
  c = carried();
  std::swap(c.symbols.addresses[0], c.symbols.addresses[1]);
  CHECK_THROWS_AS(measure::encode_capture(c), measure::Error);
}
