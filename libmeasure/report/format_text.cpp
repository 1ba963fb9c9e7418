// The text report: a header with the program and totals, an aligned top-N table with human
// units and each row's heaviest stack beneath it, and a footer that says what was left out,
// what could not be seen, and what each column means.
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "report/formats.h"

namespace measure {
namespace {

constexpr std::size_t stack_lines = 8;  // frames shown beneath a row

std::string base_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

}  // namespace

std::string_view metric_heading(SortBy sort, bool partial) noexcept {
  switch (sort) {
    case SortBy::bytes:
      return "bytes allocated";
    case SortBy::count:
      return "allocation count";
    case SortBy::peak:
      return "bytes live at the peak";
    case SortBy::leaked:
      return partial ? "bytes live at the checkpoint" : "bytes leaked";
    case SortBy::temporary:
      return "temporary allocations";
  }
  return "bytes allocated";
}

bool live_is_not_leaked(const Report& r) noexcept {
  const Capture& c = *r.capture;
  return c.partial() || c.diagnostic("written_at_detach") != 0 || r.options.range.has_value();
}

std::string_view metric_heading(const Report& r) noexcept {
  if (r.options.sort != SortBy::leaked || !live_is_not_leaked(r)) {
    return metric_heading(r.options.sort, false);
  }
  return r.options.range                                   ? "bytes live at the range's highest point"
         : r.capture->diagnostic("written_at_detach") != 0 ? "bytes live at the detach"
                                                           : "bytes live at the checkpoint";
}

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", grouped(n), n == 1 ? one : many);
}

std::string partial_description(const Capture& c) {
  if (!c.partial()) {
    return {};
  }
  std::string when = human_duration(c.program.duration_ns);
  if (c.program.exit && c.program.exit->signal != 0) {
    return fmt::format(
        "partial capture: the program was killed by signal {}; this is its last checkpoint, {} after "
        "the start, and its live blocks are those live then, not leaks",
        c.program.exit->signal, when);
  }
  return fmt::format(
      "partial capture: written {} after the start while the program ran ({}); its live blocks are "
      "those live then, not leaks",
      when,
      c.program.exit ? "its last checkpoint: it ended without writing a final capture"
                     : "a checkpoint, or a capture written from inside the program");
}

std::string symbols_description(const SymbolizerStats& s) {
  std::size_t unreadable = s.modules_without_file + s.modules_build_id_mismatch;
  if (s.modules_from_capture == 0 && s.modules_from_files == 0 && unreadable == 0) {
    return {};
  }
  std::vector<std::string> parts;
  if (s.modules_from_capture != 0) {
    parts.push_back(fmt::format("stored in the capture for {}", plural(s.modules_from_capture, "module", "modules")));
  }
  if (s.modules_from_files != 0) {
    parts.push_back(
        fmt::format("read from this machine's files for {}{}", plural(s.modules_from_files, "module", "modules"),
                    s.modules_from_capture == 0 ? " (the capture stores none: see measure symbolize)" : ""));
  }
  if (unreadable != 0) {
    parts.push_back(
        fmt::format("unavailable for {} (shown as module+offset)", plural(unreadable, "module", "modules")));
  }
  std::string out = "symbols ";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  }
  return out;
}

std::string_view rows_noun(GroupBy by, std::size_t n) noexcept {
  bool one = n == 1;
  switch (by) {
    case GroupBy::stack:
      return one ? "stack" : "stacks";
    case GroupBy::function:
      return one ? "function" : "functions";
    case GroupBy::line:
      return one ? "line" : "lines";
    case GroupBy::file:
      return one ? "file" : "files";
    case GroupBy::module:
      return one ? "module" : "modules";
    case GroupBy::scope:
      return one ? "scope" : "scopes";
  }
  return "rows";
}

std::string percent(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) {
    return "0%";
  }
  return fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

namespace {

// A row's heaviest stack as people read it: from the program's own frame outwards, with the
// system frames it called into summarized on one line, and nothing beyond main().
void write_stack(std::string& out, const Row& row, const std::vector<Frame>& stack, std::size_t indent,
                 std::uint32_t depth) {
  const Frame* key = key_frame(stack);
  std::size_t first = key == nullptr ? 0 : static_cast<std::size_t>(key - stack.data());
  if (first > 0) {
    const Frame& entry = stack[first - 1];
    out += fmt::format("{:{}}in {}{}\n", "", indent, describe_frame(entry, true),
                       first > 1 ? fmt::format(", {} inside it", plural(first - 1, "more frame", "more frames")) : "");
  }
  std::size_t end = stack.size();
  for (std::size_t f = first; f < stack.size(); ++f) {
    if (stack[f].function == "main") {
      end = f + 1;
      break;
    }
  }
  std::size_t shown = std::min(end - first, stack_lines);
  for (std::size_t f = first; f < first + shown; ++f) {
    out += fmt::format("{:{}}{} {}\n", "", indent, f == first ? "at" : "  ", describe_frame(stack[f], true));
  }
  if (end - first > shown) {
    out += fmt::format("{:{}}   … {}\n", "", indent, plural(end - first - shown, "more frame", "more frames"));
  } else if (row.stack_truncated && end == stack.size()) {
    out += fmt::format("{:{}}   … (stack truncated at depth {})\n", "", indent, depth);
  }
  if (row.stack_count > 1) {
    out += fmt::format("{:{}}   ({} distinct stacks; the heaviest is shown)\n", "", indent, grouped(row.stack_count));
  }
}

}  // namespace

std::string human_bytes(std::uint64_t bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) {
    return fmt::format("{} B", bytes);
  }
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 5) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, units[unit]);
}

std::string grouped(std::uint64_t number) {
  std::string digits = fmt::to_string(number);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) {
      out.push_back(',');
    }
    out.push_back(digits[i]);
  }
  return out;
}

std::string describe_frame(const Frame& f, bool shorten) {
  std::string name = f.function.empty() ? std::string() : (shorten ? shorten_templates(f.function) : f.function);
  std::string where;
  if (!f.file.empty()) {
    where = f.line != 0 ? fmt::format("{}:{}", base_name(f.file), f.line) : base_name(f.file);
  } else if (!f.module.empty()) {
    where = fmt::format("{}+{:#x}", base_name(f.module), f.offset);
  } else {
    where = fmt::format("{:#x}", f.address);
  }
  if (name.empty()) {
    return where;
  }
  return fmt::format("{}  {}{}", name, where, f.inlined ? " (inlined)" : "");
}

std::string describe_key(const RowKey& k, GroupBy by, bool shorten) {
  auto fn = [&] { return k.function ? (shorten ? shorten_templates(*k.function) : *k.function) : std::string(); };
  std::string module = k.module ? base_name(*k.module) : std::string();
  if (k.scope) {
    return *k.scope;
  }
  switch (by) {
    case GroupBy::module:
      return k.module ? *k.module : "(unknown module)";
    case GroupBy::file:
      if (k.file) {
        return *k.file;
      }
      break;
    case GroupBy::function:
      if (k.function) {
        return fmt::format("{}  ({})", fn(), k.file ? base_name(*k.file) : module);
      }
      break;
    case GroupBy::stack:
    case GroupBy::line:
    case GroupBy::scope:
      if (k.file) {
        std::string place = k.line ? fmt::format("{}:{}", base_name(*k.file), *k.line) : base_name(*k.file);
        return k.function ? fmt::format("{}  {}", place, fn()) : place;
      }
      if (k.function) {
        return fmt::format("{}  ({})", fn(), module);
      }
      break;
  }
  if (k.offset && k.module) {
    return fmt::format("{}+{:#x}", module, *k.offset);
  }
  if (k.offset) {
    return fmt::format("{:#x}", *k.offset);
  }
  return "(unknown stack)";
}

std::string command_line(const Program& p) {
  std::string command;
  for (const std::string& a : p.arguments) {
    command += (command.empty() ? "" : " ") + a;
  }
  return command.empty() ? p.executable : command;
}

std::vector<std::string> report_notes(const Report& r) {
  const Capture& c = *r.capture;
  const Program& p = c.program;
  std::vector<std::string> notes;
  if (std::string partial = partial_description(c); !partial.empty()) {
    notes.push_back(partial);
  }
  if (p.mode == CaptureMode::sampled) {
    notes.push_back(
        fmt::format("sampled mode: per-stack counts and bytes are estimates from a byte-weighted "
                    "sample (one sample per {} on average); totals are exact; the peak is sampled (the highest "
                    "live bytes seen at sample points and timeline ticks: the true peak is at least that); "
                    "per-stack peak and temporaries are not measured (—)",
                    human_bytes(p.sample_interval)));
    bool seeded = std::any_of(c.diagnostics.begin(), c.diagnostics.end(),
                              [](const Diagnostic& d) { return d.name == "sample_seed"; });
    if (seeded && c.diagnostic("merged_captures") <= 1) {
      notes.push_back(fmt::format("sampled mode: MEASURE_SEED={} repeats these samples", c.diagnostic("sample_seed")));
    }
  } else if (p.mode == CaptureMode::counters) {
    notes.push_back(
        "counters mode: no stacks were recorded, only totals per process, thread and scope; the peak is sampled "
        "(the highest live bytes seen at timeline ticks: the true peak is at least that); temporaries are not "
        "measured (—)");
  }
  if (r.truncated_stacks != 0) {
    notes.push_back(fmt::format("{} ({}) {} truncated at depth {} (MEASURE_DEPTH or --depth)",
                                plural(r.truncated_stacks, "stack", "stacks"),
                                plural(r.truncated_allocations, "allocation", "allocations"),
                                r.truncated_stacks == 1 ? "was" : "were", p.depth));
  }
  if (r.partial_stacks != 0) {
    notes.push_back(fmt::format("{} ({}) {} recorded before unwind tables were loaded and may miss frames",
                                plural(r.partial_stacks, "stack", "stacks"),
                                plural(r.partial_allocations, "allocation", "allocations"),
                                r.partial_stacks == 1 ? "was" : "were"));
  }
  if (r.unknown_stack_allocations != 0) {
    notes.push_back(
        fmt::format("{} no stack", plural(r.unknown_stack_allocations, "allocation has", "allocations have")));
  }
  auto counter = [&](std::string_view name, std::string_view one, std::string_view many, std::string_view text) {
    if (std::uint64_t v = c.diagnostic(name); v != 0) {
      notes.push_back(fmt::format("{} {}", plural(v, one, many), text));
    }
  };
  counter("unmatched_frees", "free", "frees", "of blocks the runtime never saw allocated (ignored)");
  counter("freed_before_attach", "free", "frees", "of blocks allocated before the attach (not counted)");
  counter("mismatched_frees", "free", "frees",
          "by the wrong family (delete of malloc'ed memory, free of new'ed memory, ...)");
  counter("dropped_events", "event", "events", "not recorded because the toolkit ran out of memory");
  counter("unknown_stacks", "allocation", "allocations", "kept without a stack because the stack table was full");
  counter("bootstrap_allocations", "allocation", "allocations",
          "made by the loader before the allocator was found (not counted)");
  counter("scopes_too_deep", "scope", "scopes", "opened beyond 32 nested on one thread were not recorded");
  counter("inexact_recalls", "time", "times",
          "the live bytes or the peak were decided while a thread's lease could not be taken back (a signal "
          "handler inside the runtime, or a thread stopped for over 2 s): they may be overstated by its headroom");
  if (r.symbols.modules_without_file != 0) {
    notes.push_back(
        fmt::format("{} missing on this machine and not stored in the capture; their frames show as "
                    "module+offset",
                    plural(r.symbols.modules_without_file, "module is", "modules are")));
  }
  if (r.symbols.modules_build_id_mismatch != 0) {
    notes.push_back(
        fmt::format("{} changed since the capture (build-id differs) and not stored in it; their frames "
                    "show as module+offset",
                    plural(r.symbols.modules_build_id_mismatch, "module", "modules")));
  }
  for (const std::string& w2 : c.warnings) {
    notes.push_back(w2);
  }
  return notes;
}

std::string run_description(const Capture& c) {
  const Program& p = c.program;
  std::string status = "exit status unknown";
  if (p.exit) {
    status = p.exit->signal != 0 ? fmt::format("killed by signal {}", p.exit->signal)
                                 : fmt::format("exit status {}", p.exit->status);
  }
  std::uint64_t merged = c.diagnostic("merged_captures");
  std::string who = merged > 1 ? fmt::format("{} processes merged (first: pid {})", grouped(merged), p.pid)
                               : fmt::format("pid {}", p.pid);
  if (c.diagnostic("attached") != 0) {
    bool to_exit = !c.partial() && c.diagnostic("written_at_detach") == 0;
    return fmt::format(
        "{}, {} mode, recorded from an attach for {:.3f} s{} (blocks allocated before it are not seen){}", who,
        mode_name(p.mode), static_cast<double>(p.duration_ns) / 1e9, to_exit ? ", until the process ended" : "",
        c.partial() ? " (partial: see the note below)" : "");
  }
  return fmt::format("{}, {} mode, {}, ran {:.3f} s{}", who, mode_name(p.mode), status,
                     static_cast<double>(p.duration_ns) / 1e9, c.partial() ? " (partial: see the note below)" : "");
}

std::string totals_description(const Report& r) {
  const Capture& c = *r.capture;
  const Metrics& t = c.totals;
  std::string temporary = r.unknown_in_totals.contains(Metric::temporary_count)
                              ? std::string(r.options.scope.empty() ? "temporaries not measured in this mode"
                                                                    : "temporaries are not tracked inside scopes")
                              : plural(t.temporary_count, "temporary allocation", "temporary allocations");
  if (r.options.range) {
    return fmt::format("live at {:.3f} s, the range's highest point: {} in {}",
                       static_cast<double>(r.options.range->highest_at_ns) / 1e9, human_bytes(t.live_bytes),
                       plural(t.live_count, "block", "blocks"));
  }
  std::string peak = c.program.mode == CaptureMode::exact
                         ? fmt::format("peak {} live", human_bytes(t.peak_bytes))
                         : fmt::format("peak at least {} live, sampled", human_bytes(t.peak_bytes));
  std::string_view live = c.partial()                              ? "live at the checkpoint"
                          : c.diagnostic("written_at_detach") != 0 ? "live at the detach"
                                                                   : "leaked";
  return fmt::format("{}; {} {} in {}; {}", peak, live, human_bytes(t.live_bytes),
                     plural(t.live_count, "block", "blocks"), temporary);
}

std::string shown_description(const Report& r) {
  std::string shown = fmt::format("Shown: {} of {} {}", grouped(r.shown), grouped(r.rows.size()),
                                  rows_noun(r.options.by, r.rows.size()));
  if (r.options.cumulative) {
    return shown + "; rows overlap (a stack counts toward every function on it)";
  }
  std::uint64_t shown_bytes = 0;
  for (std::size_t i = 0; i < r.shown; ++i) {
    shown_bytes += r.rows[i].metrics.alloc_bytes;
  }
  return fmt::format("{}, {} of bytes allocated", shown, percent(shown_bytes, r.selected.alloc_bytes));
}

std::string render_text(const Report& r) {
  const Capture& c = *r.capture;
  const Program& p = c.program;
  std::string out;
  out += fmt::format("measure report: {}\n", command_line(p));
  if (!r.options.scope.empty() && !c.scopes.empty()) {
    out += fmt::format("  inside scope '{}' only: {}, peak up to {} in one entry\n", r.options.scope,
                       plural(c.scopes.front().entries, "entry", "entries"), human_bytes(c.scopes.front().peak_max));
  }
  out += fmt::format("  {}\n", run_description(c));
  if (r.options.range) {
    out += fmt::format("  {}\n", range_description(*r.options.range));
  }
  const Metrics& t = c.totals;
  out += fmt::format("  allocated {} in {}; freed {} in {}\n", human_bytes(t.alloc_bytes),
                     plural(t.alloc_count, "block", "blocks"), human_bytes(t.freed_bytes),
                     plural(t.free_count, "block", "blocks"));
  out += fmt::format("  {}\n", totals_description(r));
  if (!r.options.include.empty() || !r.options.exclude.empty()) {
    out +=
        fmt::format("  filters keep {} in {} ({} of bytes)\n", human_bytes(r.selected.alloc_bytes),
                    plural(r.selected.alloc_count, "block", "blocks"), percent(r.selected.alloc_bytes, t.alloc_bytes));
  }
  if (r.options.scope.empty()) {
    std::vector<std::string> chart = timeline_chart(c.timeline, 60, 4);
    out += chart.empty() ? "" : "\n";
    for (const std::string& line : chart) {
      out += line;
      out += '\n';
    }
  }
  out += fmt::format("\nTop {} of {} {} by {}{}:\n\n", grouped(r.shown), grouped(r.rows.size()),
                     rows_noun(r.options.by, r.rows.size()), metric_heading(r),
                     r.options.cumulative ? " (cumulative)" : "");

  MetricSet unknown = r.unknown_in_rows;
  std::vector<std::vector<std::string>> cells;
  bool live_at_end = live_is_not_leaked(r);
  cells.push_back({"#", "allocated", "blocks", "peak", live_at_end ? "live" : "leaked", "blocks", "temp", "location"});
  for (std::size_t i = 0; i < r.shown; ++i) {
    const Row& row = r.rows[i];
    const Metrics& m = row.metrics;
    cells.push_back({fmt::to_string(i + 1), metric_cell(m, Metric::alloc_bytes, unknown),
                     metric_cell(m, Metric::alloc_count, unknown), metric_cell(m, Metric::peak_bytes, unknown),
                     metric_cell(m, Metric::live_bytes, unknown), metric_cell(m, Metric::live_count, unknown),
                     metric_cell(m, Metric::temporary_count, unknown), describe_key(row.key, r.options.by, true)});
  }
  // Columns are aligned by what the eye sees: "—" is one column wide, three bytes long.
  auto width_of = [](const std::string& text) {
    std::size_t w = 0;
    for (unsigned char ch : text) {
      w += (ch & 0xc0) != 0x80 ? 1 : 0;
    }
    return w;
  };
  std::size_t w[7] = {};
  for (const auto& row : cells) {
    for (std::size_t k = 0; k < 7; ++k) {
      w[k] = std::max(w[k], width_of(row[k]));
    }
  }
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const auto& row = cells[i];
    for (std::size_t k = 0; k < 7; ++k) {
      out += std::string(2 + w[k] - width_of(row[k]), ' ') + row[k];
    }
    out += fmt::format("  {}\n", row[7]);
    if (i == 0) {
      continue;
    }
    const Row& shown = r.rows[i - 1];
    if (r.options.by == GroupBy::scope) {
      Metrics each = per_entry(shown.metrics, shown.entries);
      out += fmt::format("{:{}}{}; per entry {} ({}), {}, peak up to {}\n", "", w[0] + 4,
                         plural(shown.entries, "entry", "entries"),
                         plural(each.alloc_count, "allocation", "allocations"), human_bytes(each.alloc_bytes),
                         plural(each.free_count, "free", "frees"), human_bytes(shown.metrics.peak_bytes));
    } else {
      write_stack(out, shown, r.stack(shown), w[0] + 4, p.depth);
    }
  }

  // What the table leaves out, and what the capture could not see.
  out += "\n";
  out += fmt::format("{}.\n", shown_description(r));
  std::vector<std::string> notes = report_notes(r);
  if (notes.empty()) {
    out += "Complete: no stacks truncated, no events dropped, no unmatched frees.\n";
  } else {
    for (const std::string& n : notes) {
      out += fmt::format("Note: {}.\n", n);
    }
  }
  if (std::string symbols = symbols_description(r.symbols); !symbols.empty()) {
    symbols[0] = 'S';
    out += fmt::format("{}.\n", symbols);
  }
  out += fmt::format("Toolkit memory: {} at the end, {} at most (not included above).\n", human_bytes(c.toolkit_bytes),
                     human_bytes(c.toolkit_peak_bytes));
  out += fmt::format(
      "Columns: allocated = requested bytes; blocks = allocations; peak = live bytes at the moment of the\n"
      "global peak; {} (bytes, blocks); temp = freed by the same thread before its\n"
      "next allocation; — = not measured.\n",
      r.options.range                          ? "live = live at the range's highest point"
      : c.partial()                            ? "live = still live at the checkpoint"
      : c.diagnostic("written_at_detach") != 0 ? "live = still live at the detach"
                                               : "leaked = still live at exit");
  return out;
}

}  // namespace measure
