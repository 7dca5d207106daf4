#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace bm {

// What a killed benchmatrix run left behind, as its journal says.
struct LeftBehind {
  struct Process {
    int pid = 0;                       // also its process group id
    std::uint64_t start_ticks = 0;     // clock ticks since boot, as it was when started
    std::vector<std::string> cgroups;  // its cgroup directories, when it had any
  };
  std::vector<Process> processes;
  std::uint64_t run_started_ticks = 0;  // when that run's orchestrator started; 0: unknown
  std::string tasks_dir;                // OUT/tasks as that run's tasks saw it (BENCHMATRIX_RESULT_DIR below it)
};

// Ends what a killed run left running, found three ways, since its leaders may be long gone:
// every process in the run's journaled cgroups; every process in the process group of one of its
// processes that started no earlier than that process did (a grandchild whose parent exited
// stays in its group); and every process started since that run began whose environment says its
// BENCHMATRIX_RESULT_DIR is below that run's OUT/tasks (one that left its group with setsid()).
// Each is pinned by a pidfd before SIGKILL, so a reused pid is never touched, then waited for (a
// pidfd, not a sleep loop), at most `patience` in all. Returns how many of the tasks' processes
// were ended (benchmatrix's launchers are ended too, not counted).
std::size_t end_orphans(const LeftBehind& left, std::chrono::milliseconds patience = std::chrono::seconds(5));

} // namespace bm
