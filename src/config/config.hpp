#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/error.hpp"

namespace bm {

enum class Priority { High = 0, Normal = 1, Low = 2 };
std::string to_string(Priority priority);
std::optional<Priority> parse_priority(std::string_view text);

// Where a task's own metrics come from (task protocol): JSON lines appended to
// $BENCHMATRIX_RESULT_FILE, always read when present.
using EnvList = std::vector<std::pair<std::string, std::string>>;

// Settings that the config sets at top level and that an axis value may override. Unset fields
// fall through to the level above (top level, then the built-in defaults).
struct TaskSettings {
  std::optional<int> warmup;
  std::optional<int> runs;
  std::optional<std::chrono::nanoseconds> timeout;
  std::optional<std::chrono::nanoseconds> kill_grace;
  std::optional<int> retries;
  std::optional<int> cpus;
  std::optional<int> gpus;
  std::optional<Priority> priority;
  EnvList env;  // added to (or replacing) the inherited environment, in order

  // Fields set in `other` replace ours; env entries are appended (later ones win).
  void overlay(const TaskSettings& other);
};

// The fully resolved settings of one task, after defaults and overrides.
struct ResolvedSettings {
  int warmup = 0;
  int runs = 1;
  std::optional<std::chrono::nanoseconds> timeout;
  std::chrono::nanoseconds kill_grace{std::chrono::seconds(2)};
  int retries = 0;
  int cpus = 1;
  int gpus = 0;
  Priority priority = Priority::Normal;
  EnvList env;

  static ResolvedSettings from(const TaskSettings& settings);
};

// A command line as written: an argv of templates, or one shell string when `shell` is set.
struct CommandTemplate {
  std::vector<std::string> words;           // argv templates; one element when shell
  std::vector<SourceLocation> locations;    // where each word is in the file
  bool shell = false;

  bool empty() const { return words.empty(); }
};

struct Axis;

// One value of an axis: a scalar ("std_sort") or an object with a name, fields for
// {axis.field}, per-value overrides, and nested axes that exist only under this value
// (seed 004: benchmark longbench -> subsets).
struct AxisValue {
  std::string name;
  std::map<std::string, std::string> fields;
  TaskSettings overrides;
  std::vector<Axis> sub_axes;
  SourceLocation location;
};

struct Axis {
  std::string name;
  std::vector<AxisValue> values;
  SourceLocation location;
};

// A partial assignment of axis values, for include/exclude: {algo: heap_sort, n: 1000}.
struct Combination {
  std::vector<std::pair<std::string, std::string>> values;
  SourceLocation location;
};

struct ResourceSettings {
  std::optional<std::vector<int>> cores;    // explicit CPU ids; nullopt = automatic
  bool reserve_core0 = true;
  std::optional<int> jobs;                  // slots; nullopt = 1 (or --parallel)
  std::vector<int> gpus;                    // listed GPU ids (discovery comes with the GPU issue)
  int per_gpu = 1;
};

struct Config {
  std::string file;                         // as given by the user
  std::string directory;                    // absolute directory of the config file
  std::string name;
  CommandTemplate command;
  CommandTemplate setup;                    // optional: once per task, before the warm-ups
  CommandTemplate teardown;                 // optional: once per task, after the runs (even failed)
  std::string workdir;                      // as written; empty = where benchmatrix runs
  std::vector<Axis> axes;                   // in file order: the first varies slowest
  std::vector<Combination> include;
  std::vector<Combination> exclude;
  TaskSettings defaults;                    // top-level repeat:, task:, env:
  ResourceSettings resources;
  std::vector<std::string> parallel_names;  // seed 002's `parallel`: one name per slot
  std::string executor = "local";
  std::vector<std::string> reports;
  std::string analysis_json;                // kept for the statistics stage, validated there
  std::string text_hash;                    // hash of the config's bytes, for plan.json
};

} // namespace bm
