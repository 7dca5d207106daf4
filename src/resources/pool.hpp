#pragma once

#include "util/error.hpp"

#include <optional>
#include <string>
#include <vector>

#include "resources/topology.hpp"

namespace bm {

// What one task needs at once.
struct ResourceRequest {
  int cpus = 1;
  int gpus = 0;
};

// What the pool handed out: a slot (its number and name give {slot} and %%PARALLEL%%), the
// CPUs to pin to (empty when the pool is unpinned) and GPU indices.
struct Lease {
  int slot = -1;
  std::vector<int> cpus;
  std::vector<int> gpus;
};

// Slots, CPUs and GPUs as one pool with depth: a task takes one slot, `cpus` free CPUs and
// `gpus` distinct GPUs with room (each GPU takes `per_gpu` tasks at once). Sequential running is
// this pool with one slot and one CPU: there is no other path.
class ResourcePool {
public:
  ResourcePool(std::vector<std::string> slot_names, std::vector<int> cpus, bool pinned, std::vector<int> gpus,
               int per_gpu);

  // A lease when everything asked for is free now; nullopt otherwise.
  std::optional<Lease> acquire(const ResourceRequest& request);
  void release(const Lease& lease);

  // Whether the request could be met by the empty pool (otherwise it never can).
  bool can_ever_fit(const ResourceRequest& request) const;

  std::size_t slot_count() const { return m_slot_names.size(); }
  std::size_t free_slot_count() const;
  const std::string& slot_name(int slot) const { return m_slot_names.at(static_cast<size_t>(slot)); }
  const std::vector<int>& cpus() const { return m_cpus; }
  const std::vector<int>& gpus() const { return m_gpus; }
  bool pinned() const { return m_pinned; }

private:
  std::vector<std::string> m_slot_names;
  std::vector<bool> m_slot_busy;
  std::vector<int> m_cpus;
  std::vector<bool> m_cpu_busy;
  bool m_pinned;
  std::vector<int> m_gpus;
  std::vector<int> m_gpu_load;
  int m_per_gpu;
};

// What the user asked for, from the config and the command line (the command line wins).
struct ResourceOptions {
  std::optional<std::vector<int>> cores;   // explicit CPU ids (--cores or resources.cores)
  bool reserve_core0 = true;
  std::optional<int> jobs;                 // --jobs or resources.jobs
  bool parallel = false;                   // --parallel: every usable core
  bool oversubscribe = false;              // more slots than cores, unpinned
  std::vector<std::string> slot_names;     // config `parallel:` names (seed 002)
  std::vector<int> gpus;
  int per_gpu = 1;
  int max_task_cpus = 1;                   // the largest `cpus` of any task in the plan
  int max_task_gpus = 0;
  // Where the config sets what an error may be about (empty: a command-line option or a default).
  SourceLocation cores_location;
  SourceLocation cpus_location;            // of the task with the largest `cpus`
  SourceLocation gpus_location;
};

// The pool a run will use, and the warnings to show once (e.g. unpinned oversubscription).
struct PoolLayout {
  std::vector<std::string> slot_names;
  std::vector<int> cpus;
  bool pinned = true;
  std::vector<int> gpus;
  int per_gpu = 1;
  std::vector<std::string> warnings;

  ResourcePool make_pool() const { return ResourcePool(slot_names, cpus, pinned, gpus, per_gpu); }
};

// Decides slots and CPUs from the topology and the options; throws UserError when the request
// cannot be met (more slots than usable cores without oversubscription, a listed CPU this
// process may not use, a task needing more CPUs or GPUs than the pool has).
PoolLayout plan_pool(const Topology& topology, const ResourceOptions& options);

} // namespace bm
