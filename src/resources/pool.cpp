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
    : m_slot_names(std::move(slot_names)), m_cpu_slots(m_slot_names.size()), m_slot_busy(m_slot_names.size(), false),
      m_cpus(std::move(cpus)), m_cpu_busy(m_cpus.size(), false), m_pinned(pinned), m_gpus(std::move(gpus)),
      m_gpu_load(m_gpus.size(), 0), m_gpu_whole(m_gpus.size(), false), m_gpu_removed(m_gpus.size(), false), m_per_gpu(per_gpu) {
  BM_ASSERT(!m_slot_names.empty());
  BM_ASSERT(m_per_gpu >= 1);
}

ResourcePool::ResourcePool(const PoolLayout& layout)
    : m_slot_names(layout.all_slot_names()), m_cpu_slots(layout.slot_names.size()),
      m_slot_busy(m_slot_names.size(), false), m_cpus(layout.cpus), m_cpu_busy(m_cpus.size(), false),
      m_pinned(layout.pinned), m_gpus(layout.gpus), m_gpu_load(m_gpus.size(), 0), m_gpu_whole(m_gpus.size(), false), m_gpu_removed(m_gpus.size(), false),
      m_per_gpu(layout.per_gpu),
      m_gpu_cpus(layout.gpu_cpus), m_gpu_task_cpus(layout.gpu_task_cpus), m_cpu_use(m_gpu_task_cpus.size(), 0) {
  BM_ASSERT(!m_slot_names.empty());
  BM_ASSERT(m_per_gpu >= 1);
  BM_ASSERT(m_gpu_cpus.empty() || m_gpu_cpus.size() == m_gpus.size());
}

std::vector<std::string> PoolLayout::all_slot_names() const {
  std::vector<std::string> names = slot_names;
  names.insert(names.end(), gpu_slot_names.begin(), gpu_slot_names.end());
  return names;
}

std::vector<int> PoolLayout::all_cpus() const {
  std::vector<int> all = cpus;
  all.insert(all.end(), gpu_task_cpus.begin(), gpu_task_cpus.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

std::size_t ResourcePool::free_slot_count() const {
  return static_cast<size_t>(std::count(m_slot_busy.begin(), m_slot_busy.end(), false));
}

bool ResourcePool::can_ever_fit(const ResourceRequest& request) const {
  std::size_t usable = usable_gpu_count();
  if (request.gpus > 0 && m_slot_names.size() > m_cpu_slots) {
    return static_cast<size_t>(request.gpus) <= usable;  // its CPUs may be shared
  }
  if (m_pinned && static_cast<size_t>(request.cpus) > m_cpus.size()) {
    return false;
  }
  return static_cast<size_t>(request.gpus) <= usable;
}

bool ResourcePool::remove_gpu(int gpu) {
  auto it = std::find(m_gpus.begin(), m_gpus.end(), gpu);
  if (it == m_gpus.end() || m_gpu_removed[static_cast<size_t>(it - m_gpus.begin())]) {
    return false;
  }
  m_gpu_removed[static_cast<size_t>(it - m_gpus.begin())] = true;
  return true;
}

std::size_t ResourcePool::usable_gpu_count() const {
  return static_cast<size_t>(std::count(m_gpu_removed.begin(), m_gpu_removed.end(), false));
}

std::vector<int> ResourcePool::pick_gpus(int count, const std::vector<int>& avoid) const {
  // Least-loaded first (ties: lowest index): spreads tasks before doubling up. GPUs to avoid are
  // not taken while another usable GPU exists (a retry waits for one rather than fail again
  // where it failed), and taken last when every usable GPU is to be avoided.
  std::vector<int> order(m_gpus.size());
  std::iota(order.begin(), order.end(), 0);
  auto avoided = [&](int position) {
    return std::find(avoid.begin(), avoid.end(), m_gpus[static_cast<size_t>(position)]) != avoid.end();
  };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    if (avoided(a) != avoided(b)) {
      return avoided(b);
    }
    return m_gpu_load[static_cast<size_t>(a)] < m_gpu_load[static_cast<size_t>(b)];
  });
  bool only_avoided = true;
  for (std::size_t i = 0; i < m_gpus.size(); ++i) {
    only_avoided = only_avoided && (m_gpu_removed[i] || avoided(static_cast<int>(i)));
  }
  // One GPU is shared up to the depth; several are taken whole: idle ones, kept from others.
  std::vector<int> picked;
  for (int index : order) {
    auto i = static_cast<size_t>(index);
    bool room = m_gpu_removed[i] || (avoided(index) && !only_avoided) ? false
                : count > 1  ? m_gpu_load[i] == 0
                             : (m_gpu_load[i] < m_per_gpu && !m_gpu_whole[i]);
    if (static_cast<int>(picked.size()) < count && room) {
      picked.push_back(index);
    }
  }
  return picked;
}

std::optional<Lease> ResourcePool::acquire_gpu_slot(const ResourceRequest& request, const std::vector<int>& avoid) {
  auto slot = std::find(m_slot_busy.begin() + static_cast<long>(m_cpu_slots), m_slot_busy.end(), false);
  if (slot == m_slot_busy.end()) {
    return std::nullopt;
  }
  std::vector<int> gpus = pick_gpus(request.gpus, avoid);
  if (static_cast<int>(gpus.size()) < request.gpus) {
    return std::nullopt;
  }
  Lease lease;
  lease.slot = static_cast<int>(slot - m_slot_busy.begin());
  // CPUs: those nearest its GPUs first, the least used by other GPU tasks first; shared when there
  // are fewer than the tasks (a GPU task mostly waits on its GPU).
  std::vector<int> candidates;
  for (int gpu : gpus) {
    if (!m_gpu_cpus.empty()) {
      candidates.insert(candidates.end(), m_gpu_cpus[static_cast<size_t>(gpu)].begin(),
                        m_gpu_cpus[static_cast<size_t>(gpu)].end());
    }
  }
  if (candidates.empty()) {
    candidates = m_gpu_task_cpus;
  }
  std::vector<size_t> positions;
  for (int cpu : candidates) {
    auto at = std::find(m_gpu_task_cpus.begin(), m_gpu_task_cpus.end(), cpu);
    size_t position = static_cast<size_t>(at - m_gpu_task_cpus.begin());
    if (at != m_gpu_task_cpus.end() && std::find(positions.begin(), positions.end(), position) == positions.end()) {
      positions.push_back(position);
    }
  }
  std::stable_sort(positions.begin(), positions.end(), [&](size_t a, size_t b) { return m_cpu_use[a] < m_cpu_use[b]; });
  positions.resize(std::min(positions.size(), static_cast<size_t>(std::max(request.cpus, 1))));
  for (size_t position : positions) {
    ++m_cpu_use[position];
    lease.cpus.push_back(m_gpu_task_cpus[position]);
  }
  std::sort(lease.cpus.begin(), lease.cpus.end());
  *slot = true;
  for (int index : gpus) {
    ++m_gpu_load[static_cast<size_t>(index)];
    m_gpu_whole[static_cast<size_t>(index)] = gpus.size() > 1;
    lease.gpus.push_back(m_gpus[static_cast<size_t>(index)]);
  }
  std::sort(lease.gpus.begin(), lease.gpus.end());
  return lease;
}

std::optional<Lease> ResourcePool::acquire(const ResourceRequest& request, const std::vector<int>& avoid) {
  if (request.gpus > 0 && m_slot_names.size() > m_cpu_slots) {
    return acquire_gpu_slot(request, avoid);
  }
  auto cpu_slots_end = m_slot_busy.begin() + static_cast<long>(m_cpu_slots);
  auto slot = std::find(m_slot_busy.begin(), cpu_slots_end, false);
  if (slot == cpu_slots_end) {
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
    lease.gpus = pick_gpus(request.gpus, avoid);
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
    m_gpu_whole[static_cast<size_t>(index)] = lease.gpus.size() > 1;
    index = m_gpus[static_cast<size_t>(index)];
  }
  std::sort(lease.gpus.begin(), lease.gpus.end());
  return lease;
}

void ResourcePool::release(const Lease& lease) {
  BM_ASSERT(lease.slot >= 0 && static_cast<size_t>(lease.slot) < m_slot_busy.size());
  BM_ASSERT(m_slot_busy[static_cast<size_t>(lease.slot)]);
  m_slot_busy[static_cast<size_t>(lease.slot)] = false;
  for (int gpu : lease.gpus) {
    auto it = std::find(m_gpus.begin(), m_gpus.end(), gpu);
    BM_ASSERT(it != m_gpus.end());
    --m_gpu_load[static_cast<size_t>(it - m_gpus.begin())];
    m_gpu_whole[static_cast<size_t>(it - m_gpus.begin())] = false;
  }
  if (is_gpu_slot(lease.slot)) {
    for (int cpu : lease.cpus) {
      auto it = std::find(m_gpu_task_cpus.begin(), m_gpu_task_cpus.end(), cpu);
      BM_ASSERT(it != m_gpu_task_cpus.end());
      --m_cpu_use[static_cast<size_t>(it - m_gpu_task_cpus.begin())];
    }
    return;
  }
  for (int cpu : lease.cpus) {
    auto it = std::find(m_cpus.begin(), m_cpus.end(), cpu);
    BM_ASSERT(it != m_cpus.end());
    m_cpu_busy[static_cast<size_t>(it - m_cpus.begin())] = false;
  }
}

PoolLayout plan_pool(const Topology& topology, const ResourceOptions& options) {
  PoolLayout layout;
  layout.gpus = options.gpus;
  layout.per_gpu = options.per_gpu;
  const int task_cpus = std::max(1, options.max_task_cpus);
  if (options.max_task_gpus > 0 && static_cast<size_t>(options.max_task_gpus) > layout.gpus.size()) {
    throw located(options.gpus_location, fmt::format("a task asks for {} GPU{}, but {} listed; list them with --gpus or "
                                "resources.gpus",
                                options.max_task_gpus, options.max_task_gpus == 1 ? "" : "s",
                                layout.gpus.empty() ? "none is" : std::to_string(layout.gpus.size()) + " are"));
  }

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

  // GPU tasks take GPU slots: as many as the GPUs times their depth, or the configured concurrency
  // spread over them. Their CPUs come from the usable ones, nearest their GPU first, shared.
  bool gpu_slots = options.max_task_gpus > 0 && !options.gpus.empty();
  if (gpu_slots) {
    int count = static_cast<int>(options.gpus.size()) * options.per_gpu;
    if (options.max_concurrent) {
      count = *options.max_concurrent;
      layout.per_gpu = (count + static_cast<int>(options.gpus.size()) - 1) / static_cast<int>(options.gpus.size());
    }
    for (int i = 0; i < count; ++i) {
      layout.gpu_slot_names.push_back(fmt::format("gpu-{}", i));
    }
    layout.gpu_task_cpus = available;
    if (static_cast<size_t>(std::max(1, options.max_gpu_task_cpus)) > available.size()) {
      throw located(options.cpus_location, fmt::format("a task with GPUs asks for {} CPUs, but only {} {} usable ({})",
                                                       options.max_gpu_task_cpus, available.size(),
                                                       available.size() == 1 ? "is" : "are", format_cpu_list(available)));
    }
    for (std::size_t g = 0; g < options.gpus.size(); ++g) {
      std::vector<int> near;
      if (g < options.gpu_cpus.size()) {
        for (int cpu : options.gpu_cpus[g]) {
          if (std::find(available.begin(), available.end(), cpu) != available.end()) {
            near.push_back(cpu);
          }
        }
      }
      layout.gpu_cpus.push_back(near);  // empty: any usable CPU
    }
    if (!options.cpu_tasks) {
      // Every task has GPUs: no CPU slot is needed.
      if (options.jobs || options.parallel) {
        layout.warnings.push_back(fmt::format("--jobs and --parallel set the slots of tasks without GPUs; every task "
                                              "here has GPUs and runs in one of {} GPU slots",
                                              count));
      }
      return layout;
    }
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
