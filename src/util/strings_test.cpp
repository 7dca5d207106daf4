#include "util/strings.hpp"

#include <gtest/gtest.h>

namespace bm {
namespace {

TEST(Strings, SplitKeepsEmptyParts) {
  EXPECT_EQ(split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(split("", ','), (std::vector<std::string>{""}));
}

TEST(Strings, GlobMatchesWholeStrings) {
  EXPECT_TRUE(glob_match("*sort", "heap_sort"));
  EXPECT_TRUE(glob_match("std_*", "std_sort"));
  EXPECT_TRUE(glob_match("s?d_sort", "std_sort"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_FALSE(glob_match("sort", "std_sort"));
  EXPECT_TRUE(glob_match("a*b*c", "axxbyyc"));
  EXPECT_FALSE(glob_match("a*b*c", "axxbyy"));
}

TEST(Strings, ShellQuoteSurvivesMetacharacters) {
  EXPECT_EQ(shell_quote("plain-word_1.0"), "plain-word_1.0");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's; rm -rf /"), "'it'\\''s; rm -rf /'");
  EXPECT_EQ(shell_quote("$(x)`y`"), "'$(x)`y`'");
}

TEST(Strings, PrintableEscapesControlCharacters) {
  EXPECT_EQ(printable("a\nb\t\x01"), "a\\nb\\t\\x01");
  EXPECT_EQ(printable("abcdef", 3), "abc...");
}

TEST(Strings, MarkupEscapesEverythingThatCouldOpenATagOrEndAnAttribute) {
  EXPECT_EQ(escape_markup("<img src=x onerror=\"a('b')\"> & co"),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt; &amp; co");
  EXPECT_EQ(escape_markup("a\x01" "b\nc"), "a b\nc");
}

TEST(Strings, CsvFieldsQuoteOnlyWhenNeeded) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
}

TEST(Strings, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));      // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // surrogate
}

} // namespace
} // namespace bm
