#include "plan/plan.hpp"

#include <chrono>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "config/loader.hpp"

namespace bm {
namespace {

Plan plan_of(const std::string& yaml) {
  return Plan::build(parse_config(yaml, "test.yaml"));
}

std::string example(const std::string& name) {
  return std::string(BENCHMATRIX_SOURCE_DIR) + "/examples/" + name;
}

TEST(Plan, SeedExamplesExpandToTheStatedCounts) {
  EXPECT_EQ(Plan::build(load_config(example("seed004_sparse_attention.yaml"))).size(), 12u);
  EXPECT_EQ(Plan::build(load_config(example("seed004_sparse_attention_advanced.yaml"))).size(), 32u);
  EXPECT_EQ(Plan::build(load_config(example("seed001_inference_engines.yaml"))).size(), 10u);
  EXPECT_EQ(Plan::build(load_config(example("seed002_autotune.yaml"))).size(), 12u);
  EXPECT_EQ(Plan::build(load_config(example("sorting.yaml"))).size(), 14u);
}

TEST(Plan, Seed004PathsNestSubsetsIntoTheirBenchmark) {
  Plan plan = Plan::build(load_config(example("seed004_sparse_attention.yaml")));
  std::set<std::string> paths;
  for (size_t i = 0; i < plan.size(); ++i) {
    paths.insert(plan.relative_path(i));
  }
  EXPECT_EQ(paths.size(), 12u);
  EXPECT_TRUE(paths.count("meta_llama_Llama_3.1_8B_Instruct/dense/longbench_narrativeqa"));
  EXPECT_TRUE(paths.count("microsoft_Phi_4_mini_instruct/streaming/mock_benchmark"));
  // The subset placeholder is empty where the benchmark has no subsets.
  for (size_t i = 0; i < plan.size(); ++i) {
    if (plan.relative_path(i) == "microsoft_Phi_4_mini_instruct/streaming/mock_benchmark") {
      auto argv = plan.render(i, nullptr).command;
      EXPECT_NE(std::find(argv.begin(), argv.end(), "--subset="), argv.end());
      EXPECT_NE(std::find(argv.begin(), argv.end(), "--attention-config=configs/streaming.json"), argv.end());
    }
  }
}

TEST(Plan, OrderIsPinnedFirstAxisSlowestNestedRightAfterParent) {
  Plan plan = plan_of(R"(
name: t
command: [x, "{a}", "{b}", "{s}"]
matrix:
  a: [1, 2]
  b:
    - name: p
      matrix: {s: [u, v]}
    - q
)");
  std::vector<std::string> labels;
  for (size_t i = 0; i < plan.size(); ++i) {
    labels.push_back(plan.label(i));
  }
  EXPECT_EQ(labels, (std::vector<std::string>{"a=1 b=p s=u", "a=1 b=p s=v", "a=1 b=q", "a=2 b=p s=u", "a=2 b=p s=v",
                                              "a=2 b=q"}));
}

TEST(Plan, ExcludeAndIncludeShapeTheMatrix) {
  Plan plan = plan_of(R"(
name: t
command: [x, "{algo}", "{n}"]
matrix:
  algo: [std_sort, heap_sort]
  n: [10, 20]
exclude: [{algo: heap_sort, n: 10}]
include: [{algo: heap_sort, n: 10}, {algo: radix, n: 30}, {algo: std_sort, n: 10}]
)");
  std::vector<std::string> labels;
  for (size_t i = 0; i < plan.size(); ++i) {
    labels.push_back(plan.label(i));
  }
  EXPECT_EQ(labels, (std::vector<std::string>{"algo=std_sort n=10", "algo=std_sort n=20", "algo=heap_sort n=20",
                                              "algo=heap_sort n=10", "algo=radix n=30"}));
}

TEST(Plan, ExcludeNamingUnknownAxisOrValueIsAnError) {
  EXPECT_THROW(plan_of("name: t\ncommand: [x, '{a}']\nmatrix: {a: [1]}\nexclude: [{b: 1}]\n"), UserError);
  EXPECT_THROW(plan_of("name: t\ncommand: [x, '{a}']\nmatrix: {a: [1, 2]}\nexclude: [{a: 3}]\n"), UserError);
  EXPECT_THROW(plan_of("name: t\ncommand: [x, '{a}']\nmatrix: {a: [1]}\nexclude: [{a: 1}]\n"), UserError);
  EXPECT_THROW(plan_of("name: t\ncommand: [x, '{a}']\nmatrix: {a: [1], b: [2]}\ninclude: [{a: 1}]\n"), UserError);
}

TEST(Plan, UnknownPlaceholdersAndMissingFieldsAreErrorsWithLocation) {
  try {
    plan_of("name: t\ncommand: [x, '{nope}']\nmatrix: {a: [1]}\n");
    FAIL();
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("test.yaml:2:14"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("{nope}"), std::string::npos) << error.what();
  }
  EXPECT_THROW(plan_of("name: t\ncommand: [x, '{a.bin}']\nmatrix: {a: [{name: p, bin: b}, q]}\n"), UserError);
}

TEST(Plan, BaselineMustNameAnAxisValue) {
  EXPECT_THROW(plan_of("name: t\ncommand: [x, '{a}']\nmatrix: {a: [1, 2]}\nanalysis: {baseline: {b: 1}}\n"), UserError);
  EXPECT_THROW(plan_of("name: t\ncommand: [x, '{a}']\nmatrix: {a: [1, 2]}\nanalysis: {baseline: {a: 3}}\n"), UserError);
  EXPECT_NO_THROW(plan_of("name: t\ncommand: [x, '{a}']\nmatrix: {a: [1, 2]}\nanalysis: {baseline: {a: 2}}\n"));
}

TEST(Plan, DuplicateAxisNamesOnOnePathAreRefused) {
  EXPECT_THROW(plan_of("name: t\ncommand: [x]\nmatrix:\n  a:\n    - {name: p, matrix: {a: [1]}}\n"), UserError);
}

TEST(Plan, SpecHashIsStableAndCoversWhatDefinesTheWork) {
  const char* base = "name: t\ncommand: [x, '{a}', '{slot}']\nmatrix: {a: [1, 2]}\n";
  Plan one = plan_of(base);
  Plan two = plan_of(base);
  EXPECT_EQ(one.task_id(0), two.task_id(0));
  EXPECT_NE(one.task_id(0), one.task_id(1));
  EXPECT_EQ(one.task_id(0).size(), 16u);
  // Changing the repeat count, the env or the argv changes the hash; the name does not.
  Plan runs = plan_of(std::string(base) + "repeat: {runs: 3}\n");
  Plan env = plan_of(std::string(base) + "env: {X: '1'}\n");
  Plan retries = plan_of(std::string(base) + "task: {retries: 2, timeout: 5s}\n");
  Plan renamed = plan_of("name: other\ncommand: [x, '{a}', '{slot}']\nmatrix: {a: [1, 2]}\n");
  EXPECT_NE(runs.task_id(0), one.task_id(0));
  EXPECT_NE(env.task_id(0), one.task_id(0));
  EXPECT_EQ(retries.task_id(0), one.task_id(0));
  EXPECT_EQ(renamed.task_id(0), one.task_id(0));
}

TEST(Plan, PerValueOverridesApplyInAxisOrder) {
  Plan plan = plan_of(R"(
name: t
command: [x, "{w}"]
repeat: {warmup: 1, runs: 5}
task: {priority: low, timeout: 10s}
matrix:
  w:
    - {name: latency, repeat: {warmup: 10, runs: 100}, task: {priority: high}}
    - throughput
)");
  EXPECT_EQ(plan.settings(0).runs, 100);
  EXPECT_EQ(plan.settings(0).warmup, 10);
  EXPECT_EQ(plan.priority(0), Priority::High);
  EXPECT_EQ(plan.settings(1).runs, 5);
  EXPECT_EQ(plan.priority(1), Priority::Low);
  EXPECT_EQ(plan.settings(1).timeout, std::chrono::nanoseconds(std::chrono::seconds(10)));
}

TEST(Plan, ShellModePassesValuesThroughTheEnvironmentSoTheyCannotInject) {
  Plan plan = plan_of(R"yaml(
name: t
shell: true
command: "echo {v} '{v}' > {result_dir}/x"
matrix:
  v: ["$(touch /tmp/pwned)", "a'b"]
)yaml");
  TaskCommands commands = plan.render(0, nullptr);
  ASSERT_EQ(commands.command.size(), 3u);
  EXPECT_EQ(commands.command[0], "/bin/sh");
  EXPECT_EQ(commands.command[2],
            "echo \"${BENCHMATRIX_AXIS_v}\" ''\"${BENCHMATRIX_AXIS_v}\"'' > \"${BENCHMATRIX_RESULT_DIR}\"/x");
  EXPECT_EQ(commands.shell_variables, (EnvList{{"BENCHMATRIX_AXIS_v", "$(touch /tmp/pwned)"}}));
  EXPECT_EQ(plan.render(1, nullptr).shell_variables, (EnvList{{"BENCHMATRIX_AXIS_v", "a'b"}}));
}

TEST(Plan, RuntimeValuesFillAtStartButNotInTheHash) {
  Plan plan = plan_of("name: t\ncommand: [x, '--dev=%%PARALLEL%%', '{cores}', '{result_dir}']\n");
  ASSERT_EQ(plan.size(), 1u);
  RuntimeContext runtime{"gpu1", "3", "", "/out/tasks/task", "id"};
  auto argv = plan.render(0, &runtime).command;
  EXPECT_EQ(argv, (std::vector<std::string>{"x", "--dev=gpu1", "3", "/out/tasks/task"}));
  EXPECT_EQ(plan.relative_path(0), "task");
}

TEST(Plan, HugeMatricesAreRefusedBeforeAllocating) {
  std::string values;
  for (int i = 0; i < 300; ++i) {
    values += (i ? "," : "") + std::to_string(i);
  }
  std::string yaml = "name: t\ncommand: [x]\nmatrix: {a: [" + values + "], b: [" + values + "], c: [" + values + "]}\n";
  EXPECT_THROW(plan_of(yaml), UserError);
}

TEST(Plan, AMillionTasksPlanCompactly) {
  // 100 x 100 x 100: stored as indices. Not a timing assertion: the test only checks it works;
  // bench/ measures the time.
  std::string values;
  for (int i = 0; i < 100; ++i) {
    values += (i ? "," : "") + std::to_string(i);
  }
  Plan plan = plan_of("name: t\ncommand: [x, '{a}', '{b}', '{c}']\nmatrix: {a: [" + values + "], b: [" + values +
                      "], c: [" + values + "]}\n");
  EXPECT_EQ(plan.size(), 1'000'000u);
  EXPECT_EQ(plan.label(999'999), "a=99 b=99 c=99");
  EXPECT_EQ(plan.relative_path(123'456), "12/34/56");
}

} // namespace
} // namespace bm

namespace bm {
namespace {

TEST(Plan, ALargePlanIsHashedInParallelAndReportsTheFirstFailingTaskInOrder) {
  // 300 x 200 = 60,000 tasks: above the size hashed on several threads. Values a=v100 and
  // a=v299 lack the field the command uses; the error names the first in plan order.
  std::string values;
  std::string full;
  for (int i = 0; i < 300; ++i) {
    std::string name = fmt::format("v{}", i);
    std::string with_field = fmt::format("{{name: {}, f: x}}", name);
    values.append(i == 0 ? "" : ", ").append(i == 100 || i == 299 ? name : with_field);
    full.append(i == 0 ? "" : ", ").append(with_field);
  }
  std::string bs;
  for (int i = 0; i < 200; ++i) {
    bs.append(i == 0 ? "" : ",").append(std::to_string(i));
  }
  try {
    plan_of("name: t\ncommand: ['{a.f}', '{b}']\nmatrix: {a: [" + values + "], b: [" + bs + "]}\n");
    FAIL() << "expected a missing-field error";
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("a=v100 b=0"), std::string::npos) << error.what();
  }
  // Without the gaps the hashes equal a plan hashed alone (one thread below 50,000 tasks).
  Plan large = plan_of("name: t\ncommand: ['{a.f}', '{b}']\nmatrix: {a: [" + full + "], b: [" + bs + "]}\n");
  Plan single = plan_of("name: t\ncommand: ['{a.f}', '{b}']\nmatrix: {a: [{name: v299, f: x}], b: [199]}\n");
  ASSERT_EQ(large.size(), 60000U);
  EXPECT_EQ(large.task_id(large.size() - 1), single.task_id(0));
}

} // namespace
} // namespace bm
