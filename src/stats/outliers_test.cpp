#include "stats/outliers.hpp"

#include <cmath>

#include <gtest/gtest.h>

namespace bm {
namespace {

TEST(StatsOutliers, RulesAndTheirMasking) {
  // {1,2,3,4,100}: numpy-linear Q1 = 2, Q3 = 4, IQR 2, upper fence 4 + 1.5 * 2 = 7 (Tukey 1977).
  // Median 3, absolute deviations {2,1,0,1,97}: MAD = 1, so the modified z of 100 is
  // 0.6745 * 97 = 65.4 > 3.5 and that of 1 is 1.35 (Iglewicz & Hoaglin 1993). The outlier inflates
  // the sd (mean 22, sd sqrt(7610 / 4) = 43.6), so its plain z-score is only 78 / 43.6 = 1.79:
  // masked at 3.0, found at 1.5.
  std::vector<double> x = {1, 2, 3, 4, 100};
  Outliers outliers = detect_outliers(x);
  EXPECT_EQ(outliers.iqr, (std::vector<bool>{false, false, false, false, true}));
  EXPECT_EQ(outliers.modified_z, (std::vector<bool>{false, false, false, false, true}));
  EXPECT_EQ(outliers.iqr_count, 1u);
  EXPECT_EQ(outliers.modified_z_count, 1u);
  EXPECT_EQ(outliers.z_count, 0u);
  OutlierOptions lenient;
  lenient.z = 1.5;
  Outliers z = detect_outliers(x, lenient);
  EXPECT_EQ(z.z, (std::vector<bool>{false, false, false, false, true}));
  EXPECT_EQ(z.z_count, 1u);
}

TEST(StatsOutliers, FlagsLowValuesAndKeepsTheInputOrder) {
  // {50,10,11,12,13}: Q1 = 11, Q3 = 13, fences [8, 16]: 50 is out; the order of the flags is the
  // order of the input, not the sorted one.
  Outliers outliers = detect_outliers(std::vector<double>{50, 10, 11, 12, 13});
  EXPECT_EQ(outliers.iqr, (std::vector<bool>{true, false, false, false, false}));
  // {-40,10,11,12,13}: fences [8, 16] again, -40 is below.
  Outliers low = detect_outliers(std::vector<double>{10, 11, -40, 12, 13});
  EXPECT_EQ(low.iqr, (std::vector<bool>{false, false, true, false, false}));
  EXPECT_EQ(low.modified_z_count, 1u);
}

TEST(StatsOutliers, DegenerateSamplesFlagNothingAndSayWhy) {
  Outliers equal = detect_outliers(std::vector<double>{2, 2, 2, 2});
  EXPECT_EQ(equal.iqr_count + equal.modified_z_count + equal.z_count, 0u);
  EXPECT_EQ(equal.iqr.size(), 4u);
  EXPECT_EQ(equal.notes.size(), 3u);  // IQR 0, MAD 0 and sd 0
  // {5,5,5,5,6}: IQR 0 and MAD 0 but sd > 0, so only the plain z-score is on (6 has z 1.79).
  Outliers mostly = detect_outliers(std::vector<double>{5, 5, 5, 5, 6});
  EXPECT_EQ(mostly.iqr_count + mostly.modified_z_count + mostly.z_count, 0u);
  EXPECT_EQ(mostly.notes.size(), 2u);
  // {1,1,1,1,2,3,4,5}: Q1 = 1, Q3 = 3.25, and the median 1.5 leaves a MAD of 0.5: both on.
  Outliers spread = detect_outliers(std::vector<double>{1, 1, 1, 1, 2, 3, 4, 5});
  EXPECT_TRUE(spread.notes.empty());
  EXPECT_EQ(detect_outliers(std::vector<double>{1, 50}).notes.size(), 1u);
  Outliers with_nan = detect_outliers(std::vector<double>{1, 2, 3, 4, 100, std::nan("")});
  EXPECT_EQ(with_nan.iqr, (std::vector<bool>{false, false, false, false, true, false}));
  EXPECT_EQ(with_nan.notes.size(), 1u);
  Outliers empty = detect_outliers(std::vector<double>{});
  EXPECT_TRUE(empty.iqr.empty());
  EXPECT_EQ(empty.notes.size(), 1u);
}

} // namespace
} // namespace bm
