#include "store/store.hpp"

#include <algorithm>
#include <numeric>
#include <unordered_set>
#include <cstring>
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

// The largest file of its own benchmatrix reads back (a result.json of a million samples is tens
// of MB): a bigger one was not written by it.
constexpr std::size_t k_max_own_file = std::size_t{1} << 30;

std::optional<nlohmann::json> read_json(const Directory& dir, std::string_view name) {
  std::optional<std::string> text;
  try {
    text = dir.read(name, k_max_own_file);  // missing (a pending task) is no exception
  } catch (const SystemError&) {
    return std::nullopt;  // unreadable, a link, a FIFO: never counts as a result
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

// The entries benchmatrix itself makes at the top of OUT, and what each must be.
struct OwnEntry {
  std::string_view name;
  bool directory;
};
constexpr OwnEntry k_own_entries[] = {{"tasks", true},          {"runs", true},         {".lock", false},
                                      {"journal.jsonl", false}, {"plan.json", false},   {"summary.json", false},
                                      {"samples.csv", false},   {"comparison_table.md", false}};

bool is_write_failure_of_the_disk(const SystemError& error) {
  return error.error_number() == ENOSPC || error.error_number() == EDQUOT || error.error_number() == EIO ||
         error.error_number() == EROFS;
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
    if (run.cpu_times_known) {
      samples.push_back({&run, std::string(k_metric_user), run.user_seconds});
      samples.push_back({&run, std::string(k_metric_system), run.system_seconds});
    }
    if (run.max_rss_kib > 0) {  // 0: unknown (its launcher was killed with it)
      samples.push_back({&run, std::string(k_metric_rss), static_cast<double>(run.max_rss_kib)});
    }
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
    if (info.stderr_value >= 0) {
      metrics[name]["stderr"] = info.stderr_value;
    }
  }
  return metrics;
}

nlohmann::json run_json(const RunRecord& run) {
  nlohmann::json json = {{"phase", to_string(run.phase)},
                         {"index", run.index},
                         {"outcome", run.outcome},
                         {"started_unix", run.started_unix},
                         {"wall_time", run.wall_seconds}};
  if (run.cpu_times_known) {
    json["user_time"] = run.user_seconds;
    json["system_time"] = run.system_seconds;
  }
  if (run.max_rss_kib > 0) {  // 0: unknown, so no sample
    json["max_rss_kib"] = run.max_rss_kib;
  }
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
    // One entry per metric with all its values of this run, in the order first reported: a
    // run that reports 20,000 samples is one array, not 20,000 objects to write and parse.
    nlohmann::json metrics = nlohmann::json::array();
    std::vector<std::string> names;
    for (const auto& [name, value] : run.metrics) {
      auto at = std::find(names.begin(), names.end(), name);
      if (at == names.end()) {
        names.push_back(name);
        metrics.push_back({{"metric", name}, {"values", nlohmann::json::array()}});
        at = names.end() - 1;
      }
      metrics[static_cast<std::size_t>(at - names.begin())]["values"].push_back(value);
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
  if (!commands.prepare.empty()) {
    spec["prepare"] = show(commands.prepare);
  }
  return spec;
}

Store::Store(fs::path out) : m_root(fs::absolute(out).lexically_normal()) {}

fs::path Store::task_dir(const Plan& plan, std::size_t task) const {
  return m_root / "tasks" / plan.relative_path(task);
}

void Store::check_structure() const {
  struct stat info {};
  if (::stat(m_root.c_str(), &info) != 0) {
    if (errno == ENOENT) {
      return;  // nothing here yet
    }
    throw UserError(fmt::format("{}: cannot use it as the results folder: {}", m_root.string(), std::strerror(errno)));
  }
  if (!S_ISDIR(info.st_mode)) {
    throw UserError(fmt::format("{} is not a folder; choose another --out", m_root.string()));
  }
  for (const auto& [name, directory] : k_own_entries) {
    struct stat entry {};
    fs::path path = m_root / name;
    if (::lstat(path.c_str(), &entry) != 0) {
      continue;
    }
    bool right = directory ? S_ISDIR(entry.st_mode) : S_ISREG(entry.st_mode);
    if (!right) {
      throw UserError(fmt::format("{} is {}, not the {} benchmatrix made there; benchmatrix never follows links or "
                                  "writes through something else inside its results folder: remove it, or choose "
                                  "another --out",
                                  path.string(),
                                  S_ISLNK(entry.st_mode) ? "a symbolic link"
                                  : S_ISDIR(entry.st_mode) ? "a folder"
                                  : S_ISFIFO(entry.st_mode) ? "a FIFO"
                                                            : "not a regular file",
                                  directory ? "folder" : "file"));
    }
  }
}

std::optional<Directory> Store::tasks_for_reading() const {
  try {
    struct stat info {};
    if (::lstat((m_root / "tasks").c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
      return std::nullopt;  // nothing has run here yet (or it is not ours: check_structure says so)
    }
    return Directory::open(m_root).find("tasks");
  } catch (const SystemError&) {
    return std::nullopt;
  }
}

namespace {

TaskState state_in(const Directory& tasks, const Plan& plan, std::size_t task) {
  std::optional<Directory> dir;
  try {
    dir = tasks.find(plan.relative_path(task));
  } catch (const SystemError&) {
    return TaskState::Pending;  // a link or a file on its path: nothing there counts
  }
  if (!dir) {
    return TaskState::Pending;
  }
  std::string id = plan.task_id(task);
  if (auto result = read_json(*dir, "result.json")) {
    return result->value("task_id", "") == id ? TaskState::Done : TaskState::Stale;
  }
  if (auto failure = read_json(*dir, "failure.json")) {
    return failure->value("task_id", "") == id ? TaskState::Failed : TaskState::Stale;
  }
  return TaskState::Pending;
}

} // namespace

TaskState Store::state(const Plan& plan, std::size_t task) const {
  std::optional<Directory> tasks = tasks_for_reading();
  return tasks ? state_in(*tasks, plan, task) : TaskState::Pending;
}

std::optional<std::unordered_set<std::string>> task_folders_holding(const fs::path& tasks_root,
                                                                  std::initializer_list<std::string_view> names) {
  std::unordered_set<std::string> found;
  std::error_code error;
  if (!fs::is_directory(fs::symlink_status(tasks_root, error))) {
    return found;  // nothing has run here yet, or not a folder of ours: nothing in it counts
  }
  // The walk never follows a link (the iterator's default), so it stays inside OUT/tasks.
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
  std::optional<Directory> root = tasks_for_reading();
  if (!root) {
    return states;
  }
  auto marked = task_folders_holding(m_root / "tasks", {"result.json", "failure.json"});
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    // An unreadable part of the tree: ask each task's files, the slow and sure way.
    if (!marked || (!marked->empty() && marked->count(plan.relative_path(tasks[i])) != 0)) {
      states[i] = state_in(*root, plan, tasks[i]);
    }
  }
  return states;
}

std::optional<std::string> Store::recorded_name() const {
  // plan.json opens with its head (schema, name, ...): the name is read without parsing the task
  // list of a million-task plan.
  struct NameReader : nlohmann::json_sax<nlohmann::json> {
    int depth = 0;
    bool next_is_name = false;
    std::optional<std::string> name;
    bool null() override { return done(); }
    bool boolean(bool) override { return done(); }
    bool number_integer(number_integer_t) override { return done(); }
    bool number_unsigned(number_unsigned_t) override { return done(); }
    bool number_float(number_float_t, const string_t&) override { return done(); }
    bool string(string_t& value) override {
      if (next_is_name) {
        name = value;
        return false;  // found: stop parsing
      }
      return true;
    }
    bool binary(binary_t&) override { return done(); }
    bool start_object(std::size_t) override { return ++depth, done(); }
    bool key(string_t& key) override {
      next_is_name = depth == 1 && key == "name";
      return true;
    }
    bool end_object() override { return --depth, done(); }
    bool start_array(std::size_t) override { return ++depth, done(); }
    bool end_array() override { return --depth, done(); }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
    bool done() {
      next_is_name = false;
      return true;
    }
  };
  try {
    Directory out = Directory::open(m_root);
    UniqueFd fd = out.open_file("plan.json", O_RDONLY);
    if (!fd) {
      return std::nullopt;
    }
    std::string head(1 << 16, '\0');
    ssize_t n = ::pread(fd.get(), head.data(), head.size(), 0);
    head.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    NameReader reader;
    nlohmann::json::sax_parse(head, &reader, nlohmann::json::input_format_t::json, false);
    return reader.name;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void Store::open_for_run(const Plan& plan, const nlohmann::json& context) {
  check_structure();
  make_directories(m_root);
  m_out = Directory::open(m_root);
  m_lock = OutputLock::acquire(m_out);
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
  AtomicFileWriter out(m_out.fd(), "plan.json", (m_root / "plan.json").string());
  out.append(json_array_start(head, "tasks"));
  nlohmann::json entry = nlohmann::json::object();
  for (std::size_t task = 0; task < plan.size(); ++task) {
    entry["task_id"] = plan.task_id(task);
    entry["path"] = plan.relative_path(task);
    entry["label"] = plan.label(task);
    // The axis values, so that a task without a result can still be named and matched by them.
    nlohmann::json axes = nlohmann::json::object();
    for (const auto& [name, value] : plan.assignment(task)) {
      axes[name] = value->name;
    }
    entry["axes"] = std::move(axes);
    // One line each: a plan of a million tasks stays a file people can grep.
    out.append(json_array_element(entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), task == 0));
  }
  out.append(json_array_end(plan.size() == 0));
  out.commit();
  m_journal = Journal::open(m_out, "journal.jsonl");
  m_out.remove_temporaries();
  m_tasks = m_out.make("tasks");
  Directory runs = m_out.make("runs");
  std::string stamp = utc_compact_timestamp();
  std::string name = stamp;
  for (int suffix = 2; runs.entry(name); ++suffix) {
    name = stamp + "-" + std::to_string(suffix);
  }
  runs.make(name);
  m_run_name = name;
  m_dirty = true;
}

void Store::open_for_element(const std::string& run_dir) {
  check_structure();
  m_out = Directory::open(m_root);
  if (!m_out.entry("plan.json")) {
    throw UserError(fmt::format("{} holds no plan.json: a worker runs tasks of a run its driver started", m_root.string()));
  }
  if (!run_dir.starts_with("runs/") || run_dir.find("..") != std::string::npos) {
    throw UserError(fmt::format("the element folder must lie below {}/runs, found '{}'", m_root.string(), run_dir));
  }
  Directory element = m_out.make(run_dir);
  m_journal = Journal::open(element, "journal.jsonl");
  m_tasks = m_out.make("tasks");
  m_run_name = run_dir.substr(std::string_view("runs/").size());
  m_dirty = true;
}

void Store::prepare_folder(const Plan& plan, std::size_t task) {
  if (m_prepared.count(task) != 0) {
    return;
  }
  try {
    bool made = false;
    m_tasks.make(plan.relative_path(task), &made);
    m_prepared[task] = made;
  } catch (const SystemError&) {
    // Left to begin_task, which deals with it for the task that needs the folder.
  }
}

Directory Store::usable_folder(const Plan& plan, std::size_t task, bool* repaired) {
  // Only tasks and benchmatrix write below OUT/tasks: a link or a file standing where a task's
  // folder goes was planted there, and is replaced by a folder (never followed).
  return m_tasks.make(plan.relative_path(task), nullptr, true, repaired);
}

bool Store::begin_task(const Plan& plan, std::size_t task, int attempt, const std::string& slot,
                       const std::vector<int>& cpus, const std::vector<int>& gpus, std::string& warning) {
  // A folder made just now (or ahead, by prepare_folder) holds nothing to clear: the common case
  // costs one mkdir, and none at all when it was made ahead.
  auto prepared = m_prepared.find(task);
  bool fresh = prepared != m_prepared.end() && prepared->second;
  if (prepared != m_prepared.end()) {
    m_prepared.erase(prepared);
  }
  try {
    bool made = false;
    bool repaired = false;
    Directory dir = m_tasks.make(plan.relative_path(task), &made, true, &repaired);
    fresh = (fresh || made) && !repaired;
    if (repaired) {
      warning = fmt::format("a symbolic link or a file stood on the path of the task's folder {} (planted by a task): "
                            "it was replaced by a folder",
                            task_dir(plan, task).string());
    }
    if (!fresh) {
      // The old markers go first: from here until result.json is written, the task is not done.
      for (std::string_view name : {"result.json", "failure.json", "samples.csv", "stdout.log", "stderr.log",
                                    "metrics.jsonl", "env.json", "monitor.csv"}) {
        dir.remove(name);
      }
      dir.remove_temporaries();
    }
    m_folders[task] = FolderRecord{dir.identity(), std::nullopt, false};
  } catch (const SystemError& error) {
    if (is_write_failure_of_the_disk(error)) {
      throw;
    }
    warning = fmt::format("its folder {} cannot be used: {}", task_dir(plan, task).string(), error.what());
    return false;
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
  return true;
}

TaskFolderRef Store::folder(const Plan& plan, std::size_t task) const {
  return {task_dir(plan, task), m_tasks.fd(), plan.relative_path(task)};
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
  run_folder().write_atomic("environment.json", dump({{"schema", k_schema}, {"variables", variables}}));
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
  spec["environment"] = {{"run", m_run_name}, {"inherited_hash", hash->second}};
  try {
    // Into whatever folder stands at the task's path now (always inside OUT); inspect() tells
    // whether the task kept it.
    bool made = false;
    Directory dir = m_tasks.make(plan.relative_path(task), &made);
    dir.write_atomic("task.json", dump(spec));
    if (auto record = m_folders.find(task); record != m_folders.end()) {
      record->second.removed = record->second.removed || made;
      if (auto info = dir.entry("task.json")) {
        record->second.task_json = version_of(*info);
      }
    }
  } catch (const SystemError& error) {
    if (is_write_failure_of_the_disk(error)) {
      throw;
    }
    // The task made its folder unusable; inspect() fails the attempt and finish_task repairs it.
  }
  spec.erase("schema");
  spec.erase("environment");
  m_spec_texts[task] = indented_json(spec, 1);  // for its result.json
  m_dirty = true;
}

std::optional<nlohmann::json> Store::read_task_file(const Plan& plan, std::size_t task, std::string_view name) const {
  std::optional<Directory> tasks = tasks_for_reading();
  std::optional<Directory> dir;
  try {
    dir = tasks ? tasks->find(plan.relative_path(task)) : std::nullopt;
  } catch (const SystemError&) {
  }
  return dir ? read_json(*dir, name) : std::nullopt;
}

std::vector<std::string> Store::environment_differences(const Plan& plan, std::size_t task,
                                                        const std::vector<std::string>& inherited) const {
  auto recorded = read_task_file(plan, task, "task.json");
  if (!recorded || !recorded->contains("environment") || !(*recorded)["environment"].is_object()) {
    return {};
  }
  const EnvList& config_env = plan.settings(task).env;
  if ((*recorded)["environment"].value("inherited_hash", "") == comparable_environment_hash(inherited, config_env)) {
    return {};
  }
  // Which variables: from the environment the task's run recorded (redacted values compare as
  // such), against this one, leaving out what varies per terminal and what the config sets.
  auto compared = [&](const std::string& name) {
    return !is_volatile_variable(name) && std::none_of(config_env.begin(), config_env.end(),
                                                       [&](const auto& pair) { return pair.first == name; });
  };
  std::map<std::string, std::string> now;
  for (const auto& entry : inherited) {
    std::string name = entry.substr(0, entry.find('='));
    if (compared(name)) {
      now[name] = redacted(name, entry.substr(std::min(entry.size(), name.size() + 1)));
    }
  }
  std::string run = (*recorded)["environment"].value("run", "");
  std::optional<nlohmann::json> then;
  try {
    std::optional<Directory> runs = Directory::open(m_root).find("runs/" + run);
    then = runs && run.find('/') == std::string::npos ? read_json(*runs, "environment.json") : std::nullopt;
  } catch (const SystemError&) {
  }
  if (!then || !then->contains("variables") || !(*then)["variables"].is_object()) {
    return {"the inherited environment (the run's record of it is gone)"};
  }
  std::vector<std::string> differences;
  std::map<std::string, std::string> before;
  for (const auto& [name, value] : (*then)["variables"].items()) {
    if (compared(name) && value.is_string()) {
      before[name] = value.get<std::string>();
    }
  }
  for (const auto& [name, value] : before) {
    auto found = now.find(name);
    if (found == now.end()) {
      differences.push_back(name + " (unset now)");
    } else if (found->second != value) {
      differences.push_back(name);
    }
  }
  for (const auto& [name, value] : now) {
    if (before.count(name) == 0) {
      differences.push_back(name + " (new)");
    }
  }
  return differences;  // empty also when only the hashing rule changed, or a redacted secret did
}

std::vector<std::pair<std::string, std::string>> Store::recorded_executables(const Plan& plan, std::size_t task) const {
  std::vector<std::pair<std::string, std::string>> programs;
  auto result = read_task_file(plan, task, "result.json");
  if (!result || !result->contains("executables") || !(*result)["executables"].is_array()) {
    return programs;
  }
  for (const auto& program : (*result)["executables"]) {
    if (program.is_object() && program.value("path", nlohmann::json()).is_string() &&
        program.value("hash", nlohmann::json()).is_string()) {
      programs.emplace_back(program["path"].get<std::string>(), program["hash"].get<std::string>());
    }
  }
  return programs;
}

std::string Store::folder_problem(const Plan& plan, std::size_t task) {
  // OUT/tasks itself first: a task that moved it away would have every later write follow it.
  std::optional<struct stat> tasks = m_out.entry("tasks");
  if (!tasks || !S_ISDIR(tasks->st_mode) || FileIdentity{tasks->st_dev, tasks->st_ino} != m_tasks.identity()) {
    m_tasks = m_out.make("tasks", nullptr, true);
    return "OUT/tasks was moved, removed or replaced while the task ran";
  }
  auto record = m_folders.find(task);
  std::optional<Directory> dir;
  try {
    dir = m_tasks.find(plan.relative_path(task));
  } catch (const SystemError&) {
    return "the task replaced its folder (or a folder on its path) with a symbolic link or a file";
  }
  if (!dir || (record != m_folders.end() && record->second.removed)) {
    return "the task removed its own folder (or moved it away)";
  }
  if (record != m_folders.end() && dir->identity() != record->second.folder) {
    return "the task moved or replaced its own folder";
  }
  for (std::string_view name : {"result.json", "failure.json", "samples.csv"}) {
    if (dir->entry(name)) {
      return fmt::format("the task created {} in its folder, a name benchmatrix keeps for its own file (a task's "
                         "files go beside task.json, result.json, failure.json, samples.csv, stdout.log and stderr.log)",
                         name);
    }
  }
  std::optional<struct stat> task_json = dir->entry("task.json");
  if (record != m_folders.end() && record->second.task_json &&
      (!task_json || version_of(*task_json) != *record->second.task_json)) {
    return "the task removed or replaced task.json in its folder, which is benchmatrix's own file";
  }
  for (std::string_view name : {"stdout.log", "stderr.log"}) {
    std::optional<struct stat> log = dir->entry(name);
    if (log && !S_ISREG(log->st_mode)) {
      return fmt::format("the task replaced {} in its folder with something that is not a file", name);
    }
  }
  return {};
}

void Store::inspect(const Plan& plan, TaskOutcome& outcome) {
  std::string problem;
  try {
    problem = folder_problem(plan, outcome.task);
  } catch (const SystemError& error) {
    if (is_write_failure_of_the_disk(error)) {
      throw;
    }
    problem = fmt::format("its folder cannot be checked: {}", error.what());
  }
  if (problem.empty()) {
    return;
  }
  if (outcome.status == TaskStatus::Succeeded) {
    outcome.status = TaskStatus::Failed;
    outcome.reason = problem;
  } else {
    outcome.warnings.push_back(problem);
  }
  m_folders[outcome.task].task_json.reset();  // finish_task rewrites it
}

void Store::finish_task(const Plan& plan, const TaskOutcome& outcome, const nlohmann::json& context) {
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
  if (!outcome.monitor.is_null()) {
    result["monitor"] = outcome.monitor;
  }
  if (!outcome.benchmark_context.is_null()) {
    result["benchmark_context"] = outcome.benchmark_context;
  }
  {
    const Noise& noise = outcome.noise;
    nlohmann::json json = {{"load_average", noise.load_average}, {"online_cpus", noise.online_cpus}};
    if (noise.measured) {
      json["core_seconds"] = noise.core_seconds;
      json["others_cpu_seconds"] = noise.others_seconds;
      json["steal_seconds"] = noise.steal_seconds;
    }
    if (std::optional<std::string> why = noise.disturbed()) {
      json["disturbed"] = *why;
    }
    result["noise"] = json;
  }
  if (!outcome.executables.empty()) {
    nlohmann::json programs = nlohmann::json::array();
    for (const auto& program : outcome.executables) {
      programs.push_back({{"path", program.path}, {"hash", program.hash}});
    }
    result["executables"] = programs;
  }
  if (!outcome.interleaved_rounds.empty()) {
    result["interleaving"] = {{"seed", outcome.interleave_seed}, {"rounds", outcome.interleaved_rounds}};
  }
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& run : outcome.runs) {
    runs.push_back(run_json(run));
  }
  result["runs"] = runs;

  nlohmann::json event = {{"event", "task-" + std::string(to_string(outcome.status))},
                          {"task_id", plan.task_id(outcome.task)},
                          {"path", plan.relative_path(outcome.task)},
                          {"attempt", outcome.attempt},
                          {"wall_time", outcome.wall_seconds}};
  if (!outcome.reason.empty()) {
    event["reason"] = outcome.reason;
  }
  auto record = m_folders.find(outcome.task);
  bool task_json_kept = record != m_folders.end() && record->second.task_json.has_value();
  if (record != m_folders.end()) {
    m_folders.erase(record);
  }
  if (outcome.status != TaskStatus::Interrupted) {
    try {
      // The folder at the task's path, a link or file planted there replaced; whatever the task
      // left under benchmatrix's names goes, so only this attempt's marker can count.
      Directory dir = usable_folder(plan, outcome.task);
      bool done = outcome.status == TaskStatus::Succeeded || outcome.status == TaskStatus::Skipped;
      dir.remove(done ? "failure.json" : "result.json");
      if (!task_json_kept) {
        nlohmann::json spec = task_spec_json(plan, outcome.task);
        spec["schema"] = k_schema;
        spec["environment"] = {{"run", m_run_name}};
        dir.write_atomic("task.json", dump(spec));
      }
      dir.write_atomic("samples.csv", samples_csv(outcome));
      std::string text = json_with_members(result, {{"context", &m_context_text}, {"spec", &spec_text}});
      dir.write_atomic(done ? "result.json" : "failure.json", text);
    } catch (const SystemError& error) {
      if (is_write_failure_of_the_disk(error)) {
        throw;
      }
      // Only this task's files are lost (it stays pending and runs again): never the run.
      event["write_error"] = error.what();
    }
  }
  m_journal->append(std::move(event));
  m_dirty = true;
}

void Store::record(nlohmann::json event) {
  m_journal->append(std::move(event));
  m_dirty = true;
}

std::vector<nlohmann::json> Store::processes_of_unfinished_run(std::unordered_map<std::string, double>* durations) const {
  std::vector<nlohmann::json> events = Journal::read(m_root / "journal.jsonl");
  if (durations != nullptr) {
    for (const auto& event : events) {
      if (event.value("event", "") == "task-succeeded" && event.contains("wall_time") && event["wall_time"].is_number()) {
        (*durations)[event.value("task_id", "")] = event["wall_time"].get<double>();
      }
    }
  }
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
  std::vector<nlohmann::json> processes;
  for (std::size_t i = last_start; i < events.size(); ++i) {
    std::string event = events[i].value("event", "");
    if (event == "process-started" || event == "run-started") {
      processes.push_back(std::move(events[i]));
    }
  }
  return processes;
}

void Store::write_execution_summary(const nlohmann::json& summary) {
  nlohmann::json copy = summary;
  copy["schema"] = k_schema;
  run_folder().write_atomic("execution_summary.json", dump(copy));
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
      m_committer = std::make_unique<Committer>(m_out.fd(), m_journal->fd(), m_root.string());
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
