#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "resources/nvml.hpp"
#include "util/fs.hpp"

namespace bm {

struct MonitorSettings {
  bool enabled = true;
  std::chrono::milliseconds interval{100};
};

// The mean and the largest value of each series of one task's samples.
struct SeriesSummary {
  double sum = 0;
  double max = 0;
  std::size_t count = 0;
};

// One sampler thread for the whole run. For every task running it records, each interval, the
// CPU use and memory of the task's current process (its cgroup when it has one, else its process
// group read from /proc) and, for the task's GPUs, utilization, memory used, power, temperature,
// SM clock and the GPU memory of the task's own processes (where NVML can list them), as one row
// of the task's monitor.csv; the machine's totals go to the run's system_metrics.csv. It also
// keeps each GPU's latest reading for the thermal gate and notes GPUs that turned unhealthy.
// The runner feeds it starts and ends; it never decides anything and never prints.
class Monitor {
  // (A GPU turns unhealthy when NVML says so for a reading, when an Xid error that means the GPU
  // is failing arrives, or when its uncorrectable ECC error count grows during the run.)
public:
  // `nvml` may be null (no GPU readings); `gpus`: the GPUs of the run; `system_csv`: where the
  // machine's rows go (header written here), or empty for none.
  Monitor(MonitorSettings settings, std::shared_ptr<Nvml> nvml, std::vector<int> gpus, UniqueFd system_csv);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  bool enabled() const { return m_settings.enabled; }

  // What one task's processes use now: CPU time so far, resident memory, and their pids.
  struct Usage {
    std::optional<double> cpu_seconds;
    std::optional<double> memory_bytes;
    std::vector<int> pids;
  };

  // A task's attempt starts: its rows go to `path` below the directory open at `base` (empty: kept
  // for the summary only). The file is opened anew, without following links, for each batch of
  // rows (about once a second): no descriptor is held, and a folder the task moved away gets none.
  void begin_task(std::uint64_t key, const std::vector<int>& gpus, int base, std::string path);
  // One of its processes started (pid = its process group) or ended.
  void process_started(std::uint64_t key, int pid, const std::vector<std::string>& cgroups);
  void process_ended(std::uint64_t key);
  // The attempt's last process ended: it is sampled no more (cheap, no I/O: called in the hand-off).
  void stop_task(std::uint64_t key);
  // Its rows are written out and its summary returned: each series' mean, max and sample count.
  nlohmann::json end_task(std::uint64_t key);

  // The latest reading of a GPU (read now when the sampler has none yet).
  std::optional<GpuSample> gpu(int index);
  // The GPU's cumulative counters, read now.
  GpuCounters counters(int index) const;
  // GPUs whose health turned bad since the last call, with what is wrong.
  std::vector<std::pair<int, std::string>> take_unhealthy();

private:
  struct Task {
    std::vector<int> gpus;
    int base = -1;
    std::string path;
    std::string pending;                          // rows not yet written
    bool created = false;
    std::chrono::steady_clock::time_point flushed;
    int pid = 0;
    std::vector<std::string> cgroups;
    std::optional<double> cpu_seconds;            // of the current process at the last sample
    std::chrono::steady_clock::time_point cpu_at;
    std::vector<std::string> series;              // the columns after time
    std::vector<SeriesSummary> summary;
    bool process_memory = false;                  // GPU process memory columns present
    bool stopped = false;                         // over: no more rows
  };

  struct Flush {
    int base = -1;
    std::string path;
    std::string text;
    bool first = false;  // the file is made anew (the header is in `text`)
  };

  void loop();
  void sample();
  std::vector<std::optional<double>> task_row(Task& task, Usage usage, const std::map<int, GpuSample>& gpus,
                                              const std::map<int, std::vector<GpuProcess>>& processes,
                                              std::chrono::steady_clock::time_point now);
  static std::string format_row(double time, const std::vector<std::optional<double>>& values);
  static Flush take_flush(Task& task);
  static void write_flush(const Flush& flush);
  void system_row(const std::map<int, GpuSample>& gpus, double time);

  MonitorSettings m_settings;
  std::shared_ptr<Nvml> m_nvml;
  std::vector<int> m_gpus;
  UniqueFd m_system_csv;
  std::mutex m_mutex;
  std::mutex m_write_mutex;  // taking a task's rows and writing them is one step (rows stay in order)
  std::condition_variable m_wake;
  bool m_stop = false;
  std::map<std::uint64_t, Task> m_tasks;
  std::map<int, GpuSample> m_latest;
  std::map<int, std::string> m_unhealthy;         // reported or not yet
  std::vector<std::pair<int, std::string>> m_new_unhealthy;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> m_system_cpu;  // busy, total jiffies
  std::atomic<bool> m_process_lists{true};        // false once NVML could not list processes
  std::map<int, std::uint64_t> m_ecc_baseline;    // uncorrectable ECC errors when the run began
  void mark_unhealthy(int gpu, const std::string& why);
  std::thread m_thread;
};

// The monitor's summary of a task's series, for result.json: {"series": {"mean": .., "max": ..}}.
nlohmann::json monitor_summary(const std::vector<std::string>& series, const std::vector<SeriesSummary>& values);

} // namespace bm
