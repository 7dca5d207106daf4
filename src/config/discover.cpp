#include "config/discover.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "util/command.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

constexpr size_t k_max_output = 16 * 1024 * 1024;

std::string scalar_text(const nlohmann::json& value) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  return value.dump();
}

} // namespace

std::vector<AxisValue> parse_discovered(const std::string& output, const SourceLocation& where) {
  std::vector<AxisValue> values;
  std::string_view trimmed = trim(output);
  if (!trimmed.empty() && trimmed.front() == '[') {
    nlohmann::json list = nlohmann::json::parse(trimmed, nullptr, false);
    if (list.is_discarded() || !list.is_array()) {
      throw UserError(where, "the discovery command printed text starting with '[' that is not a JSON array");
    }
    for (const auto& item : list) {
      AxisValue value;
      value.location = where;
      if (item.is_object()) {
        if (!item.contains("name") || item["name"].is_object() || item["name"].is_array()) {
          throw UserError(where, "the discovery command printed an object without a scalar \"name\": " +
                                     printable(item.dump(), 120));
        }
        value.name = scalar_text(item["name"]);
        for (const auto& [key, field] : item.items()) {
          if (key != "name") {
            value.fields[key] = scalar_text(field);
          }
        }
      } else if (item.is_string() || item.is_number()) {
        value.name = scalar_text(item);
      } else {
        throw UserError(where, "the discovery command printed a list element that is neither a name nor an "
                               "object with a name: " + printable(item.dump(), 120));
      }
      values.push_back(std::move(value));
    }
  } else {
    for (const auto& line : split(output, '\n')) {
      std::string_view name = trim(line);
      if (name.empty() || name.front() == '#') {
        continue;
      }
      AxisValue value;
      value.name = std::string(name);
      value.location = where;
      values.push_back(std::move(value));
    }
  }
  if (values.empty()) {
    throw UserError(where, "the discovery command printed no values");
  }
  for (const auto& value : values) {
    bool nul = value.name.find('\0') != std::string::npos ||
               std::any_of(value.fields.begin(), value.fields.end(),
                           [](const auto& field) { return field.second.find('\0') != std::string::npos; });
    if (nul) {
      throw UserError(where, "the discovery command printed a value holding a NUL byte (" + printable(value.name, 60) +
                                 "), which no program argument can carry");
    }
  }
  return values;
}

std::vector<AxisValue> discover_values(const std::vector<std::string>& argv, const SourceLocation& where,
                                       std::chrono::seconds timeout) {
  int spawn_error = 0;
  CommandResult result = run_command(argv, timeout, k_max_output, spawn_error);
  if (spawn_error != 0) {
    throw UserError(where, "cannot run the discovery command '" + join(argv, " ") + "': " + std::strerror(spawn_error));
  }
  if (result.too_much_output) {
    throw UserError(where, "the discovery command printed more than 16 MiB");
  }
  if (result.timed_out) {
    throw UserError(where, fmt::format("the discovery command '{}' did not finish within {}s", join(argv, " "),
                                       timeout.count()));
  }
  if (!result.succeeded()) {
    throw UserError(where, fmt::format("the discovery command '{}' failed ({})", join(argv, " "),
                                       result.describe(timeout)));
  }
  return parse_discovered(result.output, where);
}

namespace {

void discover_axes(std::vector<Axis>& axes) {
  for (auto& axis : axes) {
    if (!axis.discover.empty() && axis.values.empty()) {
      SourceLocation where = axis.discover_location.file.empty() ? axis.location : axis.discover_location;
      axis.values = discover_values(axis.discover.words, where);
    }
    for (auto& value : axis.values) {
      discover_axes(value.sub_axes);
    }
  }
}

// The program paths a source names: its template rendered over the top-level axes it refers to
// ({axis} or {axis.field}; {{ and }} are braces), each distinct path once, in matrix order.
std::vector<std::string> program_paths(const Config& config) {
  const SourceConfig& source = config.source;
  struct Part {
    std::string literal;
    const Axis* axis = nullptr;
    std::string field;
  };
  std::vector<Part> parts;
  const std::string& text = source.program;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((text[i] == '{' || text[i] == '}') && i + 1 < text.size() && text[i + 1] == text[i]) {
      parts.push_back({std::string(1, text[i++]), nullptr, {}});
      continue;
    }
    if (text[i] != '{') {
      parts.push_back({std::string(1, text[i]), nullptr, {}});
      continue;
    }
    size_t close = text.find('}', i);
    if (close == std::string::npos) {
      throw UserError(source.program_location, "source: an unclosed '{' in the program path (a literal brace is {{)");
    }
    std::string placeholder = text.substr(i + 1, close - i - 1);
    size_t dot = placeholder.find('.');
    std::string name = placeholder.substr(0, dot);
    Part part;
    part.field = dot == std::string::npos ? "" : placeholder.substr(dot + 1);
    for (const auto& axis : config.axes) {
      if (axis.name == name) {
        part.axis = &axis;
      }
    }
    if (part.axis == nullptr) {
      throw UserError(source.program_location,
                      fmt::format("source: {{{}}} is not a top-level axis of the matrix (the program path may name "
                                  "only those, such as {{build}})",
                                  placeholder));
    }
    parts.push_back(std::move(part));
    i = close;
  }
  // The axes referred to, each once, and every combination of their values.
  std::vector<const Axis*> used;
  for (const auto& part : parts) {
    if (part.axis != nullptr && std::find(used.begin(), used.end(), part.axis) == used.end()) {
      used.push_back(part.axis);
    }
  }
  std::vector<std::string> paths;
  std::vector<size_t> index(used.size(), 0);
  while (true) {
    std::string path;
    for (const auto& part : parts) {
      if (part.axis == nullptr) {
        path += part.literal;
        continue;
      }
      size_t which = static_cast<size_t>(std::find(used.begin(), used.end(), part.axis) - used.begin());
      const AxisValue& value = part.axis->values[index[which]];
      if (part.field.empty()) {
        path += value.name;
      } else {
        auto field = value.fields.find(part.field);
        if (field == value.fields.end()) {
          throw UserError(value.location, fmt::format("source: the value '{}' of the axis '{}' has no field '{}'",
                                                      value.name, part.axis->name, part.field));
        }
        path += field->second;
      }
    }
    if (std::find(paths.begin(), paths.end(), path) == paths.end()) {
      paths.push_back(path);
    }
    size_t digit = used.size();
    while (digit > 0) {
      --digit;
      if (++index[digit] < used[digit]->values.size()) {
        break;
      }
      index[digit] = 0;
      if (digit == 0) {
        return paths;
      }
    }
    if (used.empty()) {
      return paths;
    }
  }
}

// One part of a split Google Benchmark name: the axis it belongs to and its value.
std::pair<std::string, std::string> split_part(const std::string& part, size_t& positional,
                                               const SourceConfig& source) {
  if (part == "real_time" || part == "manual_time" || part == "process_time") {
    return {"timing", part};
  }
  size_t colon = part.find(':');
  if (colon != std::string::npos && colon > 0) {
    return {part.substr(0, colon), part.substr(colon + 1)};
  }
  ++positional;
  return {positional <= source.arg_names.size() ? source.arg_names[positional - 1] : fmt::format("arg{}", positional),
          part};
}

// Google Benchmark names split at '/': the family is the value of the source's axis, each further
// part the value of a nested axis under the part before it, so only names that exist become tasks.
struct NameTrie {
  std::string axis;   // the axis of the children
  std::vector<std::pair<std::string, std::unique_ptr<NameTrie>>> children;  // value -> subtree, in order
  std::map<std::string, std::string> component;  // value -> the part as written
  bool terminal = false;
};

void insert_name(NameTrie& root, const std::string& name, const SourceConfig& source) {
  std::vector<std::string> parts = split(name, '/');
  NameTrie* node = &root;
  size_t positional = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::pair<std::string, std::string> named = i == 0 ? std::pair<std::string, std::string>{source.axis, parts[0]}
                                                       : split_part(parts[i], positional, source);
    const std::string& axis = named.first;
    const std::string& value = named.second;
    if (!is_identifier(axis)) {
      throw UserError(source.location, fmt::format("source.split: '{}' in the benchmark {} cannot name an axis; use "
                                                   "split: false",
                                                   printable(axis, 40), printable(name, 120)));
    }
    if (node->children.empty()) {
      node->axis = axis;
    } else if (node->axis != axis) {
      throw UserError(source.location,
                      fmt::format("source.split: the benchmarks under '{}' do not split into the same axes ('{}' and "
                                  "'{}', in {}); use split: false",
                                  printable(join(std::vector<std::string>(parts.begin(), parts.begin() + long(i)), "/"), 80),
                                  node->axis, axis, printable(name, 120)));
    }
    auto found = std::find_if(node->children.begin(), node->children.end(),
                              [&](const auto& child) { return child.first == value; });
    if (found == node->children.end()) {
      node->children.emplace_back(value, std::make_unique<NameTrie>());
      node->component[value] = parts[i];
      found = node->children.end() - 1;
    }
    node = found->second.get();
  }
  node->terminal = true;
}

std::vector<AxisValue> trie_values(const NameTrie& node, const SourceConfig& source) {
  std::vector<AxisValue> values;
  for (const auto& [name, child] : node.children) {
    AxisValue value;
    value.name = name;
    value.location = source.location;
    value.fields["component"] = node.component.at(name);
    if (!child->children.empty()) {
      if (child->terminal) {
        throw UserError(source.location, fmt::format("source.split: '{}' is a benchmark and also the start of longer "
                                                     "names; use split: false",
                                                     name));
      }
      Axis axis;
      axis.name = child->axis;
      axis.location = source.location;
      axis.values = trie_values(*child, source);
      value.sub_axes.push_back(std::move(axis));
    }
    values.push_back(std::move(value));
  }
  return values;
}

void expand_source(Config& config) {
  SourceConfig& source = config.source;
  source.available.clear();
  std::vector<std::string> names;  // every program's, in first-seen order
  for (const auto& path : program_paths(config)) {
    std::string program = path;
    if (!config.workdir.empty() && !program.empty() && program.front() != '/' && program.find('/') != std::string::npos) {
      program = config.workdir + "/" + program;  // as the runs will find it
    }
    std::vector<std::string> argv = {program};
    argv.push_back(source.kind == SourceConfig::Kind::GoogleBenchmark ? "--benchmark_list_tests=true" : "--list");
    argv.insert(argv.end(), source.args.begin(), source.args.end());
    std::vector<AxisValue> listed = discover_values(argv, source.program_location);
    for (auto& value : listed) {
      // bench.h lists {name, module, parameters}: each parameter a field ({benchmark.n}).
      auto parameters = value.fields.find("parameters");
      if (parameters == value.fields.end()) {
        continue;
      }
      nlohmann::json object = nlohmann::json::parse(parameters->second, nullptr, false);
      if (object.is_object()) {
        for (const auto& [key, field] : object.items()) {
          value.fields.emplace(key, field.is_string() ? field.get<std::string>() : field.dump());
        }
      }
    }
    std::vector<std::string>& available = source.available[path];
    for (auto& value : listed) {
      available.push_back(value.name);
      if (std::find(names.begin(), names.end(), value.name) != names.end()) {
        continue;
      }
      names.push_back(value.name);
    }
    if (!source.split) {
      Axis* axis = nullptr;
      for (auto& existing : config.axes) {
        if (existing.name == source.axis) {
          axis = &existing;
        }
      }
      if (axis == nullptr) {
        config.axes.push_back(Axis{source.axis, {}, source.location, {}, {}});
        axis = &config.axes.back();
      }
      for (auto& value : listed) {
        bool known = std::any_of(axis->values.begin(), axis->values.end(),
                                 [&](const AxisValue& existing) { return existing.name == value.name; });
        if (!known) {
          value.location = source.location;
          axis->values.push_back(std::move(value));
        }
      }
    }
  }
  if (source.split) {
    NameTrie root;
    for (const auto& name : names) {
      insert_name(root, name, source);
    }
    config.axes.push_back(Axis{source.axis, trie_values(root, source), source.location, {}, {}});
  }
}

} // namespace

void discover(Config& config) {
  discover_axes(config.axes);
  if (config.source.kind != SourceConfig::Kind::None &&
      std::none_of(config.axes.begin(), config.axes.end(),
                   [&](const Axis& axis) { return axis.name == config.source.axis; })) {
    expand_source(config);
  }
}

std::string benchmark_filter_for(std::string_view name) {
  std::string out = "^";
  for (char c : name) {
    // Not ']' or '}': alone they are ordinary characters, and escaping them is an error to the
    // library's std::regex ("Invalid escape").
    if (std::string_view(".[{()\\*+?|^$").find(c) != std::string_view::npos) {
      out += '\\';
    }
    out += c;
  }
  out += '$';
  return out;
}

} // namespace bm
