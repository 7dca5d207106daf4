#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bm {

// One GPU as NVML shows it. Values a driver does not support are absent, never an error.
struct GpuInfo {
  int index = 0;                       // NVML's index (the PCI bus order)
  std::string uuid;
  std::string name;
  std::string bus_id;                  // "00000000:19:00.0"; empty when unsupported
  std::uint64_t memory_total = 0;      // bytes
  std::uint64_t memory_used = 0;
  std::vector<int> cpus;               // the CPUs nearest to it (its NVML CPU affinity); empty: unknown
  std::optional<unsigned> temperature; // degrees Celsius
  std::optional<unsigned> power_mw;
  std::optional<unsigned> utilization;  // percent of time a kernel ran
  std::string health;                  // "ok", or what is wrong (lost, remapped rows pending, ...)

  bool healthy() const { return health == "ok"; }
};

// One reading of a GPU while tasks run (the monitor's). Absent values are unsupported or failed.
struct GpuSample {
  int index = 0;
  std::optional<unsigned> utilization;      // percent
  std::optional<std::uint64_t> memory_used;  // bytes
  std::optional<unsigned> power_mw;
  std::optional<unsigned> temperature;      // degrees Celsius
  std::optional<unsigned> sm_clock_mhz;
  bool thermal_slowdown = false;            // throttled now for temperature (clock event reasons)
  std::string health = "ok";                // "ok", or what is wrong now ("lost (NVML: GPU is lost)")

  bool healthy_now() const { return health == "ok"; }
};

// Cumulative counters, read at the start and the end of a measured run.
struct GpuCounters {
  std::optional<std::uint64_t> energy_mj;          // since the driver was loaded
  std::optional<std::uint64_t> power_violation_ns;  // time held below the requested clocks for power
  std::optional<std::uint64_t> thermal_violation_ns;
};

// A process using a GPU and the GPU memory it holds.
struct GpuProcess {
  int pid = 0;
  std::uint64_t memory_used = 0;  // bytes
};

// NVML, loaded at run time with dlopen("libnvidia-ml.so.1") or the library named by the
// environment variable BENCHMATRIX_NVML_LIBRARY (tests load a fake with the same symbols). The
// required symbols are looked up one by one; any other missing symbol only means that probe is
// unsupported. benchmatrix is never linked against NVML: on a machine without NVIDIA's driver it
// runs as before.
class Nvml {
public:
  // Loads and initialises the library; nullptr with `why` set when it cannot (no library, a
  // required symbol missing, nvmlInit failing, e.g. a driver/library version mismatch).
  static std::unique_ptr<Nvml> load(std::string& why);
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  const std::string& library() const { return m_library; }
  std::string driver_version() const;
  // Every GPU of the machine, in NVML's order, with its health now.
  std::vector<GpuInfo> devices() const;
  // What the GPU at `index` does now; thread-safe, as NVML is.
  GpuSample sample(int index) const;
  GpuCounters counters(int index) const;
  // The compute processes on the GPU; nullopt when the driver cannot list them. Its record's
  // layout changed between drivers without a new function version, so the stride is probed.
  std::optional<std::vector<GpuProcess>> processes(int index) const;
  // Uncorrectable ECC errors since the driver loaded (volatile counter); nullopt: unsupported.
  std::optional<std::uint64_t> uncorrectable_ecc(int index) const;
  // Starts listening for Xid errors (critical GPU errors the driver logs) of these GPUs; false
  // when the driver cannot. take_xids() returns those that came since, without waiting.
  bool watch_xids(const std::vector<int>& indices);
  std::vector<std::pair<int, unsigned long long>> take_xids();

  struct Symbols;

private:
  Nvml() = default;

  void* m_handle = nullptr;
  std::string m_library;
  std::unique_ptr<Symbols> m_symbols;
  mutable std::size_t m_process_stride = 0;  // probed on the first list of two or more processes
  void* m_event_set = nullptr;               // nvmlEventSet_t, for Xid errors
  std::vector<std::pair<void*, int>> m_watched;  // device handle -> index
};

// Whether an Xid error means the GPU itself is failing (it leaves the pool), as opposed to an
// error a program caused (an illegal memory access, a program killed mid-kernel), which is the
// task's failure. Returns what it means when it is the GPU's.
std::optional<std::string> gpu_fault_of_xid(unsigned long long xid);

// What a run knows of the machine's GPUs: NVML's list, or why there is none.
struct GpuDiscovery {
  bool available = false;        // NVML answered
  std::shared_ptr<Nvml> nvml;    // kept loaded for the monitor
  std::string why;               // when not available: why (said once)
  std::string driver;
  std::vector<GpuInfo> gpus;
};

GpuDiscovery discover_gpus();

// Checks GPU ids a user asked for against what was discovered: throws UserError naming the ids
// that do not exist (with those that do) when NVML answered; `what` names where they were asked
// for ("--gpus", "resources.gpus"). Without NVML the ids are trusted.
void check_requested_gpus(const std::vector<int>& requested, const GpuDiscovery& discovery, const std::string& what);

} // namespace bm
