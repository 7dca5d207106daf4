#include "plan/sanitize.hpp"

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/strings.hpp"

namespace bm {

namespace {

constexpr int k_suffix_digits = 12;

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
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
  return out;
}

bool looks_hashed(std::string_view part) {
  if (part.size() < k_suffix_digits + 1 || part[part.size() - k_suffix_digits - 1] != '_') {
    return false;
  }
  return std::all_of(part.end() - k_suffix_digits, part.end(), [](unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

std::string path_identity(const std::vector<std::string_view>& values) {
  std::string out;
  for (std::string_view value : values) {
    out += std::to_string(value.size()) + ':';
    out += value;
  }
  return out;
}

std::vector<std::string> distinct_path_parts(const std::vector<std::string>& readable,
                                             const std::vector<std::string>& identities, const std::string& what) {
  BM_ASSERT(readable.size() == identities.size());
  std::unordered_map<std::string, int> counts;
  for (const auto& text : readable) {
    ++counts[lowercase(text)];
  }
  std::vector<std::string> parts;
  parts.reserve(readable.size());
  for (std::size_t i = 0; i < readable.size(); ++i) {
    const std::string& text = readable[i];
    if (counts[lowercase(text)] == 1 && text.size() <= k_max_path_component && !looks_hashed(text)) {
      parts.push_back(text);
      continue;
    }
    std::string base = text.substr(0, k_max_path_component - k_suffix_digits - 1);
    parts.push_back(base + "_" + to_hex(Hasher().add_field("benchmatrix-path").add(identities[i]).digest(), k_suffix_digits));
  }
  // Bare names are distinct and never look hashed; hashed ones differ unless 48 bits of hash
  // collide, which is checked rather than assumed.
  std::unordered_map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto [at, inserted] = seen.emplace(lowercase(parts[i]), i);
    if (!inserted) {
      throw UserError(fmt::format("{}: the values '{}' and '{}' would share the folder '{}' (a hash collision); "
                                  "rename one of them",
                                  what, printable(identities[at->second], 80), printable(identities[i], 80), parts[i]));
    }
  }
  return parts;
}

} // namespace bm
