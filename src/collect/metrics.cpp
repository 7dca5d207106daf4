#include "collect/metrics.hpp"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/strings.hpp"

namespace bm {

namespace {

constexpr size_t k_max_line = 1 << 20;
constexpr size_t k_max_samples_per_line = 1'000'000;

bool valid_metric_name(const std::string& name) {
  if (name.empty() || name.size() > 200) {
    return false;
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == ',' || c == '"') {
      return false;
    }
  }
  return true;
}

// Returns an empty string when the record was taken, else why it was not.
std::string take_record(const nlohmann::json& object, ReportedMetrics& out) {
  if (!object.is_object()) {
    return "not a JSON object";
  }
  auto name_it = object.find("metric");
  if (name_it == object.end()) {
    name_it = object.find("name");
  }
  if (name_it == object.end() || !name_it->is_string() || !valid_metric_name(name_it->get<std::string>())) {
    return "no \"metric\" name (a string of printable characters without ',' or '\"')";
  }
  std::string name = name_it->get<std::string>();
  for (std::string_view own : {k_metric_wall, k_metric_user, k_metric_system, k_metric_rss}) {
    if (name == own) {
      // It would merge with benchmatrix's own measurement of every run.
      return fmt::format("\"{}\" is one of benchmatrix's own measurements (wall_time, user_time, system_time, "
                         "max_rss); report it under another name",
                         name);
    }
  }
  MetricInfo info;
  if (auto unit = object.find("unit"); unit != object.end()) {
    if (!unit->is_string() || unit->get<std::string>().size() > 50) {
      return "\"unit\" must be a short string";
    }
    info.unit = unit->get<std::string>();
  }
  if (auto direction = object.find("direction"); direction != object.end()) {
    std::string text = direction->is_string() ? direction->get<std::string>() : "";
    if (text != "lower" && text != "higher") {
      return "\"direction\" must be \"lower\" or \"higher\"";
    }
    info.higher_is_better = text == "higher";
  }
  std::vector<double> numbers;
  auto finite = [](const nlohmann::json& value) {
    return value.is_number() && std::isfinite(value.get<double>());
  };
  if (auto value = object.find("value"); value != object.end()) {
    if (!finite(*value)) {
      return "\"value\" must be a finite number";
    }
    numbers.push_back(value->get<double>());
    if (auto error = object.find("stderr"); error != object.end()) {
      if (!finite(*error) || error->get<double>() < 0) {
        return "\"stderr\" must be a finite number >= 0";
      }
      info.stderr_value = error->get<double>();
    }
  } else if (auto samples = object.find("samples"); samples != object.end()) {
    if (!samples->is_array() || samples->empty() || samples->size() > k_max_samples_per_line) {
      return "\"samples\" must be a non-empty array of numbers";
    }
    for (const auto& sample : *samples) {
      if (!finite(sample)) {
        return "\"samples\" must hold finite numbers only";
      }
      numbers.push_back(sample.get<double>());
    }
  } else {
    return "neither \"value\" nor \"samples\"";
  }
  for (double number : numbers) {
    out.values.emplace_back(name, number);
  }
  auto [existing, inserted] = out.info.emplace(name, info);
  if (!inserted && (object.contains("unit") || object.contains("direction") || object.contains("stderr"))) {
    existing->second = info;
  }
  return {};
}

// Returns an empty string when the line was taken, else why it was not.
std::string take_line(std::string_view line, ReportedMetrics& out) {
  if (line.size() > k_max_line) {
    return fmt::format("line longer than {} bytes", k_max_line);
  }
  nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
  if (object.is_discarded()) {
    return "not valid JSON (NaN and Infinity are not JSON numbers)";
  }
  return take_record(object, out);
}

} // namespace

MetricInfo metric_info(const std::map<std::string, MetricInfo>& reported, std::string_view metric) {
  if (metric == k_metric_rss) {
    return {"KiB", false};
  }
  if (metric == k_metric_wall || metric == k_metric_user || metric == k_metric_system) {
    return {"s", false};
  }
  auto found = reported.find(std::string(metric));
  return found == reported.end() ? MetricInfo{} : found->second;
}

ReportedMetrics parse_reported_metrics(std::string_view text, std::string_view source) {
  ReportedMetrics out;
  size_t line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    ++line_number;
    std::string_view line = trim(text.substr(start, end - start));
    start = end + 1;
    if (line.empty()) {
      continue;
    }
    std::string problem = take_line(line, out);
    if (!problem.empty()) {
      out.warnings.push_back(fmt::format("{}:{}: ignored: {}: {}", source, line_number, problem, printable(line, 80)));
    }
  }
  return out;
}

ReportedMetrics parse_reported_records(const std::vector<nlohmann::json>& records, std::string_view source) {
  ReportedMetrics out;
  for (const auto& record : records) {
    std::string problem = take_record(record, out);
    if (!problem.empty()) {
      out.warnings.push_back(fmt::format("{}: ignored: {}: {}", source, problem, printable(record.dump(), 80)));
    }
  }
  return out;
}

} // namespace bm
