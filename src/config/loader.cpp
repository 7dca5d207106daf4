#include "config/loader.hpp"

#include <charconv>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config/discover.hpp"
#include "util/duration.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

constexpr int k_max_count = 1'000'000;
constexpr std::uint64_t k_max_config_bytes = 32ULL << 20;
constexpr size_t k_max_depth = 64;
constexpr size_t k_max_nodes = 1'000'000;

const std::set<std::string> k_reserved_names = {"slot", "cores", "gpus", "result_dir", "task_id", "run", "name"};

std::string describe_kind(const YAML::Node& node) {
  switch (node.Type()) {
  case YAML::NodeType::Null:
    return "nothing (null)";
  case YAML::NodeType::Scalar:
    return "'" + printable(node.Scalar(), 60) + "'";
  case YAML::NodeType::Sequence:
    return "a list";
  case YAML::NodeType::Map:
    return "a mapping";
  default:
    return "nothing";
  }
}

// Levenshtein distance, for "did you mean" hints on unknown keys.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Reads one config document. Each method takes the node and a short description of what it is
// ("task.timeout") so that every error says where, what was expected and what was found.
class Reader {
public:
  explicit Reader(std::string file) : m_file(std::move(file)) {}

  SourceLocation where(const YAML::Node& node) const {
    YAML::Mark mark = node.Mark();
    if (mark.is_null()) {
      return {m_file, 0, 0};
    }
    return {m_file, mark.line + 1, mark.column + 1};
  }

  [[noreturn]] void fail(const YAML::Node& node, const std::string& message) const {
    throw UserError(where(node), message);
  }

  [[noreturn]] void expected(const YAML::Node& node, const std::string& what, const std::string& expectation) const {
    fail(node, fmt::format("{}: expected {}, found {}", what, expectation, describe_kind(node)));
  }

  // Returns the map's entries in file order, refusing duplicate and unknown keys.
  std::vector<std::pair<YAML::Node, YAML::Node>> entries(const YAML::Node& node, const std::string& what,
                                                        const std::vector<std::string>& allowed) const {
    if (!node.IsMap()) {
      expected(node, what, "a mapping");
    }
    std::vector<std::pair<YAML::Node, YAML::Node>> result;
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      // yaml-cpp's iterator yields a temporary pair: copy the nodes (handles) out of it.
      YAML::Node key = it->first;
      YAML::Node value = it->second;
      if (!key.IsScalar()) {
        expected(key, what + " key", "a plain name");
      }
      const std::string& name = key.Scalar();
      if (!seen.insert(name).second) {
        fail(key, fmt::format("{}: '{}' appears twice", what, name));
      }
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        std::string hint;
        for (const auto& candidate : allowed) {
          if (edit_distance(name, candidate) <= 2) {
            hint = fmt::format(" (did you mean '{}'?)", candidate);
            break;
          }
        }
        fail(key, fmt::format("{}: unknown key '{}'{}; known keys: {}", what, printable(name, 60), hint,
                              join(allowed, ", ")));
      }
      result.emplace_back(key, value);
    }
    return result;
  }

  std::string scalar(const YAML::Node& node, const std::string& what) const {
    if (!node.IsScalar()) {
      expected(node, what, "a single value");
    }
    if (node.Scalar().find('\0') != std::string::npos) {
      // An argv word or environment value is a C string: everything after the NUL would vanish.
      fail(node, what + ": the value holds a NUL byte (\\0), which no program argument or environment variable can "
                        "carry");
    }
    return node.Scalar();
  }

  std::string name(const YAML::Node& node, const std::string& what) const {
    std::string text = scalar(node, what);
    if (text.empty()) {
      expected(node, what, "a non-empty name");
    }
    return text;
  }

  long long integer(const YAML::Node& node, const std::string& what, long long min, long long max) const {
    std::string expectation = fmt::format("a whole number from {} to {}", min, max);
    if (!node.IsScalar()) {
      expected(node, what, expectation);
    }
    const std::string& text = node.Scalar();
    long long value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
      expected(node, what, expectation);
    }
    return value;
  }

  bool boolean(const YAML::Node& node, const std::string& what) const {
    std::string text = scalar(node, what);
    if (text == "true" || text == "yes" || text == "on") {
      return true;
    }
    if (text == "false" || text == "no" || text == "off") {
      return false;
    }
    expected(node, what, "true or false");
  }

  std::chrono::nanoseconds duration(const YAML::Node& node, const std::string& what) const {
    std::string text = scalar(node, what);
    auto parsed = parse_duration(text);
    if (!parsed || parsed->count() == 0) {
      expected(node, what, "a positive duration such as 30s, 500ms, 2m or 1h");
    }
    return *parsed;
  }

  CommandTemplate command(const YAML::Node& node, const std::string& what, bool shell) const {
    CommandTemplate result;
    result.shell = shell;
    if (node.IsScalar()) {
      if (!shell) {
        fail(node, fmt::format("{} is a string: write it as a list of words ([\"prog\", \"--flag\", \"{{axis}}\"]), "
                               "or set `shell: true` to run it with /bin/sh",
                               what));
      }
      if (node.Scalar().empty()) {
        expected(node, what, "a non-empty command");
      }
      result.words.push_back(node.Scalar());
      result.locations.push_back(where(node));
      return result;
    }
    if (!node.IsSequence() || node.size() == 0) {
      expected(node, what, shell ? "a shell command string" : "a non-empty list of words");
    }
    for (const auto& word : node) {
      result.words.push_back(scalar(word, what + " word"));
      result.locations.push_back(where(word));
    }
    if (result.words[0].empty()) {
      expected(node[0], what + "[0]", "a program name");
    }
    if (shell) {
      // A list with shell: true is one script: its words joined by spaces, as the user wrote them.
      CommandTemplate joined;
      joined.shell = true;
      joined.words.push_back(join(result.words, " "));
      joined.locations.push_back(result.locations.front());
      return joined;
    }
    return result;
  }

  EnvList env(const YAML::Node& node, const std::string& what,
              std::map<std::string, SourceLocation>* locations = nullptr) const {
    EnvList result;
    for (const auto& [key, value] : entries(node, what, {})) {
      const std::string& name = key.Scalar();
      if (!is_identifier(name, false)) {
        fail(key, fmt::format("{}: '{}' is not a valid environment variable name", what, printable(name, 60)));
      }
      if (name.rfind("BENCHMATRIX_", 0) == 0) {
        fail(key, fmt::format("{}: '{}' is set by benchmatrix itself (task protocol) and cannot be overridden",
                              what, name));
      }
      result.emplace_back(name, scalar(value, what + "." + name));
      if (locations != nullptr) {
        (*locations)[name] = where(value);
      }
    }
    return result;
  }

  // A size in bytes: 1048576, 64MiB, 500KB, 2GiB; 0 or `unlimited` for no limit.
  std::uint64_t size(const YAML::Node& node, const std::string& what) const {
    std::string expectation = "a size such as 64MiB, 500KB or 0 (no limit)";
    std::string text = scalar(node, what);
    if (text == "unlimited") {
      return 0;
    }
    std::uint64_t number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error != std::errc() || end == text.data()) {
      expected(node, what, expectation);
    }
    std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
    static const std::vector<std::pair<std::string_view, std::uint64_t>> k_units = {
        {"", 1},          {"B", 1},           {"KB", 1000},       {"MB", 1000000}, {"GB", 1000000000},
        {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30}};
    for (const auto& [name, scale] : k_units) {
      if (unit == name) {
        if (number > (1ULL << 50) / scale) {
          expected(node, what, expectation + " (at most 1 PiB)");
        }
        return number * scale;
      }
    }
    expected(node, what, expectation);
  }

  // A real number in [min, max]; "2%" means 0.02 when `percent` is allowed.
  double number(const YAML::Node& node, const std::string& what, double min, double max, bool percent) const {
    std::string expectation = percent ? fmt::format("a fraction from {} to {} (e.g. 0.02 or 2%)", min, max)
                                      : fmt::format("a number from {} to {}", min, max);
    if (!node.IsScalar()) {
      expected(node, what, expectation);
    }
    std::string text = node.Scalar();
    double scale = 1;
    if (percent && !text.empty() && text.back() == '%') {
      text.pop_back();
      scale = 0.01;
    }
    double value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
      expected(node, what, expectation);
    }
    value *= scale;
    if (value < min || value > max) {
      expected(node, what, expectation);
    }
    return value;
  }

  // repeat: {warmup, runs} or adaptive {min_runs, max_runs, target_rel_ci}
  void repeat(const YAML::Node& node, const std::string& what, TaskSettings& settings, Config* top = nullptr) const {
    std::vector<std::string> keys = {"warmup", "runs", "min_runs", "max_runs", "target_rel_ci", "cooldown"};
    if (top != nullptr) {
      keys.insert(keys.end(), {"interleave", "seed"});  // run-wide: not per axis value
    }
    for (const auto& [key, value] : entries(node, what, keys)) {
      const std::string& name = key.Scalar();
      std::string field = what + "." + name;
      if (name == "interleave") {
        top->interleave = boolean(value, field);
        top->interleave_set = true;
      } else if (name == "seed") {
        top->interleave_seed = static_cast<std::uint64_t>(integer(value, field, 0, 1LL << 62));
      } else if (name == "warmup") {
        settings.warmup = static_cast<int>(integer(value, field, 0, k_max_count));
      } else if (name == "runs") {
        settings.runs = static_cast<int>(integer(value, field, 1, k_max_count));
        settings.runs_location = where(value);
      } else if (name == "min_runs") {
        settings.min_runs = static_cast<int>(integer(value, field, 2, k_max_count));
      } else if (name == "max_runs") {
        settings.max_runs = static_cast<int>(integer(value, field, 2, k_max_count));
      } else if (name == "cooldown") {
        settings.cooldown = duration(value, field);
      } else {
        settings.target_rel_ci = number(value, field, 0.0001, 1, true);
      }
    }
    if ((settings.min_runs || settings.max_runs) && !settings.target_rel_ci) {
      fail(node, what + ": min_runs and max_runs belong to adaptive repetition; add target_rel_ci (e.g. 2%)");
    }
    if (settings.min_runs && settings.max_runs && *settings.min_runs > *settings.max_runs) {
      fail(node, fmt::format("{}: min_runs ({}) is larger than max_runs ({})", what, *settings.min_runs,
                             *settings.max_runs));
    }
  }

  AnalysisSettings analysis(const YAML::Node& node) const {
    AnalysisSettings settings;
    for (const auto& [key, value] : entries(node, "analysis",
                                            {"baseline", "metric", "confidence", "threshold", "correction",
                                             "outliers", "bootstrap", "gate"})) {
      const std::string& name = key.Scalar();
      std::string what = "analysis." + name;
      if (name == "baseline") {
        auto pairs = entries(value, what, {});
        if (pairs.size() != 1) {
          expected(value, what, "one axis and its baseline value, e.g. {algo: std_sort}");
        }
        settings.baseline_axis = pairs[0].first.Scalar();
        settings.baseline_value = scalar(pairs[0].second, what + "." + settings.baseline_axis);
        settings.baseline_location = where(pairs[0].first);
      } else if (name == "gate") {
        settings.gate = boolean(value, what);
      } else if (name == "metric") {
        settings.metric = this->name(value, what);
      } else if (name == "confidence") {
        settings.confidence = number(value, what, 0.5, 0.9999, true);
      } else if (name == "threshold") {
        settings.threshold = number(value, what, 0, 10, true);
      } else if (name == "correction") {
        settings.correction = scalar(value, what);
        static const std::vector<std::string> k_corrections = {"holm", "bonferroni", "bh", "benjamini-hochberg",
                                                                "fdr", "none"};
        if (std::find(k_corrections.begin(), k_corrections.end(), settings.correction) == k_corrections.end()) {
          expected(value, what, "holm, bonferroni, bh or none");
        }
      } else if (name == "outliers") {
        for (const auto& [okey, ovalue] : entries(value, what, {"remove", "method", "threshold"})) {
          std::string field = what + "." + okey.Scalar();
          if (okey.Scalar() == "remove") {
            settings.remove_outliers = boolean(ovalue, field);
          } else if (okey.Scalar() == "method") {
            settings.outlier_method = scalar(ovalue, field);
            if (settings.outlier_method != "iqr" && settings.outlier_method != "modified_z" &&
                settings.outlier_method != "z") {
              expected(ovalue, field, "iqr, modified_z or z");
            }
          } else {
            settings.outlier_threshold = number(ovalue, field, 0.1, 100, false);
          }
        }
      } else {
        for (const auto& [bkey, bvalue] : entries(value, what, {"resamples", "seed"})) {
          if (bkey.Scalar() == "resamples") {
            settings.resamples = static_cast<int>(integer(bvalue, what + ".resamples", 100, 1'000'000));
          } else {
            settings.seed = static_cast<std::uint64_t>(integer(bvalue, what + ".seed", 0, 1LL << 62));
          }
        }
      }
    }
    return settings;
  }

  // task: {timeout, kill_grace, retries, cpus, gpus, priority}
  void task(const YAML::Node& node, const std::string& what, TaskSettings& settings) const {
    for (const auto& [key, value] :
         entries(node, what, {"timeout", "kill_grace", "output_limit", "memory", "pids", "retries", "cpus", "gpus", "priority"})) {
      const std::string& name = key.Scalar();
      std::string field = what + "." + name;
      if (name == "timeout") {
        settings.timeout = duration(value, field);
      } else if (name == "kill_grace") {
        settings.kill_grace = duration(value, field);
      } else if (name == "output_limit") {
        settings.output_limit = size(value, field);
      } else if (name == "memory") {
        settings.memory = size(value, field);
      } else if (name == "pids") {
        settings.pids = static_cast<std::uint64_t>(integer(value, field, 1, 1 << 22));
      } else if (name == "retries") {
        settings.retries = static_cast<int>(integer(value, field, 0, 100));
      } else if (name == "cpus") {
        settings.cpus = static_cast<int>(integer(value, field, 1, 4096));
        settings.cpus_location = where(value);
      } else if (name == "gpus") {
        settings.gpus = static_cast<int>(integer(value, field, 0, 64));
        settings.gpus_location = where(value);
      } else {
        auto priority = parse_priority(scalar(value, field));
        if (!priority) {
          expected(value, field, "high, normal or low");
        }
        settings.priority = priority;
      }
    }
  }

  // Aliases let a few lines of YAML stand for billions of nodes ("billion laughs"): every node
  // reached through a value's fields counts, and past a million the config is refused.
  void count_node(const YAML::Node& node) const {
    if (++m_nodes > k_max_nodes) {
      fail(node, fmt::format("more than {} values in one config (a YAML alias expanding without end?)", k_max_nodes));
    }
  }

  void fields(const YAML::Node& node, const std::string& prefix, AxisValue& value, size_t depth) const {
    if (depth > k_max_depth) {
      fail(node, "nesting is deeper than 64 levels");
    }
    count_node(node);
    if (node.IsScalar()) {
      value.fields[prefix] = scalar(node, prefix);
    } else if (node.IsMap()) {
      for (const auto& [key, child] : entries(node, prefix, {})) {
        fields(child, prefix + "." + key.Scalar(), value, depth + 1);
      }
    } else if (node.IsSequence()) {
      // A list field is available whole, as JSON text, for commands that take one argument.
      value.fields[prefix] = to_json(node, depth).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      expected(node, prefix, "a value");
    }
  }

  nlohmann::json to_json(const YAML::Node& node, size_t depth) const {
    if (depth > k_max_depth) {
      fail(node, "nesting is deeper than 64 levels");
    }
    count_node(node);
    if (node.IsScalar()) {
      return scalar(node, "value");
    }
    if (node.IsSequence()) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& item : node) {
        list.push_back(to_json(item, depth + 1));
      }
      return list;
    }
    if (node.IsMap()) {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& [key, child] : entries(node, "value", {})) {
        object[key.Scalar()] = to_json(child, depth + 1);
      }
      return object;
    }
    return nullptr;
  }

  AxisValue axis_value(const YAML::Node& node, const std::string& axis, size_t depth) const {
    AxisValue value;
    value.location = where(node);
    std::string what = fmt::format("matrix.{} value", axis);
    if (node.IsScalar()) {
      value.name = name(node, what);
      return value;
    }
    if (!node.IsMap()) {
      expected(node, what, "a name or a mapping with a `name`");
    }
    if (!node["name"]) {
      fail(node, fmt::format("{}: a mapping value needs a `name` (used in result paths and placeholders)", what));
    }
    for (const auto& [key, child] : entries(node, what, {})) {
      const std::string& field = key.Scalar();
      if (field == "name") {
        value.name = name(child, what + ".name");
      } else if (field == "matrix") {
        value.sub_axes = axes(child, depth + 1);
      } else if (field == "repeat") {
        repeat(child, what + ".repeat", value.overrides);
      } else if (field == "task") {
        task(child, what + ".task", value.overrides);
      } else if (field == "env") {
        value.overrides.env = env(child, what + ".env", &value.overrides.env_locations);
      } else if (field == "enabled") {
        value.enabled = boolean(child, what + ".enabled");
      } else {
        if (!is_identifier(field, true)) {
          fail(key, fmt::format("{}: field name '{}' must be letters, digits, '_' or '-'", what, printable(field, 60)));
        }
        fields(child, field, value, depth + 1);
      }
    }
    return value;
  }

  std::vector<Axis> axes(const YAML::Node& node, size_t depth) const {
    if (depth > k_max_depth) {
      fail(node, "matrix nesting is deeper than 64 levels");
    }
    std::vector<Axis> result;
    for (const auto& [key, values] : entries(node, "matrix", {})) {
      Axis axis;
      axis.name = key.Scalar();
      axis.location = where(key);
      if (!is_identifier(axis.name, false)) {
        fail(key, fmt::format("matrix: axis name '{}' must start with a letter or '_' and contain only letters, "
                              "digits and '_'",
                              printable(axis.name, 60)));
      }
      if (k_reserved_names.count(axis.name) != 0) {
        fail(key, fmt::format("matrix: '{}' is a built-in placeholder and cannot name an axis", axis.name));
      }
      std::string what = "matrix." + axis.name;
      if (values.IsMap()) {
        auto discovery = entries(values, what, {"discover"});
        if (discovery.empty()) {
          expected(values, what, "a list of values or {discover: COMMAND}");
        }
        // Run by discover(), after the run's `before:` step (which may build the lister).
        axis.discover = this->command(discovery[0].second, what + ".discover", false);
        axis.discover_location = where(discovery[0].second);
      } else if (values.IsSequence()) {
        std::size_t disabled = 0;
        for (const auto& item : values) {
          AxisValue value = axis_value(item, axis.name, depth);
          if (value.enabled) {
            axis.values.push_back(std::move(value));
          } else {
            ++disabled;
          }
        }
        if (axis.values.empty() && disabled > 0) {
          fail(values, fmt::format("{}: every value has `enabled: false` (an empty axis would make an empty matrix)",
                                   what));
        }
      } else {
        expected(values, what, "a list of values");
      }
      if (axis.values.empty() && axis.discover.empty()) {
        fail(values, fmt::format("{}: the axis has no values (an empty axis would make an empty matrix)", what));
      }
      std::set<std::string> names;
      for (const auto& value : axis.values) {
        if (!names.insert(value.name).second) {
          throw UserError(value.location, fmt::format("{}: the value '{}' appears twice", what, printable(value.name)));
        }
      }
      result.push_back(std::move(axis));
    }
    if (result.empty()) {
      fail(node, "matrix: expected at least one axis, found an empty mapping");
    }
    return result;
  }

  std::vector<Combination> combinations(const YAML::Node& node, const std::string& what) const {
    if (!node.IsSequence()) {
      expected(node, what, "a list of {axis: value} mappings");
    }
    std::vector<Combination> result;
    for (const auto& item : node) {
      Combination combination;
      combination.location = where(item);
      for (const auto& [key, value] : entries(item, what + " entry", {})) {
        combination.values.emplace_back(key.Scalar(), scalar(value, what + "." + key.Scalar()));
      }
      if (combination.values.empty()) {
        fail(item, what + ": an entry must name at least one axis");
      }
      result.push_back(std::move(combination));
    }
    return result;
  }

  std::vector<int> cpu_ids(const YAML::Node& node, const std::string& what) const {
    std::vector<int> ids;
    if (node.IsSequence()) {
      for (const auto& item : node) {
        ids.push_back(static_cast<int>(integer(item, what, 0, 4095)));
      }
    } else {
      expected(node, what, "a list of CPU ids or `auto`");
    }
    if (ids.empty()) {
      expected(node, what, "at least one CPU id");
    }
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
      fail(node, what + ": a CPU id is listed twice");
    }
    return ids;
  }

  void resources(const YAML::Node& node, ResourceSettings& settings) const {
    for (const auto& [key, value] :
         entries(node, "resources", {"cores", "reserve_core0", "jobs", "gpus", "per_gpu", "max_concurrent",
                                     "thermal_limit", "cool_down", "gpu_check", "gpu_check_timeout"})) {
      const std::string& name = key.Scalar();
      std::string what = "resources." + name;
      if (name == "cores") {
        if (value.IsScalar() && value.Scalar() == "auto") {
          settings.cores.reset();
        } else {
          settings.cores = cpu_ids(value, what);
          settings.cores_location = where(value);
        }
      } else if (name == "reserve_core0") {
        settings.reserve_core0 = boolean(value, what);
      } else if (name == "jobs") {
        settings.jobs = static_cast<int>(integer(value, what, 1, 4096));
      } else if (name == "gpus") {
        if (!value.IsSequence()) {
          expected(value, what, "a list of GPU indices");
        }
        for (const auto& item : value) {
          settings.gpus.push_back(static_cast<int>(integer(item, what, 0, 255)));
        }
      } else if (name == "max_concurrent") {
        settings.max_concurrent = static_cast<int>(integer(value, what, 1, 4096));
        settings.max_concurrent_location = where(value);
      } else if (name == "thermal_limit") {
        std::string text = scalar(value, what);
        if (!text.empty() && (text.back() == 'C' || text.back() == 'c')) {
          text.pop_back();
        }
        char* end = nullptr;
        long celsius = std::strtol(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || celsius < 20 || celsius > 120) {
          expected(value, what, "a temperature in Celsius from 20 to 120, such as 80C");
        }
        settings.thermal_limit = static_cast<unsigned>(celsius);
      } else if (name == "cool_down") {
        settings.cool_down = duration(value, what);
      } else if (name == "gpu_check") {
        // A string is a shell command; a list is run as it is. It runs once per GPU, with that GPU
        // alone visible.
        settings.gpu_check = command(value, what, value.IsScalar());
      } else if (name == "gpu_check_timeout") {
        settings.gpu_check_timeout = duration(value, what);
      } else {
        settings.per_gpu = static_cast<int>(integer(value, what, 1, 64));
      }
    }
  }

  std::vector<std::string> parallel(const YAML::Node& node) const {
    std::vector<std::string> names;
    if (node.IsScalar()) {
      auto count = integer(node, "parallel", 1, 4096);
      for (long long i = 0; i < count; ++i) {
        names.push_back(std::to_string(i));
      }
      return names;
    }
    if (!node.IsSequence() || node.size() == 0) {
      expected(node, "parallel", "a number of slots or a non-empty list of slot names");
    }
    std::set<std::string> seen;
    for (const auto& item : node) {
      std::string slot = name(item, "parallel");
      if (!seen.insert(slot).second) {
        fail(item, fmt::format("parallel: the slot name '{}' appears twice", printable(slot)));
      }
      names.push_back(slot);
    }
    return names;
  }

  // Run-level steps run once, outside any task: a task's placeholders mean nothing there.
  void check_no_placeholders(const CommandTemplate& command, const std::string& what) const {
    for (size_t i = 0; i < command.words.size(); ++i) {
      const std::string& word = command.words[i];
      for (size_t at = 0; at < word.size(); ++at) {
        if (word[at] == '{' && at + 1 < word.size() && word[at + 1] == '{') {
          ++at;
          continue;
        }
        if (word[at] == '{' && word.find('}', at) != std::string::npos) {
          throw UserError(command.locations[i],
                          fmt::format("{}: runs once for the whole run, so it has no {{placeholders}} (write a literal "
                                      "brace as {{{{)",
                                      what));
        }
      }
    }
  }

  SourceConfig source(const YAML::Node& node) const {
    SourceConfig source;
    source.location = where(node);
    auto fields = entries(node, "source", {"gbench", "bench_h", "args", "axis", "split"});
    for (const auto& [key, value] : fields) {
      const std::string& field = key.Scalar();
      std::string what = "source." + field;
      if (field == "gbench" || field == "bench_h") {
        if (source.kind != SourceConfig::Kind::None) {
          fail(key, "source: give one program, as `gbench:` or `bench_h:`, not both");
        }
        source.kind = field == "gbench" ? SourceConfig::Kind::GoogleBenchmark : SourceConfig::Kind::BenchHeader;
        source.program = name(value, what);
        source.program_location = where(value);
      } else if (field == "args") {
        if (!value.IsSequence()) {
          expected(value, what, "a list of arguments, e.g. [\"--benchmark_min_time=0.05s\"]");
        }
        for (const auto& item : value) {
          source.args.push_back(scalar(item, what));
          source.args_locations.push_back(where(item));
          const std::string& arg = source.args.back();
          for (const char* owned : {"--benchmark_filter", "--benchmark_out", "--benchmark_list_tests"}) {
            if (source.kind != SourceConfig::Kind::BenchHeader && starts_with(arg, owned)) {
              fail(item, fmt::format("{}: {} is set by benchmatrix (one benchmark per process, its results read "
                                     "from a file it names)",
                                     what, owned));
            }
          }
        }
      } else if (field == "axis") {
        source.axis = name(value, what);
        if (!is_identifier(source.axis, false) || k_reserved_names.count(source.axis) != 0) {
          fail(value, fmt::format("{}: '{}' cannot name an axis", what, printable(source.axis, 60)));
        }
      } else if (field == "split") {
        if (value.IsSequence()) {
          source.split = true;
          for (const auto& item : value) {
            std::string arg = name(item, what);
            if (!is_identifier(arg, false) || k_reserved_names.count(arg) != 0) {
              fail(item, fmt::format("{}: '{}' cannot name an axis", what, printable(arg, 60)));
            }
            source.arg_names.push_back(arg);
          }
        } else {
          source.split = boolean(value, what);
        }
      }
    }
    if (source.kind == SourceConfig::Kind::None) {
      fail(node, "source: name the program, as `gbench: ./bench` (a Google Benchmark binary) or `bench_h: ./bench` "
                 "(a program built with benchmatrix/bench.h)");
    }
    return source;
  }

  // The argv a source's runs get. The word naming the benchmark (Google Benchmark's filter, bench.h's
  // --run NAME) is completed per task by the plan, from the task's benchmark name.
  static CommandTemplate source_command(const SourceConfig& source) {
    CommandTemplate command;
    auto add = [&](std::string word, const SourceLocation& location) {
      command.words.push_back(std::move(word));
      command.locations.push_back(location);
    };
    add(source.program, source.program_location);
    if (source.kind == SourceConfig::Kind::GoogleBenchmark) {
      add("--benchmark_filter=", source.location);
      add(std::string("--benchmark_out={result_dir}/") + k_gbench_out_file, source.location);
      add("--benchmark_out_format=json", source.location);
    } else {
      add("--run", source.location);
      add("", source.location);  // the benchmark's name: completed per task by the plan
    }
    for (size_t i = 0; i < source.args.size(); ++i) {
      add(source.args[i], source.args_locations[i]);
    }
    return command;
  }

  // `executor: local`, `executor: slurm`, or `executor: {type: slurm, partition: ..., ...}`.
  void executor(const YAML::Node& node, Config& config) const {
    if (node.IsScalar()) {
      config.executor = scalar(node, "executor");
      if (config.executor != "local" && config.executor != "slurm") {
        expected(node, "executor", "local or slurm (or {type: slurm, partition: ..., ...})");
      }
      return;
    }
    SlurmSettings& slurm = config.slurm;
    config.executor = "";
    for (const auto& [key, value] : entries(node, "executor",
                                            {"type", "partition", "account", "qos", "time", "sbatch", "element_time",
                                             "tasks_per_element", "tasks_at_once", "max_running", "infra_retries",
                                             "poll", "gpu_request", "worker"})) {
      const std::string& field = key.Scalar();
      std::string what = "executor." + field;
      if (field == "type") {
        config.executor = scalar(value, what);
        if (config.executor != "local" && config.executor != "slurm") {
          expected(value, what, "local or slurm");
        }
      } else if (field == "partition") {
        slurm.partition = name(value, what);
      } else if (field == "account") {
        slurm.account = name(value, what);
      } else if (field == "qos") {
        slurm.qos = name(value, what);
      } else if (field == "time") {
        slurm.time = duration(value, what);
        if (*slurm.time < std::chrono::minutes(1)) {
          expected(value, what, "at least 1m (SLURM counts time limits in minutes)");
        }
      } else if (field == "sbatch") {
        if (!value.IsSequence()) {
          expected(value, what, "a list of sbatch flags, such as [\"--constraint=a100\", \"--exclusive\"]");
        }
        for (const auto& item : value) {
          std::string flag = name(item, what);
          static const std::vector<std::string> k_own = {"--array", "--job-name", "--output", "--error", "--parsable",
                                                         "--wrap", "--signal", "-a", "-J", "-o", "-e"};
          for (const auto& own : k_own) {
            if (flag == own || flag.starts_with(own + "=")) {
              fail(item, fmt::format("{}: {} is set by benchmatrix (each array's elements, name and logs)", what, own));
            }
          }
          slurm.sbatch.push_back(flag);
        }
      } else if (field == "element_time") {
        slurm.element_time = duration(value, what);
      } else if (field == "tasks_per_element") {
        slurm.tasks_per_element = static_cast<int>(integer(value, what, 1, 100000));
      } else if (field == "tasks_at_once") {
        slurm.tasks_at_once = static_cast<int>(integer(value, what, 1, 1024));
      } else if (field == "max_running") {
        slurm.max_running = static_cast<int>(integer(value, what, 1, 1000000));
      } else if (field == "infra_retries") {
        slurm.infra_retries = static_cast<int>(integer(value, what, 0, 100));
      } else if (field == "poll") {
        slurm.poll = duration(value, what);
        if (slurm.poll < std::chrono::seconds(1)) {
          expected(value, what, "at least 1s (the controller answers every squeue)");
        }
      } else if (field == "gpu_request") {
        std::string text = scalar(value, what);
        if (text != "gres" && text != "gpus-per-task") {
          expected(value, what, "gres (--gres=gpu:N, the default) or gpus-per-task (--gpus-per-task=N)");
        }
        slurm.gpus_per_task = text == "gpus-per-task";
      } else if (field == "worker") {
        slurm.worker = name(value, what);
      }
    }
    if (config.executor.empty()) {
      fail(node, "executor: a mapping needs `type: slurm` (or local)");
    }
  }

  MetricsFileOptions metrics_file(const YAML::Node& node) const {
    MetricsFileOptions options;
    options.location = where(node);
    auto check_path = [&](const YAML::Node& value) {
      options.path = name(value, "metrics_file");
      std::filesystem::path path(options.path);
      bool escapes = path.is_absolute();
      for (const auto& part : path) {
        escapes = escapes || part == "..";
      }
      if (escapes || options.path.find('{') != std::string::npos) {
        fail(value, "metrics_file: a path inside the task's folder (relative, without '..' or placeholders), such as "
                    "metrics.json or out/results.json");
      }
    };
    if (node.IsScalar() && (node.Scalar() == "none" || node.Scalar() == "false")) {
      options.enabled = false;
      return options;
    }
    if (node.IsScalar()) {
      check_path(node);
      return options;
    }
    for (const auto& [key, value] : entries(node, "metrics_file", {"path", "format", "higher_is_better"})) {
      const std::string& field = key.Scalar();
      if (field == "path") {
        check_path(value);
      } else if (field == "format") {
        auto format = parse_result_format(scalar(value, "metrics_file.format"));
        if (!format || *format == ResultFormat::Hyperfine || *format == ResultFormat::PytestBenchmark) {
          expected(value, "metrics_file.format", "auto, metrics, lm_eval or gbench (hyperfine and pytest-benchmark "
                                                 "files are imported with `benchmatrix import`)");
        }
        options.format = *format;
      } else {
        if (!value.IsSequence()) {
          expected(value, "metrics_file.higher_is_better", "a list of metric names");
        }
        for (const auto& item : value) {
          options.higher_is_better.push_back(name(item, "metrics_file.higher_is_better"));
        }
      }
    }
    if (options.path.empty()) {
      fail(node, "metrics_file: `path` is missing (the file each run writes in its folder, e.g. metrics.json)");
    }
    return options;
  }

  Config config(const YAML::Node& root) const {
    if (!root.IsMap()) {
      expected(root, "the config", "a mapping of settings (name:, command:, matrix:, ...)");
    }
    Config config;
    config.file = m_file;
    auto top = entries(root, "config",
                       {"name", "description", "command", "shell", "setup", "teardown", "workdir", "matrix",
                        "include", "exclude", "repeat", "task", "resources", "parallel", "env", "env_inherit",
                        "executor", "monitor", "before", "after", "prepare", "source", "metrics_file",
                        "report", "analysis", "cost"});
    std::optional<std::pair<double, double>> cost;  // gpu_hour, core_hour: applied after analysis
    bool shell = false;
    if (root["shell"]) {
      shell = boolean(root["shell"], "shell");
    }
    for (const auto& [key, value] : top) {
      const std::string& field = key.Scalar();
      if (field == "name") {
        config.name = name(value, "name");
      } else if (field == "cost") {
        cost.emplace(0.0, 0.0);
        for (const auto& [ckey, cvalue] : entries(value, "cost", {"gpu_hour", "core_hour"})) {
          double price = number(cvalue, "cost." + ckey.Scalar(), 0, 1e6, false);
          (ckey.Scalar() == "gpu_hour" ? cost->first : cost->second) = price;
        }
      } else if (field == "description" || field == "shell") {
        scalar(value, field);
      } else if (field == "command") {
        config.command = command(value, "command", shell);
      } else if (field == "setup") {
        config.setup = command(value, "setup", shell);
      } else if (field == "prepare") {
        // Like hyperfine's --prepare: a string is a shell command, a list runs as it is.
        config.prepare = command(value, "prepare", value.IsScalar() || shell);
      } else if (field == "before" || field == "after") {
        // Once per run, not per task: a string is a shell command, a list runs as it is.
        (field == "before" ? config.before : config.after) = command(value, field, value.IsScalar());
        check_no_placeholders(field == "before" ? config.before : config.after, field);
      } else if (field == "source") {
        config.source = source(value);
      } else if (field == "metrics_file") {
        config.metrics_file = metrics_file(value);
      } else if (field == "teardown") {
        config.teardown = command(value, "teardown", shell);
      } else if (field == "workdir") {
        config.workdir = name(value, "workdir");
      } else if (field == "matrix") {
        config.axes = axes(value, 0);
      } else if (field == "include") {
        config.include = combinations(value, "include");
      } else if (field == "exclude") {
        config.exclude = combinations(value, "exclude");
      } else if (field == "repeat") {
        repeat(value, "repeat", config.defaults, &config);
      } else if (field == "task") {
        task(value, "task", config.defaults);
      } else if (field == "resources") {
        resources(value, config.resources);
      } else if (field == "parallel") {
        config.parallel_names = parallel(value);
      } else if (field == "env") {
        if (value.IsScalar() && value.Scalar() == "clean") {
          // A minimal environment: just what programs commonly need to run at all.
          config.env_inherit = std::vector<std::string>{"PATH", "HOME", "USER", "LANG", "LC_ALL", "TERM", "TMPDIR"};
        } else {
          config.defaults.env = env(value, "env", &config.defaults.env_locations);
        }
      } else if (field == "env_inherit") {
        if (value.IsScalar() && value.Scalar() == "all") {
          config.env_inherit.reset();
        } else if (value.IsScalar() && value.Scalar() == "none") {
          config.env_inherit = std::vector<std::string>{};
        } else if (value.IsSequence()) {
          std::vector<std::string> names;
          for (const auto& item : value) {
            std::string variable = name(item, "env_inherit");
            if (!is_identifier(variable, false)) {
              fail(item, fmt::format("env_inherit: '{}' is not a valid environment variable name",
                                     printable(variable, 60)));
            }
            names.push_back(variable);
          }
          config.env_inherit = names;
        } else {
          expected(value, "env_inherit", "all, none, or a list of variable names to keep");
        }
      } else if (field == "executor") {
        executor(value, config);
      } else if (field == "monitor") {
        if (value.IsScalar()) {
          config.monitor.enabled = boolean(value, "monitor");
        } else {
          for (const auto& [mkey, mvalue] : entries(value, "monitor", {"interval", "enabled"})) {
            if (mkey.Scalar() == "enabled") {
              config.monitor.enabled = boolean(mvalue, "monitor.enabled");
              continue;
            }
            auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(duration(mvalue, "monitor.interval"));
            if (interval.count() < 10 || interval > std::chrono::hours(1)) {
              expected(mvalue, "monitor.interval", "a sampling interval from 10ms to 1h, such as 100ms or 1s");
            }
            config.monitor.interval = interval;
          }
        }
      } else if (field == "report") {
        if (!value.IsSequence()) {
          expected(value, "report", "a list of formats (json, csv, markdown, html)");
        }
        config.reports.emplace();
        for (const auto& item : value) {
          std::string format = scalar(item, "report");
          if (format != "json" && format != "csv" && format != "markdown" && format != "html") {
            expected(item, "report", "json, csv, markdown or html");
          }
          config.reports->push_back(format);
        }
      } else if (field == "analysis") {
        config.analysis = analysis(value);
      }
    }
    if (cost) {
      config.analysis.gpu_hour = cost->first;
      config.analysis.core_hour = cost->second;
    }
    if (config.analysis.gate && config.analysis.baseline_axis.empty()) {
      fail(root["analysis"]["gate"], "analysis.gate: the gate fails on regressions against a baseline; set "
                                     "analysis.baseline (e.g. {build: base})");
    }
    if (!config.interleave_set) {
      config.interleave = !config.analysis.baseline_axis.empty();
    }
    if (config.interleave && config.analysis.baseline_axis.empty()) {
      fail(root["repeat"], "repeat.interleave: interleaving alternates the variants compared with a baseline; set "
                           "analysis.baseline (e.g. {algo: std_sort})");
    }
    if (!root["name"]) {
      fail(root, "config: `name` is missing (it names the run and the default output folder results/<name>)");
    }
    if (config.source.kind != SourceConfig::Kind::None) {
      if (root["command"]) {
        fail(root["command"], "command: a config with `source:` gets its command from the source (the program runs one "
                              "of its benchmarks per process); remove `command` or `source`");
      }
      if (shell) {
        fail(root["shell"], "shell: a `source:` program runs directly, not through a shell");
      }
      for (const auto& axis : config.axes) {
        if (axis.name == config.source.axis) {
          fail(root["source"], fmt::format("source: its benchmarks become the axis '{}', which the matrix already has "
                                           "(name another with source.axis)",
                                           axis.name));
        }
      }
      config.command = source_command(config.source);
    } else if (!root["command"]) {
      fail(root, "config: `command` is missing (the argv of each task, e.g. [\"./bench\", \"--n\", \"{n}\"])");
    }
    if (config.name.find_first_of(std::string("/\\\0", 3)) != std::string::npos || config.name == "." ||
        config.name == "..") {
      fail(root["name"], "name: must not contain '/' or '\\' (it names a folder)");
    }
    if (std::any_of(config.name.begin(), config.name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
      fail(root["name"], "name: must not contain control characters (it names a folder)");
    }
    return config;
  }

private:
  std::string m_file;
  mutable std::size_t m_nodes = 0;
};

// Where a second YAML document with content starts, if there is one. Looks at most one document
// past the first, through the parser's events: yaml-cpp's LoadAll can loop forever on malformed
// input (its parser keeps handing back the same document). A trailing `---` with nothing after it
// is not a document.
std::optional<YAML::Mark> second_document(const std::string& text) {
  struct Events : YAML::EventHandler {
    std::optional<YAML::Mark> start;
    bool content = false;
    void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override { content = true; }
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override { content = true; }
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
      content = true;
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
      content = true;
    }
    void OnMapEnd() override {}
  };
  std::istringstream input(text);
  YAML::Parser parser(input);
  Events first;
  if (!parser.HandleNextDocument(first)) {
    return std::nullopt;
  }
  Events second;
  if (!parser.HandleNextDocument(second) || !second.content) {
    return std::nullopt;
  }
  return second.start;
}

SourceLocation utf8_error_location(const std::string& text, const std::string& file) {
  int line = 1;
  int column = 1;
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t length = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (length == 0 || !is_valid_utf8(std::string_view(text).substr(i, length))) {
      break;
    }
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    i += length;
  }
  return {file, line, column};
}

} // namespace

Config parse_config(const std::string& text, const std::string& file, bool run_discovery) {
  if (size_t nul = text.find('\0'); nul != std::string::npos) {
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(nul), '\n'));
    size_t line_start = text.rfind('\n', nul);
    int column = static_cast<int>(nul - (line_start == std::string::npos ? 0 : line_start + 1)) + 1;
    throw UserError(SourceLocation{file, line, column}, "the config holds a NUL byte; it must be text");
  }
  if (!is_valid_utf8(text)) {
    throw UserError(utf8_error_location(text, file), "the config is not valid UTF-8 text");
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
    if (std::optional<YAML::Mark> second = second_document(text)) {
      // A second document would be silently ignored: say where it starts instead.
      throw UserError(SourceLocation{file, second->line + 1, second->column + 1},
                      "the config holds more than one YAML document (separated by ---); it must be one");
    }
  } catch (const YAML::DeepRecursion& error) {
    throw UserError(SourceLocation{file, error.mark.line + 1, error.mark.column + 1},
                    "not valid YAML (or JSON): nesting is too deep here");
  } catch (const YAML::Exception& error) {
    throw UserError(SourceLocation{file, error.mark.line + 1, error.mark.column + 1},
                    "not valid YAML (or JSON): " + error.msg);
  }
  if (root.IsNull()) {
    throw UserError(SourceLocation{file, 1, 1}, "the config is empty; it needs at least `name:` and `command:`");
  }
  try {
    Config config = Reader(file).config(root);
    config.text_hash = Hasher().add(text).hex();
    if (run_discovery) {
      discover(config);
    }
    return config;
  } catch (const YAML::Exception& error) {
    throw UserError(SourceLocation{file, error.mark.line + 1, error.mark.column + 1}, error.msg);
  } catch (const nlohmann::json::exception& error) {
    throw UserError(SourceLocation{file, 0, 0}, std::string("cannot represent a value: ") + error.what());
  }
}

Config load_config(const std::string& path, bool run_discovery) {
  // A regular file of sane size, checked before reading: a FIFO would block forever, /dev/zero
  // would grow memory without end.
  std::string text;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat info {};
  if (!fd || ::fstat(fd.get(), &info) != 0) {
    throw UserError(SourceLocation{path, 0, 0}, std::string("cannot read the config: ") + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    throw UserError(SourceLocation{path, 0, 0},
                    fmt::format("the config is {}, not a regular file",
                                S_ISDIR(info.st_mode)    ? "a folder"
                                : S_ISFIFO(info.st_mode) ? "a FIFO (a pipe)"
                                : S_ISCHR(info.st_mode) || S_ISBLK(info.st_mode) ? "a device"
                                : S_ISSOCK(info.st_mode) ? "a socket"
                                                         : "something else"));
  }
  if (static_cast<std::uint64_t>(info.st_size) > k_max_config_bytes) {
    throw UserError(SourceLocation{path, 0, 0}, fmt::format("the config is {} bytes; more than {} MiB is refused",
                                                            info.st_size, k_max_config_bytes >> 20));
  }
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  char buffer[65536];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof buffer)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw UserError(SourceLocation{path, 0, 0}, std::string("cannot read the config: ") + std::strerror(errno));
    }
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > k_max_config_bytes) {
      throw UserError(SourceLocation{path, 0, 0},
                      fmt::format("the config grew past {} MiB while it was read", k_max_config_bytes >> 20));
    }
  }
  Config config = parse_config(text, path, run_discovery);
  std::error_code ignored;
  config.directory = std::filesystem::absolute(std::filesystem::path(path).parent_path(), ignored).string();
  return config;
}

} // namespace bm
