#include "slurm/slurm.hpp"

#include <gtest/gtest.h>

namespace bm::slurm {
namespace {

BundleTask task(const std::string& key, Request request = {}, std::optional<double> seconds = std::nullopt,
                std::optional<double> bound = std::nullopt) {
  BundleTask result;
  result.key = key;
  result.request = request;
  result.seconds = seconds;
  result.bound = bound;
  return result;
}

std::vector<std::size_t> sizes(const ArrayPlan& array) {
  std::vector<std::size_t> result;
  for (const auto& element : array.elements) {
    result.push_back(element.tasks.size());
  }
  return result;
}

TEST(SlurmBundle, OneArrayPerRequestSplitAtMaxArraySize) {
  SlurmSettings settings;
  std::vector<BundleTask> tasks;
  for (int i = 0; i < 7; ++i) {
    tasks.push_back(task("cpu" + std::to_string(i)));
  }
  tasks.push_back(task("gpu", {2, 1, 0}));
  auto arrays = bundle(tasks, settings, 5);
  ASSERT_EQ(arrays.size(), 3u);
  EXPECT_EQ(sizes(arrays[0]), std::vector<std::size_t>(5, 1));
  EXPECT_EQ(sizes(arrays[1]), std::vector<std::size_t>(2, 1));
  EXPECT_EQ(arrays[2].request, (Request{2, 1, 0}));
  EXPECT_EQ(arrays[2].elements[0].tasks, std::vector<std::string>{"gpu"});
}

TEST(SlurmBundle, ShortTasksWithHistoryShareElementsUpToTheTarget) {
  SlurmSettings settings;
  settings.element_time = std::chrono::seconds(10);
  // Four 3 s tasks fill elements of at most 10 s: 3+3+3, then 3; a task without history is alone.
  auto arrays = bundle({task("a", {}, 3.0), task("b", {}, 3.0), task("new"), task("c", {}, 3.0), task("d", {}, 3.0)},
                       settings, 1001);
  ASSERT_EQ(arrays.size(), 1u);
  ASSERT_EQ(arrays[0].elements.size(), 3u);
  EXPECT_EQ(arrays[0].elements[0].tasks, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(arrays[0].elements[1].tasks, std::vector<std::string>{"new"});
  EXPECT_EQ(arrays[0].elements[2].tasks, std::vector<std::string>{"d"});
  // A fixed count wins.
  settings.tasks_per_element = 2;
  arrays = bundle({task("a"), task("b"), task("c")}, settings, 1001);
  EXPECT_EQ(sizes(arrays[0]), (std::vector<std::size_t>{2, 1}));
}

TEST(SlurmBundle, TimeLimitsComeFromTheTasksBounds) {
  SlurmSettings settings;
  settings.tasks_per_element = 2;
  auto arrays = bundle({task("a", {}, std::nullopt, 60.0), task("b", {}, std::nullopt, 120.0)}, settings, 1001);
  ASSERT_EQ(arrays[0].elements.size(), 1u);
  // 180 s of tasks plus 300 s of margin: 8 minutes.
  EXPECT_EQ(element_minutes(arrays[0].elements[0], settings), 8);
  arrays = bundle({task("a", {}, std::nullopt, 60.0), task("unbounded")}, settings, 1001);
  EXPECT_EQ(element_minutes(arrays[0].elements[0], settings), std::nullopt);
  settings.time = std::chrono::minutes(90);
  EXPECT_EQ(element_minutes(arrays[0].elements[0], settings), 90);
}

TEST(SlurmBundle, SbatchArgumentsAskForWhatTheTasksNeed) {
  SlurmSettings settings;
  settings.partition = "gpu";
  settings.account = "lab";
  settings.qos = "high";
  settings.max_running = 4;
  settings.sbatch = {"--constraint=h100"};
  ArrayPlan plan;
  plan.request = {8, 2, 3ULL << 30};
  plan.elements = {Element{{"a"}, 60.0}, Element{{"b"}, 30.0}};
  auto args = sbatch_arguments(plan, settings, "benchmatrix-x", "/o/%a.out", "/w");
  auto has = [&](const std::string& flag) { return std::find(args.begin(), args.end(), flag) != args.end(); };
  EXPECT_TRUE(has("--array=0-1%4"));
  EXPECT_TRUE(has("--cpus-per-task=8"));
  EXPECT_TRUE(has("--mem=3072M"));
  EXPECT_TRUE(has("--gres=gpu:2"));
  EXPECT_TRUE(has("--time=6"));  // the longer element: 60 s + 300 s
  EXPECT_TRUE(has("--signal=B:USR2@90"));
  EXPECT_TRUE(has("--partition=gpu") && has("--account=lab") && has("--qos=high") && has("--constraint=h100"));
  EXPECT_TRUE(has("--job-name=benchmatrix-x") && has("--output=/o/%a.out") && has("--chdir=/w"));
  settings.gpus_per_task = true;
  settings.tasks_at_once = 2;
  args = sbatch_arguments(plan, settings, "n", "o", "w");
  EXPECT_TRUE(has("--gpus-per-task=4"));
  EXPECT_TRUE(has("--cpus-per-task=16"));
}

TEST(SlurmParse, SqueueListsElementsAndUnsplitRanges) {
  auto states = parse_squeue("12_0|RUNNING\n12_[1-3%2]|PENDING\n13|COMPLETING\n\ngarbage\n14_[5,7]|PENDING\n");
  EXPECT_EQ(states.at("12_0"), "RUNNING");
  EXPECT_EQ(states.at("12_1"), "PENDING");
  EXPECT_EQ(states.at("12_3"), "PENDING");
  EXPECT_EQ(states.count("12_4"), 0u);
  EXPECT_EQ(states.at("13"), "COMPLETING");
  EXPECT_EQ(states.at("14_7"), "PENDING");
  EXPECT_EQ(states.count("14_6"), 0u);
}

TEST(SlurmParse, SacctAndScontrolSayHowJobsEnded) {
  auto ends = parse_sacct("12_0|COMPLETED|0:0\n12_0.batch|COMPLETED|0:0\n12_1|CANCELLED by 0|0:15\n12_2|NODE_FAIL|0:0\n");
  EXPECT_EQ(ends.at("12_0").state, "COMPLETED");
  EXPECT_EQ(ends.at("12_1").state, "CANCELLED");
  EXPECT_EQ(ends.at("12_1").exit_code, "0:15");
  EXPECT_EQ(ends.count("12_0.batch"), 0u);
  // scontrol -o: one line per element; the first element's own id is the array's.
  auto shown = parse_scontrol(
      "JobId=12 ArrayJobId=12 ArrayTaskId=3 JobName=x JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15 Nodes=n1\n"
      "JobId=13 ArrayJobId=12 ArrayTaskId=0 JobName=x JobState=OUT_OF_MEMORY Reason=OutOfMemory ExitCode=0:125\n"
      "JobId=20 JobName=y JobState=PREEMPTED Reason=None ExitCode=0:0\n");
  EXPECT_EQ(shown.at("12_3").state, "TIMEOUT");
  EXPECT_EQ(shown.at("12_0").state, "OUT_OF_MEMORY");
  EXPECT_EQ(shown.at("20").state, "PREEMPTED");
}

TEST(SlurmParse, GpusFromTheEnvironmentOrTheJobsGres) {
  EXPECT_EQ(parse_gpu_ids("0,2-3"), (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(parse_gpu_ids(""), std::nullopt);
  EXPECT_EQ(parse_gpu_ids("N/A"), std::nullopt);
  EXPECT_EQ(parse_gpu_ids("GPU-1234"), std::nullopt);
  std::string shown = "   JOB_GRES=gpu:2\n     Nodes=bmnode CPU_IDs=0 Mem=100 GRES=gpu:2(IDX:1,3)\n   TresPerNode=gres:gpu:2\n";
  EXPECT_EQ(gres_gpu_indices(shown), (std::vector<int>{1, 3}));
  EXPECT_EQ(gres_gpu_indices("JOB_GRES=(null)\n"), std::vector<int>{});
  EXPECT_EQ(parse_max_array_size("MaxArraySize            = 1001\nMaxJobCount = 10000\n"), 1001u);
  EXPECT_EQ(parse_max_array_size("nothing"), std::nullopt);
}

TEST(SlurmClassify, OnlyTheClusterIsBlamedForWhatTheClusterDid) {
  auto end = [](std::string state) { return std::optional<JobEnd>(JobEnd{std::move(state), "0:0", ""}); };
  EXPECT_EQ(classify(end("CANCELLED"), false, false), Loss::NeverStarted);
  EXPECT_EQ(classify(std::nullopt, false, false), Loss::NeverStarted);
  EXPECT_EQ(classify(end("NODE_FAIL"), true, false), Loss::NodeFailure);
  EXPECT_EQ(classify(end("PREEMPTED"), true, false), Loss::Preempted);
  EXPECT_EQ(classify(end("CANCELLED"), true, true), Loss::Preempted);  // the worker saw the warning
  EXPECT_EQ(classify(end("TIMEOUT"), true, false), Loss::TimedOut);
  EXPECT_EQ(classify(end("OUT_OF_MEMORY"), true, false), Loss::OutOfMemory);
  EXPECT_EQ(classify(end("CANCELLED"), true, false), Loss::Cancelled);
  EXPECT_EQ(classify(end("COMPLETED"), true, false), Loss::EndedEarly);
  EXPECT_EQ(classify(std::nullopt, true, false), Loss::Unknown);
}

TEST(SlurmClient, TransientErrorsAreKnownByTheirWords) {
  EXPECT_TRUE(is_transient("sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"));
  EXPECT_TRUE(is_transient("squeue: error: Unable to contact slurm controller (connect failure)"));
  EXPECT_TRUE(is_transient("sbatch: error: Resource temporarily unavailable"));
  EXPECT_FALSE(is_transient("sbatch: error: invalid partition specified: nope"));
  EXPECT_FALSE(is_transient("sbatch: unrecognized option '--bogus'"));
}

} // namespace
} // namespace bm::slurm
