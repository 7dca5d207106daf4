#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "plan/shell_script.hpp"
#include "plan/template.hpp"

namespace bm {

// What a task knows only when it starts (slot, cores, ...). Rendering without one leaves stable
// tokens in their place: that form is what the spec hash covers and what `list` shows.
struct RuntimeContext {
  std::string slot;
  std::string cores;
  std::string gpus;
  std::string result_dir;
  std::string task_id;
};

// The commands of one task, rendered.
struct TaskCommands {
  std::vector<std::string> command;   // argv; ["/bin/sh", "-c", script] when the config says shell
  std::vector<std::string> setup;     // empty when the config has none
  std::vector<std::string> teardown;
  std::vector<std::string> prepare;   // before every warm-up and measured run; empty when none
  EnvList env;                        // what the config sets, in order, values rendered
  // The values that shell scripts refer to (see shell_script.hpp): BENCHMATRIX_AXIS_<axis> and
  // their values, set in each process's environment; part of the spec, like the argv.
  EnvList shell_variables;
};

// The expanded matrix: every task of a config, in a pinned order (axes in file order, the first
// varying slowest; a value's nested axes vary right after it; then `include` additions).
// Tasks are stored compactly as one value index per axis, not as copied strings, so a
// million-task matrix fits in a few tens of MB; everything else is derived on demand.
// Building is pure: it reads nothing but the config.
class Plan {
public:
  static constexpr std::uint32_t k_absent = 0xffffffff;   // a nested axis not active in a task
  static constexpr std::size_t k_max_tasks = 20'000'000;
  // Runs per task when the config compares variants with a baseline and sets no count: one run
  // could never show a difference; ten give an exact p as small as 1e-5.
  static constexpr int k_compared_runs = 10;

  // Expands and validates: unknown placeholders, include/exclude naming unknown axes or values,
  // fields missing on a value. Throws UserError (nothing has run or been written).
  static Plan build(const Config& config);
  // What a run comparing with a baseline says of its repetition counts (the default raised; a
  // written count too small to ever reach significance, and the count that would).
  std::vector<std::string> comparison_notices() const;

  const Config& config() const { return *m_config; }
  std::size_t size() const { return m_priorities.size(); }

  std::uint64_t spec_hash(std::size_t task) const { return m_spec_hashes[task]; }
  std::string task_id(std::size_t task) const;         // 16 hex digits of the spec hash
  Priority priority(std::size_t task) const { return static_cast<Priority>(m_priorities[task]); }

  // Active axes of a task, in order: (axis name, value).
  std::vector<std::pair<std::string, const AxisValue*>> assignment(std::size_t task) const;
  // "algo=std_sort n=1000": for humans.
  std::string label(std::size_t task) const;
  // The task's folder below OUT/tasks/: one component per top-level axis, nested values joined to
  // their parent's with '_' (seed 004: model/attention/benchmark_subset), sanitized; distinct
  // tasks always get distinct folders (see distinct_path_parts).
  std::string relative_path(std::size_t task) const;
  ResolvedSettings settings(std::size_t task) const;
  TaskCommands render(std::size_t task, const RuntimeContext* runtime) const;

  // For a config with `source:`: the name of the task's benchmark as its program knows it (split
  // Google Benchmark names joined back with '/').
  std::string source_benchmark(std::size_t task) const;

  // Names of all axes (nested ones too), each once, in first-seen order.
  std::vector<std::string> axis_names() const;

private:
  struct PlanAxis {
    std::string name;
    std::vector<const AxisValue*> values;
    std::vector<std::vector<int>> children;  // per value: the plan axes nested under it
    // Top-level axes: the folder name of each value (no value has nested axes), or of each
    // tuple of the values of the axis's subtree, by the cells of `subtree` as bytes.
    std::vector<std::string> path_parts;
    std::vector<int> subtree;
    std::unordered_map<std::string, std::string> nested_parts;
  };

  // A command's words, and for a word that is a shell script the context of each placeholder
  // (empty for a word whose placeholders are substituted as they are).
  struct Words {
    std::vector<Template> words;
    std::vector<std::vector<ShellContext>> shell;
  };

  struct Templates {
    Words command;
    Words setup;
    Words teardown;
    Words prepare;
  };

  Plan() = default;
  void add_axes(const std::vector<Axis>& axes, std::vector<int>& ids, std::vector<std::string>& ancestors);
  void expand();
  void apply_exclude();
  void apply_source();
  void apply_include();
  void check_placeholders() const;
  void check_baseline() const;
  void finish();
  void hash_task(std::size_t task);  // its spec hash and priority
  const std::uint32_t* cells(std::size_t task) const { return m_cells.data() + task * m_axes.size(); }
  std::string render_value(std::size_t task, const std::string& axis, const std::string& field,
                           const SourceLocation& where) const;
  Words parse_words(const CommandTemplate& command);
  std::vector<std::string> render_words(std::size_t task, const Words& words, bool shell,
                                        const RuntimeContext* runtime, EnvList& shell_variables) const;
  const std::string& shell_variable(const Segment& segment) const;
  void assign_paths();
  void path_values(std::size_t task, int axis, std::vector<std::string_view>& values) const;
  std::string subtree_key(std::size_t task, const PlanAxis& root) const;
  template <typename Visit>
  void visit_active(std::size_t task, Visit&& visit) const;
  std::vector<int> axes_named(const std::string& name) const;

  std::shared_ptr<const Config> m_config;
  std::deque<AxisValue> m_extra_values;       // values added by `include`
  std::vector<PlanAxis> m_axes;               // flattened: top-level and nested axes
  std::vector<int> m_roots;                   // the top-level ones, in order
  int m_source_axis = -1;                     // the root axis a `source:` made, or -1
  std::vector<std::uint32_t> m_cells;         // size() * m_axes.size() value indices
  std::vector<std::uint8_t> m_priorities;
  std::vector<std::uint64_t> m_spec_hashes;
  Templates m_templates;
  std::map<std::string, std::string> m_shell_names;  // "axis\x1ffield" -> the variable of a placeholder
};

} // namespace bm
