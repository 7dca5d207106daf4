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
}

TEST(Filter, BadTermsAndUnknownAxesAreUserErrors) {
  Plan plan = Plan::build(parse_config("name: t\ncommand: [x, '{a}']\nmatrix: {a: [1]}\n", "c"));
  EXPECT_THROW(TaskFilter::parse("a", plan), UserError);
  EXPECT_THROW(TaskFilter::parse("=1", plan), UserError);
  EXPECT_THROW(TaskFilter::parse("b=1", plan), UserError);
}

} // namespace
} // namespace bm
