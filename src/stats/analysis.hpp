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

enum class Verdict { Better, Worse, NoDifference };
std::string verdict_text(Verdict verdict, const MetricInfo& info);  // "faster"/"slower" for times

// One variant against its baseline, on one metric: everything computed first, printed later.
struct Comparison {
  std::string baseline_label;     // "algo=std_sort n=1000"
  std::string label;
  std::string path;               // the candidate's folder below tasks/
  std::string metric;
  MetricInfo info;
  std::size_t n_baseline = 0;
  std::size_t n_candidate = 0;
  double median_baseline = 0;
  double median_candidate = 0;
  Ratio ratio;                    // median(candidate) / median(baseline), bootstrap CI
  double hodges_lehmann = 0;      // shift candidate - baseline
  double cliffs_delta = 0;
  std::string magnitude;
  MannWhitney mann_whitney;
  Welch welch;
  double p_adjusted = 1;
  Verdict verdict = Verdict::NoDifference;
  std::vector<std::string> notes; // e.g. n too small to detect the threshold
};

struct Analysis {
  AnalysisSettings settings;
  std::string metric;             // the metric compared
  std::vector<TaskStats> tasks;   // parallel to ResultsTree::tasks
  std::vector<Comparison> comparisons;
  std::vector<std::string> warnings;
};

// Describes every task and, with a baseline, compares every other value of the baseline axis
// with it within the same values of the other axes; the p-values of the whole family are
// corrected together.
Analysis analyze(const ResultsTree& tree, const AnalysisSettings& settings);

// Compares two result trees task by task (matched by path): BASE is the baseline of each pair.
Analysis compare_trees(const ResultsTree& base, const ResultsTree& candidate, const AnalysisSettings& settings);

// The metric a run compares: the configured one, else the tasks' first own metric, else wall time.
std::string primary_metric(const ResultsTree& tree, const AnalysisSettings& settings);

} // namespace bm
