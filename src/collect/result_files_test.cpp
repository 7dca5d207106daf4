#include "collect/result_files.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "util/error.hpp"

namespace bm {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream file(std::string(BENCHMATRIX_TEST_DATA) + "/" + name);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_FALSE(text.str().empty()) << name;
  return text.str();
}

std::vector<double> values_of(const FileResults& results, const std::string& metric) {
  std::vector<double> values;
  for (const auto& [name, value] : results.metrics.values) {
    if (name == metric) {
      values.push_back(value);
    }
  }
  return values;
}

TEST(ResultFiles, LenientJsonReadsBareNonFiniteNumbersOutsideStrings) {
  auto json = parse_lenient_json(R"({"a": NaN, "b": -Infinity, "c": "NaN inside", "d": [Infinity, 1]})");
  ASSERT_FALSE(json.is_discarded());
  EXPECT_TRUE(std::isnan(*lenient_number(json["a"])));
  EXPECT_EQ(*lenient_number(json["b"]), -HUGE_VAL);
  EXPECT_EQ(json["c"], "NaN inside");
  EXPECT_EQ(*lenient_number(json["d"][0]), HUGE_VAL);
  EXPECT_TRUE(parse_lenient_json("{\"a\": Nope}").is_discarded());
}

TEST(ResultFiles, GoogleBenchmarkIterationsAreSamplesAndAggregatesAreNotCountedAgain) {
  FileResults r = parse_result_file(fixture("gbench_repetitions.json"), ResultFormat::Auto, "gbench.json");
  EXPECT_EQ(r.format, ResultFormat::GoogleBenchmark);
  EXPECT_TRUE(r.error.empty());
  // Three repetitions, microseconds converted to seconds; the mean, median and cv rows are left out.
  std::vector<double> real = values_of(r, "real_time");
  ASSERT_EQ(real.size(), 3u);
  EXPECT_DOUBLE_EQ(real[0], 1500e-6);
  EXPECT_DOUBLE_EQ(real[2], 1700e-6);
  EXPECT_EQ(values_of(r, "cpu_time").size(), 3u);
  EXPECT_EQ(r.metrics.info["real_time"].unit, "s");
  // Rates are better higher; user counters are metrics; non-finite counters are skipped with a warning.
  EXPECT_TRUE(r.metrics.info["bytes_per_second"].higher_is_better);
  EXPECT_EQ(r.metrics.info["bytes_per_second"].unit, "B/s");
  EXPECT_EQ(values_of(r, "hits"), (std::vector<double>{42, 43, 44}));
  EXPECT_TRUE(values_of(r, "ratio").empty());
  EXPECT_EQ(r.metrics.warnings.size(), 3u);
  EXPECT_EQ(r.context["host_name"], "bench-host");
}

TEST(ResultFiles, GoogleBenchmarkAggregatesOnlyGiveTheMedianAsOneSample) {
  FileResults r = parse_result_file(fixture("gbench_aggregates_only.json"), ResultFormat::GoogleBenchmark, "g.json");
  EXPECT_EQ(values_of(r, "real_time"), (std::vector<double>{10e-3}));
  ASSERT_FALSE(r.metrics.warnings.empty());
  EXPECT_NE(r.metrics.warnings.back().find("median"), std::string::npos);
}

TEST(ResultFiles, GoogleBenchmarkErrorsFailAndSkipsAreTheirOwnOutcome) {
  FileResults error = parse_result_file(fixture("gbench_error.json"), ResultFormat::Auto, "g.json");
  EXPECT_EQ(error.error, "BM_gpu: no device found");
  EXPECT_TRUE(error.metrics.values.empty());
  FileResults skipped = parse_result_file(fixture("gbench_skipped.json"), ResultFormat::Auto, "g.json");
  EXPECT_TRUE(skipped.error.empty());
  EXPECT_EQ(skipped.skipped, "BM_avx512: the CPU has no AVX-512");
  FileResults empty = parse_result_file(R"({"context": {}, "benchmarks": []})", ResultFormat::GoogleBenchmark, "g.json");
  EXPECT_NE(empty.error.find("no results"), std::string::npos);
}

TEST(ResultFiles, MalformedBenchmarkOutputIsAnErrorNeverACrash) {
  for (std::string text : {"", "{", "[1, 2", "{\"benchmarks\": 3}", "{\"benchmarks\": [1, \"x\", null]}", "null",
                           "{\"benchmarks\": [{\"real_time\": \"fast\", \"time_unit\": \"ns\"}]}",
                           "{\"benchmarks\": [{\"real_time\": 1, \"time_unit\": \"fortnights\"}]}",
                           "{\"benchmarks\": [{\"name\": 5, \"error_occurred\": \"yes\"}]}",
                           "{\"benchmarks\": [{\"name\": \"x\", \"time_unit\": 3, \"real_time\": 1}]}"}) {
    FileResults r = parse_result_file(text, ResultFormat::GoogleBenchmark, "g.json");
    EXPECT_TRUE(!r.error.empty() || !r.metrics.warnings.empty()) << text;
  }
}

TEST(ResultFiles, LmEvalMetricsCarryTheirStandardErrorsAndDirections) {
  FileResults r = parse_result_file(fixture("lm_eval_results.json"), ResultFormat::Auto, "results.json");
  EXPECT_EQ(r.format, ResultFormat::LmEval);
  EXPECT_EQ(values_of(r, "hellaswag.acc"), (std::vector<double>{0.5712}));
  EXPECT_DOUBLE_EQ(r.metrics.info["hellaswag.acc"].stderr_value, 0.00494);
  EXPECT_TRUE(r.metrics.info["hellaswag.acc_norm"].higher_is_better);
  // A filter other than "none" names the metric; "N/A" means no standard error.
  EXPECT_DOUBLE_EQ(r.metrics.info["gsm8k.exact_match.strict-match"].stderr_value, 0.013);
  EXPECT_LT(r.metrics.info["gsm8k.exact_match.flexible-extract"].stderr_value, 0);
  EXPECT_EQ(values_of(r, "gsm8k.exact_match.flexible-extract"), (std::vector<double>{0.3412}));
  EXPECT_FALSE(r.metrics.info["wikitext.word_perplexity"].higher_is_better);
  EXPECT_TRUE(values_of(r, "wikitext.bits_per_byte").empty());  // NaN: skipped, with a warning
  EXPECT_FALSE(r.metrics.warnings.empty());
  EXPECT_TRUE(values_of(r, "hellaswag.alias").empty());
}

TEST(ResultFiles, APlainObjectOrTheProtocolsRecords) {
  MetricsFileOptions options;
  options.higher_is_better = {"accuracy"};
  FileResults object = parse_result_file(R"({"accuracy": 0.81, "model": "llama", "latency": {"p50": 0.2, "p99": 0.9},
                                             "tokens": [10, 12], "ok": true})",
                                         ResultFormat::Auto, "metrics.json", options);
  EXPECT_EQ(object.format, ResultFormat::Metrics);
  EXPECT_EQ(values_of(object, "accuracy"), (std::vector<double>{0.81}));
  EXPECT_TRUE(object.metrics.info["accuracy"].higher_is_better);
  EXPECT_EQ(values_of(object, "latency.p99"), (std::vector<double>{0.9}));
  EXPECT_EQ(values_of(object, "tokens"), (std::vector<double>{10, 12}));
  EXPECT_TRUE(values_of(object, "model").empty());

  FileResults lines = parse_result_file("{\"metric\": \"a\", \"value\": 1}\n{\"metric\": \"a\", \"value\": 2}\n",
                                        ResultFormat::Auto, "metrics.json");
  EXPECT_EQ(values_of(lines, "a"), (std::vector<double>{1, 2}));
  FileResults array = parse_result_file(R"([{"metric": "b", "samples": [1, 2], "unit": "ms"}])", ResultFormat::Metrics,
                                        "metrics.json");
  EXPECT_EQ(values_of(array, "b"), (std::vector<double>{1, 2}));
  EXPECT_EQ(array.metrics.info["b"].unit, "ms");
  // Names that would merge with benchmatrix's own measurements are refused.
  FileResults own = parse_result_file(R"({"wall_time": 3})", ResultFormat::Auto, "metrics.json");
  EXPECT_TRUE(own.metrics.values.empty());
  EXPECT_EQ(own.metrics.warnings.size(), 1u);
}

TEST(ResultFiles, HyperfineRunsAreProcessesWithTheirExitCodes) {
  ImportedFile file = parse_import_file(fixture("hyperfine_export.json"), ResultFormat::Auto, "h.json");
  EXPECT_EQ(file.format, ResultFormat::Hyperfine);
  ASSERT_EQ(file.benchmarks.size(), 2u);
  EXPECT_EQ(file.benchmarks[0].name, "sleep 0.01");
  EXPECT_EQ(file.benchmarks[0].parameters, (std::vector<std::pair<std::string, std::string>>{{"t", "0.01"}}));
  ASSERT_EQ(file.benchmarks[1].runs.size(), 4u);
  EXPECT_EQ(file.benchmarks[1].runs[2].exit_code, 1);
  EXPECT_DOUBLE_EQ(file.benchmarks[1].runs[0].wall_seconds, 0.0207);
  EXPECT_DOUBLE_EQ(file.benchmarks[0].user_seconds, 0.0009);
}

TEST(ResultFiles, PytestBenchmarkRoundsAreSamplesOfOneProcess) {
  ImportedFile file = parse_import_file(fixture("pytest_benchmark.json"), ResultFormat::Auto, "p.json");
  EXPECT_EQ(file.format, ResultFormat::PytestBenchmark);
  ASSERT_EQ(file.benchmarks.size(), 2u);
  EXPECT_EQ(file.benchmarks[0].name, "tests/test_sort.py::test_sort[1000]");
  EXPECT_EQ(file.benchmarks[0].parameters, (std::vector<std::pair<std::string, std::string>>{{"n", "1000"}}));
  size_t rounds = 0;
  for (const auto& [name, value] : file.benchmarks[0].metrics.values) {
    rounds += name == "time" ? 1 : 0;
  }
  EXPECT_EQ(rounds, 5u);
  EXPECT_TRUE(file.benchmarks[0].metrics.info["ops"].higher_is_better);
  // Without saved data, the median stands for the rounds, and the import says so.
  EXPECT_EQ(file.benchmarks[1].metrics.values.front(), (std::pair<std::string, double>{"time", 0.0015}));
  EXPECT_FALSE(file.warnings.empty());
  EXPECT_EQ(file.context["node"], "bench-host");
  EXPECT_THROW(parse_import_file("{\"x\": 1}", ResultFormat::Auto, "x.json"), UserError);
  EXPECT_THROW(parse_import_file("{\"results\": 1}", ResultFormat::Hyperfine, "x.json"), UserError);
}

} // namespace
} // namespace bm
