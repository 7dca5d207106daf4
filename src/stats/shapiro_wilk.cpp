#include "stats/shapiro_wilk.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include <boost/math/distributions/normal.hpp>

namespace bm {

namespace {

// c[0] + c[1] x + c[2] x^2 + ... (AS 181's POLY).
double poly(std::span<const double> c, double x) {
  double result = 0;
  for (std::size_t i = c.size(); i-- > 0;) {
    result = result * x + c[i];
  }
  return result;
}

} // namespace

ShapiroWilk shapiro_wilk(std::span<const double> values) {
  ShapiroWilk result;
  const std::size_t n = values.size();
  if (n < 3) {
    result.note = "needs at least 3 samples";
    return result;
  }
  if (n > 5000) {
    result.note = "defined for at most 5000 samples";
    return result;
  }
  if (!std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); })) {
    result.note = "NaN or infinite values";
    return result;
  }
  std::vector<double> x(values.begin(), values.end());
  std::sort(x.begin(), x.end());
  double range = x.back() - x.front();
  if (range < 1e-19 * std::max(1.0, std::abs(x.back()))) {
    result.note = "all samples are equal";
    return result;
  }

  // Coefficients a_i for the i-th largest order statistic (AS R94, from Royston 1992):
  // m_i = Phi^-1((i - 3/8) / (n + 1/4)); the two largest get polynomial corrections in 1/sqrt(n).
  static constexpr double c1[] = {0.0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056};
  static constexpr double c2[] = {0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633};
  const std::size_t half = n / 2;
  const double an = static_cast<double>(n);
  std::vector<double> a(half + 1);  // 1-based, as in the paper
  boost::math::normal normal;
  if (n == 3) {
    a[1] = std::sqrt(0.5);
  } else {
    double summ2 = 0;
    for (std::size_t i = 1; i <= half; ++i) {
      a[i] = boost::math::quantile(normal, (static_cast<double>(i) - 0.375) / (an + 0.25));  // negative
      summ2 += a[i] * a[i];
    }
    summ2 *= 2;
    double ssumm2 = std::sqrt(summ2);
    double rsn = 1 / std::sqrt(an);
    double a1 = poly(c1, rsn) - a[1] / ssumm2;
    std::size_t first = 2;
    double fac = 0;
    if (n > 5) {
      first = 3;
      double a2 = -a[2] / ssumm2 + poly(c2, rsn);
      fac = std::sqrt((summ2 - 2 * a[1] * a[1] - 2 * a[2] * a[2]) / (1 - 2 * a1 * a1 - 2 * a2 * a2));
      a[2] = a2;
    } else {
      fac = std::sqrt((summ2 - 2 * a[1] * a[1]) / (1 - 2 * a1 * a1));
    }
    a[1] = a1;
    for (std::size_t i = first; i <= half; ++i) {
      a[i] /= -fac;
    }
  }

  // W is the squared correlation between the ordered sample and the (antisymmetric)
  // coefficients; 1 - W is computed directly to keep precision when W is near 1.
  std::vector<double> coefficient(n, 0.0);
  for (std::size_t i = 0; i < half; ++i) {
    coefficient[i] = -a[i + 1];
    coefficient[n - 1 - i] = a[i + 1];
  }
  double mean_a = 0;
  double mean_x = 0;
  for (std::size_t i = 0; i < n; ++i) {
    mean_a += coefficient[i];
    mean_x += x[i] / range;
  }
  mean_a /= an;
  mean_x /= an;
  double ssa = 0;
  double ssx = 0;
  double sax = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double da = coefficient[i] - mean_a;
    double dx = x[i] / range - mean_x;
    ssa += da * da;
    ssx += dx * dx;
    sax += da * dx;
  }
  double ssassx = std::sqrt(ssa * ssx);
  double w1 = std::max(0.0, (ssassx - sax) * (ssassx + sax) / (ssa * ssx));
  result.w = 1 - w1;
  result.ok = true;

  if (n == 3) {
    // Exact: p = 6/pi (asin(sqrt(W)) - asin(sqrt(3/4))).
    result.p = std::max(0.0, 6 / std::numbers::pi * (std::asin(std::sqrt(result.w)) - std::asin(std::sqrt(0.75))));
    return result;
  }
  // Normalizing transformations of 1 - W (Royston 1992): small samples (4..11) and large.
  static constexpr double g[] = {-2.273, 0.459};
  static constexpr double c3[] = {0.544, -0.39978, 0.025054, -6.714e-4};
  static constexpr double c4[] = {1.3822, -0.77857, 0.062767, -0.0020322};
  static constexpr double c5[] = {-1.5861, -0.31082, -0.083751, 0.0038915};
  static constexpr double c6[] = {-0.4803, -0.082676, 0.0030302};
  double y = std::log(w1);
  double m = 0;
  double s = 0;
  if (n <= 11) {
    double gamma = poly(g, an);
    if (y >= gamma) {
      result.p = 1e-99;  // beyond the approximation's range: W is extremely small
      return result;
    }
    y = -std::log(gamma - y);
    m = poly(c3, an);
    s = std::exp(poly(c4, an));
  } else {
    double log_n = std::log(an);
    m = poly(c5, log_n);
    s = std::exp(poly(c6, log_n));
  }
  result.p = boost::math::cdf(boost::math::complement(boost::math::normal(m, s), y));
  return result;
}

} // namespace bm
