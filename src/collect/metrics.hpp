#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace bm {

// Units and direction of a metric: lower is better unless the task says "higher".
struct MetricInfo {
  std::string unit;
  bool higher_is_better = false;
  double stderr_value = -1;  // a standard error the task reported with a single value ("stderr"); < 0: none
};

// What a task reported about one run, per the task protocol: JSON lines appended to
// $BENCHMATRIX_RESULT_FILE, each {"metric": NAME, "value": X} or {"metric": NAME, "samples": [X...]},
// with optional "unit", "direction" ("lower" or "higher") and, beside a single value, "stderr" (its
// standard error, e.g. of an eval's accuracy over its items).
struct ReportedMetrics {
  std::vector<std::pair<std::string, double>> values;  // in the order reported; samples flattened
  std::map<std::string, MetricInfo> info;
  std::vector<std::string> warnings;                   // one per rejected line, saying why
};

// Parses protocol lines. A bad line (not JSON, not an object, no metric name, a value that is
// not a finite number, NaN/Infinity, too long) is skipped with a warning; it never throws.
// `source` names the file in warnings.
ReportedMetrics parse_reported_metrics(std::string_view text, std::string_view source);
// The same over records already parsed (result files in other formats, converted to records).
ReportedMetrics parse_reported_records(const std::vector<nlohmann::json>& records, std::string_view source);

// The orchestrator's own measurements, present for every run.
inline constexpr std::string_view k_metric_wall = "wall_time";
inline constexpr std::string_view k_metric_user = "user_time";
inline constexpr std::string_view k_metric_system = "system_time";
inline constexpr std::string_view k_metric_rss = "max_rss";

// The unit and direction of a metric: fixed for the orchestrator's own four (seconds, and KiB for
// max_rss), else as the task reported it in `reported`, else unknown (no unit, lower is better).
MetricInfo metric_info(const std::map<std::string, MetricInfo>& reported, std::string_view metric);

} // namespace bm
