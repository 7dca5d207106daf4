#pragma once

#include <span>
#include <string>

namespace bm {

struct ShapiroWilk {
  double w = 0;
  double p = 1;
  bool ok = false;
  std::string note;
};

// Shapiro-Wilk W test of normality with Royston's approximations: Royston, P. (1995), Remark AS
// R94: A remark on Algorithm AS 181: The W-test for normality, Applied Statistics 44(4),
// 547-551 (the algorithm behind R's shapiro.test). Valid for 3 <= n <= 5000; the p-value is
// exact for n = 3. Not defined for fewer values or zero range.
ShapiroWilk shapiro_wilk(std::span<const double> values);

} // namespace bm
