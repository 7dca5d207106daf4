#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "collect/metrics.hpp"
#include "config/config.hpp"

namespace bm {

// The samples of one finished task, as the results tree holds them.
struct TaskSamples {
  std::string task_id;
  std::string path;                                        // below OUT/tasks/
  std::vector<std::pair<std::string, std::string>> axes;   // in the plan's axis order
  std::vector<std::string> metric_order;                   // task metrics first, then wall/user/system/rss
  std::map<std::string, std::vector<double>> samples;      // per metric, in run order
  std::map<std::string, MetricInfo> info;
  std::map<std::string, std::vector<double>> started;   // per metric: each sample's run start (unix s)
  std::string slot;                                      // where the task's last attempt ran
  std::string cpus;
  std::string gpus;

  std::string label() const;                               // "algo=std_sort n=1000"
};

// What a results folder holds, read back without running anything.
struct ResultsTree {
  std::filesystem::path root;
  std::string name;
  AnalysisSettings analysis;                               // as the run's config set it
  std::vector<std::string> axis_order;
  std::vector<TaskSamples> tasks;                          // done tasks, in plan order
  std::size_t planned = 0;
  std::vector<std::string> warnings;                       // tasks skipped, and why
};

// Reads OUT/plan.json and every task's result.json. Throws UserError when OUT is not a
// benchmatrix results folder; a task without a readable result of its current spec is skipped
// (it is pending, failed or stale) and said in warnings only when its result is unreadable.
ResultsTree read_results(const std::filesystem::path& out);

} // namespace bm
