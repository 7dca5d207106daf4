// `run --executor slurm` (the driver, where the user runs it) and `worker` (one array element, on
// a compute node). The driver plans as a local run does, submits the tasks to run as job arrays,
// learns that they finished from their result files on the shared file system, asks the
// controller one squeue per interval, re-queues what the cluster lost, and at the end merges the
// elements' journals and writes the same reports. A worker runs its element's tasks through the
// local run path (run_plan with an ElementRun), on the CPUs and GPUs SLURM gave it.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <unistd.h>

#include "cli/command_support.hpp"
#include "config/discover.hpp"
#include "config/loader.hpp"
#include "report/event_stream.hpp"
#include "resources/topology.hpp"
#include "slurm/slurm.hpp"
#include "store/journal.hpp"
#include "store/store.hpp"
#include "util/clock.hpp"
#include "util/console.hpp"
#include "util/directory.hpp"
#include "util/duration.hpp"
#include "util/environment.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/json_text.hpp"
#include "util/signals.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

namespace fs = std::filesystem;

std::string env_or(const char* name, const std::string& fallback = "") {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

// A JSON file as benchmatrix writes them: indented, one trailing newline.
std::string dump(const nlohmann::json& json) {
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// The job name every array of one results folder carries: a re-run finds the jobs an earlier
// invocation left queued by it.
std::string job_name_for(const fs::path& out) {
  std::error_code ignored;
  fs::path absolute = fs::weakly_canonical(fs::absolute(out), ignored);
  return "benchmatrix-" + Hasher().add_field(absolute.string()).hex().substr(0, 10);
}

// The longest a task may take, from its timeouts (nullopt: unbounded).
std::optional<double> task_bound(const Plan& plan, std::size_t task, const std::optional<std::chrono::nanoseconds>& timeout) {
  ResolvedSettings settings = plan.settings(task);
  std::optional<std::chrono::nanoseconds> limit = timeout ? timeout : settings.timeout;
  if (!limit) {
    return std::nullopt;
  }
  const Config& config = plan.config();
  int processes = settings.warmup + settings.runs + (config.setup.empty() ? 0 : 1) + (config.teardown.empty() ? 0 : 1);
  if (!config.prepare.empty()) {
    processes += settings.warmup + settings.runs;
  }
  return std::chrono::duration<double>(*limit).count() * processes;
}

// One array element the driver follows, submitted by it or by an earlier invocation.
struct Tracked {
  std::string key;                      // JOBID_INDEX
  std::string run;                      // the run folder its element writes in (runs/<run>/elements/<key>)
  std::vector<std::size_t> tasks;       // plan indices not yet finished
};

class Driver {
public:
  Driver(const Plan& plan, const RunOptions& options, Store& store, std::string job_name, UniqueFd events)
      : m_plan(plan), m_options(options), m_settings(plan.config().slurm), m_store(store),
        m_job_name(std::move(job_name)) {
    if (events) {
      m_events.emplace(std::move(events));
    }
    m_client.on_notice = [](const std::string& text) { say(stderr, "benchmatrix: slurm: {}\n", text); };
    if (m_options.timeout) {
      m_timeout = parse_duration(*m_options.timeout);
    }
  }

  // Tasks to run now; `durations` are the last successful durations by task id (bundling).
  int run(const std::vector<std::size_t>& to_run, std::size_t already_done, const std::vector<std::size_t>& selected,
          std::unordered_map<std::string, double> durations);

private:
  std::size_t max_array_size();
  CommandResult queue();  // the one squeue of the run's job name
  void follow_earlier_jobs(std::vector<std::size_t>& to_run);
  void submit(const std::vector<std::size_t>& tasks);
  bool poll();  // returns whether anything changed
  void settle(Tracked& element, const std::optional<slurm::JobEnd>& end);
  bool finished(std::size_t task);
  void cancel_all();
  void merge_journals();
  std::vector<nlohmann::json> element_journal(const Tracked& element) const;

  const Plan& m_plan;
  const RunOptions& m_options;
  const SlurmSettings& m_settings;
  Store& m_store;
  std::string m_job_name;
  std::optional<std::chrono::nanoseconds> m_timeout;
  slurm::Client m_client;
  std::unordered_map<std::string, double> m_durations;
  std::map<std::string, Tracked> m_tracked;          // by element key
  std::vector<Tracked> m_done_elements;              // for the journal merge
  std::unordered_map<std::size_t, int> m_losses;     // task -> times lost to the cluster
  std::vector<std::size_t> m_requeue;
  std::set<std::string> m_job_ids;                   // array job ids of this run (and followed ones)
  std::size_t m_arrays = 0;
  std::size_t m_completed = 0;
  std::size_t m_failed = 0;
  std::size_t m_lost = 0;                            // given up after infra_retries
  std::size_t m_unsubmitted = 0;                     // refused by sbatch after others were queued
  std::size_t m_total = 0;
  std::optional<std::size_t> m_max_array;
  std::string m_last_queue_line;
  std::optional<EventStream> m_events;               // --events: plan, start, end, summary
  std::set<std::string> m_seen_running;              // elements whose start was said
  RunSummary m_summary;                              // its failures, for the end and the events' summary
  void said_end(std::size_t task, TaskStatus status, const std::string& reason);
};

CommandResult Driver::queue() {
  return m_client.run({"squeue", "-h", "-r", "--name=" + m_job_name, "-o", "%i|%T"});
}

std::size_t Driver::max_array_size() {
  if (!m_max_array) {
    CommandResult config = m_client.run({"scontrol", "show", "config"});
    m_max_array = slurm::parse_max_array_size(config.output).value_or(1001);
  }
  return *m_max_array;
}

// Jobs an earlier invocation submitted for this folder and that are still queued or running: their
// tasks are followed, not submitted again.
void Driver::follow_earlier_jobs(std::vector<std::size_t>& to_run) {
  std::vector<nlohmann::json> events = Journal::read(m_store.root() / "journal.jsonl");
  std::map<std::string, std::pair<std::string, std::vector<std::string>>> submitted;  // key -> run, task folders
  for (const auto& event : events) {
    if (event.value("event", "") != "slurm-submitted" || !event.contains("elements")) {
      continue;
    }
    std::string job = event.value("job", "");
    std::size_t index = 0;
    for (const auto& element : event["elements"]) {
      submitted[slurm::element_key(job, index++)] = {event.value("run", ""), element.get<std::vector<std::string>>()};
    }
  }
  if (submitted.empty()) {
    return;
  }
  CommandResult queued = queue();
  if (!queued.succeeded()) {
    throw UserError(fmt::format("squeue failed: {}", printable(std::string(trim(queued.output)), 300)));
  }
  std::unordered_map<std::string, std::size_t> waiting;
  for (std::size_t task : to_run) {
    waiting.emplace(m_plan.relative_path(task), task);
  }
  std::size_t followed = 0;
  for (const auto& [key, state] : slurm::parse_squeue(queued.output)) {
    auto found = submitted.find(key);
    if (found == submitted.end()) {
      continue;
    }
    Tracked element{key, found->second.first, {}};
    for (const auto& path : found->second.second) {
      if (auto task = waiting.find(path); task != waiting.end()) {
        element.tasks.push_back(task->second);
        waiting.erase(task);
      }
    }
    if (!element.tasks.empty()) {
      followed += element.tasks.size();
      m_job_ids.insert(key.substr(0, key.find('_')));
      m_tracked.emplace(key, std::move(element));
    }
  }
  if (followed > 0) {
    std::erase_if(to_run, [&](std::size_t task) { return waiting.count(m_plan.relative_path(task)) == 0; });
    say(stdout, "Following {} task{} an earlier invocation submitted (jobs {}), not submitting them again\n", followed,
        followed == 1 ? "" : "s", join(std::vector<std::string>(m_job_ids.begin(), m_job_ids.end()), ", "));
  }
}

void Driver::submit(const std::vector<std::size_t>& tasks) {
  if (tasks.empty()) {
    return;
  }
  std::vector<slurm::BundleTask> bundle_tasks;
  std::unordered_map<std::string, std::size_t> by_id;
  for (std::size_t task : tasks) {
    ResolvedSettings settings = m_plan.settings(task);
    slurm::BundleTask item;
    item.key = m_plan.relative_path(task);  // unique, where ids need not be
    item.request = {settings.cpus, settings.gpus, settings.memory};
    if (auto known = m_durations.find(m_plan.task_id(task)); known != m_durations.end()) {
      item.seconds = known->second;
    }
    item.bound = task_bound(m_plan, task, m_timeout);
    by_id.emplace(item.key, task);
    bundle_tasks.push_back(std::move(item));
  }
  std::string run = m_store.run_dir().filename().string();
  fs::path slurm_dir = m_store.run_dir() / "slurm";
  Directory out = Directory::open(m_store.root());
  Directory folder = out.make("runs/" + run + "/slurm");
  std::string binary = m_settings.worker.empty() ? fs::read_symlink("/proc/self/exe").string() : m_settings.worker;
  std::error_code ignored;
  std::string workdir = fs::current_path().string();
  std::string config_file = fs::absolute(m_plan.config().file, ignored).string();
  for (const auto& array : slurm::bundle(bundle_tasks, m_settings, max_array_size())) {
    std::string name = fmt::format("array-{}", ++m_arrays);
    nlohmann::json elements = nlohmann::json::array();
    nlohmann::json ids = nlohmann::json::object();
    for (const auto& element : array.elements) {
      elements.push_back(element.tasks);
      for (const auto& path : element.tasks) {
        ids[path] = m_plan.task_id(by_id.at(path));
      }
    }
    nlohmann::json submission = {{"schema", k_schema},
                                 {"out", fs::absolute(m_store.root()).string()},
                                 {"config", config_file},
                                 {"workdir", workdir},
                                 {"run", run},
                                 {"tasks_at_once", m_settings.tasks_at_once},
                                 {"durability", m_options.durability},
                                 {"isolation", m_options.isolation},
                                 {"elements", elements},
                                 {"task_ids", ids}};
    if (m_options.retries) {
      submission["retries"] = *m_options.retries;
    }
    if (m_options.timeout) {
      submission["timeout"] = *m_options.timeout;
    }
    folder.write_atomic(name + ".json", dump(submission));
    std::string script = fmt::format("#!/bin/sh\n# One element of a benchmatrix run: its tasks, through the local run path.\n"
                                     "exec {} worker --submission {} --element \"$SLURM_ARRAY_TASK_ID\"\n",
                                     shell_quote(binary), shell_quote((slurm_dir / (name + ".json")).string()));
    folder.write_atomic(name + ".sh", script);
    std::vector<std::string> argv = {"sbatch"};
    std::vector<std::string> args = slurm::sbatch_arguments(
        array, m_settings, m_job_name, (fs::absolute(slurm_dir) / (name + "_%a.out")).string(), workdir);
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back((fs::absolute(slurm_dir) / (name + ".sh")).string());
    CommandResult done = m_client.run(argv, true);
    std::string said(trim(done.output));
    std::string job = said.substr(0, said.find_first_of(";\n"));
    if (!done.succeeded() || job.empty() || !std::all_of(job.begin(), job.end(), ::isdigit)) {
      std::string refusal = fmt::format("sbatch refused {} ({}): {}", name, done.describe(std::chrono::seconds(120)),
                                        printable(said, 400));
      if (m_tracked.empty() && m_completed + m_failed + m_lost == 0) {
        throw UserError(refusal);  // nothing is queued or done: the run's settings are wrong
      }
      // Elements are queued: they run on and are followed; these tasks are not submitted.
      std::size_t count = 0;
      for (const auto& element : array.elements) {
        count += element.tasks.size();
      }
      m_unsubmitted += count;
      m_store.record({{"event", "slurm-refused"}, {"array", name}, {"output", said}, {"tasks", count}});
      say(stderr, "benchmatrix: slurm: {}; its {} task{} are not submitted (the next run submits them), the queued "
                  "ones are followed\n",
          refusal, count, count == 1 ? "" : "s");
      continue;
    }
    m_job_ids.insert(job);
    m_store.record({{"event", "slurm-submitted"},
                    {"job", job},
                    {"job_name", m_job_name},
                    {"array", name},
                    {"run", run},
                    {"sbatch", args},
                    {"elements", elements}});
    m_store.commit(true);
    for (std::size_t index = 0; index < array.elements.size(); ++index) {
      Tracked element{slurm::element_key(job, index), run, {}};
      for (const auto& path : array.elements[index].tasks) {
        element.tasks.push_back(by_id.at(path));
      }
      m_tracked.emplace(element.key, std::move(element));
    }
    if (m_options.quiet) {
      continue;
    }
    std::string resources = fmt::format("{} cpu{}", array.request.cpus, array.request.cpus == 1 ? "" : "s");
    if (array.request.gpus > 0) {
      resources += fmt::format(", {} gpu{}", array.request.gpus, array.request.gpus == 1 ? "" : "s");
    }
    say(stdout, "Submitted job array {} ({} element{}, {} task{}, {} per task)\n", job, array.elements.size(),
        array.elements.size() == 1 ? "" : "s",
        std::accumulate(array.elements.begin(), array.elements.end(), std::size_t{0},
                        [](std::size_t sum, const slurm::Element& e) { return sum + e.tasks.size(); }),
        array.elements.size() == 1 && array.elements[0].tasks.size() == 1 ? "" : "s", resources);
  }
}

bool Driver::finished(std::size_t task) {
  TaskState state = m_store.state(m_plan, task);
  if (state == TaskState::Done) {
    ++m_completed;
    if (!m_options.quiet) {
      say(stdout, "done  {}\n", m_plan.label(task));
    }
    said_end(task, TaskStatus::Succeeded, "");
    return true;
  }
  if (state == TaskState::Failed) {
    ++m_failed;
    std::string reason = "see its failure.json";
    std::string relative = "tasks/" + m_plan.relative_path(task) + "/failure.json";
    if (auto text = Directory::open(m_store.root()).read_below(relative, 1 << 20)) {
      try {
        reason = nlohmann::json::parse(*text).value("reason", reason);
      } catch (const nlohmann::json::exception&) {
      }
    }
    say(stdout, "FAIL  {}  {}\n", m_plan.label(task), reason);
    said_end(task, TaskStatus::Failed, reason);
    m_summary.failures.push_back({task, reason, m_store.root() / "tasks" / m_plan.relative_path(task)});
    return true;
  }
  return false;
}

void Driver::said_end(std::size_t task, TaskStatus status, const std::string& reason) {
  if (!m_events) {
    return;
  }
  TaskOutcome outcome;
  outcome.task = task;
  outcome.status = status;
  outcome.reason = reason;
  outcome.attempt = 1 + m_losses[task];
  m_events->task_finished(m_plan, outcome, m_store.root() / "tasks" / m_plan.relative_path(task), false);
}

std::vector<nlohmann::json> Driver::element_journal(const Tracked& element) const {
  return Journal::read(m_store.root() / "runs" / element.run / "elements" / element.key / "journal.jsonl");
}

// An element left the queue: its tasks without a result were lost to the cluster, not failed.
void Driver::settle(Tracked& element, const std::optional<slurm::JobEnd>& end) {
  // The caller looked for its tasks' results after the queue said it had gone.
  if (element.tasks.empty()) {
    return;
  }
  // Its started marker; a worker that refused its element (exit 2: the config no longer plans
  // its tasks, or does not load on the node) would refuse it again: its tasks are not re-queued.
  std::optional<std::string> marker = Directory::open(m_store.root())
                                          .read_below("runs/" + element.run + "/elements/" + element.key + "/element.json", 1 << 20);
  bool started = marker.has_value();
  nlohmann::json said = marker ? nlohmann::json::parse(*marker, nullptr, false) : nlohmann::json();
  if (said.is_object() && said.value("exit_code", 0) == k_exit_usage) {
    for (std::size_t task : element.tasks) {
      ++m_lost;
      std::string reason = fmt::format("the worker refused element {} (exit 2); its log says why: {}", element.key,
                                       (m_store.run_dir().parent_path() / element.run / "slurm").string());
      say(stdout, "LOST  {}: {}\n", m_plan.label(task), reason);
      m_store.record({{"event", "slurm-lost"}, {"task_id", m_plan.task_id(task)}, {"element", element.key},
                      {"loss", "worker refused"}});
      said_end(task, TaskStatus::Failed, reason);
    }
    element.tasks.clear();
    return;
  }
  bool preempted = false;
  for (const auto& event : element_journal(element)) {
    if (event.value("event", "") == "run-interrupted" && event.value("signal", 0) == SIGUSR2) {
      preempted = true;
    }
  }
  slurm::Loss loss = slurm::classify(end, started, preempted);
  std::string why(slurm::to_string(loss));
  if (end && !end->state.empty()) {
    why += fmt::format(" [{}{}]", end->state, end->exit_code.empty() ? "" : ", exit " + end->exit_code);
  }
  for (std::size_t task : element.tasks) {
    int lost = ++m_losses[task];
    m_store.record({{"event", "slurm-lost"}, {"task_id", m_plan.task_id(task)}, {"element", element.key},
                    {"loss", std::string(slurm::to_string(loss))}, {"state", end ? end->state : ""}, {"times", lost}});
    if (lost <= m_settings.infra_retries) {
      say(stdout, "requeue {}: {} (element {}; {} of {} re-queues)\n", m_plan.label(task), why, element.key, lost,
          m_settings.infra_retries);
      m_requeue.push_back(task);
    } else {
      ++m_lost;
      say(stdout, "LOST  {}: {} (element {}), {} time{}; not re-queued (executor.infra_retries: {})\n",
          m_plan.label(task), why, element.key, lost, lost == 1 ? "" : "s", m_settings.infra_retries);
      said_end(task, TaskStatus::Failed, "lost to the cluster: " + why);
    }
  }
  element.tasks.clear();
}

bool Driver::poll() {
  bool changed = false;
  // Results first: what finished is known from the shared file system, not from the controller.
  for (auto& [key, element] : m_tracked) {
    std::size_t before = element.tasks.size();
    std::erase_if(element.tasks, [&](std::size_t task) { return finished(task); });
    changed = changed || element.tasks.size() != before;
  }
  CommandResult queued = queue();
  if (!queued.succeeded()) {
    say(stderr, "benchmatrix: slurm: squeue failed ({}); trying again at the next poll\n",
        printable(std::string(trim(queued.output)), 200));
    return changed;
  }
  std::map<std::string, std::string> states = slurm::parse_squeue(queued.output);
  std::vector<std::string> gone;
  std::size_t pending = 0;
  std::size_t running = 0;
  for (auto& [key, element] : m_tracked) {
    auto state = states.find(key);
    if (state != states.end()) {
      (state->second == "PENDING" ? pending : running) += 1;
      if (state->second != "PENDING" && m_events && m_seen_running.insert(key).second) {
        for (std::size_t task : element.tasks) {
          m_events->element_task_started(m_plan, task, key, 1 + m_losses[task]);
        }
      }
      continue;
    }
    gone.push_back(key);
  }
  // Elements that left the queue: those whose tasks all have results are done; for the others,
  // one batched question about how they ended.
  std::vector<std::string> unexplained;
  for (const auto& key : gone) {
    Tracked& element = m_tracked.at(key);
    std::erase_if(element.tasks, [&](std::size_t task) { return finished(task); });
    if (!element.tasks.empty()) {
      unexplained.push_back(key);
    }
  }
  std::map<std::string, slurm::JobEnd> ends;
  if (!unexplained.empty()) {
    std::set<std::string> jobs;
    for (const auto& key : unexplained) {
      jobs.insert(key.substr(0, key.find('_')));
    }
    std::string list = join(std::vector<std::string>(jobs.begin(), jobs.end()), ",");
    CommandResult accounting = m_client.run({"sacct", "-n", "-P", "-X", "-j", list, "-o", "JobID,State,ExitCode"});
    if (accounting.succeeded()) {
      ends = slurm::parse_sacct(accounting.output);
    }
    for (const auto& job : jobs) {
      bool known = std::any_of(unexplained.begin(), unexplained.end(), [&](const std::string& key) {
        return key.starts_with(job + "_") && ends.count(key) != 0;
      });
      if (!known) {
        // No accounting (no slurmdbd): the controller remembers ended jobs for MinJobAge.
        CommandResult control = m_client.run({"scontrol", "-o", "show", "job", job});
        auto more = slurm::parse_scontrol(control.output);
        ends.insert(more.begin(), more.end());
      }
    }
  }
  for (const auto& key : gone) {
    Tracked& element = m_tracked.at(key);
    auto end = ends.find(key);
    settle(element, end == ends.end() ? std::nullopt : std::optional<slurm::JobEnd>(end->second));
    m_done_elements.push_back(std::move(element));
    m_tracked.erase(key);
    changed = true;
  }
  std::string line = fmt::format("queue: {} pending, {} running; {} of {} tasks finished", pending, running,
                                 m_completed + m_failed + m_lost, m_total);
  if (line != m_last_queue_line && !m_options.quiet) {
    say(stdout, "{}\n", line);
    m_last_queue_line = line;
  }
  return changed;
}

void Driver::cancel_all() {
  if (m_job_ids.empty()) {
    return;
  }
  std::vector<std::string> argv = {"scancel"};
  argv.insert(argv.end(), m_job_ids.begin(), m_job_ids.end());
  say(stdout, "Cancelling job{} {}\n", m_job_ids.size() == 1 ? "" : "s",
      join(std::vector<std::string>(m_job_ids.begin(), m_job_ids.end()), ", "));
  CommandResult done = m_client.run(argv);
  if (!done.succeeded()) {
    say(stderr, "benchmatrix: slurm: scancel failed: {}\n", printable(std::string(trim(done.output)), 300));
    return;
  }
  // Until they have left the queue (their workers end their tasks and write what finished),
  // or 60 s; a second Ctrl-C stops waiting.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    CommandResult queued = queue();
    if (!queued.succeeded() || trim(queued.output).empty()) {
      break;
    }
    slurm::sleep_interruptibly(std::chrono::milliseconds(500));
  }
}

// The elements' journals join OUT's journal, each event naming its element. Their run and
// process events are renamed (element-run-started, ...): they happened on other machines, and a
// later local run must not take their pids for its own orphans.
void Driver::merge_journals() {
  std::vector<const Tracked*> elements;
  for (const auto& element : m_done_elements) {
    elements.push_back(&element);
  }
  for (const auto& [key, element] : m_tracked) {
    elements.push_back(&element);
  }
  for (const Tracked* element : elements) {
    for (auto event : element_journal(*element)) {
      std::string name = event.value("event", "");
      if (name.starts_with("run-") || name.starts_with("process-")) {
        event["event"] = "element-" + name;
      }
      event["element"] = element->key;
      m_store.record(std::move(event));
    }
  }
  m_store.commit(true);
}

int Driver::run(const std::vector<std::size_t>& to_run_in, std::size_t already_done,
                const std::vector<std::size_t>& selected, std::unordered_map<std::string, double> durations) {
  m_durations = std::move(durations);
  std::vector<std::size_t> to_run = to_run_in;
  m_total = to_run.size();
  std::string started = utc_timestamp();
  bool interrupted = false;
  int signal = 0;
  try {
    follow_earlier_jobs(to_run);
    if (!m_options.quiet) {
      say(stdout, "benchmatrix: {} task{} to run on SLURM (job name {}){}\n", m_total, m_total == 1 ? "" : "s",
          m_job_name, already_done > 0 ? fmt::format(", {} already done", already_done) : "");
    }
    if (m_events) {
      RunHeader header;
      header.planned = m_plan.size();
      header.selected = selected.size();
      header.to_run = m_total;
      header.already_done = already_done;
      header.out_dir = m_store.root();
      header.tasks = to_run_in;
      m_events->run_started(m_plan, header);
    }
    submit(to_run);
    // One squeue per interval for the whole run; the interval grows while nothing changes.
    auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(m_settings.poll);
    auto longest = interval * 8;
    while (!m_tracked.empty() || !m_requeue.empty()) {
      if (!m_requeue.empty()) {
        std::vector<std::size_t> again;
        again.swap(m_requeue);
        submit(again);
      }
      slurm::sleep_interruptibly(interval);
      bool changed = poll();
      interval = changed ? std::chrono::duration_cast<std::chrono::milliseconds>(m_settings.poll)
                         : std::min(longest, interval * 3 / 2);
    }
  } catch (const Interrupted& stop) {
    interrupted = true;
    signal = stop.signal();
    say(stdout, "\nInterrupted ({}): cancelling this run's jobs; what finished is kept\n", stop.what());
    try {
      cancel_all();
    } catch (const Interrupted&) {
      say(stdout, "Not waiting for the cancelled jobs to end\n");
    }
  }
  merge_journals();
  nlohmann::json summary = {{"executor", "slurm"},
                            {"job_name", m_job_name},
                            {"jobs", std::vector<std::string>(m_job_ids.begin(), m_job_ids.end())},
                            {"planned", m_plan.size()},
                            {"selected", selected.size()},
                            {"skipped_done", already_done},
                            {"completed", m_completed},
                            {"failed", m_failed},
                            {"lost", m_lost},
                            {"not_submitted", m_unsubmitted},
                            {"started", started},
                            {"finished", utc_timestamp()}};
  if (interrupted) {
    summary["interrupted_by"] = Interrupted::describe(signal);
  }
  m_store.write_execution_summary(summary);
  if (m_events) {
    if (interrupted) {
      m_events->interrupted(signal, false);
    }
    m_summary.planned = m_plan.size();
    m_summary.selected = selected.size();
    m_summary.completed = m_completed;
    m_summary.failed = m_failed + m_lost;
    m_summary.skipped_done = already_done;
    m_summary.was_interrupted = interrupted;
    m_summary.not_started = m_total - m_completed - m_failed - m_lost;  // includes the unsubmitted
    m_events->run_finished(m_plan, m_summary);
  }
  m_store.record({{"event", interrupted ? "run-interrupted" : "run-finished"},
                  {"completed", m_completed},
                  {"failed", m_failed},
                  {"lost", m_lost}});
  m_store.commit(true);
  say(stdout, "{} done, {} failed{}{}{}\n", m_completed, m_failed,
      m_lost > 0 ? fmt::format(", {} lost to the cluster", m_lost) : "",
      m_unsubmitted > 0 ? fmt::format(", {} not submitted (sbatch refused them)", m_unsubmitted) : "",
      already_done > 0 ? fmt::format(" ({} already done before)", already_done) : "");
  if (!m_summary.failures.empty()) {
    say(stdout, "Failed tasks (run the same command again to retry only these):\n");
    for (const auto& failure : m_summary.failures) {
      say(stdout, "  {}: {}\n    {}\n", m_plan.label(failure.task), failure.reason, failure.dir.string());
    }
  }
  if (interrupted) {
    say(stdout, "Statistics not recomputed (interrupted); `benchmatrix report {}` does it from what is on disk\n",
        m_store.root().string());
    return k_exit_interrupted;
  }
  return report_finished_run(m_plan, m_store.root(), selected, m_options, m_failed > 0 || m_lost > 0 || m_unsubmitted > 0);
}

// The GPUs SLURM gave this job, in NVML's numbering where SLURM says it: CUDA_VISIBLE_DEVICES as
// SLURM sets it, else SLURM_STEP_GPUS or SLURM_JOB_GPUS, else the job's GRES indices as the
// controller lists them.
std::vector<int> allocated_gpus() {
  for (const char* name : {"CUDA_VISIBLE_DEVICES", "SLURM_STEP_GPUS", "SLURM_JOB_GPUS"}) {
    if (auto ids = slurm::parse_gpu_ids(env_or(name))) {
      return *ids;
    }
  }
  // An array's first element has the array's id as its own: ask for JOBID_INDEX, or scontrol
  // would list every element of the array.
  std::string job = env_or("SLURM_ARRAY_TASK_ID").empty()
                        ? env_or("SLURM_JOB_ID")
                        : env_or("SLURM_ARRAY_JOB_ID") + "_" + env_or("SLURM_ARRAY_TASK_ID");
  if (job.empty() || env_or("SLURM_GPUS_ON_NODE", "0") == "0") {
    return {};
  }
  int spawn_error = 0;
  CommandResult shown = run_command({"scontrol", "-d", "show", "job", job}, std::chrono::seconds(60), 1 << 20, spawn_error);
  return spawn_error == 0 ? slurm::gres_gpu_indices(shown.output) : std::vector<int>{};
}

// Rewrites the element's heartbeat file while it runs: the driver (and a person) can tell a live
// element from a hung one.
class Heartbeat {
public:
  Heartbeat(Directory folder, std::chrono::seconds every) : m_folder(std::move(folder)) {
    m_thread = std::thread([this, every] {
      std::unique_lock lock(m_mutex);
      do {
        try {
          m_folder.write_atomic("heartbeat", utc_timestamp() + "\n");
        } catch (const std::exception&) {
        }
      } while (!m_wake.wait_for(lock, every, [this] { return m_stop; }));
    });
  }
  ~Heartbeat() {
    {
      std::lock_guard lock(m_mutex);
      m_stop = true;
    }
    m_wake.notify_all();
    m_thread.join();
  }

private:
  Directory m_folder;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  std::thread m_thread;
};

} // namespace

int run_on_slurm(const Plan& plan, const RunOptions& options, RunSteps* steps) {
  const Config& config = plan.config();
  for (const auto& [given, name] : {std::pair{options.jobs.has_value() || options.parallel, "--jobs/--parallel"},
                                   {options.cores.has_value(), "--cores"},
                                   {options.gpus.has_value() || options.per_gpu.has_value(), "--gpus/--per-gpu"},
                                   {options.oversubscribe, "--oversubscribe"}}) {
    if (given) {
      throw UserError(fmt::format("{} is for the local executor; on SLURM each element gets the resources its tasks "
                                  "ask for (task.cpus, task.gpus, task.memory; executor.tasks_at_once)",
                                  name));
    }
  }
  if (options.halt != "never") {
    throw UserError("--halt is for the local executor; on SLURM the queued elements run on (Ctrl-C cancels them)");
  }
  if (options.timeout) {
    auto parsed = parse_duration(*options.timeout);
    if (!parsed || parsed->count() == 0) {
      throw UserError(fmt::format("--timeout: expected a positive duration such as 30s or 2m, found '{}'", *options.timeout));
    }
  }
  std::vector<std::size_t> selected = select_tasks(plan, options.filter);
  Store store(default_out(config, options.out));
  auto [to_run, already_done] = work_to_do(plan, store, selected, options.force);
  if (options.force && !to_run.empty()) {
    throw UserError("--force with --executor slurm: remove the results to run again (a worker skips a task whose "
                    "result exists)");
  }
  check_programs(plan, to_run);
  slurm::Client probe;
  CommandResult version = probe.run({"sbatch", "--version"});
  if (!version.succeeded()) {
    throw UserError(fmt::format("--executor slurm: sbatch does not answer ({}): {}", version.describe(std::chrono::seconds(120)),
                                printable(std::string(trim(version.output)), 300)));
  }
  std::string job_name = job_name_for(store.root());
  if (options.dry_run) {
    std::vector<slurm::BundleTask> items;
    for (std::size_t task : to_run) {
      ResolvedSettings settings = plan.settings(task);
      slurm::BundleTask item;
      item.key = plan.relative_path(task);
      item.request = {settings.cpus, settings.gpus, settings.memory};
      item.bound = task_bound(plan, task, options.timeout ? parse_duration(*options.timeout) : std::nullopt);
      items.push_back(std::move(item));
    }
    say(stdout, "Would submit {} task{} to SLURM as job {} ({} already done):\n", to_run.size(),
        to_run.size() == 1 ? "" : "s", job_name, already_done);
    for (const auto& array : slurm::bundle(items, config.slurm, 1001)) {
      std::vector<std::string> args = slurm::sbatch_arguments(array, config.slurm, job_name, "OUT/runs/RUN/slurm/array-N_%a.out",
                                                               std::filesystem::current_path().string());
      say(stdout, "  sbatch {} (one element runs {})\n", join(args, " "), array.elements.front().tasks.size() == 1
                                                                             ? std::string("one task")
                                                                             : "several tasks in turn");
    }
    return k_exit_ok;
  }
  // Where the events go is opened now: a path that cannot be written is an error before anything runs.
  UniqueFd events = options.events ? EventStream::open(*options.events) : UniqueFd();
  nlohmann::json context = {{"executor", "slurm"}, {"host", host_name()}, {"job_name", job_name}};
  store.set_durable(options.durability != "off");
  store.open_for_run(plan, context);
  if (steps != nullptr) {
    steps->run_dir = store.run_dir();
    if (steps->before) {
      write_step(store.run_dir(), *steps->before);
    }
  }
  std::unordered_map<std::string, double> durations;
  store.processes_of_unfinished_run(&durations);
  store.record({{"event", "run-started"},
                {"executor", "slurm"},
                {"tasks", to_run.size()},
                {"skipped_done", already_done},
                {"run_dir", store.run_dir().filename().string()},
                {"job_name", job_name}});
  store.commit(true);
  Driver driver(plan, options, store, job_name, std::move(events));
  return driver.run(to_run, already_done, selected, std::move(durations));
}

int worker_command(const WorkerOptions& options) {
  std::string text;
  try {
    text = read_file(options.submission);
  } catch (const std::exception& error) {
    throw UserError(fmt::format("{}: cannot read the submission file: {}", options.submission, error.what()));
  }
  nlohmann::json submission;
  try {
    submission = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    throw UserError(fmt::format("{}: not a submission file: {}", options.submission, error.what()));
  }
  long index = options.element.value_or(-1);
  if (index < 0) {
    std::string from_env = env_or("SLURM_ARRAY_TASK_ID");
    if (from_env.empty() || !std::all_of(from_env.begin(), from_env.end(), ::isdigit)) {
      throw UserError("worker: --element or SLURM_ARRAY_TASK_ID says which element to run");
    }
    index = std::stol(from_env);
  }
  const auto& elements = submission.at("elements");
  if (static_cast<std::size_t>(index) >= elements.size()) {
    throw UserError(fmt::format("{} has {} elements, not {}", options.submission, elements.size(), index + 1));
  }
  std::string workdir = submission.value("workdir", "");
  if (!workdir.empty() && ::chdir(workdir.c_str()) != 0) {
    throw UserError(fmt::format("worker: cannot enter {}: {}", workdir, std::strerror(errno)));
  }
  std::string array_job = env_or("SLURM_ARRAY_JOB_ID", env_or("SLURM_JOB_ID", "local"));
  std::string key = slurm::element_key(array_job, static_cast<std::size_t>(index));
  std::string run_dir = "runs/" + submission.at("run").get<std::string>() + "/elements/" + key;
  fs::path out = submission.at("out").get<std::string>();

  // The started marker, before the config is read and anything runs: where, as which job.
  Directory element_folder = Directory::open(out).make(run_dir);
  std::vector<std::string> paths = elements.at(static_cast<std::size_t>(index)).get<std::vector<std::string>>();
  std::vector<std::string> ids;
  for (const auto& path : paths) {
    ids.push_back(submission.at("task_ids").value(path, ""));
  }
  nlohmann::json marker = {{"host", host_name()},
                           {"job_id", env_or("SLURM_JOB_ID")},
                           {"array_job_id", array_job},
                           {"array_task_id", index},
                           {"node", env_or("SLURMD_NODENAME", host_name())},
                           {"pid", ::getpid()},
                           {"started", utc_timestamp()},
                           {"tasks", paths}};
  element_folder.write_atomic("element.json", dump(marker));
  Heartbeat heartbeat(Directory::open(out / run_dir), std::chrono::seconds(30));

  RunOptions run;
  run.out = out.string();
  run.progress = "never";
  run.color = "never";
  run.durability = submission.value("durability", "group");
  run.isolation = submission.value("isolation", "auto");
  if (submission.contains("retries")) {
    run.retries = submission["retries"].get<int>();
  }
  if (submission.contains("timeout")) {
    run.timeout = submission["timeout"].get<std::string>();
  }
  int at_once = submission.value("tasks_at_once", 1);
  run.jobs = at_once;
  // The element's CPUs are its affinity (SLURM's task/affinity or cgroups confine it), which the
  // topology already honours; core 0 may be one of them.
  run.use_core0 = true;
  if (std::vector<int> gpus = allocated_gpus(); !gpus.empty()) {
    run.gpus = format_cpu_list(gpus);
  }
  run.element = ElementRun{paths, ids, run_dir,
                           {{"slurm_job_id", env_or("SLURM_JOB_ID")},
                            {"slurm_array_job_id", array_job},
                            {"slurm_array_task_id", std::to_string(index)},
                            {"slurm_node", env_or("SLURMD_NODENAME", host_name())}}};
  int code = k_exit_failed;
  try {
    Config config = load_config(submission.at("config").get<std::string>(), false);
    discover(config);
    code = run_plan(Plan::build(config), run);
  } catch (...) {
    marker["ended"] = utc_timestamp();
    marker["exit_code"] = k_exit_usage;
    element_folder.write_atomic("element.json", dump(marker));
    throw;
  }
  marker["ended"] = utc_timestamp();
  marker["exit_code"] = code;
  element_folder.write_atomic("element.json", dump(marker));
  return code;
}

} // namespace bm
