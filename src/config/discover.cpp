#include "config/discover.hpp"

#include <algorithm>
#include <cstring>

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

} // namespace bm
