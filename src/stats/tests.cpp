#include "stats/tests.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include <boost/math/distributions/normal.hpp>
#include <fmt/format.h>
#include <boost/math/distributions/students_t.hpp>

namespace bm {

namespace {

constexpr std::size_t k_exact_limit = 50;

// The differences b_j - a_i of at most this many pairs are stored and sorted (8 MiB).
constexpr std::size_t k_pairs_in_memory = std::size_t{1} << 20;

// Number of pairs with b_j - a_i <= t, both sorted ascending: for each b_j (ascending) the pairs
// that qualify are a suffix of a whose start only moves right. O(m + n). The difference is
// compared as computed, so the count agrees with the stored differences exactly.
std::size_t count_differences_at_most(const std::vector<double>& a, const std::vector<double>& b, double t) {
  std::size_t count = 0;
  std::size_t first = 0;
  for (double y : b) {
    while (first < a.size() && y - a[first] > t) {
      ++first;
    }
    count += a.size() - first;
  }
  return count;
}

// Doubles mapped to integers in the same order, so bisection over them ends in at most 64 steps
// on an exact value.
std::uint64_t order_key(double x) {
  auto bits = std::bit_cast<std::uint64_t>(x);
  return (bits >> 63) != 0 ? ~bits : bits | (std::uint64_t{1} << 63);
}

double from_order_key(std::uint64_t key) {
  return std::bit_cast<double>((key >> 63) != 0 ? key & ~(std::uint64_t{1} << 63) : ~key);
}

// The k-th smallest (1-based) of all differences b_j - a_i, without storing them: the smallest
// value t with at least k differences <= t, by bisection over the ordered doubles
// (a selection in the spirit of Monahan 1984, Algorithm 616, simplified to bisection).
double kth_difference(const std::vector<double>& a, const std::vector<double>& b, std::size_t k) {
  std::uint64_t low = order_key(b.front() - a.back());  // the smallest difference: count >= 1
  std::uint64_t high = order_key(b.back() - a.front());  // the largest: count = m * n
  if (count_differences_at_most(a, b, from_order_key(low)) >= k) {
    return from_order_key(low);
  }
  // Invariant: count(low) < k <= count(high).
  while (high - low > 1) {
    std::uint64_t middle = low + (high - low) / 2;
    if (count_differences_at_most(a, b, from_order_key(middle)) >= k) {
      high = middle;
    } else {
      low = middle;
    }
  }
  return from_order_key(high);
}

// The smallest difference b_j - a_i greater than t (both sorted ascending), or t when there is
// none: for each b_j the pairs with a difference <= t are a suffix of a, and the one just before
// it gives the smallest difference above t. O(m + n).
double next_difference_above(const std::vector<double>& a, const std::vector<double>& b, double t) {
  double best = std::numeric_limits<double>::infinity();
  std::size_t first = 0;
  for (double y : b) {
    while (first < a.size() && y - a[first] > t) {
      ++first;
    }
    if (first > 0) {
      best = std::min(best, y - a[first - 1]);
    }
  }
  return std::isfinite(best) ? best : t;
}

// Number of arrangements of m values of one sample among n of the other with statistic U = u,
// for every u: the exact null distribution of U (Mann & Whitney 1947), by the recursion
// f(m, n, u) = f(m - 1, n, u - n) + f(m, n - 1, u), over doubles (counts reach C(100, 50)).
std::vector<double> exact_u_counts(std::size_t m, std::size_t n) {
  // table[j][u] = f(i, j, u) for the current i.
  std::vector<std::vector<double>> table(n + 1, std::vector<double>(m * n + 1, 0.0));
  for (std::size_t j = 0; j <= n; ++j) {
    table[j][0] = 1;  // f(0, j, 0) = 1
  }
  for (std::size_t i = 1; i <= m; ++i) {
    std::vector<std::vector<double>> next(n + 1, std::vector<double>(m * n + 1, 0.0));
    next[0][0] = 1;  // f(i, 0, 0) = 1
    for (std::size_t j = 1; j <= n; ++j) {
      for (std::size_t u = 0; u <= i * j; ++u) {
        double value = next[j - 1][u];
        if (u >= j) {
          value += table[j][u - j];
        }
        next[j][u] = value;
      }
    }
    table = std::move(next);
  }
  return table[n];
}

} // namespace

MannWhitney mann_whitney_u(std::span<const double> a, std::span<const double> b) {
  MannWhitney result;
  const std::size_t m = a.size();
  const std::size_t n = b.size();
  if (m == 0 || n == 0) {
    result.note = "needs samples on both sides";
    return result;
  }
  if (!all_finite(a) || !all_finite(b)) {
    result.note = "NaN or infinite values";
    return result;
  }
  // Ranks of the pooled sample, ties getting their mean rank. Two sorted samples are merged
  // (O(m + n)) instead of sorted together.
  std::vector<std::pair<double, int>> pooled;
  pooled.reserve(m + n);
  if (std::is_sorted(a.begin(), a.end()) && std::is_sorted(b.begin(), b.end())) {
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < m || j < n) {
      if (j == n || (i < m && a[i] <= b[j])) {
        pooled.emplace_back(a[i++], 0);
      } else {
        pooled.emplace_back(b[j++], 1);
      }
    }
  } else {
    for (double x : a) {
      pooled.emplace_back(x, 0);
    }
    for (double x : b) {
      pooled.emplace_back(x, 1);
    }
    std::sort(pooled.begin(), pooled.end());
  }
  double rank_sum_a = 0;
  double tie_term = 0;  // sum of (t^3 - t) over tie groups
  bool ties = false;
  for (std::size_t i = 0; i < pooled.size();) {
    std::size_t j = i;
    while (j < pooled.size() && pooled[j].first == pooled[i].first) {
      ++j;
    }
    double t = static_cast<double>(j - i);
    double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k < j; ++k) {
      if (pooled[k].second == 0) {
        rank_sum_a += mean_rank;
      }
    }
    if (j - i > 1) {
      ties = true;
      tie_term += t * t * t - t;
    }
    i = j;
  }
  const double dm = static_cast<double>(m);
  const double dn = static_cast<double>(n);
  result.u = rank_sum_a - dm * (dm + 1) / 2;
  result.ok = true;
  if (!ties && m <= k_exact_limit && n <= k_exact_limit) {
    std::vector<double> counts = exact_u_counts(m, n);
    double total = std::accumulate(counts.begin(), counts.end(), 0.0);
    auto u = static_cast<std::size_t>(std::llround(result.u));
    // Two-sided, as R: twice the smaller tail, capped at 1.
    double lower = std::accumulate(counts.begin(), counts.begin() + static_cast<long>(u) + 1, 0.0) / total;
    double upper = std::accumulate(counts.begin() + static_cast<long>(u), counts.end(), 0.0) / total;
    result.p = std::min(1.0, 2 * std::min(lower, upper));
    result.exact = true;
    return result;
  }
  double mean = dm * dn / 2;
  double variance = dm * dn / 12 * ((dm + dn + 1) - tie_term / ((dm + dn) * (dm + dn - 1)));
  // All values tied makes the variance 0 (up to rounding): no ranking, no evidence.
  if (variance <= 1e-9 * dm * dn * (dm + dn + 1) / 12) {
    result.p = 1;
    result.note = "every value is tied: no evidence of a difference";
    return result;
  }
  double difference = result.u - mean;
  double correction = difference > 0 ? 0.5 : difference < 0 ? -0.5 : 0;
  double z = (difference - correction) / std::sqrt(variance);
  boost::math::normal normal;
  result.p = std::min(1.0, 2 * boost::math::cdf(boost::math::complement(normal, std::abs(z))));
  return result;
}

Welch welch_t_test(std::span<const double> a, std::span<const double> b) {
  Welch result;
  if (a.size() < 2 || b.size() < 2) {
    result.note = "needs at least 2 samples on each side";
    return result;
  }
  if (!all_finite(a) || !all_finite(b)) {
    result.note = "NaN or infinite values";
    return result;
  }
  auto moments = [](std::span<const double> x) {
    double mean = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
    double squares = 0;
    for (double v : x) {
      squares += (v - mean) * (v - mean);
    }
    return std::pair{mean, squares / static_cast<double>(x.size() - 1)};
  };
  auto [mean_a, var_a] = moments(a);
  auto [mean_b, var_b] = moments(b);
  double se_a = var_a / static_cast<double>(a.size());
  double se_b = var_b / static_cast<double>(b.size());
  if (se_a + se_b == 0) {
    result.note = "both samples have zero variance";
    return result;
  }
  result.t = (mean_a - mean_b) / std::sqrt(se_a + se_b);
  result.df = (se_a + se_b) * (se_a + se_b) /
              (se_a * se_a / static_cast<double>(a.size() - 1) + se_b * se_b / static_cast<double>(b.size() - 1));
  boost::math::students_t t(result.df);
  result.p = std::min(1.0, 2 * boost::math::cdf(boost::math::complement(t, std::abs(result.t))));
  result.ok = true;
  return result;
}

double cliffs_delta(std::span<const double> a, std::span<const double> b) {
  if (a.empty() || b.empty() || !all_finite(a) || !all_finite(b)) {
    return 0;
  }
  // Counted with sorted b and binary search: O((m + n) log n) rather than m * n.
  std::vector<double> sorted(b.begin(), b.end());
  sort_unless_sorted(sorted);
  double greater = 0;
  double less = 0;
  for (double x : a) {
    greater += static_cast<double>(std::lower_bound(sorted.begin(), sorted.end(), x) - sorted.begin());
    less += static_cast<double>(sorted.end() - std::upper_bound(sorted.begin(), sorted.end(), x));
  }
  return (greater - less) / (static_cast<double>(a.size()) * static_cast<double>(b.size()));
}

std::string cliffs_magnitude(double delta) {
  double size = std::abs(delta);
  if (size < 0.147) {
    return "negligible";
  }
  if (size < 0.33) {
    return "small";
  }
  if (size < 0.474) {
    return "medium";
  }
  return "large";
}

ShiftInterval shift_interval(std::span<const double> a, std::span<const double> b, double confidence) {
  ShiftInterval result;
  if (a.empty() || b.empty() || !all_finite(a) || !all_finite(b)) {
    result.ci.note = "needs finite samples on both sides";
    return result;
  }
  if (!(confidence > 0 && confidence < 1)) {
    result.ci.note = "confidence must be between 0 and 1";
    return result;
  }
  std::vector<double> sorted_a(a.begin(), a.end());
  std::vector<double> sorted_b(b.begin(), b.end());
  sort_unless_sorted(sorted_a);
  sort_unless_sorted(sorted_b);
  result.estimate = hodges_lehmann_shift(sorted_a, sorted_b);
  const std::size_t m = sorted_a.size();
  const std::size_t n = sorted_b.size();
  const std::size_t pairs = m * n;
  const double alpha = 1 - confidence;
  MannWhitney test = mann_whitney_u(sorted_a, sorted_b);
  std::size_t k = 0;
  if (test.exact) {
    // R: qu <- qwilcox(alpha / 2, m, n), the smallest u with P(U <= u) >= alpha / 2; at least 1.
    std::vector<double> counts = exact_u_counts(m, n);
    double total = std::accumulate(counts.begin(), counts.end(), 0.0);
    double cumulative = 0;
    for (std::size_t u = 0; u < counts.size(); ++u) {
      cumulative += counts[u];
      if (cumulative / total >= alpha / 2) {
        k = u;
        break;
      }
    }
    result.exact = true;
  } else {
    // The shift d is inside when |W(d) - mn/2| - 1/2 <= z sigma, W(d) counting the differences
    // above d (ties a half). Between the (j-1)-th and j-th smallest differences W = mn - j + 1, so
    // those shifts are inside from j >= x + 1/2 on (x = mn/2 - z sigma): the lower end is the
    // (ceil(x + 1/2) - 1)-th difference. sigma has the tie correction of the pooled samples, as
    // the test has.
    double dm = static_cast<double>(m);
    double dn = static_cast<double>(n);
    std::vector<double> pooled(sorted_a);
    pooled.insert(pooled.end(), sorted_b.begin(), sorted_b.end());
    std::sort(pooled.begin(), pooled.end());
    double tie_term = 0;
    for (std::size_t i = 0; i < pooled.size();) {
      std::size_t j = i;
      while (j < pooled.size() && pooled[j] == pooled[i]) {
        ++j;
      }
      double t = static_cast<double>(j - i);
      tie_term += t * t * t - t;
      i = j;
    }
    double variance = dm * dn / 12 * ((dm + dn + 1) - tie_term / ((dm + dn) * (dm + dn - 1)));
    double z = boost::math::quantile(boost::math::complement(boost::math::normal(), alpha / 2));
    double lower = std::ceil(dm * dn / 2 - z * std::sqrt(std::max(variance, 0.0)) + 0.5) - 1;
    k = lower < 1 ? 0 : static_cast<std::size_t>(lower);
  }
  if (k == 0) {
    // Not even the most extreme arrangement would reject: the interval at this confidence is
    // unbounded (R widens it to every difference and warns).
    result.ci.note = fmt::format("{} vs {} samples cannot give a {:.4g}% interval (smallest possible p = {:.3g})", m, n,
                                 confidence * 100, test.exact ? 2 / std::exp(std::lgamma(m + n + 1.0) - std::lgamma(m + 1.0) -
                                                                             std::lgamma(n + 1.0))
                                                              : 1.0);
    return result;
  }
  if (k > (pairs + 1) / 2) {
    k = (pairs + 1) / 2;
  }
  result.ci.low = kth_difference(sorted_a, sorted_b, k);
  result.ci.high = kth_difference(sorted_a, sorted_b, pairs + 1 - k);
  result.ci.ok = pairs > 1;
  if (!result.ci.ok) {
    result.ci.note = "one value a side: no interval";
  }
  return result;
}

double hodges_lehmann_shift(std::span<const double> a, std::span<const double> b) {
  if (a.empty() || b.empty() || !all_finite(a) || !all_finite(b)) {
    return 0;
  }
  const std::size_t pairs = a.size() * b.size();
  if (pairs <= k_pairs_in_memory) {
    std::vector<double> differences;
    differences.reserve(pairs);
    for (double x : a) {
      for (double y : b) {
        differences.push_back(y - x);
      }
    }
    return median_of(differences);
  }
  // Too many pairs to hold: select the middle differences without storing them. Same value, as
  // type-7 median of the m * n differences.
  std::vector<double> sorted_a(a.begin(), a.end());
  std::vector<double> sorted_b(b.begin(), b.end());
  sort_unless_sorted(sorted_a);
  sort_unless_sorted(sorted_b);
  double lower = kth_difference(sorted_a, sorted_b, (pairs + 1) / 2);
  if (pairs % 2 == 1) {
    return lower;
  }
  // The next one up: the same value when it is tied, else the smallest difference above it.
  double upper = count_differences_at_most(sorted_a, sorted_b, lower) >= pairs / 2 + 1
                     ? lower
                     : next_difference_above(sorted_a, sorted_b, lower);
  return lower + 0.5 * (upper - lower);
}

Ratio ratio_of_medians(std::span<const double> a, std::span<const double> b, double confidence, std::uint64_t seed,
                       int resamples) {
  Ratio result;
  if (a.empty() || b.empty()) {
    result.note = "needs samples on both sides";
    return result;
  }
  if (!all_finite(a) || !all_finite(b)) {
    result.note = "NaN or infinite values";
    return result;
  }
  std::vector<double> sorted_a(a.begin(), a.end());
  std::vector<double> sorted_b(b.begin(), b.end());
  sort_unless_sorted(sorted_a);
  sort_unless_sorted(sorted_b);
  double base = percentile(sorted_a, 50);
  if (base == 0) {
    result.note = "the baseline's median is 0: no ratio";
    return result;
  }
  result.ratio = percentile(sorted_b, 50) / base;
  result.ok = true;
  if (a.size() < 2 || b.size() < 2 || resamples <= 0) {
    result.ci.note = "too few samples for an interval";
    return result;
  }
  if (!(confidence > 0 && confidence < 1)) {
    result.ci.note = "confidence must be between 0 and 1";
    return result;
  }
  std::mt19937_64 random(seed);
  std::vector<double> ratios;
  ratios.reserve(static_cast<std::size_t>(resamples));
  for (int r = 0; r < resamples; ++r) {
    // Each side resampled on its own (a two-sample bootstrap), each median drawn directly.
    double denominator = resampled_median(sorted_a, random);
    double numerator = resampled_median(sorted_b, random);
    if (denominator != 0) {
      ratios.push_back(numerator / denominator);
    }
  }
  if (ratios.size() < static_cast<std::size_t>(resamples) / 2) {
    result.ci.note = "the baseline's resampled median is mostly 0";
    return result;
  }
  std::sort(ratios.begin(), ratios.end());
  result.ci = {percentile(ratios, 50 * (1 - confidence)), percentile(ratios, 100 - 50 * (1 - confidence)), true, {}};
  return result;
}

} // namespace bm
