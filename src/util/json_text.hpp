#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace bm {

// Pieces of an indented JSON document (dump(2)) put together as text, for documents too large
// to hold as one tree (a plan of a million tasks) and for parts that are the same in many files
// (formatted once).

// `value` as it reads `levels` levels deep: every line after the first indented 2 × levels more.
std::string indented_json(const nlohmann::json& value, int levels);

// `object` (not empty) dumped with these members added at its end, each given as its text at
// level 1 (indented_json(member, 1)).
std::string json_with_members(const nlohmann::json& object,
                              const std::vector<std::pair<std::string_view, const std::string*>>& members);

// The start of `head` (not empty) followed by an array member `key` that the caller fills, one
// element at a time, with json_array_element(); json_array_end() closes array and object. An
// element is its text: indented_json(element, 2), or a one-line dump(-1).
std::string json_array_start(const nlohmann::json& head, std::string_view key);
std::string json_array_element(std::string_view element, bool first);
std::string json_array_end(bool empty);

} // namespace bm
