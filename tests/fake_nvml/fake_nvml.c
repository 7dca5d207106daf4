/* A stand-in for libnvidia-ml.so.1 with the same C symbols, for tests on machines without a GPU.
 * benchmatrix loads it through BENCHMATRIX_NVML_LIBRARY. What it answers is scripted by the file
 * named in FAKE_NVML_SCRIPT, one directive a line ('#' starts a comment):
 *
 *   driver VERSION                         what nvmlSystemGetDriverVersion says
 *   init_error CODE                        nvmlInit_v2 fails with CODE (18: driver/library mismatch)
 *   gpu INDEX UUID BUS_ID MEMORY_MIB CPUS NAME...   a GPU (CPUS as "0-7" or "-" for unknown)
 *   util INDEX PERCENT                     its utilization
 *   temperature INDEX CELSIUS
 *   power INDEX MILLIWATTS
 *   lost INDEX AFTER                       after AFTER queries of its memory, the GPU is lost
 *   remapped INDEX pending|failed          its row remapping state
 *
 * Without a script: no GPU. Every query of a GPU's memory is counted per GPU, so "lost" scripts a
 * GPU that fails in the middle of a run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st* nvmlDevice_t;

typedef struct {
  unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
  unsigned int gpu, memory;
} nvmlUtilization_t;
typedef struct {
  char busIdLegacy[16];
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
} nvmlPciInfo_t;

enum { MAX_GPUS = 16 };

struct nvmlDevice_st {
  int present;
  char uuid[96], bus_id[32], name[96], cpus[64];
  unsigned long long memory_mib;
  unsigned int util, temperature, power;
  int lost_after; /* -1: never */
  int memory_queries;
  int remapped; /* 0 none, 1 pending, 2 failed */
};

static struct nvmlDevice_st devices[MAX_GPUS];
static unsigned int device_count;
static char driver[64] = "550.54.15";
static int init_error;
static int loaded;

static void load_script(void) {
  if (loaded) {
    return;
  }
  loaded = 1;
  const char* path = getenv("FAKE_NVML_SCRIPT");
  FILE* file = path ? fopen(path, "r") : NULL;
  if (!file) {
    return;
  }
  char line[512];
  while (fgets(line, sizeof line, file)) {
    char* hash = strchr(line, '#');
    if (hash) {
      *hash = '\0';
    }
    line[strcspn(line, "\n")] = '\0';
    int index = 0, consumed = 0;
    unsigned int value = 0;
    char word[64];
    if (sscanf(line, "driver %63s", driver) == 1) {
      continue;
    }
    if (sscanf(line, "init_error %d", &init_error) == 1) {
      continue;
    }
    if (sscanf(line, "gpu %d %n", &index, &consumed) == 1 && index >= 0 && index < MAX_GPUS) {
      struct nvmlDevice_st* d = &devices[index];
      unsigned long long mib = 0;
      int name_at = 0;
      if (sscanf(line + consumed, "%95s %31s %llu %63s %n", d->uuid, d->bus_id, &mib, d->cpus, &name_at) >= 4) {
        d->present = 1;
        d->memory_mib = mib;
        d->lost_after = -1;
        d->temperature = 40;
        d->power = 70000;
        snprintf(d->name, sizeof d->name, "%s", line + consumed + name_at);
        if ((unsigned int)index + 1 > device_count) {
          device_count = (unsigned int)index + 1;
        }
      }
      continue;
    }
    if (sscanf(line, "util %d %u", &index, &value) == 2 && index >= 0 && index < MAX_GPUS) {
      devices[index].util = value;
    } else if (sscanf(line, "temperature %d %u", &index, &value) == 2 && index >= 0 && index < MAX_GPUS) {
      devices[index].temperature = value;
    } else if (sscanf(line, "power %d %u", &index, &value) == 2 && index >= 0 && index < MAX_GPUS) {
      devices[index].power = value;
    } else if (sscanf(line, "lost %d %u", &index, &value) == 2 && index >= 0 && index < MAX_GPUS) {
      devices[index].lost_after = (int)value;
    } else if (sscanf(line, "remapped %d %63s", &index, word) == 2 && index >= 0 && index < MAX_GPUS) {
      devices[index].remapped = strcmp(word, "failed") == 0 ? 2 : 1;
    }
  }
  fclose(file);
}

static int lost(nvmlDevice_t d) {
  return d->lost_after >= 0 && d->memory_queries > d->lost_after;
}

nvmlReturn_t nvmlInit_v2(void) {
  load_script();
  return init_error;
}

nvmlReturn_t nvmlShutdown(void) {
  return 0;
}

const char* nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
  case 0: return "Success";
  case 3: return "Not Supported";
  case 9: return "Driver Not Loaded";
  case 15: return "GPU is lost";
  case 18: return "RM has detected an NVML/RM version mismatch.";
  default: return "Unknown Error";
  }
}

nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  snprintf(version, length, "%s", driver);
  return 0;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  *count = device_count;
  return 0;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t* device) {
  if (index >= device_count || !devices[index].present) {
    return 2;
  }
  *device = &devices[index];
  return 0;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char* name, unsigned int length) {
  snprintf(name, length, "%s", d->name);
  return 0;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char* uuid, unsigned int length) {
  snprintf(uuid, length, "%s", d->uuid);
  return 0;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t* memory) {
  d->memory_queries++;
  if (lost(d)) {
    return 15;
  }
  memory->total = d->memory_mib << 20;
  memory->used = memory->total / 10;
  memory->free = memory->total - memory->used;
  return 0;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t* utilization) {
  if (lost(d)) {
    return 15;
  }
  utilization->gpu = d->util;
  utilization->memory = d->util / 2;
  return 0;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int* celsius) {
  (void)sensor;
  if (lost(d)) {
    return 15;
  }
  *celsius = d->temperature;
  return 0;
}

#ifndef FAKE_NVML_WITHOUT_POWER /* a library that lacks a required symbol */
nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int* milliwatts) {
  if (lost(d)) {
    return 15;
  }
  *milliwatts = d->power;
  return 0;
}
#endif

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t* pci) {
  memset(pci, 0, sizeof *pci);
  snprintf(pci->busId, sizeof pci->busId, "%s", d->bus_id);
  return 0;
}

nvmlReturn_t nvmlDeviceGetCpuAffinity(nvmlDevice_t d, unsigned int words, unsigned long* mask) {
  if (strcmp(d->cpus, "-") == 0) {
    return 3;
  }
  memset(mask, 0, words * sizeof *mask);
  const char* at = d->cpus;
  while (*at) {
    char* end = NULL;
    long first = strtol(at, &end, 10);
    long last = first;
    if (*end == '-') {
      last = strtol(end + 1, &end, 10);
    }
    for (long cpu = first; cpu <= last; ++cpu) {
      unsigned long bits = 8 * sizeof(unsigned long);
      if ((unsigned long)cpu / bits < words) {
        mask[(unsigned long)cpu / bits] |= 1UL << ((unsigned long)cpu % bits);
      }
    }
    at = *end == ',' ? end + 1 : end;
    if (*end != ',' && *end != '\0') {
      break;
    }
  }
  return 0;
}

nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t d, unsigned int* corrected, unsigned int* uncorrected,
                                       unsigned int* pending, unsigned int* failed) {
  *corrected = 0;
  *uncorrected = d->remapped ? 1 : 0;
  *pending = d->remapped == 1;
  *failed = d->remapped == 2;
  return 0;
}
