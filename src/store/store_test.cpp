#include "store/store.hpp"

#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "util/fs.hpp"

namespace bm {
namespace {

std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::path(::testing::TempDir()) / ("bm_store_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

bool begin(Store& store, const Plan& plan, std::size_t task, int attempt) {
  std::string warning;
  bool usable = store.begin_task(plan, task, attempt, "0", {1}, {}, warning);
  EXPECT_EQ(warning, "");
  return usable;
}

TaskOutcome succeeded(std::size_t task) {
  TaskOutcome outcome;
  outcome.task = task;
  RunRecord run;
  run.index = 1;
  run.exit_code = 0;
  run.wall_seconds = 0.5;
  run.outcome = "succeeded";
  outcome.runs.push_back(run);
  return outcome;
}

TEST(Store, ResultJsonMarksDoneOnlyForTheSameSpec) {
  auto out = fresh_dir("states");
  Plan plan = Plan::build(parse_config("name: t\ncommand: [x, '{a}']\nmatrix: {a: [1, 2]}\n", "c"));
  {
    Store store(out);
    EXPECT_EQ(store.state(plan, 0), TaskState::Pending);
    EXPECT_FALSE(std::filesystem::exists(out));  // a view creates nothing
    store.open_for_run(plan, nlohmann::json::object());
    ASSERT_TRUE(begin(store, plan, 0, 1));
    store.describe_task(plan, 0);  // journals the start, as the runner does once it has started
    EXPECT_EQ(store.state(plan, 0), TaskState::Pending);
    store.finish_task(plan, succeeded(0), nlohmann::json::object());
    TaskOutcome failed = succeeded(1);
    failed.status = TaskStatus::Failed;
    failed.reason = "run 1 of 1: exit code 2";
    ASSERT_TRUE(begin(store, plan, 1, 1));
    store.describe_task(plan, 1);
    store.finish_task(plan, failed, nlohmann::json::object());
    store.commit(true);
    EXPECT_EQ(store.state(plan, 0), TaskState::Done);
    EXPECT_EQ(store.state(plan, 1), TaskState::Failed);
    EXPECT_EQ(store.states(plan, {1, 0}), (std::vector<TaskState>{TaskState::Failed, TaskState::Done}));
  }
  {
    // A task of a larger plan that never ran is pending in the one-walk check too.
    Plan larger = Plan::build(parse_config("name: t\ncommand: [x, '{a}']\nmatrix: {a: [1, 2, 3]}\n", "c"));
    EXPECT_EQ(Store(out).states(larger, {0, 1, 2}),
              (std::vector<TaskState>{TaskState::Done, TaskState::Failed, TaskState::Pending}));
  }
  // The same folders under a changed spec are stale.
  Plan changed = Plan::build(parse_config("name: t\ncommand: [x, '{a}', -v]\nmatrix: {a: [1, 2]}\n", "c"));
  Store view(out);
  EXPECT_EQ(view.state(changed, 0), TaskState::Stale);
  EXPECT_EQ(view.state(changed, 1), TaskState::Stale);
  EXPECT_EQ(view.states(changed, {0, 1}), (std::vector<TaskState>{TaskState::Stale, TaskState::Stale}));
  EXPECT_EQ(Store(out / "nothing-here").states(changed, {0, 1}),
            (std::vector<TaskState>{TaskState::Pending, TaskState::Pending}));

  auto events = Journal::read(out / "journal.jsonl");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[1]["event"], "task-succeeded");
  EXPECT_EQ(events[3]["reason"], "run 1 of 1: exit code 2");
  auto plan_json = nlohmann::json::parse(read_file(out / "plan.json"));
  EXPECT_EQ(plan_json["schema"], 1);
  EXPECT_EQ(plan_json["task_count"], 2);
}

TEST(Store, TornResultIsNotDoneAndANewAttemptClearsOldMarkers) {
  auto out = fresh_dir("torn");
  Plan plan = Plan::build(parse_config("name: t\ncommand: [x]\n", "c"));
  Store store(out);
  store.open_for_run(plan, nlohmann::json::object());
  ASSERT_TRUE(begin(store, plan, 0, 1));
  write_file_atomic(store.task_dir(plan, 0) / "result.json", "{\"task_id\": \"" + plan.task_id(0));
  EXPECT_EQ(store.state(plan, 0), TaskState::Pending);
  store.finish_task(plan, succeeded(0), nlohmann::json::object());
  EXPECT_EQ(store.state(plan, 0), TaskState::Done);
  ASSERT_TRUE(begin(store, plan, 0, 2));
  EXPECT_EQ(store.state(plan, 0), TaskState::Pending);
  store.describe_task(plan, 0);
  auto task_json = nlohmann::json::parse(read_file(store.task_dir(plan, 0) / "task.json"));
  EXPECT_EQ(task_json["task_id"], plan.task_id(0));
  EXPECT_EQ(task_json["environment"]["run"], store.run_dir().filename().string());
}

TEST(Store, AFolderMadeAheadIsUsedAndAnOldOneIsClearedOnlyAtTheStart) {
  auto out = fresh_dir("ahead");
  Plan plan = Plan::build(parse_config("name: t\ncommand: [x]\nmatrix: {a: [p, q]}\n", "c"));
  Store store(out);
  store.open_for_run(plan, nlohmann::json::object());
  store.prepare_folder(plan, 0);
  EXPECT_TRUE(std::filesystem::is_directory(store.task_dir(plan, 0)));
  ASSERT_TRUE(begin(store, plan, 0, 1));
  store.finish_task(plan, succeeded(0), nlohmann::json::object());
  // A finished task's folder made "ahead" again keeps its result until its attempt begins.
  store.prepare_folder(plan, 0);
  EXPECT_EQ(store.state(plan, 0), TaskState::Done);
  write_file_atomic(store.task_dir(plan, 0) / "stdout.log", "old output\n");
  ASSERT_TRUE(begin(store, plan, 0, 2));
  EXPECT_EQ(store.state(plan, 0), TaskState::Pending);
  EXPECT_FALSE(std::filesystem::exists(store.task_dir(plan, 0) / "stdout.log"));
}

TEST(Store, ASecondRunOnTheSameOutIsRefused) {
  auto out = fresh_dir("lock");
  Plan plan = Plan::build(parse_config("name: t\ncommand: [x]\n", "c"));
  Store first(out);
  first.open_for_run(plan, nlohmann::json::object());
  Store second(out);
  try {
    second.open_for_run(plan, nlohmann::json::object());
    FAIL();
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("pid " + std::to_string(::getpid())), std::string::npos)
        << error.what();
  }
}

} // namespace
} // namespace bm
