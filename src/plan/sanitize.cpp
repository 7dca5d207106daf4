#include "plan/sanitize.hpp"

#include <unordered_map>

#include "util/hash.hpp"

namespace bm {

namespace {

constexpr size_t k_max_component = 80;
constexpr int k_suffix_digits = 8;

std::string suffix_for(std::string_view value) {
  return "_" + to_hex(Hasher().add(value).digest(), k_suffix_digits);
}

} // namespace

std::string sanitize_path_component(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
    out += keep ? static_cast<char>(c) : '_';
  }
  if (out.empty()) {
    return "_";
  }
  if (out[0] == '.') {
    out[0] = '_';
  }
  if (out.size() > k_max_component) {
    out.resize(k_max_component - k_suffix_digits - 1);
    out += suffix_for(value);
  }
  return out;
}

std::vector<std::string> sanitize_distinct(const std::vector<std::string>& values) {
  std::vector<std::string> result;
  result.reserve(values.size());
  std::unordered_map<std::string, int> counts;
  for (const auto& value : values) {
    result.push_back(sanitize_path_component(value));
    ++counts[result.back()];
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (counts[result[i]] > 1) {
      std::string base = result[i];
      if (base.size() + k_suffix_digits + 1 > k_max_component) {
        base.resize(k_max_component - k_suffix_digits - 1);
      }
      result[i] = base + suffix_for(values[i]);
    }
  }
  return result;
}

} // namespace bm
