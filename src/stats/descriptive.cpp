#include "stats/descriptive.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <numeric>
#include <random>

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/students_t.hpp>

#include "stats/shapiro_wilk.hpp"

namespace bm {

double percentile(std::span<const double> sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  if (!(p >= 0)) {
    p = 0;  // also NaN, which clamp would pass through
  }
  double position = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
  auto below = static_cast<std::size_t>(std::floor(position));
  std::size_t above = std::min(below + 1, sorted.size() - 1);
  double fraction = position - static_cast<double>(below);
  return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

double median_of(std::span<const double> values) {
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  return percentile(sorted, 50);
}

double median_in_place(std::vector<double>& values) {
  if (values.empty()) {
    return 0;
  }
  // Type-7 at 50%, as percentile(): position (n - 1) / 2, between `below` and the next value up.
  const std::size_t below = (values.size() - 1) / 2;
  auto at = values.begin() + static_cast<long>(below);
  std::nth_element(values.begin(), at, values.end());
  double low = *at;
  if (values.size() % 2 == 1) {
    return low;
  }
  double high = *std::min_element(at + 1, values.end());
  return low + 0.5 * (high - low);
}

void sort_unless_sorted(std::vector<double>& values) {
  if (!std::is_sorted(values.begin(), values.end())) {
    std::sort(values.begin(), values.end());
  }
}

bool all_finite(std::span<const double> values) {
  return std::all_of(values.begin(), values.end(), [](double x) { return std::isfinite(x); });
}

namespace {

// U ~ Beta(a, b), from two gamma draws.
double beta_draw(double a, double b, std::mt19937_64& random) {
  double x = std::gamma_distribution<double>(a, 1.0)(random);
  double y = std::gamma_distribution<double>(b, 1.0)(random);
  return x + y > 0 ? x / (x + y) : 0.5;
}

double at_uniform(std::span<const double> sorted, double u) {
  auto n = sorted.size();
  auto index = static_cast<std::size_t>(std::floor(u * static_cast<double>(n)));
  return sorted[std::min(index, n - 1)];
}

} // namespace

double resampled_median(std::span<const double> sorted, std::mt19937_64& random) {
  const std::size_t n = sorted.size();
  if (n == 1) {
    return sorted[0];
  }
  const double dn = static_cast<double>(n);
  // Type-7 median of n values: the k-th (n odd, k = (n + 1) / 2), or the mean of the k-th and
  // (k + 1)-th (n even, k = n / 2).
  const std::size_t k = n % 2 == 1 ? (n + 1) / 2 : n / 2;
  const double dk = static_cast<double>(k);
  double lower = beta_draw(dk, dn - dk + 1, random);
  if (n % 2 == 1) {
    return at_uniform(sorted, lower);
  }
  double v = std::uniform_real_distribution<double>(0.0, 1.0)(random);
  double upper = lower + (1 - lower) * (1 - std::pow(v, 1.0 / (dn - dk)));
  return 0.5 * (at_uniform(sorted, lower) + at_uniform(sorted, upper));
}

Interval median_ci_order_statistics(std::span<const double> sorted, double confidence) {
  Interval interval;
  const std::size_t n = sorted.size();
  if (n == 0) {
    interval.note = "no samples";
    return interval;
  }
  // Coverage of [x(k), x(n+1-k)] is 1 - 2 P(B <= k - 1), B ~ Binomial(n, 1/2): the widest k
  // (largest) with P(B <= k - 1) <= (1 - confidence) / 2. Found from the binomial quantile and
  // checked on either side, a few CDF evaluations rather than one per k.
  boost::math::binomial binomial(static_cast<double>(n), 0.5);
  const double tail = (1 - confidence) / 2;
  auto fits = [&](std::size_t k) { return k >= 1 && boost::math::cdf(binomial, static_cast<double>(k - 1)) <= tail; };
  std::size_t limit = n / 2 + (n % 2);
  double guess = std::floor(boost::math::quantile(binomial, tail));
  std::size_t best = std::min<std::size_t>(limit, static_cast<std::size_t>(std::max(0.0, guess)) + 1);
  while (best > 0 && !fits(best)) {
    --best;
  }
  while (best < limit && fits(best + 1)) {
    ++best;
  }
  if (best == 0) {
    interval.note = "too few samples for a distribution-free interval of the median";
    return interval;
  }
  interval.low = sorted[best - 1];
  interval.high = sorted[n - best];
  interval.ok = true;
  return interval;
}

Descriptive describe(std::span<const double> values, double confidence, std::uint64_t seed, int resamples) {
  Descriptive d;
  std::vector<double> sorted;
  sorted.reserve(values.size());
  std::copy_if(values.begin(), values.end(), std::back_inserter(sorted), [](double x) { return std::isfinite(x); });
  if (sorted.size() != values.size()) {
    d.notes.push_back(std::to_string(values.size() - sorted.size()) + " NaN or infinite values left out");
  }
  d.n = sorted.size();
  if (d.n == 0) {
    d.notes.push_back("no samples");
    d.mean_ci.note = d.median_ci.note = d.median_ci_exact.note = "no samples";
    return d;
  }
  sort_unless_sorted(sorted);
  const double n = static_cast<double>(d.n);
  d.min = sorted.front();
  d.max = sorted.back();
  d.mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / n;
  d.median = percentile(sorted, 50);
  d.p5 = percentile(sorted, 5);
  d.p25 = percentile(sorted, 25);
  d.p75 = percentile(sorted, 75);
  d.p95 = percentile(sorted, 95);
  d.p99 = percentile(sorted, 99);
  std::vector<double> deviations;
  deviations.reserve(d.n);
  for (double x : sorted) {
    deviations.push_back(std::abs(x - d.median));
  }
  d.mad = median_in_place(deviations);
  d.mad_scaled = 1.4826 * d.mad;
  if (d.n == 1) {
    d.notes.push_back("n = 1: no spread and no intervals");
    d.mean_ci.note = d.median_ci.note = d.median_ci_exact.note = "n = 1";
    return d;
  }
  const bool all_equal = d.min == d.max;
  if (all_equal) {
    d.mean = d.min;  // exactly, without the rounding of the sum
  } else {
    double squares = 0;
    for (double x : sorted) {
      squares += (x - d.mean) * (x - d.mean);
    }
    d.stddev = std::sqrt(squares / (n - 1));
  }
  if (d.mean != 0) {
    d.cv = d.stddev / std::abs(d.mean);
  } else {
    d.notes.push_back("mean is 0: coefficient of variation undefined, shown as 0");
  }
  if (!(confidence > 0 && confidence < 1)) {
    d.notes.push_back("confidence must be between 0 and 1: no intervals");
    d.mean_ci.note = d.median_ci.note = d.median_ci_exact.note = "confidence must be between 0 and 1";
    return d;
  }
  // Student t interval of the mean (e.g. Wasserman, All of Statistics, 6.3.2; R's t.test).
  boost::math::students_t t(n - 1);
  double half = boost::math::quantile(boost::math::complement(t, (1 - confidence) / 2)) * d.stddev / std::sqrt(n);
  d.mean_ci = {d.mean - half, d.mean + half, true, {}};
  d.median_ci_exact = median_ci_order_statistics(sorted, confidence);

  if (all_equal) {
    d.notes.push_back("all samples are equal: zero variance, no Shapiro-Wilk test");
    d.median_ci = {d.median, d.median, true, {}};
    return d;
  }
  if (resamples > 0) {
    // Percentile bootstrap of the median (Efron & Tibshirani 1993, ch. 13), seeded so a report
    // is reproducible.
    std::mt19937_64 random(seed);
    std::vector<double> medians(static_cast<std::size_t>(resamples));
    for (auto& median : medians) {
      median = resampled_median(sorted, random);
    }
    std::sort(medians.begin(), medians.end());
    d.median_ci = {percentile(medians, 50 * (1 - confidence)), percentile(medians, 100 - 50 * (1 - confidence)),
                   true, {}};
  } else {
    d.median_ci.note = "bootstrap skipped";
  }
  ShapiroWilk normality = shapiro_wilk(sorted);
  if (normality.ok) {
    d.shapiro_w = normality.w;
    d.shapiro_p = normality.p;
  } else {
    d.notes.push_back("Shapiro-Wilk: " + normality.note);
  }
  return d;
}

} // namespace bm
