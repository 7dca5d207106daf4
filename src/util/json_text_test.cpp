#include "util/json_text.hpp"

#include <gtest/gtest.h>

namespace bm {
namespace {

TEST(JsonText, PiecesMakeTheDocumentTheTreeWouldHaveMade) {
  nlohmann::json head = {{"name", "t"}, {"count", 2}};
  nlohmann::json a = {{"id", "a"}, {"nested", {{"x", 1}}}};
  nlohmann::json b = {{"id", "b"}};
  std::string text = json_array_start(head, "tasks") + json_array_element(indented_json(a, 2), true) + json_array_element(b.dump(), false) +
                     json_array_end(false);
  nlohmann::json expected = head;
  expected["tasks"] = {a, b};
  EXPECT_EQ(nlohmann::json::parse(text), expected);
  EXPECT_EQ(nlohmann::json::parse(json_array_start(head, "tasks") + json_array_end(true))["tasks"],
            nlohmann::json::array());

  std::string spec = indented_json(a, 1);
  std::string with = json_with_members(head, {{"spec", &spec}});
  nlohmann::json merged = head;
  merged["spec"] = a;
  EXPECT_EQ(nlohmann::json::parse(with), merged);
  EXPECT_EQ(nlohmann::json::parse(json_with_members(head, {})), head);
  // Indented as dump(2) of the whole would indent it: "x" sits three levels deep.
  EXPECT_NE(with.find("\n      \"x\": 1\n"), std::string::npos) << with;
}

} // namespace
} // namespace bm
