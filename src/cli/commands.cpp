#include "cli/commands.hpp"
#include "cli/command_support.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/options.hpp"
#include "config/loader.hpp"
#include "exec/local_executor.hpp"
#include "util/signals.hpp"
#include "plan/filter.hpp"
#include "plan/plan.hpp"
#include "report/console_status.hpp"
#include "report/reports.hpp"
#include "stats/analysis.hpp"
#include "store/results_reader.hpp"
#include "resources/pool.hpp"
#include "resources/nvml.hpp"
#include "resources/topology.hpp"
#include "sched/runner.hpp"
#include "store/machine.hpp"
#include "stats/correction.hpp"
#include "store/store.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/hash.hpp"
#include "util/environment.hpp"
#include "util/strings.hpp"
#include "util/console.hpp"
#include "collect/executables.hpp"

extern char** environ;

namespace bm {

namespace {


int list_command(const ListOptions& options) {
  Plan plan = Plan::build(load_config(options.config));
  std::vector<std::size_t> selected = select_tasks(plan, options.filter);
  Store store(default_out(plan.config(), options.out));
  std::map<TaskState, std::size_t> counts;
  std::vector<std::string> inherited = current_environment(plan.config().env_inherit);
  std::size_t differing = 0;
  std::size_t rebuilt = 0;
  if (!options.json) {
    say(stdout, "{:<8} {:<16}  {}\n", "STATE", "TASK", "AXES");
  }
  std::vector<TaskState> states = store.states(plan, selected);
  for (std::size_t i = 0; i < selected.size(); ++i) {
    std::size_t task = selected[i];
    TaskState state = states[i];
    ++counts[state];
    std::vector<std::string> differences =
        state != TaskState::Pending ? store.environment_differences(plan, task, inherited) : std::vector<std::string>{};
    bool env_differs = !differences.empty();
    differing += env_differs ? 1 : 0;
    // A result made by another build of the program than the one the command names now.
    std::vector<std::string> changed;
    if (state == TaskState::Done) {
      auto recorded = store.recorded_executables(plan, task);
      if (!recorded.empty()) {
        std::vector<std::string> argv;
        const nlohmann::json spec = task_spec_json(plan, task);  // kept: the loop reads into it
        for (const auto& word : spec["command"]) {
          argv.push_back(word.get<std::string>());
        }
        std::vector<ExecutableHash> now = hash_executables(argv, plan.config().workdir);
        for (const auto& [path, hash] : recorded) {
          auto same = std::find_if(now.begin(), now.end(), [&](const ExecutableHash& e) { return e.path == path; });
          if (same == now.end() || same->hash != hash) {
            changed.push_back(path);
          }
        }
      }
    }
    rebuilt += changed.empty() ? 0 : 1;
    if (options.json) {
      nlohmann::json line = task_spec_json(plan, task);
      line["state"] = to_string(state);
      line["environment_differs"] = differences;
      line["executables_changed"] = changed;
      say(stdout, "{}\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
      say(stdout, "{:<8} {}  {}{}\n", to_string(state), plan.task_id(task), plan.label(task),
                 (env_differs ? fmt::format("  (environment differs: {})", printable(join(differences, ", "), 200))
                              : std::string()) +
                     (changed.empty() ? std::string()
                                      : fmt::format("  (executable changed since: {})", printable(join(changed, ", "), 200))));
    }
  }
  if (!options.json) {
    std::vector<std::string> parts;
    for (TaskState state : {TaskState::Done, TaskState::Pending, TaskState::Stale, TaskState::Failed}) {
      if (counts[state] > 0) {
        parts.push_back(fmt::format("{} {}", counts[state], to_string(state)));
      }
    }
    say(stdout, "{} task{} ({}) in {}\n", selected.size(), selected.size() == 1 ? "" : "s", join(parts, ", "),
               store.root().string());
    if (differing > 0) {
      say(stdout, "{} task{} ran with another inherited environment than this shell's (see environment.json in the run folders)"
                 "; that alone never makes a task run again\n",
                 differing, differing == 1 ? "" : "s");
    }
  }
  return k_exit_ok;
}

int topology_command(const TopologyOptions& options) {
  Topology topology = detect_topology();
  say(stdout, "CPU: {}\n", topology.cpu_model.empty() ? "unknown model" : topology.cpu_model);
  say(stdout, "Topology from {}{}: {} physical core{}, {} logical CPU{} available to this process\n", topology.source,
             topology.source == "hwloc" ? "" : " (" + topology.fallback_reason + ")", topology.cores.size(),
             topology.cores.size() == 1 ? "" : "s", topology.logical_cpus, topology.logical_cpus == 1 ? "" : "s");
  for (const auto& core : topology.cores) {
    say(stdout, "  core {:>3}  package {}  cpus {}\n", core.core_index, core.package, format_cpu_list(core.cpus));
  }
  ResourceOptions resources;
  if (options.cores) {
    resources.cores = parse_cpu_list(*options.cores);
  }
  resources.reserve_core0 = !options.use_core0;
  resources.jobs = options.jobs;
  resources.parallel = options.parallel;
  std::vector<int> usable = topology.usable_cpus(resources.reserve_core0);
  say(stdout, "Usable for benchmarks (one CPU per physical core{}): {}\n",
             resources.reserve_core0 ? ", core 0 left to the system" : "",
             usable.empty() ? "none" : format_cpu_list(usable));
  PoolLayout layout = plan_pool(topology, resources);
  say(stdout, "A run with these options would use {} slot{} on cpus {}\n", layout.all_slot_names().size(),
             layout.all_slot_names().size() == 1 ? "" : "s", format_cpu_list(layout.all_cpus()));
  GpuDiscovery discovery = discover_gpus();
  if (!discovery.available) {
    say(stdout, "GPUs: none discovered: {}. GPUs listed with --gpus or resources.gpus are used as given, unchecked\n",
        discovery.why);
    return k_exit_ok;
  }
  say(stdout, "GPUs (NVML, driver {}): {}\n", discovery.driver, discovery.gpus.empty() ? "none" : std::to_string(discovery.gpus.size()));
  for (const auto& gpu : discovery.gpus) {
    say(stdout, "  gpu {:>2}  {}  {}  {:.1f} GiB  bus {}  near cpus {}  {}\n", gpu.index, gpu.name.empty() ? "?" : gpu.name,
        gpu.uuid.empty() ? "?" : gpu.uuid, static_cast<double>(gpu.memory_total) / (1ULL << 30),
        gpu.bus_id.empty() ? "?" : gpu.bus_id, gpu.cpus.empty() ? "unknown" : format_cpu_list(gpu.cpus),
        gpu.healthy() ? "healthy" : "UNHEALTHY: " + gpu.health);
  }
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
  if (!options.gbench.empty()) {
    if (options.shell) {
      throw UserError("--gbench runs the program directly: --shell does not apply");
    }
    hasher.add_field("gbench:" + options.gbench);
    document["source"] = {{"gbench", options.gbench}, {"args", options.command}};
  } else if (options.command.empty()) {
    throw UserError("exec: give a command (after --), or a Google Benchmark program with --gbench");
  } else if (options.shell) {
    document["shell"] = true;
    document["command"] = join(options.command, " ");
  } else {
    document["command"] = options.command;
  }
  if (!options.metrics_file.empty()) {
    document["metrics_file"] = options.metrics_file;
  }
  document["name"] = options.name.empty() ? "exec-" + hasher.hex().substr(0, 8) : options.name;
  if (!matrix.empty()) {
    document["matrix"] = matrix;
  }
  document["repeat"] = {{"warmup", options.warmup}, {"runs", options.runs}};
  return parse_config(document.dump(2), "<command line>", false);
}

} // namespace

// Many slots each hold a pidfd and two output pipes: take the hard limit on open files, as the
// kernel allows any process to. A run that still runs out reports it per task (a start error
// naming EMFILE), never crashes.
void raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int main_entry(int argc, char** argv) {
  // Before anything else (config loading runs discovery commands; threads inherit the mask):
  // interrupts are taken where benchmatrix looks for them, in every phase.
  SignalBlocker signals;
  raise_open_file_limit();
  CommandLine command_line;
  if (auto code = parse_command_line(argc, argv, command_line)) {
    return *code;
  }
  try {
    switch (command_line.command) {
    case CommandLine::Command::Run:
      return run_config(load_config(command_line.config, false), command_line.run);
    case CommandLine::Command::List:
      return list_command(command_line.list);
    case CommandLine::Command::Topology:
      return topology_command(command_line.topology);
    case CommandLine::Command::Exec:
      return run_config(exec_config(command_line.exec), command_line.run);
    case CommandLine::Command::Report:
      return report_command(command_line.report);
    case CommandLine::Command::Compare:
      return compare_command(command_line.compare);
    case CommandLine::Command::None:
      break;
    }
  } catch (const Interrupted& interrupted) {
    // Whatever was being written is left as it was (files appear whole or not at all).
    console_flush(stdout);
    say(stderr, "benchmatrix: {}\n", interrupted.what());
    return k_exit_interrupted;
  } catch (const UserError& error) {
    console_flush(stdout);
    say(stderr, "benchmatrix: error: {}\n", error.what());
    return k_exit_usage;
  } catch (const std::exception& error) {
    console_flush(stdout);
    say(stderr, "benchmatrix: error: {}\n", error.what());
    return k_exit_failed;
  }
  return k_exit_usage;
}

} // namespace bm
