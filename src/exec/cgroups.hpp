#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bm {

// Limits of one process's cgroup.
struct CgroupLimits {
  std::vector<int> cpus;          // cpuset; empty: inherited
  std::uint64_t memory_max = 0;   // bytes; 0: no limit
  std::uint64_t pids_max = 0;     // 0: no limit
  bool operator==(const CgroupLimits&) const = default;
};

// One process's cgroup: one directory (v2) or one per controller (v1).
struct TaskCgroup {
  std::vector<std::string> dirs;
};

// What the kernel accounted for the cgroup's whole process tree.
struct CgroupStats {
  std::uint64_t memory_peak = 0;  // bytes; 0 when unknown
  bool oom_killed = false;
};

// Isolation per process with cgroups, where the machine lets this process create them (BenchExec's
// approach): a cpuset for its cores, memory.max from the task's `memory:`, pids.max, and killing
// the whole tree, even processes that left the process group with setsid(). v2 (unified) is used
// when its controllers can be delegated to us; else the v1 hierarchies cpuset, memory and pids;
// else none, and the caller falls back to affinity and process groups and says so once.
//
// A process enters its cgroup from its first instruction: the child writes itself into each
// cgroup.procs between its creation and exec (see spawn_process); the orchestrator never moves.
class CgroupManager {
public:
  CgroupManager();  // detects and creates benchmatrix-<pid> under this process's cgroups
  ~CgroupManager();
  CgroupManager(const CgroupManager&) = delete;
  CgroupManager& operator=(const CgroupManager&) = delete;

  bool enabled() const { return m_version != 0; }
  int version() const { return m_version; }
  const std::string& reason() const { return m_reason; }  // why not enabled
  std::string describe() const;                           // "cgroup v1 (cpuset, memory, pids)"

  // Creates the cgroup of one process (nullopt with `error` when it cannot).
  std::optional<TaskCgroup> create(std::uint64_t token, const CgroupLimits& limits, std::string& error);
  // Kills every process in the cgroup (cgroup.kill on v2, each listed process on v1).
  void kill(const TaskCgroup& cgroup);
  // After the process ended: kills what is left and reads the accounting. The cgroup is removed
  // by the next tidy().
  CgroupStats finish(const TaskCgroup& cgroup);
  // Asks for a spare cgroup with these limits to be made by the next tidy(), for the next
  // create() with the same limits (a slot's next process, usually) to take at no cost.
  void want_spare(const CgroupLimits& limits);
  // Work for idle moments: removes the finished cgroups that can be removed now (the others are
  // tried again later) and makes the wanted spares.
  void tidy();

private:
  struct Controller {
    std::string name;       // "cpuset", "memory", "pids" (v1); "" for the v2 directory
    std::string own;        // our own cgroup directory in this hierarchy
    std::string base;       // own/benchmatrix-<pid>
  };
  bool setup_v2();
  bool setup_v1();
  std::string dir_of(const TaskCgroup& cgroup, const std::string& controller) const;

  int m_version = 0;
  std::string m_reason;
  std::vector<Controller> m_controllers;
  std::optional<TaskCgroup> make(const std::string& name, const CgroupLimits& limits, std::string& error);

  std::vector<std::pair<CgroupLimits, TaskCgroup>> m_spares;  // made ahead, unused
  std::vector<CgroupLimits> m_wanted;                          // spares to make at the next tidy()
  std::uint64_t m_spares_made = 0;
  std::vector<TaskCgroup> m_leftovers;  // cgroups that could not be removed yet
};

} // namespace bm
