#pragma once

#include <string>

#include "config/config.hpp"

namespace bm {

// Reads and validates a config file (YAML; JSON is accepted as YAML's subset). Every problem is
// a UserError naming file:line:column, what was expected and what was found. Axis values given
// as `{discover: COMMAND}`, and a `source:`'s benchmarks, are found by running their commands here
// (discover() in discover.hpp); without `run_discovery` they are left for the caller to discover
// (after the run's `before:` step).
Config load_config(const std::string& path, bool run_discovery = true);

// The same over text already in memory; `file` names it in errors.
Config parse_config(const std::string& text, const std::string& file, bool run_discovery = true);

} // namespace bm
