// The eight metrics of the glossary, declared once (docs/reports.md, "The metrics"). The
// tools' Metric enum, its names, the Metrics and MetricsDelta structs, their sums and
// differences, the JSON members and the CSV columns are all derived from MEASURE_METRICS, in
// this order. MEASURE_SITE_METRICS lists, in the order of the capture file's site records, the
// six a capture stores per call site: live_count and live_bytes are derived (allocations minus
// frees).
//
//   X(name, unit)   unit: count (blocks) or bytes
#pragma once

#define MEASURE_METRICS(X) \
  X(alloc_count, count)    \
  X(alloc_bytes, bytes)    \
  X(free_count, count)     \
  X(freed_bytes, bytes)    \
  X(live_count, count)     \
  X(live_bytes, bytes)     \
  X(peak_bytes, bytes)     \
  X(temporary_count, count)

#define MEASURE_SITE_METRICS(X) \
  X(alloc_count, count)         \
  X(alloc_bytes, bytes)         \
  X(free_count, count)          \
  X(freed_bytes, bytes)         \
  X(temporary_count, count)     \
  X(peak_bytes, bytes)
