#include "plan/plan.hpp"

#include "config/discover.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <set>
#include <thread>
#include <unordered_set>

#include "plan/sanitize.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

// Stand-ins for runtime placeholders in the hashed form: they cannot occur in YAML text.
std::string runtime_token(RuntimeField field) {
  return std::string("\x01") + std::string(runtime_field_name(field)) + "\x01";
}

std::string runtime_value(const RuntimeContext* runtime, RuntimeField field) {
  if (runtime == nullptr) {
    return runtime_token(field);
  }
  switch (field) {
  case RuntimeField::Slot:
    return runtime->slot;
  case RuntimeField::Cores:
    return runtime->cores;
  case RuntimeField::Gpus:
    return runtime->gpus;
  case RuntimeField::ResultDir:
    return runtime->result_dir;
  case RuntimeField::TaskId:
    return runtime->task_id;
  }
  return {};
}

// The environment variable that holds a placeholder's value for a shell script: the protocol's own
// for runtime placeholders, BENCHMATRIX_AXIS_<axis>[__<field>] for axis values.
std::string shell_variable_name(const Segment& segment) {
  std::string name = "BENCHMATRIX_AXIS_" + segment.text;
  if (!segment.field.empty()) {
    name += "__";
    for (char c : segment.field) {
      name += c == '.' ? std::string("__") : c == '-' ? std::string("_") : std::string(1, c);
    }
  }
  return name;
}

std::string segment_key(const Segment& segment) {
  return segment.text + '\x1f' + segment.field;
}

bool is_integer(std::string_view text) {
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    text.remove_prefix(1);
  }
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

} // namespace

Plan::Words Plan::parse_words(const CommandTemplate& command) {
  Words parsed;
  for (size_t i = 0; i < command.words.size(); ++i) {
    parsed.words.push_back(Template::parse(command.words[i], command.locations[i]));
  }
  parsed.shell.resize(parsed.words.size());
  // A shell string (shell: true), or the script word of an argv that runs a shell with -c.
  std::size_t script = 0;
  if (command.shell) {
    script = parsed.words.empty() ? 0 : 1;
  } else {
    std::vector<const Template*> words;
    for (const auto& word : parsed.words) {
      words.push_back(&word);
    }
    std::size_t index = shell_script_word(words);
    script = index == 0 ? 0 : index + 1;
  }
  // A placeholder that is the whole script ("{cmd}", [sh, -c, "{case.script}"]) is that script:
  // its value is code by the config's own design. Inside a script, a placeholder is a value.
  bool whole = script > 0 && parsed.words[script - 1].segments().size() == 1 &&
               parsed.words[script - 1].segments()[0].kind != Segment::Kind::Literal;
  if (script > 0 && !whole) {
    const Template& word = parsed.words[script - 1];
    parsed.shell[script - 1] = shell_contexts(word);
    for (const auto& segment : word.segments()) {
      if (segment.kind != Segment::Kind::Axis || m_shell_names.count(segment_key(segment)) != 0) {
        continue;
      }
      // Distinct placeholders whose names map alike ({a.b-c}, {a.b_c}) get distinct variables.
      std::string name = shell_variable_name(segment);
      auto taken = [&](const std::string& candidate) {
        return std::any_of(m_shell_names.begin(), m_shell_names.end(),
                           [&](const auto& entry) { return entry.second == candidate; });
      };
      std::string candidate = name;
      for (int n = 2; taken(candidate); ++n) {
        candidate = name + "_" + std::to_string(n);
      }
      m_shell_names.emplace(segment_key(segment), candidate);
    }
  }
  return parsed;
}

const std::string& Plan::shell_variable(const Segment& segment) const {
  return m_shell_names.at(segment_key(segment));
}

template <typename Visit>
void Plan::visit_active(std::size_t task, Visit&& visit) const {
  const std::uint32_t* row = cells(task);
  auto walk = [&](auto& self, int axis) -> void {
    std::uint32_t value = row[axis];
    if (value == k_absent) {
      return;
    }
    visit(axis, value);
    for (int child : m_axes[static_cast<size_t>(axis)].children[value]) {
      self(self, child);
    }
  };
  for (int root : m_roots) {
    walk(walk, root);
  }
}

Plan Plan::build(const Config& config) {
  Plan plan;
  plan.m_config = std::make_shared<const Config>(config);
  std::vector<std::string> ancestors;
  for (const auto& axis : plan.m_config->axes) {
    if (axis.values.empty() && !axis.discover.empty()) {
      throw UserError(axis.location, fmt::format("matrix.{}: its values come from a discovery command, which was not "
                                                 "run here",
                                                 axis.name));
    }
  }
  plan.add_axes(plan.m_config->axes, plan.m_roots, ancestors);
  if (plan.m_config->source.kind != SourceConfig::Kind::None) {
    for (int root : plan.m_roots) {
      if (plan.m_axes[static_cast<size_t>(root)].name == plan.m_config->source.axis) {
        plan.m_source_axis = root;
      }
    }
    if (plan.m_source_axis < 0) {
      throw UserError(plan.m_config->source.location, "source: its benchmarks were not discovered here");
    }
  }
  plan.m_templates.command = plan.parse_words(plan.m_config->command);
  plan.m_templates.setup = plan.parse_words(plan.m_config->setup);
  plan.m_templates.prepare = plan.parse_words(plan.m_config->prepare);
  plan.m_templates.teardown = plan.parse_words(plan.m_config->teardown);
  plan.check_placeholders();
  plan.check_baseline();
  plan.expand();
  plan.apply_exclude();
  plan.apply_source();
  plan.apply_include();
  if (plan.size() == 0) {
    throw UserError(SourceLocation{config.file, 0, 0}, "the matrix is empty: `exclude` removed every task");
  }
  plan.finish();
  return plan;
}

void Plan::add_axes(const std::vector<Axis>& axes, std::vector<int>& ids, std::vector<std::string>& ancestors) {
  for (const auto& axis : axes) {
    if (std::find(ancestors.begin(), ancestors.end(), axis.name) != ancestors.end()) {
      throw UserError(axis.location, fmt::format("matrix: the axis '{}' is defined twice on one path (an axis nested "
                                                 "under a value cannot reuse the name of an enclosing axis)",
                                                 axis.name));
    }
    for (int sibling : ids) {
      if (m_axes[static_cast<size_t>(sibling)].name == axis.name) {
        throw UserError(axis.location, fmt::format("matrix: the axis '{}' is defined twice", axis.name));
      }
    }
    int id = static_cast<int>(m_axes.size());
    ids.push_back(id);
    PlanAxis added;
    added.name = axis.name;
    m_axes.push_back(std::move(added));
    ancestors.push_back(axis.name);
    for (const auto& value : axis.values) {
      std::vector<int> children;
      add_axes(value.sub_axes, children, ancestors);
      PlanAxis& plan_axis = m_axes[static_cast<size_t>(id)];
      plan_axis.values.push_back(&value);
      plan_axis.children.push_back(std::move(children));
    }
    ancestors.pop_back();
  }
  // Sibling axes (under one value) must not clash with axes defined higher up either; the
  // top-level list is checked against each nested list through `ancestors` above.
}

std::vector<int> Plan::axes_named(const std::string& name) const {
  std::vector<int> ids;
  for (size_t i = 0; i < m_axes.size(); ++i) {
    if (m_axes[i].name == name) {
      ids.push_back(static_cast<int>(i));
    }
  }
  return ids;
}

std::vector<std::string> Plan::axis_names() const {
  std::vector<std::string> names;
  for (const auto& axis : m_axes) {
    if (std::find(names.begin(), names.end(), axis.name) == names.end()) {
      names.push_back(axis.name);
    }
  }
  return names;
}

void Plan::check_placeholders() const {
  auto check = [&](const Template& word) {
    for (const auto& segment : word.segments()) {
      if (segment.kind == Segment::Kind::Axis && axes_named(segment.text).empty()) {
        std::vector<std::string> known = axis_names();
        throw UserError(word.location(),
                        fmt::format("unknown placeholder {{{}}}: no axis has that name (axes: {}; built-in: {{slot}}, "
                                    "{{cores}}, {{gpus}}, {{result_dir}}, {{task_id}}, %%PARALLEL%%)",
                                    segment.text + (segment.field.empty() ? "" : "." + segment.field),
                                    known.empty() ? "none" : join(known, ", ")));
      }
    }
  };
  for (const auto* words : {&m_templates.command, &m_templates.setup, &m_templates.teardown, &m_templates.prepare}) {
    for (const auto& word : words->words) {
      check(word);
    }
  }
}

void Plan::check_baseline() const {
  const AnalysisSettings& analysis = m_config->analysis;
  if (analysis.baseline_axis.empty()) {
    return;
  }
  std::vector<int> ids = axes_named(analysis.baseline_axis);
  if (ids.empty()) {
    throw UserError(analysis.baseline_location, fmt::format("analysis.baseline: there is no axis '{}' (axes: {})",
                                                            analysis.baseline_axis, join(axis_names(), ", ")));
  }
  for (int id : ids) {
    for (const auto* value : m_axes[static_cast<size_t>(id)].values) {
      if (value->name == analysis.baseline_value) {
        return;
      }
    }
  }
  throw UserError(analysis.baseline_location, fmt::format("analysis.baseline: the axis '{}' has no value '{}'",
                                                          analysis.baseline_axis, analysis.baseline_value));
}

void Plan::expand() {
  // Count first, so a matrix too large to hold is refused before anything is allocated. Nested
  // axes only multiply within their parent value, so the count is a product of per-root sums.
  auto count = [&](auto& self, int axis) -> double {
    double total = 0;
    const PlanAxis& plan_axis = m_axes[static_cast<size_t>(axis)];
    for (const auto& children : plan_axis.children) {
      double product = 1;
      for (int child : children) {
        product *= self(self, child);
      }
      total += product;
    }
    return total;
  };
  double total = 1;
  for (int root : m_roots) {
    total *= count(count, root);
  }
  if (total > static_cast<double>(k_max_tasks)) {
    throw UserError(SourceLocation{m_config->file, 0, 0},
                    fmt::format("the matrix expands to {:.0f} tasks; more than {} is refused", total, k_max_tasks));
  }
  const size_t stride = m_axes.size();
  m_cells.reserve(static_cast<size_t>(total) * stride);
  std::vector<std::uint32_t> current(stride, k_absent);

  // Depth-first over a list of axes still to assign: a value's nested axes go to the front of
  // the list, so they vary right after their parent and before the axes that follow it.
  auto generate = [&](auto& self, const std::vector<int>& pending, size_t next) -> void {
    if (next == pending.size()) {
      m_cells.insert(m_cells.end(), current.begin(), current.end());
      return;
    }
    int axis = pending[next];
    const PlanAxis& plan_axis = m_axes[static_cast<size_t>(axis)];
    for (std::uint32_t value = 0; value < plan_axis.values.size(); ++value) {
      current[static_cast<size_t>(axis)] = value;
      const auto& children = plan_axis.children[value];
      if (children.empty()) {
        self(self, pending, next + 1);
      } else {
        std::vector<int> nested(children.begin(), children.end());
        nested.insert(nested.end(), pending.begin() + static_cast<long>(next) + 1, pending.end());
        self(self, nested, 0);
      }
    }
    current[static_cast<size_t>(axis)] = k_absent;
  };
  generate(generate, m_roots, 0);
  m_priorities.resize(m_cells.size() / std::max<size_t>(stride, 1));
  if (stride == 0) {
    m_priorities.resize(1);  // no matrix: one task
  }
}

void Plan::apply_exclude() {
  if (m_config->exclude.empty()) {
    return;
  }
  // Each entry becomes, per named axis, the (axis id, value index) pairs that match it.
  using Alternatives = std::vector<std::pair<int, std::uint32_t>>;
  std::vector<std::vector<Alternatives>> rules;
  for (const auto& combination : m_config->exclude) {
    std::vector<Alternatives> rule;
    for (const auto& [name, value] : combination.values) {
      std::vector<int> ids = axes_named(name);
      if (ids.empty()) {
        throw UserError(combination.location,
                        fmt::format("exclude: there is no axis '{}' (axes: {})", name, join(axis_names(), ", ")));
      }
      Alternatives alternatives;
      for (int id : ids) {
        const auto& values = m_axes[static_cast<size_t>(id)].values;
        for (std::uint32_t v = 0; v < values.size(); ++v) {
          if (values[v]->name == value) {
            alternatives.emplace_back(id, v);
          }
        }
      }
      if (alternatives.empty()) {
        throw UserError(combination.location, fmt::format("exclude: the axis '{}' has no value '{}'", name, value));
      }
      rule.push_back(std::move(alternatives));
    }
    rules.push_back(std::move(rule));
  }
  const size_t stride = m_axes.size();
  size_t kept = 0;
  for (size_t task = 0; task < size(); ++task) {
    const std::uint32_t* row = cells(task);
    bool excluded = std::any_of(rules.begin(), rules.end(), [&](const std::vector<Alternatives>& rule) {
      return std::all_of(rule.begin(), rule.end(), [&](const Alternatives& alternatives) {
        return std::any_of(alternatives.begin(), alternatives.end(),
                           [&](const auto& pair) { return row[pair.first] == pair.second; });
      });
    });
    if (!excluded) {
      std::copy(row, row + stride, m_cells.begin() + static_cast<long>(kept * stride));
      ++kept;
    }
  }
  m_cells.resize(kept * stride);
  m_priorities.resize(kept);
}

std::string Plan::source_benchmark(std::size_t task) const {
  std::string name;
  const std::uint32_t* row = cells(task);
  bool split = m_config->source.split;
  for (int axis = m_source_axis; axis >= 0;) {
    std::uint32_t value = row[axis];
    if (value == k_absent) {
      break;
    }
    const PlanAxis& plan_axis = m_axes[static_cast<size_t>(axis)];
    const AxisValue* chosen = plan_axis.values[value];
    auto component = chosen->fields.find("component");
    name += (name.empty() ? "" : "/") + (split && component != chosen->fields.end() ? component->second : chosen->name);
    const auto& children = plan_axis.children[value];
    axis = split && !children.empty() ? children.front() : -1;
  }
  return name;
}

void Plan::apply_source() {
  // With several programs (builds), a benchmark one of them does not list is no task of it.
  const auto& available = m_config->source.available;
  if (m_source_axis < 0 || available.size() <= 1) {
    return;
  }
  std::map<std::string, std::unordered_set<std::string>> lookup;
  for (const auto& [program, names] : available) {
    lookup[program].insert(names.begin(), names.end());
  }
  const size_t stride = m_axes.size();
  size_t kept = 0;
  for (size_t task = 0; task < size(); ++task) {
    EnvList unused;
    std::vector<std::string> argv = render_words(task, m_templates.command, false, nullptr, unused);
    auto program = lookup.find(argv.front());
    if (program != lookup.end() && program->second.count(source_benchmark(task)) == 0) {
      continue;
    }
    const std::uint32_t* row = cells(task);
    std::copy(row, row + stride, m_cells.begin() + static_cast<long>(kept * stride));
    ++kept;
  }
  m_cells.resize(kept * stride);
  m_priorities.resize(kept);
}

void Plan::apply_include() {
  if (m_config->include.empty()) {
    return;
  }
  const size_t stride = m_axes.size();
  auto row_key = [&](const std::uint32_t* row) { return std::string(reinterpret_cast<const char*>(row), stride * 4); };
  std::unordered_set<std::string> existing;
  for (size_t task = 0; task < size(); ++task) {
    existing.insert(row_key(cells(task)));
  }
  for (const auto& combination : m_config->include) {
    std::vector<std::uint32_t> row(stride, k_absent);
    std::set<std::string> used;
    auto assign = [&](auto& self, int axis) -> void {
      PlanAxis& plan_axis = m_axes[static_cast<size_t>(axis)];
      auto given = std::find_if(combination.values.begin(), combination.values.end(),
                                [&](const auto& pair) { return pair.first == plan_axis.name; });
      if (given == combination.values.end()) {
        throw UserError(combination.location,
                        fmt::format("include: the entry must give a value for the axis '{}'", plan_axis.name));
      }
      used.insert(given->first);
      std::uint32_t index = 0;
      while (index < plan_axis.values.size() && plan_axis.values[index]->name != given->second) {
        ++index;
      }
      if (index == plan_axis.values.size()) {
        // A value the axis does not list: a new plain value for this combination only.
        AxisValue& added = m_extra_values.emplace_back();
        added.name = given->second;
        added.location = combination.location;
        plan_axis.values.push_back(&added);
        plan_axis.children.emplace_back();
      }
      row[static_cast<size_t>(axis)] = index;
      for (int child : m_axes[static_cast<size_t>(axis)].children[index]) {
        self(self, child);
      }
    };
    for (int root : m_roots) {
      assign(assign, root);
    }
    for (const auto& [name, value] : combination.values) {
      if (used.count(name) == 0) {
        throw UserError(combination.location,
                        fmt::format("include: the axis '{}' is not part of this combination (axes: {})", name,
                                    join(axis_names(), ", ")));
      }
    }
    if (existing.insert(row_key(row.data())).second) {
      m_cells.insert(m_cells.end(), row.begin(), row.end());
      m_priorities.push_back(0);
    }
  }
}

void Plan::path_values(std::size_t task, int axis, std::vector<std::string_view>& values) const {
  const PlanAxis& plan_axis = m_axes[static_cast<size_t>(axis)];
  std::uint32_t value = cells(task)[axis];
  values.push_back(plan_axis.values[value]->name);
  for (int child : plan_axis.children[value]) {
    if (cells(task)[child] != k_absent) {
      path_values(task, child, values);
    }
  }
}

std::string Plan::subtree_key(std::size_t task, const PlanAxis& root) const {
  std::string key;
  key.reserve(root.subtree.size() * 4);
  for (int axis : root.subtree) {
    std::uint32_t cell = cells(task)[axis];
    key.append(reinterpret_cast<const char*>(&cell), sizeof cell);
  }
  return key;
}

void Plan::assign_paths() {
  // One mapping per top-level axis, from what its tasks hold there (a value, or a value with the
  // values nested under it) to a folder name, injective over that axis (distinct_path_parts):
  // since tasks differ in some top-level axis, their paths differ.
  for (int root : m_roots) {
    PlanAxis& axis = m_axes[static_cast<size_t>(root)];
    std::vector<std::string> readable;
    std::vector<std::string> identities;
    bool nested = std::any_of(axis.children.begin(), axis.children.end(), [](const auto& c) { return !c.empty(); });
    if (!nested) {
      for (const auto* value : axis.values) {
        readable.push_back(sanitize_path_component(value->name));
        identities.push_back(path_identity({value->name}));
      }
      axis.path_parts = distinct_path_parts(readable, identities, "matrix." + axis.name);
      continue;
    }
    auto collect = [&](auto& self, int id) -> void {
      axis.subtree.push_back(id);
      for (const auto& children : m_axes[static_cast<size_t>(id)].children) {
        for (int child : children) {
          self(self, child);
        }
      }
    };
    collect(collect, root);
    std::vector<std::string> keys;
    std::unordered_map<std::string, std::size_t> seen;
    std::vector<std::string_view> values;
    for (std::size_t task = 0; task < size(); ++task) {
      std::string key = subtree_key(task, axis);
      if (!seen.emplace(key, keys.size()).second) {
        continue;
      }
      values.clear();
      path_values(task, root, values);
      std::string text;
      for (std::string_view value : values) {
        text += (text.empty() ? "" : "_") + sanitize_path_component(value);
      }
      readable.push_back(std::move(text));
      identities.push_back(path_identity(values));
      keys.push_back(std::move(key));
    }
    std::vector<std::string> parts = distinct_path_parts(readable, identities, "matrix." + axis.name);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      axis.nested_parts.emplace(std::move(keys[i]), std::move(parts[i]));
    }
  }
}

void Plan::finish() {
  assign_paths();
  m_spec_hashes.resize(size());
  // Each task's hash is independent of the others': large plans are hashed on every core (a
  // million tasks take about 1.5 s on one). Tasks are split in contiguous ranges; the error of
  // the first failing task in plan order is the one reported, as in a sequential pass.
  auto hash_range = [this](std::size_t begin, std::size_t end) {
    for (size_t task = begin; task < end; ++task) {
      hash_task(task);
    }
  };
  std::size_t workers = std::min<std::size_t>(std::max(1U, std::thread::hardware_concurrency()), 16);
  if (size() < 50000 || workers == 1) {
    hash_range(0, size());
    return;
  }
  std::vector<std::exception_ptr> errors(workers);
  std::vector<std::thread> threads;
  std::size_t chunk = (size() + workers - 1) / workers;
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      try {
        hash_range(std::min(size(), w * chunk), std::min(size(), (w + 1) * chunk));
      } catch (...) {
        errors[w] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (const auto& error : errors) {
    if (error) {
      std::rethrow_exception(error);
    }
  }
}

void Plan::hash_task(std::size_t task) {
  {
    ResolvedSettings settings = this->settings(task);
    m_priorities[task] = static_cast<std::uint8_t>(settings.priority);
    TaskCommands commands = render(task, nullptr);
    // The spec hash covers what defines the work, never what varies between attempts (slot,
    // cores, GPUs, result folder: those are tokens here) nor the inherited environment.
    Hasher hasher;
    hasher.add_field("benchmatrix-task-spec-1");
    for (const auto* words : {&commands.command, &commands.setup, &commands.teardown}) {
      hasher.add_u64(words->size());
      for (const auto& word : *words) {
        hasher.add_field(word);
      }
    }
    // What runs before each measured run sets the state it measures (a cold cache, a reset file).
    if (!commands.prepare.empty()) {
      hasher.add_field("prepare").add_u64(commands.prepare.size());
      for (const auto& word : commands.prepare) {
        hasher.add_field(word);
      }
    }
    // The values shell scripts refer to are part of the command as much as its words.
    if (!commands.shell_variables.empty()) {
      hasher.add_field("shell_variables").add_u64(commands.shell_variables.size());
      for (const auto& [name, value] : commands.shell_variables) {
        hasher.add_field(name).add_field(value);
      }
    }
    hasher.add_field(m_config->workdir);
    hasher.add_u64(commands.env.size());
    for (const auto& [name, value] : commands.env) {
      hasher.add_field(name).add_field(value);
    }
    if (m_config->env_inherit) {
      // The allow-list defines what the task sees; the inherited values themselves never count.
      hasher.add_field("env_inherit");
      for (const auto& name : *m_config->env_inherit) {
        hasher.add_field(name);
      }
    }
    hasher.add_u64(static_cast<std::uint64_t>(settings.warmup));
    hasher.add_u64(static_cast<std::uint64_t>(settings.runs));
    hasher.add_u64(static_cast<std::uint64_t>(settings.cpus));
    hasher.add_u64(static_cast<std::uint64_t>(settings.gpus));
    if (settings.cooldown.count() > 0) {
      hasher.add_field(fmt::format("cooldown {}", settings.cooldown.count()));
    }
    if (settings.min_runs > 0) {
      hasher.add_field(fmt::format("adaptive {} {:.17g}", settings.min_runs, settings.target_rel_ci));
    }
    m_spec_hashes[task] = hasher.digest();
  }
}

std::string Plan::task_id(std::size_t task) const {
  return to_hex(m_spec_hashes[task]);
}

std::vector<std::pair<std::string, const AxisValue*>> Plan::assignment(std::size_t task) const {
  std::vector<std::pair<std::string, const AxisValue*>> result;
  visit_active(task, [&](int axis, std::uint32_t value) {
    const PlanAxis& plan_axis = m_axes[static_cast<size_t>(axis)];
    result.emplace_back(plan_axis.name, plan_axis.values[value]);
  });
  return result;
}

std::string Plan::label(std::size_t task) const {
  std::string out;
  for (const auto& [name, value] : assignment(task)) {
    if (!out.empty()) {
      out += ' ';
    }
    out += name + "=" + printable(value->name, 60);
  }
  return out.empty() ? std::string("(single task)") : out;
}

std::string Plan::relative_path(std::size_t task) const {
  if (m_roots.empty()) {
    return "task";
  }
  std::string path;
  for (int root : m_roots) {
    if (!path.empty()) {
      path += '/';
    }
    const PlanAxis& axis = m_axes[static_cast<size_t>(root)];
    path += axis.subtree.empty() ? axis.path_parts[cells(task)[root]] : axis.nested_parts.at(subtree_key(task, axis));
  }
  return path;
}

ResolvedSettings Plan::settings(std::size_t task) const {
  TaskSettings merged = m_config->defaults;
  visit_active(task, [&](int axis, std::uint32_t value) {
    merged.overlay(m_axes[static_cast<size_t>(axis)].values[value]->overrides);
  });
  ResolvedSettings resolved = ResolvedSettings::from(merged);
  if (!resolved.runs_set && !m_config->analysis.baseline_axis.empty()) {
    resolved.runs = k_compared_runs;
  }
  return resolved;
}

std::vector<std::string> Plan::comparison_notices() const {
  // What a run with a baseline says about its repetitions: that the default count was raised, and
  // when a count written in the config can never reach significance for this family of
  // comparisons (honoured: a task run once, an eval's accuracy, is still compared by its value).
  // The smallest p the exact test can give for n against n runs is 2 / C(2n, n); it must be below
  // alpha, divided by the number of comparisons under Holm or Bonferroni.
  std::vector<std::string> notices;
  const AnalysisSettings& analysis = m_config->analysis;
  if (analysis.baseline_axis.empty()) {
    return notices;
  }
  std::vector<int> ids = axes_named(analysis.baseline_axis);
  std::size_t comparisons = 0;
  std::size_t defaulted = 0;
  int fewest = std::numeric_limits<int>::max();
  SourceLocation where;
  for (std::size_t task = 0; task < size(); ++task) {
    bool has_axis = false;
    bool variant = false;
    for (int id : ids) {
      std::uint32_t cell = cells(task)[id];
      if (cell != k_absent) {
        has_axis = true;
        variant = m_axes[static_cast<size_t>(id)].values[cell]->name != analysis.baseline_value;
      }
    }
    if (!has_axis) {
      continue;
    }
    ResolvedSettings settings = this->settings(task);
    comparisons += variant ? 1 : 0;
    defaulted += settings.runs_set ? 0 : 1;
    if (settings.runs < fewest && settings.min_runs == 0) {
      fewest = settings.runs;
      where = settings.runs_location;
    }
  }
  if (defaulted > 0) {
    notices.push_back(fmt::format("repeat.runs is not set: the variants and their baselines run {} times each, "
                                  "enough for an exact test to find a difference (set repeat.runs to choose)",
                                  k_compared_runs));
  }
  if (comparisons == 0 || fewest >= 50) {
    return notices;
  }
  bool divided = analysis.correction == "holm" || analysis.correction == "bonferroni";
  double alpha = (1 - analysis.confidence) / (divided ? static_cast<double>(comparisons) : 1.0);
  auto smallest_p = [](int n) {
    double dn = static_cast<double>(n);
    return 2 * std::exp(std::lgamma(dn + 1) + std::lgamma(dn + 1) - std::lgamma(2 * dn + 1));
  };
  if (smallest_p(fewest) < alpha) {
    return notices;
  }
  int needed = fewest;
  while (smallest_p(needed) >= alpha) {
    ++needed;
  }
  notices.push_back(fmt::format(
      "{}repeat.runs: {} run{} per task can never show a significant difference from the baseline: the smallest "
      "p-value {} against {} runs can reach is {:.3g}, not below {:.3g} ({}% confidence{}); such comparisons stay "
      "inconclusive (or, run once, are compared by their values); use at least {} runs for a verdict",
      where.file.empty() ? std::string() : where.to_string() + ": ", fewest, fewest == 1 ? "" : "s", fewest, fewest,
      smallest_p(fewest), alpha, analysis.confidence * 100,
      divided ? fmt::format(", {} correction over {} comparisons", analysis.correction, comparisons) : "", needed));
  return notices;
}

std::string Plan::render_value(std::size_t task, const std::string& axis, const std::string& field,
                               const SourceLocation& where) const {
  const std::uint32_t* row = cells(task);
  for (size_t id = 0; id < m_axes.size(); ++id) {
    if (m_axes[id].name != axis || row[id] == k_absent) {
      continue;
    }
    const AxisValue* value = m_axes[id].values[row[id]];
    if (field.empty() || field == "name") {
      return value->name;
    }
    auto found = value->fields.find(field);
    if (found == value->fields.end()) {
      throw UserError(where, fmt::format("{{{}.{}}}: the value '{}' of axis '{}' has no field '{}' (task {})", axis,
                                         field, printable(value->name, 60), axis, field, label(task)));
    }
    return found->second;
  }
  if (axes_named(axis).empty()) {
    std::vector<std::string> names = axis_names();
    throw UserError(where, fmt::format("unknown placeholder {{{}}}: no axis has that name (axes: {})", axis,
                                       names.empty() ? std::string("none") : join(names, ", ")));
  }
  return {};  // a nested axis that this task does not have renders empty
}

std::vector<std::string> Plan::render_words(std::size_t task, const Words& words, bool shell,
                                            const RuntimeContext* runtime, EnvList& shell_variables) const {
  std::vector<std::string> argv;
  argv.reserve(words.words.size() + 2);
  for (std::size_t i = 0; i < words.words.size(); ++i) {
    const Template& word = words.words[i];
    const std::vector<ShellContext>& contexts = words.shell[i];
    std::string out;
    std::size_t hole = 0;
    for (const auto& segment : word.segments()) {
      if (segment.kind == Segment::Kind::Literal) {
        out += segment.text;
        continue;
      }
      bool script = hole < contexts.size();
      ShellContext context = script ? contexts[hole++] : ShellContext::Unquoted;
      if (segment.kind == Segment::Kind::Runtime) {
        // In a script, the protocol's variable holds the value; elsewhere it is substituted.
        out += script ? shell_reference(context, runtime_variable(segment.runtime)) : runtime_value(runtime, segment.runtime);
        continue;
      }
      std::string value = render_value(task, segment.text, segment.field, word.location());
      if (!script) {
        out += value;
        continue;
      }
      if (context == ShellContext::Arithmetic && !is_integer(value)) {
        throw UserError(word.location(),
                        fmt::format("{{{}}} stands in shell arithmetic, which evaluates its text as an expression: "
                                    "the value '{}' ({}) is not a whole number",
                                    segment.text + (segment.field.empty() ? "" : "." + segment.field),
                                    printable(value, 60), label(task)));
      }
      const std::string& name = shell_variable(segment);
      out += shell_reference(context, name);
      if (std::none_of(shell_variables.begin(), shell_variables.end(),
                       [&](const auto& entry) { return entry.first == name; })) {
        shell_variables.emplace_back(name, std::move(value));
      }
    }
    argv.push_back(std::move(out));
  }
  if (shell && !argv.empty()) {
    return {"/bin/sh", "-c", argv.front()};
  }
  return argv;
}

TaskCommands Plan::render(std::size_t task, const RuntimeContext* runtime) const {
  TaskCommands commands;
  bool shell = m_config->command.shell;
  commands.command = render_words(task, m_templates.command, shell, runtime, commands.shell_variables);
  if (m_config->source.kind == SourceConfig::Kind::GoogleBenchmark && m_source_axis >= 0) {
    // One benchmark per process: a filter that matches its whole name and nothing else.
    commands.command.at(1) = "--benchmark_filter=" + benchmark_filter_for(source_benchmark(task));
  } else if (m_config->source.kind == SourceConfig::Kind::BenchHeader && m_source_axis >= 0) {
    commands.command.at(2) = source_benchmark(task);
  }
  commands.setup = render_words(task, m_templates.setup, m_config->setup.shell, runtime, commands.shell_variables);
  commands.prepare =
      render_words(task, m_templates.prepare, m_config->prepare.shell, runtime, commands.shell_variables);
  commands.teardown =
      render_words(task, m_templates.teardown, m_config->teardown.shell, runtime, commands.shell_variables);
  ResolvedSettings settings = this->settings(task);
  for (const auto& [name, value] : settings.env) {
    auto location = settings.env_locations.find(name);
    Template parsed = Template::parse(value, location != settings.env_locations.end()
                                                 ? location->second
                                                 : SourceLocation{m_config->file + " (env " + name + ")", 0, 0});
    auto axis_fn = [&](const std::string& axis, const std::string& field) {
      return render_value(task, axis, field, parsed.location());
    };
    commands.env.emplace_back(name,
                              parsed.render(axis_fn, [&](RuntimeField field) { return runtime_value(runtime, field); }));
  }
  return commands;
}

} // namespace bm
