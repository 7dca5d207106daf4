#include "sched/task_attempt.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "collect/result_files.hpp"
#include "stats/descriptive.hpp"
#include "util/clock.hpp"
#include "util/directory.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

constexpr std::size_t k_max_metrics_bytes = 64 * 1024 * 1024;

std::string id_list(const std::vector<int>& ids, const char* separator) {
  std::string out;
  for (int id : ids) {
    out += (out.empty() ? "" : separator) + std::to_string(id);
  }
  return out;
}

void set_variable(std::vector<std::string>& env, const std::string& name, const std::string& value) {
  std::string prefix = name + "=";
  for (auto& entry : env) {
    if (starts_with(entry, prefix)) {
      entry = prefix + value;
      return;
    }
  }
  env.push_back(prefix + value);
}

} // namespace

TaskAttempt::TaskAttempt(const Plan& plan, std::size_t task, int attempt, Lease lease, std::string slot_name,
                         TaskFolderRef folder, const AttemptContext& context)
    : m_plan(plan), m_task(task), m_lease(std::move(lease)), m_folder(std::move(folder)),
      m_settings(plan.settings(task)), m_started(std::chrono::steady_clock::now()) {
  m_timeout = context.timeout ? context.timeout : m_settings.timeout;
  RuntimeContext runtime{slot_name, id_list(m_lease.cpus, ","), id_list(m_lease.gpus, ","), m_folder.path.string(),
                         plan.task_id(task)};
  m_commands = plan.render(task, &runtime);

  m_base_env = context.inherited_env;
  for (const auto& [name, value] : m_commands.env) {
    set_variable(m_base_env, name, value);
  }
  for (const auto& [name, value] : m_commands.shell_variables) {
    set_variable(m_base_env, name, value);
  }
  set_variable(m_base_env, "BENCHMATRIX_TASK_ID", runtime.task_id);
  set_variable(m_base_env, "BENCHMATRIX_GPUS", runtime.gpus);
  set_variable(m_base_env, "BENCHMATRIX_SLOT", slot_name);
  set_variable(m_base_env, "BENCHMATRIX_CORES", runtime.cores);
  set_variable(m_base_env, "BENCHMATRIX_RESULT_DIR", runtime.result_dir);
  set_variable(m_base_env, "BENCHMATRIX_RESULT_FILE", (m_folder.path / "metrics.jsonl").string());
  if (!m_lease.gpus.empty()) {
    // NVML numbers GPUs in PCI bus order, CUDA by default fastest first: the same order for both.
    set_variable(m_base_env, "CUDA_DEVICE_ORDER", "PCI_BUS_ID");
    set_variable(m_base_env, "CUDA_VISIBLE_DEVICES", runtime.gpus);
  }

  if (!m_commands.setup.empty()) {
    m_steps.push_back({Phase::Setup, 1});
  }
  for (int i = 1; i <= m_settings.warmup; ++i) {
    m_steps.push_back({Phase::Warmup, i});
  }
  for (int i = 1; i <= m_settings.runs; ++i) {
    m_steps.push_back({Phase::Run, i});
  }
  m_teardown_step = m_steps.size();
  if (!m_commands.teardown.empty()) {
    m_steps.push_back({Phase::Teardown, 1});
  }

  const Config& config = plan.config();
  if (config.source.kind == SourceConfig::Kind::GoogleBenchmark) {
    m_result_files.push_back({k_gbench_out_file, ResultFormat::GoogleBenchmark, true, {}, std::nullopt, false});
  }
  if (!config.metrics_file.path.empty()) {
    m_result_files.push_back({config.metrics_file.path, config.metrics_file.format, false,
                              config.metrics_file.higher_is_better, std::nullopt, false});
  } else if (config.metrics_file.enabled) {
    // Unless the config says otherwise, a metrics.json a run writes into its folder is its metrics.
    m_result_files.push_back({"metrics.json", ResultFormat::Auto, false, {}, std::nullopt, true});
  }

  m_outcome.task = task;
  m_outcome.attempt = attempt;
  m_outcome.slot = slot_name;
  m_outcome.cpus = m_lease.cpus;
  m_outcome.gpus = m_lease.gpus;
  m_outcome.started = utc_timestamp();
}

std::vector<std::string> TaskAttempt::environment(const Step& step) const {
  std::vector<std::string> env = m_base_env;
  env.push_back("BENCHMATRIX_PHASE=" + std::string(to_string(step.phase)));
  env.push_back("BENCHMATRIX_RUN=" + std::to_string(step.index));
  return env;
}

std::optional<ProcessSpec> TaskAttempt::next_process(std::uint64_t token) {
  BM_ASSERT(!m_running);
  if (m_finished || m_next_step >= m_steps.size()) {
    m_finished = true;
    return std::nullopt;
  }
  const Step& step = m_steps[m_next_step];
  bool measured = step.phase == Phase::Warmup || step.phase == Phase::Run;
  // `prepare` runs right before each warm-up and measured run, in the same slot, unmeasured.
  m_preparing = measured && !m_commands.prepare.empty() && !m_prepared;
  const auto& argv = m_preparing                     ? m_commands.prepare
                     : step.phase == Phase::Setup    ? m_commands.setup
                     : step.phase == Phase::Teardown ? m_commands.teardown
                                                     : m_commands.command;
  ProcessSpec spec;
  spec.token = token;
  spec.argv = argv;
  spec.env = environment(m_preparing ? Step{Phase::Prepare, step.index} : step);
  spec.working_directory = m_plan.config().workdir;
  // Opened below OUT/tasks without following links: a task that replaced its folder or a log
  // with a link cannot have benchmatrix write anywhere else.
  spec.output_base = m_folder.tasks_fd;
  spec.stdout_path = m_folder.relative + "/stdout.log";
  spec.stderr_path = m_folder.relative + "/stderr.log";
  spec.cpus = m_lease.cpus;
  spec.timeout = m_timeout;
  spec.kill_grace = m_settings.kill_grace;
  spec.output_cap = m_settings.output_limit;
  spec.memory_max = m_settings.memory;
  spec.pids_max = m_settings.pids;
  bool first = m_next_step == 0 || (m_next_step == 1 && m_steps[0].phase == Phase::Setup);
  if (measured && !first && (m_preparing || m_commands.prepare.empty())) {
    spec.start_delay = m_settings.cooldown;  // lets the machine settle between runs (seed 001)
  }
  if (m_preparing) {
    m_running = true;
    return spec;
  }
  if (step.phase == Phase::Run && step.index == 1) {
    m_outcome.executables = hash_executables(argv, spec.working_directory);
  }
  if (measured) {
    prepare_result_files();
  }
  if (step.phase == Phase::Run) {
    // Read before the process starts and after it ends: the difference is its run's, others included.
    double load = load_average();
    m_outcome.noise.load_average = std::max(m_outcome.noise.load_average, load);
    m_cpu_before = read_cpu_times(m_lease.cpus);
  }
  m_running = true;
  return spec;
}

void TaskAttempt::collect_metrics(RunRecord& record) {
  // Only what this run appended is its own: earlier bytes belong to warm-ups or earlier runs.
  std::filesystem::path path = m_folder.path / "metrics.jsonl";
  UniqueFd fd = open_log(m_folder.tasks_fd, m_folder.relative + "/metrics.jsonl", O_RDONLY);
  if (!fd) {
    if (errno != ENOENT) {
      // A link, a FIFO, a device: never followed, waited on or read without end.
      m_outcome.warnings.push_back(fmt::format("run {}: {} is not a regular file; its metrics are ignored",
                                               record.index, path.string()));
    }
    return;
  }
  off_t end = ::lseek(fd.get(), 0, SEEK_END);
  if (end < 0 || static_cast<std::uint64_t>(end) <= m_metrics_offset) {
    return;
  }
  std::uint64_t length = static_cast<std::uint64_t>(end) - m_metrics_offset;
  std::uint64_t begin = m_metrics_offset;
  m_metrics_offset = static_cast<std::uint64_t>(end);
  if (record.phase != Phase::Run) {
    return;
  }
  if (length > k_max_metrics_bytes) {
    m_outcome.warnings.push_back(fmt::format("run {}: the task wrote {} bytes of metrics; more than {} are ignored",
                                             record.index, length, k_max_metrics_bytes));
    return;
  }
  std::string text(length, '\0');
  ssize_t got = ::pread(fd.get(), text.data(), length, static_cast<off_t>(begin));
  if (got < 0) {
    m_outcome.warnings.push_back(fmt::format("run {}: cannot read {}: {}", record.index, path.string(),
                                             std::strerror(errno)));
    return;
  }
  text.resize(static_cast<size_t>(got));
  ReportedMetrics reported = parse_reported_metrics(text, fmt::format("metrics.jsonl (run {})", record.index));
  record.metrics = std::move(reported.values);
  for (auto& [name, info] : reported.info) {
    m_outcome.metric_info[name] = info;
  }
  for (auto& warning : reported.warnings) {
    m_outcome.warnings.push_back(std::move(warning));
  }
}

void TaskAttempt::prepare_result_files() {
  for (auto& file : m_result_files) {
    std::string relative = m_folder.relative + "/" + file.path;
    file.before.reset();
    if (file.owned) {
      // A file left by an earlier run (or attempt) must never count as this run's.
      size_t slash = relative.rfind('/');
      UniqueFd folder = open_beneath(m_folder.tasks_fd, relative.substr(0, slash), O_RDONLY | O_DIRECTORY);
      if (folder) {
        ::unlinkat(folder.get(), relative.substr(slash + 1).c_str(), 0);
      }
      continue;
    }
    UniqueFd fd = open_log(m_folder.tasks_fd, relative, O_RDONLY);
    struct stat info {};
    if (fd && ::fstat(fd.get(), &info) == 0) {
      file.before = std::make_tuple(info.st_dev, info.st_ino,
                                    std::int64_t(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec, info.st_size);
    }
  }
}

std::string TaskAttempt::collect_result_files(RunRecord& record, bool run_succeeded) {
  std::string failure;
  for (auto& file : m_result_files) {
    std::string relative = m_folder.relative + "/" + file.path;
    std::string name = fmt::format("{} (run {})", file.path, record.index);
    UniqueFd fd = open_log(m_folder.tasks_fd, relative, O_RDONLY);
    if (!fd) {
      if (errno != ENOENT) {
        m_outcome.warnings.push_back(fmt::format("run {}: {} is not a regular file; it is not read", record.index,
                                                 file.path));
      } else if (file.owned && run_succeeded && failure.empty()) {
        failure = fmt::format("the benchmark wrote no results ({} is missing)", file.path);
      } else if (!file.owned && !file.implicit && run_succeeded) {
        m_outcome.warnings.push_back(fmt::format("run {}: the task wrote no {}", record.index, file.path));
      }
      continue;
    }
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0) {
      continue;
    }
    auto identity = std::make_tuple(info.st_dev, info.st_ino,
                                    std::int64_t(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec, info.st_size);
    if (!file.owned && file.before && *file.before == identity) {
      m_outcome.warnings.push_back(fmt::format("run {}: {} was not rewritten by the run; its metrics are not counted "
                                               "again",
                                               record.index, file.path));
      continue;
    }
    if (static_cast<std::uint64_t>(info.st_size) > k_max_metrics_bytes) {
      m_outcome.warnings.push_back(fmt::format("run {}: {} holds {} bytes; more than {} are not read", record.index,
                                               file.path, info.st_size, k_max_metrics_bytes));
      continue;
    }
    std::string text(static_cast<size_t>(info.st_size), '\0');
    ssize_t got = ::pread(fd.get(), text.data(), text.size(), 0);
    if (got < 0) {
      m_outcome.warnings.push_back(fmt::format("run {}: cannot read {}: {}", record.index, file.path,
                                               std::strerror(errno)));
      continue;
    }
    text.resize(static_cast<size_t>(got));
    MetricsFileOptions options;
    options.higher_is_better = file.higher_is_better;
    FileResults results = parse_result_file(text, file.format, name, options);
    for (auto& value : results.metrics.values) {
      record.metrics.push_back(std::move(value));
    }
    for (auto& [metric, info_of] : results.metrics.info) {
      m_outcome.metric_info[metric] = info_of;
    }
    for (auto& warning : results.metrics.warnings) {
      m_outcome.warnings.push_back(std::move(warning));
    }
    if (!results.context.is_null() && m_outcome.benchmark_context.is_null()) {
      m_outcome.benchmark_context = std::move(results.context);
    }
    if (!results.error.empty() && failure.empty() && run_succeeded) {
      failure = "benchmark error: " + results.error;
    }
    if (!results.skipped.empty() && m_skipped.empty()) {
      m_skipped = results.skipped;
    }
  }
  return failure;
}

void TaskAttempt::fail(const Step& step, const RunRecord& record) {
  if (m_outcome.status != TaskStatus::Succeeded) {
    return;  // keep the first reason
  }
  m_outcome.status = TaskStatus::Failed;
  switch (step.phase) {
  case Phase::Setup:
    m_outcome.reason = "setup: " + record.outcome;
    break;
  case Phase::Warmup:
    m_outcome.reason = fmt::format("warm-up {} of {}: {}", step.index, m_settings.warmup, record.outcome);
    break;
  case Phase::Run:
    m_outcome.reason = fmt::format("run {} of {}: {}", step.index, m_settings.runs, record.outcome);
    break;
  case Phase::Teardown:
    m_outcome.reason = "teardown: " + record.outcome;
    break;
  case Phase::Prepare:
    m_outcome.reason = "prepare: " + record.outcome;
    break;
  }
}

ProcessStep TaskAttempt::running_step() const {
  BM_ASSERT(m_running && m_next_step < m_steps.size());
  const Step& step = m_steps[m_next_step];
  int count = step.phase == Phase::Warmup ? m_settings.warmup : step.phase == Phase::Run ? m_settings.runs : 1;
  return {m_preparing ? Phase::Prepare : step.phase, step.index, count};
}

void TaskAttempt::process_ended(const ProcessResult& result) {
  BM_ASSERT(m_running);
  m_running = false;
  const Step step = m_steps[m_next_step];
  bool preparing = std::exchange(m_preparing, false);
  RunRecord record;
  record.phase = preparing ? Phase::Prepare : step.phase;
  record.index = step.index;
  record.started_unix = unix_seconds() - std::chrono::duration<double>(Clock::now() - result.started).count();
  record.wall_seconds = result.wall_seconds;
  record.user_seconds = result.user_seconds;
  record.system_seconds = result.system_seconds;
  record.max_rss_kib = result.max_rss_kib;
  record.memory_peak = result.memory_peak;
  record.oom_killed = result.oom_killed;
  record.exit_code = result.exit_code;
  record.term_signal = result.term_signal;
  record.timed_out = result.timed_out;
  record.interrupted = result.interrupted;
  record.start_error = result.start_error;
  record.outcome = result.describe();
  static constexpr const char* k_streams[] = {"stdout", "stderr"};
  for (int i = 0; i < 2; ++i) {
    if (result.output_dropped[i] > 0) {
      m_outcome.warnings.push_back(fmt::format("{} {}: {} wrote {} bytes; {} were dropped from the middle of {}.log "
                                               "(task.output_limit keeps {} bytes per stream)",
                                               to_string(step.phase), step.index, k_streams[i], result.output_bytes[i],
                                               result.output_dropped[i], k_streams[i], m_settings.output_limit));
    }
  }
  if (!result.output_error.empty()) {
    m_outcome.warnings.push_back(fmt::format("{} {}: output could not be logged: {}", to_string(step.phase),
                                             step.index, result.output_error));
  }
  if (preparing) {
    collect_metrics(record);  // what it appended is not a run's
    m_outcome.runs.push_back(record);
    if (result.interrupted) {
      m_outcome.status = TaskStatus::Interrupted;
      m_outcome.reason = "interrupted during prepare";
      m_next_step = m_steps.size();
    } else if (!result.succeeded()) {
      m_outcome.status = TaskStatus::Failed;
      m_outcome.reason = fmt::format("prepare before {} {}: {}", step.phase == Phase::Run ? "run" : "warm-up",
                                     step.index, record.outcome);
      m_next_step = m_teardown_step;
    } else {
      m_prepared = true;  // the run itself comes next
    }
    m_finished = m_next_step >= m_steps.size();
    return;
  }
  m_prepared = false;
  if (step.phase == Phase::Run && !result.interrupted) {
    m_outcome.noise.add_run(m_cpu_before, read_cpu_times(m_lease.cpus), m_lease.cpus.size(), result.wall_seconds,
                            result.user_seconds + result.system_seconds);
  }
  collect_metrics(record);
  std::string file_failure;
  if (step.phase == Phase::Run && !result.interrupted && !m_result_files.empty()) {
    file_failure = collect_result_files(record, result.succeeded());
    if (!file_failure.empty()) {
      record.outcome = file_failure;
    }
  }
  if (step.phase == Phase::Run && !result.gpu_metrics.empty()) {
    for (const auto& [name, value] : result.gpu_metrics) {
      record.metrics.emplace_back(name, value);
      m_outcome.metric_info.try_emplace(name, MetricInfo{name == "gpu_energy" ? "J" : "s", false, -1});
    }
  }
  m_outcome.runs.push_back(record);

  if (result.interrupted) {
    // Nothing more runs after an interrupt, not even teardown: the user asked to stop.
    m_outcome.status = TaskStatus::Interrupted;
    m_outcome.reason = "interrupted during " + std::string(to_string(step.phase));
    m_next_step = m_steps.size();
  } else if (!result.succeeded() || !file_failure.empty()) {
    fail(step, record);
    // After a failure only teardown still runs (it cleans up what setup made).
    m_next_step = step.phase == Phase::Teardown ? m_steps.size() : m_teardown_step;
  } else if (!m_skipped.empty()) {
    // The benchmark cannot run here: more runs would say the same.
    m_outcome.status = TaskStatus::Skipped;
    m_outcome.reason = m_skipped;
    m_next_step = m_teardown_step;
  } else {
    ++m_next_step;
    if (step.phase == Phase::Run && m_settings.min_runs > 0 && precise_enough(step.index)) {
      m_next_step = m_teardown_step;
    }
  }
  if (m_next_step >= m_steps.size()) {
    m_finished = true;
  }
}

bool TaskAttempt::precise_enough(int runs_done) {
  // Adaptive repetition: the metric being compared decides (the configured one, else the
  // task's first own metric, else wall time); the interval is the distribution-free one of the
  // median, cheap enough to recompute after every run.
  std::string metric = m_plan.config().analysis.metric;
  std::vector<double> values;
  for (const auto& run : m_outcome.runs) {
    if (run.phase != Phase::Run) {
      continue;
    }
    if (metric.empty() && !run.metrics.empty()) {
      metric = run.metrics.front().first;
    }
  }
  for (const auto& run : m_outcome.runs) {
    if (run.phase != Phase::Run) {
      continue;
    }
    if (metric.empty() || metric == k_metric_wall) {
      values.push_back(run.wall_seconds);
    }
    for (const auto& [name, value] : run.metrics) {
      if (name == metric) {
        values.push_back(value);
      }
    }
  }
  std::sort(values.begin(), values.end());
  std::string name = metric.empty() ? std::string(k_metric_wall) : metric;
  if (values.empty()) {
    return false;
  }
  double median = percentile(values, 50);
  Interval interval = median_ci_order_statistics(values, 0.95);
  double relative = interval.ok && median != 0 ? (interval.high - interval.low) / 2 / std::abs(median) : -1;
  bool done = runs_done >= m_settings.min_runs && relative >= 0 && relative <= m_settings.target_rel_ci;
  if (done || runs_done >= m_settings.runs) {
    m_outcome.repetition =
        relative >= 0 ? fmt::format("{} after {} runs: 95% CI of the median of {} is ±{:.2f}% (target {:.2f}%)",
                                    done ? "stopped" : "reached max_runs", runs_done, name, relative * 100,
                                    m_settings.target_rel_ci * 100)
                      : fmt::format("reached max_runs ({}) without a defined interval of the median of {}", runs_done,
                                    name);
  }
  return done;
}

std::optional<Phase> TaskAttempt::next_phase() const {
  if (m_finished || m_next_step >= m_steps.size()) {
    return std::nullopt;
  }
  return m_steps[m_next_step].phase;
}

void TaskAttempt::set_interleaving(std::uint64_t seed, std::vector<std::vector<std::string>> rounds) {
  m_outcome.interleave_seed = seed;
  m_outcome.interleaved_rounds = std::move(rounds);
}

void TaskAttempt::fail_before_start(std::string reason) {
  BM_ASSERT(!m_running);
  m_outcome.status = TaskStatus::Failed;
  m_outcome.reason = std::move(reason);
  m_next_step = m_steps.size();
  m_finished = true;
}

void TaskAttempt::stop() {
  BM_ASSERT(!m_running);
  if (m_finished) {
    return;
  }
  m_outcome.status = TaskStatus::Interrupted;
  m_outcome.reason = "interrupted before " + std::string(to_string(m_steps[m_next_step].phase));
  m_next_step = m_steps.size();
  m_finished = true;
}

TaskOutcome TaskAttempt::take_outcome() {
  BM_ASSERT(m_finished);
  m_outcome.finished = utc_timestamp();
  m_outcome.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_started).count();
  return std::move(m_outcome);
}

} // namespace bm
