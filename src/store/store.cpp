#include "store/store.hpp"

#include <algorithm>
#include <numeric>
#include <unordered_set>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "stats/descriptive.hpp"
#include "util/clock.hpp"
#include "util/duration.hpp"
#include "util/environment.hpp"
#include "util/hash.hpp"
#include "util/json_text.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

namespace bm {

namespace fs = std::filesystem;

namespace {

std::optional<nlohmann::json> read_json(const fs::path& path) {
  std::optional<std::string> text;
  try {
    text = read_file_if_present(path);  // missing (a pending task) is no exception
  } catch (const SystemError&) {
    return std::nullopt;  // unreadable: never counts as a result
  }
  if (!text) {
    return std::nullopt;
  }
  auto json = nlohmann::json::parse(*text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return std::nullopt;  // torn or corrupt: never counts as a result
  }
  return json;
}

std::string dump(const nlohmann::json& json) {
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void remove_if_exists(const fs::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw_errno("unlink", path.string());
  }
}

// Temporary files (NAME.tmp.PID) left by a writer that was killed before its rename: they were
// never part of a result, and the next writer of that folder removes them.
void remove_temporaries(const fs::path& dir) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) {
      fs::remove(entry.path(), error);
    }
  }
}

std::string cpu_text(const std::vector<int>& ids) {
  std::string out;
  for (int id : ids) {
    if (!out.empty()) {
      out.push_back(' ');
    }
    out.append(std::to_string(id));
  }
  return out;
}

struct Sample {
  const RunRecord* run;
  std::string metric;
  double value;
};

// Every measured sample of an attempt: the orchestrator's four per run, then the task's own.
std::vector<Sample> measured_samples(const TaskOutcome& outcome) {
  std::vector<Sample> samples;
  for (const auto& run : outcome.runs) {
    if (run.phase != Phase::Run || !run.start_error.empty()) {
      continue;
    }
    samples.push_back({&run, std::string(k_metric_wall), run.wall_seconds});
    samples.push_back({&run, std::string(k_metric_user), run.user_seconds});
    samples.push_back({&run, std::string(k_metric_system), run.system_seconds});
    samples.push_back({&run, std::string(k_metric_rss), static_cast<double>(run.max_rss_kib)});
    for (const auto& [name, value] : run.metrics) {
      samples.push_back({&run, name, value});
    }
  }
  return samples;
}

std::string samples_csv(const TaskOutcome& outcome) {
  std::string csv = "run,metric,value,unit,direction,started_unix,slot,cpus,gpus\n";
  for (const auto& sample : measured_samples(outcome)) {
    MetricInfo info = metric_info(outcome.metric_info, sample.metric);
    csv += fmt::format("{},{},{:.17g},{},{},{:.6f},{},{},{}\n", sample.run->index, csv_field(sample.metric),
                       sample.value, csv_field(info.unit), info.higher_is_better ? "higher" : "lower",
                       sample.run->started_unix, csv_field(outcome.slot), cpu_text(outcome.cpus),
                       cpu_text(outcome.gpus));
  }
  return csv;
}

// A small descriptive block per metric; the statistics stage recomputes everything from samples.
nlohmann::json metric_summary(const TaskOutcome& outcome) {
  std::map<std::string, std::vector<double>> values;
  std::vector<std::string> order;
  for (const auto& sample : measured_samples(outcome)) {
    if (values.find(sample.metric) == values.end()) {
      order.push_back(sample.metric);
    }
    values[sample.metric].push_back(sample.value);
  }
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& name : order) {
    const std::vector<double>& v = values[name];
    MetricInfo info = metric_info(outcome.metric_info, name);
    metrics[name] = {{"unit", info.unit},
                     {"direction", info.higher_is_better ? "higher" : "lower"},
                     {"n", v.size()},
                     {"min", *std::min_element(v.begin(), v.end())},
                     {"median", median_of(v)},
                     {"mean", std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size())},
                     {"max", *std::max_element(v.begin(), v.end())}};
  }
  return metrics;
}

nlohmann::json run_json(const RunRecord& run) {
  nlohmann::json json = {{"phase", to_string(run.phase)},
                         {"index", run.index},
                         {"outcome", run.outcome},
                         {"started_unix", run.started_unix},
                         {"wall_time", run.wall_seconds},
                         {"user_time", run.user_seconds},
                         {"system_time", run.system_seconds},
                         {"max_rss_kib", run.max_rss_kib}};
  if (run.exit_code >= 0) {
    json["exit_code"] = run.exit_code;
  }
  if (run.term_signal > 0) {
    json["signal"] = run.term_signal;
  }
  if (run.timed_out) {
    json["timed_out"] = true;
  }
  if (run.memory_peak > 0) {
    json["cgroup_memory_peak"] = run.memory_peak;
  }
  if (run.oom_killed) {
    json["oom_killed"] = true;
  }
  if (run.interrupted) {
    json["interrupted"] = true;
  }
  if (!run.start_error.empty()) {
    json["start_error"] = run.start_error;
  }
  if (!run.metrics.empty()) {
    nlohmann::json metrics = nlohmann::json::array();
    for (const auto& [name, value] : run.metrics) {
      metrics.push_back({{"metric", name}, {"value", value}});
    }
    json["metrics"] = metrics;
  }
  return json;
}

} // namespace

std::string_view to_string(TaskState state) {
  switch (state) {
  case TaskState::Pending:
    return "pending";
  case TaskState::Done:
    return "done";
  case TaskState::Stale:
    return "stale";
  case TaskState::Failed:
    return "failed";
  }
  return "pending";
}

nlohmann::json task_spec_json(const Plan& plan, std::size_t task) {
  TaskCommands commands = plan.render(task, nullptr);
  auto show = [](std::vector<std::string> words) {
    // The hashed form has \x01name\x01 tokens for runtime placeholders; show them as {name}.
    for (auto& word : words) {
      for (size_t at = word.find('\x01'); at != std::string::npos; at = word.find('\x01', at)) {
        size_t end = word.find('\x01', at + 1);
        std::string shown = fmt::format("{{{}}}", std::string_view(word).substr(at + 1, end - at - 1));
        word.replace(at, end - at + 1, shown);
      }
    }
    return words;
  };
  ResolvedSettings settings = plan.settings(task);
  nlohmann::json axes = nlohmann::json::object();
  for (const auto& [name, value] : plan.assignment(task)) {
    axes[name] = value->name;
  }
  nlohmann::json env = nlohmann::json::object();
  for (const auto& [name, value] : commands.env) {
    env[name] = redacted(name, show({value}).front());
  }
  nlohmann::json spec = {{"task_id", plan.task_id(task)},
                         {"path", plan.relative_path(task)},
                         {"axes", axes},
                         {"command", show(commands.command)},
                         {"workdir", plan.config().workdir},
                         {"env", env},
                         {"warmup", settings.warmup},
                         {"runs", settings.runs},
                         {"min_runs", settings.min_runs},
                         {"target_rel_ci", settings.target_rel_ci},
                         {"cpus", settings.cpus},
                         {"gpus", settings.gpus},
                         {"retries", settings.retries},
                         {"priority", to_string(settings.priority)}};
  if (settings.timeout) {
    spec["timeout"] = format_duration(*settings.timeout);
  }
  if (!commands.shell_variables.empty()) {
    // What the shell script's ${BENCHMATRIX_AXIS_...} references stand for: axis values, never
    // secrets (and never redacted, so the spec says exactly what ran).
    nlohmann::json variables = nlohmann::json::object();
    for (const auto& [name, value] : commands.shell_variables) {
      variables[name] = value;
    }
    spec["shell_variables"] = variables;
  }
  if (!commands.setup.empty()) {
    spec["setup"] = show(commands.setup);
  }
  if (!commands.teardown.empty()) {
    spec["teardown"] = show(commands.teardown);
  }
  return spec;
}

Store::Store(fs::path out) : m_root(fs::absolute(out).lexically_normal()) {}

fs::path Store::task_dir(const Plan& plan, std::size_t task) const {
  return m_root / "tasks" / plan.relative_path(task);
}

TaskState Store::state(const Plan& plan, std::size_t task) const {
  fs::path dir = task_dir(plan, task);
  std::string id = plan.task_id(task);
  if (auto result = read_json(dir / "result.json")) {
    return result->value("task_id", "") == id ? TaskState::Done : TaskState::Stale;
  }
  if (auto failure = read_json(dir / "failure.json")) {
    return failure->value("task_id", "") == id ? TaskState::Failed : TaskState::Stale;
  }
  return TaskState::Pending;
}

std::optional<std::unordered_set<std::string>> task_folders_holding(const fs::path& tasks_root,
                                                                  std::initializer_list<std::string_view> names) {
  std::unordered_set<std::string> found;
  std::error_code error;
  if (!fs::is_directory(tasks_root, error)) {
    return found;  // nothing has run here yet
  }
  for (auto it = fs::recursive_directory_iterator(tasks_root, fs::directory_options::skip_permission_denied, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      found.insert(it->path().parent_path().lexically_relative(tasks_root).string());
    }
  }
  if (error) {
    return std::nullopt;
  }
  return found;
}

std::vector<TaskState> Store::states(const Plan& plan, const std::vector<std::size_t>& tasks) const {
  // One walk of OUT/tasks finds the folders that hold a marker; only those tasks' files are
  // read. A matrix of a million tasks with few results costs a walk of the few, not a million
  // failed opens.
  std::vector<TaskState> states(tasks.size(), TaskState::Pending);
  auto marked = task_folders_holding(m_root / "tasks", {"result.json", "failure.json"});
  if (!marked) {
    // An unreadable part of the tree: ask each task's files, the slow and sure way.
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      states[i] = state(plan, tasks[i]);
    }
    return states;
  }
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (!marked->empty() && marked->count(plan.relative_path(tasks[i])) != 0) {
      states[i] = state(plan, tasks[i]);
    }
  }
  return states;
}

void Store::open_for_run(const Plan& plan, const nlohmann::json& context) {
  make_directories(m_root);
  m_lock = OutputLock::acquire(m_root);
  m_root_fd = UniqueFd(::open(m_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!m_root_fd) {
    throw_errno("open", m_root.string());
  }
  // Written task by task, one line each: a plan of a million tasks is never one JSON tree in
  // memory (that was over a gigabyte, and every later process's max_rss started from it).
  nlohmann::json head = {{"schema", k_schema},
                         {"name", plan.config().name},
                         {"config", plan.config().file},
                         {"config_hash", plan.config().text_hash},
                         {"task_count", plan.size()},
                         {"axes", plan.axis_names()},
                         {"analysis", plan.config().analysis.to_json()},
                         {"context", context}};
  AtomicFileWriter out(m_root / "plan.json");
  out.append(json_array_start(head, "tasks"));
  nlohmann::json entry = nlohmann::json::object();
  for (std::size_t task = 0; task < plan.size(); ++task) {
    entry["task_id"] = plan.task_id(task);
    entry["path"] = plan.relative_path(task);
    entry["label"] = plan.label(task);
    // One line each: a plan of a million tasks stays a file people can grep.
    out.append(json_array_element(entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), task == 0));
  }
  out.append(json_array_end(plan.size() == 0));
  out.commit();
  m_journal = Journal::open(m_root / "journal.jsonl");
  remove_temporaries(m_root);
  std::string stamp = utc_compact_timestamp();
  m_run_dir = m_root / "runs" / stamp;
  for (int suffix = 2; fs::exists(m_run_dir); ++suffix) {
    m_run_dir = m_root / "runs" / (stamp + "-" + std::to_string(suffix));
  }
  make_directories(m_run_dir);
  m_dirty = true;
}

namespace {

// Makes `dir`: true when it was made now, false when it existed; throws on failure.
bool make_fresh_directory(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0) {
    return true;
  }
  if (errno == EEXIST) {
    return false;
  }
  if (errno != ENOENT) {
    throw_errno("mkdir", dir.string());
  }
  make_directories(dir.parent_path());
  if (::mkdir(dir.c_str(), 0755) == 0) {
    return true;
  }
  if (errno != EEXIST) {
    throw_errno("mkdir", dir.string());
  }
  return false;
}

} // namespace

void Store::prepare_folder(const Plan& plan, std::size_t task) {
  if (m_prepared.count(task) != 0) {
    return;
  }
  try {
    m_prepared[task] = make_fresh_directory(task_dir(plan, task));
  } catch (const SystemError&) {
    // Left to begin_task, which reports it for the task that needs the folder.
  }
}

void Store::begin_task(const Plan& plan, std::size_t task, int attempt, const std::string& slot,
                       const std::vector<int>& cpus, const std::vector<int>& gpus) {
  fs::path dir = task_dir(plan, task);
  // A folder made just now (or ahead, by prepare_folder) holds nothing to clear: the common case
  // costs one mkdir, and none at all when it was made ahead.
  auto prepared = m_prepared.find(task);
  bool fresh = false;
  if (prepared != m_prepared.end() && fs::is_directory(dir)) {
    fresh = prepared->second;
  } else {
    fresh = make_fresh_directory(dir);
  }
  if (prepared != m_prepared.end()) {
    m_prepared.erase(prepared);
  }
  if (!fresh) {
    // The old markers go first: from here until result.json is written, the task is not done.
    remove_if_exists(dir / "result.json");
    remove_if_exists(dir / "failure.json");
    remove_temporaries(dir);
    for (const char* name : {"stdout.log", "stderr.log", "metrics.jsonl", "env.json"}) {
      remove_if_exists(dir / name);
    }
  }
  // Journaled by describe_task, after the start: a write to the journal can wait for the
  // background sync's writeback of that very page, and a slot's hand-off must not.
  m_started_events[task] = {{"event", "task-started"},
                            {"task_id", plan.task_id(task)},
                            {"path", plan.relative_path(task)},
                            {"attempt", attempt},
                            {"slot", slot},
                            {"cpus", cpus},
                            {"gpus", gpus}};
}

std::string comparable_environment_hash(const std::vector<std::string>& inherited, const EnvList& config_env) {
  Hasher hasher;
  for (const auto& entry : inherited) {
    std::string name = entry.substr(0, entry.find('='));
    bool set_by_config = std::any_of(config_env.begin(), config_env.end(),
                                     [&](const auto& pair) { return pair.first == name; });
    if (!set_by_config && !is_volatile_variable(name)) {
      hasher.add_field(entry);
    }
  }
  return hasher.hex();
}

void Store::write_run_environment(const std::vector<std::string>& inherited) {
  // The inherited environment is the same for every task of a run: it is written once, here,
  // redacted; each task.json names the run and adds what the config sets (its spec's env).
  nlohmann::json variables = nlohmann::json::object();
  for (const auto& entry : inherited) {
    std::string name = entry.substr(0, entry.find('='));
    variables[name] = redacted(name, entry.substr(std::min(entry.size(), name.size() + 1)));
  }
  write_file_atomic(m_run_dir / "environment.json", dump({{"schema", k_schema}, {"variables", variables}}));
  m_inherited = inherited;
  m_inherited_hashes.clear();
  m_dirty = true;
}

void Store::describe_task(const Plan& plan, std::size_t task) {
  auto started = m_started_events.find(task);
  if (started != m_started_events.end()) {
    m_journal->append(std::move(started->second));
    m_started_events.erase(started);
  }
  nlohmann::json spec = task_spec_json(plan, task);
  spec["schema"] = k_schema;
  // The hash covers the real inherited values so that `list` can tell when today's differs; it
  // depends only on which variables the config sets, so it is computed once per such set.
  const EnvList& config_env = plan.settings(task).env;
  std::string names;
  for (const auto& [name, value] : config_env) {
    names.append(name).push_back('\x1f');
  }
  auto hash = m_inherited_hashes.find(names);
  if (hash == m_inherited_hashes.end()) {
    hash = m_inherited_hashes.emplace(names, comparable_environment_hash(m_inherited, config_env)).first;
  }
  spec["environment"] = {{"run", m_run_dir.filename().string()}, {"inherited_hash", hash->second}};
  write_file_atomic(task_dir(plan, task) / "task.json", dump(spec));
  spec.erase("schema");
  spec.erase("environment");
  m_spec_texts[task] = indented_json(spec, 1);  // for its result.json
  m_dirty = true;
}

bool Store::environment_differs(const Plan& plan, std::size_t task, const std::vector<std::string>& inherited) const {
  auto recorded = read_json(task_dir(plan, task) / "task.json");
  if (!recorded || !recorded->contains("environment") || !(*recorded)["environment"].is_object()) {
    return false;
  }
  return (*recorded)["environment"].value("inherited_hash", "") !=
         comparable_environment_hash(inherited, plan.settings(task).env);
}

void Store::finish_task(const Plan& plan, const TaskOutcome& outcome, const nlohmann::json& context) {
  fs::path dir = task_dir(plan, outcome.task);
  nlohmann::json result = {{"schema", k_schema},
                           {"status", to_string(outcome.status)},
                           {"task_id", plan.task_id(outcome.task)},
                           {"attempt", outcome.attempt},
                           {"slot", outcome.slot},
                           {"cpus", outcome.cpus},
                           {"gpus", outcome.gpus},
                           {"started", outcome.started},
                           {"finished", outcome.finished},
                           {"wall_time", outcome.wall_seconds},
                           {"metrics", metric_summary(outcome)}};
  // The spec (as task.json has it) and the machine context are formatted once, not per file.
  std::string spec_text;
  auto cached_spec = m_spec_texts.find(outcome.task);
  if (cached_spec != m_spec_texts.end()) {
    spec_text = std::move(cached_spec->second);
    m_spec_texts.erase(cached_spec);
  } else {
    spec_text = indented_json(task_spec_json(plan, outcome.task), 1);
  }
  if (context != m_context) {
    m_context = context;
    m_context_text = indented_json(context, 1);
  }
  if (!outcome.reason.empty()) {
    result["reason"] = outcome.reason;
  }
  if (!outcome.warnings.empty()) {
    result["warnings"] = outcome.warnings;
  }
  if (!outcome.repetition.empty()) {
    result["repetition"] = outcome.repetition;
  }
  if (!outcome.interleaved_rounds.empty()) {
    result["interleaving"] = {{"seed", outcome.interleave_seed}, {"rounds", outcome.interleaved_rounds}};
  }
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& run : outcome.runs) {
    runs.push_back(run_json(run));
  }
  result["runs"] = runs;

  if (outcome.status != TaskStatus::Interrupted) {
    write_file_atomic(dir / "samples.csv", samples_csv(outcome));
  }
  if (outcome.status != TaskStatus::Interrupted) {
    std::string text = json_with_members(result, {{"context", &m_context_text}, {"spec", &spec_text}});
    write_file_atomic(dir / (outcome.status == TaskStatus::Succeeded ? "result.json" : "failure.json"), text);
  }
  nlohmann::json event = {{"event", "task-" + std::string(to_string(outcome.status))},
                          {"task_id", plan.task_id(outcome.task)},
                          {"path", plan.relative_path(outcome.task)},
                          {"attempt", outcome.attempt},
                          {"wall_time", outcome.wall_seconds}};
  if (!outcome.reason.empty()) {
    event["reason"] = outcome.reason;
  }
  m_journal->append(std::move(event));
  m_dirty = true;
}

void Store::record(nlohmann::json event) {
  m_journal->append(std::move(event));
  m_dirty = true;
}

std::vector<std::pair<int, std::uint64_t>> Store::processes_of_unfinished_run() const {
  std::vector<nlohmann::json> events = Journal::read(m_root / "journal.jsonl");
  std::size_t last_start = events.size();
  for (std::size_t i = events.size(); i-- > 0;) {
    const std::string event = events[i].value("event", "");
    if (event == "run-finished") {
      return {};
    }
    if (event == "run-started") {
      last_start = i;
      break;
    }
  }
  std::vector<std::pair<int, std::uint64_t>> processes;
  for (std::size_t i = last_start; i < events.size(); ++i) {
    if (events[i].value("event", "") == "process-started") {
      processes.emplace_back(events[i].value("pid", 0), events[i].value("start_ticks", std::uint64_t{0}));
    }
  }
  return processes;
}

void Store::write_execution_summary(const nlohmann::json& summary) {
  nlohmann::json copy = summary;
  copy["schema"] = k_schema;
  write_file_atomic(m_run_dir / "execution_summary.json", dump(copy));
  m_dirty = true;
}

void Store::commit(bool force) {
  if (!m_journal) {
    return;
  }
  if (m_committer) {
    m_committer->check();
  }
  if (!m_dirty && !force) {
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (!force && now - m_last_sync < Journal::k_commit_window) {
    return;
  }
  if (m_durable) {
    if (!m_committer) {
      m_committer = std::make_unique<Committer>(m_root_fd.get(), m_journal->fd(), m_root.string());
    }
    if (m_dirty) {
      m_committer->request();
    }
    if (force) {
      m_committer->wait();
    }
  }
  m_dirty = false;
  m_last_sync = now;
}

} // namespace bm
