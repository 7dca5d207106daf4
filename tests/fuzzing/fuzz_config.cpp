// libFuzzer target: the config loader and the plan behind it. Every input must end in a Config
// and a Plan, or in a UserError; any other exception, crash, leak or undefined behaviour is a
// finding. Discovery commands are disabled: fuzzed configs must never run anything.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/loader.hpp"
#include "plan/plan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    bm::Config config = bm::parse_config(text, "fuzz.yaml", false);
    bm::Plan plan = bm::Plan::build(config);
    if (plan.size() > 0) {
      (void)plan.relative_path(plan.size() - 1);
      (void)plan.render(0, nullptr);
    }
  } catch (const bm::UserError&) {
  }
  return 0;
}
