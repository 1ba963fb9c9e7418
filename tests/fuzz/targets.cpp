#include "fuzz/targets.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sys/stat.h>

#include "diff/diff.h"
#include "format/capture.h"
#include "fuzz/fixed_checksums.h"
#include "import/heaptrack.h"
#include "report/formats.h"
#include "support/error.h"
#include "symbols/stored_symbols.h"
#include "symbols/symbolizer.h"

namespace measure::test {
namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what);
  std::abort();
}

// A scratch directory of this process for the files the targets read, removed at exit (the
// name is never destroyed, so the exit handler can still read it).
const std::string& scratch() {
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    auto* made = new std::string(std::string(tmp != nullptr && *tmp == '/' ? tmp : "/tmp") + "/measure-fuzz-XXXXXX");
    if (::mkdtemp(made->data()) == nullptr) {
      finding("cannot make a scratch directory");
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch(), ec);
    });
    return made;
  }();
  return *dir;
}

void write_bytes(const std::string& path, std::span<const std::uint8_t> data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) {
    finding("cannot write a scratch file");
  }
}

// Every report format of a few groupings and sorts, a named scope, and diffs against itself and
// against nothing. Names come only from what the capture carries: module paths are cleared,
// so no file of this machine is read (fuzz_symbolizer reads files).
void render_everything(const Capture& capture) {
  Capture carried = capture;
  for (Module& m : carried.modules) {
    m.path.clear();
  }
  Symbolizer symbolizer(carried);
  FrameResolver resolve = [&](std::uint64_t address, std::uint32_t generation) -> const std::vector<Frame>& {
    return symbolizer.resolve(address, generation);
  };
  const GroupBy groupings[] = {GroupBy::line, GroupBy::function, GroupBy::stack, GroupBy::file, GroupBy::module};
  const SortBy sorts[] = {SortBy::bytes, SortBy::peak, SortBy::leaked, SortBy::temporary, SortBy::count};
  for (std::size_t i = 0; i < std::size(groupings); ++i) {
    ReportOptions options;
    options.by = groupings[i];
    options.sort = sorts[i];
    options.top = i % 2 == 0 ? 0 : 3;
    options.cumulative = i == 1;
    try {
      Report report = build_report(capture, options, resolve);
      for (const std::string& name : report_format_names()) {
        render_report(report, *parse_report_format(name));
      }
    } catch (const Error&) {
      // options this capture cannot honour (a metric its mode does not measure)
    }
  }
  try {
    ReportOptions options;
    options.by = GroupBy::scope;
    render_report(build_report(capture, options, resolve), ReportFormat::text);
    if (!capture.scopes.empty()) {
      Capture scoped = restrict_to_scope(capture, capture.scopes.front().name);
      options.by = GroupBy::line;
      render_report(build_report(scoped, options, resolve), ReportFormat::json);
    }
  } catch (const Error&) {
  }
  Capture empty;
  Symbolizer none(empty);
  FrameResolver resolve_none = [&](std::uint64_t address, std::uint32_t generation) -> const std::vector<Frame>& {
    return none.resolve(address, generation);
  };
  for (GroupBy by : {GroupBy::line, GroupBy::stack}) {
    DiffOptions options;
    options.by = by;
    options.top = 0;
    try {
      options.gates = {parse_gate("peak_bytes:5%"), parse_gate("live_bytes:0"), parse_gate("alloc_count:+10")};
      Diff same = build_diff(capture, capture, options, resolve, resolve);
      Diff grown = build_diff(empty, capture, options, resolve_none, resolve);
      for (DiffFormat format : {DiffFormat::text, DiffFormat::json, DiffFormat::markdown}) {
        render_diff(same, format);
        render_diff(grown, format);
      }
    } catch (const Error&) {
    }
  }
}

void round_trip(const Capture& capture) {
  if (!(parse_capture(encode_capture(capture), "re-encoded") == capture)) {
    finding("a capture does not read back as it was written");
  }
}

}  // namespace

void fuzz_capture_reader(std::span<const std::uint8_t> data) {
  std::vector<unsigned char> raw(data.begin(), data.end());
  for (const std::vector<unsigned char>& bytes : {raw, with_fixed_checksums(raw)}) {
    Capture capture;
    try {
      capture = parse_capture(bytes, "fuzz.msr");
    } catch (const FormatError&) {
      continue;
    }
    round_trip(capture);
    render_everything(capture);
  }
}

void fuzz_heaptrack_import(std::span<const std::uint8_t> data) {
  std::string path = scratch() + "/recording";
  write_bytes(path, data);
  Capture capture;
  try {
    capture = import_heaptrack(path);
  } catch (const FormatError&) {
    return;
  }
  round_trip(capture);
  render_everything(capture);
}

void fuzz_symbolizer(std::span<const std::uint8_t> data) {
  const std::string& dir = scratch();
  std::string file = dir + "/module";
  std::error_code ec;
  if (!std::filesystem::exists(dir + "/fifo", ec)) {
    ::mkfifo((dir + "/fifo").c_str(), 0600);
    std::filesystem::create_symlink(file, dir + "/link", ec);
  }
  const std::string names[] = {file, dir + "/link", dir + "/fifo", dir, dir + "/missing"};
  std::uint8_t kind = data.empty() ? 0 : data.front();
  std::span<const std::uint8_t> elf = data.empty() ? data : data.subspan(1);
  write_bytes(file, elf);

  Capture capture;
  capture.program.executable = names[kind % std::size(names)];
  Module module;
  module.path = capture.program.executable;
  module.load_bias = 0x10000;
  module.segments = {Segment{0, std::uint64_t{1} << 24, 0, 5}};
  capture.modules = {module, Module{}};
  // Addresses all over the file and beyond, in two stacks; frame 0 of each is an allocation
  // site the reports group by.
  std::vector<std::uint64_t> a;
  std::vector<std::uint64_t> b;
  std::uint64_t size = std::max<std::uint64_t>(elf.size(), 1);
  for (std::uint64_t i = 0; i < 48; ++i) {
    (i % 2 == 0 ? a : b).push_back(module.load_bias + 1 + size * i / 48 + (i % 3) * 0x1000);
  }
  capture.stacks = {Stack{}, Stack{0, 0, a}, Stack{0, 0, b}};
  Metrics m{3, 300, 1, 100, 2, 200, 200, 1};
  capture.sites = {Site{1, m}, Site{2, m}};
  capture.totals = m;
  capture.totals += m;

  Symbolizer symbolizer(capture);
  for (const Stack& s : capture.stacks) {
    for (std::uint64_t address : s.frames) {
      if (symbolizer.resolve(address, 0).empty()) {
        finding("an address resolved to no frame");
      }
    }
  }
  Capture stored = capture;
  store_symbols(stored);
  round_trip(stored);
  ReportOptions options;
  options.top = 0;
  render_report(build_report(capture, options), ReportFormat::json);
  render_everything(stored);
}

}  // namespace measure::test
