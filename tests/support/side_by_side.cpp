#include "support/side_by_side.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <doctest/doctest.h>

#include "format/capture.h"
#include "format/capture_format.h"
#include "support/skip.h"

namespace measure::test {
namespace fs = std::filesystem;

std::string elf_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    std::size_t end = std::min(dirs.find(':', start), dirs.size());
    fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec) && ::access(candidate.c_str(), X_OK) == 0 &&
        read_text(candidate.string())
                .compare(0, 4,
                         "\x7f"
                         "ELF") == 0) {
      return candidate.string();
    }
    start = end + 1;
  }
  return {};
}

std::string installed(const std::string& name) {
  std::string path = elf_in_path(name);
  if (path.empty()) {
    skip_test_case(name + " is not installed (scripts/install-deps.sh installs it)");
  }
  return path;
}

ProcessOptions reproducible_options(const std::string& directory, const std::string& home, double timeout_seconds) {
  ProcessOptions o;
  o.directory = directory;
  o.env = {{"LC_ALL", "C"}, {"TZ", "UTC"}, {"HOME", home}};
  o.unset = {"LANG", "LANGUAGE", "LD_PRELOAD", "MEASURE_OUTPUT"};
  o.timeout_seconds = timeout_seconds;
  return o;
}

ProcessResult run_measured(const std::vector<std::string>& argv, const ProcessOptions& options,
                           const std::string& capture, const std::vector<std::string>& run_flags) {
  std::vector<std::string> command = {tool_path(), "run", "-q", "-o", capture};
  command.insert(command.end(), run_flags.begin(), run_flags.end());
  command.emplace_back("--");
  command.insert(command.end(), argv.begin(), argv.end());
  return run_process_with(command, options);
}

SideBySide run_side_by_side(const std::vector<std::string>& argv, const ProcessOptions& options,
                            const std::string& capture, const std::vector<std::string>& run_flags) {
  ProcessResult native = run_process_with(argv, options);
  return {native, run_measured(argv, options, capture, run_flags)};
}

void check_same_behaviour(const ProcessResult& native, const ProcessResult& measured) {
  CAPTURE(native.err);
  CAPTURE(measured.err);
  REQUIRE_FALSE(native.timed_out);
  REQUIRE_FALSE(measured.timed_out);
  CHECK(measured.status() == native.status());
  CHECK(measured.out == native.out);
  CHECK(measured.err == native.err);
}

nlohmann::json check_complete_capture(const std::string& path, const std::string& module) {
  CAPTURE(path);
  REQUIRE(fs::exists(path));
  Capture c = read_capture(path);
  CHECK((c.program.flags & format::program_final) != 0);
  CHECK((c.program.flags & format::program_hooks_inactive) == 0);
  auto r = run_process({tool_path(), "report", path, "--by", "module", "--top", "0", "--format", "json"});
  REQUIRE(r.status() == 0);
  nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["mode"] == "exact");
  CHECK(j["warnings"].empty());
  const nlohmann::json& t = j["totals"];
  CHECK(t["alloc_count"].get<std::uint64_t>() > 0);
  CHECK(t["peak_bytes"].get<std::uint64_t>() > 0);
  CHECK(t["live_count"].get<std::uint64_t>() + t["free_count"].get<std::uint64_t>() == t["alloc_count"]);
  CHECK(t["live_bytes"].get<std::uint64_t>() + t["freed_bytes"].get<std::uint64_t>() == t["alloc_bytes"]);
  CHECK(t["peak_bytes"] >= t["live_bytes"]);
  for (const char* lost : {"dropped_events", "unknown_stacks", "unknown_stack_allocations", "unmatched_frees",
                           "mismatched_frees", "bootstrap_allocations"}) {
    CAPTURE(lost);
    CHECK(j["dropped"][lost] == 0);
  }
  std::uint64_t own = 0;
  for (const auto& row : j["rows"]) {
    if (row["key"]["module"].is_string() && fs::path(row["key"]["module"].get<std::string>()) == module) {
      own += row["alloc_count"].get<std::uint64_t>();
    }
  }
  CHECK_MESSAGE(own > 0, "no allocation attributed to " << module);
  return j;
}

void check_top_capture(const std::string& path, const std::vector<std::string>& argv, int status) {
  nlohmann::json j = check_complete_capture(path, fs::canonical(argv.front()).string());
  CHECK(j["program"]["argv"] == argv);
  CHECK(j["program"]["exit_status"] == status);
}

}  // namespace measure::test
