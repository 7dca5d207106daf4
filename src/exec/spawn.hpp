#pragma once

#include <cstddef>
#include <sched.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>

namespace bm {

// What the child does between its creation and exec, in this order: reset `defaults` to their
// default actions, become a process group leader, pin itself to `cpus`, join the cgroups whose
// cgroup.procs files are named in `cgroup_procs`, take `stdio` as 0, 1 and 2 (and, with a
// launcher, `report` as 3; every other descriptor is closed), change to `working_directory`, set
// `mask`, exec: `program`, or with `launcher` >= 0 the executable open at that descriptor (which
// then starts `program` itself; `argv` is then the launcher's).
struct SpawnRequest {
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int stdio[3] = {-1, -1, -1};
  const char* working_directory = nullptr;  // null: the orchestrator's
  const cpu_set_t* cpus = nullptr;           // null: the orchestrator's affinity
  std::size_t cpus_size = 0;                 // bytes of *cpus
  const char* const* cgroup_procs = nullptr;  // paths; opened by the child, not by us
  std::size_t cgroup_count = 0;
  const sigset_t* mask = nullptr;
  const sigset_t* defaults = nullptr;
  int launcher = -1;  // >= 5: exec this descriptor's executable (execveat), not `program`
  int report = -1;    // >= 5: becomes descriptor 3 of the launcher
};

struct SpawnResult {
  pid_t pid = -1;           // the child, when it was started
  timespec exec_time{};     // CLOCK_MONOTONIC in the child right before its execve
  int error = 0;            // errno of the step that failed; the child, if any, is reaped
  const char* step = "";    // which step: "clone", "setpgid", "sched_setaffinity", "execve"...
};

// Starts a process like posix_spawn (a vfork-style clone: no copy of our memory, and we resume
// once the child has exec'd), with the steps posix_spawn cannot take done by the child itself:
// pinning and joining cgroups. So a start moves nothing of the orchestrator between CPUs or
// cgroups, and the child runs pinned, in its cgroups, from its first instruction of the program.
// Errors of any step, exec included, are returned, not left to the child's exit status.
SpawnResult spawn_process(const SpawnRequest& request);

} // namespace bm
