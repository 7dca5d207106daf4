#pragma once

#include <nlohmann/json.hpp>

namespace bm {

struct Topology;

// The context block of every result file (STYLE 7): date, host, tool version, OS, kernel, CPU
// model and counts. Cores used and GPUs are added by the caller, who knows them.
nlohmann::json machine_context(const Topology& topology);

} // namespace bm
