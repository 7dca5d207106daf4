#include "report/tables.hpp"

#include <gtest/gtest.h>

namespace bm {
namespace {

TEST(Tables, NumbersInHumanUnitsWithoutENotation) {
  EXPECT_EQ(format_number(0.0000325), "0.0000325");
  EXPECT_EQ(format_number(1234.5678), "1235");
  EXPECT_EQ(format_number(12.345678), "12.35");
  EXPECT_EQ(format_number(123456), "123456");
  EXPECT_EQ(format_quantity(10588, "KiB"), "10.34 MiB");
  EXPECT_EQ(format_quantity(512, "KiB"), "512 KiB");
  EXPECT_EQ(format_quantity(3.5 * 1024 * 1024 * 1024, "B"), "3.5 GiB");
  EXPECT_EQ(format_quantity(2.0e-8, "s"), "20ns");
  EXPECT_EQ(format_quantity(0.0697, "s"), "69.7ms");
  EXPECT_EQ(format_quantity(14344278, "elements/s"), "14.34 M elements/s");
  EXPECT_EQ(format_p(0.00003), "<0.0001");
  EXPECT_EQ(format_p(0.0123), "0.0123");
}

TaskSamples task(const std::string& model, const std::string& subset, double accuracy) {
  TaskSamples t;
  t.task_id = model + subset;
  t.path = model + "/" + subset;
  t.axes = {{"model", model}, {"subset", subset}};
  t.metric_order = {"accuracy", "wall_time"};
  t.samples["accuracy"] = {accuracy};
  t.info["accuracy"] = MetricInfo{"", true};
  if (subset != "qasper") {
    t.samples["latency"] = {0.5, 0.6, 0.55};
    t.metric_order.insert(t.metric_order.begin() + 1, "latency");
    t.info["latency"] = MetricInfo{"s", false};
  }
  t.samples["wall_time"] = {1.0};
  return t;
}

TEST(Tables, AxisColumnsMetricsSideBySidePivotAndWhatLacksAMetric) {
  ResultsTree tree;
  tree.axis_order = {"model", "subset"};
  tree.tasks = {task("llama", "narrativeqa", 0.61), task("llama", "qasper", 0.42), task("qwen", "narrativeqa", 0.66),
                task("qwen", "qasper", 0.40)};
  tree.planned = 4;
  AnalysisSettings settings;
  Analysis analysis = analyze(tree, settings);
  std::string table = task_table(tree, analysis, {});
  EXPECT_NE(table.find("model  subset"), std::string::npos) << table;
  EXPECT_NE(table.find("accuracy (median)"), std::string::npos) << table;
  EXPECT_NE(table.find("latency (median)"), std::string::npos) << table;
  EXPECT_NE(table.find("without latency (2): model=llama subset=qasper; model=qwen subset=qasper"), std::string::npos)
      << table;
  std::string pivot = pivot_table(tree, analysis, "accuracy", {"model"}, {"subset"});
  EXPECT_NE(pivot.find("model \\ subset  narrativeqa  qasper"), std::string::npos) << pivot;
  EXPECT_NE(pivot.find("qwen"), std::string::npos) << pivot;
  nlohmann::json summary = summary_block(tree, analysis);
  EXPECT_EQ(summary["metrics"]["accuracy"]["best"], "model=qwen subset=narrativeqa");
  EXPECT_EQ(summary["metrics"]["latency"]["most_consistent"].get<std::string>().substr(0, 6), "model=");
  EXPECT_THROW(check_table_options(tree, {{"nope"}, {}, {}}), UserError);
  EXPECT_THROW(check_table_options(tree, {{}, {"model"}, {"nope"}}), UserError);
  EXPECT_THROW(check_table_options(tree, {{}, {"model"}, {}}), UserError);
  EXPECT_NO_THROW(check_table_options(tree, {{"accuracy", "latency"}, {"model"}, {"subset"}}));
}

TEST(Tables, CostPerRunAndPerDollarFromPricesPerHour) {
  TaskSamples t;
  t.cpus = "1 2";
  t.gpus = "0";
  TaskStats stats;
  MetricStats wall;
  wall.metric = "wall_time";
  wall.descriptive.median = 36;  // 1% of an hour
  MetricStats rate;
  rate.metric = "throughput";
  rate.info = {"tokens/s", true};
  rate.descriptive.median = 1000;
  stats.metrics = {wall, rate};
  AnalysisSettings settings;
  EXPECT_TRUE(task_cost(t, stats, settings).is_null());
  settings.gpu_hour = 2.5;
  settings.core_hour = 0.25;
  nlohmann::json cost = task_cost(t, stats, settings);
  EXPECT_DOUBLE_EQ(cost["per_hour"].get<double>(), 3.0);
  EXPECT_DOUBLE_EQ(cost["per_run"].get<double>(), 0.03);
  EXPECT_DOUBLE_EQ(cost["per_dollar"]["throughput"]["value"].get<double>(), 1.2e6);
  EXPECT_EQ(cost["per_dollar"]["throughput"]["unit"], "tokens per $");
}

} // namespace
} // namespace bm
