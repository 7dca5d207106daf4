#include "report/hyperfine.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "report/tables.hpp"
#include "stats/descriptive.hpp"
#include "util/duration.hpp"
#include "util/fs.hpp"

namespace bm {

namespace {

struct Times {
  double mean = 0;
  double stddev = 0;  // of the sample (n - 1); 0 for one value
  double median = 0;
  double min = 0;
  double max = 0;
};

Times times_of(std::vector<double> values) {
  Times t;
  if (values.empty()) {
    return t;
  }
  std::sort(values.begin(), values.end());
  double n = static_cast<double>(values.size());
  t.mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  double squares = 0;
  for (double value : values) {
    squares += (value - t.mean) * (value - t.mean);
  }
  t.stddev = values.size() > 1 ? std::sqrt(squares / (n - 1)) : 0;
  t.median = percentile(values, 50);
  t.min = values.front();
  t.max = values.back();
  return t;
}

const std::vector<double>& samples_of(const TaskSamples& task, const char* metric) {
  static const std::vector<double> none;
  auto found = task.samples.find(metric);
  return found == task.samples.end() ? none : found->second;
}

double mean_of(const std::vector<double>& values) {
  return values.empty() ? 0 : std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// A task as hyperfine names it: the compared command's own text when that is its only axis.
std::string display_name(const TaskSamples& task) {
  if (task.axes.size() == 1 && task.axes.front().first == "command") {
    return task.axes.front().second;
  }
  if (task.axes.empty()) {
    std::string command;
    for (const auto& word : task.command) {
      command += (command.empty() ? "" : " ") + word;
    }
    return command;
  }
  return task.label();
}

} // namespace

std::string hyperfine_summary(const ResultsTree& tree, const Analysis& analysis) {
  std::string out;
  std::map<std::string, std::string> names;  // label -> display name
  int number = 0;
  // The compared metric: wall time for commands, as hyperfine; a benchmark's own time otherwise.
  std::string metric = analysis.metric.empty() ? "wall_time" : analysis.metric;
  bool wall = metric == "wall_time";
  for (const auto& task : tree.tasks) {
    names[task.label()] = display_name(task);
    const auto& values = samples_of(task, metric.c_str());
    if (values.empty()) {
      continue;
    }
    auto info = task.info.find(metric);
    std::string unit = wall ? "s" : info == task.info.end() ? "" : info->second.unit;
    auto shown = [&](double value) { return format_quantity(value, unit); };
    Times t = times_of(values);
    auto processes = task.runs.find(metric);
    std::size_t runs = processes == task.runs.end() || processes->second.empty()
                           ? values.size()
                           : static_cast<std::size_t>(*std::max_element(processes->second.begin(), processes->second.end()));
    out += fmt::format("Benchmark {}: {}\n", ++number, display_name(task));
    out += fmt::format("  {} (mean ± σ):{}{:>9} ± {:>9}", wall ? "Time" : metric, wall ? "     " : "  ", shown(t.mean),
                       shown(t.stddev));
    out += wall ? fmt::format("    [User: {}, System: {}]\n", format_seconds(mean_of(samples_of(task, "user_time"))),
                              format_seconds(mean_of(samples_of(task, "system_time"))))
                : "\n";
    out += fmt::format("  Median:              {:>9}\n", shown(t.median));
    out += fmt::format("  Range (min … max):   {:>9} … {:>9}    {} run{}{}\n\n", shown(t.min), shown(t.max), runs,
                       runs == 1 ? "" : "s", values.size() != runs ? fmt::format(", {} samples", values.size()) : "");
  }
  if (analysis.comparisons.empty()) {
    return out;
  }
  auto name = [&](const std::string& label) {
    auto found = names.find(label);
    return "'" + (found == names.end() ? label : found->second) + "'";
  };
  out += "Summary\n";
  for (const auto& c : analysis.comparisons) {
    std::string base = name(c.baseline_label);
    std::string candidate = name(c.label);
    if (!c.measured) {
      out += fmt::format("  {}: {}\n", candidate, verdict_text(c));
      continue;
    }
    if (c.verdict == Verdict::Unchanged) {
      out += fmt::format("  {} and {} are alike on {}: within ±{} (unchanged)\n", candidate, base, c.metric,
                         format_number(analysis.settings.threshold * 100) + "%");
      continue;
    }
    // The verdict rule's estimate and interval, turned so the faster of the two is the subject.
    bool time_like = !c.info.higher_is_better;
    bool base_better = time_like ? c.ratio >= 1 : c.ratio <= 1;
    double ratio = c.ratio >= 1 ? c.ratio : 1 / c.ratio;
    double low = c.ratio >= 1 ? c.ratio_ci.low : 1 / c.ratio_ci.high;
    double high = c.ratio >= 1 ? c.ratio_ci.high : 1 / c.ratio_ci.low;
    std::string spread = c.ratio_ci.ok ? fmt::format(" ± {:.2f}", (high - low) / 2) : "";
    std::string subject = base_better ? base : candidate;
    std::string other = base_better ? candidate : base;
    std::string what = c.metric == "wall_time" || c.info.unit == "s"
                           ? fmt::format("ran {:.2f}{} times faster than", ratio, spread)
                           : fmt::format("had {:.2f}{} times {} {} than", ratio, spread,
                                         c.info.higher_is_better == base_better ? "higher" : "lower", c.metric);
    out += fmt::format("  {} {} {}", subject, what, other);
    if (c.verdict == Verdict::Inconclusive) {
      out += " (inconclusive: not shown beyond the threshold by the verdict rule)";
    } else {
      out += fmt::format(" (the verdict on {}: {}, p = {})", candidate,
                         c.verdict == Verdict::Regressed ? "regressed" : "improved", format_p(c.p_adjusted));
    }
    out += "\n";
  }
  return out;
}

nlohmann::json hyperfine_json(const ResultsTree& tree) {
  nlohmann::json results = nlohmann::json::array();
  for (const auto& task : tree.tasks) {
    const auto& wall = samples_of(task, "wall_time");
    if (wall.empty()) {
      continue;
    }
    Times t = times_of(wall);
    nlohmann::json parameters = nlohmann::json::object();
    for (const auto& [axis, value] : task.axes) {
      if (axis != "command") {
        parameters[axis] = value;
      }
    }
    results.push_back({{"command", display_name(task)},
                       {"mean", t.mean},
                       {"stddev", t.stddev},
                       {"median", t.median},
                       {"user", mean_of(samples_of(task, "user_time"))},
                       {"system", mean_of(samples_of(task, "system_time"))},
                       {"min", t.min},
                       {"max", t.max},
                       {"times", wall},
                       {"exit_codes", std::vector<int>(wall.size(), 0)},  // only finished tasks: every run exited 0
                       {"parameters", parameters}});
  }
  return {{"results", results}};
}

void write_hyperfine_json(const ResultsTree& tree, const std::filesystem::path& path) {
  write_file_atomic(path, hyperfine_json(tree).dump(2) + "\n");
}

} // namespace bm
