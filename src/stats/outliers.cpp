#include "stats/outliers.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <numeric>

#include "stats/descriptive.hpp"

namespace bm {

Outliers detect_outliers(std::span<const double> values, const OutlierOptions& options) {
  // NaN and infinite values are neither used nor flagged.
  std::vector<double> sorted;
  std::copy_if(values.begin(), values.end(), std::back_inserter(sorted), [](double x) { return std::isfinite(x); });
  sort_unless_sorted(sorted);
  return detect_outliers(values, sorted, options);
}

Outliers detect_outliers(std::span<const double> values, std::span<const double> sorted,
                         const OutlierOptions& options) {
  Outliers result;
  const std::size_t n = values.size();
  result.iqr.assign(n, false);
  result.modified_z.assign(n, false);
  result.z.assign(n, false);
  if (sorted.size() != n) {
    result.notes.push_back("NaN or infinite values ignored");
  }
  if (sorted.size() < 3) {
    result.notes.push_back("fewer than 3 samples: no outlier detection");
    return result;
  }
  const std::size_t count = sorted.size();
  double q1 = percentile(sorted, 25);
  double q3 = percentile(sorted, 75);
  double iqr = q3 - q1;
  double median = percentile(sorted, 50);
  std::vector<double> deviations;
  deviations.reserve(count);
  for (double x : sorted) {
    deviations.push_back(std::abs(x - median));
  }
  double mad = median_in_place(deviations);
  double mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(count);
  double squares = 0;
  for (double x : sorted) {
    squares += (x - mean) * (x - mean);
  }
  double sd = sorted.front() == sorted.back() ? 0 : std::sqrt(squares / static_cast<double>(count - 1));
  if (iqr == 0) {
    // Fences of zero width would flag every value off the quartiles.
    result.notes.push_back("IQR is 0 (the middle half of the samples are equal): no IQR fences");
  }
  if (mad == 0) {
    result.notes.push_back("MAD is 0 (more than half the samples are equal): no modified z-scores");
  }
  if (sd == 0) {
    result.notes.push_back("zero variance: no z-scores");
  }
  for (std::size_t i = 0; i < n; ++i) {
    double x = values[i];
    if (!std::isfinite(x)) {
      continue;
    }
    if (iqr > 0 && (x < q1 - options.iqr_k * iqr || x > q3 + options.iqr_k * iqr)) {
      result.iqr[i] = true;
      ++result.iqr_count;
    }
    if (mad > 0 && 0.6745 * std::abs(x - median) / mad > options.modified_z) {
      result.modified_z[i] = true;
      ++result.modified_z_count;
    }
    if (sd > 0 && std::abs(x - mean) / sd > options.z) {
      result.z[i] = true;
      ++result.z_count;
    }
  }
  return result;
}

} // namespace bm
