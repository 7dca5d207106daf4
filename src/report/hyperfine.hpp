#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "stats/analysis.hpp"
#include "store/results_reader.hpp"

namespace bm {

// hyperfine's view of a run, for its users: each task's wall time as hyperfine prints it (mean ±
// σ, median, min … max, user and system, runs), then each comparison with the baseline as
// "'a' ran 2.43 ± 0.08 times faster than 'b'", its ratio and interval those of the verdict rule
// (so "unchanged" and "inconclusive" are said as such, never as a speed-up).
std::string hyperfine_summary(const ResultsTree& tree, const Analysis& analysis);

// The results in hyperfine's --export-json schema ({"results": [{command, mean, stddev, median,
// user, system, min, max, times, exit_codes, parameters}]}, seconds), so that its plotting
// scripts work on them: one entry per finished task, its wall times one per process.
nlohmann::json hyperfine_json(const ResultsTree& tree);
void write_hyperfine_json(const ResultsTree& tree, const std::filesystem::path& path);

} // namespace bm
