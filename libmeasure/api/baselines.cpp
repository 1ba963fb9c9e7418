// Allocation baselines: a statement's allocations per function, kept in a text file next to
// the test, and compared on later runs (snapshot testing for allocations).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "api/api_internal.h"
#include "report/formats.h"

namespace measure {
namespace {

struct BaselineRow {
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
};

constexpr std::string_view total_key = "total";

// The statement's allocations by function ("function  (file)"), and their total.
std::map<std::string, BaselineRow> rows_of(const Counts& counts) {
  std::map<std::string, BaselineRow> rows;
  for (const ScopeSite& site : counts.sites()) {
    if (site.alloc_count == 0) {
      continue;
    }
    std::vector<Frame> frames = internal_frames(site.stack);
    std::string key = describe_key(key_for(key_frame(frames), GroupBy::function), GroupBy::function, true);
    BaselineRow& row = rows[key];
    row.count += site.alloc_count;
    row.bytes += site.alloc_bytes;
  }
  rows[std::string(total_key)] = BaselineRow{counts.alloc_count, counts.alloc_bytes};
  return rows;
}

std::string render(const std::map<std::string, BaselineRow>& rows) {
  std::string out =
      "# measure baseline: one statement's allocations per function (count, bytes, function).\n"
      "# Compared by the test that wrote it; rewritten when MEASURE_UPDATE_BASELINES=1.\n";
  for (const auto& [key, row] : rows) {
    if (key != total_key) {
      out += fmt::format("{}\t{}\t{}\n", row.count, row.bytes, key);
    }
  }
  const BaselineRow& total = rows.at(std::string(total_key));
  out += fmt::format("{}\t{}\t{}\n", total.count, total.bytes, total_key);
  return out;
}

// The rows of a baseline file; nullopt when it cannot be read, an error naming the line when
// it is not a baseline.
std::optional<std::map<std::string, BaselineRow>> read_baseline(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    return std::nullopt;
  }
  std::map<std::string, BaselineRow> rows;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream fields(line);
    BaselineRow row;
    std::string key;
    if (!(fields >> row.count >> row.bytes) || fields.get() != '\t' || !std::getline(fields, key) || key.empty()) {
      *error = fmt::format("{}:{}: not a baseline line (count, bytes, function, separated by tabs)", path, number);
      return std::nullopt;
    }
    rows[key] = row;
  }
  return rows;
}

bool write_baseline(const std::string& path, const std::string& text) {
  std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    if (!(out << text) || !out.flush()) {
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  return !ec;
}

bool updating() {
  const char* value = std::getenv("MEASURE_UPDATE_BASELINES");
  return value != nullptr && value[0] != '\0' && std::string_view(value) != "0";
}

std::string describe_row(const BaselineRow& row) {
  return fmt::format("{} allocation{} ({})", grouped(row.count), row.count == 1 ? "" : "s", human_bytes(row.bytes));
}

}  // namespace

std::optional<std::string> check_baseline(const Counts& counts, const std::string& path, double tolerance,
                                          std::string_view statement) {
  std::string prefix = statement.empty() ? std::string() : fmt::format("{}: ", statement);
  if (!counts.measured()) {
    return fmt::format("{}cannot compare with the baseline {}: {}", prefix, path, to_string(counts.status));
  }
  std::map<std::string, BaselineRow> now = rows_of(counts);
  std::string error;
  std::optional<std::map<std::string, BaselineRow>> base = read_baseline(path, &error);
  if (!error.empty()) {
    return prefix + error;
  }
  if (!base || updating()) {
    if (!write_baseline(path, render(now))) {
      return fmt::format("{}cannot write the baseline {}", prefix, path);
    }
    return std::nullopt;
  }
  auto above = [&](std::uint64_t value, std::uint64_t baseline) {
    return static_cast<double>(value) > static_cast<double>(baseline) * (1.0 + tolerance);
  };
  std::string lines;
  for (const auto& [key, row] : now) {
    auto it = base->find(key);
    if (it == base->end()) {
      lines += fmt::format("\n  {}: {}, not in the baseline", key, describe_row(row));
    } else if (above(row.count, it->second.count) || above(row.bytes, it->second.bytes)) {
      lines += fmt::format("\n  {}: {}, baseline {}", key, describe_row(row), describe_row(it->second));
    }
  }
  if (lines.empty()) {
    return std::nullopt;
  }
  return fmt::format(
      "{}allocations above the baseline {} (tolerance {:.0f}%):{}\n"
      "  (when the change is intended, run again with MEASURE_UPDATE_BASELINES=1 to rewrite it)",
      prefix, path, tolerance * 100.0, lines);
}

}  // namespace measure
