// Rendering a Report. Each format is a pure function of the report, so outputs are
// deterministic (golden tests pin them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "report/report.h"

namespace measure {

enum class ReportFormat { text, json };

std::optional<ReportFormat> parse_report_format(std::string_view text) noexcept;

/// Renders `report` in `format`.
std::string render_report(const Report& report, ReportFormat format);

std::string render_text(const Report& report);
/// The measure-report/1 JSON document (contract.md).
std::string render_json(const Report& report);

/// "512 B", "1.5 KiB", "3.2 MiB" ...
std::string human_bytes(std::uint64_t bytes);
/// "1,234,567"
std::string grouped(std::uint64_t number);
/// A frame as people read it: "function (file:line)", or "module+0xoffset".
std::string describe_frame(const Frame& frame, bool shorten);
/// A row key as people read it.
std::string describe_key(const RowKey& key, GroupBy by, bool shorten);

}  // namespace measure
