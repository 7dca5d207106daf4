#pragma once

#include <string>

#include "config/config.hpp"

namespace bm {

// Reads and validates a config file (YAML; JSON is accepted as YAML's subset). Every problem is
// a UserError naming file:line:column, what was expected and what was found. Axis values given
// as `{discover: COMMAND}` are found by running COMMAND here (see discover.hpp).
Config load_config(const std::string& path);

// The same over text already in memory; `file` names it in errors. Without `run_discovery`,
// `{discover: ...}` axes are an error instead of running a command (for the fuzzer).
Config parse_config(const std::string& text, const std::string& file, bool run_discovery = true);

} // namespace bm
