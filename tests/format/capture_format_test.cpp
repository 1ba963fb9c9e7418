// The capture format: round trips, and clean errors for every kind of damage.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "format/capture.h"
#include "support/error.h"
#include "support/subprocess.h"

using namespace measure;

namespace {

Capture sample() {
  Capture c;
  c.program.executable = "/usr/bin/sample";
  c.program.arguments = {"sample", "--flag", "with space", ""};
  c.program.pid = 4242;
  c.program.parent_pid = 1;
  c.program.mode = CaptureMode::exact;
  c.program.depth = 64;
  c.program.sample_interval = 524288;
  c.program.start_time_ns = 1700000000000000000ULL;
  c.program.end_time_ns = 1700000001000000000ULL;
  c.program.duration_ns = 1000000000ULL;
  c.program.flags = 1;
  c.program.exit = ExitInfo{143, 15};
  Module exe;
  exe.path = "/usr/bin/sample";
  exe.build_id = std::string("\x01\x02\xfe\xff", 4);
  exe.load_bias = 0x555555554000ULL;
  exe.segments = {{0, 0x1000, 0, 4}, {0x1000, 0x2345, 0x1000, 5}};
  Module lib;
  lib.path = "/lib/libfoo.so";
  lib.load_bias = 0x7f0000000000ULL;
  lib.first_generation = 0;
  lib.end_generation = 1;
  lib.segments = {{0, 0x8000, 0, 5}};
  c.modules = {exe, lib};
  c.stacks = {Stack{}, Stack{0, 0, {0x555555555123ULL, 0x555555555100ULL, 0x7f0000000010ULL}},
              Stack{1, 1, {0x400000, 0x7fffffffffffULL, 0x1}}};
  Metrics m1{10, 1000, 4, 400, 6, 600, 800, 3};
  Metrics m2{1, 1ULL << 40, 1, 1ULL << 40, 0, 0, 0, 1};
  c.sites = {Site{1, m1}, Site{2, m2}};
  c.totals = m1;
  c.totals += m2;
  c.toolkit_bytes = 123456;
  c.toolkit_peak_bytes = 234567;
  c.resident_bytes = 1 << 24;
  c.threads = 3;
  c.diagnostics = {{"unmatched_frees", 2}, {"future_counter", 9}};
  c.warnings = {"a warning"};
  c.timeline.interval_ns = 2000000;
  c.timeline.peak_bytes = 1ULL << 40;
  c.timeline.peak_after_ns = 4000000;
  c.timeline.peak_before_ns = 6000000;
  c.timeline.samples = {{0, 0, 1 << 20}, {2000000, 1000, 1 << 21}, {6000000, 1ULL << 40, 1ULL << 41}, {6000000, 5, 7}};
  return c;
}

void expect_format_error(const std::vector<unsigned char>& bytes, const std::string& fragment) {
  try {
    parse_capture(bytes, "test.msr");
    FAIL("no error for damaged input");
  } catch (const FormatError& e) {
    std::string what = e.what();
    CAPTURE(what);
    CHECK(what.rfind("test.msr: ", 0) == 0);
    CHECK(what.find(fragment) != std::string::npos);
    CHECK(what.find('\n') == std::string::npos);
  }
}

}  // namespace

TEST_CASE("capture format: encode then decode gives the same capture") {
  Capture c = sample();
  std::vector<unsigned char> bytes = encode_capture(c);
  Capture back = parse_capture(bytes, "round trip");
  CHECK(back == c);
  CHECK(encode_capture(back) == bytes);  // deterministic
}

TEST_CASE("capture format: a capture without an exit section has an unknown exit status") {
  Capture c = sample();
  c.program.exit.reset();
  Capture back = parse_capture(encode_capture(c), "x");
  CHECK_FALSE(back.program.exit.has_value());
}

TEST_CASE("capture format: files round-trip through the atomic writer") {
  measure::test::TempDir dir;
  Capture c = sample();
  write_capture(c, dir.file("a.msr"));
  CHECK(read_capture(dir.file("a.msr")) == c);
  CHECK_THROWS_AS(write_capture(c, dir.file("missing/dir/a.msr")), IoError);
  CHECK_THROWS_AS(read_capture(dir.file("absent.msr")), IoError);
}

TEST_CASE("capture format: the atomic writer keeps links and never replaces a FIFO or device") {
  measure::test::TempDir dir;
  Capture c = sample();
  write_capture(c, dir.file("target.msr"));
  std::filesystem::create_symlink("target.msr", dir.file("link.msr"));
  c.program.pid = 4321;
  write_capture(c, dir.file("link.msr"));
  CHECK(std::filesystem::is_symlink(dir.file("link.msr")));
  CHECK(read_capture(dir.file("target.msr")).program.pid == 4321);

  // A FIFO stands for /dev/null and /dev/stdout: renaming over it would make it a plain file.
  // Opened read-write first, so the writer never blocks and the bytes wait in the pipe.
  std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  int pipe_end = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK);
  REQUIRE(pipe_end >= 0);
  std::string text = "through the pipe\n";
  write_file_atomically(fifo, std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
  char got[64] = {};
  ssize_t n = ::read(pipe_end, got, sizeof got);
  ::close(pipe_end);
  CHECK(std::string(got, n > 0 ? static_cast<std::size_t>(n) : 0) == text);
  CHECK(std::filesystem::is_fifo(fifo));
}

TEST_CASE("capture format: truncation at every byte is reported, never misread") {
  std::vector<unsigned char> bytes = encode_capture(sample());
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    std::vector<unsigned char> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size));
    CAPTURE(size);
    CHECK_THROWS_AS(parse_capture(cut, "test.msr"), FormatError);
  }
  expect_format_error({}, "empty");
  expect_format_error({bytes.begin(), bytes.begin() + 40}, "truncated");
}

TEST_CASE("capture format: any flipped bit is detected") {
  std::vector<unsigned char> bytes = encode_capture(sample());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (int bit : {0, 3, 7}) {
      std::vector<unsigned char> damaged = bytes;
      damaged[i] ^= static_cast<unsigned char>(1U << bit);
      CAPTURE(i);
      CHECK_THROWS_AS(parse_capture(damaged, "test.msr"), FormatError);
    }
  }
}

TEST_CASE("capture format: foreign, newer and padded files") {
  std::vector<unsigned char> bytes = encode_capture(sample());
  std::vector<unsigned char> text = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!', '!', '!', '!', '!'};
  expect_format_error(text, "not a measure capture");
  std::vector<unsigned char> newer = bytes;
  newer[8] = 2;
  expect_format_error(newer, "newer than this measure reads");
  std::vector<unsigned char> zero = bytes;
  zero[8] = 0;
  expect_format_error(zero, "version 0");
  std::vector<unsigned char> padded = bytes;
  padded.push_back(0);
  expect_format_error(padded, "after the end marker");
}

TEST_CASE("capture format: the timeline is optional and checked") {
  Capture c = sample();
  c.timeline = CaptureTimeline{};
  Capture back = parse_capture(encode_capture(c), "no timeline");
  CHECK(back.timeline.empty());
  CHECK(back == c);

  c = sample();
  std::swap(c.timeline.peak_after_ns, c.timeline.peak_before_ns);
  expect_format_error(encode_capture(c), "the timeline's peak ends before it starts");

  c = sample();
  c.timeline.samples[1].time_ns = 7000000;  // after the next sample
  CHECK_THROWS_AS(encode_capture(c), Error);
}
