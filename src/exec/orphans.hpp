#pragma once

#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

namespace bm {

// Ends the process groups a killed benchmatrix left running: for each (pid, start ticks) whose
// process still exists with that very start time (so a reused pid is never touched), SIGKILL to
// its group, then waits for it to be gone (a pidfd, not a sleep loop), at most `patience` in
// all. Returns how many were still running.
std::size_t end_orphans(const std::vector<std::pair<int, std::uint64_t>>& processes,
                        std::chrono::milliseconds patience = std::chrono::seconds(5));

} // namespace bm
