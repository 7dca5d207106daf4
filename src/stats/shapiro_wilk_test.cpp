#include "stats/shapiro_wilk.hpp"

#include <cmath>
#include <numbers>

#include <gtest/gtest.h>

namespace bm {
namespace {

TEST(StatsShapiroWilk, MatchesScipyReferenceValues) {
  // scipy/stats/tests/test_morestats.py, TestShapiro.test_basic: scipy.stats.shapiro runs the same
  // Fortran AS R94 code as R's shapiro.test. x1: W = 0.9004729986, p = 0.0420897454 (6 decimals).
  ShapiroWilk x1 = shapiro_wilk(std::vector<double>{0.11, 7.87, 4.61, 10.14, 7.95, 3.14, 0.46, 4.43, 0.21, 4.75,
                                                    0.71, 1.52, 3.24, 0.93, 0.42, 4.97, 9.53, 4.55, 0.47, 6.66});
  ASSERT_TRUE(x1.ok);
  EXPECT_NEAR(x1.w, 0.9004729986190796, 1e-6);
  EXPECT_NEAR(x1.p, 0.04208974540233612, 1e-6);
  // x2: W = 0.959027 (6 decimals), p = 0.5246 (3 decimals).
  ShapiroWilk x2 = shapiro_wilk(std::vector<double>{1.36, 1.14, 2.92, 2.55, 1.46, 1.06, 5.27, -1.11, 3.48, 1.10,
                                                    0.88, -0.51, 1.46, 0.52, 6.20, 1.69, 0.08, 3.67, 2.81, 3.49});
  EXPECT_NEAR(x2.w, 0.959027, 1e-6);
  EXPECT_NEAR(x2.p, 0.5246, 1e-3);
  // x4 (n = 25): W = 0.83467 (4 decimals), p = 0.000914 (5 decimals).
  ShapiroWilk x4 = shapiro_wilk(std::vector<double>{0.139, 0.157, 0.175, 0.256, 0.344, 0.413, 0.503, 0.577, 0.614,
                                                    0.655, 0.954, 1.392, 1.557, 1.648, 1.690, 1.994, 2.174, 2.206,
                                                    3.245, 3.510, 3.571, 4.354, 4.980, 6.084, 8.351});
  EXPECT_NEAR(x4.w, 0.83467, 1e-4);
  EXPECT_NEAR(x4.p, 0.000914, 1e-5);
}

TEST(StatsShapiroWilk, SmallSampleTransform) {
  // n = 4..11 take Royston's small-sample normalizing transform. The weights of 11 men from
  // Shapiro & Wilk (1965), the example of scipy.stats.shapiro's documentation:
  // W = 0.7888146948353875, p = 0.006703814056502984.
  ShapiroWilk weights = shapiro_wilk(std::vector<double>{148, 154, 158, 160, 161, 162, 166, 170, 182, 195, 236});
  ASSERT_TRUE(weights.ok);
  EXPECT_NEAR(weights.w, 0.7888146948353875, 1e-6);
  EXPECT_NEAR(weights.p, 0.006703814056502984, 1e-6);
}

TEST(StatsShapiroWilk, MatchesRsShapiroTest) {
  // R 2.2.0: shapiro.test(c(13, 17, 23, 9.5, 20, 15, 11, 17, 21, 14, 22, 13)) printed
  // W = 0.9513, p-value = 0.6555 (r-help, "shapiro.test() output", 2006-07-13, quoted in Peter
  // Dalgaard's reply). n = 12: the first size of the large-sample transform.
  ShapiroWilk arsenic = shapiro_wilk(std::vector<double>{13, 17, 23, 9.5, 20, 15, 11, 17, 21, 14, 22, 13});
  ASSERT_TRUE(arsenic.ok);
  EXPECT_NEAR(arsenic.w, 0.9513, 5e-5);
  EXPECT_NEAR(arsenic.p, 0.6555, 5e-5);

  // R: shapiro.test(mtcars$wt) gives W = 0.94326, p-value = 0.09265 (RPubs 222982, printed R
  // output); mtcars$wt as in R's datasets package, in row order.
  ShapiroWilk wt = shapiro_wilk(std::vector<double>{2.620, 2.875, 2.320, 3.215, 3.440, 3.460, 3.570, 3.190,
                                                    3.150, 3.440, 3.440, 4.070, 3.730, 3.780, 5.250, 5.424,
                                                    5.345, 2.200, 1.615, 1.835, 2.465, 3.520, 3.435, 3.840,
                                                    3.845, 1.935, 2.140, 1.513, 3.170, 2.770, 3.570, 2.780});
  ASSERT_TRUE(wt.ok);
  EXPECT_NEAR(wt.w, 0.94326, 5e-6);
  EXPECT_NEAR(wt.p, 0.09265, 5e-6);
}

TEST(StatsShapiroWilk, ExactForThree) {
  // n = 3: a = (-1, 0, 1)/sqrt(2), so W is the squared correlation of x with (-1, 0, 1):
  // for {1, 2, 4}, W = 9 / (2 * 14/3) = 27/28; p = 6/pi (asin(sqrt(W)) - asin(sqrt(3/4))).
  ShapiroWilk three = shapiro_wilk(std::vector<double>{1, 2, 4});
  ASSERT_TRUE(three.ok);
  EXPECT_NEAR(three.w, 27.0 / 28.0, 1e-12);
  double p = 6 / std::numbers::pi * (std::asin(std::sqrt(27.0 / 28.0)) - std::asin(std::sqrt(0.75)));
  EXPECT_NEAR(three.p, p, 1e-12);
  EXPECT_NEAR(three.p, 0.6368868450289692, 1e-9);
  // scipy test_morestats.py, test_length_3_gh18322: W = 0.84658770645509, p = 0.2313666489882.
  ShapiroWilk gh = shapiro_wilk(std::vector<double>{-0.7746653110021126, -0.4344432067942129, 1.8157053280290931});
  EXPECT_NEAR(gh.w, 0.84658770645509, 1e-9);
  EXPECT_NEAR(gh.p, 0.2313666489882, 1e-7);
  // Two equal values and one apart give the smallest W for n = 3, 3/4, and p = 0, never negative.
  ShapiroWilk corner = shapiro_wilk(std::vector<double>{0.6931471805599453, 0, 0});
  EXPECT_NEAR(corner.w, 0.75, 1e-12);
  EXPECT_GE(corner.p, 0);
}

TEST(StatsShapiroWilk, UndefinedWhenDegenerate) {
  EXPECT_FALSE(shapiro_wilk(std::vector<double>{}).ok);
  EXPECT_FALSE(shapiro_wilk(std::vector<double>{1, 2}).ok);
  ShapiroWilk equal = shapiro_wilk(std::vector<double>{5, 5, 5, 5});
  EXPECT_FALSE(equal.ok);
  EXPECT_FALSE(equal.note.empty());
  EXPECT_FALSE(shapiro_wilk(std::vector<double>(5001, 1.0)).ok);
}

TEST(StatsShapiroWilk, LinesAndOutliers) {
  // A straight line is as normal-looking as small samples get: W near 1, p well above 0.05.
  std::vector<double> line;
  for (int i = 1; i <= 20; ++i) {
    line.push_back(i);
  }
  ShapiroWilk linear = shapiro_wilk(line);
  EXPECT_GT(linear.w, 0.9);
  EXPECT_LT(linear.w, 1);
  EXPECT_GT(linear.p, 0.1);
  // A heavy outlier is not (n = 10: the small-sample transform).
  ShapiroWilk skewed = shapiro_wilk(std::vector<double>{1, 1.1, 0.9, 1.05, 0.95, 1.02, 0.98, 1.01, 0.99, 40});
  ASSERT_TRUE(skewed.ok);
  EXPECT_LT(skewed.p, 0.001);
  EXPECT_GE(skewed.p, 0);
}

} // namespace
} // namespace bm
