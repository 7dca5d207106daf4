#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "stats/descriptive.hpp"
#include "stats/outliers.hpp"
#include "stats/tests.hpp"
#include "store/results_reader.hpp"

namespace bm {

// Statistics of one metric of one task. Samples flagged as outliers are removed only when the
// analysis settings say so; they are always counted.
struct MetricStats {
  std::string metric;
  MetricInfo info;
  Descriptive descriptive;        // over the samples kept
  Outliers outliers;              // over all samples
  std::size_t outliers_flagged = 0;  // by the configured method
  std::size_t outliers_removed = 0;
};

struct TaskStats {
  std::size_t task = 0;           // index in ResultsTree::tasks
  std::vector<MetricStats> metrics;
  const MetricStats* find(const std::string& metric) const;
};

// What a comparison found. The measured buckets follow one rule from the interval of the ratio
// (docs/STATISTICS.md, "The verdict rule"); the others say why there is nothing to measure.
enum class Verdict {
  Regressed,     // worse: significant, and the whole interval beyond the threshold
  Improved,      // better, likewise
  Unchanged,     // the whole interval within +-threshold
  Inconclusive,  // anything else: more runs (an estimate is given) or a real difference below the threshold
  Failed,        // the variant or its baseline failed
  TimedOut,      // ... timed out
  Missing,       // no result to compare (not run, interrupted, stale, or absent from NEW)
  New,           // in NEW but not in BASE (compare)
};
// The order in which reports list the buckets: what needs attention first.
inline constexpr Verdict k_verdict_order[] = {Verdict::Regressed, Verdict::Failed,   Verdict::TimedOut,
                                              Verdict::Missing,   Verdict::Inconclusive, Verdict::Improved,
                                              Verdict::Unchanged, Verdict::New};
std::string_view verdict_name(Verdict verdict);  // "regressed", "timed out", ...

// One variant against its baseline, on one metric: everything computed first, printed later.
struct Comparison {
  std::string baseline_label;     // "algo=std_sort n=1000"
  std::string label;
  std::string path;               // the candidate's folder below tasks/
  std::string metric;
  MetricInfo info;
  Verdict verdict = Verdict::Inconclusive;
  std::string reason;             // the unmeasured buckets: why ("run 2 of 5: exit code 1", "no result")
  bool measured = false;          // both sides have samples: the statistics below are set

  // The unit of the test: one value per process. A process that reported several samples of the
  // metric (a benchmark's own repetitions) counts once, by its median (nested).
  bool nested = false;
  std::size_t n_baseline = 0;     // processes (or samples, when each process gave one)
  std::size_t n_candidate = 0;
  double median_baseline = 0;
  double median_candidate = 0;
  // The estimate and interval the verdict comes from: exp of the Hodges-Lehmann shift of the
  // logarithms and of its Moses interval (the inversion of the Mann-Whitney test) at the
  // family-wise confidence; for metrics with values <= 0, 1 + shift / median(baseline).
  double ratio = 1;
  Interval ratio_ci;
  double family_confidence = 0.95;
  Ratio median_ratio;             // median(new) / median(baseline), bootstrap CI: descriptive only
  double hodges_lehmann = 0;      // shift candidate - baseline, in the metric's unit
  double cliffs_delta = 0;
  std::string magnitude;
  MannWhitney mann_whitney;
  Welch welch;
  double p_adjusted = 1;
  bool single_run = false;        // a side has one value: shown with the difference, not tested
  double stderr_baseline = -1;    // the tasks' own standard errors of a single value (< 0: none)
  double stderr_candidate = -1;
  std::size_t runs_needed = 0;    // inconclusive: processes per variant that would likely decide (0: unknown)
  std::vector<std::string> flags; // "bimodal baseline", ...
  std::vector<std::string> notes; // e.g. n too small to detect the threshold
};

// "slower" / "faster" for times, "worse" / "better" otherwise; "1.27x slower" with the ratio.
std::string ratio_in_words(double ratio, const MetricInfo& info);
// What a person reads in a verdict column: "1.26x slower", "unchanged", "inconclusive (~40 runs)",
// "failed: run 2 of 5: exit code 1".
std::string verdict_text(const Comparison& comparison);

struct Analysis {
  AnalysisSettings settings;
  std::string metric;             // the metric compared
  std::vector<TaskStats> tasks;   // parallel to ResultsTree::tasks
  std::vector<Comparison> comparisons;  // in k_verdict_order, then plan order
  std::vector<std::string> warnings;

  std::size_t count(Verdict verdict) const;
  // "1 regressed, 0 improved, 3 unchanged, 1 inconclusive, 0 failed" (and the other buckets when
  // they are not empty): the line every report opens its comparisons with.
  std::string counts_line() const;
  // What a gate fails on: a regression, or (unless allowed) a comparison that could not be made
  // because a task failed, timed out or has no result.
  bool gate_fails(bool allow_missing) const;
};

// Describes every task and, with a baseline, compares every other value of the baseline axis
// with it within the same values of the other axes; the p-values of the whole family are
// corrected together. Planned variants (or baselines) that failed or have no result are buckets
// of their own, from tree.unfinished (read_results(out, true)).
Analysis analyze(const ResultsTree& tree, const AnalysisSettings& settings);

// Compares two result trees task by task (matched by path): BASE is the baseline of each pair.
// Tasks of BASE missing, failed or timed out in NEW, and tasks new in NEW, are buckets of their own.
Analysis compare_trees(const ResultsTree& base, const ResultsTree& candidate, const AnalysisSettings& settings);

// The metric a run compares: the configured one, else the tasks' first own metric, else wall time.
std::string primary_metric(const ResultsTree& tree, const AnalysisSettings& settings);

} // namespace bm
