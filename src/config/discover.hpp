#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace bm {

// Runs a discovery command (seed 000's `runner --list`, Google Benchmark's
// `--benchmark_list_tests`) and returns the axis values it prints: a JSON array (of strings or
// numbers, or of objects with a "name" and scalar fields) or one name per line. Blank lines and
// lines starting with '#' are skipped. Throws UserError at `where` when the command cannot run,
// fails, times out, or prints nothing usable. Runs in the current directory.
std::vector<AxisValue> discover_values(const std::vector<std::string>& argv, const SourceLocation& where,
                                       std::chrono::seconds timeout = std::chrono::seconds(60));

// Runs what a config discovers when it is used: `{discover: COMMAND}` axes, and a `source:`'s
// listing of each program it names (one program per value of the axes in its path), which becomes
// the source's axis (see SourceConfig). Throws UserError at the config's location on failure.
void discover(Config& config);

// A Google Benchmark name made into the regular expression --benchmark_filter matches exactly that
// name with (every character that starts a construct of an extended regex escaped).
std::string benchmark_filter_for(std::string_view name);

// Parses discovery output (exposed for tests).
std::vector<AxisValue> parse_discovered(const std::string& output, const SourceLocation& where);

} // namespace bm
