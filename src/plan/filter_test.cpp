#include "plan/filter.hpp"

#include <gtest/gtest.h>

#include "config/loader.hpp"

namespace bm {
namespace {

TEST(Filter, GlobTermsAllMustHold) {
  Plan plan = Plan::build(parse_config(
      "name: t\ncommand: [x, '{algo}', '{n}']\nmatrix: {algo: [std_sort, heap_sort, radix], n: [10, 20]}\n", "c"));
  auto count = [&](const std::string& expression) {
    TaskFilter filter = TaskFilter::parse(expression, plan);
    size_t matched = 0;
    for (size_t i = 0; i < plan.size(); ++i) {
      matched += filter.matches(plan, i) ? 1 : 0;
    }
    return matched;
  };
  EXPECT_EQ(count(""), 6u);
  EXPECT_EQ(count("algo=*sort"), 4u);
  EXPECT_EQ(count("algo=*sort,n=10"), 2u);
  EXPECT_EQ(count("algo!=radix, n = 2?"), 2u);
  EXPECT_EQ(count("algo=none"), 0u);
  // Values of one axis are alternatives; axes are ANDed.
  EXPECT_EQ(count("algo=std_sort,algo=radix"), 4u);
  EXPECT_EQ(count("algo=std_sort,radix"), 4u);
  EXPECT_EQ(count("algo=std_sort,radix,n=10"), 2u);
  EXPECT_EQ(count("n=10,algo=heap_sort,radix"), 2u);
  EXPECT_EQ(count("algo!=radix,algo!=heap_sort"), 2u);
}

TEST(Filter, DisabledValuesAreLeftOutOfTheMatrix) {
  Plan plan = Plan::build(parse_config("name: t\ncommand: [x, '{e}']\nmatrix:\n  e:\n    - {name: a}\n"
                                       "    - {name: b, enabled: false}\n    - c\n",
                                       "c"));
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan.label(0), "e=a");
  EXPECT_EQ(plan.label(1), "e=c");
  EXPECT_THROW(parse_config("name: t\ncommand: [x, '{e}']\nmatrix: {e: [{name: a, enabled: false}]}\n", "c"),
               UserError);
  EXPECT_THROW(parse_config("name: t\ncommand: [x, '{e}']\nmatrix: {e: [{name: a, enabled: maybe}]}\n", "c"),
               UserError);
}

TEST(Filter, BadTermsAndUnknownAxesAreUserErrors) {
  Plan plan = Plan::build(parse_config("name: t\ncommand: [x, '{a}']\nmatrix: {a: [1]}\n", "c"));
  EXPECT_THROW(TaskFilter::parse("a", plan), UserError);
  EXPECT_THROW(TaskFilter::parse("a!=1,2", plan), UserError);  // a bare value follows only an `=` term
  EXPECT_THROW(TaskFilter::parse("=1", plan), UserError);
  EXPECT_THROW(TaskFilter::parse("b=1", plan), UserError);
}

} // namespace
} // namespace bm
