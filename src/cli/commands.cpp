#include "cli/commands.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/options.hpp"
#include "config/loader.hpp"
#include "exec/local_executor.hpp"
#include "exec/signals.hpp"
#include "plan/filter.hpp"
#include "plan/plan.hpp"
#include "report/console_status.hpp"
#include "resources/pool.hpp"
#include "resources/topology.hpp"
#include "sched/runner.hpp"
#include "store/machine.hpp"
#include "store/store.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

extern char** environ;

namespace bm {

namespace {

constexpr int k_exit_ok = 0;
constexpr int k_exit_failed = 1;
constexpr int k_exit_usage = 2;
constexpr int k_exit_interrupted = 130;

std::filesystem::path default_out(const Config& config, const std::optional<std::string>& out) {
  return out ? std::filesystem::path(*out) : std::filesystem::path("results") / config.name;
}

std::vector<std::size_t> select_tasks(const Plan& plan, const std::string& filter_text) {
  TaskFilter filter = TaskFilter::parse(filter_text, plan);
  std::vector<std::size_t> selected;
  selected.reserve(plan.size());
  for (std::size_t task = 0; task < plan.size(); ++task) {
    if (filter.matches(plan, task)) {
      selected.push_back(task);
    }
  }
  if (selected.empty()) {
    throw UserError(fmt::format("--filter '{}' matches none of the {} tasks", filter_text, plan.size()));
  }
  return selected;
}

std::vector<int> parse_gpu_list(const std::string& text) {
  try {
    return parse_cpu_list(text);
  } catch (const UserError& error) {
    throw UserError(fmt::format("--gpus: {}", error.what()));
  }
}

// The environment every task inherits: ours, less any BENCHMATRIX_* of an enclosing run (the
// protocol variables are set per task and must never leak from a parent).
std::vector<std::string> inherited_environment() {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (!starts_with(*entry, "BENCHMATRIX_")) {
      env.emplace_back(*entry);
    }
  }
  return env;
}

ResourceOptions resource_options(const Plan& plan, const RunOptions& options) {
  const Config& config = plan.config();
  ResourceOptions resources;
  resources.cores = config.resources.cores;
  if (options.cores) {
    resources.cores = parse_cpu_list(*options.cores);
  }
  resources.reserve_core0 = config.resources.reserve_core0 && !options.use_core0;
  resources.jobs = options.jobs ? options.jobs : (options.parallel ? std::nullopt : config.resources.jobs);
  resources.parallel = options.parallel;
  resources.oversubscribe = options.oversubscribe;
  resources.slot_names = config.parallel_names;
  resources.gpus = options.gpus ? parse_gpu_list(*options.gpus) : config.resources.gpus;
  resources.per_gpu = options.per_gpu.value_or(config.resources.per_gpu);
  for (std::size_t task = 0; task < plan.size(); ++task) {
    ResolvedSettings settings = plan.settings(task);
    resources.max_task_cpus = std::max(resources.max_task_cpus, settings.cpus);
    resources.max_task_gpus = std::max(resources.max_task_gpus, settings.gpus);
  }
  return resources;
}

nlohmann::json summary_json(const Plan& plan, const Store& store, const RunSummary& summary,
                            const PoolLayout& layout, const nlohmann::json& context) {
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& failure : summary.failures) {
    failures.push_back({{"task_id", plan.task_id(failure.task)},
                        {"label", plan.label(failure.task)},
                        {"path", plan.relative_path(failure.task)},
                        {"reason", failure.reason}});
  }
  nlohmann::json json = {{"name", plan.config().name},
                         {"config", plan.config().file},
                         {"config_hash", plan.config().text_hash},
                         {"out", store.root().string()},
                         {"started", summary.started},
                         {"finished", summary.finished},
                         {"wall_time", summary.wall_seconds},
                         {"totals",
                          {{"planned", summary.planned},
                           {"selected", summary.selected},
                           {"skipped_done", summary.skipped_done},
                           {"completed", summary.completed},
                           {"failed", summary.failed},
                           {"interrupted", summary.interrupted},
                           {"not_started", summary.not_started}}},
                         {"attempts", summary.attempts},
                         {"processes", summary.processes},
                         {"interrupted", summary.was_interrupted},
                         {"slots", layout.slot_names.size()},
                         {"cpus", layout.cpus},
                         {"pinned", layout.pinned},
                         {"gpus", layout.gpus},
                         {"failures", failures},
                         {"context", context}};
  if (summary.was_interrupted) {
    json["signal"] = summary.interrupt_signal;
  }
  return json;
}

void print_dry_run(const Plan& plan, const std::vector<std::size_t>& tasks, const Store& store,
                   const PoolLayout& layout) {
  fmt::print("Dry run: {} task{} would run on {} slot{} (cpus {}{}) -> {}\n", tasks.size(),
             tasks.size() == 1 ? "" : "s", layout.slot_names.size(), layout.slot_names.size() == 1 ? "" : "s",
             format_cpu_list(layout.cpus), layout.pinned ? "" : ", unpinned", store.root().string());
  for (std::size_t task : tasks) {
    nlohmann::json spec = task_spec_json(plan, task);
    std::vector<std::string> words;
    for (const auto& word : spec["command"]) {
      words.push_back(shell_quote(word.get<std::string>()));
    }
    fmt::print("  {}  {}\n    {}\n", plan.task_id(task), plan.label(task), join(words, " "));
  }
}

int run_plan(const Plan& plan, const RunOptions& options) {
  const Config& config = plan.config();
  if (!options.executor.empty() && options.executor != "local") {
    throw UserError(options.executor == "slurm"
                        ? "--executor slurm is not available in this version of benchmatrix yet; use local"
                        : fmt::format("--executor: expected local or slurm, found '{}'", options.executor));
  }
  std::optional<std::chrono::nanoseconds> timeout;
  if (options.timeout) {
    timeout = parse_duration(*options.timeout);
    if (!timeout || timeout->count() == 0) {
      throw UserError(fmt::format("--timeout: expected a positive duration such as 30s or 2m, found '{}'",
                                  *options.timeout));
    }
  }
  std::vector<std::size_t> selected = select_tasks(plan, options.filter);
  Topology topology = detect_topology();
  PoolLayout layout = plan_pool(topology, resource_options(plan, options));
  Store store(default_out(config, options.out));

  std::vector<std::size_t> to_run;
  std::size_t already_done = 0;
  for (std::size_t task : selected) {
    if (!options.force && store.state(plan, task) == TaskState::Done) {
      ++already_done;
    } else {
      to_run.push_back(task);
    }
  }
  if (options.dry_run) {
    print_dry_run(plan, to_run, store, layout);
    return k_exit_ok;
  }

  // Everything was validated above; from here on the run writes to OUT.
  SignalBlocker signals;
  nlohmann::json context = machine_context(topology);
  context["cpus_used"] = layout.cpus;
  context["pinned"] = layout.pinned;
  context["gpus_used"] = layout.gpus;
  store.open_for_run(plan, context);

  RunHeader header;
  header.planned = plan.size();
  header.selected = selected.size();
  header.to_run = to_run.size();
  header.already_done = already_done;
  header.slots = layout.slot_names.size();
  header.cpus = layout.cpus;
  header.pinned = layout.pinned;
  header.gpus = layout.gpus;
  header.out_dir = store.root();
  if (topology.source != "hwloc") {
    header.notices.push_back(fmt::format("hwloc unavailable ({}); topology read from sysfs",
                                         topology.fallback_reason));
  }
  header.notices.insert(header.notices.end(), layout.warnings.begin(), layout.warnings.end());

  RunSummary summary;
  summary.planned = plan.size();
  summary.selected = selected.size();
  summary.skipped_done = already_done;
  summary.started = utc_timestamp();
  store.record({{"event", "run-started"},
                {"tasks", to_run.size()},
                {"skipped_done", already_done},
                {"run_dir", store.run_dir().filename().string()},
                {"notices", header.notices}});

  ConsoleStatus status(stdout, options.verbose);
  status.run_started(plan, header);
  ResourcePool pool = layout.make_pool();
  LocalExecutor executor(signals.original_mask());
  RunnerOptions runner_options;
  runner_options.attempt.inherited_env = inherited_environment();
  runner_options.attempt.timeout = timeout;
  runner_options.retries = options.retries;
  runner_options.context = context;
  Runner runner(plan, store, executor, pool, status, runner_options);
  summary = runner.run(to_run, summary);
  summary.finished = utc_timestamp();

  store.write_execution_summary(summary_json(plan, store, summary, layout, context));
  store.record({{"event", "run-finished"},
                {"completed", summary.completed},
                {"failed", summary.failed},
                {"interrupted", summary.interrupted},
                {"not_started", summary.not_started}});
  store.commit(true);
  status.run_finished(plan, summary);
  if (summary.was_interrupted) {
    return k_exit_interrupted;
  }
  return summary.failed > 0 ? k_exit_failed : k_exit_ok;
}

int list_command(const ListOptions& options) {
  Plan plan = Plan::build(load_config(options.config));
  std::vector<std::size_t> selected = select_tasks(plan, options.filter);
  Store store(default_out(plan.config(), options.out));
  std::map<TaskState, std::size_t> counts;
  if (!options.json) {
    fmt::print("{:<8} {:<16}  {}\n", "STATE", "TASK", "AXES");
  }
  for (std::size_t task : selected) {
    TaskState state = store.state(plan, task);
    ++counts[state];
    if (options.json) {
      nlohmann::json line = task_spec_json(plan, task);
      line["state"] = to_string(state);
      fmt::print("{}\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      fmt::print("{:<8} {}  {}\n", to_string(state), plan.task_id(task), plan.label(task));
    }
  }
  if (!options.json) {
    std::vector<std::string> parts;
    for (TaskState state : {TaskState::Done, TaskState::Pending, TaskState::Stale, TaskState::Failed}) {
      if (counts[state] > 0) {
        parts.push_back(fmt::format("{} {}", counts[state], to_string(state)));
      }
    }
    fmt::print("{} task{} ({}) in {}\n", selected.size(), selected.size() == 1 ? "" : "s", join(parts, ", "),
               store.root().string());
  }
  return k_exit_ok;
}

int topology_command(const TopologyOptions& options) {
  Topology topology = detect_topology();
  fmt::print("CPU: {}\n", topology.cpu_model.empty() ? "unknown model" : topology.cpu_model);
  fmt::print("Topology from {}{}: {} physical core{}, {} logical CPU{} available to this process\n", topology.source,
             topology.source == "hwloc" ? "" : " (" + topology.fallback_reason + ")", topology.cores.size(),
             topology.cores.size() == 1 ? "" : "s", topology.logical_cpus, topology.logical_cpus == 1 ? "" : "s");
  for (const auto& core : topology.cores) {
    fmt::print("  core {:>3}  package {}  cpus {}\n", core.core_index, core.package, format_cpu_list(core.cpus));
  }
  ResourceOptions resources;
  if (options.cores) {
    resources.cores = parse_cpu_list(*options.cores);
  }
  resources.reserve_core0 = !options.use_core0;
  resources.jobs = options.jobs;
  resources.parallel = options.parallel;
  std::vector<int> usable = topology.usable_cpus(resources.reserve_core0);
  fmt::print("Usable for benchmarks (one CPU per physical core{}): {}\n",
             resources.reserve_core0 ? ", core 0 left to the system" : "",
             usable.empty() ? "none" : format_cpu_list(usable));
  PoolLayout layout = plan_pool(topology, resources);
  fmt::print("A run with these options would use {} slot{} on cpus {}\n", layout.slot_names.size(),
             layout.slot_names.size() == 1 ? "" : "s", format_cpu_list(layout.cpus));
  fmt::print("GPUs: none discovered (list them with --gpus or resources.gpus)\n");
  return k_exit_ok;
}

// `exec` is a config written on the command line: build it as a document and load it through
// the same validation as a file, so both report the same errors.
Config exec_config(const ExecOptions& options) {
  // Ordered, so that axes keep the order of the -p options.
  nlohmann::ordered_json document;
  Hasher hasher;
  for (const auto& word : options.command) {
    hasher.add_field(word);
  }
  nlohmann::ordered_json matrix = nlohmann::ordered_json::object();
  for (const auto& parameter : options.parameters) {
    size_t equals = parameter.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == parameter.size()) {
      throw UserError(fmt::format("-p '{}': expected NAME=VALUE1,VALUE2,...", parameter));
    }
    std::string name = parameter.substr(0, equals);
    if (matrix.contains(name)) {
      throw UserError(fmt::format("-p: the parameter '{}' is given twice", name));
    }
    matrix[name] = split(parameter.substr(equals + 1), ',');
    hasher.add_field(parameter);
  }
  document["name"] = options.name.empty() ? "exec-" + hasher.hex().substr(0, 8) : options.name;
  if (options.shell) {
    document["shell"] = true;
    document["command"] = join(options.command, " ");
  } else {
    document["command"] = options.command;
  }
  if (!matrix.empty()) {
    document["matrix"] = matrix;
  }
  document["repeat"] = {{"warmup", options.warmup}, {"runs", options.runs}};
  return parse_config(document.dump(2), "<command line>");
}

} // namespace

int main_entry(int argc, char** argv) {
  CommandLine command_line;
  if (auto code = parse_command_line(argc, argv, command_line)) {
    return *code;
  }
  try {
    switch (command_line.command) {
    case CommandLine::Command::Run:
      return run_plan(Plan::build(load_config(command_line.config)), command_line.run);
    case CommandLine::Command::List:
      return list_command(command_line.list);
    case CommandLine::Command::Topology:
      return topology_command(command_line.topology);
    case CommandLine::Command::Exec:
      return run_plan(Plan::build(exec_config(command_line.exec)), command_line.run);
    case CommandLine::Command::None:
      break;
    }
  } catch (const UserError& error) {
    std::fflush(stdout);
    fmt::print(stderr, "benchmatrix: error: {}\n", error.what());
    return k_exit_usage;
  } catch (const std::exception& error) {
    std::fflush(stdout);
    fmt::print(stderr, "benchmatrix: error: {}\n", error.what());
    return k_exit_failed;
  }
  return k_exit_usage;
}

} // namespace bm
