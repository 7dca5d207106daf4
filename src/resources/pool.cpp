#include "resources/pool.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "util/error.hpp"

namespace bm {

namespace {

// An error about something the config sets names where it does; one about a command-line option
// or a default names nothing.
UserError located(const SourceLocation& where, const std::string& message) {
  return where.file.empty() ? UserError(message) : UserError(where, message);
}

} // namespace


ResourcePool::ResourcePool(std::vector<std::string> slot_names, std::vector<int> cpus, bool pinned,
                           std::vector<int> gpus, int per_gpu)
    : m_slot_names(std::move(slot_names)), m_slot_busy(m_slot_names.size(), false), m_cpus(std::move(cpus)),
      m_cpu_busy(m_cpus.size(), false), m_pinned(pinned), m_gpus(std::move(gpus)), m_gpu_load(m_gpus.size(), 0),
      m_per_gpu(per_gpu) {
  BM_ASSERT(!m_slot_names.empty());
  BM_ASSERT(m_per_gpu >= 1);
}

std::size_t ResourcePool::free_slot_count() const {
  return static_cast<size_t>(std::count(m_slot_busy.begin(), m_slot_busy.end(), false));
}

bool ResourcePool::can_ever_fit(const ResourceRequest& request) const {
  if (m_pinned && static_cast<size_t>(request.cpus) > m_cpus.size()) {
    return false;
  }
  return static_cast<size_t>(request.gpus) <= m_gpus.size();
}

std::optional<Lease> ResourcePool::acquire(const ResourceRequest& request) {
  auto slot = std::find(m_slot_busy.begin(), m_slot_busy.end(), false);
  if (slot == m_slot_busy.end()) {
    return std::nullopt;
  }
  Lease lease;
  lease.slot = static_cast<int>(slot - m_slot_busy.begin());
  if (m_pinned) {
    // Lowest free CPUs first, so a run's placement is predictable from the order of events.
    for (size_t i = 0; i < m_cpus.size() && lease.cpus.size() < static_cast<size_t>(request.cpus); ++i) {
      if (!m_cpu_busy[i]) {
        lease.cpus.push_back(static_cast<int>(i));
      }
    }
    if (lease.cpus.size() < static_cast<size_t>(request.cpus)) {
      return std::nullopt;
    }
  }
  if (request.gpus > 0) {
    // Least-loaded GPUs first (ties: lowest index): spreads tasks before doubling up.
    std::vector<size_t> order(m_gpus.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return m_gpu_load[a] < m_gpu_load[b]; });
    for (size_t index : order) {
      if (lease.gpus.size() < static_cast<size_t>(request.gpus) && m_gpu_load[index] < m_per_gpu) {
        lease.gpus.push_back(static_cast<int>(index));
      }
    }
    if (lease.gpus.size() < static_cast<size_t>(request.gpus)) {
      return std::nullopt;
    }
  }
  *slot = true;
  for (int& index : lease.cpus) {
    m_cpu_busy[static_cast<size_t>(index)] = true;
    index = m_cpus[static_cast<size_t>(index)];
  }
  for (int& index : lease.gpus) {
    ++m_gpu_load[static_cast<size_t>(index)];
    index = m_gpus[static_cast<size_t>(index)];
  }
  std::sort(lease.gpus.begin(), lease.gpus.end());
  return lease;
}

void ResourcePool::release(const Lease& lease) {
  BM_ASSERT(lease.slot >= 0 && static_cast<size_t>(lease.slot) < m_slot_busy.size());
  BM_ASSERT(m_slot_busy[static_cast<size_t>(lease.slot)]);
  m_slot_busy[static_cast<size_t>(lease.slot)] = false;
  for (int cpu : lease.cpus) {
    auto it = std::find(m_cpus.begin(), m_cpus.end(), cpu);
    BM_ASSERT(it != m_cpus.end());
    m_cpu_busy[static_cast<size_t>(it - m_cpus.begin())] = false;
  }
  for (int gpu : lease.gpus) {
    auto it = std::find(m_gpus.begin(), m_gpus.end(), gpu);
    BM_ASSERT(it != m_gpus.end());
    --m_gpu_load[static_cast<size_t>(it - m_gpus.begin())];
  }
}

PoolLayout plan_pool(const Topology& topology, const ResourceOptions& options) {
  PoolLayout layout;
  layout.gpus = options.gpus;
  layout.per_gpu = options.per_gpu;
  const int task_cpus = std::max(1, options.max_task_cpus);

  std::vector<int> allowed;
  for (const auto& core : topology.cores) {
    allowed.insert(allowed.end(), core.cpus.begin(), core.cpus.end());
  }
  std::sort(allowed.begin(), allowed.end());

  std::vector<int> available;
  if (options.cores) {
    for (int cpu : *options.cores) {
      if (!std::binary_search(allowed.begin(), allowed.end(), cpu)) {
        throw located(options.cores_location, fmt::format("CPU {} is not available to this process (it may use {})",
                                                          cpu, format_cpu_list(allowed)));
      }
    }
    available = *options.cores;
  } else {
    available = topology.usable_cpus(options.reserve_core0);
  }
  if (available.empty()) {
    throw UserError(fmt::format("no usable CPU: this process may use {}{}; list CPUs with --cores (e.g. --cores 0)",
                                format_cpu_list(allowed),
                                options.reserve_core0 ? " and core 0 is reserved for the system" : ""));
  }

  int jobs = 1;
  if (!options.slot_names.empty()) {
    jobs = static_cast<int>(options.slot_names.size());
    if (options.jobs && *options.jobs != jobs) {
      throw UserError(fmt::format("--jobs {} conflicts with the config's `parallel`, which names {} slots",
                                  *options.jobs, jobs));
    }
  } else if (options.jobs) {
    jobs = *options.jobs;
  } else if (options.parallel || options.cores) {
    // --parallel uses every usable core; listing cores with --cores means using them all.
    jobs = std::max(1, static_cast<int>(available.size()) / task_cpus);
  }

  const size_t needed = static_cast<size_t>(jobs) * static_cast<size_t>(task_cpus);
  if (needed > available.size()) {
    if (!options.oversubscribe) {
      throw located(task_cpus > 1 ? options.cpus_location : SourceLocation{}, fmt::format(
          "{} slot{} of {} CPU{} need {} cores, but only {} {} usable ({}); use --jobs {}, list more with --cores, "
          "or pass --oversubscribe to run unpinned (timings are then not comparable)",
          jobs, jobs == 1 ? "" : "s", task_cpus, task_cpus == 1 ? "" : "s", needed, available.size(),
          available.size() == 1 ? "is" : "are", format_cpu_list(available),
          std::max<size_t>(1, available.size() / static_cast<size_t>(task_cpus))));
    }
    layout.pinned = false;
    layout.cpus = available;
    layout.warnings.push_back(fmt::format(
        "oversubscribed: {} slots share {} CPU{} ({}) unpinned; timings are not comparable, use this for "
        "throughput-only work",
        jobs, available.size(), available.size() == 1 ? "" : "s", format_cpu_list(available)));
  } else {
    layout.cpus.assign(available.begin(), available.begin() + static_cast<long>(needed));
  }

  if (options.max_task_gpus > 0 && static_cast<size_t>(options.max_task_gpus) > layout.gpus.size()) {
    throw located(options.gpus_location, fmt::format("a task asks for {} GPU{}, but {} listed; list them with --gpus or "
                                "resources.gpus",
                                options.max_task_gpus, options.max_task_gpus == 1 ? "" : "s",
                                layout.gpus.empty() ? "none is" : std::to_string(layout.gpus.size()) + " are"));
  }

  if (!options.slot_names.empty()) {
    layout.slot_names = options.slot_names;
  } else {
    for (int i = 0; i < jobs; ++i) {
      layout.slot_names.push_back(std::to_string(i));
    }
  }
  return layout;
}

} // namespace bm
