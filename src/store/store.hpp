#pragma once

#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "collect/result.hpp"
#include "plan/plan.hpp"
#include "store/committer.hpp"
#include "store/journal.hpp"
#include "store/lock.hpp"
#include "store/task_folder.hpp"
#include "util/directory.hpp"

namespace bm {

// What the results tree says about a task.
enum class TaskState {
  Pending,  // never finished (or interrupted, or its result is unreadable)
  Done,     // result.json exists for this very spec: resume skips it
  Stale,    // result.json exists for an older spec: it runs again
  Failed,   // its last attempt failed: it runs again
};
std::string_view to_string(TaskState state);

inline constexpr int k_schema = 1;

// The results tree of DESIGN.md. Every file is written whole to a temporary name and renamed;
// a task's result.json, written last, is its completion marker. Durability is by group commit:
// commit() syncs the file system and the journal at most once per window.
//
// Everything inside OUT is opened relative to OUT's own descriptor without following a symbolic
// link (util/directory.hpp): a link or FIFO planted in OUT (by a task, say) is refused or replaced,
// never followed, so nothing is ever read from or written to a place outside OUT through one.
class Store {
public:
  // A view of OUT: reading it (state, list) creates and locks nothing.
  explicit Store(std::filesystem::path out);

  const std::filesystem::path& root() const { return m_root; }
  std::filesystem::path task_dir(const Plan& plan, std::size_t task) const;
  // Refuses (UserError) an OUT whose own entries are not what benchmatrix makes there: OUT not a
  // folder, tasks/ or runs/ a link or not a folder, .lock, journal.jsonl, plan.json or a report a
  // link or not a regular file. Nothing there yet is fine.
  void check_structure() const;
  TaskState state(const Plan& plan, std::size_t task) const;
  // The states of many tasks at once (resume, list): cost grows with the results on disk, not
  // with the size of the plan.
  std::vector<TaskState> states(const Plan& plan, const std::vector<std::size_t>& tasks) const;
  // The name of the config whose results OUT holds (from plan.json), or nullopt when it holds none.
  std::optional<std::string> recorded_name() const;

  // Prepares OUT for a run: creates it, takes the lock (refusing a second run), writes plan.json,
  // opens the journal and the run's folder runs/<timestamp>/.
  void open_for_run(const Plan& plan, const nlohmann::json& context);

  // Prepares OUT for one element of a cluster run (a worker on a compute node): OUT and its
  // plan.json exist (the driver made them and holds the lock), so neither is touched. The
  // element's own folder `run_dir` (relative to OUT, e.g. runs/<run>/elements/<job>_<index>)
  // takes the run folder's place and holds the element's journal: no two nodes ever append to
  // one file. The driver merges the journals.
  void open_for_element(const std::string& run_dir);

  // Makes a task's folder ahead of its start, when it does not exist yet (never clears one).
  void prepare_folder(const Plan& plan, std::size_t task);
  // A task attempt starts: its folder exists (a link or file planted on its path is replaced by a
  // folder, said in `warning`), and the previous attempt's markers, logs and metrics file are
  // cleared. Returns false, with `warning` saying why, when the folder cannot be used; the attempt
  // then fails without starting. Cheap: it comes between a slot's last process and its next one;
  // the start is journaled by describe_task.
  bool begin_task(const Plan& plan, std::size_t task, int attempt, const std::string& slot,
                  const std::vector<int>& cpus, const std::vector<int>& gpus, std::string& warning);
  // Where the attempt's processes find the task's folder.
  TaskFolderRef folder(const Plan& plan, std::size_t task) const;
  // runs/<timestamp>/environment.json: the environment every task of this run inherits,
  // redacted. After open_for_run, before the first describe_task.
  void write_run_environment(const std::vector<std::string>& inherited);
  // Journals the attempt's start and writes task.json: the attempt's spec (with what the config
  // sets in the environment) and the run whose environment it inherited. Called once the
  // attempt's first process has started.
  void describe_task(const Plan& plan, std::size_t task);
  // Whether the inherited environment now differs from the one the task's last attempt had
  // (variables the config sets, and volatile ones like SHLVL or OLDPWD, do not count).
  // The inherited variables that differ between the run that made the task's result and
  // `inherited` (this shell's), by name; empty when none does. Variables of a terminal session
  // (is_volatile_variable) and those the config sets do not count.
  // The programs (path, content hash) the attempt that made the task's result ran.
  std::vector<std::pair<std::string, std::string>> recorded_executables(const Plan& plan, std::size_t task) const;
  std::vector<std::string> environment_differences(const Plan& plan, std::size_t task,
                                                   const std::vector<std::string>& inherited) const;
  // After an attempt's last process: whether the task left benchmatrix's files alone (created no
  // result.json, failure.json or samples.csv of its own, kept task.json and the logs as they were)
  // and kept its folder (and OUT/tasks) where they were. When not, the outcome becomes a failure
  // saying what the task did; finish_task then repairs the folder. A forged result never counts.
  void inspect(const Plan& plan, TaskOutcome& outcome);
  // A task attempt ended: samples.csv, then result.json (success) or failure.json. A folder the
  // task made unusable costs only this task's files (said in the journal), never the run.
  void finish_task(const Plan& plan, const TaskOutcome& outcome, const nlohmann::json& context);
  void record(nlohmann::json event);  // a journal event of the run (started, interrupted, ...)

  void write_execution_summary(const nlohmann::json& summary);

  // When the previous run did not finish (it was killed): its run-started event and the
  // process-started events of what it started, as journaled; empty otherwise. Read after
  // open_for_run, before recording the new run. With `durations`, the same read of the journal
  // also gives how long each task id's last successful attempt took (for estimates of time left).
  std::vector<nlohmann::json> processes_of_unfinished_run(
      std::unordered_map<std::string, double>* durations = nullptr) const;
  std::filesystem::path run_dir() const { return m_root / "runs" / m_run_name; }

  // Makes everything written so far durable if the commit window has passed, in the background;
  // with `force`, now, waiting for it.
  void commit(bool force = false);
  // false: never sync (results survive a crash of benchmatrix, not of the machine). Before
  // open_for_run.
  void set_durable(bool durable) { m_durable = durable; }

private:
  struct FolderRecord {
    FileIdentity folder;                   // at begin_task
    std::optional<FileVersion> task_json;  // as describe_task wrote it
    // describe_task found no folder and made one: the task removed its own. The new folder may
    // have the old one's inode number (the file system reuses freed ones), so its identity alone
    // would not tell.
    bool removed = false;
  };

  std::optional<Directory> tasks_for_reading() const;
  // One of benchmatrix's JSON files in a task's folder, read without following links; nullopt
  // when the folder or the file is missing or unreadable.
  std::optional<nlohmann::json> read_task_file(const Plan& plan, std::size_t task, std::string_view name) const;
  Directory run_folder() const { return m_out.make("runs/" + m_run_name); }
  Directory usable_folder(const Plan& plan, std::size_t task, bool* repaired = nullptr);
  std::string folder_problem(const Plan& plan, std::size_t task);

  std::filesystem::path m_root;
  Directory m_out;
  Directory m_tasks;
  std::string m_run_name;  // runs/<timestamp>: opened when written, not held (descriptors are scarce)
  std::optional<OutputLock> m_lock;
  std::optional<Journal> m_journal;
  std::vector<std::string> m_inherited;                               // write_run_environment's
  std::unordered_map<std::string, std::string> m_inherited_hashes;    // by the config's env names
  std::unordered_map<std::size_t, bool> m_prepared;
  std::unordered_map<std::size_t, FolderRecord> m_folders;           // attempts begun and not finished
  std::unordered_map<std::size_t, nlohmann::json> m_started_events;  // begin_task's, for describe_task
  std::unordered_map<std::size_t, std::string> m_spec_texts;  // from describe_task, for finish_task
  nlohmann::json m_context;                                   // finish_task's last, and its text
  std::string m_context_text = "{}";
  std::unique_ptr<Committer> m_committer;  // after the descriptors it uses: destroyed first
  bool m_durable = true;
  bool m_dirty = false;
  std::chrono::steady_clock::time_point m_last_sync{};
};

// The folders below OUT/tasks (relative paths, as Plan::relative_path gives them) that hold one
// of `names`, found in one walk; nullopt when part of the tree could not be read.
std::optional<std::unordered_set<std::string>> task_folders_holding(const std::filesystem::path& tasks_root,
                                                                  std::initializer_list<std::string_view> names);

// A hash of the inherited environment that ignores what the config sets and volatile variables.
std::string comparable_environment_hash(const std::vector<std::string>& inherited, const EnvList& config_env);

// The JSON of a task's identity and spec (task.json; also embedded in result.json).
nlohmann::json task_spec_json(const Plan& plan, std::size_t task);

} // namespace bm
