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

struct PoolLayout;

// Slots, CPUs and GPUs as one pool with depth. A CPU task takes a CPU slot and `cpus` free CPUs,
// its own. A GPU task takes a GPU slot (their number is the GPUs times their depth, or the
// configured concurrency spread over them: GPU tasks never wait for a CPU slot) and `gpus`
// distinct GPUs with room (each takes `per_gpu` tasks at once; a task asking for several takes them
// whole, alone); its `cpus` are the least used of
// those nearest its GPU, shared with the GPU's other tasks when there are fewer than the tasks.
// Sequential running is this pool with one CPU slot and one CPU: there is no other path.
class ResourcePool {
public:
  ResourcePool(std::vector<std::string> slot_names, std::vector<int> cpus, bool pinned, std::vector<int> gpus,
               int per_gpu);
  explicit ResourcePool(const PoolLayout& layout);

  // A lease when everything asked for is free now; nullopt otherwise.
  // `avoid`: GPUs not taken while another usable GPU exists (those a retried task failed on).
  std::optional<Lease> acquire(const ResourceRequest& request, const std::vector<int>& avoid = {});
  void release(const Lease& lease);

  // Whether the request could be met by the empty pool (otherwise it never can).
  bool can_ever_fit(const ResourceRequest& request) const;
  // The GPU leaves the pool (it failed its check or turned unhealthy): no new lease gets it; its
  // running tasks keep their leases. False when it was not in the pool or had left already.
  bool remove_gpu(int gpu);
  std::size_t usable_gpu_count() const;

  std::size_t slot_count() const { return m_slot_names.size(); }
  std::size_t free_slot_count() const;
  const std::string& slot_name(int slot) const { return m_slot_names.at(static_cast<size_t>(slot)); }
  bool is_gpu_slot(int slot) const { return static_cast<std::size_t>(slot) >= m_cpu_slots; }
  const std::vector<int>& cpus() const { return m_cpus; }
  const std::vector<int>& gpus() const { return m_gpus; }
  bool pinned() const { return m_pinned; }

private:
  std::optional<Lease> acquire_gpu_slot(const ResourceRequest& request, const std::vector<int>& avoid);
  std::vector<int> pick_gpus(int count, const std::vector<int>& avoid) const;  // positions in m_gpus

  std::vector<std::string> m_slot_names;  // the CPU slots', then the GPU slots'
  std::size_t m_cpu_slots = 0;
  std::vector<bool> m_slot_busy;
  std::vector<int> m_cpus;
  std::vector<bool> m_cpu_busy;
  bool m_pinned;
  std::vector<int> m_gpus;
  std::vector<int> m_gpu_load;
  std::vector<bool> m_gpu_whole;             // taken whole by a task with several GPUs
  std::vector<bool> m_gpu_removed;           // left the pool
  int m_per_gpu;
  std::vector<std::vector<int>> m_gpu_cpus;  // per GPU: the CPUs its tasks may use, nearest first
  std::vector<int> m_gpu_task_cpus;          // every CPU a GPU task may use
  std::vector<int> m_cpu_use;                // by position in m_gpu_task_cpus: GPU tasks on it now
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
  std::optional<int> max_concurrent;       // GPU tasks at once (seed 004's max_concurrent_runs)
  std::vector<std::vector<int>> gpu_cpus;  // per entry of `gpus`: its nearest CPUs (NVML); empty: unknown
  int max_task_cpus = 1;                   // the largest `cpus` of any task in the plan
  int max_task_gpus = 0;
  int max_gpu_task_cpus = 1;               // the largest `cpus` of a task with GPUs
  bool cpu_tasks = true;                   // some task has no GPU (it needs a CPU slot)
  // Where the config sets what an error may be about (empty: a command-line option or a default).
  SourceLocation cores_location;
  SourceLocation cpus_location;            // of the task with the largest `cpus`
  SourceLocation gpus_location;
};

// The pool a run will use, and the warnings to show once (e.g. unpinned oversubscription).
struct PoolLayout {
  std::vector<std::string> slot_names;      // the CPU slots' (none when every task has GPUs)
  std::vector<int> cpus;                    // the CPU slots' CPUs
  bool pinned = true;
  std::vector<int> gpus;
  int per_gpu = 1;
  std::vector<std::string> gpu_slot_names;  // "gpu0.1": GPU tasks' slots, apart from the CPU slots
  std::vector<std::vector<int>> gpu_cpus;   // per GPU: the CPUs its tasks may use, nearest first
  std::vector<int> gpu_task_cpus;           // every CPU a GPU task may use
  std::vector<std::string> warnings;

  // Every slot's name, the CPU slots first: what Lease::slot indexes.
  std::vector<std::string> all_slot_names() const;
  // Every CPU a task may run on (the CPU slots' and the GPU tasks').
  std::vector<int> all_cpus() const;
  ResourcePool make_pool() const { return ResourcePool(*this); }
};

// Decides slots and CPUs from the topology and the options; throws UserError when the request
// cannot be met (more slots than usable cores without oversubscription, a listed CPU this
// process may not use, a task needing more CPUs or GPUs than the pool has).
PoolLayout plan_pool(const Topology& topology, const ResourceOptions& options);

} // namespace bm
