#include "config/loader.hpp"

#include <gtest/gtest.h>

#include "config/discover.hpp"

namespace bm {
namespace {

// Expects parse_config to fail with a message containing `where` (file:line:column) and `what`.
void expect_error(const std::string& yaml, const std::string& where, const std::string& what) {
  try {
    parse_config(yaml, "c.yaml");
    ADD_FAILURE() << "no error for:\n" << yaml;
  } catch (const UserError& error) {
    std::string message = error.what();
    EXPECT_NE(message.find(where), std::string::npos) << "message: " << message << "\nexpected: " << where;
    EXPECT_NE(message.find(what), std::string::npos) << "message: " << message << "\nexpected: " << what;
  }
}

TEST(Loader, ReadsAFullConfig) {
  Config config = parse_config(R"(
name: sorting
command: ["./sortbench", "--algo", "{algo}"]
setup: [make, bench]
teardown: [make, clean]
workdir: build
matrix:
  algo: [std_sort, {name: radix, bits: 8, repeat: {runs: 3}, env: {X: "1"}}]
exclude: [{algo: std_sort}]
include: [{algo: heap}]
repeat: {warmup: 2, runs: 7}
task: {timeout: 90s, retries: 1, cpus: 2, gpus: 0, priority: high, kill_grace: 1s}
resources: {cores: [1, 2], reserve_core0: false, jobs: 1, gpus: [0], per_gpu: 2}
env: {OMP_NUM_THREADS: 1}
report: [json, csv]
analysis: {baseline: {algo: std_sort}}
)",
                               "c.yaml");
  EXPECT_EQ(config.name, "sorting");
  EXPECT_EQ(config.command.words.size(), 3u);
  EXPECT_EQ(config.command.locations[2].line, 3);
  EXPECT_EQ(config.setup.words, (std::vector<std::string>{"make", "bench"}));
  ASSERT_EQ(config.axes.size(), 1u);
  EXPECT_EQ(config.axes[0].values[1].name, "radix");
  EXPECT_EQ(config.axes[0].values[1].fields.at("bits"), "8");
  EXPECT_EQ(config.axes[0].values[1].overrides.runs, 3);
  EXPECT_EQ(config.defaults.warmup, 2);
  EXPECT_EQ(config.defaults.runs, 7);
  EXPECT_EQ(config.defaults.cpus, 2);
  EXPECT_EQ(config.defaults.priority, Priority::High);
  EXPECT_EQ(config.defaults.env, (EnvList{{"OMP_NUM_THREADS", "1"}}));
  EXPECT_EQ(*config.resources.cores, (std::vector<int>{1, 2}));
  EXPECT_FALSE(config.resources.reserve_core0);
  EXPECT_EQ(config.resources.per_gpu, 2);
  EXPECT_EQ(config.exclude.size(), 1u);
  EXPECT_EQ(config.include.size(), 1u);
  EXPECT_EQ(config.analysis.baseline_axis, "algo");
  EXPECT_EQ(config.analysis.baseline_value, "std_sort");
  EXPECT_EQ(config.reports, (std::vector<std::string>{"json", "csv"}));
  EXPECT_EQ(parse_config("name: t\ncommand: [x]\nresources: {gpus: [0, 1], max_concurrent: 4}\n", "c")
                .resources.max_concurrent,
            4);
  // Absent: every report; an empty list: none.
  EXPECT_FALSE(parse_config("name: t\ncommand: [x]\n", "c").reports.has_value());
  EXPECT_EQ(parse_config("name: t\ncommand: [x]\nreport: []\n", "c").reports, std::vector<std::string>{});
}

TEST(Loader, MonitorAndGpuGates) {
  Config config = parse_config("name: t\ncommand: [x]\nmonitor: {interval: 250ms}\n"
                               "resources: {thermal_limit: 80C, cool_down: 5s, gpu_check: 'nvidia-smi -L', "
                               "gpu_check_timeout: 30s}\n",
                               "c");
  EXPECT_TRUE(config.monitor.enabled);
  EXPECT_EQ(config.monitor.interval, std::chrono::milliseconds(250));
  EXPECT_EQ(config.resources.thermal_limit, 80u);
  EXPECT_EQ(config.resources.cool_down, std::chrono::seconds(5));
  EXPECT_TRUE(config.resources.gpu_check.shell);  // a string is a shell command
  EXPECT_EQ(config.resources.gpu_check.words, std::vector<std::string>{"nvidia-smi -L"});
  EXPECT_EQ(config.resources.gpu_check_timeout, std::chrono::seconds(30));
  EXPECT_FALSE(parse_config("name: t\ncommand: [x]\nmonitor: off\n", "c").monitor.enabled);
  Config listed = parse_config("name: t\ncommand: [x]\nresources: {thermal_limit: 75, gpu_check: [python3, check.py]}\n", "c");
  EXPECT_EQ(listed.resources.thermal_limit, 75u);
  EXPECT_FALSE(listed.resources.gpu_check.shell);
  EXPECT_EQ(parse_config("name: t\ncommand: [x]\n", "c").monitor.interval, std::chrono::milliseconds(100));
  expect_error("name: t\ncommand: [x]\nmonitor: {interval: 1ms}\n", "c.yaml:3:21", "monitor.interval");
  expect_error("name: t\ncommand: [x]\nmonitor: {every: 1s}\n", "c.yaml:3:11", "unknown key 'every'");
  expect_error("name: t\ncommand: [x]\nresources: {thermal_limit: 200C}\n", "c.yaml:3:28", "from 20 to 120");
  expect_error("name: t\ncommand: [x]\nresources: {cool_down: soon}\n", "c.yaml:3:24", "positive duration");
}

TEST(Loader, AcceptsJson) {
  Config config = parse_config(R"({"name": "j", "command": ["x", "{a}"], "matrix": {"a": [1, 2]}})", "c.json");
  EXPECT_EQ(config.axes[0].values.size(), 2u);
}

TEST(Loader, ParallelSlotsByNumberOrNames) {
  EXPECT_EQ(parse_config("name: p\ncommand: [x]\nparallel: 3\n", "c").parallel_names,
            (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(parse_config("name: p\ncommand: [x]\nparallel: [gpu0, gpu1]\n", "c").parallel_names,
            (std::vector<std::string>{"gpu0", "gpu1"}));
}

TEST(Loader, ErrorsSayWhereWhatWasExpectedAndWhatWasFound) {
  expect_error("name: t\ncommand: [x]\ncomand: [y]\n", "c.yaml:3:1", "unknown key 'comand' (did you mean 'command'?)");
  expect_error("name: t\ncommand: [x]\nrepeat: {runs: many}\n", "c.yaml:3:16", "expected a whole number");
  expect_error("name: t\ncommand: [x]\nrepeat: {runs: 0}\n", "c.yaml:3:16", "found '0'");
  expect_error("name: t\ncommand: [x]\ntask: {timeout: soon}\n", "c.yaml:3:17", "positive duration");
  expect_error("name: t\ncommand: [x]\ntask: {priority: urgent}\n", "c.yaml:3:18", "high, normal or low");
  expect_error("name: t\ncommand: [x]\nmatrix: {a: []}\n", "c.yaml:3:13", "no values");
  expect_error("name: t\ncommand: [x]\nmatrix: {}\n", "c.yaml:3:9", "at least one axis");
  expect_error("name: t\ncommand: [x]\nmatrix:\n  a: [1]\n  a: [2]\n", "c.yaml:5:3", "'a' appears twice");
  expect_error("name: t\ncommand: [x]\nmatrix: {a: [1, 1]}\n", "c.yaml:3:17", "'1' appears twice");
  expect_error("name: t\ncommand: [x]\nmatrix: {slot: [1]}\n", "c.yaml:3:10", "built-in placeholder");
  expect_error("name: t\ncommand: [x]\nmatrix: {a: [{bin: x}]}\n", "c.yaml:3:14", "needs a `name`");
  expect_error("name: t\ncommand: x --y\n", "c.yaml:2:10", "set `shell: true`");
  expect_error("name: t\ncommand: []\n", "c.yaml:2:10", "non-empty list");
  expect_error("command: [x]\n", "c.yaml:1:1", "`name` is missing");
  expect_error("name: t\n", "c.yaml:1:1", "`command` is missing");
  expect_error("name: t\ncommand: [x]\nenv: {1BAD: x}\n", "c.yaml:3:7", "not a valid environment variable name");
  expect_error("name: t\ncommand: [x]\nenv: {BENCHMATRIX_SLOT: x}\n", "c.yaml:3:7", "set by benchmatrix");
  expect_error("name: t\ncommand: [x]\nexecutor: pbs\n", "c.yaml:3:11", "local or slurm");
  expect_error("name: t\ncommand: [x]\nexecutor: {partition: gpu}\n", "c.yaml:3:11", "needs `type: slurm`");
  expect_error("name: t\ncommand: [x]\nexecutor: {type: slurm, time: 30s}\n", "c.yaml:3:31", "at least 1m");
  expect_error("name: t\ncommand: [x]\nexecutor: {type: slurm, sbatch: [--array=0-3]}\n", "c.yaml:3:34",
               "set by benchmatrix");
  expect_error("name: t\ncommand: [x]\nexecutor: {type: slurm, gpu_request: mig}\n", "c.yaml:3:38", "gpus-per-task");
  expect_error("name: t\ncommand: [x]\nreport: [pdf]\n", "c.yaml:3:10", "json, csv, markdown or html");
  expect_error("name: t\ncommand: [x]\nresources: {cores: [1, 1]}\n", "c.yaml:3:20", "listed twice");
  expect_error("name: t\ncommand: [x]\nparallel: [a, a]\n", "c.yaml:3:15", "appears twice");
  expect_error("name: ../x\ncommand: [x]\n", "c.yaml:1:7", "must not contain '/'");
}

TEST(Loader, RepetitionAndAnalysisSettings) {
  Config config = parse_config(R"(
name: t
command: [x, "{algo}"]
matrix: {algo: [a, b]}
repeat: {warmup: 1, min_runs: 4, max_runs: 40, target_rel_ci: 2%, cooldown: 100ms, interleave: true, seed: 9}
analysis:
  baseline: {algo: a}
  metric: sort_time
  confidence: 0.99
  threshold: 5%
  correction: bh
  outliers: {remove: true, method: z, threshold: 2.0}
  bootstrap: {resamples: 500, seed: 3}
)",
                               "c.yaml");
  EXPECT_EQ(config.defaults.min_runs, 4);
  EXPECT_EQ(config.defaults.max_runs, 40);
  EXPECT_DOUBLE_EQ(*config.defaults.target_rel_ci, 0.02);
  EXPECT_EQ(config.defaults.cooldown, std::chrono::nanoseconds(std::chrono::milliseconds(100)));
  EXPECT_TRUE(config.interleave);
  EXPECT_EQ(config.interleave_seed, 9u);
  ResolvedSettings resolved = ResolvedSettings::from(config.defaults);
  EXPECT_EQ(resolved.min_runs, 4);
  EXPECT_EQ(resolved.runs, 40);
  const AnalysisSettings& analysis = config.analysis;
  EXPECT_EQ(analysis.baseline_axis, "algo");
  EXPECT_EQ(analysis.baseline_value, "a");
  EXPECT_EQ(analysis.metric, "sort_time");
  EXPECT_DOUBLE_EQ(analysis.confidence, 0.99);
  EXPECT_DOUBLE_EQ(analysis.threshold, 0.05);
  EXPECT_EQ(analysis.correction, "bh");
  EXPECT_TRUE(analysis.remove_outliers);
  EXPECT_EQ(analysis.outlier_method, "z");
  EXPECT_DOUBLE_EQ(analysis.outlier_threshold, 2.0);
  EXPECT_EQ(analysis.resamples, 500);
  EXPECT_EQ(AnalysisSettings::from_json(analysis.to_json()).to_json(), analysis.to_json());
}

TEST(Loader, SlurmExecutorSettings) {
  Config config = parse_config(R"(
name: t
command: [x]
executor: {type: slurm, partition: gpu, account: lab, qos: high, time: 2h, sbatch: [--exclusive],
           tasks_per_element: 4, tasks_at_once: 2, max_running: 10, infra_retries: 1, poll: 5s,
           gpu_request: gpus-per-task, element_time: 20m}
)", "c.yaml");
  EXPECT_EQ(config.executor, "slurm");
  EXPECT_EQ(config.slurm.partition, "gpu");
  EXPECT_EQ(config.slurm.account, "lab");
  EXPECT_EQ(config.slurm.qos, "high");
  EXPECT_EQ(config.slurm.time, std::chrono::hours(2));
  EXPECT_EQ(config.slurm.sbatch, std::vector<std::string>{"--exclusive"});
  EXPECT_EQ(config.slurm.tasks_per_element, 4);
  EXPECT_EQ(config.slurm.tasks_at_once, 2);
  EXPECT_EQ(config.slurm.max_running, 10);
  EXPECT_EQ(config.slurm.infra_retries, 1);
  EXPECT_EQ(config.slurm.poll, std::chrono::seconds(5));
  EXPECT_TRUE(config.slurm.gpus_per_task);
  EXPECT_EQ(config.slurm.element_time, std::chrono::minutes(20));
  EXPECT_EQ(parse_config("name: t\ncommand: [x]\nexecutor: slurm\n", "c").executor, "slurm");
}

TEST(Loader, RepetitionAndAnalysisErrors) {
  expect_error("name: t\ncommand: [x]\nrepeat: {min_runs: 3}\n", "c.yaml:3:9", "add target_rel_ci");
  expect_error("name: t\ncommand: [x]\nrepeat: {min_runs: 9, max_runs: 3, target_rel_ci: 1%}\n", "c.yaml:3:9",
               "larger than max_runs");
  expect_error("name: t\ncommand: [x]\nrepeat: {target_rel_ci: 200%}\n", "c.yaml:3:25", "a fraction");
  expect_error("name: t\ncommand: [x]\nrepeat: {interleave: true}\n", "c.yaml:3:9", "set analysis.baseline");
  expect_error("name: t\ncommand: [x, '{a}']\nmatrix: {a: [{name: p, repeat: {interleave: true}}]}\n", "c.yaml:3:33",
               "unknown key 'interleave'");
  expect_error("name: t\ncommand: [x]\nanalysis: {baseline: {a: 1, b: 2}}\n", "c.yaml:3:22", "one axis");
  expect_error("name: t\ncommand: [x]\nanalysis: {correction: sidak}\n", "c.yaml:3:24", "holm, bonferroni");
  expect_error("name: t\ncommand: [x]\nanalysis: {outliers: {method: grubbs}}\n", "c.yaml:3:31", "iqr, modified_z");
  expect_error("name: t\ncommand: [x]\nanalysis: {confidence: 2}\n", "c.yaml:3:24", "a fraction");
}

TEST(Loader, SyntaxErrorsAndEncodingAreReportedWithLocation) {
  expect_error("name: t\ncommand: [x\n", "c.yaml:", "not valid YAML");
  expect_error("", "c.yaml:1:1", "empty");
  expect_error("name: t\ncommand: [x, \"\xff\"]\n", "c.yaml:2:15", "not valid UTF-8");
  expect_error("- a\n- b\n", "c.yaml:1:1", "expected a mapping");
}

TEST(Loader, DeepNestingIsRefusedNotCrashed) {
  std::string deep = "name: t\ncommand: [x]\nanalysis: ";
  for (int i = 0; i < 200; ++i) {
    deep += "[";
  }
  for (int i = 0; i < 200; ++i) {
    deep += "]";
  }
  deep += "\n";
  EXPECT_THROW(parse_config(deep, "c.yaml"), UserError);
}

TEST(Loader, UnreadableFileIsAUserError) {
  try {
    load_config("/nonexistent/benchmatrix.yaml");
    FAIL();
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("cannot read the config"), std::string::npos);
  }
}

TEST(Loader, OneDocumentAndBoundedNestingWithLocations) {
  expect_error("name: t\ncommand: [x]\n---\nname: u\ncommand: [y]\n", "c.yaml:3:1", "holds more than one YAML document");
  expect_error("name: t\ncommand: [x]\nenv: " + std::string(20000, '[') + std::string(20000, ']') + "\n", "c.yaml:3:",
               "nesting is too deep here");
  expect_error("name: t\ncommand: [x]\nmatrix: {v: [\"a\\0b\"]}\n", "c.yaml:3:14", "holds a NUL byte");
  Config config = parse_config("name: t\ncommand: [x]\ntask: {cpus: 2}\nresources: {cores: [1, 3]}\n", "c.yaml");
  EXPECT_EQ(config.defaults.cpus_location->to_string(), "c.yaml:3:14");
  EXPECT_EQ(config.resources.cores_location.to_string(), "c.yaml:4:20");
}

TEST(Loader, OnlyARegularFileOfSaneSizeIsRead) {
  for (const char* path : {"/dev/zero", "/tmp"}) {
    try {
      load_config(path);
      ADD_FAILURE() << path << " was read";
    } catch (const UserError& error) {
      EXPECT_NE(std::string(error.what()).find("not a regular file"), std::string::npos) << error.what();
    }
  }
}

TEST(Discover, ValuesFromJsonOrLines) {
  SourceLocation where{"c.yaml", 4, 3};
  auto json = parse_discovered("[\"a\", 2, {\"name\": \"c\", \"bin\": \"./c\"}]\n", where);
  ASSERT_EQ(json.size(), 3u);
  EXPECT_EQ(json[1].name, "2");
  EXPECT_EQ(json[2].fields.at("bin"), "./c");
  auto lines = parse_discovered("BM_Sort/8\n\n# comment\nBM_Sort/64\n", where);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].name, "BM_Sort/64");
  EXPECT_THROW(parse_discovered("\n\n", where), UserError);
  EXPECT_THROW(parse_discovered("[1, [2]]", where), UserError);
  EXPECT_THROW(parse_discovered("[{\"x\": 1}]", where), UserError);
}

TEST(Discover, RunsTheCommandFromTheConfig) {
  Config config = parse_config("name: t\ncommand: [x, '{b}']\nmatrix:\n  b: {discover: [printf, 'x\\ny\\n']}\n", "c");
  ASSERT_EQ(config.axes[0].values.size(), 2u);
  EXPECT_EQ(config.axes[0].values[1].name, "y");
  expect_error("name: t\ncommand: [x]\nmatrix:\n  b: {discover: [false]}\n", "c.yaml:4:17", "failed (exit code 1)");
  expect_error("name: t\ncommand: [x]\nmatrix:\n  b: {discover: [/nonexistent/lister]}\n", "c.yaml:4:17",
               "cannot run the discovery command");
  EXPECT_THROW(discover_values({"sleep", "5"}, SourceLocation{"c", 1, 1}, std::chrono::seconds(1)), UserError);
}

} // namespace
} // namespace bm

namespace bm {
namespace {

TEST(Source, FilterMatchesExactlyTheNameWithRegexCharactersEscaped) {
  EXPECT_EQ(benchmark_filter_for("BM_x/8/threads:2"), "^BM_x/8/threads:2$");
  // ']' and '}' stay as they are: alone they are ordinary, and escaping them is an error to std::regex.
  EXPECT_EQ(benchmark_filter_for("weird(a*b)[0]+$"), "^weird\\(a\\*b\\)\\[0]\\+\\$$");
  EXPECT_EQ(benchmark_filter_for("t<int>{1}.x|y?^\\"), "^t<int>\\{1}\\.x\\|y\\?\\^\\\\$");
}

TEST(Source, MakesTheCommandAndRefusesWhatBenchmatrixOwns) {
  Config config = parse_config("name: t\nsource: {gbench: '{build}', args: [--benchmark_min_time=0.1s]}\n"
                               "matrix: {build: [./a, ./b]}\n",
                               "c.yaml", false);
  EXPECT_EQ(config.source.kind, SourceConfig::Kind::GoogleBenchmark);
  EXPECT_EQ(config.command.words, (std::vector<std::string>{"{build}", "--benchmark_filter=",
                                                            "--benchmark_out={result_dir}/gbench.json",
                                                            "--benchmark_out_format=json", "--benchmark_min_time=0.1s"}));
  expect_error("name: t\nsource: {gbench: ./b, args: [--benchmark_out=x.json]}\n", "c.yaml:2:30",
               "--benchmark_out is set by benchmatrix");
  expect_error("name: t\ncommand: [x]\nsource: {gbench: ./b}\n", "c.yaml:2:10", "gets its command from the source");
  expect_error("name: t\nsource: {gbench: ./b}\nmatrix: {benchmark: [x]}\n", "c.yaml:2:9", "already has");
  expect_error("name: t\nsource: {args: [x]}\n", "c.yaml:2:9", "name the program");
  expect_error("name: t\ncommand: [x]\nmetrics_file: ../escape.json\n", "c.yaml:3:15", "inside the task's folder");
  expect_error("name: t\ncommand: [x]\nmetrics_file: {path: m.json, format: hyperfine}\n", "c.yaml:3:38",
               "benchmatrix import");
  expect_error("name: t\ncommand: [x]\nafter: [echo, '{x}']\n", "c.yaml:3:15", "runs once for the whole run");
}

} // namespace
} // namespace bm
