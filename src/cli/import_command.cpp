// `benchmatrix import FILE`: hyperfine's or pytest-benchmark's JSON made a results tree, through
// the same plan and store as a run, so that `report`, `compare` and report.html read it as any.
#include <fcntl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command_support.hpp"
#include "cli/options.hpp"
#include "collect/result_files.hpp"
#include "config/loader.hpp"
#include "plan/plan.hpp"
#include "resources/topology.hpp"
#include "store/machine.hpp"
#include "store/store.hpp"
#include "util/clock.hpp"
#include "util/console.hpp"
#include "util/directory.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

constexpr std::size_t k_max_import = std::size_t{256} << 20;

std::string read_import_file(const std::string& path) {
  UniqueFd fd = open_log(AT_FDCWD, path, O_RDONLY);
  if (!fd) {
    throw UserError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  }
  std::string text;
  char buffer[65536];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof buffer)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw UserError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
    }
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > k_max_import) {
      throw UserError(fmt::format("{}: more than {} MiB", path, k_max_import >> 20));
    }
  }
  return text;
}

} // namespace

int import_command(const ImportOptions& options) {
  ResultFormat format = *parse_result_format(options.format);
  ImportedFile imported = parse_import_file(read_import_file(options.file), format, options.file);
  if (imported.benchmarks.empty()) {
    throw UserError(fmt::format("{}: holds no results to import", options.file));
  }
  bool hyperfine = imported.format == ResultFormat::Hyperfine;
  std::string axis = hyperfine ? "command" : "benchmark";
  // One axis, a value per entry (named as the tool names it; a repeated name gets " #2"); the
  // tool's parameters are fields of the value; the command is what would run it again.
  nlohmann::ordered_json values = nlohmann::ordered_json::array();
  std::map<std::string, int> seen;
  int most_runs = 1;
  for (const auto& benchmark : imported.benchmarks) {
    int count = ++seen[benchmark.name];
    nlohmann::ordered_json value = {{"name", count == 1 ? benchmark.name : fmt::format("{} #{}", benchmark.name, count)},
                                    {"original", benchmark.name}};
    for (const auto& [name, parameter] : benchmark.parameters) {
      if (name != "name" && name != "original" && is_identifier(name)) {
        value[name] = parameter;
      }
    }
    values.push_back(value);
    most_runs = std::max(most_runs, static_cast<int>(benchmark.runs.size()));
  }
  std::filesystem::path file(options.file);
  nlohmann::ordered_json document;
  document["name"] = options.name.empty() ? "import-" + file.stem().string() : options.name;
  if (hyperfine) {
    document["shell"] = true;
    document["command"] = "{command.original}";
  } else {
    document["command"] = {"python3", "-m", "pytest", "{benchmark.original}"};
  }
  document["matrix"] = {{axis, values}};
  document["repeat"] = {{"runs", most_runs}};
  document["report"] = nlohmann::ordered_json::array();
  Plan plan = Plan::build(parse_config(document.dump(2), "<import " + options.file + ">", false));

  Store store(default_out(plan.config(), options.out));
  store.check_structure();
  if (std::optional<std::string> recorded = store.recorded_name();
      recorded && *recorded != plan.config().name && !options.force) {
    throw UserError(fmt::format("{} holds the results of '{}', not '{}'; use another --out, or --force",
                                store.root().string(), printable(*recorded, 80), plan.config().name));
  }
  nlohmann::json context = machine_context(detect_topology());
  context["imported"] = {{"file", std::filesystem::absolute(file).string()}, {"format", to_string(imported.format)}};
  if (!imported.context.is_null()) {
    context["imported"]["machine"] = imported.context;  // where the tool ran, as it says
  }
  store.open_for_run(plan, context);
  std::size_t failed = 0;
  for (std::size_t task = 0; task < plan.size(); ++task) {
    const ImportedBenchmark& benchmark = imported.benchmarks[task];
    TaskOutcome outcome;
    outcome.task = task;
    outcome.slot = "imported";
    outcome.started = outcome.finished = utc_timestamp();
    outcome.warnings = {fmt::format("imported from {} ({})", options.file, to_string(imported.format))};
    if (hyperfine) {
      // hyperfine gives each run's wall time and exit code; user and system only as means.
      int index = 0;
      for (const auto& run : benchmark.runs) {
        RunRecord record;
        record.index = ++index;
        record.wall_seconds = run.wall_seconds;
        record.exit_code = run.exit_code;
        record.cpu_times_known = false;
        record.outcome = run.exit_code == 0 ? "succeeded" : fmt::format("exit code {}", run.exit_code);
        if (run.exit_code != 0 && outcome.status == TaskStatus::Succeeded) {
          outcome.status = TaskStatus::Failed;
          outcome.reason = fmt::format("run {} of {}: exit code {} (as hyperfine recorded it)", index,
                                       benchmark.runs.size(), run.exit_code);
        }
        outcome.runs.push_back(record);
      }
      if (benchmark.user_seconds >= 0) {
        outcome.warnings.push_back(fmt::format("hyperfine's means: user {:.6f} s, system {:.6f} s per run",
                                               benchmark.user_seconds, benchmark.system_seconds));
      }
    } else {
      // pytest-benchmark times every round in one process: one run, its rounds the samples.
      RunRecord record;
      record.index = 1;
      record.exit_code = 0;
      record.cpu_times_known = false;
      record.outcome = "succeeded";
      record.metrics = benchmark.metrics.values;
      for (const auto& [name, value] : benchmark.metrics.values) {
        if (name == "time") {
          record.wall_seconds += value;
        }
      }
      outcome.metric_info = benchmark.metrics.info;
      outcome.runs.push_back(record);
    }
    if (outcome.runs.empty()) {
      outcome.status = TaskStatus::Failed;
      outcome.reason = "no run to import";
    }
    failed += outcome.status == TaskStatus::Failed ? 1 : 0;
    store.finish_task(plan, outcome, context);
  }
  store.record({{"event", "imported"}, {"file", options.file}, {"tasks", plan.size()}});
  store.commit(true);
  for (const auto& warning : imported.warnings) {
    say(stderr, "warning: {}\n", warning);
  }
  say(stdout, "Imported {} {} result{} from {} into {} ({} failed); `benchmatrix report {}` shows them\n",
      plan.size(), to_string(imported.format), plan.size() == 1 ? "" : "s", options.file, store.root().string(),
      failed, store.root().string());
  return k_exit_ok;
}

} // namespace bm
