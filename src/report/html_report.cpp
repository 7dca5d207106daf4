#include "report/html_report.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "report/reports.hpp"
#include "report/tables.hpp"
#include "report/web_assets.hpp"
#include "util/directory.hpp"
#include "util/fs.hpp"
#include "util/signals.hpp"
#include "util/strings.hpp"

namespace bm {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_max_monitor_file = 64 * 1024 * 1024;

// Six significant digits: what a chart or a table shows, in a third of the bytes of a double's
// shortest exact form. summary.json and samples.csv keep every digit.
double rounded(double value) {
  if (!std::isfinite(value) || value == 0) {
    return value;
  }
  return std::stod(fmt::format("{:.6g}", value));
}

bool is_number(const std::string& text) {
  if (text.empty()) {
    return false;
  }
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && std::isfinite(value);
}

// A path below the page's folder as a URL: each segment percent-encoded.
std::string url_path(const fs::path& relative) {
  std::string out;
  for (const auto& part : relative) {
    if (!out.empty()) {
      out += '/';
    }
    for (unsigned char c : part.string()) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += fmt::format("%{:02X}", c);
      }
    }
  }
  return out;
}

struct TaskFiles {
  std::vector<std::string> logs;      // stdout.log / stderr.log, when the task wrote to them
  std::optional<std::string> monitor;  // monitor.csv's text
};

// What a task's folder holds besides the results: read through OUT's descriptor, never following
// a link (a task may plant anything in its folder).
TaskFiles task_files(const std::optional<Directory>& tasks, const std::string& path, bool want_monitor) {
  TaskFiles files;
  if (!tasks) {
    return files;
  }
  std::optional<Directory> folder;
  try {
    folder = tasks->find(path);
  } catch (const SystemError&) {
    return files;  // a link or a file where the folder should be: nothing to link to
  }
  if (!folder) {
    return files;
  }
  for (const char* name : {"stderr.log", "stdout.log"}) {
    auto entry = folder->entry(name);
    if (entry && S_ISREG(entry->st_mode)) {
      files.logs.emplace_back(name);
    }
  }
  if (want_monitor) {
    try {
      files.monitor = folder->read("monitor.csv", k_max_monitor_file);
    } catch (const SystemError&) {
      // not a regular file, or too large: no timeline
    }
  }
  return files;
}

// monitor.csv: a header naming the series (the first column is the time, in seconds since the
// epoch) and one row per sample. Rows beyond `max_rows` are thinned evenly.
std::optional<nlohmann::json> monitor_json(const std::string& text, std::size_t max_rows) {
  std::vector<std::string> lines = split(text, '\n');
  if (lines.size() < 2) {
    return std::nullopt;
  }
  std::vector<std::string> columns;
  for (const auto& column : split(lines[0], ',')) {
    columns.emplace_back(trim(column));
  }
  if (columns.size() < 2) {
    return std::nullopt;
  }
  std::vector<nlohmann::json> rows;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> cells = split(lines[i], ',');
    if (cells.size() != columns.size() || !is_number(std::string(trim(cells[0])))) {
      continue;
    }
    nlohmann::json row = nlohmann::json::array();
    for (const auto& cell : cells) {
      std::string value(trim(cell));
      row.push_back(is_number(value) ? nlohmann::json(rounded(std::stod(value))) : nlohmann::json(nullptr));
    }
    rows.push_back(std::move(row));
  }
  if (rows.empty()) {
    return std::nullopt;
  }
  nlohmann::json kept = nlohmann::json::array();
  double step = rows.size() > max_rows ? static_cast<double>(rows.size()) / static_cast<double>(max_rows) : 1.0;
  for (double at = 0; static_cast<std::size_t>(at) < rows.size(); at += step) {
    kept.push_back(std::move(rows[static_cast<std::size_t>(at)]));
  }
  return nlohmann::json{{"columns", columns}, {"rows", kept}, {"thinned_from", rows.size()}};
}

nlohmann::json stats_json(const MetricStats& stats) {
  const Descriptive& d = stats.descriptive;
  nlohmann::json json = {{"n", d.n},
                         {"median", rounded(d.median)},
                         {"mean", rounded(d.mean)},
                         {"stddev", rounded(d.stddev)},
                         {"min", rounded(d.min)},
                         {"max", rounded(d.max)},
                         {"p25", rounded(d.p25)},
                         {"p75", rounded(d.p75)},
                         {"cv", rounded(d.cv)}};
  if (d.median_ci.ok) {
    json["lo"] = rounded(d.median_ci.low);
    json["hi"] = rounded(d.median_ci.high);
  }
  if (stats.outliers_flagged > 0) {
    json["outliers"] = stats.outliers_flagged;
  }
  return json;
}

std::vector<std::string> axis_values(const std::vector<std::pair<std::string, std::string>>& axes,
                                     const std::vector<std::string>& order) {
  std::vector<std::string> values;
  for (const auto& axis : order) {
    auto found = std::find_if(axes.begin(), axes.end(), [&](const auto& pair) { return pair.first == axis; });
    values.push_back(found == axes.end() ? "" : found->second);
  }
  return values;
}

// What a reader should know before trusting the numbers: the analysis's own warnings, disturbed
// runs, results from different machines, a program whose content changed between tasks.
std::vector<std::string> report_warnings(const ResultsTree& tree, const Analysis& analysis) {
  std::vector<std::string> warnings = tree.warnings;
  warnings.insert(warnings.end(), analysis.warnings.begin(), analysis.warnings.end());
  std::size_t disturbed = 0;
  std::string example;
  std::set<std::string> machines;
  std::map<std::string, std::set<std::string>> contents;
  for (const auto& task : tree.tasks) {
    if (!task.disturbed.empty()) {
      if (disturbed++ == 0) {
        example = fmt::format("{}: {}", task.label(), task.disturbed);
      }
    }
    if (!task.machine.empty()) {
      machines.insert(task.machine);
    }
    for (const auto& [path, hash] : task.executables) {
      contents[path].insert(hash);
    }
  }
  if (disturbed > 0) {
    warnings.push_back(fmt::format("{} task{} had measured runs disturbed by other processes on their cores (e.g. {})",
                                   disturbed, disturbed == 1 ? "" : "s", example));
  }
  if (machines.size() > 1) {
    warnings.push_back(fmt::format("the results come from {} different machines or kernels: {}", machines.size(),
                                   join({machines.begin(), machines.end()}, "; ")));
  }
  for (const auto& [path, hashes] : contents) {
    if (hashes.size() > 1) {
      warnings.push_back(fmt::format("{} had {} different contents among the tasks (rebuilt between them?)", path,
                                     hashes.size()));
    }
  }
  return warnings;
}

} // namespace

nlohmann::json report_data(const ResultsTree& tree, const Analysis& analysis, const HtmlOptions& options) {
  nlohmann::json data;
  data["schema"] = 1;
  data["name"] = tree.name;
  data["metric"] = analysis.metric;
  data["analysis"] = {{"baseline_axis", analysis.settings.baseline_axis},
                      {"baseline_value", analysis.settings.baseline_value},
                      {"threshold", analysis.settings.threshold},
                      {"confidence", analysis.settings.confidence},
                      {"correction", analysis.settings.correction}};

  // Axes with the values that exist in the results, in plan order.
  std::vector<std::vector<std::string>> values(tree.axis_order.size());
  auto note_values = [&](const std::vector<std::pair<std::string, std::string>>& axes) {
    std::vector<std::string> row = axis_values(axes, tree.axis_order);
    for (std::size_t a = 0; a < row.size(); ++a) {
      if (!row[a].empty() && std::find(values[a].begin(), values[a].end(), row[a]) == values[a].end()) {
        values[a].push_back(row[a]);
      }
    }
  };
  for (const auto& task : tree.tasks) {
    note_values(task.axes);
  }
  for (const auto& task : tree.unfinished) {
    note_values(task.axes);
  }
  nlohmann::json axes = nlohmann::json::array();
  for (std::size_t a = 0; a < tree.axis_order.size(); ++a) {
    bool numeric = !values[a].empty() && std::all_of(values[a].begin(), values[a].end(), is_number);
    axes.push_back({{"name", tree.axis_order[a]}, {"values", values[a]}, {"numeric", numeric}});
  }
  data["axes"] = axes;

  // Metrics: every one any task has, the compared one first.
  std::vector<std::string> metric_names;
  std::map<std::string, MetricInfo> infos;
  if (!analysis.metric.empty()) {
    metric_names.push_back(analysis.metric);
  }
  for (const auto& task : tree.tasks) {
    for (const auto& name : task.metric_order) {
      if (std::find(metric_names.begin(), metric_names.end(), name) == metric_names.end()) {
        metric_names.push_back(name);
      }
      if (infos.count(name) == 0) {
        infos[name] = metric_info(task.info, name);
      }
    }
  }
  nlohmann::json metrics = nlohmann::json::array();
  std::unordered_map<std::string, int> metric_index;
  for (const auto& name : metric_names) {
    metric_index[name] = static_cast<int>(metrics.size());
    const MetricInfo& info = infos[name];
    metrics.push_back({{"name", name}, {"unit", info.unit}, {"direction", info.higher_is_better ? "higher" : "lower"}});
  }
  data["metrics"] = metrics;

  std::optional<Directory> tasks_dir;
  try {
    tasks_dir = Directory::open(tree.root).find("tasks");
  } catch (const SystemError&) {
    // no tasks folder to link into
  }
  fs::path page_dir = options.page_dir.empty() ? tree.root : options.page_dir;
  fs::path to_tasks = fs::path(tree.root / "tasks").lexically_relative(page_dir);
  if (to_tasks.empty()) {
    to_tasks = tree.root / "tasks";  // another file system root: an absolute path still works from disk
  }
  auto log_links = [&](const std::string& path, const std::vector<std::string>& names) {
    nlohmann::json links = nlohmann::json::array();
    for (const auto& name : names) {
      links.push_back({{"name", name}, {"href", url_path(to_tasks / path / name)}});
    }
    return links;
  };

  // Which tasks' raw samples fit the budget: the compared ones first, then plan order.
  std::unordered_map<std::string, std::size_t> by_label;
  for (std::size_t i = 0; i < tree.tasks.size(); ++i) {
    by_label.emplace(tree.tasks[i].label(), i);
  }
  auto index_of = [&](const std::string& label) -> long {
    auto found = by_label.find(label);
    return found == by_label.end() ? -1 : static_cast<long>(found->second);
  };
  std::vector<std::size_t> sample_order;
  std::vector<bool> queued(tree.tasks.size(), false);
  auto queue = [&](long index) {
    if (index >= 0 && !queued[static_cast<std::size_t>(index)]) {
      queued[static_cast<std::size_t>(index)] = true;
      sample_order.push_back(static_cast<std::size_t>(index));
    }
  };
  for (const auto& c : analysis.comparisons) {
    queue(index_of(c.baseline_label));
    queue(index_of(c.label));
  }
  for (std::size_t i = 0; i < tree.tasks.size(); ++i) {
    queue(static_cast<long>(i));
  }
  std::vector<bool> sampled(tree.tasks.size(), false);
  std::size_t budget = options.sample_budget;
  std::size_t total_samples = 0;
  nlohmann::json s_task = nlohmann::json::array(), s_metric = nlohmann::json::array(), s_run = nlohmann::json::array(),
                 s_value = nlohmann::json::array(), s_time = nlohmann::json::array();
  for (std::size_t i : sample_order) {
    check_interrupt();
    const TaskSamples& task = tree.tasks[i];
    std::size_t count = 0;
    for (const auto& [name, list] : task.samples) {
      count += list.size();
    }
    total_samples += count;
    if (count > budget) {
      continue;
    }
    budget -= count;
    sampled[i] = true;
    for (const auto& name : task.metric_order) {
      const auto& list = task.samples.at(name);
      const auto& started = task.started.at(name);
      const auto& runs = task.runs.at(name);
      for (std::size_t k = 0; k < list.size(); ++k) {
        if (!std::isfinite(list[k])) {
          continue;
        }
        s_task.push_back(i);
        s_metric.push_back(metric_index[name]);
        s_run.push_back(runs[k]);
        s_value.push_back(rounded(list[k]));
        s_time.push_back(std::round(started[k] * 1000) / 1000);
      }
    }
  }
  std::size_t sampled_tasks = static_cast<std::size_t>(std::count(sampled.begin(), sampled.end(), true));
  data["samples"] = {{"budget", options.sample_budget},
                     {"tasks_included", sampled_tasks},
                     {"tasks_total", tree.tasks.size()},
                     {"values_total", total_samples},
                     {"task", s_task},
                     {"metric", s_metric},
                     {"run", s_run},
                     {"value", s_value},
                     {"t", s_time}};

  nlohmann::json tasks = nlohmann::json::array();
  nlohmann::json monitor = nlohmann::json::array();
  for (std::size_t i = 0; i < tree.tasks.size(); ++i) {
    check_interrupt();
    const TaskSamples& task = tree.tasks[i];
    nlohmann::json stats = nlohmann::json::object();
    if (i < analysis.tasks.size()) {
      for (const auto& metric : analysis.tasks[i].metrics) {
        stats[metric.metric] = stats_json(metric);
      }
    }
    TaskFiles files = task_files(tasks_dir, task.path, monitor.size() < options.monitor_tasks);
    nlohmann::json json = {{"id", task.task_id},
                           {"label", task.label()},
                           {"path", task.path},
                           {"axes", axis_values(task.axes, tree.axis_order)},
                           {"status", "succeeded"},
                           {"slot", task.slot},
                           {"cpus", task.cpus},
                           {"gpus", task.gpus},
                           {"sampled", sampled[i]},
                           {"stats", stats},
                           {"logs", log_links(task.path, files.logs)}};
    if (!task.disturbed.empty()) {
      json["disturbed"] = task.disturbed;
    }
    tasks.push_back(std::move(json));
    if (files.monitor) {
      if (auto series = monitor_json(*files.monitor, options.monitor_rows)) {
        (*series)["task"] = i;
        monitor.push_back(std::move(*series));
      }
    }
  }
  data["tasks"] = std::move(tasks);
  if (!monitor.empty()) {
    data["monitor"] = {{"tasks", monitor}};
  }

  nlohmann::json unfinished = nlohmann::json::array();
  for (const auto& task : tree.unfinished) {
    std::string state = task.state == UnfinishedTask::State::Failed     ? "failed"
                        : task.state == UnfinishedTask::State::TimedOut ? "timed out"
                        : task.state == UnfinishedTask::State::Skipped  ? "skipped"
                                                                        : "pending";
    TaskFiles files = state == "pending" ? TaskFiles{} : task_files(tasks_dir, task.path, false);
    unfinished.push_back({{"id", task.task_id},
                          {"label", task.label()},
                          {"path", task.path},
                          {"axes", axis_values(task.axes, tree.axis_order)},
                          {"state", state},
                          {"reason", task.reason},
                          {"logs", log_links(task.path, files.logs)}});
  }
  data["unfinished"] = std::move(unfinished);

  nlohmann::json comparisons = nlohmann::json::array();
  for (const auto& c : analysis.comparisons) {
    nlohmann::json json = {{"label", c.label},
                           {"baseline", c.baseline_label},
                           {"task", index_of(c.label)},
                           {"baseline_task", index_of(c.baseline_label)},
                           {"verdict", verdict_name(c.verdict)},
                           {"summary", verdict_text(c)}};
    if (c.measured) {
      json["ratio"] = rounded(c.ratio);
      if (c.ratio_ci.ok) {
        json["lo"] = rounded(c.ratio_ci.low);
        json["hi"] = rounded(c.ratio_ci.high);
      }
      json["p"] = c.p_adjusted;
      json["n"] = c.n_candidate;
      json["n_baseline"] = c.n_baseline;
    }
    comparisons.push_back(std::move(json));
  }
  data["comparisons"] = std::move(comparisons);
  data["warnings"] = report_warnings(tree, analysis);
  return data;
}

std::string json_for_script(const nlohmann::json& json) {
  std::string text = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size() + text.size() / 64);
  for (char c : text) {
    switch (c) {
    case '<':
      out += "\\u003c";
      break;
    case '>':
      out += "\\u003e";
      break;
    case '&':
      out += "\\u0026";
      break;
    default:
      out += c;
    }
  }
  return out;
}

namespace {

constexpr std::string_view k_style = R"css(
:root { color-scheme: light; --muted: #5d6d7e; --line: #d5d8dc; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1180px; padding: 0 20px 60px; color: #1b2631; }
h1 { margin: 24px 0 2px; font-size: 26px; } h2 { margin-top: 36px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub, .note, .empty { color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
ul.warnings li { color: #9a5b00; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f6f7; cursor: default; } table.tasks th { cursor: pointer; user-select: none; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.verdict-regressed, .status-failed td:first-child, .status-timed-out td:first-child { color: #c0392b; font-weight: 600; }
.verdict-improved { color: #1e8449; font-weight: 600; } .verdict-inconclusive { color: #b9770e; }
.verdict-failed, .verdict-timed-out, .verdict-missing { color: #6c3483; font-weight: 600; }
.counts { font-size: 16px; font-weight: 600; }
#pivot-control label { display: inline-flex; gap: 6px; align-items: center; margin: 0 14px 6px 0; }
.controls label { display: inline-flex; gap: 6px; align-items: center; margin: 0 14px 6px 0; }
.filters { display: flex; flex-wrap: wrap; gap: 8px; } fieldset { border: 1px solid var(--line); padding: 2px 8px 6px; max-height: 160px; overflow: auto; }
label.check { display: block; white-space: nowrap; }
.chart { margin: 8px 0 16px; } .error { color: #c0392b; }
.pager { margin: 6px 0; } input[type=search] { width: 280px; padding: 3px 6px; }
)css";

std::string fact_text(const nlohmann::json& value) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_array()) {
    std::vector<std::string> parts;
    for (const auto& item : value) {
      parts.push_back(fact_text(item));
    }
    return join(parts, ", ");
  }
  if (value.is_object()) {
    std::vector<std::string> parts;
    for (const auto& [key, item] : value.items()) {
      parts.push_back(key + ": " + fact_text(item));
    }
    return join(parts, "; ");
  }
  return value.dump();
}

std::string when_text(const ResultsTree& tree) {
  double first = 0, last = 0;
  for (const auto& task : tree.tasks) {
    for (const auto& [metric, times] : task.started) {
      for (double t : times) {
        if (t > 0) {
          first = first == 0 ? t : std::min(first, t);
          last = std::max(last, t);
        }
      }
    }
  }
  if (first == 0) {
    return {};
  }
  auto stamp = [](double t) {
    std::time_t seconds = static_cast<std::time_t>(t);
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                       utc.tm_hour, utc.tm_min, utc.tm_sec);
  };
  return fmt::format("measured runs from {} to {}", stamp(first), stamp(last));
}

std::string header_html(const ResultsTree& tree, const Analysis& analysis, const nlohmann::json& data) {
  std::string html;
  html += fmt::format("<header><h1>{}</h1><p class=\"sub\">benchmatrix report of {} &middot; {} of {} planned tasks "
                      "finished, {} not</p></header>\n",
                      escape_markup(tree.name), escape_markup(tree.root.string()), tree.tasks.size(), tree.planned,
                      tree.unfinished.size());
  html += "<section id=\"about\"><h2>What ran, where and when</h2>\n<dl class=\"facts\">\n";
  auto fact = [&](const std::string& name, const std::string& value) {
    if (!value.empty()) {
      html += fmt::format("<dt>{}</dt><dd>{}</dd>\n", escape_markup(name), escape_markup(value));
    }
  };
  std::vector<std::string> axes;
  for (const auto& axis : data["axes"]) {
    axes.push_back(fmt::format("{} ({} value{})", axis["name"].get<std::string>(), axis["values"].size(),
                               axis["values"].size() == 1 ? "" : "s"));
  }
  fact("config", tree.config_file);
  if (!tree.tasks.empty() && !tree.tasks.front().command.empty()) {
    std::vector<std::string> words;
    for (const auto& word : tree.tasks.front().command) {
      words.push_back(shell_quote(word));
    }
    fact("command", join(words, " ") + "  (the first task's; each task's is in its task.json)");
  }
  fact("matrix", axes.empty() ? "a single task" : join(axes, " \u00d7 "));
  fact("when", when_text(tree));
  for (const auto& [key, value] : tree.context.items()) {
    fact(key, fact_text(value));
  }
  html += "</dl>\n";
  const auto& warnings = data["warnings"];
  if (!warnings.empty()) {
    html += "<h3>Warnings</h3>\n<ul class=\"warnings\">\n";
    for (const auto& warning : warnings) {
      html += fmt::format("<li>{}</li>\n", escape_markup(warning.get<std::string>()));
    }
    html += "</ul>\n";
  }
  nlohmann::json summary = summary_block(tree, analysis);
  if (summary.contains("recommendation") && !summary["recommendation"].get<std::string>().empty()) {
    html += fmt::format("<p><strong>{}</strong></p>\n", escape_markup(summary["recommendation"].get<std::string>()));
  }
  html += "</section>\n";
  return html;
}

std::string verdicts_html(const Analysis& analysis) {
  if (analysis.comparisons.empty()) {
    return {};
  }
  std::string html = "<section id=\"verdicts\"><h2>Verdicts</h2>\n";
  html += fmt::format("<p class=\"counts\">{}</p>\n", escape_markup(analysis.counts_line()));
  html += fmt::format("<p class=\"note\">Metric: {}. {}</p>\n", escape_markup(analysis.metric),
                      escape_markup(verdict_rule_text(analysis)));
  html += "<table class=\"verdicts\"><thead><tr><th>verdict</th><th>task</th><th>baseline</th><th>ratio</th>"
          "<th>interval</th><th>p (adj.)</th><th>n</th></tr></thead><tbody>\n";
  for (const auto& c : analysis.comparisons) {  // regressions and failures first
    std::string verdict(verdict_name(c.verdict));
    std::string css = verdict;
    std::replace(css.begin(), css.end(), ' ', '-');
    html += fmt::format("<tr><td class=\"verdict-{}\">{}</td><td>{}</td><td>{}</td>", css,
                        escape_markup(verdict_text(c)), escape_markup(c.label), escape_markup(c.baseline_label));
    if (c.measured) {
      html += fmt::format("<td class=\"num\">{:.4f}</td><td class=\"num\">{}</td><td class=\"num\">{:.3g}</td>"
                          "<td class=\"num\">{} / {}</td></tr>\n",
                          c.ratio, c.ratio_ci.ok ? fmt::format("[{:.4f}, {:.4f}]", c.ratio_ci.low, c.ratio_ci.high) : "n/a",
                          c.p_adjusted, c.n_candidate, c.n_baseline);
    } else {
      html += fmt::format("<td colspan=\"4\">{}</td></tr>\n", escape_markup(c.reason));
    }
  }
  html += "</tbody></table>\n";
  bool measured = std::any_of(analysis.comparisons.begin(), analysis.comparisons.end(),
                              [](const Comparison& c) { return c.measured; });
  if (measured) {
    html += "<h3>Forest plot</h3><p class=\"note\">Each comparison's ratio with its interval, on a log scale "
            "centred on 1; the shaded band is the threshold within which a change does not matter.</p>"
            "<div id=\"forest\"></div>\n";
  }
  html += "</section>\n";
  return html;
}

std::string failures_html(const nlohmann::json& data) {
  std::string html;
  std::size_t count = 0;
  for (const auto& task : data["unfinished"]) {
    if (task["state"] == "pending") {
      continue;
    }
    ++count;
    std::string links;
    for (const auto& log : task["logs"]) {
      links += fmt::format(" <a href=\"{}\">{}</a>", escape_markup(log["href"].get<std::string>()),
                           escape_markup(log["name"].get<std::string>()));
    }
    html += fmt::format("<li><strong>{}</strong> ({}): {}{}</li>\n", escape_markup(task["label"].get<std::string>()),
                        escape_markup(task["state"].get<std::string>()), escape_markup(task["reason"].get<std::string>()),
                        links.empty() ? " (no output)" : " &middot;" + links);
  }
  if (count == 0) {
    return {};
  }
  return fmt::format("<section id=\"failures\"><h2>Failures ({})</h2>\n<ul>\n{}</ul></section>\n", count, html);
}

} // namespace

std::string html_page(const ResultsTree& tree, const Analysis& analysis, const nlohmann::json& data) {
  std::string csp = fmt::format("default-src 'none'; script-src {}; style-src 'unsafe-inline'; img-src data: blob:; "
                                "base-uri 'none'; form-action 'none'",
                                report_script_source());
  std::string html = fmt::format("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                                 "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n"
                                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                                 "<title>{} \u2013 benchmatrix report</title>\n<style>{}</style></head>\n<body>\n",
                                 csp, escape_markup(tree.name), k_style);
  html += "<noscript><p>The charts, the pivot and the task table need JavaScript; comparison_table.md and "
          "summary.json beside this page hold the same numbers.</p></noscript>\n";
  html += header_html(tree, analysis, data);
  html += verdicts_html(analysis);
  const auto& samples = data["samples"];
  html += "<section id=\"samples\"><h2>Samples</h2>\n";
  html += fmt::format("<p class=\"note\" id=\"sample-note\">Raw samples are embedded for {} of {} tasks ({} values at "
                      "most, the compared tasks first){}; every task's statistics are embedded.</p>\n",
                      samples["tasks_included"].get<std::size_t>(), samples["tasks_total"].get<std::size_t>(),
                      samples["budget"].get<std::size_t>(),
                      samples["tasks_included"] == samples["tasks_total"]
                          ? ""
                          : "; `benchmatrix report OUT --sample-budget N` embeds more");
  html += "<h3>The whole run over time</h3><p class=\"note\">Every sample divided by its task's median, against "
          "the time it was taken, coloured by slot: drift, warm-up and interference between slots show here.</p>"
          "<div id=\"timeline\"></div>\n<h3>One task or pair</h3><div id=\"detail\"></div></section>\n";
  html += "<section id=\"explore\"><h2>Explore the matrix</h2><p class=\"note\">Choose the metric, the axes and the "
          "values shown; over a numeric x axis this is the scaling view (a log axis when the values span 100\u00d7 "
          "or more).</p><div id=\"pivot-control\"></div><div id=\"pivot-chart\"></div>\n";
  if (data["axes"].size() >= 2) {
    html += "<h3>Heatmap</h3><p class=\"note\">The x axis across, the other axes down.</p><div id=\"heatmap\"></div>\n";
  }
  html += "</section>\n";
  html += failures_html(data);
  html += "<section id=\"all-tasks\"><h2>Every task</h2><div id=\"task-table\"></div></section>\n";
  if (data.contains("monitor")) {
    html += "<section id=\"monitoring\"><h2>Monitoring</h2><div id=\"monitor\"></div></section>\n";
  }
  html += fmt::format("<footer class=\"note\"><p>Written by benchmatrix {}. Each chart's menu (\u2026) saves it as "
                      "SVG or PNG.</p></footer>\n",
                      BENCHMATRIX_VERSION);
  html += "<script type=\"application/json\" id=\"bm-data\">";
  html += json_for_script(data);
  html += "</script>\n<script>";
  html += report_script();
  html += "</script>\n</body></html>\n";
  return html;
}

void write_html_report(const ResultsTree& tree, const Analysis& analysis, const fs::path& path, HtmlOptions options) {
  if (options.page_dir.empty()) {
    options.page_dir = fs::absolute(path).lexically_normal().parent_path();
  }
  nlohmann::json data = report_data(tree, analysis, options);
  write_file_atomic(path, html_page(tree, analysis, data));
}

} // namespace bm
