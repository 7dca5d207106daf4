#include "sched/runner.hpp"

#include <csignal>
#include <deque>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "config/loader.hpp"
#include "util/fs.hpp"

namespace bm {
namespace {

// Runs nothing: every started process "ends" in start order, with an outcome chosen by the
// test from its argv and phase. It writes task metrics the way a task would.
class FakeExecutor final : public Executor {
public:
  std::function<ProcessResult(const ProcessSpec&)> behaviour = [](const ProcessSpec&) {
    ProcessResult result;
    result.exit_code = 0;
    result.wall_seconds = 0.001;
    return result;
  };
  std::vector<ProcessSpec> started;
  std::size_t max_running = 0;
  int terminated_with = 0;
  std::optional<std::size_t> interrupt_after;  // deliver SIGINT after this many starts

  void start(const ProcessSpec& spec) override {
    started.push_back(spec);
    m_running.push_back(spec);
    max_running = std::max(max_running, m_running.size());
  }

  ExecutorEvent wait() override {
    if (interrupt_after && started.size() >= *interrupt_after && !m_interrupt_sent) {
      m_interrupt_sent = true;
      return {ExecutorEvent::Kind::Interrupted, {}, SIGINT};
    }
    BM_ASSERT(!m_running.empty());
    ProcessSpec spec = m_running.front();
    m_running.pop_front();
    ProcessResult result = behaviour(spec);
    if (terminated_with != 0) {
      result.interrupted = true;
      result.exit_code = -1;
      result.term_signal = terminated_with;
    }
    result.token = spec.token;
    result.started = Clock::now();
    return {ExecutorEvent::Kind::ProcessEnded, result, 0};
  }

  std::size_t running() const override { return m_running.size(); }
  void terminate_all(int signal) override { terminated_with = signal; }

private:
  std::deque<ProcessSpec> m_running;
  bool m_interrupt_sent = false;
};

class RecordingStatus final : public Status {
public:
  std::vector<std::string> events;
  std::vector<std::string> steps;  // "run 2/3 ended: succeeded"
  std::vector<std::string> slot_use;  // "start a=x", "ended a=x", "finished a=x" in the order heard
  void task_ended(const Plan& plan, std::size_t task) override { slot_use.push_back("ended " + plan.label(task)); }
  void process_started(const Plan&, std::size_t, const ProcessStep& step) override {
    steps.push_back(fmt::format("{} {}/{}", to_string(step.phase), step.index, step.count));
  }
  void process_ended(const Plan&, std::size_t, const RunRecord& record) override {
    steps.back() += fmt::format(" ended: {}", record.outcome);
  }
  void run_started(const Plan&, const RunHeader&) override { events.push_back("run-started"); }
  void task_started(const Plan& plan, std::size_t task, const Lease&, int attempt) override {
    slot_use.push_back("start " + plan.label(task));
    events.push_back("start " + plan.label(task) + " #" + std::to_string(attempt));
  }
  void task_finished(const Plan& plan, const TaskOutcome& outcome, const std::filesystem::path&, bool retry) override {
    slot_use.push_back("finished " + plan.label(outcome.task));
    events.push_back(std::string(to_string(outcome.status)) + " " + plan.label(outcome.task) + (retry ? " retry" : ""));
  }
  void interrupted(int, bool) override { events.push_back("interrupted"); }
  void run_finished(const Plan&, const RunSummary&) override { events.push_back("run-finished"); }
};

std::string env_value(const ProcessSpec& spec, const std::string& name) {
  for (const auto& entry : spec.env) {
    if (entry.rfind(name + "=", 0) == 0) {
      return entry.substr(name.size() + 1);
    }
  }
  return "<unset>";
}

struct Fixture {
  explicit Fixture(const std::string& yaml, std::vector<std::string> slots = {"0"}, std::vector<int> cpus = {1})
      : plan(Plan::build(parse_config(yaml, "c.yaml"))),
        out(std::filesystem::path(::testing::TempDir()) /
            ("bm_runner_" + std::to_string(::getpid()) + "_" + std::to_string(counter++))),
        store(out), pool(std::move(slots), std::move(cpus), true, {}, 1) {
    std::filesystem::remove_all(out);
    store.open_for_run(plan, nlohmann::json::object());
  }

  RunSummary run(std::optional<int> retries = std::nullopt) {
    std::vector<std::size_t> tasks;
    for (std::size_t i = 0; i < plan.size(); ++i) {
      if (store.state(plan, i) != TaskState::Done) {
        tasks.push_back(i);
      }
    }
    RunnerOptions options;
    options.retries = retries;
    options.attempt.inherited_env = {"PATH=/usr/bin:/bin", "BENCHMATRIX_SLOT=leaked"};
    Runner runner(plan, store, executor, pool, status, options);
    return runner.run(tasks, RunSummary{});
  }

  static inline int counter = 0;
  Plan plan;
  std::filesystem::path out;
  Store store;
  ResourcePool pool;
  FakeExecutor executor;
  RecordingStatus status;
};

TEST(Runner, ATaskEndsBeforeItsSlotsNextTaskStartsAndIsWrittenAfter) {
  Fixture f("name: t\ncommand: [bench, '{a}']\nmatrix: {a: [x, y]}\n");
  f.run();
  // The slot's next task starts before the previous one's files are written (the hand-off costs
  // no I/O), but after the previous one is over: a display never shows two tasks in one slot.
  EXPECT_EQ(f.status.slot_use, (std::vector<std::string>{"start a=x", "ended a=x", "start a=y", "finished a=x",
                                                         "ended a=y", "finished a=y"}));
}

TEST(Runner, RunsTheWholeLifecycleInOneSlotWithTheProtocolEnvironment) {
  Fixture f("name: t\nsetup: [make, '{a}']\ncommand: [bench, '{a}', '%%PARALLEL%%', '{cores}']\n"
            "teardown: [clean]\nmatrix: {a: [x]}\nrepeat: {warmup: 2, runs: 3}\nenv: {MODE: 'fast-{a}'}\n",
            {"gpu0"}, {3});
  RunSummary summary = f.run();
  EXPECT_EQ(summary.completed, 1u);
  ASSERT_EQ(f.executor.started.size(), 7u);
  std::vector<std::string> phases;
  for (const auto& spec : f.executor.started) {
    phases.push_back(env_value(spec, "BENCHMATRIX_PHASE") + env_value(spec, "BENCHMATRIX_RUN"));
    EXPECT_EQ(spec.cpus, (std::vector<int>{3}));
  }
  EXPECT_EQ(phases, (std::vector<std::string>{"setup1", "warmup1", "warmup2", "run1", "run2", "run3", "teardown1"}));
  // The status hears of every process: which step of how many, and how it ended.
  EXPECT_EQ(f.status.steps, (std::vector<std::string>{"setup 1/1 ended: succeeded", "warmup 1/2 ended: succeeded",
                                                      "warmup 2/2 ended: succeeded", "run 1/3 ended: succeeded",
                                                      "run 2/3 ended: succeeded", "run 3/3 ended: succeeded",
                                                      "teardown 1/1 ended: succeeded"}));
  const ProcessSpec& run = f.executor.started[3];
  EXPECT_EQ(run.argv, (std::vector<std::string>{"bench", "x", "gpu0", "3"}));
  EXPECT_EQ(env_value(run, "BENCHMATRIX_SLOT"), "gpu0");
  EXPECT_EQ(env_value(run, "BENCHMATRIX_CORES"), "3");
  EXPECT_EQ(env_value(run, "BENCHMATRIX_TASK_ID"), f.plan.task_id(0));
  EXPECT_EQ(env_value(run, "MODE"), "fast-x");
  EXPECT_EQ(env_value(run, "PATH"), "/usr/bin:/bin");
  EXPECT_EQ(env_value(run, "CUDA_VISIBLE_DEVICES"), "<unset>");
  EXPECT_EQ(env_value(run, "BENCHMATRIX_RESULT_DIR"), f.store.task_dir(f.plan, 0).string());
  EXPECT_EQ(f.store.state(f.plan, 0), TaskState::Done);
}

TEST(Runner, NeverRunsMoreThanTheSlotsAndResumesOnlyWhatIsMissing) {
  Fixture f("name: t\ncommand: [bench, '{a}']\nmatrix: {a: [1, 2, 3, 4, 5]}\n", {"0", "1"}, {1, 2});
  f.executor.behaviour = [](const ProcessSpec& spec) {
    ProcessResult result;
    result.exit_code = spec.argv[1] == "3" ? 1 : 0;
    return result;
  };
  RunSummary first = f.run();
  EXPECT_EQ(f.executor.max_running, 2u);
  EXPECT_EQ(first.completed, 4u);
  EXPECT_EQ(first.failed, 1u);
  ASSERT_EQ(first.failures.size(), 1u);
  EXPECT_EQ(first.failures[0].reason, "run 1 of 1: exit code 1");
  EXPECT_EQ(f.store.state(f.plan, 2), TaskState::Failed);

  f.executor.started.clear();
  f.executor.behaviour = [](const ProcessSpec&) {
    ProcessResult result;
    result.exit_code = 0;
    return result;
  };
  RunSummary second = f.run();
  ASSERT_EQ(f.executor.started.size(), 1u);
  EXPECT_EQ(f.executor.started[0].argv[1], "3");
  EXPECT_EQ(second.completed, 1u);
}

TEST(Runner, AFailedRunSkipsTheRestButTeardownStillRuns) {
  Fixture f("name: t\ncommand: [bench]\nteardown: [clean]\nrepeat: {runs: 5}\n");
  f.executor.behaviour = [](const ProcessSpec& spec) {
    ProcessResult result;
    result.exit_code = 0;
    if (spec.argv[0] == "bench" && env_value(spec, "BENCHMATRIX_RUN") == "2") {
      result.exit_code = -1;
      result.term_signal = SIGSEGV;
    }
    return result;
  };
  RunSummary summary = f.run();
  EXPECT_EQ(summary.failed, 1u);
  ASSERT_EQ(f.executor.started.size(), 3u);
  EXPECT_EQ(f.executor.started[2].argv[0], "clean");
  EXPECT_NE(summary.failures[0].reason.find("run 2 of 5: killed by signal"), std::string::npos)
      << summary.failures[0].reason;
}

TEST(Runner, RetriesAFailedTaskAndCountsItOnce) {
  Fixture f("name: t\ncommand: [bench, '{a}']\nmatrix: {a: [p, q]}\ntask: {retries: 2}\n");
  int calls = 0;
  f.executor.behaviour = [&](const ProcessSpec& spec) {
    ProcessResult result;
    result.exit_code = (spec.argv[1] == "p" && ++calls < 3) ? 7 : 0;
    return result;
  };
  RunSummary summary = f.run();
  EXPECT_EQ(summary.completed, 2u);
  EXPECT_EQ(summary.failed, 0u);
  EXPECT_EQ(summary.attempts, 4u);
  // q starts as soon as p's slot is free; p's failure is written down (and shown) right after.
  EXPECT_EQ(f.status.events, (std::vector<std::string>{"start a=p #1", "start a=q #1", "failed a=p retry",
                                                       "succeeded a=q", "start a=p #2", "failed a=p retry",
                                                       "start a=p #3", "succeeded a=p"}));
  RunSummary none = Fixture("name: t\ncommand: [bench]\ntask: {retries: 2}\n").run(0);
  EXPECT_EQ(none.completed, 1u);
}

TEST(Runner, PriorityDecidesOrderOnOneSlot) {
  Fixture f("name: t\ncommand: [bench, '{a}']\nmatrix:\n  a: [l, {name: h, task: {priority: high}}, n]\n"
            "task: {priority: low}\n");
  f.run();
  std::vector<std::string> order;
  for (const auto& spec : f.executor.started) {
    order.push_back(spec.argv[1]);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"h", "l", "n"}));
}

TEST(Runner, InterruptStopsStartingAndEndsRunningTasksAsInterrupted) {
  Fixture f("name: t\ncommand: [bench, '{a}']\nmatrix: {a: [1, 2, 3, 4]}\nrepeat: {runs: 3}\n", {"0", "1"}, {1, 2});
  f.executor.interrupt_after = 2;
  RunSummary summary = f.run();
  EXPECT_TRUE(summary.was_interrupted);
  EXPECT_EQ(f.executor.terminated_with, SIGTERM);
  EXPECT_EQ(summary.interrupted, 2u);
  EXPECT_EQ(summary.not_started, 2u);
  EXPECT_EQ(summary.completed + summary.failed, 0u);
  EXPECT_EQ(f.executor.started.size(), 2u);
  EXPECT_EQ(f.store.state(f.plan, 0), TaskState::Pending);
}

TEST(Runner, InterleavesTheRunsOfComparedVariantsInSeededRounds) {
  const char* yaml = "name: t\nsetup: [build, '{algo}']\ncommand: [bench, '{algo}', '{n}']\n"
                     "matrix: {n: [1, 2], algo: [base, fast, slow]}\n"
                     "repeat: {warmup: 1, runs: 4, interleave: true, seed: 7}\n"
                     "analysis: {baseline: {algo: base}, correction: none}\n";  // 4 runs: p >= 0.029
  Fixture f(yaml);
  RunSummary summary = f.run();
  EXPECT_EQ(summary.completed, 6u);
  // Two groups (n=1, n=2) of three variants; each group's setups and warm-ups come first, then
  // four rounds that each run every variant once, in a shuffled order.
  ASSERT_EQ(f.executor.started.size(), 6u * (1 + 1 + 4));
  std::vector<std::string> measured;
  for (size_t i = 0; i < 18; ++i) {
    const ProcessSpec& spec = f.executor.started[i];
    EXPECT_EQ(spec.argv.back(), spec.argv[0] == "build" ? spec.argv[1] : "1");
    if (env_value(spec, "BENCHMATRIX_PHASE") == "run") {
      measured.push_back(spec.argv[1]);
    } else {
      EXPECT_LT(i, 6u) << "setup and warm-ups come first";
    }
  }
  ASSERT_EQ(measured.size(), 12u);
  for (size_t round = 0; round < 4; ++round) {
    std::vector<std::string> block(measured.begin() + static_cast<long>(round * 3),
                                   measured.begin() + static_cast<long>(round * 3 + 3));
    std::sort(block.begin(), block.end());
    EXPECT_EQ(block, (std::vector<std::string>{"base", "fast", "slow"})) << "round " << round;
  }
  EXPECT_NE(std::vector<std::string>(measured.begin(), measured.begin() + 3),
            std::vector<std::string>(measured.begin() + 3, measured.begin() + 6))
      << "rounds are shuffled (seed 7 gives different orders for the first two)";
  auto result = nlohmann::json::parse(read_file(f.store.task_dir(f.plan, 0) / "result.json"));
  EXPECT_EQ(result["interleaving"]["seed"], 7);
  EXPECT_EQ(result["interleaving"]["rounds"].size(), 4u);

  // The same seed gives the same order.
  Fixture again(yaml);
  again.run();
  ASSERT_EQ(again.executor.started.size(), f.executor.started.size());
  for (size_t i = 0; i < f.executor.started.size(); ++i) {
    EXPECT_EQ(again.executor.started[i].argv, f.executor.started[i].argv);
  }
}

TEST(Runner, AdaptiveRepetitionStopsWhenTheMedianIsPreciseEnough) {
  Fixture f("name: t\ncommand: [bench]\nrepeat: {min_runs: 6, max_runs: 50, target_rel_ci: 5%}\n");
  f.executor.behaviour = [](const ProcessSpec& spec) {
    std::ofstream(env_value(spec, "BENCHMATRIX_RESULT_FILE"), std::ios::app)
        << "{\"metric\": \"t\", \"value\": " << (100 + std::stoi(env_value(spec, "BENCHMATRIX_RUN")) % 3)
        << "}\n";
    ProcessResult result;
    result.exit_code = 0;
    return result;
  };
  f.run();
  // 100..102: the order-statistic interval of the median is within 5% as soon as it exists.
  EXPECT_EQ(f.executor.started.size(), 6u);
  auto stored = nlohmann::json::parse(read_file(f.store.task_dir(f.plan, 0) / "result.json"));
  EXPECT_NE(stored["repetition"].get<std::string>().find("stopped after 6 runs"), std::string::npos)
      << stored["repetition"];

  Fixture noisy("name: t\ncommand: [bench]\nrepeat: {min_runs: 3, max_runs: 12, target_rel_ci: 1%}\n");
  noisy.executor.behaviour = [](const ProcessSpec& spec) {
    int run = std::stoi(env_value(spec, "BENCHMATRIX_RUN"));
    std::ofstream(env_value(spec, "BENCHMATRIX_RESULT_FILE"), std::ios::app)
        << "{\"metric\": \"t\", \"value\": " << (run % 2 == 0 ? 10 : 1000) << "}\n";
    ProcessResult result;
    result.exit_code = 0;
    return result;
  };
  noisy.run();
  EXPECT_EQ(noisy.executor.started.size(), 12u);
  auto capped = nlohmann::json::parse(read_file(noisy.store.task_dir(noisy.plan, 0) / "result.json"));
  EXPECT_NE(capped["repetition"].get<std::string>().find("reached max_runs"), std::string::npos);
}

TEST(Runner, CooldownDelaysEveryMeasuredRunButTheFirst) {
  Fixture f("name: t\nsetup: [make]\ncommand: [bench]\nrepeat: {warmup: 1, runs: 2, cooldown: 250ms}\n");
  f.run();
  ASSERT_EQ(f.executor.started.size(), 4u);
  EXPECT_EQ(f.executor.started[0].start_delay.count(), 0);  // setup
  EXPECT_EQ(f.executor.started[1].start_delay.count(), 0);  // first warm-up
  EXPECT_EQ(f.executor.started[2].start_delay, std::chrono::nanoseconds(std::chrono::milliseconds(250)));
  EXPECT_EQ(f.executor.started[3].start_delay, std::chrono::nanoseconds(std::chrono::milliseconds(250)));
}

TEST(Runner, TaskMetricsAreReadPerMeasuredRunOnly) {
  Fixture f("name: t\ncommand: [bench]\nrepeat: {warmup: 1, runs: 2}\n");
  f.executor.behaviour = [](const ProcessSpec& spec) {
    std::ofstream(env_value(spec, "BENCHMATRIX_RESULT_FILE"), std::ios::app)
        << "{\"metric\": \"score\", \"value\": " << env_value(spec, "BENCHMATRIX_RUN")
        << (env_value(spec, "BENCHMATRIX_PHASE") == "warmup" ? "00" : "") << ", \"direction\": \"higher\"}\n"
        << "garbage\n";
    ProcessResult result;
    result.exit_code = 0;
    return result;
  };
  RunSummary summary = f.run();
  EXPECT_EQ(summary.completed, 1u);
  auto result = nlohmann::json::parse(read_file(f.store.task_dir(f.plan, 0) / "result.json"));
  EXPECT_EQ(result["metrics"]["score"]["n"], 2);
  EXPECT_EQ(result["metrics"]["score"]["min"], 1.0);
  EXPECT_EQ(result["metrics"]["score"]["max"], 2.0);
  EXPECT_EQ(result["metrics"]["score"]["direction"], "higher");
  EXPECT_EQ(result["metrics"]["wall_time"]["n"], 2);
  EXPECT_EQ(result["warnings"].size(), 2u);
  std::string csv = read_file(f.store.task_dir(f.plan, 0) / "samples.csv");
  EXPECT_NE(csv.find("2,score,2,,higher,"), std::string::npos) << csv;
}

TEST(Runner, ABaselineAxisAloneIsOneInterleavedGroupByDefault) {
  // The only axis is the baseline's: one group, interleaved without being asked, every variant run.
  const char* yaml = "name: t\ncommand: [bench, '{algo}']\nmatrix: {algo: [base, fast]}\n"
                     "repeat: {runs: 6, seed: 3}\nanalysis: {baseline: {algo: base}}\n";
  Fixture f(yaml);
  EXPECT_TRUE(f.plan.config().interleave);
  RunSummary summary = f.run();
  EXPECT_EQ(summary.completed, 2u);
  ASSERT_EQ(f.executor.started.size(), 12u);
  for (std::size_t round = 0; round < 6; ++round) {
    std::vector<std::string> block = {f.executor.started[2 * round].argv[1], f.executor.started[2 * round + 1].argv[1]};
    std::sort(block.begin(), block.end());
    EXPECT_EQ(block, (std::vector<std::string>{"base", "fast"})) << "round " << round;
  }
}

TEST(Runner, WithABaselineAndNoRunCountTenRunsAreMade) {
  Fixture f("name: t\ncommand: [bench, '{algo}']\nmatrix: {algo: [base, fast]}\nanalysis: {baseline: {algo: base}}\n");
  EXPECT_EQ(f.plan.settings(0).runs, Plan::k_compared_runs);
  Fixture opted_out("name: t\ncommand: [bench, '{algo}']\nmatrix: {algo: [base, fast]}\n"
                    "repeat: {interleave: false}\nanalysis: {baseline: {algo: base}}\n");
  EXPECT_FALSE(opted_out.plan.config().interleave);
}

} // namespace
} // namespace bm
