#include "collect/result_files.hpp"

#include <cmath>
#include <set>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

using json = nlohmann::json;

bool is_object_with(const json& value, const char* key) {
  return value.is_object() && value.contains(key);
}

ResultFormat detect(const json& document) {
  if (!document.is_object()) {
    return ResultFormat::Metrics;
  }
  auto results = document.find("results");
  if (results != document.end() && results->is_object() &&
      (document.contains("higher_is_better") || document.contains("versions") || document.contains("n-samples") ||
       document.contains("configs"))) {
    return ResultFormat::LmEval;
  }
  if (results != document.end() && results->is_array() && !results->empty() &&
      is_object_with(results->front(), "command") && results->front().contains("times")) {
    return ResultFormat::Hyperfine;
  }
  auto benchmarks = document.find("benchmarks");
  if (benchmarks != document.end() && benchmarks->is_array()) {
    if (document.contains("machine_info") || (!benchmarks->empty() && is_object_with(benchmarks->front(), "stats"))) {
      return ResultFormat::PytestBenchmark;
    }
    if (document.contains("context") || benchmarks->empty() || is_object_with(benchmarks->front(), "run_type") ||
        is_object_with(benchmarks->front(), "real_time")) {
      return ResultFormat::GoogleBenchmark;
    }
  }
  return ResultFormat::Metrics;
}

json record(const std::string& name, const json& value, const std::string& unit, bool higher) {
  json out = {{"metric", name}, {"value", value}};
  if (!unit.empty()) {
    out["unit"] = unit;
  }
  if (higher) {
    out["direction"] = "higher";
  }
  return out;
}

// --- Google Benchmark ------------------------------------------------------------------------

std::optional<double> seconds_per(std::string_view unit) {
  if (unit == "ns") {
    return 1e-9;
  }
  if (unit == "us") {
    return 1e-6;
  }
  if (unit == "ms") {
    return 1e-3;
  }
  if (unit == "s") {
    return 1.0;
  }
  return std::nullopt;
}

// Fields of a Google Benchmark row that are not user counters.
const std::set<std::string, std::less<>> k_gbench_fields = {
    "name",          "family_index",         "per_family_instance_index", "run_name",   "run_type",
    "repetitions",   "repetition_index",     "threads",                   "iterations", "real_time",
    "cpu_time",      "time_unit",            "aggregate_name",            "aggregate_unit", "error_occurred",
    "error_message", "skipped",              "skip_message",              "label",      "cpu_coefficient",
    "real_coefficient", "big_o",             "rms"};

void gbench_row(const json& row, const std::string& prefix, std::vector<json>& records, FileResults& out) {
  std::string name = row.value("name", std::string("?"));
  std::string unit_name = row.value("time_unit", std::string("ns"));
  auto scale = seconds_per(unit_name);
  if (!scale) {
    out.metrics.warnings.push_back(fmt::format("{}: unknown time_unit '{}'; its times are skipped", name, unit_name));
  }
  for (const char* key : {"real_time", "cpu_time"}) {
    auto value = row.find(key);
    if (value == row.end() || !scale) {
      continue;
    }
    auto number = lenient_number(*value);
    records.push_back(record(prefix + key, number && std::isfinite(*number) ? json(*number * *scale) : *value, "s",
                             false));
  }
  for (const auto& [key, value] : row.items()) {
    if (k_gbench_fields.count(key) != 0 || !lenient_number(value)) {
      continue;
    }
    std::string unit;
    bool higher = false;
    if (key == "bytes_per_second") {
      unit = "B/s";
      higher = true;
    } else if (key == "items_per_second") {
      unit = "items/s";
      higher = true;
    } else if (ends_with(key, "_per_second") || ends_with(key, "/s")) {
      higher = true;
    } else if (key == "max_bytes_used") {
      unit = "B";
    }
    records.push_back(record(prefix + key, value, unit, higher));
  }
}

void read_gbench(const json& document, std::string_view source, FileResults& out, std::vector<json>& records) {
  auto benchmarks = document.find("benchmarks");
  if (benchmarks == document.end() || !benchmarks->is_array()) {
    out.error = fmt::format("{} has no \"benchmarks\" list (not Google Benchmark's JSON output)", source);
    return;
  }
  if (auto context = document.find("context"); context != document.end() && context->is_object()) {
    out.context = *context;
  }
  std::vector<const json*> iterations;
  std::vector<const json*> aggregates;
  std::vector<std::string> names;  // run names, in order of first appearance
  for (const auto& row : *benchmarks) {
    if (!row.is_object()) {
      out.metrics.warnings.push_back(fmt::format("{}: a \"benchmarks\" entry that is not an object is skipped", source));
      continue;
    }
    std::string name = row.value("name", std::string("?"));
    if (row.value("error_occurred", false)) {
      if (out.error.empty()) {
        out.error = fmt::format("{}: {}", name, row.value("error_message", std::string("error_occurred")));
      }
      continue;
    }
    if (row.value("skipped", false)) {
      if (out.skipped.empty()) {
        out.skipped = fmt::format("{}: {}", name, row.value("skip_message", std::string("skipped")));
      }
      continue;
    }
    std::string run_name = row.value("run_name", name);
    if (std::find(names.begin(), names.end(), run_name) == names.end()) {
      names.push_back(run_name);
    }
    // Aggregates (mean, median, stddev, cv, BigO, RMS) summarize the iteration rows: counted once.
    (row.value("run_type", std::string("iteration")) == "aggregate" ? aggregates : iterations).push_back(&row);
  }
  if (!out.error.empty() || (!out.skipped.empty() && iterations.empty() && aggregates.empty())) {
    return;
  }
  auto prefix_of = [&](const json& row) {
    return names.size() > 1 ? row.value("run_name", row.value("name", std::string("?"))) + "." : std::string();
  };
  if (!iterations.empty()) {
    for (const json* row : iterations) {
      gbench_row(*row, prefix_of(*row), records, out);
    }
    return;
  }
  // Only aggregates (--benchmark_report_aggregates_only): the median of the repetitions stands for
  // them, as one sample of the process.
  bool any = false;
  for (const char* wanted : {"median", "mean"}) {
    for (const json* row : aggregates) {
      if (row->value("aggregate_name", std::string()) == wanted) {
        gbench_row(*row, prefix_of(*row), records, out);
        any = true;
      }
    }
    if (any) {
      out.metrics.warnings.push_back(fmt::format("{}: only aggregate rows were reported; the {} of the repetitions "
                                                 "is taken as the process's one sample",
                                                 source, wanted));
      return;
    }
  }
  if (out.skipped.empty()) {
    out.error = fmt::format("{} holds no results (no benchmark ran: does the filter match its name?)", source);
  }
}

// --- lm-evaluation-harness -------------------------------------------------------------------

void read_lm_eval(const json& document, std::string_view source, FileResults& out, std::vector<json>& records) {
  const json& results = document.at("results");
  const json* higher = nullptr;
  if (auto found = document.find("higher_is_better"); found != document.end() && found->is_object()) {
    higher = &*found;
  }
  for (const auto& [task, metrics] : results.items()) {
    if (!metrics.is_object()) {
      continue;
    }
    for (const auto& [key, value] : metrics.items()) {
      // Keys are "metric,filter"; the standard error is "metric_stderr,filter".
      size_t comma = key.find(',');
      std::string metric = key.substr(0, comma);
      std::string filter = comma == std::string::npos ? "" : key.substr(comma + 1);
      if (ends_with(metric, "_stderr") || metric == "alias" || metric == "name" || metric == "sample_len" ||
          (comma == std::string::npos && !value.is_number())) {
        continue;
      }
      if (!lenient_number(value)) {
        if (!value.is_null()) {
          out.metrics.warnings.push_back(
              fmt::format("{}: results.{}.{} is not a number ({}); skipped", source, task, key, printable(value.dump(), 40)));
        }
        continue;
      }
      std::string name = task + "." + metric + (filter.empty() || filter == "none" ? "" : "." + filter);
      bool better_high = false;
      if (higher != nullptr) {
        auto per_task = higher->find(task);
        if (per_task != higher->end() && per_task->is_object()) {
          better_high = per_task->value(metric, false);
        }
      }
      json entry = record(name, value, "", better_high);
      std::string stderr_key = metric + "_stderr" + (comma == std::string::npos ? "" : "," + filter);
      if (auto error = metrics.find(stderr_key); error != metrics.end()) {
        auto number = lenient_number(*error);
        // "N/A": the harness computed none (a single sample, or a metric without one).
        if (number && std::isfinite(*number) && *number >= 0) {
          entry["stderr"] = *number;
        }
      }
      records.push_back(std::move(entry));
    }
  }
  if (records.empty()) {
    out.metrics.warnings.push_back(fmt::format("{}: no numeric metric in \"results\"", source));
  }
}

// --- A plain metrics file --------------------------------------------------------------------

void flatten(const json& value, const std::string& name, std::vector<json>& records, std::string_view source,
             FileResults& out, int depth) {
  if (value.is_object()) {
    if (depth > 8) {
      return;
    }
    for (const auto& [key, child] : value.items()) {
      flatten(child, name.empty() ? key : name + "." + key, records, source, out, depth + 1);
    }
    return;
  }
  if (value.is_array() && !value.empty() &&
      std::all_of(value.begin(), value.end(), [](const json& item) { return lenient_number(item).has_value(); })) {
    records.push_back({{"metric", name}, {"samples", value}});
    return;
  }
  if (value.is_number() || lenient_number(value)) {
    records.push_back(record(name, value, "", false));
  }
  // Strings, booleans and null (a model's name, a flag) are not metrics: left alone.
}

void read_metrics(std::string_view text, const json& document, std::string_view source, FileResults& out,
                  std::vector<json>& records) {
  if (document.is_discarded() || (document.is_object() && document.contains("metric"))) {
    // The task protocol's JSON lines (a single record parses as one object).
    out.metrics = parse_reported_metrics(text, source);
    return;
  }
  if (document.is_array()) {
    for (const auto& item : document) {
      records.push_back(item);
    }
    return;
  }
  if (!document.is_object()) {
    out.error = fmt::format("{} is neither a JSON object of metrics nor the protocol's records", source);
    return;
  }
  flatten(document, "", records, source, out, 0);
  if (records.empty()) {
    out.metrics.warnings.push_back(fmt::format("{}: no numeric value in the object", source));
  }
}

} // namespace

json parse_lenient_json(std::string_view text) {
  // Rewrite bare NaN / Infinity / -Infinity outside strings as strings; leave everything else.
  std::string rewritten;
  rewritten.reserve(text.size() + 16);
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      rewritten += c;
      if (c == '\\' && i + 1 < text.size()) {
        rewritten += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      rewritten += c;
      continue;
    }
    bool matched = false;
    for (std::string_view token : {"-Infinity", "Infinity", "NaN", "-NaN"}) {
      if (text.substr(i, token.size()) == token) {
        rewritten += '"';
        rewritten += token == "-NaN" ? "NaN" : token;
        rewritten += '"';
        i += token.size() - 1;
        matched = true;
        break;
      }
    }
    if (!matched) {
      rewritten += c;
    }
  }
  return json::parse(rewritten, nullptr, false);
}

std::optional<double> lenient_number(const json& value) {
  if (value.is_number()) {
    return value.get<double>();
  }
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text == "NaN") {
      return std::nan("");
    }
    if (text == "Infinity") {
      return HUGE_VAL;
    }
    if (text == "-Infinity") {
      return -HUGE_VAL;
    }
  }
  return std::nullopt;
}

namespace {
void read_document(std::string_view text, const json& document, ResultFormat format, std::string_view source,
                   const MetricsFileOptions& options, FileResults& out, std::vector<json>& records);
} // namespace

FileResults parse_result_file(std::string_view text, ResultFormat format, std::string_view source,
                              const MetricsFileOptions& options) {
  FileResults out;
  json document = parse_lenient_json(text);
  if (format == ResultFormat::Auto) {
    format = document.is_discarded() ? ResultFormat::Metrics : detect(document);
  }
  out.format = format;
  std::vector<json> records;
  try {
    read_document(text, document, format, source, options, out, records);
  } catch (const json::exception& error) {
    // A field of the wrong type (a name that is a number, a flag that is a string).
    out.error = fmt::format("{} is malformed: {}", source, error.what());
    out.metrics = {};
  }
  return out;
}

namespace {

void read_document(std::string_view text, const json& document, ResultFormat format, std::string_view source,
                   const MetricsFileOptions& options, FileResults& out, std::vector<json>& records) {
  if (document.is_discarded() && format != ResultFormat::Metrics) {
    out.error = fmt::format("{} is not valid JSON ({} expected)", source, to_string(format));
    return;
  }
  switch (format) {
  case ResultFormat::GoogleBenchmark:
    read_gbench(document, source, out, records);
    break;
  case ResultFormat::LmEval:
    if (!document.is_object() || !document.contains("results") || !document["results"].is_object()) {
      out.error = fmt::format("{} has no \"results\" object (not lm-evaluation-harness output)", source);
      return;
    }
    read_lm_eval(document, source, out, records);
    break;
  case ResultFormat::Hyperfine:
  case ResultFormat::PytestBenchmark:
    out.error = fmt::format("{}: {} files are imported (`benchmatrix import`), not read per run", source,
                            to_string(format));
    return;
  case ResultFormat::Auto:
  case ResultFormat::Metrics:
    read_metrics(text, document, source, out, records);
    break;
  }
  if (!records.empty()) {
    ReportedMetrics taken = parse_reported_records(records, source);
    taken.warnings.insert(taken.warnings.begin(), out.metrics.warnings.begin(), out.metrics.warnings.end());
    out.metrics = std::move(taken);
  }
  for (const auto& name : options.higher_is_better) {
    auto found = out.metrics.info.find(name);
    if (found != out.metrics.info.end()) {
      found->second.higher_is_better = true;
    }
  }
}

} // namespace

namespace {
ImportedFile read_import(std::string_view text, ResultFormat format, std::string_view source);
} // namespace

ImportedFile parse_import_file(std::string_view text, ResultFormat format, std::string_view source) {
  try {
    return read_import(text, format, source);
  } catch (const json::exception& error) {
    throw UserError(fmt::format("{}: malformed ({})", source, error.what()));
  }
}

namespace {

ImportedFile read_import(std::string_view text, ResultFormat format, std::string_view source) {
  json document = parse_lenient_json(text);
  if (document.is_discarded()) {
    throw UserError(fmt::format("{}: not valid JSON", source));
  }
  if (format == ResultFormat::Auto) {
    format = detect(document);
  }
  ImportedFile out;
  out.format = format;
  auto number = [](const json& object, const char* key) {
    auto found = object.find(key);
    auto value = found == object.end() ? std::nullopt : lenient_number(*found);
    return value && std::isfinite(*value) ? *value : -1.0;
  };
  auto text_of = [](const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); };
  if (format == ResultFormat::Hyperfine) {
    if (!document.is_object() || !document.contains("results") || !document["results"].is_array()) {
      throw UserError(fmt::format("{}: no \"results\" list (not hyperfine's --export-json output)", source));
    }
    const json& results = document["results"];
    for (const auto& entry : results) {
      if (!entry.is_object() || !entry.contains("command") || !entry["times"].is_array()) {
        throw UserError(fmt::format("{}: a \"results\" entry without \"command\" and \"times\"", source));
      }
      ImportedBenchmark benchmark;
      benchmark.name = text_of(entry["command"]);
      if (auto parameters = entry.find("parameters"); parameters != entry.end() && parameters->is_object()) {
        for (const auto& [name, value] : parameters->items()) {
          benchmark.parameters.emplace_back(name, text_of(value));
        }
      }
      const json& times = entry["times"];
      const json* codes = entry.contains("exit_codes") && entry["exit_codes"].is_array() ? &entry["exit_codes"] : nullptr;
      for (size_t i = 0; i < times.size(); ++i) {
        auto seconds = lenient_number(times[i]);
        if (!seconds || !std::isfinite(*seconds) || *seconds < 0) {
          out.warnings.push_back(fmt::format("{}: {}: time {} is not a finite number; skipped", source,
                                             benchmark.name, i + 1));
          continue;
        }
        ImportedRun run;
        run.wall_seconds = *seconds;
        if (codes != nullptr && i < codes->size() && (*codes)[i].is_number_integer()) {
          run.exit_code = (*codes)[i].get<int>();
        }
        benchmark.runs.push_back(run);
      }
      benchmark.user_seconds = number(entry, "user");
      benchmark.system_seconds = number(entry, "system");
      out.benchmarks.push_back(std::move(benchmark));
    }
    return out;
  }
  if (format == ResultFormat::PytestBenchmark) {
    if (auto machine = document.find("machine_info"); machine != document.end()) {
      out.context = *machine;
    }
    if (!document.is_object() || !document.contains("benchmarks") || !document["benchmarks"].is_array()) {
      throw UserError(fmt::format("{}: no \"benchmarks\" list (not pytest-benchmark's --benchmark-json output)", source));
    }
    for (const auto& entry : document["benchmarks"]) {
      if (!entry.is_object() || !entry.contains("stats") || !entry["stats"].is_object()) {
        throw UserError(fmt::format("{}: a \"benchmarks\" entry without \"stats\"", source));
      }
      ImportedBenchmark benchmark;
      benchmark.name = text_of(entry.value("fullname", entry.value("name", json("?"))));
      if (auto params = entry.find("params"); params != entry.end() && params->is_object()) {
        for (const auto& [name, value] : params->items()) {
          benchmark.parameters.emplace_back(name, text_of(value));
        }
      }
      const json& stats = entry["stats"];
      std::vector<json> records;
      if (auto data = stats.find("data"); data != stats.end() && data->is_array() && !data->empty()) {
        // --benchmark-save-data: every round, in seconds (each the mean of its iterations).
        records.push_back({{"metric", "time"}, {"samples", *data}, {"unit", "s"}});
      } else if (stats.contains("median")) {
        out.warnings.push_back(fmt::format("{}: {}: no per-round data (run pytest with --benchmark-save-data); its "
                                           "median stands for its {} rounds",
                                           source, benchmark.name, stats.value("rounds", 0)));
        records.push_back({{"metric", "time"}, {"value", stats["median"]}, {"unit", "s"}});
      }
      if (stats.contains("ops")) {
        records.push_back({{"metric", "ops"}, {"value", stats["ops"]}, {"unit", "ops/s"}, {"direction", "higher"}});
      }
      benchmark.metrics = parse_reported_records(records, fmt::format("{}: {}", source, benchmark.name));
      for (auto& warning : benchmark.metrics.warnings) {
        out.warnings.push_back(warning);
      }
      out.benchmarks.push_back(std::move(benchmark));
    }
    return out;
  }
  throw UserError(fmt::format("{}: not hyperfine's --export-json nor pytest-benchmark's --benchmark-json output "
                              "(detected: {})",
                              source, to_string(format)));
}

} // namespace

} // namespace bm
