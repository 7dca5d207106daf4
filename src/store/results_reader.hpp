#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "collect/metrics.hpp"
#include "config/config.hpp"

#include <nlohmann/json.hpp>

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
  std::map<std::string, std::vector<int>> runs;          // per metric: each sample's run (its process), 1-based
  std::string slot;                                      // where the task's last attempt ran
  std::string cpus;
  std::string gpus;
  std::string disturbed;                                 // why its measured runs count as disturbed
  std::vector<std::pair<std::string, std::string>> executables;  // path, content hash
  std::string machine;                                   // "host / CPU model / kernel" of its last attempt
  std::string node_type;                                 // "CPU model + GPU models": what makes timings comparable
  std::vector<std::string> command;                      // its rendered argv (a shell script: sh -c SCRIPT)

  std::string label() const;                               // "algo=std_sort n=1000"
};

// A planned task without samples of its current spec: failed (or timed out) in its last attempt,
// never finished (pending, interrupted, stale), or skipped by its benchmark.
struct UnfinishedTask {
  enum class State { Failed, TimedOut, Pending, Skipped };
  std::string task_id;
  std::string path;
  std::vector<std::pair<std::string, std::string>> axes;
  State state = State::Pending;
  std::string reason;                                      // the failure's reason; empty when pending

  std::string label() const;
};

// What a results folder holds, read back without running anything.
struct ResultsTree {
  std::filesystem::path root;
  std::string name;
  std::string config_file;                                 // the config that made it, as given to `run`
  AnalysisSettings analysis;                               // as the run's config set it
  nlohmann::json context = nlohmann::json::object();       // the machine facts of the last run (plan.json)
  std::vector<std::string> axis_order;
  std::vector<TaskSamples> tasks;                          // done tasks, in plan order
  std::vector<UnfinishedTask> unfinished;                  // the others, when asked for (in plan order)
  std::size_t planned = 0;
  std::vector<std::string> warnings;                       // tasks skipped, and why
};

// Reads OUT/plan.json and every task's result.json. Throws UserError when OUT is not a
// benchmatrix results folder; a task without a readable result of its current spec is skipped
// (it is pending, failed or stale) and said in warnings only when its result is unreadable. With
// `unfinished`, those tasks are listed too (their failure.json read): what comparisons need to
// miss nothing.
ResultsTree read_results(const std::filesystem::path& out, bool unfinished = false);

} // namespace bm
