#include "util/json_text.hpp"

#include "util/error.hpp"

namespace bm {
namespace {

std::string dump2(const nlohmann::json& value) {
  return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

// dump2(object) without its closing brace, ending in ",\n" (members follow).
std::string open_object(const nlohmann::json& object) {
  BM_ASSERT(object.is_object() && !object.empty());
  std::string text = dump2(object);
  text.pop_back();     // '}'
  text.back() = ',';   // the newline before it
  text.push_back('\n');
  return text;
}

} // namespace

std::string indented_json(const nlohmann::json& value, int levels) {
  std::string text = dump2(value);
  std::string indent(static_cast<std::size_t>(2 * levels), ' ');
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (char c : text) {
    out.push_back(c);
    if (c == '\n') {
      out.append(indent);
    }
  }
  return out;
}

std::string json_with_members(const nlohmann::json& object,
                              const std::vector<std::pair<std::string_view, const std::string*>>& members) {
  std::string text = open_object(object);
  for (std::size_t i = 0; i < members.size(); ++i) {
    text.append("  \"").append(members[i].first).append("\": ").append(*members[i].second);
    text.append(i + 1 < members.size() ? ",\n" : "\n");
  }
  if (members.empty()) {
    text.resize(text.size() - 2);  // no member follows: back to the plain dump
    text.append("\n");
  }
  text.append("}\n");
  return text;
}

std::string json_array_start(const nlohmann::json& head, std::string_view key) {
  return open_object(head).append("  \"").append(key).append("\": [");
}

std::string json_array_element(std::string_view element, bool first) {
  return std::string(first ? "\n    " : ",\n    ").append(element);
}

std::string json_array_end(bool empty) {
  return empty ? "]\n}\n" : "\n  ]\n}\n";
}

} // namespace bm
