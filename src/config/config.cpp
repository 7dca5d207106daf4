#include "config/config.hpp"

#include <algorithm>

namespace bm {

namespace {

struct FormatName {
  ResultFormat format;
  std::string_view name;
};
constexpr FormatName k_formats[] = {
    {ResultFormat::Auto, "auto"},           {ResultFormat::Metrics, "metrics"},
    {ResultFormat::LmEval, "lm_eval"},      {ResultFormat::GoogleBenchmark, "gbench"},
    {ResultFormat::Hyperfine, "hyperfine"}, {ResultFormat::PytestBenchmark, "pytest_benchmark"},
};

} // namespace

std::string_view to_string(SourceConfig::Kind kind) {
  switch (kind) {
  case SourceConfig::Kind::GoogleBenchmark:
    return "gbench";
  case SourceConfig::Kind::BenchHeader:
    return "bench_h";
  case SourceConfig::Kind::None:
    break;
  }
  return "none";
}

std::string_view to_string(ResultFormat format) {
  for (const auto& entry : k_formats) {
    if (entry.format == format) {
      return entry.name;
    }
  }
  return "?";
}

std::optional<ResultFormat> parse_result_format(std::string_view text) {
  for (const auto& entry : k_formats) {
    if (entry.name == text) {
      return entry.format;
    }
  }
  return std::nullopt;
}

std::string result_format_names() {
  std::string names;
  for (const auto& entry : k_formats) {
    names += (names.empty() ? "" : ", ") + std::string(entry.name);
  }
  return names;
}


std::string to_string(Priority priority) {
  switch (priority) {
  case Priority::High:
    return "high";
  case Priority::Normal:
    return "normal";
  case Priority::Low:
    return "low";
  }
  return "normal";
}

std::optional<Priority> parse_priority(std::string_view text) {
  if (text == "high") {
    return Priority::High;
  }
  if (text == "normal") {
    return Priority::Normal;
  }
  if (text == "low") {
    return Priority::Low;
  }
  return std::nullopt;
}

void TaskSettings::overlay(const TaskSettings& other) {
  auto take = [](auto& mine, const auto& theirs) {
    if (theirs) {
      mine = theirs;
    }
  };
  take(warmup, other.warmup);
  take(runs, other.runs);
  take(min_runs, other.min_runs);
  take(max_runs, other.max_runs);
  take(target_rel_ci, other.target_rel_ci);
  take(cooldown, other.cooldown);
  take(timeout, other.timeout);
  take(kill_grace, other.kill_grace);
  take(output_limit, other.output_limit);
  take(memory, other.memory);
  take(pids, other.pids);
  take(retries, other.retries);
  take(cpus, other.cpus);
  take(gpus, other.gpus);
  take(cpus_location, other.cpus_location);
  take(runs_location, other.runs_location);
  take(gpus_location, other.gpus_location);
  take(priority, other.priority);
  env.insert(env.end(), other.env.begin(), other.env.end());
  for (const auto& [name, location] : other.env_locations) {
    env_locations[name] = location;
  }
}

ResolvedSettings ResolvedSettings::from(const TaskSettings& settings) {
  ResolvedSettings resolved;
  resolved.warmup = settings.warmup.value_or(resolved.warmup);
  resolved.runs = settings.runs.value_or(resolved.runs);
  if (settings.target_rel_ci) {
    // Adaptive: runs becomes the cap; the defaults follow hyperfine's spirit (a few runs at least).
    resolved.target_rel_ci = *settings.target_rel_ci;
    resolved.min_runs = settings.min_runs.value_or(5);
    resolved.runs = settings.max_runs.value_or(std::max(resolved.min_runs, settings.runs.value_or(100)));
  }
  resolved.timeout = settings.timeout;
  resolved.cooldown = settings.cooldown.value_or(resolved.cooldown);
  resolved.kill_grace = settings.kill_grace.value_or(resolved.kill_grace);
  resolved.output_limit = settings.output_limit.value_or(resolved.output_limit);
  resolved.memory = settings.memory.value_or(0);
  resolved.pids = settings.pids.value_or(0);
  resolved.retries = settings.retries.value_or(resolved.retries);
  resolved.cpus = settings.cpus.value_or(resolved.cpus);
  resolved.gpus = settings.gpus.value_or(resolved.gpus);
  resolved.cpus_location = settings.cpus_location.value_or(SourceLocation{});
  resolved.runs_location = settings.runs_location.value_or(SourceLocation{});
  resolved.runs_set = settings.runs.has_value() || settings.min_runs.has_value() || settings.max_runs.has_value();
  resolved.gpus_location = settings.gpus_location.value_or(SourceLocation{});
  resolved.priority = settings.priority.value_or(resolved.priority);
  resolved.env_locations = settings.env_locations;
  // Later entries win; keep one entry per name in first-seen order so the env is canonical.
  for (const auto& [key, value] : settings.env) {
    bool replaced = false;
    for (auto& entry : resolved.env) {
      if (entry.first == key) {
        entry.second = value;
        replaced = true;
      }
    }
    if (!replaced) {
      resolved.env.emplace_back(key, value);
    }
  }
  return resolved;
}

nlohmann::json AnalysisSettings::to_json() const {
  nlohmann::json json = {{"metric", metric},
                         {"confidence", confidence},
                         {"threshold", threshold},
                         {"correction", correction},
                         {"remove_outliers", remove_outliers},
                         {"outlier_method", outlier_method},
                         {"outlier_threshold", outlier_threshold},
                         {"resamples", resamples},
                         {"seed", seed},
                         {"gate", gate}};
  if (gpu_hour > 0 || core_hour > 0) {
    json["cost"] = {{"gpu_hour", gpu_hour}, {"core_hour", core_hour}};
  }
  if (!baseline_axis.empty()) {
    json["baseline"] = {{baseline_axis, baseline_value}};
  }
  return json;
}

AnalysisSettings AnalysisSettings::from_json(const nlohmann::json& json) {
  AnalysisSettings settings;
  if (!json.is_object()) {
    return settings;
  }
  if (auto baseline = json.find("baseline"); baseline != json.end() && baseline->is_object() && !baseline->empty()) {
    settings.baseline_axis = baseline->begin().key();
    settings.baseline_value = baseline->begin().value().get<std::string>();
  }
  settings.metric = json.value("metric", settings.metric);
  settings.confidence = json.value("confidence", settings.confidence);
  settings.threshold = json.value("threshold", settings.threshold);
  settings.correction = json.value("correction", settings.correction);
  settings.remove_outliers = json.value("remove_outliers", settings.remove_outliers);
  settings.outlier_method = json.value("outlier_method", settings.outlier_method);
  settings.outlier_threshold = json.value("outlier_threshold", settings.outlier_threshold);
  settings.resamples = json.value("resamples", settings.resamples);
  settings.seed = json.value("seed", settings.seed);
  settings.gate = json.value("gate", settings.gate);
  if (auto cost = json.find("cost"); cost != json.end() && cost->is_object()) {
    settings.gpu_hour = cost->value("gpu_hour", 0.0);
    settings.core_hour = cost->value("core_hour", 0.0);
  }
  return settings;
}

} // namespace bm
