#include "sched/scheduler.hpp"

#include <gtest/gtest.h>

namespace bm {
namespace {

std::vector<size_t> order(Scheduler& scheduler) {
  std::vector<size_t> tasks;
  while (auto next = scheduler.peek()) {
    tasks.push_back(next->task);
    scheduler.pop();
  }
  return tasks;
}

TEST(Scheduler, PriorityThenSubmissionOrder) {
  Scheduler scheduler;
  scheduler.submit(0, Priority::Normal);
  scheduler.submit(1, Priority::Low);
  scheduler.submit(2, Priority::High);
  scheduler.submit(3, Priority::Normal);
  scheduler.submit(4, Priority::High);
  EXPECT_EQ(scheduler.size(), 5u);
  EXPECT_EQ(order(scheduler), (std::vector<size_t>{2, 4, 0, 3, 1}));
  EXPECT_TRUE(scheduler.empty());
}

TEST(Scheduler, RetriesGoBehindWaitingTasksOfTheirPriority) {
  Scheduler scheduler;
  scheduler.submit(0, Priority::Normal);
  scheduler.submit(1, Priority::Normal);
  auto first = scheduler.peek();
  scheduler.pop();
  scheduler.submit(first->task, Priority::Normal, first->attempt + 1);
  auto next = scheduler.peek();
  EXPECT_EQ(next->task, 1u);
  scheduler.pop();
  EXPECT_EQ(scheduler.peek()->task, 0u);
  EXPECT_EQ(scheduler.peek()->attempt, 2);
}

TEST(Scheduler, DrainReturnsWhatNeverStarted) {
  Scheduler scheduler;
  for (size_t i = 0; i < 5; ++i) {
    scheduler.submit(i, Priority::Normal);
  }
  scheduler.pop();
  EXPECT_EQ(scheduler.drain().size(), 4u);
  EXPECT_TRUE(scheduler.empty());
}

} // namespace
} // namespace bm
