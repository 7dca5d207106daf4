#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bm {

// Turns an axis value into one safe path component (seed 004 plus hardening): every byte other
// than ASCII letters, digits, '.' and '_' becomes '_' ("meta-llama/Llama-3.1-8B-Instruct" ->
// "meta_llama_Llama_3.1_8B_Instruct"); a leading '.' becomes '_' so "." and ".." and hidden
// names cannot occur; empty becomes "_"; longer than 80 bytes is cut and given a hash suffix.
std::string sanitize_path_component(std::string_view value);

// Sanitizes a set of sibling values; two different values that sanitize alike both get a short
// hash suffix of their original text, so every value keeps its own folder.
std::vector<std::string> sanitize_distinct(const std::vector<std::string>& values);

} // namespace bm
