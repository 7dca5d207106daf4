#include "util/duration.hpp"

#include <gtest/gtest.h>

namespace bm {
namespace {

using namespace std::chrono_literals;

TEST(Duration, ParsesUnitsAndCompounds) {
  EXPECT_EQ(parse_duration("90"), std::chrono::nanoseconds(90s));
  EXPECT_EQ(parse_duration("250ms"), std::chrono::nanoseconds(250ms));
  EXPECT_EQ(parse_duration("1.5s"), std::chrono::nanoseconds(1500ms));
  EXPECT_EQ(parse_duration("2m"), std::chrono::nanoseconds(120s));
  EXPECT_EQ(parse_duration("1h30m"), std::chrono::nanoseconds(5400s));
  EXPECT_EQ(parse_duration("10us"), std::chrono::nanoseconds(10us));
}

TEST(Duration, RejectsMalformedAndHuge) {
  for (const char* bad : {"", "s", "1x", "-1s", "1s2", "1..2s", "1e3s", "1000d", "abc"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(Duration, FormatsForHumans) {
  EXPECT_EQ(format_seconds(0.0000123), "12us");
  EXPECT_EQ(format_seconds(0.25), "250.0ms");
  EXPECT_EQ(format_seconds(2.5), "2.50s");
  EXPECT_EQ(format_seconds(125), "2m05s");
  EXPECT_EQ(format_seconds(3725), "1h02m05s");
}

} // namespace
} // namespace bm
