#include "collect/metrics.hpp"

#include <gtest/gtest.h>

namespace bm {
namespace {

TEST(Metrics, ValuesAndSamplesWithUnitsAndDirection) {
  ReportedMetrics m = parse_reported_metrics(
      "{\"metric\": \"sort_time\", \"value\": 0.5, \"unit\": \"s\"}\n"
      "{\"metric\": \"throughput\", \"samples\": [1, 2.5, 3], \"unit\": \"ops/s\", \"direction\": \"higher\"}\n"
      "\n",
      "m.jsonl");
  ASSERT_EQ(m.values.size(), 4u);
  EXPECT_EQ(m.values[0], (std::pair<std::string, double>{"sort_time", 0.5}));
  EXPECT_EQ(m.values[2].second, 2.5);
  EXPECT_FALSE(m.info["sort_time"].higher_is_better);
  EXPECT_TRUE(m.info["throughput"].higher_is_better);
  EXPECT_EQ(m.info["throughput"].unit, "ops/s");
  EXPECT_TRUE(m.warnings.empty());
}

TEST(Metrics, ASingleValueMayCarryItsStandardError) {
  ReportedMetrics m = parse_reported_metrics(
      "{\"metric\": \"accuracy\", \"value\": 0.81, \"stderr\": 0.012, \"direction\": \"higher\"}\n"
      "{\"metric\": \"bad\", \"value\": 1, \"stderr\": -1}\n",
      "m.jsonl");
  ASSERT_EQ(m.values.size(), 1u);
  EXPECT_DOUBLE_EQ(m.info["accuracy"].stderr_value, 0.012);
  ASSERT_EQ(m.warnings.size(), 1u);
  EXPECT_NE(m.warnings[0].find("\"stderr\" must be a finite number >= 0"), std::string::npos) << m.warnings[0];
}

TEST(Metrics, BadLinesAreSkippedWithAWarningEach) {
  ReportedMetrics m = parse_reported_metrics("not json\n"
                                             "[1, 2]\n"
                                             "{\"value\": 1}\n"
                                             "{\"metric\": \"x\", \"value\": NaN}\n"
                                             "{\"metric\": \"x\", \"value\": Infinity}\n"
                                             "{\"metric\": \"x\", \"value\": \"12\"}\n"
                                             "{\"metric\": \"x\", \"samples\": []}\n"
                                             "{\"metric\": \"x\", \"samples\": [1, null]}\n"
                                             "{\"metric\": \"x\", \"value\": 1e999}\n"
                                             "{\"metric\": \"x\", \"value\": 1, \"direction\": \"up\"}\n"
                                             "{\"metric\": \"ok\", \"value\": 7}\n"
                                             "{\"metric\": \"trunc",
                                             "m.jsonl");
  ASSERT_EQ(m.values.size(), 1u);
  EXPECT_EQ(m.values[0].first, "ok");
  EXPECT_EQ(m.warnings.size(), 11u);
  EXPECT_NE(m.warnings[0].find("m.jsonl:1:"), std::string::npos) << m.warnings[0];
  EXPECT_NE(m.warnings[10].find("m.jsonl:12:"), std::string::npos) << m.warnings[10];
}

TEST(Metrics, HugeLineIsRejectedNotParsed) {
  std::string line = "{\"metric\": \"x\", \"value\": 1, \"pad\": \"" + std::string(2 << 20, 'a') + "\"}\n";
  ReportedMetrics m = parse_reported_metrics(line, "m");
  EXPECT_TRUE(m.values.empty());
  ASSERT_EQ(m.warnings.size(), 1u);
  EXPECT_NE(m.warnings[0].find("longer than"), std::string::npos);
}

TEST(Metrics, NamesOfBenchmatrixsOwnMeasurementsAreRefused) {
  ReportedMetrics reported = parse_reported_metrics(
      "{\"metric\": \"wall_time\", \"value\": 99}\n{\"metric\": \"max_rss\", \"samples\": [1]}\n"
      "{\"metric\": \"wall_time_ms\", \"value\": 2}\n",
      "m");
  ASSERT_EQ(reported.values.size(), 1u);
  EXPECT_EQ(reported.values[0].first, "wall_time_ms");
  ASSERT_EQ(reported.warnings.size(), 2u);
  EXPECT_NE(reported.warnings[0].find("one of benchmatrix's own measurements"), std::string::npos);
}

} // namespace
} // namespace bm
