#include "report/tables.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "util/duration.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

bool is_builtin(const std::string& metric) {
  return metric == "wall_time" || metric == "user_time" || metric == "system_time" || metric == "max_rss";
}

std::vector<std::string> shown_metrics(const ResultsTree& tree, const TableOptions& options) {
  if (!options.metrics.empty()) {
    return options.metrics;
  }
  std::vector<std::string> metrics;
  for (const auto& task : tree.tasks) {
    for (const auto& metric : task.metric_order) {
      if (!is_builtin(metric) && std::find(metrics.begin(), metrics.end(), metric) == metrics.end()) {
        metrics.push_back(metric);
      }
    }
  }
  metrics.push_back("wall_time");
  return metrics;
}

std::string value_of(const TaskSamples& task, const std::string& axis) {
  for (const auto& [name, value] : task.axes) {
    if (name == axis) {
      return value;
    }
  }
  return "-";
}

std::size_t display_width(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;  // UTF-8: count the first byte of each character
  }));
}

std::string render(const std::vector<std::vector<std::string>>& rows, std::size_t left_columns) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = " ";
    for (std::size_t i = 0; i < row.size(); ++i) {
      std::string pad(widths[i] - display_width(row[i]), ' ');
      line += " " + (i < left_columns ? row[i] + pad : pad + row[i]) + " ";
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out += line + "\n";
  }
  return out;
}

} // namespace

std::string format_number(double value) {
  if (!std::isfinite(value)) {
    return value > 0 ? "inf" : value < 0 ? "-inf" : "n/a";
  }
  if (value == 0) {
    return "0";
  }
  double magnitude = std::abs(value);
  if (magnitude >= 1e4) {
    return fmt::format("{:.0f}", value);
  }
  int decimals = std::clamp(3 - static_cast<int>(std::floor(std::log10(magnitude))), 0, 12);
  std::string text = fmt::format("{:.{}f}", value, decimals);
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') {
      text.pop_back();
    }
    if (text.back() == '.') {
      text.pop_back();
    }
  }
  return text;
}

std::string format_quantity(double value, const std::string& unit) {
  if (unit == "s") {
    if (std::abs(value) < 1e-6 && value != 0) {
      return format_number(value * 1e9) + "ns";
    }
    return format_seconds(value);
  }
  auto scaled = [&](double v, std::initializer_list<const char*> units) {
    auto it = units.begin();
    while (std::abs(v) >= 1024 && it + 1 != units.end()) {
      v /= 1024;
      ++it;
    }
    return format_number(v) + " " + *it;
  };
  if (unit == "KiB") {
    return scaled(value, {"KiB", "MiB", "GiB", "TiB"});
  }
  if (unit == "B" || unit == "bytes") {
    return scaled(value, {"B", "KiB", "MiB", "GiB", "TiB"});
  }
  // Large counts and rates with an SI prefix: 14.34 M elements/s, not 14344278.
  double magnitude = std::abs(value);
  if (magnitude >= 1e6) {
    const char* prefix = magnitude >= 1e12 ? "T" : magnitude >= 1e9 ? "G" : "M";
    double scale = magnitude >= 1e12 ? 1e12 : magnitude >= 1e9 ? 1e9 : 1e6;
    return format_number(value / scale) + " " + prefix + (unit.empty() ? "" : " " + unit);
  }
  return format_number(value) + (unit.empty() ? "" : " " + unit);
}

std::string format_p(double p) {
  return p < 1e-4 ? "<0.0001" : format_number(p);
}

void check_table_options(const ResultsTree& tree, const TableOptions& options) {
  std::set<std::string> metrics;
  for (const auto& task : tree.tasks) {
    metrics.insert(task.metric_order.begin(), task.metric_order.end());
  }
  for (const auto& metric : options.metrics) {
    if (metrics.count(metric) == 0) {
      throw UserError(fmt::format("--metric: no task has a metric named '{}'; the results have: {}",
                                  printable(metric, 80), join({metrics.begin(), metrics.end()}, ", ")));
    }
  }
  for (const auto* list : {&options.rows, &options.columns}) {
    for (const auto& axis : *list) {
      if (std::find(tree.axis_order.begin(), tree.axis_order.end(), axis) == tree.axis_order.end()) {
        throw UserError(fmt::format("--rows/--columns: there is no axis '{}' (axes: {})", printable(axis, 80),
                                    join(tree.axis_order, ", ")));
      }
    }
  }
  if (options.rows.empty() != options.columns.empty()) {
    throw UserError("--rows and --columns go together: the axes down and the axes across, e.g. --rows model,config "
                    "--columns subset");
  }
}

std::string task_table(const ResultsTree& tree, const Analysis& analysis, const TableOptions& options) {
  std::vector<std::string> metrics = shown_metrics(tree, options);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = tree.axis_order;
  if (head.empty()) {
    head.push_back("task");
  }
  // Runs are processes; a process that reported several samples (its own repetitions) shows them.
  head.push_back("runs");
  for (const auto& metric : metrics) {
    head.push_back(metric + " (median)");
    head.push_back("cv");
  }
  bool priced = analysis.settings.gpu_hour > 0 || analysis.settings.core_hour > 0;
  if (priced) {
    head.push_back("cost/run");
    head.push_back("per $");
  }
  rows.push_back(head);
  std::map<std::string, std::vector<std::string>> lacking;
  for (const auto& stats : analysis.tasks) {
    const TaskSamples& task = tree.tasks[stats.task];
    std::vector<std::string> row;
    for (const auto& axis : tree.axis_order) {
      row.push_back(value_of(task, axis));
    }
    if (tree.axis_order.empty()) {
      row.push_back(task.label());
    }
    std::size_t n = 0;
    for (const auto& metric : metrics) {
      const MetricStats* m = stats.find(metric);
      if (m == nullptr) {
        row.push_back("-");
        row.push_back("");
        lacking[metric].push_back(task.label());
        continue;
      }
      n = std::max(n, m->descriptive.n);
      row.push_back(format_quantity(m->descriptive.median, m->info.unit));
      row.push_back(m->descriptive.n > 1 ? fmt::format("{:.1f}%", m->descriptive.cv * 100) : "");
    }
    if (priced) {
      nlohmann::json cost = task_cost(task, stats, analysis.settings);
      row.push_back(cost.contains("per_run") ? "$" + format_number(cost["per_run"].get<double>()) : "-");
      std::string buys;
      if (cost.contains("per_dollar")) {
        for (const auto& [name, entry] : cost["per_dollar"].items()) {
          buys += (buys.empty() ? "" : ", ") + format_quantity(entry["value"].get<double>(), entry["unit"].get<std::string>());
        }
      }
      row.push_back(buys.empty() ? "-" : buys);
    }
    std::size_t processes = n;
    if (auto wall = task.samples.find("wall_time"); wall != task.samples.end() && !wall->second.empty()) {
      processes = wall->second.size();
    }
    std::string runs = std::to_string(processes);
    if (n > processes) {
      runs += fmt::format(" ({} samples)", n);
    }
    row.insert(row.begin() + static_cast<long>(std::max<std::size_t>(tree.axis_order.size(), 1)), runs);
    rows.push_back(std::move(row));
  }
  std::string out = render(rows, std::max<std::size_t>(tree.axis_order.size(), 1));
  for (const auto& [metric, tasks] : lacking) {
    out += fmt::format("  without {} ({}): {}\n", metric, tasks.size(),
                       printable(join(std::vector<std::string>(tasks.begin(), tasks.begin() + static_cast<long>(std::min<std::size_t>(tasks.size(), 10))), "; "), 400) +
                           (tasks.size() > 10 ? "; ..." : ""));
  }
  return out;
}

std::string pivot_table(const ResultsTree& tree, const Analysis& analysis, const std::string& metric,
                        const std::vector<std::string>& rows, const std::vector<std::string>& columns) {
  auto key = [](const TaskSamples& task, const std::vector<std::string>& axes) {
    std::vector<std::string> parts;
    for (const auto& axis : axes) {
      parts.push_back(value_of(task, axis));
    }
    return join(parts, " / ");
  };
  std::vector<std::string> row_keys;
  std::vector<std::string> column_keys;
  std::map<std::pair<std::string, std::string>, std::string> cells;
  for (const auto& stats : analysis.tasks) {
    const TaskSamples& task = tree.tasks[stats.task];
    std::string r = key(task, rows);
    std::string c = key(task, columns);
    if (std::find(row_keys.begin(), row_keys.end(), r) == row_keys.end()) {
      row_keys.push_back(r);
    }
    if (std::find(column_keys.begin(), column_keys.end(), c) == column_keys.end()) {
      column_keys.push_back(c);
    }
    const MetricStats* m = stats.find(metric);
    std::string& cell = cells[{r, c}];
    cell = m == nullptr ? "-" : (cell.empty() ? "" : cell + ", ") + format_quantity(m->descriptive.median, m->info.unit);
  }
  std::vector<std::vector<std::string>> grid;
  std::vector<std::string> head = {join(rows, " / ") + " \\ " + join(columns, " / ")};
  head.insert(head.end(), column_keys.begin(), column_keys.end());
  grid.push_back(head);
  for (const auto& r : row_keys) {
    std::vector<std::string> line = {r};
    for (const auto& c : column_keys) {
      auto found = cells.find({r, c});
      line.push_back(found == cells.end() ? "" : found->second);
    }
    grid.push_back(std::move(line));
  }
  return fmt::format("{} (median), rows {} by columns {}:\n", metric, join(rows, ", "), join(columns, ", ")) +
         render(grid, 1);
}

nlohmann::json task_cost(const TaskSamples& task, const TaskStats& stats, const AnalysisSettings& settings) {
  if (settings.gpu_hour <= 0 && settings.core_hour <= 0) {
    return nullptr;
  }
  auto count = [](const std::string& ids) {
    std::size_t n = 0;
    for (const auto& id : split(ids, ' ')) {
      n += id.empty() ? 0 : 1;
    }
    return n;
  };
  std::size_t cores = std::max<std::size_t>(count(task.cpus), 1);
  std::size_t gpus = count(task.gpus);
  double per_hour = static_cast<double>(cores) * settings.core_hour + static_cast<double>(gpus) * settings.gpu_hour;
  const MetricStats* wall = stats.find("wall_time");
  nlohmann::json cost = {{"per_hour", per_hour}, {"cores", cores}, {"gpus", gpus}};
  if (wall != nullptr) {
    cost["per_run"] = per_hour * wall->descriptive.median / 3600;
  }
  nlohmann::json per_dollar = nlohmann::json::object();
  for (const auto& metric : stats.metrics) {
    const std::string& unit = metric.info.unit;
    if (metric.info.higher_is_better && unit.size() > 2 && unit.substr(unit.size() - 2) == "/s" && per_hour > 0) {
      per_dollar[metric.metric] = {{"value", metric.descriptive.median * 3600 / per_hour},
                                   {"unit", unit.substr(0, unit.size() - 2) + " per $"}};
    }
  }
  if (!per_dollar.empty()) {
    cost["per_dollar"] = per_dollar;
  }
  return cost;
}

nlohmann::json summary_block(const ResultsTree& tree, const Analysis& analysis) {
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& metric : shown_metrics(tree, {})) {
    const MetricStats* best = nullptr;
    const MetricStats* steadiest = nullptr;
    std::size_t best_task = 0;
    std::size_t steadiest_task = 0;
    for (const auto& stats : analysis.tasks) {
      const MetricStats* m = stats.find(metric);
      if (m == nullptr) {
        continue;
      }
      bool better = best == nullptr || (m->info.higher_is_better ? m->descriptive.median > best->descriptive.median
                                                                 : m->descriptive.median < best->descriptive.median);
      if (better) {
        best = m;
        best_task = stats.task;
      }
      if (m->descriptive.n > 1 && (steadiest == nullptr || m->descriptive.cv < steadiest->descriptive.cv)) {
        steadiest = m;
        steadiest_task = stats.task;
      }
    }
    if (best == nullptr) {
      continue;
    }
    nlohmann::json entry = {{"best", tree.tasks[best_task].label()},
                            {"best_median", best->descriptive.median},
                            {"direction", best->info.higher_is_better ? "higher" : "lower"}};
    if (steadiest != nullptr) {
      entry["most_consistent"] = tree.tasks[steadiest_task].label();
      entry["most_consistent_cv"] = steadiest->descriptive.cv;
    }
    metrics[metric] = entry;
  }
  // The sentence: regressions first, then the largest improvement, else that nothing changed.
  std::string sentence;
  std::vector<std::string> regressed;
  const Comparison* top = nullptr;
  for (const auto& c : analysis.comparisons) {
    if (c.verdict == Verdict::Regressed) {
      regressed.push_back(fmt::format("{} ({} than {})", c.label, ratio_in_words(c.ratio, c.info), c.baseline_label));
    }
    if (c.verdict == Verdict::Improved &&
        (top == nullptr || std::abs(std::log(c.ratio)) > std::abs(std::log(top->ratio)))) {
      top = &c;
    }
  }
  if (!regressed.empty()) {
    sentence = fmt::format("{} worse than {} baseline on {}: {}.",
                           regressed.size() == 1 ? std::string("One variant is") : fmt::format("{} variants are", regressed.size()),
                           regressed.size() == 1 ? "its" : "their", analysis.metric, join(regressed, "; "));
  } else if (top != nullptr) {
    sentence = fmt::format("Prefer {}: {} than {} on {}, with no regression among {} comparisons.", top->label,
                           ratio_in_words(top->ratio, top->info), top->baseline_label, analysis.metric,
                           analysis.comparisons.size());
  } else if (!analysis.comparisons.empty()) {
    sentence = fmt::format("No variant differs from its baseline on {} beyond ±{}% ({}).", analysis.metric,
                           format_number(analysis.settings.threshold * 100), analysis.counts_line());
  } else if (metrics.contains(analysis.metric)) {
    sentence = fmt::format("Best on {}: {}.", analysis.metric, metrics[analysis.metric]["best"].get<std::string>());
  }
  return {{"metrics", metrics}, {"recommendation", sentence}};
}

} // namespace bm
