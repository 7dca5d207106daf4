#pragma once

#include <cstdint>
#include <random>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace bm {

// A confidence interval, or why there is none (ok == false, note says why).
struct Interval {
  double low = 0;
  double high = 0;
  bool ok = false;
  std::string note;
};

// The p-th percentile (0..100) of sorted values by linear interpolation between order
// statistics: Hyndman & Fan (1996) type 7, numpy's and R's default. Empty input gives 0.
double percentile(std::span<const double> sorted, double p);

struct Descriptive {
  std::size_t n = 0;
  double mean = 0;
  double median = 0;
  double stddev = 0;        // sample (n - 1)
  double min = 0;
  double max = 0;
  double p5 = 0, p25 = 0, p75 = 0, p95 = 0, p99 = 0;
  double mad = 0;           // median absolute deviation, raw
  double mad_scaled = 0;    // 1.4826 * mad: consistent with sd for normal data
  double cv = 0;            // stddev / mean; 0 with a note when the mean is 0
  Interval mean_ci;         // Student t
  Interval median_ci;       // percentile bootstrap, seeded
  Interval median_ci_exact; // distribution-free, from order statistics
  std::optional<double> shapiro_w;
  std::optional<double> shapiro_p;
  std::vector<std::string> notes;
};

// Describes a sample. Degenerate input (n = 0, n = 1, zero variance) gives defined values and
// notes, never NaN; NaN and infinite values are left out, with a note. `resamples` = 0 skips the
// bootstrap.
Descriptive describe(std::span<const double> values, double confidence = 0.95, std::uint64_t seed = 1,
                     int resamples = 2000);

// Distribution-free CI of the median from order statistics (Conover 1999, Practical
// Nonparametric Statistics, 3rd ed., 3.2): the widest symmetric pair x(k), x(n+1-k) whose
// binomial(n, 1/2) coverage is at least `confidence`. Not defined when even [min, max] covers
// less (n < 6 at 95%). Needs sorted, finite input.
Interval median_ci_order_statistics(std::span<const double> sorted, double confidence = 0.95);

// Median of unsorted values (copies).
double median_of(std::span<const double> values);
// The same of values it may reorder, by selection: O(n) rather than a sort.
double median_in_place(std::vector<double>& values);
// Sorts `values` unless they already are (an O(n) check): statistics over samples sorted once
// by their caller pay for one sort, not one per statistic.
void sort_unless_sorted(std::vector<double>& values);

// The median of one bootstrap resample (n draws with replacement) of `sorted`, drawn straight
// from its distribution in O(1) rather than by drawing n values and sorting them: the k-th
// smallest of n uniform draws is Beta(k, n - k + 1), and the next one above it is the smallest
// of the n - k uniform draws on the rest of the interval (e.g. David & Nagaraja, Order
// Statistics, 3rd ed., 2.1 and 2.5); index floor(n U) of `sorted` maps a uniform to a draw. The
// same distribution as the direct resample, so a bootstrap over a million samples costs what one
// over ten does.
double resampled_median(std::span<const double> sorted, std::mt19937_64& random);

// True when no value is NaN or infinite: the tests refuse such samples rather than sort them
// (NaN breaks the ordering std::sort relies on).
bool all_finite(std::span<const double> values);

} // namespace bm
