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

  struct Symbols;

private:
  Nvml() = default;

  void* m_handle = nullptr;
  std::string m_library;
  std::unique_ptr<Symbols> m_symbols;
};

// What a run knows of the machine's GPUs: NVML's list, or why there is none.
struct GpuDiscovery {
  bool available = false;        // NVML answered
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
