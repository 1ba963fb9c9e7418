// The gates of `measure diff`: METRIC:LIMIT parsed, and evaluated on the totals and on every
// row, so a CI job fails on exactly the change it cares about.
#include <cctype>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "diff/diff.h"
#include "support/error.h"

namespace measure {
namespace {

bool grew_past(std::uint64_t before, std::uint64_t after, double percent) noexcept {
  if (after <= before) {
    return false;
  }
  if (before == 0) {
    return true;
  }
  return static_cast<double>(after - before) * 100.0 > percent * static_cast<double>(before);
}

// A whole number with an optional binary unit (K, M, G, optionally followed by B or iB) for
// byte metrics. False when it is not one.
bool parse_amount(std::string_view text, bool bytes, std::uint64_t* out) {
  std::size_t digits = 0;
  std::uint64_t value = 0;
  for (; digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0; ++digits) {
    if (value > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) {
      return false;
    }
    value = value * 10 + static_cast<std::uint64_t>(text[digits] - '0');
  }
  if (digits == 0) {
    return false;
  }
  std::string unit;
  for (char c : text.substr(digits)) {
    unit.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  unsigned shift = 0;
  if (!unit.empty()) {
    if (!bytes) {
      return false;
    }
    std::string_view prefix = std::string_view(unit).substr(0, 1);
    std::string_view rest = std::string_view(unit).substr(1);
    if (unit == "b") {
      shift = 0;
    } else if ((rest.empty() || rest == "b" || rest == "ib") && (prefix == "k" || prefix == "m" || prefix == "g")) {
      shift = prefix == "k" ? 10 : prefix == "m" ? 20 : 30;
    } else {
      return false;
    }
  }
  if (shift != 0 && value > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
    return false;
  }
  *out = value << shift;
  return true;
}

}  // namespace

Gate parse_gate(std::string_view text) {
  auto fail = [&](std::string_view why) {
    return UsageError(
        fmt::format("--fail-on '{}': {} (expected METRIC:LIMIT such as peak_bytes:5%, "
                    "live_bytes:0 or alloc_count:+1000)",
                    text, why));
  };
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    throw fail("no ':' between the metric and the limit");
  }
  std::string_view name = text.substr(0, colon);
  std::string_view limit = text.substr(colon + 1);
  std::optional<Metric> metric = parse_metric(name);
  if (!metric) {
    throw fail(
        fmt::format("unknown metric '{}' (one of alloc_count, alloc_bytes, free_count, freed_bytes, "
                    "live_count, live_bytes, peak_bytes, temporary_count)",
                    name));
  }
  Gate gate;
  gate.metric = *metric;
  gate.text = std::string(text);
  if (!limit.empty() && limit.back() == '%') {
    std::string number(limit.substr(0, limit.size() - 1));
    char* end = nullptr;
    double percent = number.empty() ? -1 : std::strtod(number.c_str(), &end);
    if (number.empty() || end != number.c_str() + number.size() || !(percent >= 0) || !std::isfinite(percent)) {
      throw fail("the percentage must be a number of 0 or more");
    }
    gate.kind = Gate::Kind::percent;
    gate.percent = percent;
    return gate;
  }
  gate.kind = Gate::Kind::ceiling;
  if (!limit.empty() && limit.front() == '+') {
    gate.kind = Gate::Kind::increase;
    limit.remove_prefix(1);
  }
  if (!parse_amount(limit, is_byte_metric(gate.metric), &gate.amount)) {
    throw fail(is_byte_metric(gate.metric) ? "the limit must be N%, +N or N (a byte count, K, M or G allowed)"
                                           : "the limit must be N%, +N or N (a whole number of blocks)");
  }
  return gate;
}

std::vector<Gate> fail_on_increase_gates(double percent, std::uint64_t min_bytes) {
  if (!(percent >= 0) || !std::isfinite(percent)) {
    throw UsageError(fmt::format("--fail-on-increase {}: expected a percentage of 0 or more", percent));
  }
  std::vector<Gate> gates;
  for (Metric metric : {Metric::alloc_bytes, Metric::alloc_count}) {
    Gate& g = gates.emplace_back();
    g.metric = metric;
    g.kind = Gate::Kind::percent;
    g.percent = percent;
    g.min_bytes = min_bytes;
    g.text = fmt::format("{}:{}%", metric_name(metric), percent);
  }
  return gates;
}

bool gate_fails(const Gate& gate, const Metrics& before, const Metrics& after) noexcept {
  std::uint64_t a = before.value(gate.metric);
  std::uint64_t b = after.value(gate.metric);
  switch (gate.kind) {
    case Gate::Kind::ceiling:
      return b > gate.amount;
    case Gate::Kind::increase:
      return b > a && b - a > gate.amount;
    case Gate::Kind::percent: {
      if (!grew_past(a, b, gate.percent)) {
        return false;
      }
      // A relative gate ignores changes too small to matter: for a byte metric its own growth,
      // for a count the growth of the bytes allocated.
      Metric bytes = is_byte_metric(gate.metric) ? gate.metric : Metric::alloc_bytes;
      std::uint64_t from = before.value(bytes);
      std::uint64_t to = after.value(bytes);
      return gate.min_bytes == 0 || (to >= from && to - from >= gate.min_bytes);
    }
  }
  return false;
}

}  // namespace measure
