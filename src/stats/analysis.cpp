#include "stats/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <numeric>
#include <set>

#include <boost/math/distributions/normal.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "stats/correction.hpp"
#include "stats/tests.hpp"
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
// exact Mann-Whitney test can reach at the family's level.
void sample_size_notes(Comparison& comparison, double family_alpha) {
  double n1 = static_cast<double>(comparison.n_baseline);
  double n2 = static_cast<double>(comparison.n_candidate);
  double log_choose = std::lgamma(n1 + n2 + 1) - std::lgamma(n1 + 1) - std::lgamma(n2 + 1);
  double min_p = 2 * std::exp(-log_choose);
  if (min_p > family_alpha) {
    comparison.notes.push_back(fmt::format("n = {} vs {} can never reach p < {:.2g} (smallest possible p = {:.3g}): "
                                           "add runs",
                                           comparison.n_baseline, comparison.n_candidate, family_alpha, min_p));
  }
}

// Sarle's bimodality coefficient (g^2 + 1) / (k + 3 (n - 1)^2 / ((n - 2)(n - 3))), sample skewness
// g and excess kurtosis k (e.g. Pfister et al. 2013, Frontiers in Psychology 4:700): above 5/9 (the
// value of a uniform distribution) suggests two modes.
double bimodality_coefficient(std::span<const double> values) {
  const double dn = static_cast<double>(values.size());
  double mean = std::accumulate(values.begin(), values.end(), 0.0) / dn;
  double m2 = 0;
  double m3 = 0;
  double m4 = 0;
  for (double x : values) {
    double d = x - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= dn;
  m3 /= dn;
  m4 /= dn;
  if (m2 <= 0) {
    return 0;
  }
  // The bias-corrected sample skewness and excess kurtosis (as SAS and SPSS report them).
  double g1 = m3 / std::pow(m2, 1.5);
  double skew = g1 * std::sqrt(dn * (dn - 1)) / (dn - 2);
  double g2 = m4 / (m2 * m2) - 3;
  double kurt = (dn - 1) / ((dn - 2) * (dn - 3)) * ((dn + 1) * g2 + 6);
  return (skew * skew + 1) / (kurt + 3 * (dn - 1) * (dn - 1) / ((dn - 2) * (dn - 3)));
}

// Two modes, told from the skewed, outlier-prone shapes timings have, which alone push Sarle's
// coefficient over 5/9: the coefficient must exceed 5/9 on the values and on their logarithms (a
// log-normal or exponential tail passes one at most), and the best split of the sorted values in
// two (least within-group squares) must leave at least 3 values, and a tenth of them, on its smaller
// side (a lone outlier is not a mode). Needs 12 values. On simulated samples of 12 to 50 values this
// flags at most 3% of normal, log-normal and exponential ones, and most even mixtures of two modes
// 30% apart.
bool looks_bimodal(std::span<const double> values) {
  const std::size_t n = values.size();
  if (n < 12) {
    return false;
  }
  if (bimodality_coefficient(values) <= 5.0 / 9.0) {
    return false;
  }
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  if (sorted.front() > 0) {
    std::vector<double> logs(n);
    std::transform(sorted.begin(), sorted.end(), logs.begin(), [](double x) { return std::log(x); });
    if (bimodality_coefficient(logs) <= 5.0 / 9.0) {
      return false;
    }
  }
  // The split minimising the within-group sum of squares, from prefix sums.
  std::vector<double> sum(n + 1, 0.0);
  std::vector<double> squares(n + 1, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    sum[i + 1] = sum[i] + sorted[i];
    squares[i + 1] = squares[i] + sorted[i] * sorted[i];
  }
  auto within = [&](std::size_t from, std::size_t to) {
    double s = sum[to] - sum[from];
    return squares[to] - squares[from] - s * s / static_cast<double>(to - from);
  };
  std::size_t best = 1;
  double best_within = std::numeric_limits<double>::infinity();
  for (std::size_t k = 1; k < n; ++k) {
    double w = within(0, k) + within(k, n);
    if (w < best_within) {
      best_within = w;
      best = k;
    }
  }
  std::size_t smaller = std::min(best, n - best);
  return smaller >= 3 && static_cast<double>(smaller) >= 0.1 * static_cast<double>(n);
}

// The values of one side, one per process: a process that reported several samples of the metric
// counts by its median (they are its inner repetitions, not independent runs).
std::vector<double> per_process(const TaskSamples& task, const std::string& metric, bool& nested) {
  const std::vector<double>& values = task.samples.at(metric);
  auto runs = task.runs.find(metric);
  nested = false;
  if (runs == task.runs.end() || runs->second.size() != values.size()) {
    return values;
  }
  std::vector<double> medians;
  std::vector<double> group;
  for (std::size_t i = 0; i < values.size(); ++i) {
    group.push_back(values[i]);
    if (i + 1 == values.size() || runs->second[i + 1] != runs->second[i]) {
      nested = nested || group.size() > 1;
      medians.push_back(group.size() == 1 ? group[0] : median_in_place(group));
      group.clear();
    }
  }
  return nested ? medians : values;
}

// One side of a comparison, outliers removed when the settings say so.
std::vector<double> compared_values(const TaskSamples& task, const std::string& metric, const AnalysisSettings& settings,
                                    bool& nested) {
  std::vector<double> values = per_process(task, metric, nested);
  std::size_t ignored = 0;
  return kept_samples(values, detect_outliers(values, outlier_options(settings)), settings, ignored);
}

// A measured comparison before the family is known: the values the interval is computed over.
struct Pending {
  Comparison comparison;
  std::vector<double> base;
  std::vector<double> candidate;
};

Pending measure(std::vector<double> base, std::vector<double> candidate, Comparison comparison,
                const AnalysisSettings& settings) {
  comparison.measured = true;
  comparison.n_baseline = base.size();
  comparison.n_candidate = candidate.size();
  // Sorted once here: every statistic below takes sorted input as it is (an O(n) check).
  sort_unless_sorted(base);
  sort_unless_sorted(candidate);
  comparison.median_baseline = percentile(base, 50);
  comparison.median_candidate = percentile(candidate, 50);
  comparison.median_ratio = ratio_of_medians(base, candidate, settings.confidence, settings.seed, settings.resamples);
  comparison.hodges_lehmann = hodges_lehmann_shift(base, candidate);
  comparison.cliffs_delta = cliffs_delta(candidate, base);
  comparison.magnitude = cliffs_magnitude(comparison.cliffs_delta);
  comparison.mann_whitney = mann_whitney_u(base, candidate);
  comparison.welch = welch_t_test(candidate, base);
  if (looks_bimodal(base)) {
    comparison.flags.push_back("bimodal baseline");
  }
  if (looks_bimodal(candidate)) {
    comparison.flags.push_back("bimodal");
  }
  return {std::move(comparison), std::move(base), std::move(candidate)};
}

// The ratio and its interval at `confidence`: from logarithms when every value is positive (the
// interval of a ratio is then symmetric in log scale), else from the shift relative to the
// baseline's median.
void ratio_interval(Pending& pending, double confidence) {
  Comparison& c = pending.comparison;
  bool positive = pending.base.front() > 0 && pending.candidate.front() > 0;
  if (positive) {
    std::vector<double> log_base;
    std::vector<double> log_candidate;
    for (double x : pending.base) {
      log_base.push_back(std::log(x));
    }
    for (double x : pending.candidate) {
      log_candidate.push_back(std::log(x));
    }
    ShiftInterval shift = shift_interval(log_base, log_candidate, confidence);
    c.ratio = std::exp(shift.estimate);
    c.ratio_ci = shift.ci;
    if (shift.ci.ok) {
      c.ratio_ci.low = std::exp(shift.ci.low);
      c.ratio_ci.high = std::exp(shift.ci.high);
    }
    return;
  }
  if (c.median_baseline <= 0) {
    c.ratio_ci.ok = false;
    c.ratio_ci.note = "the baseline's median is not positive: no ratio";
    return;
  }
  ShiftInterval shift = shift_interval(pending.base, pending.candidate, confidence);
  c.ratio = 1 + shift.estimate / c.median_baseline;
  c.ratio_ci = shift.ci;
  if (shift.ci.ok) {
    c.ratio_ci.low = 1 + shift.ci.low / c.median_baseline;
    c.ratio_ci.high = 1 + shift.ci.high / c.median_baseline;
  }
}

// Processes per variant that would likely decide an inconclusive comparison: the interval
// narrows as 1/sqrt(n); it must shrink to fit inside +-threshold (when the estimate is within it)
// or to clear it (when beyond). 0 when the estimate sits on the threshold, where more runs help
// little.
std::size_t runs_to_decide(const Comparison& c, double threshold) {
  if (!c.ratio_ci.ok || c.ratio <= 0 || c.ratio_ci.low <= 0) {
    return 0;
  }
  // In log scale: the estimate, and the side of its interval that must move (towards the estimate
  // when it lies beyond the threshold, the wider one when it lies within).
  double estimate = std::log(c.ratio);
  double below = estimate - std::log(c.ratio_ci.low);
  double above = std::log(c.ratio_ci.high) - estimate;
  double edge = std::log(1 + threshold);
  bool beyond = std::abs(estimate) > edge;
  double half = beyond ? (estimate > 0 ? below : above) : std::max(below, above);
  double room = std::abs(edge - std::abs(estimate));
  if (half <= 0 || room < 0.05 * edge) {
    return 0;
  }
  double n = static_cast<double>(std::min(c.n_baseline, c.n_candidate));
  double needed = std::max(std::ceil(n * (half / room) * (half / room)), n + 1);
  return static_cast<std::size_t>(std::min(needed, 1e6));
}

// Corrects the family's p-values together, computes every interval at the family-wise level the
// correction implies, and gives each comparison its verdict by the one rule: regressed or improved
// only when the corrected p < alpha and the whole interval lies beyond the threshold on that side;
// unchanged when the whole interval lies within +-threshold; inconclusive otherwise.
std::vector<Comparison> finish_family(std::vector<Pending> measured, std::vector<Comparison> unmeasured,
                                      const AnalysisSettings& settings) {
  std::vector<double> p;
  for (const auto& pending : measured) {
    p.push_back(pending.comparison.mann_whitney.ok ? pending.comparison.mann_whitney.p : 1.0);
  }
  Correction method = parse_correction(settings.correction).value_or(Correction::Holm);
  std::vector<double> adjusted = adjust_p_values(p, method);
  const double alpha = 1 - settings.confidence;
  const double m = static_cast<double>(std::max<std::size_t>(measured.size(), 1));
  // The interval whose exclusion of 1 is the family's test: simultaneous (Bonferroni) intervals
  // for Holm and Bonferroni, false-coverage-rate intervals for Benjamini-Hochberg (Benjamini &
  // Yekutieli 2005: level 1 - R alpha / m for R rejections), plain ones without correction.
  double family_alpha = alpha;
  if (method == Correction::Holm || method == Correction::Bonferroni) {
    family_alpha = alpha / m;
  } else if (method == Correction::BenjaminiHochberg) {
    double rejected = static_cast<double>(std::count_if(adjusted.begin(), adjusted.end(), [&](double q) { return q < alpha; }));
    family_alpha = alpha * std::max(rejected, 1.0) / m;
  }
  const double t = settings.threshold;
  std::vector<Comparison> all;
  for (std::size_t i = 0; i < measured.size(); ++i) {
    Pending& pending = measured[i];
    ratio_interval(pending, 1 - family_alpha);
    Comparison& c = pending.comparison;
    c.family_confidence = 1 - family_alpha;
    c.p_adjusted = adjusted[i];
    sample_size_notes(c, family_alpha);
    bool significant = c.mann_whitney.ok && c.p_adjusted < alpha;
    if (c.n_baseline == 1 || c.n_candidate == 1) {
      // One run (an eval's accuracy): its value and the difference, never a p-value from n = 1.
      c.verdict = Verdict::Inconclusive;
      c.single_run = true;
    } else if (!c.ratio_ci.ok) {
      c.verdict = Verdict::Inconclusive;
      c.notes.push_back(c.ratio_ci.note);
    } else if (significant && c.ratio_ci.low > 1 + t) {
      c.verdict = c.info.higher_is_better ? Verdict::Improved : Verdict::Regressed;
    } else if (significant && c.ratio_ci.high < 1 / (1 + t)) {
      c.verdict = c.info.higher_is_better ? Verdict::Regressed : Verdict::Improved;
    } else if (c.ratio_ci.low >= 1 / (1 + t) && c.ratio_ci.high <= 1 + t) {
      c.verdict = Verdict::Unchanged;
    } else {
      c.verdict = Verdict::Inconclusive;
      c.runs_needed = runs_to_decide(c, t);
    }
    all.push_back(std::move(c));
  }
  for (auto& c : unmeasured) {
    all.push_back(std::move(c));
  }
  // Buckets in the order of k_verdict_order, plan order within each.
  std::stable_sort(all.begin(), all.end(), [](const Comparison& x, const Comparison& y) {
    auto rank = [](Verdict v) { return std::find(std::begin(k_verdict_order), std::end(k_verdict_order), v) - std::begin(k_verdict_order); };
    return rank(x.verdict) < rank(y.verdict);
  });
  return all;
}

using Axes = std::vector<std::pair<std::string, std::string>>;

std::string key_without(const Axes& axes, const std::string& axis) {
  std::string key;
  for (const auto& [name, value] : axes) {
    if (name != axis) {
      key += name + "\x1f" + value + "\x1e";
    }
  }
  return key;
}

std::string label_of(const Axes& axes) {
  std::string out;
  for (const auto& [axis, value] : axes) {
    out += (out.empty() ? "" : " ") + axis + "=" + value;
  }
  return out.empty() ? "(single task)" : out;
}

// A comparison that could not be measured, for an unfinished task on either side.
Comparison unmeasured(const UnfinishedTask& task, std::string baseline_label, std::string label, std::string path,
                      const std::string& side) {
  Comparison c;
  c.baseline_label = std::move(baseline_label);
  c.label = std::move(label);
  c.path = std::move(path);
  c.verdict = task.state == UnfinishedTask::State::Failed     ? Verdict::Failed
              : task.state == UnfinishedTask::State::TimedOut ? Verdict::TimedOut
                                                              : Verdict::Missing;
  c.reason = side + (task.state == UnfinishedTask::State::Pending ? "has no result" : task.reason);
  // A benchmark that skipped itself (on this machine, for this build) has nothing to compare.
  return c;
}

// What the comparison's reader must know of how its two sides were measured: a disturbed side,
// and, across two folders, whether both ran the very same programs.
void side_flags(Comparison& c, const TaskSamples& base, const TaskSamples& task, bool across_folders) {
  if (!base.disturbed.empty()) {
    c.flags.push_back("disturbed baseline: " + base.disturbed);
  }
  if (!task.disturbed.empty()) {
    c.flags.push_back("disturbed: " + task.disturbed);
  }
  if (!base.node_type.empty() && !task.node_type.empty() && base.node_type != task.node_type) {
    c.flags.push_back(fmt::format("BASE and NEW ran on different node types ({} vs {}): a difference may be the "
                                  "machine's", base.node_type, task.node_type));
  }
  if (across_folders && !base.executables.empty() && !task.executables.empty()) {
    c.flags.push_back(base.executables == task.executables
                          ? "BASE and NEW ran byte-identical executables: a difference is the machine's, not the code's"
                          : "the executables differ between BASE and NEW");
  }
}

// A variant and its baseline, both finished with samples of `metric`: their per-process values,
// units and reported errors, the flags of how each side was measured, then the statistics.
Pending measured_pair(const TaskSamples& base, const TaskSamples& task, const std::string& metric, Comparison comparison,
                      const AnalysisSettings& settings, bool across_folders) {
  comparison.info = metric_info(task.info, metric);
  comparison.stderr_candidate = comparison.info.stderr_value;
  comparison.stderr_baseline = metric_info(base.info, metric).stderr_value;
  bool nested_base = false;
  bool nested = false;
  std::vector<double> base_values = compared_values(base, metric, settings, nested_base);
  std::vector<double> values = compared_values(task, metric, settings, nested);
  comparison.nested = nested || nested_base;
  side_flags(comparison, base, task, across_folders);
  return measure(std::move(base_values), std::move(values), std::move(comparison), settings);
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

std::string_view verdict_name(Verdict verdict) {
  switch (verdict) {
  case Verdict::Regressed:
    return "regressed";
  case Verdict::Improved:
    return "improved";
  case Verdict::Unchanged:
    return "unchanged";
  case Verdict::Inconclusive:
    return "inconclusive";
  case Verdict::Failed:
    return "failed";
  case Verdict::TimedOut:
    return "timed out";
  case Verdict::Missing:
    return "missing";
  case Verdict::New:
    return "new";
  }
  return "inconclusive";
}

std::string ratio_in_words(double ratio, const MetricInfo& info) {
  if (!(ratio > 0) || !std::isfinite(ratio)) {
    return "n/a";
  }
  // Said as the larger of ratio and 1 / ratio: "1.27x faster" rather than "0.79x as long".
  bool larger = ratio >= 1;
  double factor = larger ? ratio : 1 / ratio;
  if (factor < 1.005) {
    return "1.00× (same)";
  }
  bool time = info.unit == "s" || info.unit == "ms" || info.unit == "us" || info.unit == "ns";
  std::string_view word = time && !info.higher_is_better ? (larger ? "slower" : "faster") : (larger ? "higher" : "lower");
  return fmt::format("{:.2f}× {}", factor, word);
}

std::string verdict_text(const Comparison& c) {
  switch (c.verdict) {
  case Verdict::Regressed:
  case Verdict::Improved:
    return fmt::format("{}: {}", verdict_name(c.verdict), ratio_in_words(c.ratio, c.info));
  case Verdict::Unchanged:
    return "unchanged";
  case Verdict::Inconclusive:
    if (c.single_run) {
      std::string error;
      if (c.stderr_baseline >= 0 && c.stderr_candidate >= 0) {
        error = fmt::format(" ± {:.4g}", std::sqrt(c.stderr_baseline * c.stderr_baseline +
                                                   c.stderr_candidate * c.stderr_candidate));
      }
      return fmt::format("run once: {:.6g} against {:.6g} ({:+.4g}{}{}{}); no test from one run", c.median_candidate,
                         c.median_baseline, c.median_candidate - c.median_baseline, error,
                         c.info.unit.empty() ? "" : " ", c.info.unit);
    }
    return c.runs_needed > 0 ? fmt::format("inconclusive (~{} runs per variant to decide)", c.runs_needed)
                             : "inconclusive";
  case Verdict::Failed:
  case Verdict::TimedOut:
  case Verdict::Missing:
  case Verdict::New:
    return fmt::format("{}: {}", verdict_name(c.verdict), c.reason);
  }
  return "inconclusive";
}

std::size_t Analysis::count(Verdict verdict) const {
  return static_cast<std::size_t>(
      std::count_if(comparisons.begin(), comparisons.end(), [&](const Comparison& c) { return c.verdict == verdict; }));
}

std::string Analysis::counts_line() const {
  std::string line = fmt::format("{} regressed, {} improved, {} unchanged, {} inconclusive, {} failed",
                                 count(Verdict::Regressed), count(Verdict::Improved), count(Verdict::Unchanged),
                                 count(Verdict::Inconclusive), count(Verdict::Failed));
  for (Verdict verdict : {Verdict::TimedOut, Verdict::Missing, Verdict::New}) {
    if (count(verdict) > 0) {
      line += fmt::format(", {} {}", count(verdict), verdict_name(verdict));
    }
  }
  return line;
}

bool Analysis::gate_fails(bool allow_missing) const {
  if (count(Verdict::Regressed) > 0) {
    return true;
  }
  return !allow_missing && count(Verdict::Failed) + count(Verdict::TimedOut) + count(Verdict::Missing) > 0;
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
  // Tasks measured on different kinds of machine (a cluster's partitions) are not comparable as
  // they stand: said once here, and on each comparison that crosses them.
  std::set<std::string> node_types;
  for (const auto& task : tree.tasks) {
    if (!task.node_type.empty()) {
      node_types.insert(task.node_type);
    }
  }
  if (node_types.size() > 1) {
    analysis.warnings.push_back(fmt::format("the tasks ran on {} node types ({}): a comparison across them measures the "
                                            "machines as much as the variants",
                                            node_types.size(), fmt::join(node_types, "; ")));
  }
  // Disturbed runs are said where the numbers are read, with the figure (the first ten by name).
  std::size_t disturbed = 0;
  for (const auto& task : tree.tasks) {
    if (!task.disturbed.empty() && ++disturbed <= 10) {
      analysis.warnings.push_back(fmt::format("{} ran disturbed: {}", task.label(), task.disturbed));
    }
  }
  if (disturbed > 10) {
    analysis.warnings.push_back(fmt::format("... and {} more tasks ran disturbed (summary.json lists each)", disturbed - 10));
  }
  if (settings.baseline_axis.empty()) {
    return analysis;
  }
  const std::string& axis_name = settings.baseline_axis;
  auto value_of = [&](const Axes& axes) -> const std::string* {
    for (const auto& [name, value] : axes) {
      if (name == axis_name) {
        return &value;
      }
    }
    return nullptr;
  };
  // Baselines by the values of every other axis, finished or not; each variant is compared with its own.
  std::map<std::string, std::size_t> done_baselines;
  std::map<std::string, const UnfinishedTask*> unfinished_baselines;
  for (std::size_t i = 0; i < tree.tasks.size(); ++i) {
    const std::string* value = value_of(tree.tasks[i].axes);
    if (value != nullptr && *value == settings.baseline_value) {
      done_baselines[key_without(tree.tasks[i].axes, axis_name)] = i;
    }
  }
  for (const auto& task : tree.unfinished) {
    const std::string* value = value_of(task.axes);
    if (value != nullptr && *value == settings.baseline_value) {
      unfinished_baselines[key_without(task.axes, axis_name)] = &task;
    }
  }
  auto baseline_label = [&](const std::string& key, const Axes& axes) {
    auto done = done_baselines.find(key);
    if (done != done_baselines.end()) {
      return tree.tasks[done->second].label();
    }
    Axes base = axes;
    for (auto& [name, value] : base) {
      if (name == axis_name) {
        value = settings.baseline_value;
      }
    }
    return label_of(base);
  };
  std::vector<Pending> measured;
  std::vector<Comparison> others;
  for (std::size_t i = 0; i < tree.tasks.size(); ++i) {
    const TaskSamples& task = tree.tasks[i];
    const std::string* value = value_of(task.axes);
    if (value == nullptr || *value == settings.baseline_value) {
      continue;
    }
    check_interrupt();
    std::string key = key_without(task.axes, axis_name);
    auto baseline = done_baselines.find(key);
    if (baseline == done_baselines.end()) {
      auto unfinished = unfinished_baselines.find(key);
      if (unfinished != unfinished_baselines.end()) {
        others.push_back(unmeasured(*unfinished->second, baseline_label(key, task.axes), task.label(), task.path,
                                    "its baseline "));
      } else {
        analysis.warnings.push_back(fmt::format("{}: no baseline ({}={}) in the plan to compare with", task.label(),
                                                axis_name, settings.baseline_value));
      }
      continue;
    }
    const TaskSamples& base = tree.tasks[baseline->second];
    Comparison comparison;
    comparison.baseline_label = base.label();
    comparison.label = task.label();
    comparison.path = task.path;
    comparison.metric = analysis.metric;
    if (base.samples.count(analysis.metric) == 0 || task.samples.count(analysis.metric) == 0) {
      comparison.verdict = Verdict::Missing;
      comparison.reason = fmt::format("no samples of the metric '{}'{}", analysis.metric,
                                      task.samples.count(analysis.metric) == 0 ? "" : " in its baseline");
      others.push_back(std::move(comparison));
      continue;
    }
    measured.push_back(measured_pair(base, task, analysis.metric, std::move(comparison), settings, false));
  }
  for (const auto& task : tree.unfinished) {
    const std::string* value = value_of(task.axes);
    if (value == nullptr || *value == settings.baseline_value) {
      continue;
    }
    std::string key = key_without(task.axes, axis_name);
    others.push_back(unmeasured(task, baseline_label(key, task.axes), task.label(), task.path, ""));
  }
  analysis.comparisons = finish_family(std::move(measured), std::move(others), settings);
  return analysis;
}

Analysis compare_trees(const ResultsTree& base, const ResultsTree& candidate, const AnalysisSettings& settings) {
  Analysis analysis;
  analysis.settings = settings;
  analysis.metric = primary_metric(candidate, settings);
  std::map<std::string, const TaskSamples*> base_done;
  for (const auto& task : base.tasks) {
    base_done[task.path] = &task;
  }
  std::map<std::string, const TaskSamples*> candidate_done;
  for (const auto& task : candidate.tasks) {
    candidate_done[task.path] = &task;
  }
  std::map<std::string, const UnfinishedTask*> candidate_unfinished;
  for (const auto& task : candidate.unfinished) {
    candidate_unfinished[task.path] = &task;
  }
  std::vector<Pending> measured;
  std::vector<Comparison> others;
  // Every finished task of BASE is compared, or said to be failed, timed out or missing in NEW.
  for (const auto& old : base.tasks) {
    check_interrupt();
    auto found = candidate_done.find(old.path);
    if (found == candidate_done.end()) {
      auto unfinished = candidate_unfinished.find(old.path);
      if (unfinished != candidate_unfinished.end()) {
        others.push_back(unmeasured(*unfinished->second, "base", old.label(), old.path, ""));
      } else {
        Comparison c;
        c.baseline_label = "base";
        c.label = old.label();
        c.path = old.path;
        c.verdict = Verdict::Missing;
        c.reason = "not in NEW's plan";
        others.push_back(std::move(c));
      }
      continue;
    }
    const TaskSamples& task = *found->second;
    Comparison comparison;
    comparison.baseline_label = "base";
    comparison.label = task.label();
    comparison.path = task.path;
    comparison.metric = analysis.metric;
    if (old.samples.count(analysis.metric) == 0 || task.samples.count(analysis.metric) == 0) {
      comparison.verdict = Verdict::Missing;
      comparison.reason = fmt::format("no samples of the metric '{}' in {}", analysis.metric,
                                      task.samples.count(analysis.metric) == 0 ? "NEW" : "BASE");
      others.push_back(std::move(comparison));
      continue;
    }
    if (old.task_id != task.task_id) {
      comparison.notes.push_back("the task's spec differs between BASE and NEW (another command, setting or count)");
    }
    measured.push_back(measured_pair(old, task, analysis.metric, std::move(comparison), settings, true));
  }
  for (const auto& task : candidate.tasks) {
    if (base_done.count(task.path) == 0) {
      Comparison c;
      c.baseline_label = "base";
      c.label = task.label();
      c.path = task.path;
      c.verdict = Verdict::New;
      c.reason = "no finished result in BASE";
      others.push_back(std::move(c));
    }
  }
  analysis.comparisons = finish_family(std::move(measured), std::move(others), settings);
  return analysis;
}

} // namespace bm
