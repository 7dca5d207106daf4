#include "cli/command_support.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <sched.h>
#include <unistd.h>
#include <unordered_set>
#include <cstdlib>
#include <map>
#include <sys/stat.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/options.hpp"
#include "config/discover.hpp"
#include "config/loader.hpp"
#include "exec/cgroups.hpp"
#include "exec/local_executor.hpp"
#include "exec/orphans.hpp"
#include "util/signals.hpp"
#include "plan/filter.hpp"
#include "plan/plan.hpp"
#include "report/console_status.hpp"
#include "report/hyperfine.hpp"
#include "report/event_stream.hpp"
#include "report/live_display.hpp"
#include "report/progress.hpp"
#include "report/reports.hpp"
#include "stats/analysis.hpp"
#include "store/results_reader.hpp"
#include "resources/nvml.hpp"
#include "resources/pool.hpp"
#include "resources/topology.hpp"
#include "sched/runner.hpp"
#include "store/machine.hpp"
#include "stats/correction.hpp"
#include "store/store.hpp"
#include "util/clock.hpp"
#include "util/command.hpp"
#include "util/fs.hpp"
#include "util/duration.hpp"
#include "util/hash.hpp"
#include "util/environment.hpp"
#include "util/strings.hpp"
#include "util/console.hpp"
#include "util/command.hpp"
#include "util/directory.hpp"
#include "resources/monitor.hpp"
#include <fcntl.h>

extern char** environ;

namespace bm {

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

WorkToDo work_to_do(const Plan& plan, const Store& store, const std::vector<std::size_t>& selected, bool force) {
  const Config& config = plan.config();
  store.check_structure();
  // OUT belongs to the config that made it (by its name): another config's tasks would replace
  // finished results at the same paths without a word.
  if (std::optional<std::string> recorded = store.recorded_name(); recorded && *recorded != config.name && !force) {
    throw UserError(fmt::format("{} holds the results of the config named '{}', not '{}'; use another --out, or --force "
                                "to run every task of this config into it (replacing results at the same paths)",
                                store.root().string(), printable(*recorded, 80), printable(config.name, 80)));
  }
  WorkToDo work;
  std::vector<TaskState> states =
      force ? std::vector<TaskState>(selected.size(), TaskState::Pending) : store.states(plan, selected);
  for (std::size_t i = 0; i < selected.size(); ++i) {
    if (states[i] == TaskState::Done) {
      ++work.already_done;
    } else {
      work.to_run.push_back(selected[i]);
    }
  }
  return work;
}

std::vector<std::size_t> tasks_by_path(const Plan& plan, const std::vector<std::string>& paths,
                                       const std::vector<std::string>& ids) {
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t task = 0; task < plan.size(); ++task) {
    index.emplace(plan.relative_path(task), task);
  }
  std::vector<std::size_t> tasks;
  std::vector<std::string> changed;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    auto found = index.find(paths[i]);
    if (found == index.end() || (i < ids.size() && plan.task_id(found->second) != ids[i])) {
      changed.push_back(paths[i]);
    } else {
      tasks.push_back(found->second);
    }
  }
  if (!changed.empty()) {
    throw UserError(fmt::format("the config no longer plans {} as it did when the run was submitted (it changed since)",
                                join(changed, ", ")));
  }
  return tasks;
}

namespace {

std::vector<int> parse_gpu_list(const std::string& text) {
  try {
    return parse_cpu_list(text);
  } catch (const UserError& error) {
    throw UserError(fmt::format("--gpus: {}", error.what()));
  }
}

ResourceOptions resource_options(const Plan& plan, const RunOptions& options) {
  const Config& config = plan.config();
  ResourceOptions resources;
  resources.cores = config.resources.cores;
  resources.cores_location = config.resources.cores_location;
  if (options.cores) {
    resources.cores = parse_cpu_list(*options.cores);
    resources.cores_location = {};
  }
  resources.reserve_core0 = config.resources.reserve_core0 && !options.use_core0;
  resources.jobs = options.jobs ? options.jobs : (options.parallel ? std::nullopt : config.resources.jobs);
  resources.parallel = options.parallel;
  resources.oversubscribe = options.oversubscribe;
  resources.slot_names = config.parallel_names;
  // A cluster element has the GPUs SLURM gave it, or none: never the config's list of this machine's.
  resources.gpus = options.gpus      ? parse_gpu_list(*options.gpus)
                   : options.element ? std::vector<int>{}
                                     : config.resources.gpus;
  resources.per_gpu = options.per_gpu.value_or(config.resources.per_gpu);
  resources.max_concurrent = options.per_gpu || options.element ? std::nullopt : config.resources.max_concurrent;
  resources.cpu_tasks = false;
  for (std::size_t task = 0; task < plan.size(); ++task) {
    ResolvedSettings settings = plan.settings(task);
    if (settings.gpus == 0) {
      resources.cpu_tasks = true;
    } else {
      resources.max_gpu_task_cpus = std::max(resources.max_gpu_task_cpus, settings.cpus);
    }
    if (settings.cpus > resources.max_task_cpus) {
      resources.max_task_cpus = settings.cpus;
      resources.cpus_location = settings.cpus_location;
    }
    if (settings.gpus > resources.max_task_gpus) {
      resources.max_task_gpus = settings.gpus;
      resources.gpus_location = settings.gpus_location;
    }
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
                           {"skipped_by_benchmark", summary.skipped},
                           {"not_started", summary.not_started}}},
                         {"attempts", summary.attempts},
                         {"processes", summary.processes},
                         {"interrupted", summary.was_interrupted},
                         {"slots", layout.all_slot_names().size()},
                         {"cpus", layout.all_cpus()},
                         {"pinned", layout.pinned},
                         {"gpus", layout.gpus},
                         {"failures", failures},
                         {"context", context}};
  if (summary.was_interrupted) {
    json["signal"] = summary.interrupt_signal;
  }
  if (!summary.stop_reason.empty()) {
    json["stopped"] = summary.stop_reason;
  }
  json["system_metrics"] = (store.run_dir() / "system_metrics.csv").lexically_relative(store.root()).string();
  return json;
}

void print_dry_run(const Plan& plan, const std::vector<std::size_t>& tasks, const Store& store,
                   const PoolLayout& layout) {
  say(stdout, "Dry run: {} task{} would run on {} slot{} (cpus {}{}) -> {}\n", tasks.size(),
             tasks.size() == 1 ? "" : "s", layout.all_slot_names().size(), layout.all_slot_names().size() == 1 ? "" : "s",
             format_cpu_list(layout.all_cpus()), layout.pinned ? "" : ", unpinned", store.root().string());
  for (std::size_t task : tasks) {
    nlohmann::json spec = task_spec_json(plan, task);
    // As a command line that runs the same thing when pasted into a shell.
    std::vector<std::string> words;
    if (spec.contains("shell_variables")) {
      for (const auto& [name, value] : spec["shell_variables"].items()) {
        words.push_back(name + "=" + shell_quote(value.get<std::string>()));
      }
    }
    for (const auto& word : spec["command"]) {
      words.push_back(shell_quote(word.get<std::string>()));
    }
    say(stdout, "  {}  {}\n    {}\n", plan.task_id(task), plan.label(task), join(words, " "));
  }
}

// The journal's account of a killed run (its run-started and process-started events), for
// end_orphans.
LeftBehind left_behind(const std::vector<nlohmann::json>& events) {
  LeftBehind left;
  for (const auto& event : events) {
    if (event.value("event", "") == "run-started") {
      left.run_started_ticks = event.value("start_ticks", std::uint64_t{0});
      left.tasks_dir = event.value("tasks_dir", "");
      continue;
    }
    LeftBehind::Process process;
    process.pid = event.value("pid", 0);
    process.start_ticks = event.value("start_ticks", std::uint64_t{0});
    if (event.contains("cgroups") && event["cgroups"].is_array()) {
      for (const auto& dir : event["cgroups"]) {
        if (dir.is_string()) {
          process.cgroups.push_back(dir.get<std::string>());
        }
      }
    }
    left.processes.push_back(std::move(process));
  }
  return left;
}

// benchmatrix itself runs on the allowed CPUs that no slot uses (core 0 by default), so that
// its bookkeeping never competes with a measured process. When every CPU is a slot's, it stays
// where it is.
void keep_off_task_cpus(const PoolLayout& layout) {
  if (!layout.pinned) {
    return;
  }
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    return;
  }
  for (int cpu : layout.all_cpus()) {
    if (cpu >= 0 && cpu < CPU_SETSIZE) {
      CPU_CLR(cpu, &allowed);
    }
  }
  if (CPU_COUNT(&allowed) > 0) {
    ::sched_setaffinity(0, sizeof allowed, &allowed);  // a hint: failing it changes no result
  }
}

bool is_terminal(std::FILE* stream) {
  const char* term = std::getenv("TERM");
  return ::isatty(::fileno(stream)) == 1 && term != nullptr && *term != '\0' && std::string_view(term) != "dumb";
}

bool use_color(std::FILE* stream, const std::string& option) {
  if (option != "auto") {
    return option == "always";
  }
  const char* force = std::getenv("FORCE_COLOR");
  if (force != nullptr && *force != '\0' && std::string_view(force) != "0") {
    return true;
  }
  const char* no_color = std::getenv("NO_COLOR");
  return (no_color == nullptr || *no_color == '\0') && is_terminal(stream);
}

// Every 60 s, or BENCHMATRIX_HEARTBEAT_SECONDS.
std::chrono::seconds heartbeat_interval() {
  const char* text = std::getenv("BENCHMATRIX_HEARTBEAT_SECONDS");
  int seconds = 60;
  if (text != nullptr && *text != '\0') {
    auto [end, error] = std::from_chars(text, text + std::strlen(text), seconds);
    if (error != std::errc() || *end != '\0' || seconds < 1) {
      throw UserError(fmt::format("BENCHMATRIX_HEARTBEAT_SECONDS: expected a whole number of seconds, found '{}'",
                                  printable(text, 40)));
    }
  }
  return std::chrono::seconds(seconds);
}

// What shows the run: plain lines on stdout, a live display on a terminal (stdout's, else
// stderr's) or a heartbeat line every 60 s where there is none, and the events stream; all fed by
// the runner through one fan-out.
class Display {
public:
  Display(const RunOptions& options, const Plan& plan, std::unordered_map<std::string, double> history,
          UniqueFd events, std::chrono::seconds heartbeat)
      : m_progress(plan, std::move(history), std::chrono::steady_clock::now()), m_recorder(m_progress) {
    m_fan_out.add(m_recorder);
    bool live = !options.quiet && options.progress != "never";
    std::FILE* terminal = nullptr;
    if (live && is_terminal(stdout)) {
      terminal = stdout;
    } else if (live && is_terminal(stderr)) {
      terminal = stderr;
    } else if (live && options.progress == "always") {
      terminal = stdout;
    }
    ConsoleOptions console{options.verbose, options.quiet, use_color(terminal ? terminal : stdout, options.color)};
    if (terminal != nullptr) {
      m_live.emplace(terminal, m_progress, console, terminal == stdout);
      m_fan_out.add(*m_live);
    }
    if (terminal != stdout) {
      m_lines.emplace(stdout, ConsoleOptions{options.verbose, options.quiet, use_color(stdout, options.color)});
      m_fan_out.add(*m_lines);
    }
    if (terminal == nullptr && !options.quiet) {
      m_heartbeat.emplace(stdout, m_progress, heartbeat);
      m_fan_out.add(*m_heartbeat);
    }
    if (events) {
      m_events.emplace(std::move(events));
      m_fan_out.add(*m_events);
    }
  }

  Status& status() { return m_fan_out; }

private:
  RunProgress m_progress;
  ProgressRecorder m_recorder;
  std::optional<LiveDisplay> m_live;
  std::optional<ConsoleStatus> m_lines;
  std::optional<ProgressHeartbeat> m_heartbeat;
  std::optional<EventStream> m_events;
  StatusFanOut m_fan_out;
};

} // namespace

// The config's gpu_check, run once on each GPU with that GPU alone visible: those on which it
// fails get no work, each with a notice saying why.
std::vector<int> check_gpus_with_command(const ResourceSettings& settings, const std::vector<int>& gpus,
                                         std::vector<std::string>& notices) {
  if (settings.gpu_check.empty()) {
    return gpus;
  }
  std::vector<int> passed;
  auto timeout = std::chrono::duration_cast<std::chrono::seconds>(settings.gpu_check_timeout);
  for (int gpu : gpus) {
    std::string id = std::to_string(gpu);
    std::vector<std::string> argv = {"env", "CUDA_DEVICE_ORDER=PCI_BUS_ID", "CUDA_VISIBLE_DEVICES=" + id,
                                     "BENCHMATRIX_GPUS=" + id};
    if (settings.gpu_check.shell) {
      argv.insert(argv.end(), {"/bin/sh", "-c", settings.gpu_check.words.front()});
    } else {
      argv.insert(argv.end(), settings.gpu_check.words.begin(), settings.gpu_check.words.end());
    }
    int spawn_error = 0;
    CommandResult result = run_command(argv, timeout, 64 * 1024, spawn_error);
    if (spawn_error == 0 && result.succeeded()) {
      passed.push_back(gpu);
      continue;
    }
    std::vector<std::string> lines = split(std::string(trim(result.output)), '\n');
    std::string said = lines.empty() || lines.back().empty() ? "" : ": " + printable(lines.back(), 200);
    notices.push_back(fmt::format("GPU {} gets no work: resources.gpu_check failed on it ({}){}", gpu,
                                  spawn_error != 0 ? std::string(std::strerror(spawn_error)) : result.describe(timeout), said));
  }
  return passed;
}

// A program that does not exist is one error before anything runs, not a failure per task. A
// task with a setup is not checked (its setup may build the program), nor a word that still holds
// a placeholder filled in at run time ({slot}, {result_dir}, ...).
void check_programs(const Plan& plan, const std::vector<std::size_t>& tasks) {
  const Config& config = plan.config();
  if (!config.setup.empty()) {
    return;
  }
  const char* own_path = std::getenv("PATH");
  std::map<std::string, bool> known;
  struct Missing {
    std::size_t tasks = 0;
    std::size_t first = 0;
  };
  std::map<std::string, Missing> missing;
  bool templated = config.command.words.empty() || config.command.words.front().find('{') != std::string::npos;
  for (std::size_t task : tasks) {
    TaskCommands commands = plan.render(task, nullptr);
    if (commands.command.empty()) {
      continue;
    }
    const std::string& program = commands.command.front();
    if (program.find('{') != std::string::npos || program.find("%%") != std::string::npos) {
      continue;
    }
    std::string path_variable = own_path ? own_path : "/usr/bin:/bin";
    for (const auto& [name, value] : commands.env) {
      if (name == "PATH") {
        path_variable = value;
      }
    }
    std::string key = program + '\0' + path_variable;
    auto found = known.find(key);
    if (found == known.end()) {
      found = known.emplace(key, find_executable(program, path_variable, config.workdir).has_value()).first;
    }
    if (!found->second) {
      Missing& entry = missing.try_emplace(program, Missing{0, task}).first->second;
      ++entry.tasks;
    }
    if (!templated && found->second) {
      return;  // the same program for every task: checked once
    }
  }
  if (missing.empty()) {
    return;
  }
  std::vector<std::string> lines;
  for (const auto& [program, entry] : missing) {
    lines.push_back(fmt::format("{}: no such executable ({}{}{})", printable(program, 200),
                                entry.tasks == 1 ? "the command of " : fmt::format("the command of {} tasks, e.g. ", entry.tasks),
                                printable(plan.label(entry.first), 120),
                                program.find('/') == std::string::npos ? "; searched in PATH" : ""));
  }
  SourceLocation where = config.command.locations.empty() ? SourceLocation{config.file, 0, 0} : config.command.locations.front();
  throw UserError(where, fmt::format("command not found before anything ran: {}", join(lines, "; ")));
}

void write_step(const std::filesystem::path& run_dir, const StepRecord& record) {
  if (run_dir.empty()) {
    return;
  }
  write_file_atomic(run_dir / (record.name + ".log"), record.output);
  write_file_atomic(run_dir / (record.name + ".json"), record.to_json().dump(2) + "\n");
}

nlohmann::json StepRecord::to_json() const {
  return {{"command", argv}, {"started", started}, {"seconds", seconds}, {"outcome", outcome}, {"log", name + ".log"}};
}

namespace {

constexpr std::size_t k_max_step_output = 64 << 20;
constexpr std::chrono::hours k_step_timeout{24};

// Runs a run-level step in the config's workdir, its stderr joined to its stdout (both recorded).
StepRecord run_step(const CommandTemplate& command, const std::string& name, const std::string& workdir) {
  StepRecord record;
  record.name = name;
  record.argv = command.shell ? std::vector<std::string>{"/bin/sh", "-c", command.words.front()} : command.words;
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec 2>&1; cd -- \"$1\" || exit 126; shift; exec \"$@\"",
                                   "benchmatrix-" + name, workdir.empty() ? "." : workdir};
  argv.insert(argv.end(), record.argv.begin(), record.argv.end());
  say(stdout, "{}: {}\n", name, printable(join(record.argv, " "), 200));
  console_flush(stdout);
  record.started = utc_timestamp();
  auto start = std::chrono::steady_clock::now();
  int spawn_error = 0;
  CommandResult result = run_command(argv, std::chrono::duration_cast<std::chrono::seconds>(k_step_timeout),
                                     k_max_step_output, spawn_error);
  record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  record.output = std::move(result.output);
  record.succeeded = spawn_error == 0 && result.succeeded();
  record.outcome = spawn_error != 0        ? std::string("cannot start /bin/sh: ") + std::strerror(spawn_error)
                   : result.too_much_output ? fmt::format("printed more than {} MiB", k_max_step_output >> 20)
                   : record.succeeded       ? "succeeded"
                                            : result.describe(std::chrono::duration_cast<std::chrono::seconds>(k_step_timeout));
  return record;
}

// The last lines of a step's output, for its error.
std::string output_tail(const std::string& output, std::size_t lines) {
  std::vector<std::string> all = split(std::string(trim(output)), '\n');
  std::size_t from = all.size() > lines ? all.size() - lines : 0;
  std::string tail;
  for (std::size_t i = from; i < all.size(); ++i) {
    tail += "\n  | " + printable(all[i], 300);
  }
  return tail;
}

// The `after:` step: once, whatever happened before it. A failed one turns a clean exit into 1.
int run_after(const Config& config, const RunSteps& steps, int code) {
  StepRecord after = run_step(config.after, "after", config.workdir);
  try {
    write_step(steps.run_dir, after);
  } catch (const SystemError& error) {
    say(stderr, "benchmatrix: warning: the after step's record could not be written: {}\n", error.what());
  }
  if (!after.succeeded) {
    say(stderr, "benchmatrix: error: after: {} ({}){}\n", printable(join(after.argv, " "), 200), after.outcome,
        output_tail(after.output, 10));
    return code == k_exit_ok ? k_exit_failed : code;
  }
  return code;
}

} // namespace

// The reports a run was asked to write to files of the user's choosing (--export-*).
void write_exports(const ResultsTree& tree, const Analysis& analysis, const RunOptions& options) {
  auto exported = [&](const std::optional<std::string>& file, auto&& write) {
    if (file) {
      std::filesystem::path path = std::filesystem::absolute(*file);
      make_directories(path.parent_path());
      write(path);
      say(stdout, "Wrote {}\n", *file);
    }
  };
  exported(options.export_json, [&](const auto& path) { write_summary_json(tree, analysis, path); });
  exported(options.export_csv, [&](const auto& path) { write_samples_csv(tree, path); });
  exported(options.export_markdown, [&](const auto& path) { write_markdown(tree, analysis, path); });
  exported(options.export_hyperfine, [&](const auto& path) { write_hyperfine_json(tree, path); });
}

int run_config(Config config, const RunOptions& options) {
  RunSteps steps;
  bool steps_run = !options.dry_run;
  for (const auto* step : {&config.before, &config.after}) {
    if (options.dry_run && !step->empty()) {
      say(stdout, "{} (not run with --dry-run): {}\n", step == &config.before ? "before" : "after",
          printable(join(step->words, " "), 200));
    }
  }
  if (steps_run && !config.before.empty()) {
    // Before discovery and planning: it may build the program that lists the benchmarks.
    steps.before = run_step(config.before, "before", config.workdir);
    if (!steps.before->succeeded) {
      SourceLocation where = config.before.locations.empty() ? SourceLocation{config.file, 0, 0}
                                                             : config.before.locations.front();
      throw UserError(where, fmt::format("the before step failed ({}); nothing was run{}", steps.before->outcome,
                                         output_tail(steps.before->output, 20)));
    }
  }
  int code = k_exit_ok;
  try {
    discover(config);
    code = run_plan(Plan::build(config), options, &steps);
  } catch (...) {
    if (steps_run && !config.after.empty()) {
      run_after(config, steps, k_exit_failed);
    }
    throw;
  }
  if (steps_run && !config.after.empty()) {
    code = run_after(config, steps, code);
  }
  return code;
}

int run_plan(const Plan& plan, const RunOptions& options, RunSteps* steps) {
  const Config& config = plan.config();
  if (options.gate && config.analysis.baseline_axis.empty()) {
    throw UserError(SourceLocation{config.file, 0, 0},
                    "--gate: the config compares nothing; set analysis.baseline (e.g. {build: base}) to gate on the "
                    "comparisons of each value of that axis with it");
  }
  std::string executor_name = options.executor.empty() ? config.executor : options.executor;
  if (executor_name == "slurm" && !options.element) {
    return run_on_slurm(plan, options, steps);
  }
  std::optional<std::chrono::nanoseconds> timeout;
  if (options.timeout) {
    timeout = parse_duration(*options.timeout);
    if (!timeout || timeout->count() == 0) {
      throw UserError(fmt::format("--timeout: expected a positive duration such as 30s or 2m, found '{}'",
                                  *options.timeout));
    }
  }
  std::vector<std::size_t> selected =
      options.element ? tasks_by_path(plan, options.element->paths, options.element->ids)
                      : select_tasks(plan, options.filter);
  Topology topology = detect_topology();
  ResourceOptions resources = resource_options(plan, options);
  // GPUs asked for must exist; without NVML the listed ids are trusted, and that is said once.
  GpuDiscovery gpus = discover_gpus();
  check_requested_gpus(resources.gpus, gpus, options.gpus ? "--gpus" : "resources.gpus");
  for (int id : resources.gpus) {
    auto gpu = std::find_if(gpus.gpus.begin(), gpus.gpus.end(), [&](const GpuInfo& info) { return info.index == id; });
    resources.gpu_cpus.push_back(gpu == gpus.gpus.end() ? std::vector<int>{} : gpu->cpus);
  }
  // An unhealthy GPU gets no work: it leaves the pool before the run, with its reason.
  std::vector<std::string> gpu_notices;
  if (gpus.available && !resources.gpus.empty()) {
    std::vector<int> healthy;
    for (int id : resources.gpus) {
      auto gpu = std::find_if(gpus.gpus.begin(), gpus.gpus.end(), [&](const GpuInfo& info) { return info.index == id; });
      if (gpu->healthy()) {
        healthy.push_back(id);
      } else {
        gpu_notices.push_back(fmt::format("GPU {} ({}) gets no work: {}", id, gpu->uuid, gpu->health));
      }
    }
    healthy = check_gpus_with_command(config.resources, healthy, gpu_notices);
    if (healthy.empty()) {
      throw UserError(fmt::format("no GPU left to run on: {}", join(gpu_notices, "; ")));
    }
    std::vector<std::vector<int>> healthy_cpus;
    for (int id : healthy) {
      auto at = std::find(resources.gpus.begin(), resources.gpus.end(), id);
      healthy_cpus.push_back(resources.gpu_cpus[static_cast<std::size_t>(at - resources.gpus.begin())]);
    }
    resources.gpus = healthy;
    resources.gpu_cpus = healthy_cpus;
  }
  PoolLayout layout = plan_pool(topology, resources);
  Store store(default_out(config, options.out));
  auto [to_run, already_done] = work_to_do(plan, store, selected, options.force);
  check_programs(plan, to_run);
  if (options.dry_run) {
    print_dry_run(plan, to_run, store, layout);
    return k_exit_ok;
  }

  std::optional<CgroupManager> cgroups;
  std::string isolation_notice;
  if (options.isolation != "none") {
    cgroups.emplace();
    if (!cgroups->enabled()) {
      if (options.isolation == "cgroup") {
        throw UserError("--isolation cgroup: cgroups cannot be used here: " + cgroups->reason());
      }
      isolation_notice = "isolation: no cgroups (" + cgroups->reason() +
                         "); tasks are contained by CPU affinity, process groups and rlimits only";
      cgroups.reset();
    }
  }
  bool needs_cgroups = false;
  for (std::size_t task : to_run) {
    ResolvedSettings settings = plan.settings(task);
    needs_cgroups = needs_cgroups || settings.memory > 0 || settings.pids > 0;
  }
  // On a cluster the element's --mem is the scheduler's to enforce.
  if (needs_cgroups && !cgroups && !options.element) {
    throw UserError("task.memory and task.pids are enforced with cgroups, which cannot be used here" +
                    (isolation_notice.empty() ? std::string(" (--isolation none)") : ": " + isolation_notice));
  }

  // Where the events go is opened now: a path that cannot be written is an error before anything runs.
  UniqueFd events_fd = options.events ? EventStream::open(*options.events) : UniqueFd();
  std::chrono::seconds heartbeat = heartbeat_interval();

  // Everything was validated above; from here on the run writes to OUT.
  keep_off_task_cpus(layout);
  nlohmann::json context = machine_context(topology);
  context["cpus_used"] = layout.all_cpus();
  context["pinned"] = layout.pinned;
  context["gpus_used"] = layout.gpus;
  if (gpus.available) {
    nlohmann::json models = nlohmann::json::array();
    for (const auto& gpu : gpus.gpus) {
      if (std::find(layout.gpus.begin(), layout.gpus.end(), gpu.index) != layout.gpus.end()) {
        models.push_back({{"index", gpu.index}, {"name", gpu.name}, {"uuid", gpu.uuid}, {"bus_id", gpu.bus_id},
                          {"memory_bytes", gpu.memory_total}});
      }
    }
    context["gpu_driver"] = gpus.driver;
    if (!models.empty()) {
      context["gpus"] = models;
    }
  }
  store.set_durable(options.durability != "off");
  std::unordered_map<std::string, double> durations;
  std::size_t orphans = 0;
  if (options.element) {
    for (const auto& [name, value] : options.element->context) {
      context[name] = value;
    }
    store.open_for_element(options.element->run_dir);
  } else {
    store.open_for_run(plan, context);
    // A run killed part-way (SIGKILL, a crash, a reboot of the orchestrator alone) may have left
    // its processes running: end them before new ones start beside them.
    orphans = end_orphans(left_behind(store.processes_of_unfinished_run(&durations)));
  }

  RunHeader header;
  header.planned = plan.size();
  header.selected = selected.size();
  header.to_run = to_run.size();
  header.already_done = already_done;
  header.slots = layout.all_slot_names().size();
  header.cpus = layout.all_cpus();
  header.pinned = layout.pinned;
  header.gpus = layout.gpus;
  header.out_dir = store.root();
  header.slot_names = layout.all_slot_names();
  header.tasks = to_run;
  if (options.element) {
    header.selected_by = "this cluster element";
  }
  if (topology.source != "hwloc") {
    header.notices.push_back(fmt::format("hwloc unavailable ({}); topology read from sysfs",
                                         topology.fallback_reason));
  }
  header.notices.insert(header.notices.end(), layout.warnings.begin(), layout.warnings.end());
  for (std::string& notice : plan.comparison_notices()) {
    header.notices.push_back(std::move(notice));
  }
  header.notices.insert(header.notices.end(), gpu_notices.begin(), gpu_notices.end());
  if (!layout.gpus.empty() && !gpus.available) {
    header.notices.push_back(fmt::format("GPUs {} are used as listed, unchecked: {}", format_cpu_list(layout.gpus), gpus.why));
  }
  if (config.resources.thermal_limit && layout.gpus.empty()) {
    header.notices.push_back("resources.thermal_limit gates measured runs on GPUs; this run uses none");
  }
  if (!isolation_notice.empty()) {
    header.notices.push_back(isolation_notice);
  } else if (cgroups) {
    context["isolation"] = cgroups->describe();
  }
  if (orphans > 0) {
    header.notices.push_back(fmt::format("ended {} process{} left running by an earlier run that was killed",
                                         orphans, orphans == 1 ? "" : "es"));
  }

  RunSummary summary;
  summary.planned = plan.size();
  summary.selected = selected.size();
  summary.skipped_done = already_done;
  summary.started = utc_timestamp();
  // Who ran, since when, and where its tasks' folders are: what a later run needs to find what
  // this one left behind if it is killed.
  store.record({{"event", "run-started"},
                {"tasks", to_run.size()},
                {"skipped_done", already_done},
                {"run_dir", store.run_dir().filename().string()},
                {"pid", ::getpid()},
                {"start_ticks", process_start_ticks(::getpid()).value_or(0)},
                {"tasks_dir", (store.root() / "tasks").string()},
                {"notices", header.notices}});

  Display display(options, plan, std::move(durations), std::move(events_fd), heartbeat);
  Status& status = display.status();
  status.run_started(plan, header);
  ResourcePool pool = layout.make_pool();
  LocalExecutor executor(original_signal_mask());
  executor.set_cgroups(cgroups ? &*cgroups : nullptr);
  RunnerOptions runner_options;
  runner_options.attempt.inherited_env = current_environment(plan.config().env_inherit);
  store.write_run_environment(runner_options.attempt.inherited_env);
  if (steps != nullptr) {
    steps->run_dir = store.run_dir();
    if (steps->before) {
      write_step(store.run_dir(), *steps->before);
    }
  }
  runner_options.attempt.timeout = timeout;
  runner_options.retries = options.retries;
  runner_options.halt = options.halt == "now"    ? RunnerOptions::Halt::Now
                        : options.halt == "soon" ? RunnerOptions::Halt::Soon
                                                 : RunnerOptions::Halt::Never;
  runner_options.context = context;
  runner_options.cool_down = config.resources.cool_down;
  runner_options.thermal_limit = config.resources.thermal_limit;
  // One sampler for the run: every task's monitor.csv, and the machine's totals beside the run's journal.
  MonitorSettings monitor_settings{config.monitor.enabled, config.monitor.interval};
  Monitor monitor(monitor_settings, gpus.nvml, layout.gpus,
                  config.monitor.enabled
                      ? open_log(AT_FDCWD, (store.run_dir() / "system_metrics.csv").string(), O_WRONLY | O_CREAT | O_TRUNC)
                      : UniqueFd());
  runner_options.monitor = &monitor;
  Runner runner(plan, store, executor, pool, status, runner_options);
  try {
    summary = runner.run(to_run, summary);
  } catch (const SystemError& error) {
    if (error.error_number() != ENOSPC && error.error_number() != EDQUOT) {
      throw;
    }
    // Nothing half-written counts (every file is renamed into place whole), so stopping here
    // loses nothing finished; the executor's destructor ends what is still running. The execution
    // summary is still tried (it is small, and a failed write removed its temporary file).
    executor.terminate_all(SIGKILL);
    summary = runner.summary();
    summary.finished = utc_timestamp();
    nlohmann::json json = summary_json(plan, store, summary, layout, context);
    if (steps != nullptr && steps->before) {
      json["before"] = steps->before->to_json();
    }
    json["stopped"] = fmt::format("the disk holding the results is full ({})", error.what());
    std::string summary_note;
    try {
      store.write_execution_summary(json);
      store.record({{"event", "run-stopped"}, {"reason", json["stopped"]}});
      store.commit(true);
    } catch (const SystemError& again) {
      summary_note = fmt::format(" (the execution summary could not be written either: {})", again.what());
    }
    say(stderr,
        "benchmatrix: error: the disk holding {} is full ({}).\n"
        "Stopped: running tasks were ended; every result already written is complete{}. Free some space "
        "and run the same command again to resume.\n",
        store.root().string(), error.what(), summary_note);
    return k_exit_failed;
  }
  summary.finished = utc_timestamp();

  nlohmann::json execution = summary_json(plan, store, summary, layout, context);
  if (steps != nullptr && steps->before) {
    execution["before"] = steps->before->to_json();
  }
  store.write_execution_summary(execution);
  store.record({{"event", "run-finished"},
                {"completed", summary.completed},
                {"failed", summary.failed},
                {"interrupted", summary.interrupted},
                {"not_started", summary.not_started}});
  store.commit(true);
  status.run_finished(plan, summary);
  if (options.element) {
    // The driver writes the statistics once every element has finished.
    return summary.was_interrupted ? k_exit_interrupted : summary.failed > 0 ? k_exit_failed : k_exit_ok;
  }
  if (summary.was_interrupted) {
    // Asked to stop: the statistics can wait for `benchmatrix report`.
    say(stdout, "Statistics not recomputed (interrupted); `benchmatrix report {}` does it from what is on disk\n",
        store.root().string());
    return k_exit_interrupted;
  }
  return report_finished_run(plan, store.root(), selected, options, summary.failed > 0 || !summary.stop_reason.empty());
}

int report_finished_run(const Plan& plan, const std::filesystem::path& out, const std::vector<std::size_t>& selected,
                        const RunOptions& options, bool failed) {
  bool gate = options.gate || plan.config().analysis.gate;
  // The statistics and reports over everything done so far, this run's tasks and earlier ones.
  // An interrupt here ends with 130 (Interrupted): every result is already written.
  ResultsTree tree = read_results(out, true);
  // Tasks left out by --filter are not this run's business: only the selected ones count as missing.
  std::unordered_set<std::string> chosen;
  for (std::size_t task : selected) {
    chosen.insert(plan.task_id(task));
  }
  std::erase_if(tree.unfinished, [&](const UnfinishedTask& task) {
    return task.state == UnfinishedTask::State::Pending && chosen.count(task.task_id) == 0;
  });
  if (!tree.tasks.empty()) {
    Analysis analysis = analyze_and_report(tree, plan.config().analysis, true, ReportOutputs::from_names(plan.config().reports));
    if (options.hyperfine_summary) {
      say(stdout, "\n{}", hyperfine_summary(tree, analysis));
    }
    write_exports(tree, analysis, options);
    if (gate && analysis.count(Verdict::Regressed) > 0) {
      say(stdout, "GATE FAILED: {}\n", analysis.counts_line());
      return k_exit_regression;
    }
    if (gate && !analysis.comparisons.empty()) {
      say(stdout, "Gate {}: {}\n", failed ? "failed (tasks failed)" : "passed", analysis.counts_line());
    }
  }
  return failed ? k_exit_failed : k_exit_ok;
}

} // namespace bm
