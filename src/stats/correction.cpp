#include "stats/correction.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace bm {

std::optional<Correction> parse_correction(std::string_view text) {
  if (text == "holm") {
    return Correction::Holm;
  }
  if (text == "bonferroni") {
    return Correction::Bonferroni;
  }
  if (text == "bh" || text == "benjamini-hochberg" || text == "fdr") {
    return Correction::BenjaminiHochberg;
  }
  if (text == "none") {
    return Correction::None;
  }
  return std::nullopt;
}

std::string_view to_string(Correction correction) {
  switch (correction) {
  case Correction::Holm:
    return "holm";
  case Correction::Bonferroni:
    return "bonferroni";
  case Correction::BenjaminiHochberg:
    return "bh";
  case Correction::None:
    return "none";
  }
  return "none";
}

std::vector<double> adjust_p_values(std::span<const double> p, Correction method) {
  const std::size_t n = p.size();
  // A p-value that is NaN or out of range counts as 1, the value that claims nothing; this also
  // keeps the sort below well defined.
  std::vector<double> clean(p.begin(), p.end());
  for (double& value : clean) {
    value = std::isnan(value) ? 1.0 : std::clamp(value, 0.0, 1.0);
  }
  std::vector<double> adjusted = clean;
  if (n == 0 || method == Correction::None) {
    return adjusted;
  }
  const double m = static_cast<double>(n);
  if (method == Correction::Bonferroni) {
    for (double& value : adjusted) {
      value = std::min(1.0, value * m);
    }
    return adjusted;
  }
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return clean[x] < clean[y]; });
  if (method == Correction::Holm) {
    // Step-down: the k-th smallest (0-based) times (m - k), made non-decreasing.
    double running = 0;
    for (std::size_t k = 0; k < n; ++k) {
      running = std::max(running, std::min(1.0, clean[order[k]] * (m - static_cast<double>(k))));
      adjusted[order[k]] = running;
    }
    return adjusted;
  }
  // Benjamini-Hochberg step-up: from the largest, p * m / rank, made non-increasing.
  double running = 1;
  for (std::size_t k = n; k-- > 0;) {
    running = std::min(running, clean[order[k]] * m / static_cast<double>(k + 1));
    adjusted[order[k]] = std::min(1.0, running);
  }
  return adjusted;
}

} // namespace bm
