#include "report/progress.hpp"

#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "report/live_display.hpp"

namespace bm {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Fixture {
  Plan plan = Plan::build(parse_config("name: p\ncommand: [x, '{algo}', '{n}']\n"
                                       "matrix: {algo: [a, b, c], n: [10, 1000]}\n",
                                       "p.yaml"));
  Clock::time_point t0 = Clock::now();

  RunHeader header(std::size_t slots = 1) {
    RunHeader header;
    for (std::size_t i = 0; i < plan.size(); ++i) {
      header.tasks.push_back(i);
    }
    header.to_run = plan.size();
    for (std::size_t i = 0; i < slots; ++i) {
      header.slot_names.push_back(std::to_string(i));
    }
    return header;
  }

  // Plan order is algo-major: a/10, a/1000, b/10, b/1000, c/10, c/1000.
  TaskOutcome outcome(std::size_t task, double seconds, TaskStatus status = TaskStatus::Succeeded) {
    TaskOutcome outcome;
    outcome.task = task;
    outcome.status = status;
    outcome.wall_seconds = seconds;
    return outcome;
  }

  void finish(RunProgress& progress, std::size_t task, double seconds, double at) {
    auto now = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at));
    progress.task_started(task, Lease{0, {1}, {}}, 1, now);
    progress.task_finished(outcome(task, seconds), false);
  }
};

TEST(RunProgress, NoEstimateBeforeAnythingIsKnown) {
  Fixture f;
  RunProgress progress(f.plan, {}, f.t0);
  progress.run_started(f.header());
  auto snapshot = progress.snapshot(f.t0);
  EXPECT_EQ(snapshot.total, 6u);
  EXPECT_FALSE(snapshot.eta.has_value());
  EXPECT_NE(RunProgress::status_line(snapshot).find("? left"), std::string::npos);
}

TEST(RunProgress, HistoryOfTheSameSpecComesFirst) {
  Fixture f;
  std::unordered_map<std::string, double> history;
  for (std::size_t i = 0; i < f.plan.size(); ++i) {
    history[f.plan.task_id(i)] = 10.0 * static_cast<double>(i + 1);  // 10 + 20 + ... + 60 = 210 s
  }
  RunProgress progress(f.plan, history, f.t0);
  progress.run_started(f.header(2));
  auto snapshot = progress.snapshot(f.t0);
  ASSERT_TRUE(snapshot.eta.has_value());
  EXPECT_NEAR(*snapshot.eta, 210.0 / 2, 1e-9);  // spread over two slots
}

TEST(RunProgress, TasksOfTheSameWorkloadEstimateEachOther) {
  Fixture f;
  RunProgress progress(f.plan, {}, f.t0);
  progress.run_started(f.header());
  f.finish(progress, 0, 1.0, 1.0);     // a, n=10: 1 s
  f.finish(progress, 1, 100.0, 101.0);  // a, n=1000: 100 s
  // Left: b and c at n=10 (1 s each, like a at n=10) and at n=1000 (100 s each).
  auto now = f.t0 + 101s;
  auto snapshot = progress.snapshot(now);
  ASSERT_TRUE(snapshot.eta.has_value());
  EXPECT_NEAR(*snapshot.eta, 202.0, 1e-6);
  EXPECT_EQ(snapshot.done, 2u);
  // Between estimates it counts down.
  snapshot = progress.snapshot(now + 500ms);
  EXPECT_NEAR(*snapshot.eta, 201.5, 1e-6);
}

TEST(RunProgress, FailuresAndRetriesAreCountedOnce) {
  Fixture f;
  RunProgress progress(f.plan, {}, f.t0);
  progress.run_started(f.header());
  progress.task_started(2, Lease{0, {1}, {}}, 1, f.t0);
  progress.task_finished(f.outcome(2, 1, TaskStatus::Failed), true);  // retried
  EXPECT_EQ(progress.snapshot(f.t0 + 1s).failed, 0u);
  progress.task_started(2, Lease{0, {1}, {}}, 2, f.t0 + 1s);
  EXPECT_EQ(progress.snapshot(f.t0 + 1s).running.size(), 1u);
  progress.task_finished(f.outcome(2, 1, TaskStatus::Failed), false);
  auto snapshot = progress.snapshot(f.t0 + 2s);
  EXPECT_EQ(snapshot.failed, 1u);
  EXPECT_TRUE(snapshot.running.empty());
  EXPECT_NE(RunProgress::status_line(snapshot).find("1/6 done, 0 running, 1 failed"), std::string::npos);
}

TEST(RunProgress, ATaskThatEndedLeavesItsSlotBeforeItIsWritten) {
  Fixture f;
  RunProgress progress(f.plan, {}, f.t0);
  progress.run_started(f.header());
  progress.task_started(0, Lease{0, {1}, {}}, 1, f.t0);
  progress.task_ended(0);
  progress.task_started(1, Lease{0, {1}, {}}, 1, f.t0 + 1s);  // the slot's next task
  auto snapshot = progress.snapshot(f.t0 + 1s);
  ASSERT_EQ(snapshot.running.size(), 1u);
  EXPECT_EQ(snapshot.running[0].task, 1u);
  EXPECT_EQ(snapshot.done, 0u);  // counted once written
  progress.task_finished(f.outcome(0, 1), false);
  EXPECT_EQ(progress.snapshot(f.t0 + 1s).done, 1u);
  EXPECT_EQ(progress.snapshot(f.t0 + 1s).running.size(), 1u);
}

TEST(LiveDisplay, TheBlockFitsTheTerminalOldestFirst) {
  Fixture f;
  RunProgress progress(f.plan, {}, f.t0);
  progress.run_started(f.header(4));
  for (std::size_t task = 0; task < 4; ++task) {
    progress.task_started(task, Lease{static_cast<int>(task), {static_cast<int>(task) + 1}, {}}, 1,
                          f.t0 + std::chrono::seconds(task));
    progress.process_started(task, ProcessStep{Phase::Run, 2, 10});
  }
  auto snapshot = progress.snapshot(f.t0 + 10s);
  auto lines = LiveDisplay::block(snapshot, 40, 5, Colors::of(false), f.t0 + 10s);
  // Five rows: the status line, two slots, "+2 more", and the cursor's line.
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].rfind("[0/6] 4 running", 0), 0u) << lines[0];
  EXPECT_NE(lines[1].find("slot 0"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("run 2/10  10s"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("slot 1"), std::string::npos);
  EXPECT_EQ(lines[3], "  +2 more");
  for (const auto& line : lines) {
    std::size_t columns = 0;
    for (char c : line) {
      columns += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    EXPECT_LT(columns, 40u) << line;  // never the last column: nothing wraps
  }
  // A wide enough terminal shows every slot, the task's label whole.
  lines = LiveDisplay::block(snapshot, 120, 40, Colors::of(false), f.t0 + 10s);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_NE(lines[4].find("algo=b n=1000"), std::string::npos) << lines[4];
}

TEST(LiveDisplay, AWaitingTaskSaysWhy) {
  Fixture f;
  RunProgress progress(f.plan, {}, f.t0);
  progress.run_started(f.header(1));
  progress.task_started(0, Lease{0, {1}, {0}}, 1, f.t0);
  progress.process_started(0, ProcessStep{Phase::Run, 1, 5});
  progress.task_waiting(0, "GPU 0 at 91C, above thermal_limit 80C: waiting for it to cool");
  auto lines = LiveDisplay::block(progress.snapshot(f.t0 + 2s), 160, 10, Colors::of(false), f.t0 + 2s);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("waiting: GPU 0 at 91C"), std::string::npos) << lines[1];
  progress.task_waiting(0, "");  // its process started
  lines = LiveDisplay::block(progress.snapshot(f.t0 + 3s), 160, 10, Colors::of(false), f.t0 + 3s);
  EXPECT_NE(lines[1].find("run 1/5"), std::string::npos) << lines[1];
}

} // namespace
} // namespace bm
