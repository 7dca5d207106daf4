#include "store/results_reader.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "store/store.hpp"
#include "util/error.hpp"
#include "util/directory.hpp"
#include "util/fs.hpp"
#include "util/signals.hpp"
#include "util/strings.hpp"

namespace bm {

namespace fs = std::filesystem;

std::string TaskSamples::label() const {
  std::string out;
  for (const auto& [axis, value] : axes) {
    out += (out.empty() ? "" : " ") + axis + "=" + value;
  }
  return out.empty() ? "(single task)" : out;
}

std::string UnfinishedTask::label() const {
  std::string out;
  for (const auto& [axis, value] : axes) {
    out += (out.empty() ? "" : " ") + axis + "=" + value;
  }
  return out.empty() ? "(single task)" : out;
}

namespace {

// The orchestrator's own measurements and their keys in result.json's runs.
constexpr std::pair<std::string_view, std::string_view> k_own_metrics[] = {
    {k_metric_wall, "wall_time"}, {k_metric_user, "user_time"}, {k_metric_system, "system_time"},
    {k_metric_rss, "max_rss_kib"}};

// The largest result.json read back (a million samples is tens of MB).
constexpr std::size_t k_max_result = std::size_t{1} << 30;

nlohmann::json read_json_file(const Directory& tasks, const std::string& relative) {
  std::optional<std::string> text = tasks.read_below(relative, k_max_result);
  if (!text) {
    throw std::runtime_error("missing");
  }
  auto json = nlohmann::json::parse(*text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    throw std::runtime_error("not a JSON object");
  }
  return json;
}

TaskSamples task_samples(const nlohmann::json& result, const std::string& path,
                         const std::vector<std::string>& axis_order) {
  TaskSamples task;
  task.task_id = result.at("task_id").get<std::string>();
  task.path = path;
  const auto& axes = result.at("spec").at("axes");
  for (const auto& axis : axis_order) {
    if (axes.contains(axis)) {
      task.axes.emplace_back(axis, axes[axis].get<std::string>());
    }
  }
  const nlohmann::json metrics = result.value("metrics", nlohmann::json::object());
  for (const auto& [name, summary] : metrics.items()) {
    MetricInfo info;
    info.unit = summary.value("unit", "");
    info.higher_is_better = summary.value("direction", "lower") == "higher";
    if (auto error = summary.find("stderr"); error != summary.end() && error->is_number()) {
      info.stderr_value = error->get<double>();
    }
    task.info[name] = info;
  }
  auto ids = [](const nlohmann::json& list) {
    std::string out;
    for (const auto& id : list) {
      out += (out.empty() ? "" : " ") + std::to_string(id.get<int>());
    }
    return out;
  };
  task.slot = result.value("slot", "");
  task.cpus = ids(result.value("cpus", nlohmann::json::array()));
  task.gpus = ids(result.value("gpus", nlohmann::json::array()));
  if (auto noise = result.find("noise"); noise != result.end() && noise->is_object()) {
    task.disturbed = noise->value("disturbed", "");
  }
  if (auto command = result.at("spec").find("command"); command != result.at("spec").end() && command->is_array()) {
    for (const auto& word : *command) {
      if (word.is_string()) {
        task.command.push_back(word.get<std::string>());
      }
    }
  }
  if (auto context = result.find("context"); context != result.end() && context->is_object()) {
    task.machine = fmt::format("{} / {} / {}", context->value("host", "?"), context->value("cpu_model", "?"),
                               context->value("kernel", "?"));
    task.node_type = context->value("cpu_model", "?");
    if (auto gpus = context->find("gpus"); gpus != context->end() && gpus->is_array()) {
      for (const auto& gpu : *gpus) {
        if (gpu.is_object()) {
          task.node_type += " + " + gpu.value("name", "GPU");
        }
      }
    }
  }
  if (auto programs = result.find("executables"); programs != result.end() && programs->is_array()) {
    for (const auto& program : *programs) {
      if (program.is_object()) {
        task.executables.emplace_back(program.value("path", ""), program.value("hash", ""));
      }
    }
  }
  double run_start = 0;
  int run_index = 0;
  auto add = [&](const std::string& metric, double value) {
    task.started[metric].push_back(run_start);
    task.runs[metric].push_back(run_index);
    auto& values = task.samples[metric];
    if (values.empty() && std::find(task.metric_order.begin(), task.metric_order.end(), metric) ==
                              task.metric_order.end()) {
      task.metric_order.push_back(metric);
    }
    values.push_back(value);
  };
  for (const auto& run : result.at("runs")) {
    if (run.value("phase", "") != "run") {
      continue;
    }
    run_start = run.value("started_unix", 0.0);
    run_index = run.value("index", 0);
    const nlohmann::json reported = run.value("metrics", nlohmann::json::array());
    for (const auto& metric : reported) {
      std::string name = metric.at("metric").get<std::string>();
      if (auto values = metric.find("values"); values != metric.end()) {
        for (const auto& value : *values) {
          add(name, value.get<double>());
        }
      } else {
        add(name, metric.at("value").get<double>());  // one object per sample, as older trees have it
      }
    }
  }
  for (const auto& [own, key] : k_own_metrics) {
    for (const auto& run : result.at("runs")) {
      if (run.value("phase", "") == "run" && run.contains(key)) {
        run_start = run.value("started_unix", 0.0);
        run_index = run.value("index", 0);
        add(std::string(own), run[std::string(key)].get<double>());
      }
    }
  }
  return task;
}

} // namespace

ResultsTree read_results(const fs::path& out, bool unfinished) {
  ResultsTree tree;
  tree.root = fs::absolute(out).lexically_normal();
  // The task list is taken out entry by entry while parsing (the callback discards each one from
  // the tree): a plan of a million tasks is never a million JSON objects in memory.
  struct Entry {
    std::string task_id;
    std::string path;
    std::vector<std::pair<std::string, std::string>> axes;  // kept only when `unfinished` asks
  };
  std::vector<Entry> entries;
  nlohmann::json plan;
  try {
    std::string top_key;
    nlohmann::json::parser_callback_t take_tasks = [&](int depth, nlohmann::json::parse_event_t event,
                                                       nlohmann::json& parsed) {
      if (event == nlohmann::json::parse_event_t::key && depth == 1) {
        top_key = parsed.get<std::string>();
      } else if (event == nlohmann::json::parse_event_t::object_end && depth == 2 && top_key == "tasks") {
        Entry entry{parsed.value("task_id", ""), parsed.value("path", ""), {}};
        if (unfinished && parsed.contains("axes") && parsed["axes"].is_object()) {
          for (const auto& [axis, value] : parsed["axes"].items()) {
            entry.axes.emplace_back(axis, value.is_string() ? value.get<std::string>() : value.dump());
          }
        }
        entries.push_back(std::move(entry));
        return false;
      }
      return true;
    };
    // Read without following links inside OUT: a link planted there is refused, never read through.
    Directory root = Directory::open(tree.root);
    std::optional<std::string> text = root.read("plan.json", std::numeric_limits<std::size_t>::max());
    if (!text) {
      throw std::runtime_error("no plan.json");
    }
    plan = nlohmann::json::parse(*text, take_tasks);
    if (!plan.is_object()) {
      throw std::runtime_error("not a JSON object");
    }
  } catch (const std::exception& error) {
    throw UserError(fmt::format("{} is not a benchmatrix results folder: cannot read plan.json ({})",
                                tree.root.string(), error.what()));
  }
  tree.name = plan.value("name", "");
  tree.config_file = plan.value("config", "");
  tree.planned = plan.value("task_count", 0);
  tree.analysis = AnalysisSettings::from_json(plan.value("analysis", nlohmann::json::object()));
  tree.context = plan.value("context", nlohmann::json::object());
  const nlohmann::json axes = plan.value("axes", nlohmann::json::array());
  for (const auto& axis : axes) {
    tree.axis_order.push_back(axis.get<std::string>());
  }
  // One walk finds the folders with a result; only those are read (not a stat per planned task).
  fs::path tasks_root = tree.root / "tasks";
  std::optional<Directory> tasks;
  std::error_code no_tasks;
  if (fs::is_directory(fs::symlink_status(tasks_root, no_tasks))) {
    tasks = Directory::open(tree.root).find("tasks");
  }
  auto done = task_folders_holding(tasks_root, {"result.json"});
  for (auto& entry : entries) {
    check_interrupt();
    const std::string& id = entry.task_id;
    const std::string& path = entry.path;
    fs::path file = tasks_root / path / "result.json";
    bool counted = false;
    std::string skipped;  // the reason of a benchmark that skipped itself: done, without samples
    if (tasks && (!done || done->count(fs::path(path).lexically_normal().string()) != 0)) {
      try {
        nlohmann::json result = read_json_file(*tasks, path + "/result.json");
        if (result.value("task_id", "") == id && result.value("status", "") == "skipped") {
          skipped = "skipped: " + result.value("reason", std::string("by the benchmark"));
        } else if (result.value("task_id", "") == id) {  // else stale: from an older spec
          tree.tasks.push_back(task_samples(result, path, tree.axis_order));
          counted = true;
        }
      } catch (const std::exception& error) {
        if (std::string_view(error.what()) != "missing") {
          tree.warnings.push_back(fmt::format("{}: unreadable, skipped ({})", file.string(), error.what()));
        }
      }
    }
    if (counted || !unfinished) {
      continue;
    }
    UnfinishedTask task{id, path, {}, UnfinishedTask::State::Pending, {}};
    // The plan's axes in the plan's axis order.
    for (const auto& axis : tree.axis_order) {
      for (const auto& [name, value] : entry.axes) {
        if (name == axis) {
          task.axes.emplace_back(name, value);
        }
      }
    }
    if (!skipped.empty()) {
      task.state = UnfinishedTask::State::Skipped;
      task.reason = skipped;
    } else if (tasks) {
      try {
        nlohmann::json failure = read_json_file(*tasks, path + "/failure.json");
        if (failure.value("task_id", "") == id) {
          task.state = UnfinishedTask::State::Failed;
          task.reason = failure.value("reason", "failed");
          for (const auto& run : failure.value("runs", nlohmann::json::array())) {
            if (run.value("timed_out", false)) {
              task.state = UnfinishedTask::State::TimedOut;
            }
          }
        }
      } catch (const std::exception&) {
        // no failure.json (pending), or an unreadable one: pending either way
      }
    }
    tree.unfinished.push_back(std::move(task));
  }
  return tree;
}

} // namespace bm
