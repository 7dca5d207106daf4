#include "report/reports.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/duration.hpp"
#include "util/fs.hpp"
#include "util/json_text.hpp"
#include "util/strings.hpp"
#include "util/console.hpp"
#include "util/signals.hpp"

namespace bm {

namespace {

nlohmann::json interval_json(const Interval& interval) {
  if (!interval.ok) {
    return {{"defined", false}, {"note", interval.note}};
  }
  return {{"low", interval.low}, {"high", interval.high}};
}

nlohmann::json descriptive_json(const Descriptive& d) {
  nlohmann::json json = {{"n", d.n},           {"mean", d.mean},   {"median", d.median}, {"stddev", d.stddev},
                         {"min", d.min},       {"max", d.max},     {"p5", d.p5},         {"p25", d.p25},
                         {"p75", d.p75},       {"p95", d.p95},     {"p99", d.p99},       {"mad", d.mad},
                         {"cv", d.cv},         {"mean_ci", interval_json(d.mean_ci)},
                         {"median_ci", interval_json(d.median_ci)}};
  if (d.shapiro_w) {
    json["shapiro_wilk"] = {{"w", *d.shapiro_w}, {"p", *d.shapiro_p}};
  }
  if (!d.notes.empty()) {
    json["notes"] = d.notes;
  }
  return json;
}

nlohmann::json comparison_json(const Comparison& c) {
  nlohmann::json json = {{"baseline", c.baseline_label},
                         {"task", c.label},
                         {"path", c.path},
                         {"metric", c.metric},
                         {"n_baseline", c.n_baseline},
                         {"n", c.n_candidate},
                         {"median_baseline", c.median_baseline},
                         {"median", c.median_candidate},
                         {"ratio", c.ratio.ratio},
                         {"ratio_ci", interval_json(c.ratio.ci)},
                         {"hodges_lehmann_shift", c.hodges_lehmann},
                         {"cliffs_delta", c.cliffs_delta},
                         {"effect_size", c.magnitude},
                         {"mann_whitney", {{"u", c.mann_whitney.u}, {"p", c.mann_whitney.p}, {"exact", c.mann_whitney.exact}}},
                         {"welch", {{"t", c.welch.t}, {"df", c.welch.df}, {"p", c.welch.p}, {"defined", c.welch.ok}}},
                         {"p_adjusted", c.p_adjusted},
                         {"verdict", verdict_text(c.verdict, c.info)}};
  if (!c.notes.empty()) {
    json["notes"] = c.notes;
  }
  return json;
}

std::string format_value(double value, const MetricInfo& info) {
  if (info.unit == "s") {
    return format_seconds(value);
  }
  return fmt::format("{:.4g}{}{}", value, info.unit.empty() ? "" : " ", info.unit);
}

std::string format_ci(const Interval& interval) {
  return interval.ok ? fmt::format("[{:.3f}, {:.3f}]", interval.low, interval.high) : "n/a";
}

} // namespace

void write_summary_json(const ResultsTree& tree, const Analysis& analysis, const std::filesystem::path& path) {
  // Written task by task: the document of a run with 100,000 tasks is never one tree in memory.
  nlohmann::json comparisons = nlohmann::json::array();
  for (const auto& comparison : analysis.comparisons) {
    comparisons.push_back(comparison_json(comparison));
  }
  nlohmann::json head = {{"schema", 1},
                         {"name", tree.name},
                         {"analysis", analysis.settings.to_json()},
                         {"metric", analysis.metric},
                         {"tasks_planned", tree.planned},
                         {"tasks_done", tree.tasks.size()},
                         {"comparisons", comparisons},
                         {"warnings", analysis.warnings}};
  AtomicFileWriter out(path);
  out.append(json_array_start(head, "tasks"));
  bool first = true;
  for (const auto& stats : analysis.tasks) {
    check_interrupt();
    const TaskSamples& task = tree.tasks[stats.task];
    nlohmann::json axes = nlohmann::json::object();
    for (const auto& [axis, value] : task.axes) {
      axes[axis] = value;
    }
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& metric : stats.metrics) {
      metrics[metric.metric] = {{"unit", metric.info.unit},
                                {"direction", metric.info.higher_is_better ? "higher" : "lower"},
                                {"statistics", descriptive_json(metric.descriptive)},
                                {"outliers",
                                 {{"iqr", metric.outliers.iqr_count},
                                  {"modified_z", metric.outliers.modified_z_count},
                                  {"z", metric.outliers.z_count},
                                  {"flagged", metric.outliers_flagged},
                                  {"removed", metric.outliers_removed}}}};
    }
    nlohmann::json entry = {{"task_id", task.task_id}, {"path", task.path}, {"axes", axes}, {"metrics", metrics}};
    out.append(json_array_element(indented_json(entry, 2), first));
    first = false;
  }
  out.append(json_array_end(first));
  out.commit();
}

void write_samples_csv(const ResultsTree& tree, const std::filesystem::path& path) {
  AtomicFileWriter out(path);
  std::string csv = "task_id,path";
  for (const auto& axis : tree.axis_order) {
    csv += "," + csv_field(axis);
  }
  csv += ",run,metric,value,unit,direction,started_unix,slot,cpus,gpus\n";
  out.append(csv);
  for (const auto& task : tree.tasks) {
    check_interrupt();
    std::string prefix = task.task_id + "," + csv_field(task.path);
    for (const auto& axis : tree.axis_order) {
      auto found = std::find_if(task.axes.begin(), task.axes.end(), [&](const auto& p) { return p.first == axis; });
      prefix += "," + (found == task.axes.end() ? std::string() : csv_field(found->second));
    }
    csv.clear();
    for (const auto& metric : task.metric_order) {
      MetricInfo info = metric_info(task.info, metric);
      const auto& values = task.samples.at(metric);
      const auto& started = task.started.at(metric);
      for (std::size_t run = 0; run < values.size(); ++run) {
        csv += fmt::format("{},{},{},{:.17g},{},{},{:.6f},{},{},{}\n", prefix, run + 1, csv_field(metric), values[run],
                           csv_field(info.unit), info.higher_is_better ? "higher" : "lower", started[run], csv_field(task.slot),
                           task.cpus, task.gpus);
      }
    }
    out.append(csv);
  }
  out.commit();
}

void write_markdown(const ResultsTree& tree, const Analysis& analysis, const std::filesystem::path& path) {
  std::string md = fmt::format("# {}: {}\n\n", tree.name, analysis.metric);
  md += "| task | n | median | 95% CI of median | mean ± sd | CV | outliers |\n|---|---:|---:|---|---|---:|---:|\n";
  for (const auto& stats : analysis.tasks) {
    const MetricStats* metric = stats.find(analysis.metric);
    if (metric == nullptr) {
      continue;
    }
    const Descriptive& d = metric->descriptive;
    std::string ci = d.median_ci.ok ? fmt::format("{} – {}", format_value(d.median_ci.low, metric->info),
                                                  format_value(d.median_ci.high, metric->info))
                                    : "n/a";
    md += fmt::format("| {} | {} | {} | {} | {} ± {} | {:.1f}% | {}{} |\n", tree.tasks[stats.task].label(), d.n,
                      format_value(d.median, metric->info), ci, format_value(d.mean, metric->info),
                      format_value(d.stddev, metric->info), d.cv * 100, metric->outliers_flagged,
                      metric->outliers_removed > 0 ? " (removed)" : "");
  }
  if (!analysis.comparisons.empty()) {
    md += fmt::format("\n## Comparisons with the baseline ({}={})\n\n", analysis.settings.baseline_axis,
                      analysis.settings.baseline_value);
    md += fmt::format("Mann-Whitney U, {} correction over {} comparisons; a verdict needs adjusted p < {:.2g} and a "
                      "difference of at least {:.3g}%.\n\n",
                      analysis.settings.correction, analysis.comparisons.size(), 1 - analysis.settings.confidence,
                      analysis.settings.threshold * 100);
    md += "| task | baseline | ratio | 95% CI | Cliff's δ | p (adj.) | verdict |\n|---|---|---:|---|---:|---:|---|\n";
    for (const auto& c : analysis.comparisons) {
      md += fmt::format("| {} | {} | {:.3f} | {} | {:+.2f} ({}) | {:.3g} | **{}** |\n", c.label, c.baseline_label,
                        c.ratio.ratio, format_ci(c.ratio.ci), c.cliffs_delta, c.magnitude, c.p_adjusted,
                        verdict_text(c.verdict, c.info));
    }
    for (const auto& c : analysis.comparisons) {
      for (const auto& note : c.notes) {
        md += fmt::format("\n- {}: {}", c.label, note);
      }
    }
    md += "\n";
  }
  for (const auto& warning : analysis.warnings) {
    md += fmt::format("\n> {}\n", warning);
  }
  write_file_atomic(path, md);
}

void print_comparisons(std::FILE* out, const Analysis& analysis) {
  if (analysis.comparisons.empty()) {
    for (const auto& warning : analysis.warnings) {
      say(out, "warning: {}\n", warning);
    }
    return;
  }
  say(out, "\nComparisons of {} with {}={} ({} correction, threshold {:.3g}%):\n", analysis.metric,
             analysis.settings.baseline_axis.empty() ? "base" : analysis.settings.baseline_axis,
             analysis.settings.baseline_axis.empty() ? "results" : analysis.settings.baseline_value,
             analysis.settings.correction, analysis.settings.threshold * 100);
  std::size_t width = 4;
  for (const auto& c : analysis.comparisons) {
    width = std::max(width, c.label.size());
  }
  say(out, "  {:<{}}  {:>7}  {:>17}  {:>9}  {:>9}  {}\n", "task", width, "ratio", "95% CI", "cliff d",
             "p (adj.)", "verdict");
  for (const auto& c : analysis.comparisons) {
    say(out, "  {:<{}}  {:>7.3f}  {:>17}  {:>+9.2f}  {:>9.3g}  {}\n", c.label, width, c.ratio.ratio,
               format_ci(c.ratio.ci), c.cliffs_delta, c.p_adjusted, verdict_text(c.verdict, c.info));
    if (c.verdict == Verdict::NoDifference) {
      // Where nothing was found, say when the samples could not have found it.
      for (const auto& note : c.notes) {
        say(out, "      note: {}\n", note);
      }
    }
  }
  for (const auto& warning : analysis.warnings) {
    say(out, "  warning: {}\n", warning);
  }
}

void write_reports(const ResultsTree& tree, const Analysis& analysis, const std::filesystem::path& dir) {
  write_summary_json(tree, analysis, dir / "summary.json");
  write_samples_csv(tree, dir / "samples.csv");
  write_markdown(tree, analysis, dir / "comparison_table.md");
}

} // namespace bm
