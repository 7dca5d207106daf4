#include "stats/descriptive.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "stats/outliers.hpp"
#include "stats/shapiro_wilk.hpp"

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
  EXPECT_FALSE(std::isnan(equal.mean_ci.low));

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

TEST(StatsShapiroWilk, MatchesRsShapiroTest) {
  // R 2.2: shapiro.test(c(13, 17, 23, 9.5, 20, 15, 11, 17, 21, 14, 22, 13)) gives
  // W = 0.9513, p-value = 0.6555 (quoted on r-help, 2006-07-13, "shapiro.test() output").
  ShapiroWilk result = shapiro_wilk(std::vector<double>{13, 17, 23, 9.5, 20, 15, 11, 17, 21, 14, 22, 13});
  ASSERT_TRUE(result.ok);
  EXPECT_NEAR(result.w, 0.9513, 5e-5);
  EXPECT_NEAR(result.p, 0.6555, 5e-4);
}

TEST(StatsShapiroWilk, ExactForThreeAndUndefinedWhenDegenerate) {
  // n = 3: a = (-1, 0, 1)/sqrt(2), so W is the squared correlation of x with (-1, 0, 1):
  // for {1, 2, 4}, W = 9 / (2 * 42/9) = 27/28; p = 6/pi (asin(sqrt(W)) - asin(sqrt(3/4))).
  ShapiroWilk three = shapiro_wilk(std::vector<double>{1, 2, 4});
  ASSERT_TRUE(three.ok);
  EXPECT_NEAR(three.w, 27.0 / 28.0, 1e-12);
  EXPECT_NEAR(three.p, 0.6368868450289692, 1e-9);
  EXPECT_FALSE(shapiro_wilk(std::vector<double>{1, 2}).ok);
  EXPECT_FALSE(shapiro_wilk(std::vector<double>{5, 5, 5, 5}).ok);
  // A straight line is as normal-looking as small samples get: W near 1, p well above 0.05.
  std::vector<double> line;
  for (int i = 1; i <= 20; ++i) {
    line.push_back(i);
  }
  ShapiroWilk linear = shapiro_wilk(line);
  EXPECT_GT(linear.w, 0.9);
  EXPECT_GT(linear.p, 0.1);
  // A heavy outlier is not.
  ShapiroWilk skewed = shapiro_wilk(std::vector<double>{1, 1.1, 0.9, 1.05, 0.95, 1.02, 0.98, 1.01, 0.99, 40});
  EXPECT_LT(skewed.p, 0.001);
}

TEST(StatsOutliers, RulesAndTheirMasking) {
  // {1,2,3,4,100}: Q1 = 2, Q3 = 4, upper fence 7; MAD = 1, modified z of 100 = 0.6745 * 97;
  // but the outlier inflates the sd (43.6) so its plain z-score is only 1.79: masked at 3.0.
  Outliers outliers = detect_outliers(std::vector<double>{1, 2, 3, 4, 100});
  EXPECT_EQ(outliers.iqr, (std::vector<bool>{false, false, false, false, true}));
  EXPECT_EQ(outliers.modified_z, (std::vector<bool>{false, false, false, false, true}));
  EXPECT_EQ(outliers.z_count, 0u);
  OutlierOptions seed001;
  seed001.z = 1.5;
  EXPECT_EQ(detect_outliers(std::vector<double>{1, 2, 3, 4, 100}, seed001).z_count, 1u);

  Outliers equal = detect_outliers(std::vector<double>{2, 2, 2, 2});
  EXPECT_EQ(equal.iqr_count + equal.modified_z_count + equal.z_count, 0u);
  EXPECT_EQ(equal.notes.size(), 2u);
  EXPECT_EQ(detect_outliers(std::vector<double>{1, 50}).notes.size(), 1u);
}

} // namespace
} // namespace bm
