#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "stats/descriptive.hpp"

namespace bm {

struct MannWhitney {
  double u = 0;        // of `a`: pairs with a > b, plus half the ties (R's W)
  double p = 1;        // two-sided
  bool exact = false;
  bool ok = false;
  std::string note;
};

// Mann-Whitney U (Wilcoxon rank-sum) test, two-sided. Exact null distribution when both samples
// have at most 50 values and there are no ties (Mann & Whitney 1947; counted by dynamic
// programming); otherwise the normal approximation with tie correction and continuity
// correction, as R's wilcox.test(correct = TRUE). (R switches to the approximation at 50, not
// after it.) Not ok for an empty side or NaN/infinite values; all values tied gives p = 1.
MannWhitney mann_whitney_u(std::span<const double> a, std::span<const double> b);

struct Welch {
  double t = 0;
  double df = 0;
  double p = 1;
  bool ok = false;
  std::string note;
};

// Welch's unequal-variances t test, two-sided, Welch-Satterthwaite degrees of freedom
// (Welch 1947), as R's t.test(var.equal = FALSE). Statistic of mean(a) - mean(b). Not ok with
// fewer than 2 values a side, zero variance on both sides, or NaN/infinite values.
Welch welch_t_test(std::span<const double> a, std::span<const double> b);

// Cliff's delta: P(a > b) - P(a < b) over all pairs (Cliff 1993), in [-1, 1]; 0 for an empty
// side or NaN/infinite values.
double cliffs_delta(std::span<const double> a, std::span<const double> b);
// Romano et al. (2006): negligible < 0.147 <= small < 0.33 <= medium < 0.474 <= large.
std::string cliffs_magnitude(double delta);

// Hodges-Lehmann estimate of the shift: the median of all differences b_j - a_i
// (Hodges & Lehmann 1963); 0 for an empty side or NaN/infinite values. Beyond 2^20 pairs the
// median is selected without storing the differences, with the same result.
double hodges_lehmann_shift(std::span<const double> a, std::span<const double> b);

// The confidence interval of the shift b - a that inverts the Mann-Whitney test (Moses 1953;
// Hollander & Wolfe, Nonparametric Statistical Methods, 2nd ed., 4.3): [d(k), d(mn + 1 - k)] of
// the m n sorted differences b_j - a_i, around the Hodges-Lehmann estimate. k comes from the exact
// null distribution when mann_whitney_u is exact (R's qwilcox), else from the same normal
// approximation with tie and continuity correction, so that 0 lies outside the interval exactly
// when mann_whitney_u(a, b).p < 1 - confidence. Selected without storing the differences.
struct ShiftInterval {
  double estimate = 0;
  Interval ci;
  bool exact = false;
};
ShiftInterval shift_interval(std::span<const double> a, std::span<const double> b, double confidence);

struct Ratio {
  double ratio = 1;
  Interval ci;
  bool ok = false;
  std::string note;
};

// median(b) / median(a), with a percentile-bootstrap CI resampling a and b independently
// (Efron & Tibshirani 1993), seeded with std::mt19937_64(seed). Not ok when median(a) is 0 or
// values are NaN/infinite; the interval needs 2 values a side and 0 < confidence < 1.
Ratio ratio_of_medians(std::span<const double> a, std::span<const double> b, double confidence = 0.95,
                       std::uint64_t seed = 1, int resamples = 2000);

} // namespace bm
