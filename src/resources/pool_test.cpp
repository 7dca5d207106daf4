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

TEST(ResourcePool, RemovedAndAvoidedGpus) {
  ResourcePool pool({"0", "1", "2"}, {1, 2, 3}, true, {0, 1}, 2);
  ASSERT_TRUE(pool.remove_gpu(1));
  EXPECT_FALSE(pool.remove_gpu(1));
  EXPECT_FALSE(pool.remove_gpu(7));
  EXPECT_EQ(pool.usable_gpu_count(), 1u);
  auto a = pool.acquire({1, 1});
  auto b = pool.acquire({1, 1});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->gpus, std::vector<int>{0});
  EXPECT_EQ(b->gpus, std::vector<int>{0});  // GPU 1 left the pool: never handed out again
  EXPECT_FALSE(pool.acquire({1, 1}));
  EXPECT_FALSE(pool.can_ever_fit({1, 2}));
  pool.release(*a);
  pool.release(*b);

  ResourcePool retry({"0", "1"}, {1, 2}, true, {0, 1}, 1);
  auto busy = retry.acquire({1, 1});
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->gpus, std::vector<int>{0});
  EXPECT_FALSE(retry.acquire({1, 1}, {1}));  // waits for GPU 0 rather than fail again on GPU 1
  retry.release(*busy);
  EXPECT_EQ(retry.acquire({1, 1}, {0})->gpus, std::vector<int>{1});
  ResourcePool only({"0"}, {1}, true, {0}, 1);
  EXPECT_EQ(only.acquire({1, 1}, {0})->gpus, std::vector<int>{0});  // no other GPU: taken anyway
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

TEST(GpuSlots, GpuTasksRunByGpuDepthOnAMachineWithOneUsableCore) {
  ResourceOptions options;
  options.gpus = {0, 1};
  options.per_gpu = 2;
  options.max_task_gpus = 1;
  options.cpu_tasks = false;
  PoolLayout layout = plan_pool(machine(2), options);
  EXPECT_TRUE(layout.slot_names.empty());  // no CPU slot: every task has a GPU
  EXPECT_EQ(layout.gpu_slot_names, (std::vector<std::string>{"gpu-0", "gpu-1", "gpu-2", "gpu-3"}));
  EXPECT_TRUE(layout.pinned);
  ResourcePool pool = layout.make_pool();
  std::vector<Lease> leases;
  for (int i = 0; i < 4; ++i) {
    auto lease = pool.acquire({1, 1});
    ASSERT_TRUE(lease) << i;
    EXPECT_EQ(lease->cpus, (std::vector<int>{1}));  // shared: one usable core, four tasks
    EXPECT_TRUE(pool.is_gpu_slot(lease->slot));
    leases.push_back(*lease);
  }
  // Spread over the GPUs before doubling up.
  EXPECT_EQ(leases[0].gpus, (std::vector<int>{0}));
  EXPECT_EQ(leases[1].gpus, (std::vector<int>{1}));
  EXPECT_FALSE(pool.acquire({1, 1}));
  pool.release(leases[1]);
  auto again = pool.acquire({1, 1});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->gpus, (std::vector<int>{1}));
}

TEST(GpuSlots, MaxConcurrentIsSpreadOverTheGpus) {
  ResourceOptions options;
  options.gpus = {0, 1};
  options.max_concurrent = 3;
  options.max_task_gpus = 1;
  options.cpu_tasks = false;
  PoolLayout layout = plan_pool(machine(4), options);
  EXPECT_EQ(layout.gpu_slot_names.size(), 3u);
  EXPECT_EQ(layout.per_gpu, 2);
  ResourcePool pool = layout.make_pool();
  int on[2] = {0, 0};
  for (int i = 0; i < 3; ++i) {
    auto lease = pool.acquire({1, 1});
    ASSERT_TRUE(lease);
    ++on[lease->gpus[0]];
  }
  EXPECT_EQ(on[0] + on[1], 3);
  EXPECT_LE(on[0], 2);
  EXPECT_LE(on[1], 2);
  EXPECT_FALSE(pool.acquire({1, 1}));
}

TEST(GpuSlots, CpusNearTheGpuFirstTheLeastUsedFirst) {
  ResourceOptions options;
  options.gpus = {0, 1};
  options.per_gpu = 2;
  options.gpu_cpus = {{1, 2}, {3, 4}};
  options.max_task_gpus = 1;
  options.cpu_tasks = false;
  ResourcePool pool = plan_pool(machine(5), options).make_pool();
  auto a = pool.acquire({1, 1});  // GPU 0
  auto b = pool.acquire({1, 1});  // GPU 1
  auto c = pool.acquire({1, 1});  // GPU 0 again: its other near CPU
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->cpus, (std::vector<int>{1}));
  EXPECT_EQ(b->cpus, (std::vector<int>{3}));
  EXPECT_EQ(c->cpus, (std::vector<int>{2}));
  // A task asking for more CPUs than a GPU has near it takes what there is, shared.
  pool.release(*a);
  auto d = pool.acquire({4, 1});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->gpus, (std::vector<int>{0}));
  EXPECT_EQ(d->cpus, (std::vector<int>{1, 2}));
}

TEST(GpuSlots, CpuTasksKeepTheirOwnSlotsAndCores) {
  ResourceOptions options;
  options.gpus = {0};
  options.per_gpu = 2;
  options.max_task_gpus = 1;
  options.cpu_tasks = true;
  options.jobs = 1;
  PoolLayout layout = plan_pool(machine(2), options);
  EXPECT_EQ(layout.slot_names, (std::vector<std::string>{"0"}));
  EXPECT_EQ(layout.gpu_slot_names.size(), 2u);
  EXPECT_EQ(layout.all_slot_names().size(), 3u);
  ResourcePool pool = layout.make_pool();
  auto cpu = pool.acquire({1, 0});
  ASSERT_TRUE(cpu);
  EXPECT_FALSE(pool.is_gpu_slot(cpu->slot));
  EXPECT_FALSE(pool.acquire({1, 0}));  // the one CPU slot is taken
  EXPECT_TRUE(pool.acquire({1, 1}));   // a GPU task does not wait for it
  EXPECT_TRUE(pool.acquire({1, 1}));
  EXPECT_FALSE(pool.acquire({1, 1}));
}

TEST(GpuSlots, SeveralGpusAreTakenWholeAndAlone) {
  ResourceOptions options;
  options.gpus = {0, 1, 2};
  options.per_gpu = 2;
  options.max_task_gpus = 2;
  options.cpu_tasks = false;
  ResourcePool pool = plan_pool(machine(2), options).make_pool();
  auto shared = pool.acquire({1, 1});  // GPU 0, one of its two places
  ASSERT_TRUE(shared);
  auto whole = pool.acquire({1, 2});   // two idle GPUs: 1 and 2
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->gpus, (std::vector<int>{1, 2}));
  auto next = pool.acquire({1, 1});    // only GPU 0 has room: 1 and 2 are taken whole
  ASSERT_TRUE(next);
  EXPECT_EQ(next->gpus, (std::vector<int>{0}));
  EXPECT_FALSE(pool.acquire({1, 1}));
  EXPECT_FALSE(pool.acquire({1, 2}));  // GPU 0 is busy: not two idle GPUs
  pool.release(*whole);
  auto after = pool.acquire({1, 1});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->gpus, (std::vector<int>{1}));
}

TEST(GpuSlots, GpuTasksWithoutGpusListedAreRefused) {
  ResourceOptions options;
  options.max_task_gpus = 1;
  options.cpu_tasks = false;
  EXPECT_THROW(plan_pool(machine(2), options), UserError);
}

} // namespace
} // namespace bm
