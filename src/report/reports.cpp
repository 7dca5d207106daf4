#include "report/reports.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "report/tables.hpp"
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
                         {"verdict", verdict_name(c.verdict)},
                         {"summary", verdict_text(c)}};
  if (!c.reason.empty()) {
    json["reason"] = c.reason;
  }
  if (c.measured) {
    json["metric"] = c.metric;
    json["n_baseline"] = c.n_baseline;
    json["n"] = c.n_candidate;
    json["unit_of_test"] = c.nested ? "process (median of its samples)" : "process";
    json["median_baseline"] = c.median_baseline;
    json["median"] = c.median_candidate;
    json["ratio"] = c.ratio;
    json["ratio_ci"] = interval_json(c.ratio_ci);
    json["ratio_ci_confidence"] = c.family_confidence;
    json["ratio_of_medians"] = {{"ratio", c.median_ratio.ratio}, {"bootstrap_ci", interval_json(c.median_ratio.ci)}};
    json["hodges_lehmann_shift"] = c.hodges_lehmann;
    json["cliffs_delta"] = c.cliffs_delta;
    json["effect_size"] = c.magnitude;
    json["mann_whitney"] = {{"u", c.mann_whitney.u}, {"p", c.mann_whitney.p}, {"exact", c.mann_whitney.exact}};
    json["welch"] = {{"t", c.welch.t}, {"df", c.welch.df}, {"p", c.welch.p}, {"defined", c.welch.ok}};
    json["p_adjusted"] = c.p_adjusted;
    if (c.runs_needed > 0) {
      json["runs_needed"] = c.runs_needed;
    }
  }
  if (!c.flags.empty()) {
    json["flags"] = c.flags;
  }
  if (!c.notes.empty()) {
    json["notes"] = c.notes;
  }
  return json;
}

std::string format_value(double value, const MetricInfo& info) {
  return format_quantity(value, info.unit);
}

std::string format_ci(const Interval& interval) {
  return interval.ok ? fmt::format("[{:.3f}, {:.3f}]", interval.low, interval.high) : "n/a";
}

nlohmann::json verdict_counts_json(const Analysis& analysis) {
  nlohmann::json counts = nlohmann::json::object();
  for (Verdict verdict : k_verdict_order) {
    counts[std::string(verdict_name(verdict))] = analysis.count(verdict);
  }
  return counts;
}

// The rule said once under every table of comparisons.
std::string rule_text(const Analysis& analysis, double family_confidence) {
  return fmt::format("Mann-Whitney U per comparison, the unit being one process; {} correction over the {} measured "
                     "comparisons. The ratio new/baseline is the Hodges-Lehmann estimate on log values, its interval "
                     "the {:.4g}% family-wise one inverting the test. Regressed or improved: adjusted p < {:.2g} and "
                     "the whole interval beyond \u00b1{:.3g}%; unchanged: the whole interval within it; otherwise "
                     "inconclusive.",
                     analysis.settings.correction,
                     std::count_if(analysis.comparisons.begin(), analysis.comparisons.end(),
                                   [](const Comparison& c) { return c.measured; }),
                     family_confidence * 100, 1 - analysis.settings.confidence, analysis.settings.threshold * 100);
}

double family_confidence_of(const Analysis& analysis) {
  for (const auto& c : analysis.comparisons) {
    if (c.measured) {
      return c.family_confidence;
    }
  }
  return analysis.settings.confidence;
}

// "1.26x slower" for a measured comparison, "-" for the others.
std::string ratio_cell(const Comparison& c) {
  return c.measured ? ratio_in_words(c.ratio, c.info) : "-";
}

// The comparisons as Markdown: a heading, the counts line, the rule, the table, the notes.
std::string comparisons_markdown(const Analysis& analysis) {
  std::string md;
  double family = family_confidence_of(analysis);
  md += fmt::format("## Comparisons with {}\n\n**{}**\n\n", analysis.settings.baseline_axis.empty()
                                                              ? std::string("the base results")
                                                              : analysis.settings.baseline_axis + "=" + analysis.settings.baseline_value,
                    analysis.counts_line());
  md += rule_text(analysis, family) + "\n\n";
  md += fmt::format("| task | baseline | ratio | {:.4g}% CI | Cliff's \u03b4 | p (adj.) | verdict |\n"
                    "|---|---|---:|---|---:|---:|---|\n",
                    family * 100);
  for (const auto& c : analysis.comparisons) {
    if (c.measured) {
      md += fmt::format("| {} | {} | {} | {} | {:+.2f} ({}) | {} | **{}** |\n", c.label, c.baseline_label,
                        ratio_cell(c), format_ci(c.ratio_ci), c.cliffs_delta, c.magnitude, format_p(c.p_adjusted),
                        verdict_text(c));
    } else {
      md += fmt::format("| {} | {} | - | - | - | - | **{}** |\n", c.label, c.baseline_label, verdict_text(c));
    }
  }
  for (const auto& c : analysis.comparisons) {
    for (const auto& flag : c.flags) {
      md += fmt::format("\n- {}: {}", c.label, flag);
    }
    for (const auto& note : c.notes) {
      md += fmt::format("\n- {}: {}", c.label, note);
    }
  }
  md += "\n";
  return md;
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
                         {"verdicts", verdict_counts_json(analysis)},
                         {"verdicts_line", analysis.counts_line()},
                         {"summary", summary_block(tree, analysis)},
                         {"disturbed_tasks", std::count_if(tree.tasks.begin(), tree.tasks.end(),
                                                           [](const TaskSamples& t) { return !t.disturbed.empty(); })},
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
    if (!task.disturbed.empty()) {
      entry["disturbed"] = task.disturbed;
    }
    if (nlohmann::json cost = task_cost(task, stats, analysis.settings); !cost.is_null()) {
      entry["cost"] = cost;
    }
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
        csv += fmt::format("{},{},{},{},{},{},{:.6f},{},{},{}\n", prefix, run + 1, csv_field(metric), values[run],
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
    md += "\n" + comparisons_markdown(analysis);
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
  double family = family_confidence_of(analysis);
  say(out, "\nComparisons of {} with {} ({} correction, threshold \u00b1{:.3g}%, {:.4g}% family-wise intervals):\n",
      analysis.metric,
      analysis.settings.baseline_axis.empty() ? std::string("the base results")
                                              : analysis.settings.baseline_axis + "=" + analysis.settings.baseline_value,
      analysis.settings.correction, analysis.settings.threshold * 100, family * 100);
  say(out, "{}\n", analysis.counts_line());
  std::size_t width = 4;
  for (const auto& c : analysis.comparisons) {
    width = std::max(width, c.label.size());
  }
  say(out, "  {:<{}}  {:>14}  {:>17}  {:>9}  {}\n", "task", width, "ratio", "interval", "p (adj.)", "verdict");
  for (const auto& c : analysis.comparisons) {
    if (c.measured) {
      say(out, "  {:<{}}  {:>14}  {:>17}  {:>9}  {}\n", c.label, width, ratio_cell(c), format_ci(c.ratio_ci),
          format_p(c.p_adjusted), verdict_text(c));
    } else {
      say(out, "  {:<{}}  {:>14}  {:>17}  {:>9}  {}\n", c.label, width, "-", "-", "-", verdict_text(c));
    }
    for (const auto& flag : c.flags) {
      say(out, "      flag: {}\n", flag);
    }
    if (c.verdict == Verdict::Inconclusive || c.verdict == Verdict::Unchanged) {
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

void write_comparisons_json(const Analysis& analysis, const nlohmann::json& about, const std::filesystem::path& path) {
  nlohmann::json comparisons = nlohmann::json::array();
  for (const auto& comparison : analysis.comparisons) {
    comparisons.push_back(comparison_json(comparison));
  }
  nlohmann::json json = about;
  json["schema"] = 1;
  json["analysis"] = analysis.settings.to_json();
  json["metric"] = analysis.metric;
  json["verdicts"] = verdict_counts_json(analysis);
  json["verdicts_line"] = analysis.counts_line();
  json["comparisons"] = comparisons;
  json["warnings"] = analysis.warnings;
  write_file_atomic(path, json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

void write_comparisons_markdown(const Analysis& analysis, const std::string& title, const std::filesystem::path& path) {
  std::string md = fmt::format("# {}\n\n", title) + comparisons_markdown(analysis);
  for (const auto& warning : analysis.warnings) {
    md += fmt::format("\n> {}\n", warning);
  }
  write_file_atomic(path, md);
}

void write_comparisons_junit(const Analysis& analysis, const std::string& title, bool allow_missing,
                             const std::filesystem::path& path) {
  std::size_t failures = 0;
  std::string cases;
  for (const auto& c : analysis.comparisons) {
    bool fails = c.verdict == Verdict::Regressed ||
                 (!allow_missing && (c.verdict == Verdict::Failed || c.verdict == Verdict::TimedOut ||
                                     c.verdict == Verdict::Missing));
    cases += fmt::format("    <testcase classname=\"{}\" name=\"{}\">\n", escape_markup(analysis.metric), escape_markup(c.label));
    if (fails) {
      ++failures;
      cases += fmt::format("      <failure message=\"{}\">{} against {}</failure>\n", escape_markup(verdict_text(c)),
                           escape_markup(verdict_text(c)), escape_markup(c.baseline_label));
    } else {
      cases += fmt::format("      <system-out>{}</system-out>\n", escape_markup(verdict_text(c)));
    }
    cases += "    </testcase>\n";
  }
  std::string xml = fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"{}\" "
                                "tests=\"{}\" failures=\"{}\">\n{}  </testsuite>\n</testsuites>\n",
                                escape_markup(title), analysis.comparisons.size(), failures, cases);
  write_file_atomic(path, xml);
}

std::string verdict_rule_text(const Analysis& analysis) {
  return rule_text(analysis, family_confidence_of(analysis));
}

ReportOutputs ReportOutputs::from_names(const std::optional<std::vector<std::string>>& names) {
  if (!names) {
    return {};
  }
  ReportOutputs outputs;
  outputs.json = outputs.csv = outputs.markdown = outputs.html = false;
  for (const auto& name : *names) {
    outputs.json = outputs.json || name == "json";
    outputs.csv = outputs.csv || name == "csv";
    outputs.markdown = outputs.markdown || name == "markdown";
    outputs.html = outputs.html || name == "html";
  }
  return outputs;
}

std::string ReportOutputs::describe() const {
  std::vector<std::string> files;
  for (const auto& [wanted, file] : {std::pair{json, "summary.json"}, std::pair{csv, "samples.csv"},
                                     std::pair{markdown, "comparison_table.md"}, std::pair{html, "report.html"}}) {
    if (wanted) {
      files.emplace_back(file);
    }
  }
  if (files.size() <= 1) {
    return files.empty() ? "no report" : files.front();
  }
  std::string last = files.back();
  files.pop_back();
  return join(files, ", ") + " and " + last;
}

void write_reports(const ResultsTree& tree, const Analysis& analysis, const std::filesystem::path& dir,
                   const ReportOutputs& outputs) {
  if (outputs.json) {
    write_summary_json(tree, analysis, dir / "summary.json");
  }
  if (outputs.csv) {
    write_samples_csv(tree, dir / "samples.csv");
  }
  if (outputs.markdown) {
    write_markdown(tree, analysis, dir / "comparison_table.md");
  }
  if (outputs.html) {
    HtmlOptions options = outputs.html_options;
    options.page_dir = dir;
    write_html_report(tree, analysis, dir / "report.html", options);
  }
}

} // namespace bm
