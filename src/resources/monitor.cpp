#include "resources/monitor.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <set>
#include <unistd.h>

#include <fmt/format.h>

#include "util/directory.hpp"
#include "util/process_table.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

std::optional<std::string> read_small(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return std::nullopt;
  }
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof buffer)) > 0 && text.size() < (1U << 20);) {
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

std::optional<double> number_after(const std::string& text, std::string_view key) {
  for (const auto& line : split(text, '\n')) {
    if (line.starts_with(key)) {
      return std::strtod(line.c_str() + key.size(), nullptr);
    }
  }
  return std::nullopt;
}

using TreeUsage = Monitor::Usage;

void add_cgroup_usage(const std::vector<std::string>& dirs, TreeUsage& usage) {
  for (const auto& dir : dirs) {
    if (!usage.cpu_seconds) {
      if (auto stat = read_small(dir + "/cpu.stat")) {
        if (auto micros = number_after(*stat, "usage_usec ")) {
          usage.cpu_seconds = *micros / 1e6;
        }
      } else if (auto nanos = read_small(dir + "/cpuacct.usage")) {
        usage.cpu_seconds = std::strtod(nanos->c_str(), nullptr) / 1e9;
      }
    }
    if (!usage.memory_bytes) {
      if (auto current = read_small(dir + "/memory.current")) {
        usage.memory_bytes = std::strtod(current->c_str(), nullptr);
      } else if (auto v1 = read_small(dir + "/memory.usage_in_bytes")) {
        usage.memory_bytes = std::strtod(v1->c_str(), nullptr);
      }
    }
    if (usage.pids.empty()) {
      if (auto procs = read_small(dir + "/cgroup.procs")) {
        for (const auto& line : split(*procs, '\n')) {
          if (int pid = std::atoi(line.c_str()); pid > 0) {
            usage.pids.push_back(pid);
          }
        }
      }
    }
  }
}

// Every live process of the given process groups, from one pass over /proc.
std::map<int, TreeUsage> group_usage(const std::set<int>& groups) {
  std::map<int, TreeUsage> usage;
  if (groups.empty()) {
    return usage;
  }
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  static const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  for (int pid : process_ids()) {
    auto stat = read_process_stat(pid);
    if (!stat || groups.count(stat->group) == 0) {
      continue;
    }
    TreeUsage& tree = usage[stat->group];
    tree.cpu_seconds = tree.cpu_seconds.value_or(0) + static_cast<double>(stat->cpu_ticks) / ticks;
    tree.memory_bytes = tree.memory_bytes.value_or(0) + static_cast<double>(stat->rss_pages) * page;
    tree.pids.push_back(pid);
  }
  return usage;
}

double unix_now() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

constexpr double k_mib = 1024.0 * 1024.0;

void add_gpu_values(std::vector<std::optional<double>>& row, const GpuSample* sample) {
  auto value = [&](auto field) -> std::optional<double> {
    if (sample == nullptr || !field) {
      return std::nullopt;
    }
    return static_cast<double>(*field);
  };
  row.push_back(sample ? value(sample->utilization) : std::nullopt);
  row.push_back(sample && sample->memory_used ? std::optional<double>(static_cast<double>(*sample->memory_used) / k_mib)
                                               : std::nullopt);
  row.push_back(sample && sample->power_mw ? std::optional<double>(*sample->power_mw / 1000.0) : std::nullopt);
  row.push_back(sample ? value(sample->temperature) : std::nullopt);
  row.push_back(sample ? value(sample->sm_clock_mhz) : std::nullopt);
}

std::vector<std::string> gpu_series(int gpu) {
  return {fmt::format("gpu{}_utilization", gpu), fmt::format("gpu{}_memory_mib", gpu), fmt::format("gpu{}_power_w", gpu),
          fmt::format("gpu{}_temperature_c", gpu), fmt::format("gpu{}_sm_clock_mhz", gpu)};
}

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // a full disk loses monitor rows, never a run
    }
    done += static_cast<std::size_t>(n);
  }
}

} // namespace

nlohmann::json monitor_summary(const std::vector<std::string>& series, const std::vector<SeriesSummary>& values) {
  nlohmann::json summary = nlohmann::json::object();
  for (std::size_t i = 0; i < series.size() && i < values.size(); ++i) {
    if (values[i].count == 0) {
      continue;
    }
    summary[series[i]] = {{"mean", values[i].sum / static_cast<double>(values[i].count)}, {"max", values[i].max}};
  }
  return summary;
}

Monitor::Monitor(MonitorSettings settings, std::shared_ptr<Nvml> nvml, std::vector<int> gpus, UniqueFd system_csv)
    : m_settings(settings), m_nvml(std::move(nvml)), m_gpus(std::move(gpus)), m_system_csv(std::move(system_csv)) {
  if (!m_nvml) {
    m_gpus.clear();
  }
  if (!m_settings.enabled) {
    // Nothing recorded; the GPUs' health is still watched, once a second.
    m_system_csv.reset();
    if (m_gpus.empty()) {
      return;
    }
    m_settings.interval = std::chrono::seconds(1);
  }
  for (int gpu : m_gpus) {
    if (auto ecc = m_nvml->uncorrectable_ecc(gpu)) {
      m_ecc_baseline[gpu] = *ecc;
    }
  }
  if (m_nvml && !m_gpus.empty()) {
    m_nvml->watch_xids(m_gpus);
  }
  if (m_system_csv) {
    std::string header = "time,cpu_percent,memory_used_mib";
    for (int gpu : m_gpus) {
      header += "," + join(gpu_series(gpu), ",");
    }
    write_all(m_system_csv.get(), header + "\n");
  }
  m_thread = std::thread([this] { loop(); });
}

Monitor::~Monitor() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void Monitor::begin_task(std::uint64_t key, const std::vector<int>& gpus, int base, std::string path) {
  if (!m_settings.enabled) {
    return;
  }
  Task task;
  task.base = base;
  task.path = std::move(path);
  task.flushed = std::chrono::steady_clock::now();
  task.series = {"cpu_percent", "memory_mib"};
  for (int gpu : gpus) {
    if (m_nvml) {
      task.gpus.push_back(gpu);
      std::vector<std::string> names = gpu_series(gpu);
      task.series.insert(task.series.end(), names.begin(), names.end());
    }
  }
  {
    std::lock_guard lock(m_mutex);
    task.process_memory = m_nvml && !task.gpus.empty() && m_process_lists;
  }
  if (task.process_memory) {
    task.series.push_back("gpu_task_memory_mib");
  }
  task.summary.resize(task.series.size());
  task.pending = "time," + join(task.series, ",") + "\n";
  std::lock_guard lock(m_mutex);
  m_tasks[key] = std::move(task);
}

void Monitor::process_started(std::uint64_t key, int pid, const std::vector<std::string>& cgroups) {
  std::lock_guard lock(m_mutex);
  auto found = m_tasks.find(key);
  if (found == m_tasks.end()) {
    return;
  }
  found->second.pid = pid;
  found->second.cgroups = cgroups;
  found->second.cpu_seconds = 0.0;  // a new process (and cgroup) starts from nothing
  found->second.cpu_at = std::chrono::steady_clock::now();
}

void Monitor::process_ended(std::uint64_t key) {
  std::lock_guard lock(m_mutex);
  auto found = m_tasks.find(key);
  if (found != m_tasks.end()) {
    found->second.pid = 0;
    found->second.cgroups.clear();
    found->second.cpu_seconds.reset();
  }
}

void Monitor::stop_task(std::uint64_t key) {
  std::lock_guard lock(m_mutex);
  auto found = m_tasks.find(key);
  if (found != m_tasks.end()) {
    found->second.stopped = true;
  }
}

nlohmann::json Monitor::end_task(std::uint64_t key) {
  std::lock_guard writing(m_write_mutex);
  std::unique_lock lock(m_mutex);
  auto found = m_tasks.find(key);
  if (found == m_tasks.end()) {
    return nullptr;
  }
  Task task = std::move(found->second);
  m_tasks.erase(found);
  lock.unlock();
  write_flush(take_flush(task));
  std::size_t samples = task.summary.empty() ? 0 : task.summary.front().count;
  for (const auto& series : task.summary) {
    samples = std::max(samples, series.count);
  }
  return {{"interval_ms", m_settings.interval.count()}, {"samples", samples}, {"series", monitor_summary(task.series, task.summary)}};
}

std::optional<GpuSample> Monitor::gpu(int index) {
  {
    std::lock_guard lock(m_mutex);
    auto found = m_latest.find(index);
    if (found != m_latest.end() && m_settings.enabled) {
      return found->second;
    }
  }
  if (!m_nvml) {
    return std::nullopt;
  }
  GpuSample sample = m_nvml->sample(index);
  std::lock_guard lock(m_mutex);
  m_latest[index] = sample;
  return sample;
}

GpuCounters Monitor::counters(int index) const {
  return m_nvml ? m_nvml->counters(index) : GpuCounters{};
}

std::vector<std::pair<int, std::string>> Monitor::take_unhealthy() {
  std::lock_guard lock(m_mutex);
  return std::exchange(m_new_unhealthy, {});
}

void Monitor::mark_unhealthy(int gpu, const std::string& why) {
  if (m_unhealthy.emplace(gpu, why).second) {
    m_new_unhealthy.emplace_back(gpu, why);
  }
}

void Monitor::loop() {
  std::unique_lock lock(m_mutex);
  while (!m_stop) {
    m_wake.wait_for(lock, m_settings.interval, [this] { return m_stop; });
    if (m_stop) {
      break;
    }
    lock.unlock();
    sample();
    lock.lock();
  }
}

void Monitor::sample() {
  // The slow part (NVML, /proc, cgroup files, writing rows) runs without the lock: the run loop's
  // calls (a start, an end) never wait for a GPU query.
  struct Target {
    std::uint64_t key;
    int pid;
    std::vector<std::string> cgroups;
  };
  std::vector<Target> targets;
  bool want_processes = false;
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [key, task] : m_tasks) {
      if (!task.stopped) {
        targets.push_back({key, task.pid, task.cgroups});
        want_processes = want_processes || task.process_memory;
      }
    }
  }
  auto now = std::chrono::steady_clock::now();
  double time = unix_now();
  std::map<int, GpuSample> gpus;
  std::map<int, std::vector<GpuProcess>> processes;
  std::vector<std::pair<int, std::string>> unhealthy;
  if (m_nvml) {
    for (const auto& [gpu, xid] : m_nvml->take_xids()) {
      if (auto fault = gpu_fault_of_xid(xid)) {
        unhealthy.emplace_back(gpu, *fault);
      }
    }
  }
  for (int gpu : m_gpus) {
    GpuSample sample = m_nvml->sample(gpu);
    auto baseline = m_ecc_baseline.find(gpu);
    if (baseline != m_ecc_baseline.end()) {
      auto ecc = m_nvml->uncorrectable_ecc(gpu);
      if (ecc && *ecc > baseline->second) {
        unhealthy.emplace_back(gpu, fmt::format("{} uncorrectable ECC error{} during the run", *ecc - baseline->second,
                                                *ecc - baseline->second == 1 ? "" : "s"));
      }
    }
    if (!sample.healthy_now()) {
      unhealthy.emplace_back(gpu, sample.health);
    } else if (want_processes && m_process_lists) {
      auto list = m_nvml->processes(gpu);
      if (list) {
        processes[gpu] = std::move(*list);
      } else {
        m_process_lists = false;
      }
    }
    gpus.emplace(gpu, std::move(sample));
  }
  // Each task's usage: its cgroup's accounting, else (no cgroup, or a controller missing) its
  // process group's, from one pass over /proc for all of them.
  std::map<std::uint64_t, TreeUsage> usage;
  std::set<int> groups;
  for (const Target& target : targets) {
    if (target.pid > 0) {
      TreeUsage& tree = usage[target.key];
      add_cgroup_usage(target.cgroups, tree);
      if (!tree.cpu_seconds || !tree.memory_bytes || tree.pids.empty()) {
        groups.insert(target.pid);
      }
    }
  }
  std::map<int, TreeUsage> by_group = group_usage(groups);
  for (const Target& target : targets) {
    auto group = by_group.find(target.pid);
    if (target.pid > 0 && group != by_group.end()) {
      TreeUsage& tree = usage[target.key];
      tree.cpu_seconds = tree.cpu_seconds ? tree.cpu_seconds : group->second.cpu_seconds;
      tree.memory_bytes = tree.memory_bytes ? tree.memory_bytes : group->second.memory_bytes;
      if (tree.pids.empty()) {
        tree.pids = group->second.pids;
      }
    }
  }
  std::vector<Flush> flushes;
  std::lock_guard writing(m_write_mutex);
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [gpu, why] : unhealthy) {
      mark_unhealthy(gpu, why);
    }
    for (const auto& [gpu, sample] : gpus) {
      m_latest[gpu] = sample;
    }
    for (const Target& target : targets) {
      auto found = m_tasks.find(target.key);
      if (found == m_tasks.end() || found->second.stopped) {
        continue;
      }
      Task& task = found->second;
      // A process that changed meanwhile is measured from the next sample on.
      Usage measured = task.pid == target.pid ? std::move(usage[target.key]) : Usage{};
      std::vector<std::optional<double>> row = task_row(task, std::move(measured), gpus, processes, now);
      for (std::size_t i = 0; i < row.size() && i < task.summary.size(); ++i) {
        if (row[i]) {
          SeriesSummary& summary = task.summary[i];
          summary.max = summary.count == 0 ? *row[i] : std::max(summary.max, *row[i]);
          summary.sum += *row[i];
          ++summary.count;
        }
      }
      task.pending += format_row(time, row);
      if (task.pending.size() > 16384 || now - task.flushed > std::chrono::seconds(1)) {
        flushes.push_back(take_flush(task));
      }
    }
  }
  for (const Flush& flush : flushes) {
    write_flush(flush);
  }
  if (m_system_csv) {
    system_row(gpus, time);
  }
}

std::vector<std::optional<double>> Monitor::task_row(Task& task, Usage usage, const std::map<int, GpuSample>& gpus,
                                                     const std::map<int, std::vector<GpuProcess>>& processes,
                                                     std::chrono::steady_clock::time_point now) {
  std::vector<std::optional<double>> row;
  std::optional<double> cpu_percent;
  if (usage.cpu_seconds && task.cpu_seconds) {
    double elapsed = std::chrono::duration<double>(now - task.cpu_at).count();
    if (elapsed > 0) {
      cpu_percent = std::max(0.0, (*usage.cpu_seconds - *task.cpu_seconds) / elapsed * 100.0);
    }
  }
  if (usage.cpu_seconds) {
    task.cpu_seconds = usage.cpu_seconds;
    task.cpu_at = now;
  }
  row.push_back(cpu_percent);
  row.push_back(usage.memory_bytes ? std::optional<double>(*usage.memory_bytes / k_mib) : std::nullopt);
  double task_gpu_memory = 0;
  bool listed = false;
  for (int gpu : task.gpus) {
    auto sample = gpus.find(gpu);
    add_gpu_values(row, sample == gpus.end() || !sample->second.healthy_now() ? nullptr : &sample->second);
    auto list = processes.find(gpu);
    if (list != processes.end()) {
      listed = true;
      for (const auto& process : list->second) {
        if (std::find(usage.pids.begin(), usage.pids.end(), process.pid) != usage.pids.end()) {
          task_gpu_memory += static_cast<double>(process.memory_used);
        }
      }
    }
  }
  if (task.process_memory) {
    row.push_back(listed && task.pid > 0 ? std::optional<double>(task_gpu_memory / k_mib) : std::nullopt);
  }
  return row;
}

std::string Monitor::format_row(double time, const std::vector<std::optional<double>>& values) {
  std::string line = fmt::format("{:.3f}", time);
  for (const auto& value : values) {
    line += value ? fmt::format(",{:.6g}", *value) : std::string(",");
  }
  line += '\n';
  return line;
}

Monitor::Flush Monitor::take_flush(Task& task) {
  task.flushed = std::chrono::steady_clock::now();
  Flush flush{task.base, task.path, std::exchange(task.pending, {}), !task.created};
  task.created = true;
  return flush;
}

void Monitor::write_flush(const Flush& flush) {
  if (flush.path.empty() || flush.text.empty()) {
    return;
  }
  // Resolved below the results' directory without following a link, every time: rows for a
  // folder the task removed or moved are dropped, never written where it points.
  UniqueFd fd = open_log(flush.base, flush.path, O_WRONLY | O_CREAT | (flush.first ? O_TRUNC : O_APPEND));
  if (fd) {
    write_all(fd.get(), flush.text);
  }
}

void Monitor::system_row(const std::map<int, GpuSample>& gpus, double time) {
  std::vector<std::optional<double>> row;
  std::optional<double> cpu_percent;
  if (auto stat = read_small("/proc/stat")) {
    std::vector<std::string> fields = split(split(*stat, '\n').front(), ' ');
    std::uint64_t total = 0;
    std::uint64_t idle = 0;
    std::size_t column = 0;
    for (const auto& field : fields) {
      if (field.empty() || field == "cpu") {
        continue;
      }
      std::uint64_t value = std::strtoull(field.c_str(), nullptr, 10);
      if (column < 8) {  // user nice system idle iowait irq softirq steal (guest is in user)
        total += value;
        idle += (column == 3 || column == 4) ? value : 0;
      }
      ++column;
    }
    if (m_system_cpu && total > m_system_cpu->second) {
      double busy = static_cast<double>((total - idle) - m_system_cpu->first);
      cpu_percent = std::max(0.0, busy / static_cast<double>(total - m_system_cpu->second) * 100.0);
    }
    m_system_cpu = std::make_pair(total - idle, total);
  }
  row.push_back(cpu_percent);
  std::optional<double> memory;
  if (auto meminfo = read_small("/proc/meminfo")) {
    auto total = number_after(*meminfo, "MemTotal:");
    auto available = number_after(*meminfo, "MemAvailable:");
    if (total && available) {
      memory = (*total - *available) / 1024.0;  // KiB -> MiB
    }
  }
  row.push_back(memory);
  for (int gpu : m_gpus) {
    auto sample = gpus.find(gpu);
    add_gpu_values(row, sample == gpus.end() || !sample->second.healthy_now() ? nullptr : &sample->second);
  }
  write_all(m_system_csv.get(), format_row(time, row));
}

} // namespace bm
