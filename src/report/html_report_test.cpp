#include "report/html_report.hpp"

#include <gtest/gtest.h>

#include "report/reports.hpp"
#include "report/web_assets.hpp"

namespace bm {
namespace {

constexpr const char* k_img = "<img src=x onerror=alert(1)>";
constexpr const char* k_script = "</script><script>alert(2)</script>";

TaskSamples task_of(const std::string& build, const std::string& n, std::vector<double> values) {
  TaskSamples task;
  task.task_id = build + n;
  task.path = build + "/" + n;
  task.axes = {{"build", build}, {"n", n}};
  task.metric_order = {"t"};
  task.info["t"] = MetricInfo{"s", false};
  for (std::size_t i = 0; i < values.size(); ++i) {
    task.samples["t"].push_back(values[i]);
    task.runs["t"].push_back(static_cast<int>(i) + 1);
    task.started["t"].push_back(1.7e9 + static_cast<double>(i));
  }
  task.slot = "0";
  task.cpus = "1";
  return task;
}

struct Fixture {
  ResultsTree tree;
  Analysis analysis;
};

Fixture hostile() {
  Fixture f;
  f.tree.root = "/tmp/out";
  f.tree.name = "demo";
  f.tree.axis_order = {"build", "n"};
  f.tree.planned = 5;
  for (const char* n : {"10", "1000"}) {
    f.tree.tasks.push_back(task_of("base", n, {1.0, 1.01, 0.99, 1.0, 1.02, 0.98}));
    f.tree.tasks.push_back(task_of(k_img, n, {2.0, 2.01, 1.99, 2.0, 2.02, 1.98}));
  }
  UnfinishedTask failed;
  failed.task_id = "x";
  failed.path = "x";
  failed.axes = {{"build", k_script}, {"n", "10"}};
  failed.state = UnfinishedTask::State::Failed;
  failed.reason = "run 1 of 6: exit code 3 <b>";
  f.tree.unfinished = {failed};
  AnalysisSettings settings;
  settings.baseline_axis = "build";
  settings.baseline_value = "base";
  f.analysis = analyze(f.tree, settings);
  return f;
}

TEST(HtmlReport, JsonInAScriptCannotEndItOrOpenAComment) {
  nlohmann::json value = {{"a", k_script}, {"b", "<!-- x -->"}, {"c", "Tom & Jerry"}};
  std::string text = json_for_script(value);
  EXPECT_EQ(text.find('<'), std::string::npos);
  EXPECT_EQ(text.find('>'), std::string::npos);
  EXPECT_EQ(text.find('&'), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(text), value);  // the same data once parsed
}

TEST(HtmlReport, ValuesFromTheResultsAreEscapedInThePage) {
  Fixture f = hostile();
  f.tree.config_file = "bench.yaml";
  f.tree.tasks.front().command = {"./bench", "--tag", "<b>x</b>"};
  nlohmann::json data = report_data(f.tree, f.analysis, {});
  std::string page = html_page(f.tree, f.analysis, data);
  // Outside the embedded script, no value from the results appears as markup.
  std::size_t script = page.find("<script type=\"application/json\"");
  ASSERT_NE(script, std::string::npos);
  std::string markup = page.substr(0, script);
  EXPECT_EQ(markup.find(k_img), std::string::npos);
  EXPECT_EQ(markup.find("<script>alert"), std::string::npos);
  EXPECT_NE(markup.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(markup.find("exit code 3 &lt;b&gt;"), std::string::npos);
  EXPECT_NE(markup.find("<dt>config</dt><dd>bench.yaml</dd>"), std::string::npos);
  EXPECT_NE(markup.find("<dt>command</dt><dd>./bench --tag &#39;&lt;b&gt;x&lt;/b&gt;&#39;"), std::string::npos);
  // The data island holds them, escaped, and parses back to what report_data made.
  std::size_t begin = page.find('>', script) + 1;
  std::size_t end = page.find("</script>", begin);
  EXPECT_EQ(nlohmann::json::parse(page.substr(begin, end - begin)), data);
  // Exactly two script elements: the data and the embedded front end.
  std::size_t scripts = 0;
  for (std::size_t at = page.find("<script"); at != std::string::npos; at = page.find("<script", at + 1)) {
    ++scripts;
  }
  EXPECT_EQ(scripts, 2u);
}

TEST(HtmlReport, ThePolicyForbidsEveryLoadAndAllowsOnlyItsOwnScript) {
  Fixture f = hostile();
  std::string page = html_page(f.tree, f.analysis, report_data(f.tree, f.analysis, {}));
  std::string source(report_script_source());
  ASSERT_EQ(source.rfind("'sha256-", 0), 0u);
  EXPECT_NE(page.find("default-src 'none'; script-src " + source + ";"), std::string::npos);
  EXPECT_EQ(page.find("unsafe-eval"), std::string::npos);
  // Nothing outside the bundle names a place on the network (the bundle holds XML namespace URIs).
  std::string outside = page.substr(0, page.find(std::string(report_script())));
  EXPECT_EQ(outside.find("http:"), std::string::npos);
  EXPECT_EQ(outside.find("https:"), std::string::npos);
  EXPECT_NE(page.find(std::string(report_script())), std::string::npos);
  EXPECT_GT(report_script().size(), 100'000u);  // Vega and Vega-Lite are in it
}

TEST(HtmlReport, DataHasAxesMetricsComparisonsAndLinksForFailures) {
  Fixture f = hostile();
  HtmlOptions options;
  options.page_dir = "/tmp/elsewhere";
  nlohmann::json data = report_data(f.tree, f.analysis, options);
  ASSERT_EQ(data["axes"].size(), 2u);
  EXPECT_EQ(data["axes"][0]["values"], nlohmann::json({"base", k_img, k_script}));
  EXPECT_FALSE(data["axes"][0]["numeric"]);
  EXPECT_TRUE(data["axes"][1]["numeric"]);
  EXPECT_EQ(data["metric"], "t");
  EXPECT_EQ(data["tasks"].size(), 4u);
  EXPECT_EQ(data["tasks"][1]["stats"]["t"]["n"], 6);
  EXPECT_DOUBLE_EQ(data["tasks"][1]["stats"]["t"]["median"].get<double>(), 2.0);
  // Two measured comparisons (n = 10 and 1000) and one failed one.
  std::size_t measured = 0;
  for (const auto& c : data["comparisons"]) {
    measured += c.contains("ratio") ? 1 : 0;
  }
  EXPECT_EQ(measured, 2u);
  EXPECT_EQ(data["comparisons"][0]["verdict"], "regressed");
  EXPECT_EQ(data["comparisons"][0]["task"], 1);
  EXPECT_EQ(data["comparisons"][0]["baseline_task"], 0);
  EXPECT_EQ(data["unfinished"][0]["state"], "failed");
}

TEST(HtmlReport, RawSamplesStayWithinTheBudgetComparedTasksFirst) {
  Fixture f = hostile();
  f.tree.tasks.push_back(task_of("other", "10", {1, 2, 3, 4, 5, 6}));
  HtmlOptions options;
  options.sample_budget = 24;  // four tasks of six samples
  nlohmann::json data = report_data(f.tree, f.analysis, options);
  EXPECT_EQ(data["samples"]["tasks_included"], 4);
  EXPECT_EQ(data["samples"]["value"].size(), 24u);
  EXPECT_FALSE(data["tasks"][4]["sampled"]);  // not compared: left out first
  EXPECT_TRUE(data["tasks"][0]["sampled"]);
  options.sample_budget = 0;
  data = report_data(f.tree, f.analysis, options);
  EXPECT_EQ(data["samples"]["tasks_included"], 0);
  EXPECT_EQ(data["tasks"][0]["stats"]["t"]["n"], 6);  // the statistics are always there
}

TEST(HtmlReport, ReportNamesChooseTheFiles) {
  ReportOutputs all = ReportOutputs::from_names(std::nullopt);
  EXPECT_TRUE(all.json && all.csv && all.markdown && all.html);
  ReportOutputs none = ReportOutputs::from_names(std::vector<std::string>{});
  EXPECT_FALSE(none.json || none.csv || none.markdown || none.html);
  EXPECT_EQ(none.describe(), "no report");
  ReportOutputs some = ReportOutputs::from_names(std::vector<std::string>{"json", "html"});
  EXPECT_TRUE(some.json && some.html);
  EXPECT_FALSE(some.csv || some.markdown);
  EXPECT_EQ(some.describe(), "summary.json and report.html");
  EXPECT_EQ(all.describe(), "summary.json, samples.csv, comparison_table.md and report.html");
}

} // namespace
} // namespace bm
