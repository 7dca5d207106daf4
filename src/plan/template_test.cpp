#include "plan/template.hpp"

#include <gtest/gtest.h>

namespace bm {
namespace {

std::string render(const std::string& text, bool quote = false) {
  Template parsed = Template::parse(text, SourceLocation{"t.yaml", 1, 1});
  return parsed.render([](const std::string& axis, const std::string& field) {
                         return field.empty() ? "<" + axis + ">" : "<" + axis + "." + field + ">";
                       },
                       [](RuntimeField field) { return "[" + std::string(runtime_field_name(field)) + "]"; },
                       quote ? std::function<std::string(std::string_view)>(
                                   [](std::string_view v) { return "'" + std::string(v) + "'"; })
                             : nullptr);
}

TEST(Template, SubstitutesAxesFieldsAndRuntimeValues) {
  EXPECT_EQ(render("--n={n}"), "--n=<n>");
  EXPECT_EQ(render("{engine.binary}"), "<engine.binary>");
  EXPECT_EQ(render("{workload.test_case.prompt}"), "<workload.test_case.prompt>");
  EXPECT_EQ(render("dev%%PARALLEL%%/{slot}/{cores}/{gpus}/{result_dir}/{task_id}"),
            "dev[slot]/[slot]/[cores]/[gpus]/[result_dir]/[task_id]");
  EXPECT_EQ(render("plain"), "plain");
  EXPECT_EQ(render("50%"), "50%");
}

TEST(Template, DoubledBracesAreLiteral) {
  EXPECT_EQ(render("{{not}} {n}"), "{not} <n>");
}

TEST(Template, QuotesOnlySubstitutedValues) {
  EXPECT_EQ(render("echo {n} > out", true), "echo '<n>' > out");
}

TEST(Template, RejectsMalformedPlaceholders) {
  for (const char* bad : {"{", "{n", "}", "{}", "{a b}", "{a.}", "{.x}", "{a/b}"}) {
    EXPECT_THROW(Template::parse(bad, SourceLocation{"t.yaml", 3, 5}), UserError) << bad;
  }
  try {
    Template::parse("--x={n", SourceLocation{"t.yaml", 3, 5});
  } catch (const UserError& error) {
    EXPECT_NE(std::string(error.what()).find("t.yaml:3:5"), std::string::npos) << error.what();
  }
}

} // namespace
} // namespace bm
