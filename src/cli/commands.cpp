#include "cli/commands.hpp"

#include <charconv>
#include <cmath>
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
#include "report/event_stream.hpp"
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

// Values of a parameter, separated by commas; "\\," is a comma inside a value (hyperfine's -L has
// no way to write one).
std::vector<std::string> parameter_values(const std::string& text, const std::string& option) {
  std::vector<std::string> values(1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == ',') {
      values.back() += ',';
      ++i;
    } else if (text[i] == ',') {
      values.emplace_back();
    } else {
      values.back() += text[i];
    }
  }
  if (std::any_of(values.begin(), values.end(), [](const std::string& value) { return value.empty(); })) {
    throw UserError(fmt::format("{} '{}': an empty value (write a comma inside a value as \\,)", option, text));
  }
  return values;
}

// -P NAME MIN MAX with -D STEP: MIN, MIN + STEP, ... up to MAX, as hyperfine scans.
std::vector<std::string> scan_values(const std::string& name, const std::string& low, const std::string& high,
                                     const std::optional<std::string>& step_text) {
  auto number = [&](const std::string& text, const char* what) {
    double value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
      throw UserError(fmt::format("-P {}: {} '{}' is not a number", name, what, text));
    }
    return value;
  };
  double from = number(low, "MIN");
  double to = number(high, "MAX");
  double step = step_text ? number(*step_text, "-D") : 1.0;
  if (step <= 0 || to < from || (to - from) / step > 100000) {
    throw UserError(fmt::format("-P {} {} {}: expected MIN <= MAX and a positive step giving at most 100000 values",
                                name, low, high));
  }
  bool integral = std::floor(from) == from && std::floor(step) == step;
  std::vector<std::string> values;
  for (long i = 0; from + static_cast<double>(i) * step <= to + step * 1e-9; ++i) {
    double value = from + static_cast<double>(i) * step;
    values.push_back(integral ? fmt::format("{}", static_cast<long long>(value)) : fmt::format("{}", value));
  }
  return values;
}

// `exec` is a config written on the command line: build it as a document and load it through
// the same validation as a file, so both report the same errors.
Config exec_config(const ExecOptions& options) {
  // Ordered, so that axes keep the order of the options.
  nlohmann::ordered_json document;
  Hasher hasher;
  for (const auto& word : options.command) {
    hasher.add_field(word);
  }
  nlohmann::ordered_json matrix = nlohmann::ordered_json::object();
  std::vector<std::pair<std::string, std::vector<std::string>>> parameters;
  for (const auto& parameter : options.parameters) {
    size_t equals = parameter.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == parameter.size()) {
      throw UserError(fmt::format("-p '{}': expected NAME=VALUE1,VALUE2,...", parameter));
    }
    parameters.emplace_back(parameter.substr(0, equals), parameter_values(parameter.substr(equals + 1), "-p"));
  }
  for (size_t i = 0; i + 1 < options.parameter_lists.size(); i += 2) {
    parameters.emplace_back(options.parameter_lists[i], parameter_values(options.parameter_lists[i + 1], "-L"));
  }
  for (size_t i = 0; i + 2 < options.parameter_scans.size(); i += 3) {
    const auto& name = options.parameter_scans[i];
    parameters.emplace_back(name, scan_values(name, options.parameter_scans[i + 1], options.parameter_scans[i + 2],
                                              options.step));
  }
  if (options.step && options.parameter_scans.empty()) {
    throw UserError("-D: the step of a parameter scan needs -P NAME MIN MAX");
  }
  bool compare_commands = !options.argv_mode && options.gbench.empty() && options.command.size() > 1;
  if (compare_commands) {
    // Several shell commands compared directly (hyperfine's habit): an axis of their own, the
    // first one the baseline; a script picks the task's command by its index.
    if (!options.command_names.empty() && options.command_names.size() != options.command.size()) {
      throw UserError(fmt::format("--command-name: {} names for {} commands", options.command_names.size(),
                                  options.command.size()));
    }
    nlohmann::ordered_json values = nlohmann::ordered_json::array();
    std::string script;
    for (size_t i = 0; i < options.command.size(); ++i) {
      std::string name = options.command_names.empty() ? options.command[i] : options.command_names[i];
      values.push_back({{"name", name}, {"index", std::to_string(i + 1)}});
      script += fmt::format("{}if [ {{command.index}} = {} ]; then\n{}\n", i == 0 ? "" : "el", i + 1,
                            options.command[i]);
    }
    script += "fi";
    matrix["command"] = values;
    document["shell"] = true;
    document["command"] = script;
    document["analysis"] = {{"baseline", {{"command", values[0]["name"]}}}};
  }
  for (auto& [name, values] : parameters) {
    if (matrix.contains(name)) {
      throw UserError(fmt::format("exec: the parameter '{}' is given twice (or names the compared commands' axis)", name));
    }
    hasher.add_field(name);
    for (const auto& value : values) {
      hasher.add_field(value);
    }
    matrix[name] = values;
  }
  if (!options.gbench.empty()) {
    if (options.shell) {
      throw UserError("--gbench runs the program directly: --shell does not apply");
    }
    hasher.add_field("gbench:" + options.gbench);
    document["source"] = {{"gbench", options.gbench}, {"args", options.command}};
  } else if (options.command.empty()) {
    throw UserError("exec: give one or more commands ('sleep 0.1' 'sleep 0.2'), a command's words after --, or a "
                    "Google Benchmark program with --gbench");
  } else if (compare_commands) {
    // made above
  } else if (options.shell || !options.argv_mode) {
    document["shell"] = true;
    document["command"] = join(options.command, " ");
  } else {
    document["command"] = options.command;
  }
  if (!options.command_names.empty() && !compare_commands) {
    throw UserError("--command-name names each of several commands compared (exec 'a' 'b')");
  }
  if (!options.prepare.empty()) {
    document["prepare"] = options.prepare;
    hasher.add_field("prepare:" + options.prepare);
  }
  if (!options.metrics_file.empty()) {
    document["metrics_file"] = options.metrics_file;
  }
  document["name"] = options.name.empty() ? "exec-" + hasher.hex().substr(0, 8) : options.name;
  if (!matrix.empty()) {
    document["matrix"] = matrix;
  }
  nlohmann::ordered_json repeat = {{"warmup", options.warmup}};
  if (options.min_runs || options.max_runs) {
    int low = options.min_runs.value_or(5);
    int high = options.max_runs.value_or(std::max(100, low));
    if (high < low) {
      throw UserError(fmt::format("-M {} is below -m {}", high, low));
    }
    repeat["min_runs"] = low;
    repeat["max_runs"] = high;
    repeat["target_rel_ci"] = 0.02;
  } else {
    repeat["runs"] = options.runs.value_or(10);
  }
  document["repeat"] = repeat;
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
    case CommandLine::Command::Import:
      return import_command(command_line.import);
    case CommandLine::Command::Worker:
      return worker_command(command_line.worker);
    case CommandLine::Command::Version:
      if (command_line.version_json) {
        say(stdout, "{}\n", nlohmann::json{{"version", BENCHMATRIX_VERSION},
                                            {"results_schema", k_schema},
                                            {"events_schema", EventStream::k_schema}}
                                 .dump());
      } else {
        say(stdout, "benchmatrix {} (results schema {}, events schema {})\n", BENCHMATRIX_VERSION, k_schema,
            EventStream::k_schema);
      }
      return k_exit_ok;
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
