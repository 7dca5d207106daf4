// libFuzzer target: the task protocol's metrics parser, which reads whatever a task appended to
// $BENCHMATRIX_RESULT_FILE. It must never throw or crash, only skip lines with warnings.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collect/metrics.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  bm::ReportedMetrics metrics = bm::parse_reported_metrics(text, "fuzz.jsonl");
  (void)metrics;
  return 0;
}
