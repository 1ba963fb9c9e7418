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

std::string_view metric_heading(SortBy sort) noexcept {
  switch (sort) {
    case SortBy::bytes:
      return "bytes allocated";
    case SortBy::count:
      return "allocation count";
    case SortBy::peak:
      return "bytes live at the peak";
    case SortBy::leaked:
      return "bytes leaked";
    case SortBy::temporary:
      return "temporary allocations";
  }
  return "bytes allocated";
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
                       first > 1 ? fmt::format(", {} more frames inside it", first - 1) : "");
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
    out += fmt::format("{:{}}   … {} more frames\n", "", indent, end - first - shown);
  } else if (row.stack_truncated && end == stack.size()) {
    out += fmt::format("{:{}}   … (stack truncated at depth {})\n", "", indent, depth);
  }
  if (row.stack_count > 1) {
    out += fmt::format("{:{}}   ({} distinct stacks; the heaviest is shown)\n", "", indent, row.stack_count);
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
  if (p.mode == CaptureMode::sampled) {
    notes.push_back(fmt::format("sampled mode: per-stack counts and bytes are estimates from a byte-weighted "
                                "sample (one sample per {} on average); totals and peak are exact",
                                human_bytes(p.sample_interval)));
    notes.push_back(fmt::format("sampled mode: MEASURE_SEED={} repeats these samples", c.diagnostic("sample_seed")));
  } else if (p.mode == CaptureMode::counters) {
    notes.push_back("counters mode: no stacks were recorded, only totals per process, thread and scope");
  }
  if (r.truncated_stacks != 0) {
    notes.push_back(fmt::format("{} stacks ({} allocations) were truncated at depth {} (MEASURE_DEPTH or --depth)",
                                grouped(r.truncated_stacks), grouped(r.truncated_allocations), p.depth));
  }
  if (r.partial_stacks != 0) {
    notes.push_back(
        fmt::format("{} stacks ({} allocations) were recorded before unwind tables were loaded and may "
                    "miss frames",
                    grouped(r.partial_stacks), grouped(r.partial_allocations)));
  }
  if (r.unknown_stack_allocations != 0) {
    notes.push_back(fmt::format("{} allocations have no stack", grouped(r.unknown_stack_allocations)));
  }
  auto counter = [&](std::string_view name, std::string_view text) {
    if (std::uint64_t v = c.diagnostic(name); v != 0) {
      notes.push_back(fmt::format("{} {}", grouped(v), text));
    }
  };
  counter("unmatched_frees", "frees of blocks the runtime never saw allocated (ignored)");
  counter("mismatched_frees", "frees by the wrong family (delete of malloc'ed memory, free of new'ed memory, ...)");
  counter("dropped_events", "events not recorded because the toolkit ran out of memory");
  counter("unknown_stacks", "allocations kept without a stack because the stack table was full");
  counter("bootstrap_allocations", "allocations made by the loader before the allocator was found (not counted)");
  counter("inexact_recalls",
          "times the live bytes or the peak were decided while a thread's lease could not be taken back (a signal "
          "handler inside the runtime, or a thread stopped for over 2 s): they may be overstated by its headroom");
  if (r.symbols.modules_without_file != 0) {
    notes.push_back(fmt::format("{} modules are missing on this machine; their frames show as module+offset",
                                r.symbols.modules_without_file));
  }
  if (r.symbols.modules_build_id_mismatch != 0) {
    notes.push_back(
        fmt::format("{} modules changed since the capture (build-id differs); their frames show as "
                    "module+offset",
                    r.symbols.modules_build_id_mismatch));
  }
  for (const std::string& w2 : c.warnings) {
    notes.push_back(w2);
  }
  return notes;
}

std::string render_text(const Report& r) {
  const Capture& c = *r.capture;
  const Program& p = c.program;
  std::string out;
  std::string command = command_line(p);
  std::string status = "exit status unknown";
  if (p.exit) {
    status = p.exit->signal != 0 ? fmt::format("killed by signal {}", p.exit->signal)
                                 : fmt::format("exit status {}", p.exit->status);
  }
  out += fmt::format("measure report: {}\n", command);
  if (!r.options.scope.empty() && !c.scopes.empty()) {
    out += fmt::format("  inside scope '{}' only: {} entries, peak up to {} in one entry\n", r.options.scope,
                       grouped(c.scopes.front().entries), human_bytes(c.scopes.front().peak_max));
  }
  out += fmt::format("  pid {}, {} mode, {}, ran {:.3f} s\n", p.pid, mode_name(p.mode), status,
                     static_cast<double>(p.duration_ns) / 1e9);
  const Metrics& t = c.totals;
  out += fmt::format("  allocated {} in {} blocks; freed {} in {} blocks\n", human_bytes(t.alloc_bytes),
                     grouped(t.alloc_count), human_bytes(t.freed_bytes), grouped(t.free_count));
  detail::Unknown unknown = detail::unknown_in_rows(r);
  out += fmt::format("  peak {} live; leaked {} in {} blocks; {}\n", human_bytes(t.peak_bytes),
                     human_bytes(t.live_bytes), grouped(t.live_count),
                     detail::unknown_in_totals(r).temporary
                         ? std::string("temporaries are not tracked inside scopes")
                         : fmt::format("{} temporary allocations", grouped(t.temporary_count)));
  if (!r.options.include.empty() || !r.options.exclude.empty()) {
    out += fmt::format("  filters keep {} in {} blocks ({} of bytes)\n", human_bytes(r.selected.alloc_bytes),
                       grouped(r.selected.alloc_count), percent(r.selected.alloc_bytes, t.alloc_bytes));
  }
  if (r.options.scope.empty()) {
    std::vector<std::string> chart = timeline_chart(c.timeline, 60, 4);
    out += chart.empty() ? "" : "\n";
    for (const std::string& line : chart) {
      out += line;
      out += '\n';
    }
  }
  out += fmt::format("\nTop {} of {} {} by {}{}:\n\n", r.shown, r.rows.size(), rows_noun(r.options.by, r.rows.size()),
                     metric_heading(r.options.sort), r.options.cumulative ? " (cumulative)" : "");

  struct Cells {
    std::string rank, allocated, blocks, peak, leaked, leaked_blocks, temporary, location;
  };
  std::vector<Cells> cells;
  cells.push_back({"#", "allocated", "blocks", "peak", "leaked", "blocks", "temp", "location"});
  for (std::size_t i = 0; i < r.shown; ++i) {
    const Row& row = r.rows[i];
    const Metrics& m = row.metrics;
    cells.push_back({fmt::to_string(i + 1), human_bytes(m.alloc_bytes), grouped(m.alloc_count),
                     unknown.peak ? "-" : human_bytes(m.peak_bytes), human_bytes(m.live_bytes), grouped(m.live_count),
                     unknown.temporary ? "-" : grouped(m.temporary_count), describe_key(row.key, r.options.by, true)});
  }
  std::size_t w[7] = {};
  for (const Cells& c2 : cells) {
    const std::string* cols[] = {&c2.rank,   &c2.allocated,     &c2.blocks,   &c2.peak,
                                 &c2.leaked, &c2.leaked_blocks, &c2.temporary};
    for (std::size_t k = 0; k < 7; ++k) {
      w[k] = std::max(w[k], cols[k]->size());
    }
  }
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const Cells& c2 = cells[i];
    out += fmt::format("  {:>{}}  {:>{}}  {:>{}}  {:>{}}  {:>{}}  {:>{}}  {:>{}}  {}\n", c2.rank, w[0], c2.allocated,
                       w[1], c2.blocks, w[2], c2.peak, w[3], c2.leaked, w[4], c2.leaked_blocks, w[5], c2.temporary,
                       w[6], c2.location);
    if (i == 0) {
      continue;
    }
    const Row& row = r.rows[i - 1];
    if (r.options.by == GroupBy::scope) {
      Metrics each = per_entry(row.metrics, row.entries);
      out += fmt::format("{:{}}{} entr{}; per entry {} allocation{} ({}), {} free{}, peak up to {}\n", "", w[0] + 4,
                         grouped(row.entries), row.entries == 1 ? "y" : "ies", grouped(each.alloc_count),
                         each.alloc_count == 1 ? "" : "s", human_bytes(each.alloc_bytes), grouped(each.free_count),
                         each.free_count == 1 ? "" : "s", human_bytes(row.metrics.peak_bytes));
    } else {
      write_stack(out, row, r.stack(row), w[0] + 4, p.depth);
    }
  }

  // What the table leaves out, and what the capture could not see.
  std::uint64_t shown_bytes = 0;
  for (std::size_t i = 0; i < r.shown; ++i) {
    shown_bytes += r.rows[i].metrics.alloc_bytes;
  }
  out += "\n";
  out += fmt::format("Shown: {} of {} {}, {} of bytes allocated.\n", r.shown, r.rows.size(),
                     rows_noun(r.options.by, r.rows.size()), percent(shown_bytes, r.selected.alloc_bytes));
  std::vector<std::string> notes = report_notes(r);
  if (notes.empty()) {
    out += "Complete: no stacks truncated, no events dropped, no unmatched frees.\n";
  } else {
    for (const std::string& n : notes) {
      out += fmt::format("Note: {}.\n", n);
    }
  }
  out += fmt::format("Toolkit memory: {} at the end, {} at most (not included above).\n", human_bytes(c.toolkit_bytes),
                     human_bytes(c.toolkit_peak_bytes));
  out +=
      "Columns: allocated = requested bytes; blocks = allocations; peak = live bytes at the moment of the\n"
      "global peak; leaked = still live at exit (bytes, blocks); temp = freed by the same thread before its\n"
      "next allocation.\n";
  return out;
}

}  // namespace measure
