#include "resources/nvml.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "resources/topology.hpp"
#include "util/error.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

// The few NVML types benchmatrix uses, laid out as nvml.h declares them (C ABI, stable across
// drivers: these structs and signatures have not changed since their _v2/_v3 names appeared).
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
constexpr nvmlReturn_t k_success = 0;
constexpr nvmlReturn_t k_gpu_is_lost = 15;

struct nvmlMemory_t {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};

struct nvmlViolationTime_t {
  unsigned long long referenceTime;
  unsigned long long violationTime;  // ns
};

constexpr int k_clock_sm = 1;
constexpr int k_perf_policy_power = 0;
constexpr int k_perf_policy_thermal = 1;
constexpr unsigned long long k_reason_sw_thermal = 0x20;
constexpr unsigned long long k_reason_hw_thermal = 0x40;
constexpr unsigned long long k_not_available = ~0ULL;

struct nvmlPciInfo_t {  // nvmlDeviceGetPciInfo_v3
  char busIdLegacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;
  unsigned int pciSubSystemId;
  char busId[32];
};

} // namespace

struct Nvml::Symbols {
  // Required: without any of these, NVML is not used.
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
  nvmlReturn_t (*driver_version)(char*, unsigned int) = nullptr;
  nvmlReturn_t (*count)(unsigned int*) = nullptr;
  nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*uuid)(nvmlDevice_t, char*, unsigned int) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned int*) = nullptr;
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned int*) = nullptr;
  // Optional: a missing one means that probe is unsupported.
  nvmlReturn_t (*pci_info)(nvmlDevice_t, nvmlPciInfo_t*) = nullptr;
  nvmlReturn_t (*cpu_affinity)(nvmlDevice_t, unsigned int, unsigned long*) = nullptr;
  nvmlReturn_t (*remapped_rows)(nvmlDevice_t, unsigned int*, unsigned int*, unsigned int*, unsigned int*) = nullptr;
  nvmlReturn_t (*clock)(nvmlDevice_t, int, unsigned int*) = nullptr;
  nvmlReturn_t (*event_reasons)(nvmlDevice_t, unsigned long long*) = nullptr;
  nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long*) = nullptr;
  nvmlReturn_t (*violation)(nvmlDevice_t, int, nvmlViolationTime_t*) = nullptr;
  nvmlReturn_t (*processes)(nvmlDevice_t, unsigned int*, void*) = nullptr;
  nvmlReturn_t (*ecc)(nvmlDevice_t, int, int, unsigned long long*) = nullptr;
  nvmlReturn_t (*event_set_create)(void**) = nullptr;
  nvmlReturn_t (*event_set_free)(void*) = nullptr;
  nvmlReturn_t (*register_events)(nvmlDevice_t, unsigned long long, void*) = nullptr;
  nvmlReturn_t (*event_set_wait)(void*, void*, unsigned int) = nullptr;
  std::size_t process_record = 0;  // the record size the found function is documented with
};

namespace {

template <typename Function>
bool find_symbol(void* handle, const char* name, Function& target) {
  void* address = ::dlsym(handle, name);
  target = reinterpret_cast<Function>(address);  // NOLINT: the C ABI of dlsym
  return address != nullptr;
}

} // namespace

std::unique_ptr<Nvml> Nvml::load(std::string& why) {
  const char* configured = std::getenv("BENCHMATRIX_NVML_LIBRARY");
  std::string library = configured && *configured ? configured : "libnvidia-ml.so.1";
  void* handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* error = ::dlerror();
    why = fmt::format("NVML could not be loaded ({})", error ? error : library);
    return nullptr;
  }
  std::unique_ptr<Nvml> nvml(new Nvml());
  nvml->m_handle = handle;
  nvml->m_library = library;
  nvml->m_symbols = std::make_unique<Symbols>();
  Symbols& s = *nvml->m_symbols;
  const std::pair<const char*, bool> required[] = {
      {"nvmlInit_v2", find_symbol(handle, "nvmlInit_v2", s.init)},
      {"nvmlShutdown", find_symbol(handle, "nvmlShutdown", s.shutdown)},
      {"nvmlErrorString", find_symbol(handle, "nvmlErrorString", s.error_string)},
      {"nvmlSystemGetDriverVersion", find_symbol(handle, "nvmlSystemGetDriverVersion", s.driver_version)},
      {"nvmlDeviceGetCount_v2", find_symbol(handle, "nvmlDeviceGetCount_v2", s.count)},
      {"nvmlDeviceGetHandleByIndex_v2", find_symbol(handle, "nvmlDeviceGetHandleByIndex_v2", s.handle)},
      {"nvmlDeviceGetName", find_symbol(handle, "nvmlDeviceGetName", s.name)},
      {"nvmlDeviceGetUUID", find_symbol(handle, "nvmlDeviceGetUUID", s.uuid)},
      {"nvmlDeviceGetMemoryInfo", find_symbol(handle, "nvmlDeviceGetMemoryInfo", s.memory)},
      {"nvmlDeviceGetUtilizationRates", find_symbol(handle, "nvmlDeviceGetUtilizationRates", s.utilization)},
      {"nvmlDeviceGetTemperature", find_symbol(handle, "nvmlDeviceGetTemperature", s.temperature)},
      {"nvmlDeviceGetPowerUsage", find_symbol(handle, "nvmlDeviceGetPowerUsage", s.power)},
  };
  std::vector<std::string> missing;
  for (const auto& [name, found] : required) {
    if (!found) {
      missing.emplace_back(name);
    }
  }
  if (!missing.empty()) {
    why = fmt::format("{} lacks {}", library, join(missing, ", "));
    s.shutdown = nullptr;  // never initialised: nothing to shut down
    return nullptr;
  }
  find_symbol(handle, "nvmlDeviceGetPciInfo_v3", s.pci_info);
  find_symbol(handle, "nvmlDeviceGetCpuAffinity", s.cpu_affinity);
  find_symbol(handle, "nvmlDeviceGetRemappedRows", s.remapped_rows);
  find_symbol(handle, "nvmlDeviceGetClockInfo", s.clock);
  if (!find_symbol(handle, "nvmlDeviceGetCurrentClocksEventReasons", s.event_reasons)) {
    find_symbol(handle, "nvmlDeviceGetCurrentClocksThrottleReasons", s.event_reasons);
  }
  find_symbol(handle, "nvmlDeviceGetTotalEnergyConsumption", s.energy);
  find_symbol(handle, "nvmlDeviceGetViolationStatus", s.violation);
  find_symbol(handle, "nvmlDeviceGetTotalEccErrors", s.ecc);
  find_symbol(handle, "nvmlEventSetCreate", s.event_set_create);
  find_symbol(handle, "nvmlEventSetFree", s.event_set_free);
  find_symbol(handle, "nvmlDeviceRegisterEvents", s.register_events);
  find_symbol(handle, "nvmlEventSetWait_v2", s.event_set_wait);
  // nvmlProcessInfo_t: v3 is 32 bytes, v2 24, v1 16 (pid, then the memory used at offset 8).
  if (find_symbol(handle, "nvmlDeviceGetComputeRunningProcesses_v3", s.processes)) {
    s.process_record = 32;
  } else if (find_symbol(handle, "nvmlDeviceGetComputeRunningProcesses_v2", s.processes)) {
    s.process_record = 24;
  } else if (find_symbol(handle, "nvmlDeviceGetComputeRunningProcesses", s.processes)) {
    s.process_record = 16;
  }
  nvmlReturn_t result = s.init();
  if (result != k_success) {
    const char* text = s.error_string(result);
    why = fmt::format("nvmlInit failed: {} (NVML error {})", text ? text : "unknown error", result);
    s.shutdown = nullptr;
    return nullptr;
  }
  return nvml;
}

Nvml::~Nvml() {
  if (m_event_set != nullptr && m_symbols->event_set_free) {
    m_symbols->event_set_free(m_event_set);
  }
  if (m_symbols && m_symbols->shutdown) {
    m_symbols->shutdown();
  }
  if (m_handle != nullptr) {
    ::dlclose(m_handle);
  }
}

std::string Nvml::driver_version() const {
  char version[96] = {};
  if (m_symbols->driver_version(version, sizeof version) != k_success) {
    return "unknown";
  }
  return std::string(version);
}

std::vector<GpuInfo> Nvml::devices() const {
  const Symbols& s = *m_symbols;
  std::vector<GpuInfo> gpus;
  unsigned int count = 0;
  if (s.count(&count) != k_success) {
    return gpus;
  }
  for (unsigned int index = 0; index < count; ++index) {
    GpuInfo gpu;
    gpu.index = static_cast<int>(index);
    gpu.health = "ok";
    nvmlDevice_t device = nullptr;
    nvmlReturn_t found = s.handle(index, &device);
    if (found != k_success) {
      const char* text = s.error_string(found);
      gpu.health = fmt::format("not reachable: {}", text ? text : "unknown error");
      gpus.push_back(std::move(gpu));
      continue;
    }
    char text[256] = {};
    if (s.name(device, text, sizeof text) == k_success) {
      gpu.name = text;
    }
    if (s.uuid(device, text, sizeof text) == k_success) {
      gpu.uuid = text;
    }
    nvmlMemory_t memory{};
    nvmlReturn_t memory_result = s.memory(device, &memory);
    if (memory_result == k_success) {
      gpu.memory_total = memory.total;
      gpu.memory_used = memory.used;
    } else if (memory_result == k_gpu_is_lost) {
      gpu.health = "lost (NVML: GPU is lost)";
    }
    unsigned int value = 0;
    if (s.temperature(device, 0, &value) == k_success) {
      gpu.temperature = value;
    }
    if (s.power(device, &value) == k_success) {
      gpu.power_mw = value;
    }
    nvmlUtilization_t utilization{};
    if (s.utilization(device, &utilization) == k_success) {
      gpu.utilization = utilization.gpu;
    }
    if (s.pci_info) {
      nvmlPciInfo_t pci{};
      if (s.pci_info(device, &pci) == k_success) {
        gpu.bus_id = std::string(pci.busId, strnlen(pci.busId, sizeof pci.busId));
      }
    }
    if (s.cpu_affinity) {
      // A bit mask of CPUs in unsigned longs, lowest CPU in the lowest bit of the first.
      constexpr unsigned int k_words = 16;
      unsigned long mask[k_words] = {};
      if (s.cpu_affinity(device, k_words, mask) == k_success) {
        for (unsigned int word = 0; word < k_words; ++word) {
          for (unsigned int bit = 0; bit < 8 * sizeof(unsigned long); ++bit) {
            if ((mask[word] >> bit) & 1UL) {
              gpu.cpus.push_back(static_cast<int>(word * 8 * sizeof(unsigned long) + bit));
            }
          }
        }
      }
    }
    if (s.remapped_rows && gpu.healthy()) {
      unsigned int corrected = 0, uncorrected = 0, pending = 0, failed = 0;
      nvmlReturn_t rows = s.remapped_rows(device, &corrected, &uncorrected, &pending, &failed);
      if (rows == k_success && failed != 0) {
        gpu.health = "row remapping failed (the GPU needs service)";
      } else if (rows == k_success && pending != 0) {
        gpu.health = "row remapping pending (reset the GPU)";
      } else if (rows == k_gpu_is_lost) {
        gpu.health = "lost (NVML: GPU is lost)";
      }
    }
    gpus.push_back(std::move(gpu));
  }
  return gpus;
}

GpuSample Nvml::sample(int index) const {
  const Symbols& s = *m_symbols;
  GpuSample sample;
  sample.index = index;
  nvmlDevice_t device = nullptr;
  nvmlReturn_t found = s.handle(static_cast<unsigned int>(index), &device);
  if (found != k_success) {
    const char* text = s.error_string(found);
    sample.health = fmt::format("not reachable: {}", text ? text : "unknown error");
    return sample;
  }
  nvmlMemory_t memory{};
  nvmlReturn_t memory_result = s.memory(device, &memory);
  if (memory_result == k_gpu_is_lost) {
    sample.health = "lost (NVML: GPU is lost)";
    return sample;
  }
  if (memory_result == k_success) {
    sample.memory_used = memory.used;
  }
  nvmlUtilization_t utilization{};
  if (s.utilization(device, &utilization) == k_success) {
    sample.utilization = utilization.gpu;
  }
  unsigned int value = 0;
  if (s.temperature(device, 0, &value) == k_success) {
    sample.temperature = value;
  }
  if (s.power(device, &value) == k_success) {
    sample.power_mw = value;
  }
  if (s.clock && s.clock(device, k_clock_sm, &value) == k_success) {
    sample.sm_clock_mhz = value;
  }
  unsigned long long reasons = 0;
  if (s.event_reasons && s.event_reasons(device, &reasons) == k_success) {
    sample.thermal_slowdown = (reasons & (k_reason_sw_thermal | k_reason_hw_thermal)) != 0;
  }
  return sample;
}

GpuCounters Nvml::counters(int index) const {
  const Symbols& s = *m_symbols;
  GpuCounters counters;
  nvmlDevice_t device = nullptr;
  if (s.handle(static_cast<unsigned int>(index), &device) != k_success) {
    return counters;
  }
  unsigned long long energy = 0;
  if (s.energy && s.energy(device, &energy) == k_success) {
    counters.energy_mj = energy;
  }
  nvmlViolationTime_t violation{};
  if (s.violation && s.violation(device, k_perf_policy_power, &violation) == k_success) {
    counters.power_violation_ns = violation.violationTime;
  }
  if (s.violation && s.violation(device, k_perf_policy_thermal, &violation) == k_success) {
    counters.thermal_violation_ns = violation.violationTime;
  }
  return counters;
}

namespace {

// The records at `stride` bytes apart, when every one looks like a process: a pid the kernel
// could give, and memory that is "not available" or at most the GPU's.
std::optional<std::vector<GpuProcess>> records_at(const unsigned char* buffer, unsigned int count, std::size_t stride,
                                                  std::uint64_t memory_total) {
  std::vector<GpuProcess> processes;
  for (unsigned int i = 0; i < count; ++i) {
    std::uint32_t pid = 0;
    unsigned long long used = 0;
    std::memcpy(&pid, buffer + i * stride, sizeof pid);
    std::memcpy(&used, buffer + i * stride + 8, sizeof used);
    if (pid == 0 || pid > (1U << 22) || (used != k_not_available && memory_total != 0 && used > memory_total)) {
      return std::nullopt;
    }
    processes.push_back({static_cast<int>(pid), used == k_not_available ? 0 : used});
  }
  return processes;
}

} // namespace

std::optional<std::vector<GpuProcess>> Nvml::processes(int index) const {
  const Symbols& s = *m_symbols;
  nvmlDevice_t device = nullptr;
  if (!s.processes || s.handle(static_cast<unsigned int>(index), &device) != k_success) {
    return std::nullopt;
  }
  constexpr unsigned int k_capacity = 128;
  std::vector<unsigned char> buffer(k_capacity * 32 + 64);  // room for the largest layout and more
  unsigned int count = k_capacity;
  if (s.processes(device, &count, buffer.data()) != k_success) {
    return std::nullopt;
  }
  count = std::min(count, k_capacity);
  nvmlMemory_t memory{};
  std::uint64_t total = s.memory(device, &memory) == k_success ? memory.total : 0;
  if (m_process_stride != 0) {
    return records_at(buffer.data(), count, m_process_stride, total);
  }
  // With two or more records a wrong stride reads other fields as pids: the first stride under
  // which every record makes sense is the driver's, and kept.
  for (std::size_t stride : {s.process_record, std::size_t{32}, std::size_t{24}, std::size_t{16}}) {
    if (auto found = records_at(buffer.data(), count, stride, total)) {
      if (count >= 2) {
        m_process_stride = stride;
      }
      return found;
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> Nvml::uncorrectable_ecc(int index) const {
  const Symbols& s = *m_symbols;
  nvmlDevice_t device = nullptr;
  unsigned long long count = 0;
  constexpr int k_uncorrected = 1;
  constexpr int k_volatile = 0;
  if (!s.ecc || s.handle(static_cast<unsigned int>(index), &device) != k_success ||
      s.ecc(device, k_uncorrected, k_volatile, &count) != k_success) {
    return std::nullopt;
  }
  return count;
}

namespace {

struct nvmlEventData_t {
  nvmlDevice_t device;
  unsigned long long eventType;
  unsigned long long eventData;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};

constexpr unsigned long long k_event_xid = 0x8;
constexpr nvmlReturn_t k_timeout = 10;

} // namespace

bool Nvml::watch_xids(const std::vector<int>& indices) {
  const Symbols& s = *m_symbols;
  if (!s.event_set_create || !s.register_events || !s.event_set_wait || m_event_set != nullptr) {
    return false;
  }
  if (s.event_set_create(&m_event_set) != k_success) {
    m_event_set = nullptr;
    return false;
  }
  for (int index : indices) {
    nvmlDevice_t device = nullptr;
    if (s.handle(static_cast<unsigned int>(index), &device) == k_success &&
        s.register_events(device, k_event_xid, m_event_set) == k_success) {
      m_watched.emplace_back(device, index);
    }
  }
  return !m_watched.empty();
}

std::vector<std::pair<int, unsigned long long>> Nvml::take_xids() {
  std::vector<std::pair<int, unsigned long long>> xids;
  if (m_event_set == nullptr) {
    return xids;
  }
  for (int i = 0; i < 64; ++i) {  // bounded: a storm of events never holds the sampler
    nvmlEventData_t data{};
    nvmlReturn_t result = m_symbols->event_set_wait(m_event_set, &data, 0);
    if (result == k_timeout || result != k_success) {
      break;  // nothing more now (or the set broke: Xids are then not seen, health still is)
    }
    if ((data.eventType & k_event_xid) == 0) {
      continue;
    }
    for (const auto& [device, index] : m_watched) {
      if (device == data.device) {
        xids.emplace_back(index, data.eventData);
      }
    }
  }
  return xids;
}

std::optional<std::string> gpu_fault_of_xid(unsigned long long xid) {
  switch (xid) {
  case 48: return "Xid 48: double-bit ECC error";
  case 61:
  case 62: return fmt::format("Xid {}: internal micro-controller error", xid);
  case 63:
  case 64: return fmt::format("Xid {}: ECC page retirement or row remapping event", xid);
  case 74: return "Xid 74: NVLink error";
  case 79: return "Xid 79: the GPU has fallen off the bus";
  case 92: return "Xid 92: high single-bit ECC error rate";
  case 95: return "Xid 95: uncontained ECC error";
  case 119:
  case 120: return fmt::format("Xid {}: GSP error", xid);
  case 140: return "Xid 140: unrecovered ECC error";
  default: return std::nullopt;  // 13, 31, 43, 45, 94, ...: what a program did, not the GPU
  }
}

GpuDiscovery discover_gpus() {
  GpuDiscovery discovery;
  std::unique_ptr<Nvml> nvml = Nvml::load(discovery.why);
  if (!nvml) {
    return discovery;
  }
  discovery.available = true;
  discovery.driver = nvml->driver_version();
  discovery.gpus = nvml->devices();
  discovery.nvml = std::move(nvml);
  return discovery;
}

void check_requested_gpus(const std::vector<int>& requested, const GpuDiscovery& discovery, const std::string& what) {
  if (!discovery.available || requested.empty()) {
    return;
  }
  std::vector<int> known;
  for (const auto& gpu : discovery.gpus) {
    known.push_back(gpu.index);
  }
  std::vector<int> unknown;
  for (int id : requested) {
    if (std::find(known.begin(), known.end(), id) == known.end()) {
      unknown.push_back(id);
    }
  }
  if (unknown.empty()) {
    return;
  }
  throw UserError(fmt::format("{}: no GPU {} on this machine; NVML (driver {}) finds {}", what,
                              format_cpu_list(unknown),
                              discovery.driver,
                              known.empty() ? "none" : fmt::format("{} GPU{}: {}", known.size(),
                                                                    known.size() == 1 ? "" : "s",
                                                                    format_cpu_list(known))));
}

} // namespace bm
