#include "stats/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <numeric>

#include <boost/math/distributions/normal.hpp>
#include <fmt/format.h>

#include "stats/correction.hpp"
#include "util/signals.hpp"

namespace bm {

namespace {

std::vector<double> kept_samples(const std::vector<double>& values, const Outliers& outliers,
                                 const AnalysisSettings& settings, std::size_t& flagged) {
  const std::vector<bool>& flags = settings.outlier_method == "iqr"  ? outliers.iqr
                                   : settings.outlier_method == "z" ? outliers.z
                                                                    : outliers.modified_z;
  flagged = static_cast<std::size_t>(std::count(flags.begin(), flags.end(), true));
  if (!settings.remove_outliers || flagged == 0) {
    return values;
  }
  std::vector<double> kept;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!flags[i]) {
      kept.push_back(values[i]);
    }
  }
  return kept;
}

OutlierOptions outlier_options(const AnalysisSettings& settings) {
  OutlierOptions options;
  if (settings.outlier_threshold > 0) {
    if (settings.outlier_method == "iqr") {
      options.iqr_k = settings.outlier_threshold;
    } else if (settings.outlier_method == "z") {
      options.z = settings.outlier_threshold;
    } else {
      options.modified_z = settings.outlier_threshold;
    }
  }
  return options;
}

MetricStats metric_stats(const std::string& metric, const std::vector<double>& values, const MetricInfo& info,
                         const AnalysisSettings& settings) {
  MetricStats stats;
  stats.metric = metric;
  stats.info = info;
  // Sorted once, for the outlier rules and (when none is removed) the descriptive statistics.
  std::vector<double> sorted;
  sorted.reserve(values.size());
  std::copy_if(values.begin(), values.end(), std::back_inserter(sorted), [](double x) { return std::isfinite(x); });
  sort_unless_sorted(sorted);
  stats.outliers = detect_outliers(values, sorted, outlier_options(settings));
  std::vector<double> kept = kept_samples(values, stats.outliers, settings, stats.outliers_flagged);
  stats.outliers_removed = values.size() - kept.size();
  stats.descriptive = describe(stats.outliers_removed == 0 ? std::span<const double>(values.size() == sorted.size() ? sorted : kept)
                                                           : std::span<const double>(kept),
                               settings.confidence, settings.seed, settings.resamples);
  return stats;
}

// A note when the samples are too few for the comparison to mean much: the smallest p-value the
// exact Mann-Whitney test can reach, and the runs a two-sample comparison of this variability
// needs to detect the threshold with 80% power (normal approximation, e.g. Lehr's rule).
void sample_size_notes(Comparison& comparison, double cv, const AnalysisSettings& settings) {
  double alpha = 1 - settings.confidence;
  double n1 = static_cast<double>(comparison.n_baseline);
  double n2 = static_cast<double>(comparison.n_candidate);
  double log_choose = std::lgamma(n1 + n2 + 1) - std::lgamma(n1 + 1) - std::lgamma(n2 + 1);
  double min_p = 2 * std::exp(-log_choose);
  if (min_p > alpha) {
    comparison.notes.push_back(fmt::format("n = {} vs {} can never reach p < {:.2g} (smallest possible p = {:.3g}): "
                                           "add runs",
                                           comparison.n_baseline, comparison.n_candidate, alpha, min_p));
    return;
  }
  if (settings.threshold <= 0 || cv <= 0) {
    return;
  }
  boost::math::normal normal;
  double z = boost::math::quantile(normal, 1 - alpha / 2) + boost::math::quantile(normal, 0.8);
  double needed = std::ceil(2 * z * z * (cv / settings.threshold) * (cv / settings.threshold));
  if (std::min(n1, n2) < needed) {
    comparison.notes.push_back(fmt::format("{} runs may be too few to detect a {:.3g}% difference at this "
                                           "variability (CV {:.2g}%): about {:.0f} per variant give 80% power",
                                           std::min(comparison.n_baseline, comparison.n_candidate),
                                           settings.threshold * 100, cv * 100, needed));
  }
}

// The coefficient of variation of sorted finite values (0 when undefined).
double cv_of(std::span<const double> values) {
  if (values.size() < 2) {
    return 0;
  }
  double mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  double squares = 0;
  for (double x : values) {
    squares += (x - mean) * (x - mean);
  }
  return mean == 0 ? 0 : std::sqrt(squares / static_cast<double>(values.size() - 1)) / std::abs(mean);
}

Comparison compare_pair(std::vector<double> base, std::vector<double> candidate, const std::string& metric,
                        const MetricInfo& info, const AnalysisSettings& settings) {
  Comparison comparison;
  comparison.metric = metric;
  comparison.info = info;
  comparison.n_baseline = base.size();
  comparison.n_candidate = candidate.size();
  // Sorted once here: every test below takes sorted input as it is (an O(n) check) instead of
  // sorting it again.
  sort_unless_sorted(base);
  sort_unless_sorted(candidate);
  comparison.median_baseline = percentile(base, 50);
  comparison.median_candidate = percentile(candidate, 50);
  comparison.ratio = ratio_of_medians(base, candidate, settings.confidence, settings.seed, settings.resamples);
  comparison.hodges_lehmann = hodges_lehmann_shift(base, candidate);
  comparison.cliffs_delta = cliffs_delta(candidate, base);
  comparison.magnitude = cliffs_magnitude(comparison.cliffs_delta);
  comparison.mann_whitney = mann_whitney_u(candidate, base);
  comparison.welch = welch_t_test(candidate, base);
  sample_size_notes(comparison, std::max(cv_of(base), cv_of(candidate)), settings);
  if (!comparison.ratio.ok) {
    comparison.notes.push_back(comparison.ratio.note);
  }
  return comparison;
}

// Corrects the family's p-values together, then gives each comparison its verdict: a difference
// counts only when it is both significant after correction and at least the practical threshold.
void finish_family(std::vector<Comparison>& comparisons, const AnalysisSettings& settings) {
  std::vector<double> p;
  for (const auto& comparison : comparisons) {
    p.push_back(comparison.mann_whitney.ok ? comparison.mann_whitney.p : 1.0);
  }
  Correction method = parse_correction(settings.correction).value_or(Correction::Holm);
  std::vector<double> adjusted = adjust_p_values(p, method);
  double alpha = 1 - settings.confidence;
  for (std::size_t i = 0; i < comparisons.size(); ++i) {
    Comparison& comparison = comparisons[i];
    comparison.p_adjusted = adjusted[i];
    double ratio = comparison.ratio.ok ? comparison.ratio.ratio : 1.0;
    bool significant = comparison.mann_whitney.ok && comparison.p_adjusted < alpha;
    bool practical = std::abs(ratio - 1) >= settings.threshold;
    if (!significant || !practical || ratio == 1) {
      comparison.verdict = Verdict::NoDifference;
    } else {
      bool higher = ratio > 1;
      comparison.verdict = higher == comparison.info.higher_is_better ? Verdict::Better : Verdict::Worse;
    }
  }
}

std::string key_without(const TaskSamples& task, const std::string& axis) {
  std::string key;
  for (const auto& [name, value] : task.axes) {
    if (name != axis) {
      key += name + "\x1f" + value + "\x1e";
    }
  }
  return key;
}

} // namespace

const MetricStats* TaskStats::find(const std::string& metric) const {
  for (const auto& stats : metrics) {
    if (stats.metric == metric) {
      return &stats;
    }
  }
  return nullptr;
}

std::string verdict_text(Verdict verdict, const MetricInfo& info) {
  bool time = info.unit == "s" || info.unit == "ms" || info.unit == "us" || info.unit == "ns";
  switch (verdict) {
  case Verdict::Better:
    return time && !info.higher_is_better ? "faster" : "better";
  case Verdict::Worse:
    return time && !info.higher_is_better ? "slower" : "worse";
  case Verdict::NoDifference:
    return "no difference";
  }
  return "no difference";
}

std::string primary_metric(const ResultsTree& tree, const AnalysisSettings& settings) {
  if (!settings.metric.empty()) {
    return settings.metric;
  }
  for (const auto& task : tree.tasks) {
    if (!task.metric_order.empty() && task.metric_order.front() != "wall_time" &&
        task.info.count(task.metric_order.front()) != 0) {
      return task.metric_order.front();
    }
  }
  return "wall_time";
}

Analysis analyze(const ResultsTree& tree, const AnalysisSettings& settings) {
  Analysis analysis;
  analysis.settings = settings;
  analysis.metric = primary_metric(tree, settings);
  analysis.warnings = tree.warnings;
  for (std::size_t i = 0; i < tree.tasks.size(); ++i) {
    const TaskSamples& task = tree.tasks[i];
    TaskStats stats;
    stats.task = i;
    for (const auto& metric : task.metric_order) {
      check_interrupt();  // a pass over millions of samples stops when asked
      stats.metrics.push_back(metric_stats(metric, task.samples.at(metric), metric_info(task.info, metric), settings));
    }
    analysis.tasks.push_back(std::move(stats));
  }
  if (settings.baseline_axis.empty()) {
    return analysis;
  }
  // Baselines by the values of every other axis; each other task is compared with its own.
  std::map<std::string, std::size_t> baselines;
  for (std::size_t i = 0; i < tree.tasks.size(); ++i) {
    for (const auto& [axis, value] : tree.tasks[i].axes) {
      if (axis == settings.baseline_axis && value == settings.baseline_value) {
        baselines[key_without(tree.tasks[i], axis)] = i;
      }
    }
  }
  for (std::size_t i = 0; i < tree.tasks.size(); ++i) {
    const TaskSamples& task = tree.tasks[i];
    auto axis = std::find_if(task.axes.begin(), task.axes.end(),
                             [&](const auto& pair) { return pair.first == settings.baseline_axis; });
    if (axis == task.axes.end() || axis->second == settings.baseline_value) {
      continue;
    }
    auto baseline = baselines.find(key_without(task, settings.baseline_axis));
    if (baseline == baselines.end()) {
      analysis.warnings.push_back(fmt::format("{}: no finished baseline ({}={}) to compare with", task.label(),
                                              settings.baseline_axis, settings.baseline_value));
      continue;
    }
    check_interrupt();
    const TaskSamples& base = tree.tasks[baseline->second];
    const MetricStats* base_stats = analysis.tasks[baseline->second].find(analysis.metric);
    const MetricStats* stats = analysis.tasks[i].find(analysis.metric);
    if (base_stats == nullptr || stats == nullptr) {
      analysis.warnings.push_back(fmt::format("{}: no samples of metric '{}'", task.label(), analysis.metric));
      continue;
    }
    std::size_t ignored = 0;
    Comparison comparison =
        compare_pair(kept_samples(base.samples.at(analysis.metric), base_stats->outliers, settings, ignored),
                     kept_samples(task.samples.at(analysis.metric), stats->outliers, settings, ignored),
                     analysis.metric, stats->info, settings);
    comparison.baseline_label = base.label();
    comparison.label = task.label();
    comparison.path = task.path;
    analysis.comparisons.push_back(std::move(comparison));
  }
  finish_family(analysis.comparisons, settings);
  return analysis;
}

Analysis compare_trees(const ResultsTree& base, const ResultsTree& candidate, const AnalysisSettings& settings) {
  Analysis analysis;
  analysis.settings = settings;
  analysis.metric = primary_metric(candidate, settings);
  std::map<std::string, const TaskSamples*> by_path;
  for (const auto& task : base.tasks) {
    by_path[task.path] = &task;
  }
  for (const auto& task : candidate.tasks) {
    check_interrupt();
    auto found = by_path.find(task.path);
    if (found == by_path.end()) {
      analysis.warnings.push_back(fmt::format("{}: not in the base results", task.label()));
      continue;
    }
    const TaskSamples& old = *found->second;
    auto old_samples = old.samples.find(analysis.metric);
    auto new_samples = task.samples.find(analysis.metric);
    if (old_samples == old.samples.end() || new_samples == task.samples.end()) {
      analysis.warnings.push_back(fmt::format("{}: no samples of metric '{}'", task.label(), analysis.metric));
      continue;
    }
    OutlierOptions options = outlier_options(settings);
    std::size_t ignored = 0;
    Comparison comparison = compare_pair(
        kept_samples(old_samples->second, detect_outliers(old_samples->second, options), settings, ignored),
        kept_samples(new_samples->second, detect_outliers(new_samples->second, options), settings, ignored),
        analysis.metric, metric_info(task.info, analysis.metric), settings);
    comparison.baseline_label = "base";
    comparison.label = task.label();
    comparison.path = task.path;
    analysis.comparisons.push_back(std::move(comparison));
  }
  finish_family(analysis.comparisons, settings);
  return analysis;
}

} // namespace bm
