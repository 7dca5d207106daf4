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

GpuDiscovery discover_gpus() {
  GpuDiscovery discovery;
  std::unique_ptr<Nvml> nvml = Nvml::load(discovery.why);
  if (!nvml) {
    return discovery;
  }
  discovery.available = true;
  discovery.driver = nvml->driver_version();
  discovery.gpus = nvml->devices();
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
