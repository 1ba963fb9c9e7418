#include "report/summary.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include <fmt/format.h>

#include "report/formats.h"

namespace measure {
namespace {

// The sample of stack `stack` (samples are in stack id order), or nullptr when the stack's
// call site was not selected.
const Sample* sample_of(const Report& report, std::uint32_t stack) {
  auto it = std::lower_bound(report.samples.begin(), report.samples.end(), stack,
                             [](const Sample& s, std::uint32_t id) { return s.stack < id; });
  return it != report.samples.end() && it->stack == stack ? &*it : nullptr;
}

std::string optional_bytes(const std::optional<std::uint64_t>& bytes) {
  return bytes ? human_bytes(*bytes) : "—";
}

std::string optional_count(const std::optional<std::uint64_t>& count) {
  return count ? grouped(*count) : "—";
}

// A bar of `width` columns for `part` of `whole`, in eighths of a column.
std::string bar(std::uint64_t part, std::uint64_t whole, std::size_t width) {
  static constexpr const char* eighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  if (whole == 0) {
    return {};
  }
  auto units =
      static_cast<std::size_t>(static_cast<double>(part) / static_cast<double>(whole) * static_cast<double>(width * 8));
  std::string out;
  for (std::size_t i = 0; i < units / 8; ++i) {
    out += "█";
  }
  out += eighths[units % 8];
  if (out.empty() && part != 0) {
    out = "▏";  // a class that holds anything shows
  }
  return out;
}

void write_thread(JsonWriter& j, const ThreadCounts& t) {
  j.key("alloc_count").value(t.alloc_count);
  j.key("alloc_bytes").value(t.alloc_bytes);
  j.key("free_count").value(t.free_count);
  j.key("freed_bytes").value(t.freed_bytes);
}

void write_lifetime(JsonWriter& j, std::string_view name, const LifetimeCounts& l) {
  j.key(name).begin_object();
  j.key("count").value(l.count);
  j.key("bytes").value(l.bytes);
  j.end_object();
}

}  // namespace

std::string size_class_label(const Summary::SizeRow& row) {
  // Class bounds are powers of two: each is a whole number of its binary unit.
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  auto split = [](std::uint64_t size) {
    unsigned u = 0;
    while (u + 1 < std::size(units) && size >= (std::uint64_t{1} << (10 * (u + 1)))) {
      ++u;
    }
    return std::pair<std::uint64_t, unsigned>{size >> (10 * u), u};
  };
  auto [from, from_unit] = split(row.from);
  if (row.below == row.from + 1) {
    return fmt::format("{} {}", from, units[from_unit]);
  }
  if (row.below == 0) {
    return fmt::format("{} {} or more", from, units[from_unit]);
  }
  auto [below, below_unit] = split(row.below);
  if (from_unit == below_unit) {
    return fmt::format("{}-{} {}", from, below, units[from_unit]);
  }
  return fmt::format("{} {}-{} {}", from, units[from_unit], below, units[below_unit]);
}

std::vector<LifetimeRow> lifetime_rows(const Summary& s, const Capture& capture) {
  std::vector<LifetimeRow> rows;
  if (s.temporary.count) {
    rows.push_back({"temporary (freed before the thread's next allocation)", "temporary", s.temporary});
    rows.push_back({"freed later", "freed", s.freed});
  } else {
    rows.push_back({"freed (temporaries are not recorded in this mode)", "freed", s.freed});
  }
  rows.push_back({capture.partial() ? "live when the capture was written" : "never freed", "live", s.live});
  return rows;
}

std::string largest_site(const Summary::Largest& l) {
  return l.site ? describe_key(*l.site, GroupBy::line, true) : std::string("(no stack)");
}

Summary summarize(const Report& report) {
  const Capture& c = *report.capture;
  const CaptureSummary& s = c.summary;
  Summary out;
  out.recorded = s.recorded;
  for (std::size_t k = 0; k < s.sizes.size(); ++k) {
    if (s.sizes[k].count == 0) {
      continue;
    }
    std::uint64_t from = k == 0 ? 0 : std::uint64_t{1} << (k - 1);
    std::uint64_t below = k == 0 ? 1 : k == 64 ? 0 : std::uint64_t{1} << k;
    out.sizes.push_back({from, below, s.sizes[k].count, s.sizes[k].bytes});
  }

  const Metrics& t = c.totals;
  bool temporaries = !report.unknown_in_totals.contains(Metric::temporary_count);
  std::optional<std::uint64_t> temporary_bytes;
  if (temporaries && s.recorded) {
    temporary_bytes = s.temporary_bytes;
  }
  if (temporaries) {
    out.temporary = {t.temporary_count, temporary_bytes};
    out.freed = {t.free_count - t.temporary_count,
                 temporary_bytes ? std::optional<std::uint64_t>(t.freed_bytes - *temporary_bytes) : std::nullopt};
  } else {
    out.freed = {t.free_count, t.freed_bytes};
  }
  out.live = {t.live_count, t.live_bytes};
  out.inherited_count = s.inherited_count;
  out.inherited_bytes = s.inherited_bytes;

  for (const LargestAllocation& a : s.largest) {
    Summary::Largest& l = out.largest.emplace_back();
    l.block = a;
    if (const Sample* sample = a.stack != 0 ? sample_of(report, a.stack) : nullptr) {
      for (std::uint32_t f : sample->frames) {
        l.stack.push_back(report.frames[f]);
      }
      l.site = key_for(key_frame(l.stack), GroupBy::line);
    }
  }

  // A checkpoint written while a thread exited may hold an empty placeholder entry.
  std::copy_if(s.threads.begin(), s.threads.end(), std::back_inserter(out.threads), [](const ThreadCounts& thread) {
    return thread.os_thread_id != 0 || thread.alloc_count != 0 || thread.free_count != 0;
  });
  std::stable_sort(out.threads.begin(), out.threads.end(),
                   [](const ThreadCounts& a, const ThreadCounts& b) { return a.alloc_bytes > b.alloc_bytes; });
  out.other_threads = s.other_threads;
  out.other = s.other;
  for (const Row& row : report.modules) {
    out.modules.push_back(&row);
  }
  return out;
}

std::string render_summary(const Report& report) {
  const Capture& c = *report.capture;
  Summary s = summarize(report);
  const Metrics& t = c.totals;
  std::string out = fmt::format("measure summary: {}\n{}\n", command_line(c.program), run_description(c));
  out += fmt::format("\nAllocations: {} ({}); frees: {} ({}); {}\n", grouped(t.alloc_count), human_bytes(t.alloc_bytes),
                     grouped(t.free_count), human_bytes(t.freed_bytes), totals_description(report));
  if (!s.recorded) {
    out += fmt::format("\n{}\n", summary_unrecorded);
  }

  if (!s.sizes.empty()) {
    out += "\nSizes (each class from a power of two up to, not including, the next)\n";
    out += fmt::format("  {:<14} {:>14} {:>7} {:>12} {:>7}  {}\n", "size", "allocations", "%", "bytes", "%",
                       "allocations");
    std::uint64_t most = 0;
    for (const Summary::SizeRow& row : s.sizes) {
      most = std::max(most, row.count);
    }
    for (const Summary::SizeRow& row : s.sizes) {
      out += fmt::format("  {:<14} {:>14} {:>7} {:>12} {:>7}  {}\n", size_class_label(row), grouped(row.count),
                         percent(row.count, t.alloc_count), human_bytes(row.bytes), percent(row.bytes, t.alloc_bytes),
                         bar(row.count, most, 24));
    }
    if (s.inherited_count != 0) {
      out += fmt::format("  and {} inherited from the parent process ({}), of sizes not recorded\n",
                         plural(s.inherited_count, "block", "blocks"), human_bytes(s.inherited_bytes));
    }
  }

  out += "\nLifetimes\n";
  out += fmt::format("  {:<52} {:>14} {:>7} {:>12}\n", "", "blocks", "%", "bytes");
  for (const LifetimeRow& row : lifetime_rows(s, c)) {
    const LifetimeCounts& l = row.counts;
    out += fmt::format("  {:<52} {:>14} {:>7} {:>12}\n", row.name, optional_count(l.count),
                       l.count ? percent(*l.count, t.alloc_count) : "—", optional_bytes(l.bytes));
  }

  if (!s.threads.empty() || s.other_threads != 0) {
    constexpr std::size_t listed = 10;
    out += fmt::format("\nThreads ({} that allocated, by bytes allocated)\n", s.threads.size() + s.other_threads);
    out += fmt::format("  {:<10} {:<16} {:>14} {:>12} {:>14} {:>12}\n", "thread", "name", "allocations", "bytes",
                       "frees", "freed");
    ThreadCounts rest = s.other;
    std::uint64_t rest_threads = s.other_threads;
    for (std::size_t i = 0; i < s.threads.size(); ++i) {
      const ThreadCounts& th = s.threads[i];
      if (i >= listed) {
        ++rest_threads;
        rest.alloc_count += th.alloc_count;
        rest.alloc_bytes += th.alloc_bytes;
        rest.free_count += th.free_count;
        rest.freed_bytes += th.freed_bytes;
        continue;
      }
      out += fmt::format("  {:<10} {:<16} {:>14} {:>12} {:>14} {:>12}\n",
                         fmt::format("{}{}", th.os_thread_id, th.running ? "" : "*"), th.name.empty() ? "-" : th.name,
                         grouped(th.alloc_count), human_bytes(th.alloc_bytes), grouped(th.free_count),
                         human_bytes(th.freed_bytes));
    }
    if (rest_threads != 0) {
      out += fmt::format("  {:<27} {:>14} {:>12} {:>14} {:>12}\n",
                         plural(rest_threads, "other thread", "other threads"), grouped(rest.alloc_count),
                         human_bytes(rest.alloc_bytes), grouped(rest.free_count), human_bytes(rest.freed_bytes));
    }
    if (std::any_of(s.threads.begin(), s.threads.end(), [](const ThreadCounts& th) { return !th.running; })) {
      out += "  (* exited before the capture was written)\n";
    }
  }

  if (!s.largest.empty()) {
    // Equal blocks from one line (a loop's) are one entry: the first's time, and how many.
    out += "\nLargest allocations\n";
    out += fmt::format("  {:>12} {:>10} {:>10}  {}\n", "size", "blocks", "first at", "allocated in");
    for (std::size_t i = 0; i < s.largest.size();) {
      const Summary::Largest& l = s.largest[i];
      std::size_t n = 1;
      while (i + n < s.largest.size() && s.largest[i + n].block.size == l.block.size &&
             s.largest[i + n].site == l.site) {
        ++n;
      }
      out += fmt::format("  {:>12} {:>10} {:>10}  {}\n", human_bytes(l.block.size), plural(n, "block", "blocks"),
                         human_duration(l.block.time_ns), largest_site(l));
      i += n;
    }
  }

  if (!s.modules.empty()) {
    constexpr std::size_t listed = 10;
    out += "\nModules (where the allocating code lies, by bytes allocated)\n";
    out += fmt::format("  {:<40} {:>14} {:>12} {:>7}\n", "module", "allocations", "bytes", "%");
    for (std::size_t i = 0; i < s.modules.size() && i < listed; ++i) {
      const Row& row = *s.modules[i];
      out += fmt::format("  {:<40} {:>14} {:>12} {:>7}\n", describe_key(row.key, GroupBy::module, true),
                         grouped(row.metrics.alloc_count), human_bytes(row.metrics.alloc_bytes),
                         percent(row.metrics.alloc_bytes, t.alloc_bytes));
    }
    if (s.modules.size() > listed) {
      out += fmt::format("  and {} more\n", plural(s.modules.size() - listed, "module", "modules"));
    }
  }
  return out;
}

void write_json_summary(JsonWriter& j, const Report& report, const Summary& s) {
  j.begin_object();
  j.key("recorded").value(s.recorded);
  j.key("sizes");
  if (s.recorded) {
    j.begin_array();
    for (const Summary::SizeRow& row : s.sizes) {
      j.begin_object();
      j.key("from").value(row.from);
      j.key("below").value(row.below == 0 ? std::nullopt : std::optional<std::uint64_t>(row.below));
      j.key("count").value(row.count);
      j.key("bytes").value(row.bytes);
      j.end_object();
    }
    j.end_array();
  } else {
    j.null();
  }
  j.key("inherited").begin_object();
  j.key("count").value(s.inherited_count);
  j.key("bytes").value(s.inherited_bytes);
  j.end_object();
  j.key("lifetimes").begin_object();
  write_lifetime(j, "temporary", s.temporary);
  write_lifetime(j, "freed", s.freed);
  write_lifetime(j, "live", s.live);
  j.end_object();
  j.key("threads");
  if (s.recorded) {
    j.begin_array();
    for (const ThreadCounts& t : s.threads) {
      j.begin_object();
      j.key("id").value(t.os_thread_id);
      j.key("name").value(t.name);
      j.key("running").value(t.running);
      write_thread(j, t);
      j.end_object();
    }
    j.end_array();
  } else {
    j.null();
  }
  j.key("other_threads").begin_object();
  j.key("threads").value(s.other_threads);
  write_thread(j, s.other);
  j.end_object();
  j.key("largest");
  if (s.recorded) {
    j.begin_array();
    for (const Summary::Largest& l : s.largest) {
      j.begin_object();
      j.key("size").value(l.block.size);
      j.key("time_ns").value(l.block.time_ns);
      j.key("site");
      l.site ? detail::write_json_key(j, *l.site, GroupBy::line) : static_cast<void>(j.null());
      j.end_object();
    }
    j.end_array();
  } else {
    j.null();
  }
  j.key("modules");
  if (report.options.modules) {
    j.begin_array();
    for (const Row* row : s.modules) {
      j.begin_object();
      j.key("module").value(row->key.module);
      detail::write_json_metrics(j, row->metrics, report.unknown_in_rows);
      j.end_object();
    }
    j.end_array();
  } else {
    j.null();  // the report was built without them
  }
  j.end_object();
}

}  // namespace measure
