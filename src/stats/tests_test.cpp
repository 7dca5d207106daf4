#include "stats/tests.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <random>

#include <gtest/gtest.h>

namespace bm {
namespace {

TEST(StatsMannWhitney, ExactSmallSamplesWithoutTies) {
  // R: wilcox.test(1:3, 4:6) -> W = 0, p-value = 0.1 (1 of C(6,3) = 20 arrangements, doubled).
  MannWhitney separated = mann_whitney_u(std::vector<double>{1, 2, 3}, std::vector<double>{4, 5, 6});
  ASSERT_TRUE(separated.ok);
  EXPECT_TRUE(separated.exact);
  EXPECT_EQ(separated.u, 0);
  EXPECT_NEAR(separated.p, 0.1, 1e-12);
  // R: wilcox.test(c(1,3,5), c(2,4,6)) -> W = 3, p-value = 0.7: the null counts of U for
  // m = n = 3 are 1,1,2,3,3,3,3,2,1,1, so P(U <= 3) = 7/20.
  MannWhitney mixed = mann_whitney_u(std::vector<double>{1, 3, 5}, std::vector<double>{2, 4, 6});
  EXPECT_EQ(mixed.u, 3);
  EXPECT_NEAR(mixed.p, 0.7, 1e-12);
  // Symmetric: swapping the samples keeps p.
  EXPECT_NEAR(mann_whitney_u(std::vector<double>{2, 4, 6}, std::vector<double>{1, 3, 5}).p, 0.7, 1e-12);
}

TEST(StatsMannWhitney, NormalApproximationWithTiesAndContinuityCorrection) {
  // a = {1,2,2,3}, b = {2,3,4,4}: mid-ranks give U = 2.5; tie groups of 3, 2 and 2 give
  // sigma^2 = 16/12 (9 - 36/56); z = (2.5 - 8 + 0.5) / sigma = -1.497862, p = 2 Phi(z) =
  // 0.134169 (R's wilcox.test, which warns it cannot compute an exact p-value with ties).
  MannWhitney tied = mann_whitney_u(std::vector<double>{1, 2, 2, 3}, std::vector<double>{2, 3, 4, 4});
  ASSERT_TRUE(tied.ok);
  EXPECT_FALSE(tied.exact);
  EXPECT_DOUBLE_EQ(tied.u, 2.5);
  EXPECT_NEAR(tied.p, 0.13416918012812581, 1e-9);
}

TEST(StatsMannWhitney, DegenerateCasesNeverGiveNan) {
  MannWhitney same = mann_whitney_u(std::vector<double>{1, 1, 1}, std::vector<double>{1, 1, 1});
  EXPECT_TRUE(same.ok);
  EXPECT_EQ(same.p, 1);
  EXPECT_FALSE(mann_whitney_u(std::vector<double>{}, std::vector<double>{1}).ok);
  MannWhitney one = mann_whitney_u(std::vector<double>{1}, std::vector<double>{2});
  EXPECT_TRUE(one.exact);
  EXPECT_EQ(one.p, 1);
  // The largest exact case stays exact and finite.
  std::vector<double> a;
  std::vector<double> b;
  for (int i = 0; i < 50; ++i) {
    a.push_back(i);
    b.push_back(i + 100.5);
  }
  MannWhitney big = mann_whitney_u(a, b);
  EXPECT_TRUE(big.exact);
  EXPECT_GT(big.p, 0);
  EXPECT_NEAR(big.p, 2 / 1.0089134454556419e29, 1e-35);  // 2 / C(100, 50)
}

TEST(StatsWelch, AgainstHandComputation) {
  // a = 1..5 (mean 3, var 2.5), b = 2,4,..,10 (mean 6, var 10): t = -3 / sqrt(0.5 + 2),
  // df = 2.5^2 / (0.25/4 + 4/4) = 5.882353; p = 0.107531 (t density integrated numerically;
  // R: t.test(1:5, seq(2, 10, 2)) prints t = -1.8974, df = 5.8824, p-value = 0.1075).
  Welch welch = welch_t_test(std::vector<double>{1, 2, 3, 4, 5}, std::vector<double>{2, 4, 6, 8, 10});
  ASSERT_TRUE(welch.ok);
  EXPECT_NEAR(welch.t, -1.8973665961010275, 1e-12);
  EXPECT_NEAR(welch.df, 5.882352941176471, 1e-12);
  EXPECT_NEAR(welch.p, 0.10753119493063179, 1e-6);
  Welch flat = welch_t_test(std::vector<double>{2, 2}, std::vector<double>{3, 3});
  EXPECT_FALSE(flat.ok);
  EXPECT_FALSE(flat.note.empty());
  EXPECT_FALSE(welch_t_test(std::vector<double>{1}, std::vector<double>{1, 2}).ok);
}

TEST(StatsEffectSizes, CliffsDeltaAndHodgesLehmann) {
  // a = {1,2,3}, b = {2,3,4}: of 9 pairs, a > b once, a < b six times: delta = -5/9.
  std::vector<double> a = {1, 2, 3};
  std::vector<double> b = {2, 3, 4};
  EXPECT_NEAR(cliffs_delta(a, b), -5.0 / 9.0, 1e-12);
  EXPECT_NEAR(cliffs_delta(b, a), 5.0 / 9.0, 1e-12);
  EXPECT_EQ(cliffs_magnitude(-5.0 / 9.0), "large");
  EXPECT_EQ(cliffs_magnitude(0.1), "negligible");
  EXPECT_EQ(cliffs_magnitude(0.2), "small");
  EXPECT_EQ(cliffs_magnitude(0.4), "medium");
  EXPECT_EQ(cliffs_delta(a, a), 0);
  // Differences b - a: -1,0,0,1,1,1,2,2,3: median 1.
  EXPECT_DOUBLE_EQ(hodges_lehmann_shift(a, b), 1);
}

TEST(StatsEffectSizes, HodgesLehmannWithoutStoringEveryPair) {
  // 1100 x 1100 pairs are more than the stored limit (2^20): the selection must give exactly the
  // median of the stored, sorted differences (type 7: mean of the two middle ones).
  std::vector<double> a;
  std::vector<double> b;
  for (int i = 0; i < 1100; ++i) {
    a.push_back(std::fmod(i * 7.31, 13.7) - 3);
    b.push_back(std::fmod(i * 3.17, 11.3) + 0.25 * (i % 5));
  }
  std::vector<double> differences;
  for (double x : a) {
    for (double y : b) {
      differences.push_back(y - x);
    }
  }
  std::sort(differences.begin(), differences.end());
  std::size_t half = differences.size() / 2;
  double expected = differences[half - 1] + 0.5 * (differences[half] - differences[half - 1]);
  EXPECT_EQ(hodges_lehmann_shift(a, b), expected);
  // Odd count of pairs: 1101 x 1001.
  a.push_back(100);
  b.resize(1001);
  differences.clear();
  for (double x : a) {
    for (double y : b) {
      differences.push_back(y - x);
    }
  }
  std::nth_element(differences.begin(), differences.begin() + differences.size() / 2, differences.end());
  EXPECT_EQ(hodges_lehmann_shift(a, b), differences[differences.size() / 2]);
}

TEST(StatsTests, NonFiniteValuesAreRefusedNotPropagated) {
  std::vector<double> bad = {1, std::nan(""), 3};
  std::vector<double> good = {1, 2, 3};
  MannWhitney u = mann_whitney_u(bad, good);
  EXPECT_FALSE(u.ok);
  EXPECT_FALSE(u.note.empty());
  EXPECT_FALSE(welch_t_test(good, bad).ok);
  EXPECT_EQ(cliffs_delta(bad, good), 0);
  EXPECT_EQ(hodges_lehmann_shift(good, bad), 0);
  EXPECT_FALSE(ratio_of_medians(good, bad).ok);
  std::vector<double> infinite = {1, 2, std::numeric_limits<double>::infinity()};
  EXPECT_FALSE(welch_t_test(infinite, good).ok);
  // A confidence outside (0, 1) gives a ratio without an interval, not an exception.
  Ratio odd = ratio_of_medians(good, good, 1.5);
  EXPECT_TRUE(odd.ok);
  EXPECT_FALSE(odd.ci.ok);
}

TEST(StatsRatio, RatioOfMediansWithSeededInterval) {
  std::vector<double> base = {10, 11, 9, 10, 10.5, 9.5};
  std::vector<double> slow = {20, 22, 18, 20, 21, 19};
  Ratio ratio = ratio_of_medians(base, slow, 0.95, 42, 2000);
  ASSERT_TRUE(ratio.ok);
  EXPECT_DOUBLE_EQ(ratio.ratio, 2);
  ASSERT_TRUE(ratio.ci.ok);
  EXPECT_LE(ratio.ci.low, 2);
  EXPECT_GE(ratio.ci.high, 2);
  EXPECT_GT(ratio.ci.low, 1.5);
  Ratio again = ratio_of_medians(base, slow, 0.95, 42, 2000);
  EXPECT_EQ(again.ci.low, ratio.ci.low);
  EXPECT_FALSE(ratio_of_medians(std::vector<double>{0, 0, 0}, slow).ok);
  EXPECT_FALSE(ratio_of_medians(std::vector<double>{1}, std::vector<double>{2}).ci.ok);
}

TEST(StatsShiftInterval, MatchesRsWilcoxTestConfInt) {
  // R 4.2: x <- c(0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46);
  // y <- c(1.15, 0.88, 0.90, 0.74, 1.21); wilcox.test(y, x, conf.int = TRUE): exact, no ties,
  // [-0.76, 0.15], difference in location -0.305.
  std::vector<double> x = {0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46};
  std::vector<double> y = {1.15, 0.88, 0.90, 0.74, 1.21};
  ShiftInterval shift = shift_interval(x, y, 0.95);
  ASSERT_TRUE(shift.ci.ok);
  EXPECT_TRUE(shift.exact);
  EXPECT_NEAR(shift.ci.low, -0.76, 1e-12);
  EXPECT_NEAR(shift.ci.high, 0.15, 1e-12);
  EXPECT_NEAR(shift.estimate, -0.305, 1e-12);
  // On logs, as the ratio interval: exp(wilcox.test(log(y), log(x), conf.int = TRUE)$conf.int)
  // = [0.510344827586207, 1.163461538461538], estimate 0.762330425678482.
  std::vector<double> log_x;
  std::vector<double> log_y;
  for (double v : x) {
    log_x.push_back(std::log(v));
  }
  for (double v : y) {
    log_y.push_back(std::log(v));
  }
  ShiftInterval ratio = shift_interval(log_x, log_y, 0.95);
  EXPECT_NEAR(std::exp(ratio.ci.low), 0.510344827586207, 1e-12);
  EXPECT_NEAR(std::exp(ratio.ci.high), 1.163461538461538, 1e-12);
  EXPECT_NEAR(std::exp(ratio.estimate), 0.762330425678482, 1e-12);
}

TEST(StatsShiftInterval, WithTiesFollowsTheNormalApproximation) {
  // set.seed(1); a <- round(rnorm(40, 10, 1), 1); b <- round(rnorm(35, 10.5, 1), 1);
  // wilcox.test(b, a, conf.int = TRUE): p = 0.0266701454922785, [0.0999803, 0.9000072] (R finds
  // the ends by root-finding between differences; here they are the differences 0.1 and 0.9).
  std::vector<double> a = {9.4,  10.2, 9.2,  11.6, 10.3, 9.2, 10.5, 10.7, 10.6, 9.7,  11.5, 10.4, 9.4, 7.8,
                           11.1, 10,   10,   10.9, 10.8, 10.6, 10.9, 10.8, 10.1, 8,   10.6, 9.9,  9.8, 8.5,
                           9.5,  10.4, 11.4, 9.9,  10.4, 9.9, 8.6,  9.6,  9.6,  9.9, 11.1, 10.8};
  std::vector<double> b = {10.3, 10.2, 11.2, 11.1, 9.8,  9.8,  10.9, 11.3, 10.4, 11.4, 10.9, 9.9,
                           10.8, 9.4,  11.9, 12.5, 10.1, 9.5,  11.1, 10.4, 12.9, 10.5, 11.2, 10.5,
                           9.8,  10.7, 8.7,  12,   10.7, 12.7, 11,   9.8,  11.1, 9.6,  9.2};
  EXPECT_NEAR(mann_whitney_u(a, b).p, 0.0266701454922785, 1e-12);
  ShiftInterval shift = shift_interval(a, b, 0.95);
  EXPECT_FALSE(shift.exact);
  EXPECT_NEAR(shift.ci.low, 0.1, 1e-9);
  EXPECT_NEAR(shift.ci.high, 0.9, 1e-9);
  EXPECT_NEAR(shift.estimate, 0.5, 1e-9);
}

TEST(StatsShiftInterval, ZeroIsOutsideExactlyWhenTheTestRejects) {
  // The interval and the test are one procedure: across many random samples, at 95% and at a
  // family-wise 99%, "0 outside the interval" and "p < alpha" never disagree.
  std::mt19937 random(11);
  std::normal_distribution<double> noise(0, 1);
  int disagreements = 0;
  for (int round = 0; round < 300; ++round) {
    std::size_t m = 2 + random() % 40;
    std::size_t n = 2 + random() % 40;
    double shift = (static_cast<int>(random() % 5) - 2) * 0.4;
    bool tied = random() % 2 == 0;
    std::vector<double> a(m);
    std::vector<double> b(n);
    for (auto& v : a) {
      v = tied ? std::round(noise(random) * 4) / 4 : noise(random);
    }
    for (auto& v : b) {
      v = (tied ? std::round(noise(random) * 4) / 4 : noise(random)) + shift;
    }
    double p = mann_whitney_u(a, b).p;
    for (double confidence : {0.95, 0.99}) {
      ShiftInterval interval = shift_interval(a, b, confidence);
      if (!interval.ci.ok) {
        EXPECT_GE(p, 1 - confidence) << "no interval, yet the test rejects";  // too few samples to ever reject
        continue;
      }
      bool excludes = interval.ci.low > 0 || interval.ci.high < 0;
      // A difference exactly 0 at an end is a tie of the shifted data: both count it as inside.
      bool at_zero = interval.ci.low == 0 || interval.ci.high == 0;
      if (!at_zero && excludes != (p < 1 - confidence)) {
        ++disagreements;
      }
    }
  }
  EXPECT_EQ(disagreements, 0);
}

} // namespace
} // namespace bm
