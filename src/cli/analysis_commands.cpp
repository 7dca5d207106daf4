#include "cli/command_support.hpp"

#include <algorithm>
#include <set>
#include <csignal>
#include <cstdio>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/options.hpp"
#include "config/loader.hpp"
#include "exec/local_executor.hpp"
#include "util/signals.hpp"
#include "plan/filter.hpp"
#include "plan/plan.hpp"
#include "report/console_status.hpp"
#include "report/plots.hpp"
#include "report/hyperfine.hpp"
#include "report/reports.hpp"
#include "report/tables.hpp"
#include "stats/analysis.hpp"
#include "store/results_reader.hpp"
#include "resources/pool.hpp"
#include "resources/topology.hpp"
#include "sched/runner.hpp"
#include "store/machine.hpp"
#include "stats/correction.hpp"
#include "store/lock.hpp"
#include "store/store.hpp"
#include "util/directory.hpp"
#include "util/fs.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"
#include "util/console.hpp"

extern char** environ;

namespace bm {

namespace {

double parse_fraction(const std::string& text, const char* what) {
  std::string number = text;
  double scale = 1;
  if (!number.empty() && number.back() == '%') {
    number.pop_back();
    scale = 0.01;
  }
  try {
    size_t used = 0;
    double value = std::stod(number, &used) * scale;
    if (used == number.size() && value >= 0 && value <= 10) {
      return value;
    }
  } catch (const std::exception&) {
  }
  throw UserError(fmt::format("{}: expected a fraction such as 0.02 or 2%, found '{}'", what, text));
}

AnalysisSettings apply_analysis_options(AnalysisSettings settings, const AnalysisOptions& options) {
  if (options.baseline) {
    size_t equals = options.baseline->find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == options.baseline->size()) {
      throw UserError(fmt::format("--baseline: expected axis=value, found '{}'", *options.baseline));
    }
    settings.baseline_axis = options.baseline->substr(0, equals);
    settings.baseline_value = options.baseline->substr(equals + 1);
  }
  if (options.metric) {
    settings.metric = *options.metric;
  }
  if (options.threshold) {
    settings.threshold = parse_fraction(*options.threshold, "--threshold");
  }
  if (options.correction) {
    if (!parse_correction(*options.correction)) {
      throw UserError(fmt::format("--correction: expected holm, bonferroni, bh or none, found '{}'",
                                  *options.correction));
    }
    settings.correction = *options.correction;
  }
  if (options.confidence) {
    settings.confidence = *options.confidence;
  }
  if (options.remove_outliers) {
    settings.remove_outliers = true;
  }
  return settings;
}

void print_task_table(std::FILE* out, const ResultsTree& tree, const Analysis& analysis, const TableOptions& options) {
  say(out, "\n{} of {} tasks done:\n", tree.tasks.size(), tree.planned);
  if (tree.tasks.size() > 500 && options.rows.empty()) {
    say(out, "  (a table of {} rows is not printed: comparison_table.md and summary.json hold every task; "
             "`benchmatrix report OUT --rows AXES --columns AXES` pivots them)\n", tree.tasks.size());
    return;
  }
  say(out, "{}", task_table(tree, analysis, options));
  if (!options.rows.empty()) {
    say(out, "\n{}", pivot_table(tree, analysis, options.metrics.empty() ? analysis.metric : options.metrics.front(),
                                 options.rows, options.columns));
  }
}

// What differs between the machines (and the environments) two results folders ran on, from their
// plan.json context: a comparison across them says so.
std::vector<std::string> context_differences(const ResultsTree& base, const ResultsTree& candidate) {
  std::vector<std::string> lines;
  for (const auto& [key, value] : candidate.context.items()) {
    if (key == "timestamp" || key == "date" || key == "started" || !base.context.contains(key)) {
      continue;
    }
    if (base.context[key] != value) {
      lines.push_back(fmt::format("the machine's {} differs: {} in BASE, {} in NEW", key,
                                  printable(base.context[key].dump(), 80), printable(value.dump(), 80)));
    }
  }
  return lines;
}

// A metric asked for on the command line must be one the results have: otherwise nothing is
// written (the reports of another metric would replace the right ones without a word).
void check_metric(const AnalysisSettings& settings, const std::vector<const ResultsTree*>& trees) {
  if (settings.metric.empty()) {
    return;
  }
  std::set<std::string> known;
  for (const ResultsTree* tree : trees) {
    for (const auto& task : tree->tasks) {
      if (task.samples.count(settings.metric) != 0) {
        return;
      }
      known.insert(task.metric_order.begin(), task.metric_order.end());
    }
  }
  throw UserError(fmt::format("--metric: no task has a metric named '{}'; the results have: {}",
                              printable(settings.metric, 80), known.empty() ? "none" : join({known.begin(), known.end()}, ", ")));
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  for (const auto& item : split(text, ',')) {
    if (!trim(item).empty()) {
      items.emplace_back(trim(item));
    }
  }
  return items;
}

} // namespace

void print_analysis(const ResultsTree& tree, const Analysis& analysis, bool print_tasks, const TableOptions& tables) {
  if (print_tasks) {
    print_task_table(stdout, tree, analysis, tables);
  }
  print_comparisons(stdout, analysis);
  nlohmann::json summary = summary_block(tree, analysis);
  if (!analysis.comparisons.empty() && !summary["recommendation"].get<std::string>().empty()) {
    say(stdout, "\n{}\n", summary["recommendation"].get<std::string>());
  }
}

Analysis analyze_and_report(const ResultsTree& tree, const AnalysisSettings& settings, bool print_tasks,
                            const ReportOutputs& outputs) {
  Analysis analysis = analyze(tree, settings);
  write_reports(tree, analysis, tree.root, outputs);
  print_analysis(tree, analysis, print_tasks);
  return analysis;
}

int report_command(const ReportOptions& options) {
  Store store(options.out);
  store.check_structure();
  // `report OUT` rewrites every report in OUT (or in --output DIR); with --export-* alone, only
  // the named files are written and OUT is left as it is.
  bool write_folder = options.output || !options.exports();
  // Writing into OUT takes its lock, as a run does: a report made while a run goes on would
  // otherwise replace the run's final summary with an older one. Elsewhere, no lock is needed.
  std::optional<OutputLock> lock;
  std::filesystem::path dir = options.output ? std::filesystem::absolute(*options.output) : store.root();
  if (write_folder && !options.output) {
    std::error_code missing;
    if (std::filesystem::is_directory(store.root(), missing)) {
      Directory out = Directory::open(store.root());
      lock = OutputLock::acquire(out, "report");
      out.remove_temporaries();  // left by a report or run that was killed while writing
    }
  }
  ResultsTree tree = read_results(options.out, true);
  TableOptions tables;
  if (options.analysis.metric) {
    tables.metrics = split_list(*options.analysis.metric);
  }
  tables.rows = options.rows ? split_list(*options.rows) : std::vector<std::string>{};
  tables.columns = options.columns ? split_list(*options.columns) : std::vector<std::string>{};
  AnalysisOptions analysis_options = options.analysis;
  if (!tables.metrics.empty()) {
    analysis_options.metric = tables.metrics.front();  // the first is compared
  }
  AnalysisSettings settings = apply_analysis_options(tree.analysis, analysis_options);
  if (tree.tasks.empty()) {
    throw UserError(fmt::format("{} has no finished task to report on", tree.root.string()));
  }
  check_metric(settings, {&tree});
  check_table_options(tree, tables);
  ReportOutputs outputs;
  if (options.sample_budget) {
    outputs.html_options.sample_budget = *options.sample_budget;
  }
  Analysis analysis = analyze(tree, settings);
  std::vector<std::string> written;
  if (write_folder) {
    if (options.output) {
      make_directories(dir);
    }
    write_reports(tree, analysis, dir, outputs);
    written.push_back(fmt::format("{}/{}", dir.string(), outputs.describe()));
  }
  auto exported = [&](const std::optional<std::string>& file, auto&& write) {
    if (file) {
      std::filesystem::path path = std::filesystem::absolute(*file);
      make_directories(path.parent_path());
      write(path);
      written.push_back(*file);
    }
  };
  exported(options.export_json, [&](const auto& file) { write_summary_json(tree, analysis, file); });
  exported(options.export_csv, [&](const auto& file) { write_samples_csv(tree, file); });
  exported(options.export_markdown, [&](const auto& file) { write_markdown(tree, analysis, file); });
  exported(options.export_html, [&](const auto& file) { write_html_report(tree, analysis, file, outputs.html_options); });
  exported(options.export_hyperfine, [&](const auto& file) { write_hyperfine_json(tree, file); });
  print_analysis(tree, analysis, true, tables);
  if (options.export_plots) {
    for (const PlotFile& plot : export_plots(tree, analysis, *options.export_plots, outputs.html_options)) {
      if (plot.svg.empty()) {
        say(stdout, "plot {}: not drawn ({})\n", plot.plot, plot.skipped);
      } else {
        written.push_back(plot.svg.string() + (plot.png.empty() ? "" : " (and .png)"));
      }
    }
  }
  say(stdout, "Wrote {}\n", join(written, ", "));
  return k_exit_ok;
}

int compare_command(const CompareOptions& options) {
  ResultsTree base = read_results(options.base, true);
  ResultsTree candidate = read_results(options.candidate, true);
  AnalysisSettings settings = apply_analysis_options(candidate.analysis, options.analysis);
  settings.baseline_axis.clear();
  check_metric(settings, {&base, &candidate});
  Analysis analysis = compare_trees(base, candidate, settings);
  if (analysis.comparisons.empty()) {
    throw UserError(fmt::format("neither {} nor {} has a finished task to compare", base.root.string(),
                                candidate.root.string()));
  }
  say(stdout, "Comparing NEW {} against BASE {}.\n", printable(options.candidate, 200), printable(options.base, 200));
  say(stdout, "Two separately measured runs mix the machine's drift between them with the change itself; for a "
              "verdict that separates them, run both builds as values of one axis in one interleaved run "
              "(`benchmatrix run --gate`).\n");
  for (const auto& line : context_differences(base, candidate)) {
    say(stdout, "note: {}\n", line);
  }
  print_comparisons(stdout, analysis);
  std::string title = fmt::format("{} against {}", candidate.root.filename().string(), base.root.filename().string());
  nlohmann::json about = {{"base", base.root.string()}, {"new", candidate.root.string()}};
  if (options.export_json) {
    write_comparisons_json(analysis, about, *options.export_json);
  }
  if (options.export_markdown) {
    write_comparisons_markdown(analysis, title, *options.export_markdown);
  }
  if (options.export_junit) {
    write_comparisons_junit(analysis, title, options.allow_missing, *options.export_junit);
  }
  if (analysis.gate_fails(options.allow_missing)) {
    say(stdout, "GATE FAILED: {}\n", analysis.counts_line());
    return k_exit_regression;
  }
  say(stdout, "Gate passed: {}\n", analysis.counts_line());
  return k_exit_ok;
}

} // namespace bm
