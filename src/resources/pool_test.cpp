#include "resources/pool.hpp"

#include <gtest/gtest.h>

#include "util/error.hpp"

namespace bm {
namespace {

Topology machine(int cores) {
  Topology topology;
  topology.source = "test";
  for (int i = 0; i < cores; ++i) {
    topology.cores.push_back(PhysicalCore{i, 0, {i}});
  }
  topology.logical_cpus = cores;
  return topology;
}

TEST(PoolLayout, SequentialIsOneSlotOnCore1) {
  PoolLayout layout = plan_pool(machine(2), ResourceOptions{});
  EXPECT_EQ(layout.slot_names, (std::vector<std::string>{"0"}));
  EXPECT_EQ(layout.cpus, (std::vector<int>{1}));
  EXPECT_TRUE(layout.pinned);
}

TEST(PoolLayout, ParallelUsesEveryPhysicalCoreButCore0) {
  ResourceOptions options;
  options.parallel = true;
  EXPECT_EQ(plan_pool(machine(2), options).cpus, (std::vector<int>{1}));
  PoolLayout sixteen = plan_pool(machine(16), options);
  EXPECT_EQ(sixteen.slot_names.size(), 15u);
  EXPECT_EQ(sixteen.cpus.front(), 1);
  EXPECT_EQ(sixteen.cpus.back(), 15);
}

TEST(PoolLayout, ParallelCountsPhysicalCoresNotHardwareThreads) {
  Topology smt;
  smt.cores = {PhysicalCore{0, 0, {0, 4}}, PhysicalCore{1, 0, {1, 5}}, PhysicalCore{2, 0, {2, 6}},
               PhysicalCore{3, 0, {3, 7}}};
  ResourceOptions options;
  options.parallel = true;
  EXPECT_EQ(plan_pool(smt, options).cpus, (std::vector<int>{1, 2, 3}));
}

TEST(PoolLayout, MoreSlotsThanCoresIsRefusedUnlessOversubscribed) {
  ResourceOptions options;
  options.jobs = 4;
  try {
    plan_pool(machine(2), options);
    FAIL();
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("--oversubscribe"), std::string::npos) << error.what();
  }
  options.oversubscribe = true;
  PoolLayout layout = plan_pool(machine(2), options);
  EXPECT_FALSE(layout.pinned);
  EXPECT_EQ(layout.slot_names.size(), 4u);
  EXPECT_EQ(layout.warnings.size(), 1u);
}

TEST(PoolLayout, ExplicitCoresMustBeAvailableAndAreAllUsed) {
  ResourceOptions options;
  options.cores = std::vector<int>{0, 1};
  PoolLayout layout = plan_pool(machine(2), options);
  EXPECT_EQ(layout.cpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(layout.slot_names.size(), 2u);
  options.cores = std::vector<int>{7};
  EXPECT_THROW(plan_pool(machine(2), options), UserError);
}

TEST(PoolLayout, SlotNamesFromTheConfigAndTaskSizes) {
  ResourceOptions options;
  options.slot_names = {"gpu0", "gpu1"};
  options.cores = std::vector<int>{0, 1};
  EXPECT_EQ(plan_pool(machine(2), options).slot_names, (std::vector<std::string>{"gpu0", "gpu1"}));
  options.jobs = 3;
  EXPECT_THROW(plan_pool(machine(2), options), UserError);

  ResourceOptions wide;
  wide.parallel = true;
  wide.max_task_cpus = 4;
  PoolLayout layout = plan_pool(machine(16), wide);
  EXPECT_EQ(layout.slot_names.size(), 3u);  // 15 usable cores / 4 per task
  EXPECT_EQ(layout.cpus.size(), 12u);

  ResourceOptions gpu;
  gpu.max_task_gpus = 1;
  EXPECT_THROW(plan_pool(machine(2), gpu), UserError);
}

TEST(ResourcePool, HandsOutCpusAndGpusWithDepth) {
  ResourcePool pool({"0", "1", "2"}, {1, 2, 3}, true, {0, 1}, 1);
  auto a = pool.acquire({1, 1});
  auto b = pool.acquire({1, 1});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->cpus, (std::vector<int>{1}));
  EXPECT_EQ(b->cpus, (std::vector<int>{2}));
  EXPECT_EQ(a->gpus, (std::vector<int>{0}));
  EXPECT_EQ(b->gpus, (std::vector<int>{1}));
  EXPECT_FALSE(pool.acquire({1, 1}));  // both GPUs full
  auto c = pool.acquire({1, 0});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->cpus, (std::vector<int>{3}));
  EXPECT_FALSE(pool.acquire({1, 0}));  // no slot left
  pool.release(*a);
  auto d = pool.acquire({1, 1});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->slot, a->slot);
  EXPECT_EQ(d->cpus, a->cpus);
  EXPECT_EQ(d->gpus, (std::vector<int>{0}));
}

TEST(ResourcePool, PerGpuDepthAndMultiCpuTasks) {
  ResourcePool pool({"0", "1", "2", "3"}, {1, 2, 3, 4}, true, {0}, 2);
  auto a = pool.acquire({2, 1});
  auto b = pool.acquire({2, 1});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->cpus, (std::vector<int>{1, 2}));
  EXPECT_EQ(b->cpus, (std::vector<int>{3, 4}));
  EXPECT_EQ(b->gpus, (std::vector<int>{0}));
  EXPECT_FALSE(pool.acquire({1, 0}));
  EXPECT_FALSE(pool.can_ever_fit({5, 0}));
  EXPECT_TRUE(pool.can_ever_fit({4, 1}));
}

TEST(ResourcePool, UnpinnedPoolHandsOutNoCpus) {
  ResourcePool pool({"0", "1", "2"}, {1}, false, {}, 1);
  auto a = pool.acquire({1, 0});
  auto b = pool.acquire({1, 0});
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->cpus.empty());
  EXPECT_EQ(pool.free_slot_count(), 1u);
}

} // namespace
} // namespace bm
