#include "stats/descriptive.hpp"

#include <cmath>

#include <map>
#include <random>

#include <gtest/gtest.h>

namespace bm {
namespace {

TEST(StatsPercentile, MatchesNumpyLinear) {
  // numpy.percentile([1, 2, 3, 4], [25, 50, 90]) == [1.75, 2.5, 3.7] (linear, the default).
  std::vector<double> x = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile(x, 25), 1.75);
  EXPECT_DOUBLE_EQ(percentile(x, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile(x, 90), 3.7);
  EXPECT_DOUBLE_EQ(percentile(x, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(x, 100), 4);
  EXPECT_DOUBLE_EQ(percentile(std::vector<double>{7}, 99), 7);
  // numpy.percentile([1, 1, 3, 4, 5], [10, 60, 95]): positions 0.4, 2.4, 3.8 of the sorted
  // array (p / 100 * (n - 1)) give 1, 3 + 0.4 * 1 = 3.4 and 4 + 0.8 * 1 = 4.8.
  std::vector<double> odd = {1, 1, 3, 4, 5};
  EXPECT_DOUBLE_EQ(percentile(odd, 10), 1);
  EXPECT_DOUBLE_EQ(percentile(odd, 60), 3.4);
  EXPECT_DOUBLE_EQ(percentile(odd, 95), 4.8);
  EXPECT_EQ(percentile(std::vector<double>{}, 50), 0);
  EXPECT_EQ(percentile(odd, std::nan("")), 1);  // NaN p reads as 0, never an index from NaN
}

TEST(StatsDescribe, TextbookSample) {
  // {2,4,4,4,5,5,7,9}: mean 5, sum of squares 32, sample sd sqrt(32/7) (the classic example of
  // Wikipedia's "Standard deviation", with n - 1). t(0.975, 7) = 2.364624 (R: qt(0.975, 7)).
  std::vector<double> x = {2, 4, 4, 4, 5, 5, 7, 9};
  Descriptive d = describe(x);
  EXPECT_EQ(d.n, 8u);
  EXPECT_DOUBLE_EQ(d.mean, 5);
  EXPECT_DOUBLE_EQ(d.median, 4.5);
  EXPECT_NEAR(d.stddev, std::sqrt(32.0 / 7), 1e-12);
  EXPECT_DOUBLE_EQ(d.min, 2);
  EXPECT_DOUBLE_EQ(d.max, 9);
  EXPECT_DOUBLE_EQ(d.p25, 4);
  EXPECT_DOUBLE_EQ(d.p75, 5.5);
  EXPECT_DOUBLE_EQ(d.mad, 0.5);
  EXPECT_NEAR(d.cv, std::sqrt(32.0 / 7) / 5, 1e-12);
  double half = 2.364624 * std::sqrt(32.0 / 7) / std::sqrt(8.0);
  ASSERT_TRUE(d.mean_ci.ok);
  EXPECT_NEAR(d.mean_ci.low, 5 - half, 1e-5);
  EXPECT_NEAR(d.mean_ci.high, 5 + half, 1e-5);
  ASSERT_TRUE(d.median_ci.ok);
  EXPECT_LE(d.median_ci.low, d.median);
  EXPECT_GE(d.median_ci.high, d.median);
  EXPECT_TRUE(d.shapiro_w.has_value());
  // The bootstrap is seeded: the same seed gives the same interval.
  Descriptive again = describe(x);
  EXPECT_EQ(again.median_ci.low, d.median_ci.low);
  EXPECT_EQ(again.median_ci.high, d.median_ci.high);
}

TEST(StatsDescribe, DegenerateSamplesAreDefinedAndExplained) {
  Descriptive empty = describe(std::vector<double>{});
  EXPECT_EQ(empty.n, 0u);
  EXPECT_FALSE(empty.mean_ci.ok);
  EXPECT_EQ(empty.notes.front(), "no samples");
  EXPECT_EQ(empty.mean, 0);
  EXPECT_EQ(empty.median, 0);
  EXPECT_EQ(empty.stddev, 0);
  EXPECT_FALSE(empty.median_ci.ok);
  EXPECT_FALSE(empty.median_ci_exact.ok);

  Descriptive one = describe(std::vector<double>{3.5});
  EXPECT_EQ(one.mean, 3.5);
  EXPECT_EQ(one.median, 3.5);
  EXPECT_EQ(one.stddev, 0);
  EXPECT_FALSE(one.mean_ci.ok);
  EXPECT_EQ(one.mean_ci.note, "n = 1");

  Descriptive two = describe(std::vector<double>{1, 3});
  EXPECT_DOUBLE_EQ(two.mean, 2);
  EXPECT_NEAR(two.stddev, std::sqrt(2.0), 1e-12);
  EXPECT_TRUE(two.mean_ci.ok);  // t with 1 degree of freedom: wide but defined
  EXPECT_FALSE(two.shapiro_w.has_value());

  Descriptive equal = describe(std::vector<double>{4, 4, 4, 4});
  EXPECT_EQ(equal.stddev, 0);
  EXPECT_EQ(equal.cv, 0);
  EXPECT_EQ(equal.mad, 0);
  EXPECT_TRUE(equal.median_ci.ok);
  EXPECT_EQ(equal.median_ci.low, 4);
  EXPECT_FALSE(equal.shapiro_w.has_value());
  EXPECT_FALSE(equal.notes.empty());
  ASSERT_TRUE(equal.mean_ci.ok);  // zero width: t * 0 / sqrt(n)
  EXPECT_EQ(equal.mean_ci.low, 4);
  EXPECT_EQ(equal.mean_ci.high, 4);
  EXPECT_FALSE(std::isnan(equal.mean_ci.low));

  // Equal values whose sum does not round-trip (0.1 * 3) still have exactly zero spread.
  Descriptive tenths = describe(std::vector<double>{0.1, 0.1, 0.1});
  EXPECT_EQ(tenths.mean, 0.1);
  EXPECT_EQ(tenths.stddev, 0);
  EXPECT_EQ(tenths.cv, 0);
  EXPECT_FALSE(tenths.notes.empty());

  Descriptive with_nan = describe(std::vector<double>{1, std::nan(""), 3});
  EXPECT_EQ(with_nan.n, 2u);
  EXPECT_DOUBLE_EQ(with_nan.mean, 2);
  EXPECT_FALSE(with_nan.notes.empty());

  Descriptive bad_confidence = describe(std::vector<double>{1, 2, 3}, 1.5);
  EXPECT_FALSE(bad_confidence.mean_ci.ok);
  EXPECT_FALSE(bad_confidence.median_ci.ok);

  Descriptive zero_mean = describe(std::vector<double>{-1, 1});
  EXPECT_EQ(zero_mean.cv, 0);
  EXPECT_FALSE(zero_mean.notes.empty());
}

TEST(StatsMedianInterval, OrderStatisticsByBinomialCoverage) {
  // Binomial(10, 1/2): P(B <= 1) = 11/1024, P(B <= 2) = 56/1024, so at 95% the interval is
  // [x(2), x(9)] (coverage 0.9785); n = 5 cannot reach 95% (coverage of [min, max] 0.9375).
  std::vector<double> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  Interval ci = median_ci_order_statistics(ten, 0.95);
  ASSERT_TRUE(ci.ok);
  EXPECT_EQ(ci.low, 2);
  EXPECT_EQ(ci.high, 9);
  EXPECT_FALSE(median_ci_order_statistics(std::vector<double>{1, 2, 3, 4, 5}, 0.95).ok);
  Interval six = median_ci_order_statistics(std::vector<double>{1, 2, 3, 4, 5, 6}, 0.95);
  ASSERT_TRUE(six.ok);
  EXPECT_EQ(six.low, 1);
  EXPECT_EQ(six.high, 6);
}

TEST(Descriptive, ResampledMedianHasTheBootstrapDistribution) {
  // n odd: the bootstrap median is the k-th order statistic of the resample, and
  // P(median <= x(j)) = P(Binomial(n, #{x <= x(j)}/n) >= k) exactly (e.g. Efron 1982, 10.2).
  std::vector<double> odd = {1, 2, 2, 3, 5, 8, 13};
  std::mt19937_64 random(5);
  const int draws = 200000;
  std::map<double, int> counts;
  for (int i = 0; i < draws; ++i) {
    ++counts[resampled_median(odd, random)];
  }
  const int n = 7;
  const int k = 4;
  for (int j = 1; j <= n; ++j) {
    // With ties, what counts is how many values are <= x(j).
    double at_most = static_cast<double>(std::upper_bound(odd.begin(), odd.end(), odd[static_cast<std::size_t>(j - 1)]) - odd.begin());
    double p = at_most / n;
    double exact = 0;
    for (int i = k; i <= n; ++i) {
      exact += std::exp(std::lgamma(n + 1) - std::lgamma(i + 1) - std::lgamma(n - i + 1)) * std::pow(p, i) *
               std::pow(1 - p, n - i);
    }
    double observed = 0;
    for (const auto& [value, count] : counts) {
      observed += value <= odd[static_cast<std::size_t>(j - 1)] ? count : 0;
    }
    EXPECT_NEAR(observed / draws, exact, 0.005) << "j = " << j;
  }
  // n even: the mean of two order statistics; against resampling by hand.
  std::vector<double> even = {1, 2, 3, 5, 8, 13};
  std::map<double, int> direct;
  std::map<double, int> drawn;
  std::uniform_int_distribution<std::size_t> pick(0, even.size() - 1);
  std::vector<double> resample(even.size());
  for (int i = 0; i < draws; ++i) {
    for (auto& x : resample) {
      x = even[pick(random)];
    }
    ++direct[median_of(resample)];
    ++drawn[resampled_median(even, random)];
  }
  for (const auto& [value, count] : direct) {
    EXPECT_NEAR(static_cast<double>(drawn[value]) / draws, static_cast<double>(count) / draws, 0.006) << value;
  }
}

} // namespace
} // namespace bm
