#pragma once

#include <span>
#include <string>
#include <vector>

namespace bm {

struct OutlierOptions {
  double iqr_k = 1.5;
  double modified_z = 3.5;
  double z = 3.0;
};

// Outlier flags by three rules, in the order of the values. Flagged, never removed here.
struct Outliers {
  std::vector<bool> iqr;
  std::vector<bool> modified_z;
  std::vector<bool> z;
  std::size_t iqr_count = 0;
  std::size_t modified_z_count = 0;
  std::size_t z_count = 0;
  std::vector<std::string> notes;
};

// IQR fences [Q1 - k IQR, Q3 + k IQR] (Tukey 1977) with type-7 quartiles; modified z-score
// 0.6745 |x - median| / MAD > threshold (Iglewicz & Hoaglin 1993); plain z |x - mean| / sd >
// threshold. A rule whose scale is 0 (IQR, MAD or sd) flags nothing and says so; fewer than 3
// values flag nothing; NaN and infinite values are ignored and never flagged.
Outliers detect_outliers(std::span<const double> values, const OutlierOptions& options = {});
// The same, given the finite values already sorted (callers that need them sorted anyway).
Outliers detect_outliers(std::span<const double> values, std::span<const double> sorted_finite,
                         const OutlierOptions& options);

} // namespace bm
