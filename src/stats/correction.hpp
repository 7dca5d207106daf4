#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace bm {

enum class Correction { Holm, Bonferroni, BenjaminiHochberg, None };

// "holm", "bonferroni", "bh" (also "benjamini-hochberg", "fdr"), "none".
std::optional<Correction> parse_correction(std::string_view text);
std::string_view to_string(Correction correction);

// Adjusted p-values, in the order given, as R's p.adjust: Holm (1979) step-down, Bonferroni,
// Benjamini & Hochberg (1995) step-up; monotone and capped at 1. A NaN p-value counts as 1 and
// others are clamped to [0, 1].
std::vector<double> adjust_p_values(std::span<const double> p, Correction method);

} // namespace bm
