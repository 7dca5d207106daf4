#include "stats/analysis.hpp"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

#include "collect/noise.hpp"
#include "util/environment.hpp"

namespace bm {
namespace {

TaskSamples task_of(const std::string& build, const std::vector<double>& values, int per_process = 1) {
  TaskSamples task;
  task.task_id = build;
  task.path = build;
  task.axes = {{"build", build}};
  task.metric_order = {"t"};
  task.info["t"] = MetricInfo{"s", false};
  for (std::size_t i = 0; i < values.size(); ++i) {
    task.samples["t"].push_back(values[i]);
    task.runs["t"].push_back(static_cast<int>(i) / per_process + 1);
    task.started["t"].push_back(0);
  }
  return task;
}

std::vector<double> lognormal(double median, double sigma, std::size_t n, unsigned seed) {
  std::mt19937_64 random(seed);
  std::normal_distribution<double> normal(0, sigma);
  std::vector<double> values(n);
  for (auto& value : values) {
    value = median * std::exp(normal(random));
  }
  return values;
}

Analysis compare(const std::vector<TaskSamples>& tasks, double threshold = 0.02) {
  ResultsTree tree;
  tree.tasks = tasks;
  tree.axis_order = {"build"};
  AnalysisSettings settings;
  settings.baseline_axis = "build";
  settings.baseline_value = "base";
  settings.threshold = threshold;
  return analyze(tree, settings);
}

const Comparison& find(const Analysis& analysis, const std::string& label) {
  for (const auto& c : analysis.comparisons) {
    if (c.label == label) {
      return c;
    }
  }
  throw std::runtime_error("no comparison " + label);
}

TEST(Verdicts, TheRuleFollowsTheIntervalAndNeverContradictsIt) {
  auto base = lognormal(1.0, 0.01, 20, 1);
  Analysis analysis = compare({task_of("base", base), task_of("slow", lognormal(1.5, 0.01, 20, 2)),
                               task_of("fast", lognormal(0.7, 0.01, 20, 3)), task_of("same", lognormal(1.0, 0.002, 20, 4)),
                               task_of("small", lognormal(1.01, 0.01, 20, 5)), task_of("noisy", lognormal(1.1, 0.5, 20, 6))});
  EXPECT_EQ(find(analysis, "build=slow").verdict, Verdict::Regressed);
  EXPECT_EQ(verdict_text(find(analysis, "build=slow")).substr(0, 13), "regressed: 1.");
  EXPECT_EQ(find(analysis, "build=small").verdict, Verdict::Unchanged);  // 1% with 1% noise: within +-2%
  EXPECT_EQ(find(analysis, "build=fast").verdict, Verdict::Improved);
  EXPECT_EQ(find(analysis, "build=same").verdict, Verdict::Unchanged);
  const Comparison& noisy = find(analysis, "build=noisy");
  EXPECT_EQ(noisy.verdict, Verdict::Inconclusive);
  EXPECT_GT(noisy.runs_needed, 20u);
  for (const auto& c : analysis.comparisons) {
    ASSERT_TRUE(c.ratio_ci.ok) << c.label;
    EXPECT_LE(c.ratio_ci.low, c.ratio) << c.label;
    EXPECT_GE(c.ratio_ci.high, c.ratio) << c.label;
    bool beyond = c.ratio_ci.low > 1.02 || c.ratio_ci.high < 1 / 1.02;
    bool within = c.ratio_ci.low >= 1 / 1.02 && c.ratio_ci.high <= 1.02;
    bool decided = c.verdict == Verdict::Regressed || c.verdict == Verdict::Improved;
    EXPECT_EQ(decided, beyond && c.p_adjusted < 0.05) << c.label;
    EXPECT_EQ(c.verdict == Verdict::Unchanged, within) << c.label;
    // Holm over 5 comparisons: the intervals are simultaneous ones at 1 - 0.05 / 5.
    EXPECT_DOUBLE_EQ(c.family_confidence, 0.99) << c.label;
  }
  EXPECT_EQ(analysis.counts_line(), "1 regressed, 1 improved, 2 unchanged, 1 inconclusive, 0 failed");
  EXPECT_TRUE(analysis.gate_fails(false));
  // Buckets in the order that needs attention first.
  EXPECT_EQ(analysis.comparisons.front().verdict, Verdict::Regressed);
}

TEST(Verdicts, AComparisonAcrossNodeTypesSaysSo) {
  TaskSamples base = task_of("base", lognormal(1.0, 0.01, 10, 1));
  TaskSamples same = task_of("same", lognormal(1.0, 0.01, 10, 2));
  TaskSamples other = task_of("other", lognormal(1.0, 0.01, 10, 3));
  base.node_type = same.node_type = "AMD EPYC + NVIDIA H200";
  other.node_type = "Intel Xeon + NVIDIA A100";
  Analysis analysis = compare({base, same, other});
  auto crossed = [](const Comparison& c) {
    return std::any_of(c.flags.begin(), c.flags.end(), [](const std::string& f) { return f.find("node types") != std::string::npos; });
  };
  EXPECT_FALSE(crossed(find(analysis, "build=same")));
  EXPECT_TRUE(crossed(find(analysis, "build=other")));
  EXPECT_TRUE(std::any_of(analysis.warnings.begin(), analysis.warnings.end(),
                          [](const std::string& w) { return w.find("ran on 2 node types") != std::string::npos; }));
}

TEST(Verdicts, FailedMissingAndTimedOutTasksAreBucketsOfTheirOwn) {
  ResultsTree tree;
  tree.tasks = {task_of("base", lognormal(1, 0.01, 10, 1)), task_of("same", lognormal(1, 0.001, 10, 2))};
  UnfinishedTask failed;
  failed.task_id = failed.path = "crash";
  failed.axes = {{"build", "crash"}};
  failed.state = UnfinishedTask::State::Failed;
  failed.reason = "run 2 of 10: killed by SIGSEGV";
  UnfinishedTask late = failed;
  late.axes = {{"build", "late"}};
  late.state = UnfinishedTask::State::TimedOut;
  late.reason = "run 1 of 10: timed out after 5s";
  UnfinishedTask pending = failed;
  pending.axes = {{"build", "later"}};
  pending.state = UnfinishedTask::State::Pending;
  tree.unfinished = {failed, late, pending};
  AnalysisSettings settings;
  settings.baseline_axis = "build";
  settings.baseline_value = "base";
  settings.threshold = 0.05;
  Analysis analysis = analyze(tree, settings);
  ASSERT_EQ(analysis.comparisons.size(), 4u);
  EXPECT_EQ(analysis.count(Verdict::Failed), 1u);
  EXPECT_EQ(analysis.count(Verdict::TimedOut), 1u);
  EXPECT_EQ(analysis.count(Verdict::Missing), 1u);
  EXPECT_EQ(verdict_text(find(analysis, "build=crash")), "failed: run 2 of 10: killed by SIGSEGV");
  EXPECT_EQ(analysis.counts_line(), "0 regressed, 0 improved, 1 unchanged, 0 inconclusive, 1 failed, 1 timed out, 1 missing");
  EXPECT_TRUE(analysis.gate_fails(false));
  EXPECT_FALSE(analysis.gate_fails(true));
}

TEST(Verdicts, CompareListsWhatNewLacksAndWhatIsNew) {
  ResultsTree base;
  base.tasks = {task_of("a", lognormal(1, 0.01, 10, 1)), task_of("b", lognormal(1, 0.01, 10, 2))};
  ResultsTree candidate;
  candidate.tasks = {task_of("a", lognormal(1, 0.001, 10, 3)), task_of("c", lognormal(1, 0.01, 10, 4))};
  AnalysisSettings settings;
  settings.threshold = 0.05;
  Analysis analysis = compare_trees(base, candidate, settings);
  EXPECT_EQ(analysis.count(Verdict::Unchanged), 1u);
  EXPECT_EQ(analysis.count(Verdict::Missing), 1u);
  EXPECT_EQ(analysis.count(Verdict::New), 1u);
  EXPECT_TRUE(analysis.gate_fails(false));   // b is missing in NEW
  EXPECT_FALSE(analysis.gate_fails(true));
}

TEST(Verdicts, ABenchmarksOwnRepetitionsAreNestedInItsProcess) {
  // 5 processes of 20 inner repetitions each: the test has 5 units a side, not 100, so a small
  // shift that 100 independent samples would call significant stays inconclusive.
  std::vector<double> base;
  std::vector<double> slow;
  std::mt19937_64 random(7);
  std::normal_distribution<double> process_effect(0, 0.03);
  std::normal_distribution<double> inner(0, 0.002);
  for (int p = 0; p < 5; ++p) {
    double b = 1 + process_effect(random);
    double s = 1.04 + process_effect(random);
    for (int i = 0; i < 20; ++i) {
      base.push_back(b + inner(random));
      slow.push_back(s + inner(random));
    }
  }
  Analysis analysis = compare({task_of("base", base, 20), task_of("slow", slow, 20)});
  const Comparison& c = find(analysis, "build=slow");
  EXPECT_TRUE(c.nested);
  EXPECT_EQ(c.n_baseline, 5u);
  EXPECT_EQ(c.n_candidate, 5u);
  EXPECT_NE(c.verdict, Verdict::Unchanged);
}

TEST(Verdicts, TwoModesAreFlaggedButASkewedTailOrAnOutlierIsNot) {
  std::vector<double> two_modes;
  for (int i = 0; i < 20; ++i) {
    two_modes.push_back((i % 2 == 0 ? 1.0 : 1.3) + 0.001 * i);
  }
  std::vector<double> outlier = lognormal(1.0, 0.02, 20, 9);
  outlier[3] = 3.0;
  Analysis analysis =
      compare({task_of("base", lognormal(1.0, 0.3, 20, 8)), task_of("bimodal", two_modes), task_of("outlier", outlier)});
  const Comparison& bimodal = find(analysis, "build=bimodal");
  EXPECT_NE(std::find(bimodal.flags.begin(), bimodal.flags.end(), "bimodal"), bimodal.flags.end());
  for (const auto& flag : find(analysis, "build=outlier").flags) {
    EXPECT_NE(flag, "bimodal");
  }
  for (const auto& flag : bimodal.flags) {
    EXPECT_NE(flag, "bimodal baseline");  // a log-normal baseline
  }
}

TEST(Verdicts, ATaskRunOnceShowsItsValueAndDifferenceWithoutATest) {
  TaskSamples base = task_of("base", {0.812});
  TaskSamples tuned = task_of("tuned", {0.845});
  base.info["t"] = tuned.info["t"] = MetricInfo{"", true};
  Analysis analysis = compare({base, tuned});
  const Comparison& c = find(analysis, "build=tuned");
  EXPECT_EQ(c.verdict, Verdict::Inconclusive);
  EXPECT_EQ(verdict_text(c), "run once: 0.845 against 0.812 (+0.033); no test from one run");
  // With the standard errors the tasks reported, the difference's: sqrt(0.012^2 + 0.009^2) = 0.015.
  base.info["t"].stderr_value = 0.012;
  tuned.info["t"].stderr_value = 0.009;
  Analysis with_errors = compare({base, tuned});
  EXPECT_EQ(verdict_text(find(with_errors, "build=tuned")), "run once: 0.845 against 0.812 (+0.033 ± 0.015); no test from one run");
}

TEST(Verdicts, ASpeedupIsSaidInWords) {
  MetricInfo time{"s", false};
  MetricInfo throughput{"items/s", true};
  EXPECT_EQ(ratio_in_words(1 / 1.27, time), "1.27× faster");
  EXPECT_EQ(ratio_in_words(1.1, time), "1.10× slower");
  EXPECT_EQ(ratio_in_words(1.1, throughput), "1.10× higher");
  EXPECT_EQ(ratio_in_words(1.001, time), "1.00× (same)");
}

TEST(Noise, OthersOnTheTasksCoresMakeADisturbedRun) {
  Noise quiet;
  quiet.add_run({true, 10.0, 0}, {true, 11.0, 0}, 1, 1.0, 0.99);
  EXPECT_FALSE(quiet.disturbed());
  Noise busy;
  busy.add_run({true, 10.0, 0}, {true, 12.0, 0}, 1, 2.0, 1.2);  // 0.8 s of 2 s were someone else's
  ASSERT_TRUE(busy.disturbed());
  EXPECT_NE(busy.disturbed()->find("other processes took 40% of its cores' time"), std::string::npos);
  Noise stolen;
  stolen.add_run({true, 0, 1.0}, {true, 1.0, 1.5}, 1, 1.0, 1.0);
  ASSERT_TRUE(stolen.disturbed());
  EXPECT_NE(stolen.disturbed()->find("hypervisor stole 50%"), std::string::npos);
}

TEST(Environment, SecretsAreToldByTheWholePartsOfTheirNames) {
  for (const char* secret : {"HF_TOKEN", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "API_KEY", "APIKEY", "DB_PASSWORD",
                             "MYSQL_PASSWD", "GOOGLE_CREDENTIALS", "openai_api_key"}) {
    EXPECT_TRUE(is_secret_name(secret)) << secret;
  }
  for (const char* plain : {"TOKENIZERS_PARALLELISM", "KEYBOARD_LAYOUT", "PATH", "OMP_NUM_THREADS", "KEYMAP_DIR"}) {
    EXPECT_FALSE(is_secret_name(plain)) << plain;
  }
}

TEST(Environment, TerminalSessionVariablesDoNotCount) {
  for (const char* name : {"TERM", "TMUX", "SSH_TTY", "WT_SESSION", "VSCODE_PID", "PWD", "WINDOWID"}) {
    EXPECT_TRUE(is_volatile_variable(name)) << name;
  }
  for (const char* name : {"PATH", "LD_LIBRARY_PATH", "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES"}) {
    EXPECT_FALSE(is_volatile_variable(name)) << name;
  }
}

} // namespace
} // namespace bm
