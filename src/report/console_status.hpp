#pragma once

#include <cstdio>

#include "report/status.hpp"

namespace bm {

// Streams a run to a terminal or a log (seed 000): a header, one line per task as it finishes,
// and a summary that says which tasks failed, why and where their logs are.
class ConsoleStatus final : public Status {
public:
  explicit ConsoleStatus(std::FILE* out, bool verbose = false) : m_out(out), m_verbose(verbose) {}

  void run_started(const Plan& plan, const RunHeader& header) override;
  void task_started(const Plan& plan, std::size_t task, const Lease& lease, int attempt) override;
  void task_finished(const Plan& plan, const TaskOutcome& outcome, const std::filesystem::path& dir,
                     bool will_retry) override;
  void interrupted(int signal, bool forced) override;
  void run_finished(const Plan& plan, const RunSummary& summary) override;

private:
  std::FILE* m_out;
  bool m_verbose;
  std::size_t m_total = 0;
  std::size_t m_finished = 0;
  int m_width = 1;
};

} // namespace bm
