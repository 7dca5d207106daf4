#include "stats/correction.hpp"

#include <cmath>

#include <gtest/gtest.h>

namespace bm {
namespace {

void expect_near(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-12) << "index " << i;
  }
}

TEST(StatsCorrection, HolmBonferroniAndBenjaminiHochberg) {
  // By hand, as R's p.adjust(c(0.01, 0.04, 0.03, 0.005), method):
  // holm: sorted .005*4, .01*3, .03*2, .04*1 -> .02, .03, .06, max(.04, .06) = .06.
  // bonferroni: times 4. BH: p * 4 / rank from the largest, non-increasing: .04, .04, .02, .02.
  std::vector<double> p = {0.01, 0.04, 0.03, 0.005};
  expect_near(adjust_p_values(p, Correction::Holm), {0.03, 0.06, 0.06, 0.02});
  expect_near(adjust_p_values(p, Correction::Bonferroni), {0.04, 0.16, 0.12, 0.02});
  expect_near(adjust_p_values(p, Correction::BenjaminiHochberg), {0.02, 0.04, 0.04, 0.02});
  expect_near(adjust_p_values(p, Correction::None), p);
}

TEST(StatsCorrection, CappedAtOneAndEmptyFamilies) {
  expect_near(adjust_p_values(std::vector<double>{0.6, 0.9}, Correction::Bonferroni), {1, 1});
  expect_near(adjust_p_values(std::vector<double>{0.6, 0.9}, Correction::Holm), {1, 1});
  EXPECT_TRUE(adjust_p_values(std::vector<double>{}, Correction::Holm).empty());
  EXPECT_EQ(parse_correction("fdr"), Correction::BenjaminiHochberg);
  EXPECT_EQ(parse_correction("benjamini-hochberg"), Correction::BenjaminiHochberg);
  EXPECT_FALSE(parse_correction("sidak").has_value());
  for (Correction method : {Correction::Holm, Correction::Bonferroni, Correction::BenjaminiHochberg, Correction::None}) {
    EXPECT_EQ(parse_correction(to_string(method)), method);
  }
}

TEST(StatsCorrection, NanCountsAsOneAndTiesAgree) {
  // A NaN p-value is read as 1: Holm on {0.01, NaN} is {0.01 * 2, max(1 * 1, 0.02)} = {0.02, 1}.
  expect_near(adjust_p_values(std::vector<double>{0.01, std::nan("")}, Correction::Holm), {0.02, 1});
  // Tied p-values get equal adjusted values whatever their order (R's p.adjust):
  // BH of {0.02, 0.02, 0.5}: 0.5 * 3/3 = 0.5, 0.02 * 3/2 = 0.03, min(0.03, 0.02 * 3/1) = 0.03.
  expect_near(adjust_p_values(std::vector<double>{0.02, 0.02, 0.5}, Correction::BenjaminiHochberg),
              {0.03, 0.03, 0.5});
  // Holm: 0.02 * 3 = 0.06, max(0.06, 0.02 * 2) = 0.06, max(0.06, 0.5 * 1) = 0.5.
  expect_near(adjust_p_values(std::vector<double>{0.02, 0.02, 0.5}, Correction::Holm), {0.06, 0.06, 0.5});
}

} // namespace
} // namespace bm
