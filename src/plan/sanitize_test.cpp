#include "plan/sanitize.hpp"

#include <set>

#include <gtest/gtest.h>

namespace bm {
namespace {

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

TEST(Sanitize, LimitsLengthWithADistinguishingSuffix) {
  std::string a(300, 'x');
  std::string b = a + "y";
  std::string sa = sanitize_path_component(a);
  std::string sb = sanitize_path_component(b);
  EXPECT_EQ(sa.size(), 80u);
  EXPECT_EQ(sb.size(), 80u);
  EXPECT_NE(sa, sb);
}

TEST(Sanitize, DistinctValuesKeepDistinctFolders) {
  auto parts = sanitize_distinct({"a/b", "a_b", "a:b", "plain"});
  std::set<std::string> unique(parts.begin(), parts.end());
  EXPECT_EQ(unique.size(), 4u);
  EXPECT_EQ(parts[3], "plain");
  EXPECT_EQ(parts[0].rfind("a_b_", 0), 0u);
  EXPECT_EQ(parts[0].size(), 3u + 1u + 8u);
}

} // namespace
} // namespace bm
