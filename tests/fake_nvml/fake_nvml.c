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
 *   clock INDEX MHZ                        its SM clock
 *   throttle INDEX thermal|power           it is held back for that reason: the violation counter
 *                                          grows with time, and thermal sets the clock event reason
 *   temperature_file INDEX PATH            its temperature is read from PATH (a number) while it exists
 *   lost_file INDEX PATH                   it is lost while PATH exists
 *   xid INDEX CODE PATH                    Xid error CODE arrives once PATH exists
 *   ecc_file INDEX PATH                    uncorrectable ECC errors: the number in PATH, when it exists
 *   processes DIR v2|v3                    compute processes: each file DIR/PID holds "INDEX MIB";
 *                                          listed by nvmlDeviceGetComputeRunningProcesses_v3 in
 *                                          the v2 (24-byte) or v3 (32-byte) record layout
 *
 * Energy grows with the scripted power over real time.
 * Without a script: no GPU. Every query of a GPU's memory is counted per GPU, so "lost" scripts a
 * GPU that fails in the middle of a run. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
  unsigned int clock;
  int throttle; /* 0 none, 1 thermal, 2 power */
  char temperature_file[256], lost_file[256], xid_file[256], ecc_file[256];
  unsigned long long xid;
  int xid_sent, watched;
};

static char processes_dir[256];
static int processes_layout = 3;
static double started;

static double now(void) {
  struct timespec time;
  clock_gettime(CLOCK_MONOTONIC, &time);
  return (double)time.tv_sec + (double)time.tv_nsec / 1e9;
}

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
    char path[256];
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
        d->clock = 1980;
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
    } else if (sscanf(line, "clock %d %u", &index, &value) == 2 && index >= 0 && index < MAX_GPUS) {
      devices[index].clock = value;
    } else if (sscanf(line, "throttle %d %63s", &index, word) == 2 && index >= 0 && index < MAX_GPUS) {
      devices[index].throttle = strcmp(word, "thermal") == 0 ? 1 : 2;
    } else if (sscanf(line, "temperature_file %d %255s", &index, path) == 2 && index >= 0 && index < MAX_GPUS) {
      snprintf(devices[index].temperature_file, sizeof devices[index].temperature_file, "%s", path);
    } else if (sscanf(line, "lost_file %d %255s", &index, path) == 2 && index >= 0 && index < MAX_GPUS) {
      snprintf(devices[index].lost_file, sizeof devices[index].lost_file, "%s", path);
    } else if (sscanf(line, "xid %d %u %255s", &index, &value, path) == 3 && index >= 0 && index < MAX_GPUS) {
      devices[index].xid = value;
      snprintf(devices[index].xid_file, sizeof devices[index].xid_file, "%s", path);
    } else if (sscanf(line, "ecc_file %d %255s", &index, path) == 2 && index >= 0 && index < MAX_GPUS) {
      snprintf(devices[index].ecc_file, sizeof devices[index].ecc_file, "%s", path);
    } else if (sscanf(line, "processes %255s %63s", processes_dir, word) == 2) {
      processes_layout = strcmp(word, "v2") == 0 ? 2 : 3;
    }
  }
  fclose(file);
}

static int lost(nvmlDevice_t d) {
  FILE* marker = d->lost_file[0] ? fopen(d->lost_file, "r") : NULL;
  if (marker) {
    fclose(marker);
    return 1;
  }
  return d->lost_after >= 0 && d->memory_queries > d->lost_after;
}

nvmlReturn_t nvmlInit_v2(void) {
  load_script();
  started = now();
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
  FILE* file = d->temperature_file[0] ? fopen(d->temperature_file, "r") : NULL;
  if (file) {
    unsigned int value = 0;
    if (fscanf(file, "%u", &value) == 1) {
      *celsius = value;
    }
    fclose(file);
  }
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

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int* mhz) {
  if (lost(d)) {
    return 15;
  }
  *mhz = type == 1 ? d->clock : 2619;
  return 0;
}

nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t d, unsigned long long* reasons) {
  *reasons = d->throttle == 1 ? 0x40ULL : d->throttle == 2 ? 0x4ULL : 0ULL;
  return 0;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long* millijoules) {
  if (lost(d)) {
    return 15;
  }
  *millijoules = (unsigned long long)((double)d->power * (now() - started));  /* mW x s = mJ */
  return 0;
}

typedef struct {
  unsigned long long referenceTime, violationTime;
} nvmlViolationTime_t;

nvmlReturn_t nvmlDeviceGetViolationStatus(nvmlDevice_t d, int policy, nvmlViolationTime_t* violation) {
  violation->referenceTime = (unsigned long long)(now() * 1e6);
  int held = (policy == 1 && d->throttle == 1) || (policy == 0 && d->throttle == 2);
  violation->violationTime = held ? (unsigned long long)((now() - started) * 1e9) : 0;
  return 0;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int* count, void* infos) {
  unsigned int capacity = *count, found = 0;
  size_t stride = processes_layout == 2 ? 24 : 32;
  DIR* dir = processes_dir[0] ? opendir(processes_dir) : NULL;
  struct dirent* entry;
  while (dir && (entry = readdir(dir)) != NULL) {
    char path[600];
    unsigned int pid = (unsigned int)strtoul(entry->d_name, NULL, 10), index = 0;
    unsigned long long mib = 0;
    snprintf(path, sizeof path, "%s/%s", processes_dir, entry->d_name);
    FILE* file = pid ? fopen(path, "r") : NULL;
    if (!file) {
      continue;
    }
    int ok = fscanf(file, "%u %llu", &index, &mib) == 2 && &devices[index] == d;
    fclose(file);
    if (ok && found < capacity) {
      unsigned char* record = (unsigned char*)infos + found * stride;
      unsigned long long bytes = mib << 20;
      memset(record, 0, stride);
      memcpy(record, &pid, sizeof pid);
      memcpy(record + 8, &bytes, sizeof bytes);
      /* gpuInstanceId and computeInstanceId: "not in a MIG instance", 0xFFFFFFFF */
      memset(record + 16, 0xff, 8);
    }
    found += ok;
  }
  if (dir) {
    closedir(dir);
  }
  *count = found;
  return found > capacity ? 7 : 0;
}

nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t d, int type, int counter, unsigned long long* count) {
  (void)type;
  (void)counter;
  *count = 0;
  FILE* file = d->ecc_file[0] ? fopen(d->ecc_file, "r") : NULL;
  if (file) {
    if (fscanf(file, "%llu", count) != 1) {
      *count = 0;
    }
    fclose(file);
  }
  return 0;
}

typedef struct {
  nvmlDevice_t device;
  unsigned long long eventType, eventData;
  unsigned int gpuInstanceId, computeInstanceId;
} nvmlEventData_t;

static int event_set;

nvmlReturn_t nvmlEventSetCreate(void** set) {
  *set = &event_set;
  return 0;
}

nvmlReturn_t nvmlEventSetFree(void* set) {
  (void)set;
  return 0;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t d, unsigned long long types, void* set) {
  (void)set;
  d->watched = (types & 0x8) != 0;
  return 0;
}

nvmlReturn_t nvmlEventSetWait_v2(void* set, nvmlEventData_t* data, unsigned int timeout) {
  (void)set;
  (void)timeout;
  for (unsigned int i = 0; i < device_count; ++i) {
    struct nvmlDevice_st* d = &devices[i];
    FILE* marker = d->watched && !d->xid_sent && d->xid_file[0] ? fopen(d->xid_file, "r") : NULL;
    if (marker) {
      fclose(marker);
      d->xid_sent = 1;
      memset(data, 0, sizeof *data);
      data->device = d;
      data->eventType = 0x8;
      data->eventData = d->xid;
      return 0;
    }
  }
  return 10; /* NVML_ERROR_TIMEOUT */
}
