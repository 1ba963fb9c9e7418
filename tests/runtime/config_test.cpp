#include "runtime/config.h"

#include <string>

#include <doctest/doctest.h>

using measure::detail::Mode;
using measure::detail::Options;
using measure::detail::parse_byte_count;
using measure::detail::parse_environment;

TEST_CASE("configuration: values are read from MEASURE_* variables") {
  char mode[] = "MEASURE_MODE=exact";
  char depth[] = "MEASURE_DEPTH=12";
  char output[] = "MEASURE_OUTPUT=/tmp/x.%p.msr";
  char other[] = "PATH=/usr/bin";
  char* env[] = {mode, depth, output, other, nullptr};
  Options o;
  parse_environment(env, o);
  CHECK(o.mode == Mode::exact);
  CHECK(o.depth == 12);
  CHECK(std::string(o.output) == "/tmp/x.%p.msr");
}

TEST_CASE("configuration: bad values keep the defaults") {
  char depth[] = "MEASURE_DEPTH=0";
  char mode[] = "MEASURE_MODE=turbo";
  char interval[] = "MEASURE_SAMPLE_INTERVAL=lots";
  char unknown[] = "MEASURE_COLOUR=blue";
  char* env[] = {depth, mode, interval, unknown, nullptr};
  Options o;
  parse_environment(env, o);  // warns on stderr four times
  CHECK(o.depth == 64);
  CHECK(o.mode == Mode::exact);
  CHECK(o.sample_interval == 512 * 1024);
}

TEST_CASE("configuration: MEASURE_SEED takes a decimal number, else the seed is random") {
  char seed[] = "MEASURE_SEED=18446744073709551615";
  char* env[] = {seed, nullptr};
  Options o;
  parse_environment(env, o);
  CHECK(o.seed_set);
  CHECK(o.seed == UINT64_MAX);
  for (const char* bad :
       {"MEASURE_SEED=", "MEASURE_SEED=12x", "MEASURE_SEED=-1", "MEASURE_SEED=18446744073709551616"}) {
    std::string text = bad;
    char* bad_env[] = {text.data(), nullptr};
    Options b;
    parse_environment(bad_env, b);  // one warning each
    CAPTURE(bad);
    CHECK_FALSE(b.seed_set);
  }
}

TEST_CASE("configuration: byte counts with binary suffixes") {
  std::uint64_t v = 0;
  CHECK((parse_byte_count("4096", &v) && v == 4096));
  CHECK((parse_byte_count("512K", &v) && v == 512 * 1024));
  CHECK((parse_byte_count("2MiB", &v) && v == 2 * 1024 * 1024));
  CHECK((parse_byte_count("1g", &v) && v == 1024ULL * 1024 * 1024));
  CHECK_FALSE(parse_byte_count("", &v));
  CHECK_FALSE(parse_byte_count("-1", &v));
  CHECK_FALSE(parse_byte_count("12Q", &v));
  CHECK_FALSE(parse_byte_count("99999999999999999999999", &v));
}
