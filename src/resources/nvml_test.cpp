#include "resources/nvml.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "util/error.hpp"

namespace bm {
namespace {

// Points benchmatrix at a fake NVML with a script, for the life of the object.
class FakeNvml {
public:
  explicit FakeNvml(const std::string& script, const char* library = BENCHMATRIX_FAKE_NVML) {
    m_script = std::filesystem::path(::testing::TempDir()) / ("fake_nvml_" + std::to_string(::getpid()) + ".txt");
    std::ofstream(m_script) << script;
    ::setenv("BENCHMATRIX_NVML_LIBRARY", library, 1);
    ::setenv("FAKE_NVML_SCRIPT", m_script.c_str(), 1);
  }
  ~FakeNvml() {
    ::unsetenv("BENCHMATRIX_NVML_LIBRARY");
    ::unsetenv("FAKE_NVML_SCRIPT");
    std::filesystem::remove(m_script);
  }

private:
  std::filesystem::path m_script;
};

constexpr const char* k_two_gpus =
    "driver 550.54.15\n"
    "gpu 0 GPU-aaaa 00000000:19:00.0 81920 0-7 NVIDIA H100 80GB HBM3\n"
    "gpu 1 GPU-bbbb 00000000:3B:00.0 81920 8-15 NVIDIA H100 80GB HBM3\n"
    "util 1 87\n"
    "temperature 1 66\n";

TEST(Nvml, DiscoversEveryGpuWithWhatTheDriverSupports) {
  FakeNvml fake(k_two_gpus);
  GpuDiscovery discovery = discover_gpus();
  ASSERT_TRUE(discovery.available) << discovery.why;
  EXPECT_EQ(discovery.driver, "550.54.15");
  ASSERT_EQ(discovery.gpus.size(), 2u);
  const GpuInfo& gpu = discovery.gpus[1];
  EXPECT_EQ(gpu.index, 1);
  EXPECT_EQ(gpu.uuid, "GPU-bbbb");
  EXPECT_EQ(gpu.name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(gpu.bus_id, "00000000:3B:00.0");
  EXPECT_EQ(gpu.memory_total, 81920ULL << 20);
  EXPECT_EQ(gpu.cpus, (std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(gpu.utilization, 87u);
  EXPECT_EQ(gpu.temperature, 66u);
  EXPECT_TRUE(gpu.healthy());
}

TEST(Nvml, SamplesCountersAndXidsOfARunningGpu) {
  FakeNvml fake(std::string(k_two_gpus) + "clock 1 1410\nthrottle 1 thermal\npower 1 300000\n");
  GpuDiscovery discovery = discover_gpus();
  ASSERT_TRUE(discovery.available && discovery.nvml);
  GpuSample sample = discovery.nvml->sample(1);
  EXPECT_TRUE(sample.healthy_now());
  EXPECT_EQ(sample.utilization, 87u);
  EXPECT_EQ(sample.temperature, 66u);
  EXPECT_EQ(sample.power_mw, 300000u);
  EXPECT_EQ(sample.sm_clock_mhz, 1410u);
  EXPECT_TRUE(sample.thermal_slowdown);
  EXPECT_FALSE(discovery.nvml->sample(0).thermal_slowdown);
  GpuCounters counters = discovery.nvml->counters(1);
  ASSERT_TRUE(counters.energy_mj && counters.thermal_violation_ns && counters.power_violation_ns);
  EXPECT_EQ(*counters.power_violation_ns, 0u);
  EXPECT_EQ(discovery.nvml->uncorrectable_ecc(0), 0u);
  EXPECT_TRUE(discovery.nvml->watch_xids({0, 1}));
  EXPECT_TRUE(discovery.nvml->take_xids().empty());
  // What the GPU did, not what a program did, takes it out of the pool.
  EXPECT_EQ(gpu_fault_of_xid(79), "Xid 79: the GPU has fallen off the bus");
  EXPECT_TRUE(gpu_fault_of_xid(48));
  EXPECT_FALSE(gpu_fault_of_xid(31));  // an illegal memory access of the program
  EXPECT_FALSE(gpu_fault_of_xid(13));
  EXPECT_FALSE(gpu_fault_of_xid(43));
}

TEST(Nvml, UnhealthyGpusSayWhy) {
  FakeNvml fake(std::string(k_two_gpus) + "remapped 0 pending\nlost 1 0\n");
  GpuDiscovery discovery = discover_gpus();
  ASSERT_EQ(discovery.gpus.size(), 2u);
  EXPECT_EQ(discovery.gpus[0].health, "row remapping pending (reset the GPU)");
  EXPECT_EQ(discovery.gpus[1].health, "lost (NVML: GPU is lost)");
}

TEST(Nvml, WithoutAUsableLibraryTheReasonIsKept) {
  {
    FakeNvml fake("init_error 18\n");
    GpuDiscovery discovery = discover_gpus();
    EXPECT_FALSE(discovery.available);
    EXPECT_NE(discovery.why.find("NVML/RM version mismatch"), std::string::npos) << discovery.why;
  }
  {
    FakeNvml fake(k_two_gpus, BENCHMATRIX_FAKE_NVML_INCOMPLETE);
    GpuDiscovery discovery = discover_gpus();
    EXPECT_FALSE(discovery.available);
    EXPECT_NE(discovery.why.find("lacks nvmlDeviceGetPowerUsage"), std::string::npos) << discovery.why;
  }
  {
    FakeNvml fake(k_two_gpus, "/nonexistent/libnvidia-ml.so.1");
    GpuDiscovery discovery = discover_gpus();
    EXPECT_FALSE(discovery.available);
    EXPECT_NE(discovery.why.find("NVML could not be loaded"), std::string::npos) << discovery.why;
  }
}

TEST(Nvml, RequestedGpusMustExistWhenNvmlAnswers) {
  FakeNvml fake(k_two_gpus);
  GpuDiscovery discovery = discover_gpus();
  EXPECT_NO_THROW(check_requested_gpus({0, 1}, discovery, "--gpus"));
  try {
    check_requested_gpus({1, 7, 9}, discovery, "--gpus");
    FAIL() << "GPUs 7 and 9 do not exist";
  } catch (const UserError& error) {
    EXPECT_STREQ(error.what(), "--gpus: no GPU 7,9 on this machine; NVML (driver 550.54.15) finds 2 GPUs: 0-1");
  }
  GpuDiscovery none;
  none.why = "NVML could not be loaded";
  EXPECT_NO_THROW(check_requested_gpus({7, 9}, none, "--gpus"));  // trusted, and said once by the caller
}

} // namespace
} // namespace bm
