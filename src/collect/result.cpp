#include "collect/result.hpp"

namespace bm {

std::string_view to_string(Phase phase) {
  switch (phase) {
  case Phase::Setup:
    return "setup";
  case Phase::Warmup:
    return "warmup";
  case Phase::Run:
    return "run";
  case Phase::Teardown:
    return "teardown";
  case Phase::Prepare:
    return "prepare";
  }
  return "run";
}

std::string_view to_string(TaskStatus status) {
  switch (status) {
  case TaskStatus::Succeeded:
    return "succeeded";
  case TaskStatus::Failed:
    return "failed";
  case TaskStatus::Interrupted:
    return "interrupted";
  case TaskStatus::Skipped:
    return "skipped";
  }
  return "failed";
}

} // namespace bm
