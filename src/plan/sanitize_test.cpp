#include "plan/sanitize.hpp"

#include <algorithm>
#include <random>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/loader.hpp"
#include "plan/plan.hpp"
#include "util/hash.hpp"

namespace bm {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

TEST(Sanitize, FollowsSeed004Examples) {
  EXPECT_EQ(sanitize_path_component("meta-llama/Llama-3.1-8B-Instruct"), "meta_llama_Llama_3.1_8B_Instruct");
  EXPECT_EQ(sanitize_path_component("microsoft/Phi-4-mini-instruct"), "microsoft_Phi_4_mini_instruct");
  EXPECT_EQ(sanitize_path_component("a\\b:c*d?e\"f<g>h|i"), "a_b_c_d_e_f_g_h_i");
}

TEST(Sanitize, NeverEscapesOrHides) {
  EXPECT_EQ(sanitize_path_component(".."), "_.");
  EXPECT_EQ(sanitize_path_component("."), "_");
  EXPECT_EQ(sanitize_path_component("../../etc/passwd"), "_._.._etc_passwd");
  EXPECT_EQ(sanitize_path_component(".hidden"), "_hidden");
  EXPECT_EQ(sanitize_path_component(""), "_");
  EXPECT_EQ(sanitize_path_component(std::string("a\0b\n\x7f", 5)), "a_b__");
  EXPECT_EQ(sanitize_path_component("caf\xc3\xa9"), "caf__");
}

TEST(Sanitize, DistinctPartsKeepReadableNamesWhereTheyAreUnique) {
  auto parts = distinct_path_parts({"a_b", "a_b", "plain", "A_b_0123456789ab"},
                                   {path_identity({"a/b"}), path_identity({"a_b"}), path_identity({"plain"}),
                                    path_identity({"A_b_0123456789ab"})},
                                   "matrix.v");
  EXPECT_EQ(parts[2], "plain");
  EXPECT_TRUE(looks_hashed(parts[0]) && looks_hashed(parts[1]) && looks_hashed(parts[3]));
  EXPECT_EQ(parts[0].rfind("a_b_", 0), 0u);
  EXPECT_EQ(parts[0].size(), 3u + 1u + 12u);
  EXPECT_EQ(std::set<std::string>(parts.begin(), parts.end()).size(), 4u);
}

TEST(Sanitize, LongNamesAreCutAndHashed) {
  std::string a(300, 'x');
  auto parts = distinct_path_parts({a, a + "y"}, {path_identity({a}), path_identity({a + "y"})}, "v");
  EXPECT_EQ(parts[0].size(), 80u);
  EXPECT_EQ(parts[1].size(), 80u);
  EXPECT_NE(parts[0], parts[1]);
}

TEST(Sanitize, TuplesAreEncodedInjectively) {
  EXPECT_NE(path_identity({"x", "y_z"}), path_identity({"x_y", "z"}));
  EXPECT_NE(path_identity({"x_y_z"}), path_identity({"x", "y", "z"}));
  EXPECT_NE(path_identity({"1:a"}), path_identity({"1", "a"}));
}

std::vector<std::string> paths_of(const std::string& yaml) {
  Plan plan = Plan::build(parse_config(yaml, "test.yaml"));
  std::vector<std::string> paths;
  for (std::size_t task = 0; task < plan.size(); ++task) {
    paths.push_back(plan.relative_path(task));
  }
  return paths;
}

void expect_distinct_and_safe(const std::vector<std::string>& paths, const std::string& what) {
  std::set<std::string> unique;
  for (const auto& path : paths) {
    EXPECT_TRUE(unique.insert(lower(path)).second) << what << ": two tasks share " << path;
    std::size_t start = 0;
    while (start <= path.size()) {
      std::size_t end = std::min(path.find('/', start), path.size());
      std::string part = path.substr(start, end - start);
      EXPECT_FALSE(part.empty() || part == "." || part == ".." || part[0] == '.') << what << ": " << path;
      EXPECT_LE(part.size(), k_max_path_component) << path;
      EXPECT_EQ(part.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._"),
                std::string::npos)
          << path;
      start = end + 1;
    }
  }
}

// A JSON string literal is a YAML double-quoted scalar: any bytes, escaped.
std::string yaml_string(const std::string& text) {
  return nlohmann::json(text).dump();
}

TEST(Sanitize, ValuesThatSanitizeAlikeAndNestedJoinsGetDistinctFolders) {
  // A literal that looks like another value's hashed name is hashed itself.
  std::string hashed = "a_b_" + to_hex(Hasher().add_field("benchmatrix-path").add(path_identity({"a/b"})).digest(), 12);
  expect_distinct_and_safe(paths_of("name: t\ncommand: [x]\nmatrix: {v: ['a/b', a_b, " + hashed + ", A_B]}\n"), "flat");
  std::vector<std::string> nested = paths_of(R"(name: t
command: [x]
matrix:
  w:
    - {name: x, matrix: {s: [y_z]}}
    - {name: x_y, matrix: {s: [z]}}
    - x_y_z
    - {name: longbench, matrix: {subset: [narrativeqa, qasper]}}
    - mock_benchmark
)");
  expect_distinct_and_safe(nested, "nested");
  // Unique readable names stay as seed 004 draws them.
  EXPECT_NE(std::find(nested.begin(), nested.end(), "longbench_narrativeqa"), nested.end());
  EXPECT_NE(std::find(nested.begin(), nested.end(), "mock_benchmark"), nested.end());
}

TEST(Sanitize, PropertyRandomValueSetsAlwaysGetDistinctSafeFolders) {
  // Random values from an alphabet full of what sanitizes alike ('/', '-', ':', '_', case, hex
  // digits, dots), flat and with nested axes: every task keeps a folder of its own.
  std::mt19937 random(1234);
  const std::vector<std::string> alphabet = {"a", "b", "_", "/", "-", ":", ".", "A", "b", "0", "9", "f", "\\", " ",
                                             "\xc3\xa9"};
  auto value = [&] {
    std::string out;
    int length = 1 + static_cast<int>(random() % 5);
    for (int i = 0; i < length; ++i) {
      out += alphabet[random() % alphabet.size()];
    }
    return out;
  };
  auto distinct_values = [&](int count) {
    std::set<std::string> values;
    while (static_cast<int>(values.size()) < count) {
      values.insert(value());
    }
    return std::vector<std::string>(values.begin(), values.end());
  };
  for (int round = 0; round < 200; ++round) {
    std::string yaml = "name: t\ncommand: [x]\nmatrix:\n  a:\n";
    std::vector<std::string> a = distinct_values(1 + static_cast<int>(random() % 8));
    for (const auto& v : a) {
      if (random() % 2 == 0) {
        yaml += "    - " + yaml_string(v) + "\n";
        continue;
      }
      yaml += "    - {name: " + yaml_string(v) + ", matrix: {s: [";
      std::vector<std::string> s = distinct_values(1 + static_cast<int>(random() % 4));
      for (std::size_t i = 0; i < s.size(); ++i) {
        yaml += (i ? ", " : "") + yaml_string(s[i]);
      }
      yaml += "]}}\n";
    }
    yaml += "  b: [";
    std::vector<std::string> b = distinct_values(1 + static_cast<int>(random() % 6));
    for (std::size_t i = 0; i < b.size(); ++i) {
      yaml += (i ? ", " : "") + yaml_string(b[i]);
    }
    yaml += "]\n";
    expect_distinct_and_safe(paths_of(yaml), yaml);
  }
}

TEST(Sanitize, AValuesFolderDoesNotDependOnTheOrderOfTheOthers) {
  auto first = paths_of("name: t\ncommand: [x]\nmatrix: {v: ['a/b', a_b, c]}\n");
  auto reversed = paths_of("name: t\ncommand: [x]\nmatrix: {v: [c, a_b, 'a/b']}\n");
  EXPECT_EQ(first[0], reversed[2]);
  EXPECT_EQ(first[1], reversed[1]);
  EXPECT_EQ(first[2], "c");
}

} // namespace
} // namespace bm
